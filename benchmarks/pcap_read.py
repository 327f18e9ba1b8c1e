#!/usr/bin/env python3
"""Reading a capture into one batch buffer: ovsct's C reader against dpkt.

Writes a pcap of N UDP frames (default 1,000,000) to a temporary file,
then times loading it into frames + offsets both ways (best of 3) and
prints one JSON object.  Why the engine has its own reader: dpkt walks the
file in Python, one object per frame.

    python3 benchmarks/pcap_read.py [--frames N]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from array import array

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "lib"))

import dpkt  # noqa: E402

from ovsct import _engine  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


def with_dpkt(path):
    data = bytearray()
    offsets = array("I", [0])
    with open(path, "rb") as f:
        for _ts, frame in dpkt.pcap.Reader(f):
            data += frame
            offsets.append(len(data))
    return data, offsets


def best(fn, *args, runs=3):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "flows.pcap")
        write_udp_flows_pcap(path, args.frames)
        size = os.path.getsize(path)
        c_s = best(_engine.pcap_load, path)
        dpkt_s = best(with_dpkt, path)
    print(json.dumps({"frames": args.frames, "file_bytes": size,
                      "ovsct_ms": round(c_s * 1e3, 1),
                      "dpkt_ms": round(dpkt_s * 1e3, 1),
                      "ratio": round(dpkt_s / c_s, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
