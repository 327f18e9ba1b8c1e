#!/usr/bin/env python3
"""Round trip of an idle ovsctd command on an open socket.

Starts a daemon (private OVS_RUNDIR), sends N requests one after the other
on one connection and prints the median and the 99th percentile in
microseconds, as one JSON object.  The figure to beat: under 1 ms (OVS 3.1
measured about 48 us here, docs/benchmarks.md).

    python3 benchmarks/rtt.py [--count 2000]
"""

import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "lib"))

from daemonlib import Ovsctd  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    result = {}
    with Ovsctd() as daemon:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(daemon.socket)
        for method in ("version", "dpctl/ct-get-nconns"):
            request = json.dumps({"id": 0, "method": method,
                                  "params": []}).encode()
            times = []
            for _ in range(args.count):
                t0 = time.perf_counter()
                sock.sendall(request)
                buf = sock.recv(65536)
                while not buf.endswith(b"}"):
                    buf += sock.recv(65536)
                times.append(time.perf_counter() - t0)
            times.sort()
            result[method] = {
                "median_us": round(times[len(times) // 2] * 1e6, 1),
                "p99_us": round(times[len(times) * 99 // 100] * 1e6, 1),
            }
        sock.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
