#!/usr/bin/env python3
"""Every benchmark behind docs/benchmarks.md, repeated, in one JSON file.

    python3 benchmarks/run_all.py [--repeat 3] [--conns 1000000]
                                  [--only NAME,...] [--skip NAME,...]
                                  [--no-lock-kinds] [--no-control-plane]
                                  [--ovs] [--out docs/img/bench-results.json]
                                  [--plots] [--merge]

Runs each `ovsct bench` configuration of CONFIGS --repeat times, the
configurations interleaved within each repetition so that drift on a
shared machine spreads over all of them, then (unless told not to)
benchmarks/lock_kinds.py and benchmarks/control_plane.py, and with --ovs
benchmarks/compare_ovs.sh (never in CI: it needs OVS's library).  Writes
the machine facts, the exact commands, every run and the best and median
of each figure to --out; --plots then draws docs/img/*.png
(benchmarks/plots.py, needs matplotlib: pip install .[plot]).

Run it on a quiet machine: it refuses to start while the 1-minute load
average is above --max-load (default 0.5) unless --force, and records the
load before every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import (ROOT, aggregate, bench_cmd, load, machine,  # noqa: E402
                      run_bench, write_json)

M = 1000000

# name: (phase, conns or None for --conns, options).
CONFIGS: dict[str, tuple[str, int | None, dict[str, int]]] = {
    "standard-1t": ("standard", None, {}),
    "standard-2t": ("standard", None, {"threads": 2}),
    "scaling": ("scaling", None, {"threads": 2}),
    "aging-10k": ("aging", 10000, {}),
    "aging-100k": ("aging", 100000, {}),
    "aging-1m": ("aging", None, {}),
    "aging-1m-2t": ("aging", None, {"threads": 2}),
    "aging-1m-interval100": ("aging", None, {"sweep_interval": 100}),
    "aging-1m-interval5000": ("aging", None, {"sweep_interval": 5000}),
    "aging-1m-spread1000": ("aging", None, {"spread": 1000}),
    "aging-1m-spread1000-interval100": ("aging", None, {
        "spread": 1000, "sweep_interval": 100}),
    "memory": ("memory", None, {}),
    "sweep": ("sweep", None, {}),
    "buckets": ("buckets", None, {"threads": 2}),
    "hashbits": ("hashbits", None, {}),
    "tcp-1t": ("tcp", None, {}),
    "tcp-2t": ("tcp", None, {"threads": 2}),
    "nat": ("nat", None, {}),
    "dump": ("dump", None, {}),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--conns", type=int, default=M)
    parser.add_argument("--only", default="")
    parser.add_argument("--skip", default="")
    parser.add_argument("--no-lock-kinds", action="store_true")
    parser.add_argument("--no-control-plane", action="store_true")
    parser.add_argument("--ovs", action="store_true",
                        help="also run benchmarks/compare_ovs.sh")
    parser.add_argument("--out", default=os.path.join(
        ROOT, "docs", "img", "bench-results.json"))
    parser.add_argument("--plots", action="store_true")
    parser.add_argument("--merge", action="store_true",
                        help="replace only the configurations run in an "
                        "existing --out file (with --only)")
    parser.add_argument("--max-load", type=float, default=0.5)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()

    if load() > args.max_load and not args.force:
        print("run_all.py: load average %.2f is above %.2f: wait for a "
              "quiet machine or use --force" % (load(), args.max_load),
              file=sys.stderr)
        return 2
    only = [n for n in args.only.split(",") if n]
    skip = set(n for n in args.skip.split(",") if n)
    names = [n for n in CONFIGS if (not only or n in only) and n not in skip]
    result: dict = {"machine": machine(), "repeat": args.repeat,
                    "configs": {}}
    for name in names:
        phase, conns, opts = CONFIGS[name]
        conns = conns if conns and conns <= args.conns else args.conns
        result["configs"][name] = {
            "command": " ".join(bench_cmd(phase, conns, **opts)),
            "runs": []}
    ok = True
    for rep in range(args.repeat):
        for name in names:
            phase, conns, opts = CONFIGS[name]
            conns = conns if conns and conns <= args.conns else args.conns
            print("run %d/%d: %s (load %.2f)" % (rep + 1, args.repeat, name,
                                                 load()), file=sys.stderr)
            r = run_bench(phase, conns, **opts)
            ok = ok and r.get("ok", False)
            result["configs"][name]["runs"].append(r)
    for name in names:
        result["configs"][name].update(
            aggregate(result["configs"][name]["runs"]))

    here = os.path.dirname(os.path.abspath(__file__))
    tmp = args.out + ".part.json"
    if not args.no_lock_kinds and not only:
        subprocess.run([sys.executable, os.path.join(here, "lock_kinds.py"),
                        "--conns", str(args.conns), "--repeat",
                        str(args.repeat), "--out", tmp], check=True)
        with open(tmp) as f:
            result["lock_kinds"] = json.load(f)
    if not args.no_control_plane and not only:
        subprocess.run([sys.executable,
                        os.path.join(here, "control_plane.py"), "--conns",
                        str(args.conns), "--repeat", str(args.repeat),
                        "--out", tmp], check=True)
        with open(tmp) as f:
            result["control_plane"] = json.load(f)
    if args.ovs:
        t0 = time.time()
        r = subprocess.run([os.path.join(here, "compare_ovs.sh"), "-n",
                            str(args.conns), "-r", str(args.repeat)],
                           capture_output=True, text=True)
        cache = os.environ.get("OVSCT_OVS_CACHE",
                               os.path.expanduser("~/.cache/ovsct-ovs"))
        jsonl = os.path.join(cache, "last-run.jsonl")
        runs = []
        if os.path.exists(jsonl) and os.path.getmtime(jsonl) >= t0:
            with open(jsonl) as f:
                runs = [json.loads(line) for line in f if line.strip()]
        result["compare_ovs"] = {
            "command": "benchmarks/compare_ovs.sh -n %d -r %d"
                       % (args.conns, args.repeat),
            "summary": r.stdout, "runs": runs}
        print(r.stdout)
    if os.path.exists(tmp):
        os.remove(tmp)
    result["machine"]["load_after"] = load()
    if args.merge and os.path.exists(args.out):
        with open(args.out) as f:
            old = json.load(f)
        old["configs"].update(result["configs"])
        for key in ("lock_kinds", "control_plane", "compare_ovs"):
            if key in result:
                old[key] = result[key]
        old.setdefault("merged", []).append(
            {"configs": names, "machine": result["machine"]})
        result = old
    write_json(args.out, result)
    print("wrote %s" % args.out, file=sys.stderr)
    if args.plots:
        subprocess.run([sys.executable, os.path.join(here, "plots.py"),
                        args.out], check=True)
    if not ok:
        print("run_all.py: some correctness checks FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
