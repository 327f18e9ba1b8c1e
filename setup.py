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
    # Binding glue kept outside ext/ (the invariant check's method).
    sources.append("binding/invariant.c")
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

setup(ext_modules=[engine])
