"""Build of the C extensions (metadata is in setup.cfg).

    ovsct._engine   the engine (ext/*.c), the frame I/O (dpio/*.c) and the
                    binding (binding/module.c, convert.c, dumpobj.c,
                    events.c, ipfobj.c)
    ovsct._bench    the benchmark driver (bench/*.c) with its own copy of
                    the engine (ext/*.c), binding/bench.c and convert.c

Sources are found by glob, so that new engine or I/O files are picked up
without editing this file.  Only binding/ includes Python.h (`make
check-ext` checks it).
"""

import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _sources(folder):
    return sorted(os.path.relpath(p, HERE)
                  for p in glob.glob(os.path.join(HERE, folder, "*.c")))


def _headers(*folders):
    return sorted(os.path.relpath(p, HERE) for folder in folders
                  for p in glob.glob(os.path.join(HERE, folder, "*.h")))


ENGINE = _sources("ext")
DPIO = _sources("dpio")
BINDING = ["binding/module.c", "binding/convert.c", "binding/dumpobj.c",
           "binding/events.c", "binding/ipfobj.c"]
BENCH = _sources("bench")

COMMON = dict(
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra",
                        "-fvisibility=hidden"],
    extra_link_args=["-pthread"],
)

engine = Extension(
    "ovsct._engine",
    sources=ENGINE + DPIO + BINDING,
    depends=_headers("ext", "dpio", "binding"),
    include_dirs=["ext", "dpio", "binding"],
    **COMMON,
)

bench = Extension(
    "ovsct._bench",
    sources=ENGINE + BENCH + ["binding/bench.c", "binding/convert.c"],
    depends=_headers("ext", "bench", "binding"),
    include_dirs=["ext", "bench", "binding"],
    libraries=["m"],
    **COMMON,
)


# Man pages where man(1) finds them under the install prefix (manpath
# derives <prefix>/share/man from <prefix>/bin in PATH), and the bash
# completion where bash-completion loads it (completion/ovsct is generated
# by man/gen_completion.py).
DATA_FILES = [
    ("share/man/man8", ["man/ovsct.8", "man/ovsctd.8"]),
    ("share/bash-completion/completions", ["completion/ovsct"]),
]

setup(ext_modules=[engine, bench], data_files=DATA_FILES)
