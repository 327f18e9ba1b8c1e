"""docs/architecture.md names only files and folders that exist.

The names checked are those in code blocks and `backticks` that look like
paths: containing a "/" or ending in .c, .h, .py or .md.  In a tree listing
(a code block whose unindented lines name a folder, "ext/", and whose
indented lines start with the entries in it, "  packet.[ch]   text") an
entry is resolved in its folder; "[ch]" stands for both files, "*" for at
least one.  A bare file name elsewhere must exist somewhere in the
repository.  unixctl command names (dpctl/..., ct/..., vlog/...) are not
paths.
"""

import os
import re
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
FILE_EXT = (".c", ".h", ".py", ".md")
COMMAND = re.compile(r"^(dpctl|ct|vlog)/")
TOKEN = re.compile(r"[A-Za-z0-9_.\-\[\]*]+(?:/[A-Za-z0-9_.\-\[\]*]*)*")
SKIP_DIRS = {".git", "build", "__pycache__", ".pytest_cache"}


def _is_path(token: str) -> bool:
    if COMMAND.match(token) or token.startswith(("/", ".")):
        return False
    if "/" in token:
        return bool(re.match(r"^[a-z0-9_.\-]+/", token))
    return token.endswith(FILE_EXT) or bool(
        re.search(r"\.\[[a-z]+\]$", token))


def _tree_entries(line: str) -> list:
    """The entry column of an indented tree line: the names before the
    first run of two spaces ("  dump.c flush.c   text" -> both)."""
    return line.strip().split("  ", 1)[0].split()


def doc_paths(text: str) -> list:
    """[(name as written, path relative to the repository or None for a
    bare file name)] of every path 'text' names."""
    out = []
    blocks = re.findall(r"^```([^\n]*)\n(.*?)^```", text, re.M | re.S)
    for lang, body in blocks:
        if lang.strip() not in ("", "text"):
            continue
        folder = None
        for line in body.splitlines():
            m = re.match(r"^([a-z0-9_.\-]+(?:/[a-z0-9_.\-]+)*/)(\s|$)", line)
            if m:
                folder = m.group(1)
                out.append((folder, folder))
                continue
            if folder and re.match(r"^  \S", line):
                for name in _tree_entries(line):
                    if _is_path(name):
                        out.append((name, folder + name))
                continue
            for token in TOKEN.findall(line):
                if _is_path(token):
                    out.append((token, token if "/" in token else None))
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        span = span.strip()
        if TOKEN.fullmatch(span) and _is_path(span):
            out.append((span, span if "/" in span else None))
    return out


def _expand(path: str) -> list:
    """'packet.[ch]' -> ['packet.c', 'packet.h']."""
    m = re.search(r"\[([a-z]+)\]", path)
    if not m:
        return [path]
    return [p for c in m.group(1)
            for p in _expand(path[:m.start()] + c + path[m.end():])]


def _all_files() -> list:
    return [p for p in ROOT.rglob("*")
            if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


def missing(paths: list) -> list:
    files = None
    out = []
    for name, rel in paths:
        for one in _expand(rel if rel is not None else name):
            if rel is not None:
                if not list(ROOT.glob(one.rstrip("/"))):
                    out.append(one)
                continue
            if files is None:
                files = _all_files()
            if not any(p.match(one) for p in files):
                out.append(one)
    return out


def test_doc_paths_parser():
    """The extractor itself, on a made-up page."""
    text = ("Intro `ext/ovsct.h` and `dpctl/dump-conntrack` and "
            "`ovsct.engine` and `README.md`.\n"
            "```\n"
            "ext/               engine\n"
            "  packet.[ch]      parsing\n"
            "  dump.c flush.c   dumps\n"
            "ovsct/\n"
            "  engine.py        wrapper (see dpctl/flush-conntrack)\n"
            "```\n"
            "```python\n"
            "x = 'ct/replay'  # not a path: python block\n"
            "```\n")
    assert doc_paths(text) == [
        ("ext/", "ext/"), ("packet.[ch]", "ext/packet.[ch]"),
        ("dump.c", "ext/dump.c"), ("flush.c", "ext/flush.c"),
        ("ovsct/", "ovsct/"), ("engine.py", "ovsct/engine.py"),
        ("ext/ovsct.h", "ext/ovsct.h"), ("README.md", None)]
    assert _expand("ext/packet.[ch]") == ["ext/packet.c", "ext/packet.h"]
    assert missing([("nope.c", None), ("ext/", "ext/"),
                    ("x", "ext/nope-*.c"), ("README.md", None)]) == [
        "nope.c", "ext/nope-*.c"]


def test_architecture_names_only_existing_paths():
    paths = doc_paths(DOC.read_text())
    assert len(paths) > 10, paths
    assert missing(paths) == []


def test_architecture_lists_every_source_folder_and_c_file():
    """The reverse check: every C file of the layers and every Python
    module of the package is named by the page, so a new file cannot land
    without a line saying where it belongs."""
    text = DOC.read_text()
    named = {p for _, p in doc_paths(text) if p}
    names = {os.path.basename(n) for n, _ in doc_paths(text)}
    unnamed = []
    for folder in ("ext", "dpio", "binding", "bench"):
        for f in sorted((ROOT / folder).iterdir()):
            rel = "%s/%s" % (folder, f.name)
            if f.suffix in (".c", ".h") and not any(
                    rel in _expand(p) for p in named):
                unnamed.append(rel)
    for f in sorted((ROOT / "ovsct").glob("*.py")):
        if f.name != "__init__.py" and f.name not in names \
                and "ovsct/" + f.name not in named:
            unnamed.append("ovsct/" + f.name)
    assert unnamed == []
