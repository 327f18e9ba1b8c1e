"""Shared helpers of the benchmark scripts in benchmarks/.

    from benchlib import ROOT, machine, run_bench, aggregate

- machine(): the facts docs/benchmarks.md states (cores, CPU model, kernel,
  date, load, compiler, commit);
- run_bench(phase, ...): one `ovsct bench PHASE --json` run of this tree's
  build, in its own process, as a dict;
- aggregate(runs): best and median of every figure over repeated runs.

Not part of the package; the scripts put this directory on sys.path
themselves (they run as `python3 benchmarks/NAME.py`).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              cwd=ROOT, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def machine() -> dict[str, Any]:
    """Facts about this machine and tree, for the write-up."""
    model = ""
    for line in _out(["lscpu"]).splitlines():
        if line.startswith("Model name"):
            model = line.split(":", 1)[1].strip()
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": int(_out(["nproc"]) or 0),
        "cpu": model,
        "mem_gib": round(mem_kb / 1048576, 1),
        "kernel": platform.release(),
        "os": _out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "gcc": _out(["gcc", "-dumpfullversion"]),
        "python": platform.python_version(),
        "commit": _out(["git", "rev-parse", "--short", "HEAD"]),
        "dirty": bool(_out(["git", "status", "--porcelain", "--", "ext",
                            "ovsct"])),
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "load": load(),
    }


def bench_cmd(phase: str, conns: int, threads: int = 1, **opts: int
              ) -> list[str]:
    """The `ovsct bench` command line (as documented) for a run."""
    cmd = ["ovsct", "bench", phase, "--conns", str(conns)]
    if threads != 1:
        cmd += ["--threads", str(threads)]
    for key, value in opts.items():
        if value:
            cmd += ["--" + key.replace("_", "-"), str(value)]
    return cmd + ["--json"]


def run_bench(phase: str, conns: int, threads: int = 1, **opts: int
              ) -> dict[str, Any]:
    """Runs one phase in a fresh process with this tree's build (not
    whatever `ovsct` is on PATH) and returns its JSON object.  A run whose
    correctness checks failed still returns its object ("ok": false)."""
    cmd = bench_cmd(phase, conns, threads, **opts)
    # `python -m` from ROOT puts ROOT first on sys.path.  PYTHONPATH is
    # left as it is: setting it changed the process's memory layout enough
    # to make the 2-thread insert of the "scaling" phase 1.7x slower
    # (docs/benchmarks.md, "Engine findings").
    r = subprocess.run([sys.executable, "-m", "ovsct.cli"] + cmd[1:],
                       cwd=ROOT, capture_output=True, text=True)
    try:
        result = json.loads(r.stdout)
    except ValueError:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd),
                                              r.stderr.strip())) from None
    result["load_before"] = load()
    return result


# Figures where more is better; everything else numeric is a time, a
# latency, a size or a count, where less is better.
_HIGHER = ("mpps", "mcps", "mcps_per_thread", "speedup", "speedup_sharded",
           "speedup_single_lock", "rss_returned_pct", "removed", "created",
           "translated", "packets", "batches", "sweeps", "scanned",
           "samples", "dumped", "flushed", "counted")


def _higher_is_better(key: str) -> bool:
    return key in _HIGHER or key.endswith(("_mpps", "_mcps"))


def _agg(values: list[Any], key: str, how: str) -> Any:
    first = values[0]
    if isinstance(first, bool):
        return all(values)
    if isinstance(first, (int, float)):
        nums = [v for v in values if isinstance(v, (int, float))]
        if how == "median":
            return statistics.median_low(nums) if isinstance(first, int) \
                else statistics.median(nums)
        return max(nums) if _higher_is_better(key) else min(nums)
    if isinstance(first, dict):
        return {k: _agg([v.get(k, first[k]) for v in values], k, how)
                for k in first}
    if isinstance(first, list):
        if all(isinstance(v, list) and len(v) == len(first) for v in values):
            return [_agg([v[i] for v in values], key, how)
                    for i in range(len(first))]
        return first
    return first


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best and median of every figure over 'runs' (same configuration):
    min for times, sizes and latencies, max for rates; lists of objects
    ("runs", "kinds", "traffic") element by element; checks are true only
    if true in every run."""
    return {"best": _agg(runs, "", "best"),
            "median": _agg(runs, "", "median"),
            "n": len(runs)}


def write_json(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
