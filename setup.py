"""Build of the C extension ovsct._engine (metadata is in setup.cfg).

Sources are every ext/*.c except test and fuzz drivers, found by glob so
that new engine files are picked up without editing this file.
"""

import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _engine_sources():
    sources = []
    for path in sorted(glob.glob(os.path.join(HERE, "ext", "*.c"))):
        name = os.path.basename(path)
        if name.startswith(("test", "fuzz")) or "fuzz" in name:
            continue
        sources.append(os.path.relpath(path, HERE))
    return sources


engine = Extension(
    "ovsct._engine",
    sources=_engine_sources(),
    depends=sorted(os.path.relpath(p, HERE)
                   for p in glob.glob(os.path.join(HERE, "ext", "*.h"))),
    include_dirs=["ext"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra",
                        "-fvisibility=hidden"],
    extra_link_args=["-pthread"],
)

# Man pages where man(1) finds them under the install prefix (manpath
# derives <prefix>/share/man from <prefix>/bin in PATH), and the bash
# completion where bash-completion loads it (completion/ovsct is generated
# by man/gen_completion.py).
DATA_FILES = [
    ("share/man/man8", ["man/ovsct.8", "man/ovsctd.8"]),
    ("share/bash-completion/completions", ["completion/ovsct"]),
]

setup(ext_modules=[engine], data_files=DATA_FILES)
