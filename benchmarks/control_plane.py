#!/usr/bin/env python3
"""Control plane under load: dump and flush of N connections through the
daemon's socket, idle and while traffic runs, and what a dump costs the
packet path.

    python3 benchmarks/control_plane.py [--conns 1000000] [--threads 2]
                                        [--repeat 3] [--out FILE]

Starts ovsctd in a private OVS_RUNDIR (tests/lib/daemonlib.py) with
`--pcap FILE --threads T`, FILE holding N one-packet UDP flows
(tests/lib/pcaplib.py), so the table starts with N connections.  Then:

1. idle: `ovs-appctl -t ovsctd dpctl/dump-conntrack` (/usr/bin/ovs-appctl,
   OVS's C client) and `python3 -m ovsct.cli dump-conntrack`, output to a
   file: wall time, lines, bytes;
2. traffic alone: `ct/replay FILE` (the N frames again, ct(commit), on a
   packet worker thread) in a loop: packets per second of each replay;
3. the same dumps while the replay loop runs, and the replay rate during
   them (the packet-path impact of a dump, as the daemon sees it);
4. `dpctl/flush-conntrack` while the replay loop runs (the table is
   refilled by a replay before each flush).

Each step runs --repeat times; the summary gives the best and the median.
The in-process view of the same question (per-batch latency while a dump
runs) is `ovsct bench dump`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "lib"))

from benchlib import machine, write_json  # noqa: E402
from daemonlib import OVS_APPCTL, ROOT, Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


def timed(cmd: list[str], env: dict, out_path: str | None = None
          ) -> tuple[float, int, int]:
    """Runs 'cmd'; returns (seconds, lines, bytes) of its output."""
    with open(out_path or os.devnull, "wb") as out:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, cwd=ROOT, stdout=out,
                           stderr=subprocess.PIPE, timeout=600)
        dt = time.perf_counter() - t0
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode()))
    if not out_path:
        return dt, 0, 0
    size = os.path.getsize(out_path)
    with open(out_path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(
            lambda: f.read(1 << 20), b""))
    return dt, lines, size


class ReplayLoop:
    """Runs `ct/replay FILE` back to back on a thread; records each
    replay's (start, end) wall times."""

    def __init__(self, daemon: Ovsctd, pcap: str):
        self.cmd = [OVS_APPCTL, "-t", "ovsctd", "ct/replay", pcap]
        self.env = daemon.env
        self.spans: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            subprocess.run(self.cmd, env=self.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
            self.spans.append((t0, time.perf_counter()))

    def __enter__(self) -> "ReplayLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait_first(self) -> None:
        """Waits until one replay finished (the loop is warm)."""
        while not self.spans:
            time.sleep(0.01)


def best_median(values: list[float]) -> dict[str, float]:
    return {"best": min(values), "median": statistics.median(values),
            "runs": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="ovsct-cp-")
    pcap = os.path.join(tmp, "flows.pcap")
    dump_file = os.path.join(tmp, "dump.txt")
    print("writing %d flows to %s" % (args.conns, pcap), file=sys.stderr)
    write_udp_flows_pcap(pcap, args.conns)
    res: dict = {"conns": args.conns, "threads": args.threads}
    try:
        t0 = time.perf_counter()
        with Ovsctd("--pcap", pcap, "--threads", str(args.threads),
                    timeout=600) as d:
            res["start_with_pcap_s"] = time.perf_counter() - t0
            env = d.env
            appctl_dump = [OVS_APPCTL, "-t", "ovsctd",
                           "dpctl/dump-conntrack"]
            ovsct_dump = [sys.executable, "-m", "ovsct.cli",
                          "dump-conntrack"]
            n = int(d.appctl("dpctl/ct-get-nconns").stdout)
            res["nconns"] = n
            print("daemon up with %d connections" % n, file=sys.stderr)

            def dumps(label: str) -> None:
                for name, cmd in (("appctl", appctl_dump),
                                  ("ovsct", ovsct_dump)):
                    times, lines, size = [], 0, 0
                    for _ in range(args.repeat):
                        dt, lines, size = timed(cmd, env, dump_file)
                        times.append(dt)
                    res["dump_%s_%s" % (name, label)] = dict(
                        best_median(times), lines=lines, bytes=size)
                    print("dump %s %s: %.2f s (median), %d lines"
                          % (name, label, statistics.median(times), lines),
                          file=sys.stderr)

            # 1. Idle dumps.
            dumps("idle")

            # 2. Traffic alone.
            with ReplayLoop(d, pcap) as loop:
                while len(loop.spans) < args.repeat + 1:
                    time.sleep(0.05)
            alone = [n / (e - s) / 1e6 for s, e in loop.spans[1:]]
            res["replay_alone_mpps"] = best_median(alone)
            res["replay_alone_mpps"]["best"] = max(alone)

            # 3. Dumps under traffic.  A replay counts as "during a dump"
            # if it overlapped one.
            dump_spans = []
            with ReplayLoop(d, pcap) as loop:
                loop.wait_first()
                w0 = time.perf_counter()
                dumps("traffic")
                dump_spans.append((w0, time.perf_counter()))
            during = [n / (e - s) / 1e6 for s, e in loop.spans[1:]
                      if s < dump_spans[0][1] and e > dump_spans[0][0]]
            if during:
                res["replay_during_dumps_mpps"] = best_median(during)
                res["replay_during_dumps_mpps"]["best"] = max(during)

            # 4. Flush under traffic, the table full before each flush.
            flush = []
            with ReplayLoop(d, pcap) as loop:
                for _ in range(args.repeat):
                    k = len(loop.spans)
                    while len(loop.spans) < k + 2:
                        time.sleep(0.01)
                    dt, _, _ = timed([OVS_APPCTL, "-t", "ovsctd",
                                      "dpctl/flush-conntrack"], env)
                    flush.append(dt)
            res["flush_traffic"] = best_median(flush)
            # And idle, after a replay refilled the table.
            flush = []
            for _ in range(args.repeat):
                timed([OVS_APPCTL, "-t", "ovsctd", "ct/replay", pcap], env)
                dt, _, _ = timed([OVS_APPCTL, "-t", "ovsctd",
                                  "dpctl/flush-conntrack"], env)
                flush.append(dt)
            res["flush_idle"] = best_median(flush)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for key in ("dump_appctl_idle", "dump_ovsct_idle", "dump_appctl_traffic",
                "dump_ovsct_traffic", "flush_idle", "flush_traffic"):
        v = res[key]
        rows.append((key, "%.3f s" % v["best"], "%.3f s" % v["median"]))
    for key in ("replay_alone_mpps", "replay_during_dumps_mpps"):
        if key in res:
            v = res[key]
            rows.append((key, "%.2f Mpps" % v["best"],
                         "%.2f Mpps" % v["median"]))
    rows.insert(0, ("figure (%d conns)" % res["nconns"], "best", "median"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join((r[0].ljust(widths[0]), r[1].rjust(widths[1]),
                         r[2].rjust(widths[2]))))
    if args.out:
        write_json(args.out, {
            "machine": machine(),
            "command": "python3 benchmarks/control_plane.py --conns %d "
                       "--threads %d --repeat %d"
                       % (args.conns, args.threads, args.repeat),
            "results": res})
    return 0


if __name__ == "__main__":
    sys.exit(main())
