#!/usr/bin/env python3
"""JSON dump at scale: `ovsct -f json dump-conntrack` against the text dump
of the same table, through the daemon's socket, in one run.

    python3 benchmarks/json_dump.py [--conns 1000000] [--repeat 3]

Starts ovsctd in a private OVS_RUNDIR (Ovsctd of tests/lib/daemonlib.py), gives
zone 0 a one-day UDP timeout policy and replays FILE, N one-packet UDP
flows (write_udp_flows_pcap), so the table holds N connections for the
whole measurement (checked after it).  Then times, --repeat times each,
alternating:

    ovsct dump-conntrack > /dev/null
    ovsct -f json dump-conntrack > /dev/null

and prints the medians and their ratio (the goal of issue 13: JSON at most
2x the text).  Output goes to /dev/null as an operator's redirect would;
one extra run of each into a file checks the row counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "lib"))

from daemonlib import ROOT, Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


def timed(cmd: list[str], env: dict, out_path: str = os.devnull) -> float:
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, cwd=ROOT, stdout=out,
                           stderr=subprocess.PIPE, timeout=1800)
        dt = time.perf_counter() - t0
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode()))
    return dt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="ovsct-jd-")
    pcap = os.path.join(tmp, "flows.pcap")
    write_udp_flows_pcap(pcap, args.conns)
    ovsct = [sys.executable, "-m", "ovsct.cli"]
    text_cmd = ovsct + ["dump-conntrack"]
    json_cmd = ovsct + ["-f", "json", "dump-conntrack"]
    try:
        with Ovsctd(timeout=600) as d:
            # One-way UDP lives 30 s by default: the runs take longer.
            # A day's timeout keeps the table whole while it is measured.
            for cmd in (["ct/add-zone-tp", "zone=0", "udp_first=86400",
                         "udp_single=86400", "udp_multiple=86400"],
                        ["ct/replay", pcap]):
                r = d.appctl(*cmd)
                if r.returncode:
                    raise RuntimeError(r.stderr.decode())
            n = int(d.appctl("dpctl/ct-get-nconns").stdout)
            # Check once that both dumps hold every connection.
            out = os.path.join(tmp, "dump")
            timed(text_cmd, d.env, out)
            with open(out, "rb") as f:
                text_rows = sum(c.count(b"\n")
                                for c in iter(lambda: f.read(1 << 20), b""))
            timed(json_cmd, d.env, out)
            with open(out, "rb") as f:
                json_rows = len(json.load(f))
            os.unlink(out)
            if not text_rows == json_rows == n:
                raise RuntimeError("rows: nconns %d, text %d, json %d"
                                   % (n, text_rows, json_rows))
            times: dict[str, list[float]] = {"text": [], "json": []}
            for _ in range(args.repeat):
                times["text"].append(timed(text_cmd, d.env))
                times["json"].append(timed(json_cmd, d.env))
            after = int(d.appctl("dpctl/ct-get-nconns").stdout)
            if after != n:
                raise RuntimeError("table changed while measured: %d -> %d"
                                   % (n, after))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    text = statistics.median(times["text"])
    js = statistics.median(times["json"])
    print("connections: %d" % n)
    for name in ("text", "json"):
        print("%-5s dump-conntrack > /dev/null: median %.3f s  (runs: %s)"
              % (name, statistics.median(times[name]),
                 ", ".join("%.3f" % t for t in times[name])))
    print("json / text: %.2f (goal: <= 2)" % (js / text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
