#!/usr/bin/env python3
"""Bucket lock kinds side by side: mutex, adaptive mutex, spinlock, futex.

The lock kind is a compile-time choice (-DCT_BUCKET_LOCK_KIND=0/1/2/3,
ext/ovsct-thread.h).  This script builds benchmarks/bench_main.c (the C
benchmark driver without Python) with every ext/*.c and bench/*.c four
times, at -O2 like setup.py, into build/bench/, then runs phases with each
build, the kinds interleaved within each repetition, and prints the best
and the median of each figure.

    python3 benchmarks/lock_kinds.py [--conns N] [--threads T] [--repeat R]
                                     [--phases scaling,sweep] [--out FILE]

Phases: "scaling" (insert and look up with 1..T threads, the sharded
table and the one-bucket table, where contention is worst) and "sweep"
(the sweeper's lock holds while a traffic thread runs).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import ROOT, aggregate, load, machine, write_json  # noqa: E402

KINDS = {0: "mutex", 1: "adaptive", 2: "spinlock", 3: "futex"}


def build(kind: int, outdir: str) -> str:
    srcs = sorted(glob.glob(os.path.join(ROOT, "ext", "*.c"))
                  + glob.glob(os.path.join(ROOT, "bench", "*.c")))
    exe = os.path.join(outdir, "bench_lock%d" % kind)
    cmd = ["gcc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-pthread",
           "-I" + os.path.join(ROOT, "ext"),
           "-I" + os.path.join(ROOT, "bench"),
           "-DCT_BUCKET_LOCK_KIND=%d" % kind] + srcs + [
           os.path.join(ROOT, "benchmarks", "bench_main.c"), "-o", exe,
           "-lm"]
    subprocess.run(cmd, check=True)
    return exe


def summarize(results: dict) -> list[tuple[str, ...]]:
    """Rows: figure, kind, best, median."""
    rows = []
    for phase, per_kind in results.items():
        for kind, agg in per_kind.items():
            best, med = agg["best"], agg["median"]
            if phase == "scaling":
                for b, m in zip(best["runs"], med["runs"]):
                    name = "insert %s %dT (ms)" % (b["table"], b["threads"])
                    rows.append((name, kind, "%.1f" % b["insert_ms"],
                                 "%.1f" % m["insert_ms"]))
                    name = "lookup %s %dT (ms)" % (b["table"], b["threads"])
                    rows.append((name, kind, "%.1f" % b["lookup_ms"],
                                 "%.1f" % m["lookup_ms"]))
            elif phase == "sweep":
                rows.append(("sweeper max hold (us)", kind,
                             "%.0f" % best["max_lock_hold_us"],
                             "%.0f" % med["max_lock_hold_us"]))
                for b, m in zip(best["traffic"], med["traffic"]):
                    rows.append(("traffic %s p99 batch (us)" % b["stage"],
                                 kind, "%.1f" % b["batch_p99_us"],
                                 "%.1f" % m["batch_p99_us"]))
                    rows.append(("traffic %s max batch (us)" % b["stage"],
                                 kind, "%.0f" % b["batch_max_us"],
                                 "%.0f" % m["batch_max_us"]))
    rows.sort(key=lambda r: (r[0], list(KINDS.values()).index(r[1])))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phases", default="scaling,sweep")
    parser.add_argument("--out", help="write all runs and aggregates here")
    args = parser.parse_args()

    outdir = os.path.join(ROOT, "build", "bench")
    os.makedirs(outdir, exist_ok=True)
    exes = {}
    for kind in KINDS:
        print("building %s (CT_BUCKET_LOCK_KIND=%d)" % (KINDS[kind], kind),
              file=sys.stderr)
        exes[kind] = build(kind, outdir)

    phases = [p for p in args.phases.split(",") if p]
    runs: dict = {p: {KINDS[k]: [] for k in KINDS} for p in phases}
    ok = True
    for rep in range(args.repeat):
        for phase in phases:
            for kind in KINDS:
                print("run %d/%d: %s, %s" % (rep + 1, args.repeat, phase,
                                             KINDS[kind]), file=sys.stderr)
                r = subprocess.run([exes[kind], phase, str(args.conns),
                                    str(args.threads)],
                                   capture_output=True, text=True)
                result = json.loads(r.stdout)
                result["load_before"] = load()
                ok = ok and result.get("ok", False)
                runs[phase][KINDS[kind]].append(result)

    results = {p: {k: aggregate(v) for k, v in per.items()}
               for p, per in runs.items()}
    rows = [("figure", "kind", "best", "median")] + summarize(results)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join((r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                         r[2].rjust(widths[2]), r[3].rjust(widths[3]))))
    if args.out:
        write_json(args.out, {
            "machine": machine(),
            "command": "python3 benchmarks/lock_kinds.py --conns %d "
                       "--threads %d --repeat %d --phases %s"
                       % (args.conns, args.threads, args.repeat,
                          args.phases),
            "runs": runs, "results": results})
    if not ok:
        print("lock_kinds.py: some correctness checks FAILED",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
