#!/usr/bin/env python3
"""Save and restore N UDP connections (Conntrack.save / restore).

    python benchmarks/persist.py [--conns 1000000] [--repeat 3]
                                 [--dir DIR] [--buckets N]

Fills a table with N one-packet UDP connections (frames built here, run
through the engine in batches), then, --repeat times: saves it to
DIR/persist-bench.state (write, fsync, rename, fsync of the directory, as
ovsctd does) and restores the file into a fresh table, checking that every
connection came back.  Prints each run and the median: save and restore
seconds, connections per second, file size and bytes per connection.
DIR's file system decides the fsync cost: the default is the current
directory (a disk, unlike /tmp on many systems).

Target (issue 12): under 1 s each for 1M connections.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ovsct.engine import Conntrack  # noqa: E402

_ETH = bytes.fromhex("000000000002000000000001") + b"\x08\x00"
BATCH = 65536


def udp_frames(first: int, n: int) -> tuple[bytes, array]:
    """'n' one-packet UDP flows 10.a.b.c:P -> 10.200.0.1:5000 (UDP
    checksum 0, IP checksum computed), as one buffer and n + 1 offsets."""
    head = struct.pack("!BBHHHBB", 0x45, 0, 28, 0, 0, 64, 17)
    dst = bytes([10, 200, 0, 1])
    # Sum of the constant 16-bit words of the IP header (all but src).
    base = sum(struct.unpack("!5H", head)) + 0x0ac8 + 0x0001
    out = bytearray()
    for i in range(first, first + n):
        a, b, c = (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff
        s = base + (10 << 8 | a) + (b << 8 | c)
        s = (s & 0xffff) + (s >> 16)
        s = (s & 0xffff) + (s >> 16)
        out += _ETH + head + struct.pack("!H", ~s & 0xffff) + \
            bytes([10, a, b, c]) + dst + \
            struct.pack("!HHHH", 10000 + (i >> 24), 5000, 8, 0)
    size = len(_ETH) + 28
    return bytes(out), array("I", range(0, (n + 1) * size, size))


def fill(ct: Conntrack, n: int) -> None:
    for first in range(0, n, BATCH):
        k = min(BATCH, n - first)
        frames, offsets = udp_frames(first, k)
        states = ct.execute(frames, offsets, "ct(commit)")
        assert states.count(0x21) == k, "frames not all new|trk"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=".")
    ap.add_argument("--buckets", type=int, default=0)
    args = ap.parse_args()

    path = os.path.join(os.path.abspath(args.dir), "persist-bench.state")
    ct = Conntrack(buckets=args.buckets, manual_clock=True, start_ms=0)
    t0 = time.perf_counter()
    fill(ct, args.conns)
    n = ct.nconns()
    print("filled %d UDP connections in %.2f s" % (n,
                                                   time.perf_counter() - t0))
    assert n == args.conns, n
    saves, restores = [], []
    try:
        for run in range(args.repeat):
            t0 = time.perf_counter()
            saved = ct.save(path)
            t_save = time.perf_counter() - t0
            dst = Conntrack(buckets=args.buckets, manual_clock=True,
                            start_ms=0)
            t0 = time.perf_counter()
            stats = dst.restore(path)
            t_restore = time.perf_counter() - t0
            assert stats["restored"] == n and dst.nconns() == n, stats
            dst.close()
            saves.append(t_save)
            restores.append(t_restore)
            print("run %d: save %.3f s (%.2f M conns/s), restore %.3f s "
                  "(%.2f M conns/s), file %d bytes, %.1f bytes/conn"
                  % (run + 1, t_save, n / t_save / 1e6, t_restore,
                     n / t_restore / 1e6, saved["bytes"],
                     saved["bytes"] / n))
    finally:
        if os.path.exists(path):
            size = os.path.getsize(path)
            os.unlink(path)
        ct.close()
    print("median of %d: save %.3f s, restore %.3f s, %.1f bytes/conn "
          "(%d connections, %s)"
          % (args.repeat, statistics.median(saves),
             statistics.median(restores), size / n, n, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
