"""Issue 13, installation: `pip install .` puts the man pages where
`man ovsct` finds them under the prefix, and the bash completion (generated
from the command table, committed, checked up to date here) where
bash-completion loads it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPLETION = ROOT / "completion" / "ovsct"


def test_completion_is_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "man" /
                                            "gen_completion.py"), "--check"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert subprocess.run(["bash", "-n", str(COMPLETION)]).returncode == 0


def complete(*words):
    """What bash offers for the last of 'words' (the command line typed so
    far, "ovsct" first), with the completion file sourced."""
    script = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _ovsct; '
              'printf "%%s\\n" "${COMPREPLY[@]}"'
              % (COMPLETION, " ".join("'%s'" % w for w in words),
                 len(words) - 1))
    r = subprocess.run(["bash", "-c", script], capture_output=True,
                       timeout=30, text=True)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_completion_offers_commands_options_and_arguments():
    from ovsct.commands import COMMANDS, DATAPATH

    assert complete("ovsct", "dump-c") == {"dump-conntrack",
                                           "dump-conntrack-exp"}
    assert complete("ovsct", "dpctl/flush") == {"dpctl/flush-conntrack"}
    every = complete("ovsct", "")
    assert {c.name for c in COMMANDS} <= every
    assert {"help", "states", "version", "coverage-show"} <= every
    assert complete("ovsct", "--ti") == {"--timeout="}
    assert complete("ovsct", "-f", "") == {"text", "json"}
    assert complete("ovsct", "-t", "x", "dump-conntrack", "zo") == {"zone="}
    assert complete("ovsct", "dump-conntrack", "ovsct@") == {DATAPATH}
    assert complete("ovsct", "flush-conntrack", "ct_nw_s") == {"ct_nw_src="}
    assert complete("ovsct", "help", "ct-get-m") == {"ct-get-maxconns"}


@pytest.mark.skipif(shutil.which("man") is None, reason="man not installed")
def test_pip_install_puts_man_pages_and_completion_in_place(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "--no-deps", "--no-build-isolation",
                        "--prefix", str(prefix), str(ROOT)],
                       capture_output=True, timeout=900, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    man8 = prefix / "share" / "man" / "man8"
    assert (man8 / "ovsct.8").read_bytes() == (
        ROOT / "man" / "ovsct.8").read_bytes()
    assert (man8 / "ovsctd.8").is_file()
    assert (prefix / "share" / "bash-completion" / "completions" /
            "ovsct").read_bytes() == COMPLETION.read_bytes()
    # man finds the page through PATH (<prefix>/bin -> <prefix>/share/man),
    # as in an activated virtual environment.
    env = dict(os.environ, PATH="%s:%s" % (prefix / "bin",
                                           os.environ["PATH"]))
    env.pop("MANPATH", None)
    r = subprocess.run(["man", "-w", "ovsct"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(man8 / "ovsct.8")


def test_readme_example_is_a_real_dump():
    """The dump lines the README shows are what `make run` prints."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("for example:\n\n```\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    assert len(lines) >= 3
    r = subprocess.run([sys.executable, "-m", "ovsct.cli", "-r",
                        str(ROOT / "tests" / "data" / "sample.pcap"),
                        "dump-conntrack"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    dump = r.stdout.splitlines()
    for line in lines:
        assert line in dump
