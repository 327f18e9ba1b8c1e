"""Kernel datapath dump speed: ``ovsct dump-conntrack system@ovs-system``
against ``conntrack -L`` on the same kernel table, in the same run.

    python3 benchmarks/kernel_dump.py [--entries 100000] [--repeats 5]

Creates a private network namespace (ks-bench-<pid>), fills its conntrack
table with N UDP entries (``conntrack -R`` of generated ``-I`` lines), then
times each command N times as a whole process, output to /dev/null, and
prints the median and best wall-clock seconds and entries/s.  The
namespace is removed at the end, even on failure.  Root only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, machine  # noqa: E402


def _fill(ns: str, n: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".ct",
                                     delete=False) as f:
        for i in range(n):
            f.write("-I -t 3600 -p udp -s 10.%d.%d.%d -d 10.255.0.1 "
                    "--sport %d --dport 53\n"
                    % (i >> 16 & 255, i >> 8 & 255, i & 255,
                       1024 + i % 60000))
        path = f.name
    try:
        subprocess.run(["ip", "netns", "exec", ns, "conntrack", "-R", path],
                       check=True, capture_output=True)
    finally:
        os.unlink(path)


def _time(ns: str, cmd: list[str], env: dict) -> float:
    with open(os.devnull, "wb") as null:
        start = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns] + cmd, stdout=null,
                       stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
                       check=True)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid():
        print("kernel_dump: needs root (network namespaces)",
              file=sys.stderr)
        return 1
    env = dict(os.environ, PYTHONPATH=ROOT)
    ns = "ks-bench-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _fill(ns, args.entries)
        count = int(subprocess.run(
            ["ip", "netns", "exec", ns, "cat",
             "/proc/sys/net/netfilter/nf_conntrack_count"],
            capture_output=True, text=True, check=True).stdout)
        commands = {
            "ovsct dump-conntrack system@ovs-system":
                [sys.executable, "-m", "ovsct.cli", "dump-conntrack",
                 "system@ovs-system"],
            "conntrack -L": ["conntrack", "-L"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):       # Interleaved: same conditions.
            for name, cmd in commands.items():
                times[name].append(_time(ns, cmd, env))
        facts = machine()
        print("machine: %s" % ", ".join("%s=%s" % kv for kv in
                                        sorted(facts.items())))
        print("table: %d entries (UDP, one namespace), %d repeats"
              % (count, args.repeats))
        for name, values in times.items():
            med = statistics.median(values)
            print("%-40s median %.3f s  best %.3f s  (%.0f entries/s "
                  "median)  runs: %s" % (
                      name, med, min(values), count / med,
                      " ".join("%.3f" % v for v in values)))
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    return 0


if __name__ == "__main__":
    sys.exit(main())
