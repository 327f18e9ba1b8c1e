"""The C-level checks, run from pytest.

Each test runs one Makefile target (see the Makefile header):

    check-ext  ext/, dpio/ and bench/ compile without Python; Python.h
               appears only under binding/
    tsa        clang -Wthread-safety -Werror on ext/, dpio/ and bench/
    asan       tests/c drivers (test_*.c, stress.c) under ASan + UBSan
    tsan       tests/c/stress.c under ThreadSanitizer

The targets keep stamp files, so after `make test` has run them these tests
cost nothing; run alone they build what they need.  A missing tool (clang,
a sanitizer runtime) or a kernel on which TSan cannot map its shadow memory
skips the test with the reason instead of failing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("cc") is None,
    reason="make and a C compiler are needed")


def _make(target: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    return subprocess.run(["make", "-s", "-C", str(ROOT), target],
                          capture_output=True, text=True, env=env,
                          timeout=TIMEOUT)


def _check(target: str, proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"make {target} failed ({proc.returncode})\n"
        f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n"
        f"{proc.stderr[-6000:]}")


def _sanitizer_works(flag: str) -> bool:
    """True if cc can link and run a trivial program with 'flag'."""
    src = "int main(void) { return 0; }\n"
    out = ROOT / "build" / "c" / f"probe-{flag.split('=')[1]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    cc = subprocess.run(["cc", flag, "-x", "c", "-", "-o", str(out)],
                        input=src, capture_output=True, text=True)
    if cc.returncode != 0:
        return False
    cmd = [str(out)]
    setarch = shutil.which("setarch")
    if "thread" in flag and setarch:
        cmd = [setarch, os.uname().machine, "-R"] + cmd
    return subprocess.run(cmd, capture_output=True).returncode == 0


def test_check_ext():
    _check("check-ext", _make("check-ext"))


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not found")
def test_thread_safety_analysis():
    _check("tsa", _make("tsa"))


def test_asan_ubsan_drivers():
    if not _sanitizer_works("-fsanitize=address,undefined"):
        pytest.skip("ASan/UBSan runtime not usable here")
    proc = _make("asan")
    _check("asan", proc)


def test_tsan_stress():
    if not _sanitizer_works("-fsanitize=thread"):
        pytest.skip("TSan cannot run on this kernel (ASLR/mmap layout)")
    proc = _make("tsan")
    _check("tsan", proc)


def test_stress_plain():
    """The stress driver without sanitizers, at a larger scale."""
    exe = ROOT / "build" / "c" / "stress"
    exe.parent.mkdir(parents=True, exist_ok=True)
    srcs = sorted(str(p) for p in (ROOT / "ext").glob("*.c"))
    cc = subprocess.run(
        ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-O2", "-pthread",
         f"-I{ROOT / 'ext'}", f"-I{ROOT / 'bench'}",
         str(ROOT / "tests" / "c" / "stress.c"),
         *srcs, "-o", str(exe), "-lm"],
        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    run = subprocess.run([str(exe), "4"], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout
