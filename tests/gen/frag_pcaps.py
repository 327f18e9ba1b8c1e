#!/usr/bin/env python3
"""Writes the IP fragment oracle captures of tests/data/frag/ (stdlib only,
deterministic).

Run from anywhere: ``python3 tests/gen/frag_pcaps.py [OUTDIR]``.  Like
tests/gen/other_pcaps.py it also writes ``captures.txt`` (``NAME INDEX
DESCRIPTION`` per packet) and no expectation: what OVS's conntrack with its
fragment reassembly (lib/ipf.c, as configured by default: enabled for v4
and v6, min-frag 1200 and 1280, 1000 fragments) makes of every packet is in
the goldens ``run_oracle.py frag`` writes (tests/data/frag/README).

Every IP packet of a fragment that is not the last is at least min-frag
bytes long unless its description says "too small".  Checksums are right
unless said otherwise (the L4 checksum covers the whole datagram).

Hosts: A 10.0.3.1 / fc00::3:1, B 10.0.3.2 / fc00::3:2.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "lib"))

import pcaplib  # noqa: E402
from framebuild import echo, icmp4, icmp6, udp, v4, v6  # noqa: E402

T0 = 1700000000
A, B = "10.0.3.1", "10.0.3.2"
A6, B6 = "fc00::3:1", "fc00::3:2"
MF = 0x2000


def frag4(src, dst, proto, whole, ident, off, length=None, more=True,
          **ip):
    """The IPv4 fragment of datagram payload 'whole' covering
    [off, off + length)."""
    data = whole[off:] if length is None else whole[off:off + length]
    return v4(src, dst, proto, data, frag=(MF if more else 0) | off // 8,
              ident=ident, **ip)


def frag6(src, dst, nxt, whole, ident, off, length=None, more=True):
    """The IPv6 fragment (fragment header) of 'whole' covering
    [off, off + length)."""
    data = whole[off:] if length is None else whole[off:off + length]
    return v6(src, dst, 44, bytes([nxt, 0])
              + struct.pack("!HI", off | (1 if more else 0), ident) + data)


def u4(sport, dport, n, src=A, dst=B):
    return udp(src, dst, sport, dport, bytes(i & 0xff for i in range(n)))


def u6(sport, dport, n, src=A6, dst=B6):
    return udp(src, dst, sport, dport, bytes(i & 0xff for i in range(n)))


def _adder(out):
    def add(desc, frame):
        out.append((desc, frame))
    return add


def frag_v4_udp():
    out = []
    add = _adder(out)
    d1 = u4(50000, 9000, 2000)
    add("UDP A:50000 > B:9000 first fragment (1480 bytes)",
        frag4(A, B, 17, d1, 1, 0, 1480))
    add("its last fragment (offset 1480): datagram complete",
        frag4(A, B, 17, d1, 1, 1480, more=False))
    add("reply B:9000 > A:50000 unfragmented",
        v4(B, A, 17, udp(B, A, 9000, 50000, b"reply")))
    d2 = u4(50000, 9000, 4000)
    add("A > B again in three fragments, reversed: last (offset 2960)",
        frag4(A, B, 17, d2, 2, 2960, more=False))
    add("middle fragment (offset 1480)", frag4(A, B, 17, d2, 2, 1480, 1480))
    add("first fragment: datagram complete", frag4(A, B, 17, d2, 2, 0, 1480))
    d3 = u4(50001, 9000, 2000)
    add("UDP A:50001 > B:9000 first fragment", frag4(A, B, 17, d3, 3, 0,
                                                     1480))
    add("the same first fragment again (duplicate)",
        frag4(A, B, 17, d3, 3, 0, 1480))
    add("its last fragment: datagram complete",
        frag4(A, B, 17, d3, 3, 1480, more=False))
    add("the last fragment once more, after completion (a new list)",
        frag4(A, B, 17, d3, 3, 1480, more=False))
    d4 = u4(50002, 9000, 3000)
    add("UDP A:50002 > B:9000 first fragment", frag4(A, B, 17, d4, 4, 0,
                                                     1480))
    add("fragment at offset 1400 overlapping it",
        frag4(A, B, 17, d4, 4, 1400, 1480))
    add("middle fragment (offset 1480)", frag4(A, B, 17, d4, 4, 1480, 1480))
    add("last fragment: datagram complete",
        frag4(A, B, 17, d4, 4, 2960, more=False))
    d5 = u4(50003, 9000, 1200)
    add("UDP A:50003 > B:9000 first fragment of 600 bytes (too small)",
        frag4(A, B, 17, d5, 5, 0, 576))
    add("its last fragment (small, but last: held)",
        frag4(A, B, 17, d5, 5, 576, more=False))
    d6 = u4(50004, 9000, 3000)
    add("UDP A:50004 > B:9000 first fragment only (never completed)",
        frag4(A, B, 17, d6, 6, 0, 1480))
    add("UDP A:50005 > B:9000 last fragment only (never completed)",
        frag4(A, B, 17, u4(50005, 9000, 3000), 7, 1480, more=False))
    add("UDP A:50004 datagram: a fragment at offset 1480 (held)",
        frag4(A, B, 17, d6, 6, 1480, 1480))
    add("a fragment at offset 1000 overlapping both",
        frag4(A, B, 17, d6, 6, 1000, 2200))
    d7 = u4(50006, 9000, 2000)
    add("UDP A:50006 > B:9000 first fragment with a bad IP checksum",
        frag4(A, B, 17, d7, 8, 0, 1480, bad_csum=True))
    add("its last fragment (held, never completed)",
        frag4(A, B, 17, d7, 8, 1480, more=False))
    add("A:50000 > B:9000 unfragmented (the connection is established)",
        v4(A, B, 17, udp(A, B, 50000, 9000, b"again")))
    return out


def frag_v4_icmp():
    out = []
    add = _adder(out)
    req = icmp4(8, 0, echo(0x900, 1), bytes(2000))
    add("echo request A > B id 0x900 first fragment",
        frag4(A, B, 1, req, 20, 0, 1480))
    add("its last fragment: request complete",
        frag4(A, B, 1, req, 20, 1480, more=False))
    rep = icmp4(0, 0, echo(0x900, 1), bytes(2000))
    add("echo reply B > A last fragment first",
        frag4(B, A, 1, rep, 21, 1480, more=False))
    add("echo reply first fragment: reply complete",
        frag4(B, A, 1, rep, 21, 0, 1480))
    req2 = icmp4(8, 0, echo(0x901, 1), bytes(1400))
    add("echo request id 0x901, first fragment 800 bytes (too small)",
        frag4(A, B, 1, req2, 22, 0, 776))
    add("its last fragment (held, never completed)",
        frag4(A, B, 1, req2, 22, 776, more=False))
    add("echo request id 0x902 unfragmented",
        v4(A, B, 1, icmp4(8, 0, echo(0x902, 1), b"ping")))
    req3 = icmp4(8, 0, echo(0x903, 1), bytes(3000))
    add("echo request id 0x903 first fragment",
        frag4(A, B, 1, req3, 23, 0, 1480))
    add("its middle fragment", frag4(A, B, 1, req3, 23, 1480, 1480))
    add("the middle fragment again (duplicate)",
        frag4(A, B, 1, req3, 23, 1480, 1480))
    add("its last fragment: complete",
        frag4(A, B, 1, req3, 23, 2960, more=False))
    return out


def frag_v6():
    out = []
    add = _adder(out)
    d1 = u6(51000, 9000, 2000)
    add("UDP [A6]:51000 > [B6]:9000 first fragment (1448 bytes)",
        frag6(A6, B6, 17, d1, 0x100, 0, 1448))
    add("its last fragment: complete", frag6(A6, B6, 17, d1, 0x100, 1448,
                                             more=False))
    add("reply unfragmented", v6(B6, A6, 17, udp(B6, A6, 9000, 51000,
                                                 b"reply")))
    d2 = u6(51000, 9000, 4000)
    add("A6 > B6 in three fragments, reversed: last",
        frag6(A6, B6, 17, d2, 0x101, 2896, more=False))
    add("middle (offset 1448)", frag6(A6, B6, 17, d2, 0x101, 1448, 1448))
    add("first: complete", frag6(A6, B6, 17, d2, 0x101, 0, 1448))
    d3 = u6(51001, 9000, 2000)
    add("UDP [A6]:51001 first fragment", frag6(A6, B6, 17, d3, 0x102, 0,
                                               1448))
    add("the same fragment again (duplicate)",
        frag6(A6, B6, 17, d3, 0x102, 0, 1448))
    add("a fragment at offset 1000 overlapping it",
        frag6(A6, B6, 17, d3, 0x102, 1000, 1448))
    add("last fragment: complete", frag6(A6, B6, 17, d3, 0x102, 1448,
                                         more=False))
    d4 = u6(51002, 9000, 1500)
    add("UDP [A6]:51002 first fragment of 1040 bytes (too small)",
        frag6(A6, B6, 17, d4, 0x103, 0, 992))
    add("its last fragment (held, never completed)",
        frag6(A6, B6, 17, d4, 0x103, 992, more=False))
    add("UDP [A6]:51003 first fragment only (never completed)",
        frag6(A6, B6, 17, u6(51003, 9000, 3000), 0x104, 0, 1448))
    req = icmp6(A6, B6, 128, 0, echo(0x600, 1), bytes(2000))
    add("ICMPv6 echo request first fragment",
        frag6(A6, B6, 58, req, 0x105, 0, 1448))
    add("its last fragment: complete", frag6(A6, B6, 58, req, 0x105, 1448,
                                             more=False))
    add("echo reply unfragmented", v6(B6, A6, 58, icmp6(
        B6, A6, 129, 0, echo(0x600, 1), b"pong")))
    return out


def frag_batches():
    """Ordering: a datagram completed inside a batch of 32 is tracked after
    the batch's other packets, and fragments held across batches."""
    out = []
    add = _adder(out)
    d1 = u4(52000, 9000, 2000)
    add("UDP A:52000 > B:9000 first fragment", frag4(A, B, 17, d1, 40, 0,
                                                     1480))
    add("its last fragment: complete", frag4(A, B, 17, d1, 40, 1480,
                                             more=False))
    add("reply B:9000 > A:52000 unfragmented, same batch of 32",
        v4(B, A, 17, udp(B, A, 9000, 52000, b"reply")))
    add("reply B:9001 > A:52001 unfragmented (its request follows)",
        v4(B, A, 17, udp(B, A, 9001, 52001, b"first")))
    d2 = u4(52001, 9001, 2000)
    add("UDP A:52001 > B:9001 first fragment", frag4(A, B, 17, d2, 41, 0,
                                                     1480))
    add("its last fragment: complete", frag4(A, B, 17, d2, 41, 1480,
                                             more=False))
    d3 = u4(52002, 9002, 2000)
    add("UDP A:52002 > B:9002 first fragment (held across batches)",
        frag4(A, B, 17, d3, 42, 0, 1480))
    for i in range(len(out), 33):
        add("filler UDP A:%d > B:7 unfragmented" % (53000 + i),
            v4(A, B, 17, udp(A, B, 53000 + i, 7, b"f")))
    add("UDP A:52002 last fragment, second batch of 32: complete",
        frag4(A, B, 17, d3, 42, 1480, more=False))
    add("reply B:9002 > A:52002 unfragmented",
        v4(B, A, 17, udp(B, A, 9002, 52002, b"reply")))
    d4 = u4(52003, 9003, 4000)
    add("UDP A:52003 > B:9003 last fragment",
        frag4(A, B, 17, d4, 43, 2960, more=False))
    add("its first fragment", frag4(A, B, 17, d4, 43, 0, 1480))
    add("reply B:9003 > A:52003 before the datagram is complete",
        v4(B, A, 17, udp(B, A, 9003, 52003, b"early")))
    add("middle fragment: complete", frag4(A, B, 17, d4, 43, 1480, 1480))
    return out


CAPTURES = [
    ("frag_v4_udp", frag_v4_udp),
    ("frag_v4_icmp", frag_v4_icmp),
    ("frag_v6", frag_v6),
    ("frag_batches", frag_batches),
]


def main():
    outdir = (sys.argv[1] if len(sys.argv) > 1 else
              os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, "data", "frag"))
    pcaplib.write_captures(outdir, CAPTURES, T0)


if __name__ == "__main__":
    main()
