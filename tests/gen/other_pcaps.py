#!/usr/bin/env python3
"""Writes the non-TCP oracle captures of tests/data/other/ (stdlib only,
deterministic).

Run from anywhere: ``python3 tests/gen/other_pcaps.py [OUTDIR]``.  The same
bytes come out on every run: timestamps are fixed (1 ms apart), nothing is
random.  Every checksum is correct unless a packet's description says
otherwise.

Besides the captures the script writes ``captures.txt``: one line per
packet, ``NAME INDEX DESCRIPTION``, so that a test failure can say what the
packet was.  What real OVS makes of every packet lives beside the captures
(``NAME.ovs-states``, ``NAME.ovs-conns``, made by ``run_oracle.py other``
of tests/ovs_oracle; see tests/data/other/README).  No expectation is
written here: OVS is the reference.

Hosts: A 10.0.2.1 / fc00::2:1 (the client), B 10.0.2.2 / fc00::2:2 (its
peer), R 10.0.2.254 / fc00::2:fe (a router between them), C 10.0.2.3 /
fc00::2:3 (a TCP server).
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "lib"))

import framebuild as fb  # noqa: E402
import pcaplib  # noqa: E402
from framebuild import (  # noqa: E402
    addr, csum, echo, eth, host_mac, icmp4, icmp6, ipv4, l3_of, quote4,
    quote6, udp, v4, v6)

T0 = 1700000000                 # Capture start, seconds.
A, B, R, C = "10.0.2.1", "10.0.2.2", "10.0.2.254", "10.0.2.3"
A6, B6, R6, C6 = "fc00::2:1", "fc00::2:2", "fc00::2:fe", "fc00::2:3"
PING = bytes(range(0x20, 0x40))

# Headers come from framebuild (hosts: framebuild.host_mac).


def tcp(src, dst, sport, dport, seq, ack, flags, win=64240, opts=b""):
    """A TCP segment with these captures' default window."""
    return fb.tcp(src, dst, sport, dport, seq, ack, flags, win, opts)


def err4(src, dst, typ, code, quoted, rest=b"\0" * 4, **kw):
    return v4(src, dst, 1, icmp4(typ, code, rest, quoted), **kw)


def err6(src, dst, typ, code, quoted, rest=b"\0" * 4):
    return v6(src, dst, 58, icmp6(src, dst, typ, code, rest, quoted))


def ext(nxt, length8=0, body=None):
    """IPv6 hop-by-hop / destination-options header with PadN filling it."""
    size = 8 * (length8 + 1)
    if body is None:
        body = bytes([1, size - 4]) + b"\0" * (size - 4)
    return bytes([nxt, length8]) + body


# Captures: each returns [(description, frame)].

def udp_flows():
    out = []
    add = lambda d, f: out.append((d, f))
    q, r = b"query", b"response"
    add("UDP A:41000 > B:5353, first packet", v4(A, B, 17,
        udp(A, B, 41000, 5353, q)))
    add("same direction again, no reply yet", v4(A, B, 17,
        udp(A, B, 41000, 5353, q), ident=2))
    add("reply B:5353 > A:41000", v4(B, A, 17, udp(B, A, 5353, 41000, r)))
    add("A > B after the reply", v4(A, B, 17, udp(A, B, 41000, 5353, q),
                                     ident=3))
    add("B > A again", v4(B, A, 17, udp(B, A, 5353, 41000, r), ident=2))
    add("A > B with a bad UDP checksum", v4(A, B, 17,
        udp(A, B, 41000, 5353, q, mode="bad"), ident=4))
    add("B > A with a bad UDP checksum", v4(B, A, 17,
        udp(B, A, 5353, 41000, r, mode="bad"), ident=3))
    add("A > B with checksum 0 (not checked on IPv4)", v4(A, B, 17,
        udp(A, B, 41000, 5353, q, mode="zero"), ident=5))
    add("B > A, good checksum", v4(B, A, 17, udp(B, A, 5353, 41000, r),
                                    ident=4))
    add("UDP A:41001 > B:5353 with a bad checksum, no connection yet",
        v4(A, B, 17, udp(A, B, 41001, 5353, q, mode="bad")))
    add("B:5353 > A:41001 (no connection: the bad one made none)",
        v4(B, A, 17, udp(B, A, 5353, 41001, r)))
    add("UDP A:41002 > B:7, IPv4 with a router-alert option",
        v4(A, B, 17, udp(A, B, 41002, 7, q), options=b"\x94\x04\x00\x00"))
    add("its reply, no option", v4(B, A, 17, udp(B, A, 7, 41002, q)))
    add("UDP [A6]:41003 > [B6]:5353, checksum 0 (IPv6: invalid)",
        v6(A6, B6, 17, udp(A6, B6, 41003, 5353, q, mode="zero")))
    add("UDP [A6]:41003 > [B6]:5353, good checksum",
        v6(A6, B6, 17, udp(A6, B6, 41003, 5353, q)))
    add("reply [B6]:5353 > [A6]:41003", v6(B6, A6, 17,
        udp(B6, A6, 5353, 41003, r)))
    add("reply again with checksum 0 (invalid on IPv6)", v6(B6, A6, 17,
        udp(B6, A6, 5353, 41003, r, mode="zero")))
    add("[A6] > [B6] with a bad checksum", v6(A6, B6, 17,
        udp(A6, B6, 41003, 5353, q, mode="bad")))
    add("[A6] > [B6] good", v6(A6, B6, 17, udp(A6, B6, 41003, 5353, q)))
    add("UDP A:5000 > A:5000 (to itself)", v4(A, A, 17,
        udp(A, A, 5000, 5000, q)))
    add("the same packet again", v4(A, A, 17, udp(A, A, 5000, 5000, q),
                                     ident=2))
    add("UDP A:41004 > B:9, 4 zero bytes after the datagram in the IP "
        "payload, RFC 768 checksum over the datagram",
        v4(A, B, 17, udp(A, B, 41004, 9, b"abcd", trailer=b"\0" * 4)))
    add("same, checksum over the whole IP payload (pseudo-header length "
        "from IP)", v4(A, B, 17, udp(A, B, 41004, 9, b"abcd", mode="whole",
                                     trailer=b"\0" * 4), ident=2))
    add("same, checksum 0", v4(A, B, 17, udp(A, B, 41004, 9, b"abcd",
                                             mode="zero", trailer=b"\0" * 4),
                               ident=3))
    add("UDP A:41005 > B:9, UDP length 7", v4(A, B, 17,
        udp(A, B, 41005, 9, b"abcd", length=7)))
    add("UDP A:41006 > B:9, header only (length 8, no data)",
        v4(A, B, 17, udp(A, B, 41006, 9, b"")))
    add("its reply", v4(B, A, 17, udp(B, A, 9, 41006, b"")))
    add("A > B first packet again (established now)", v4(A, B, 17,
        udp(A, B, 41000, 5353, q), ident=6))
    return out


def icmp_queries():
    out = []
    add = lambda d, f: out.append((d, f))
    add("echo request A > B id 0x100 seq 1", v4(A, B, 1,
        icmp4(8, 0, echo(0x100, 1), PING)))
    add("echo request again, seq 2, no reply yet", v4(A, B, 1,
        icmp4(8, 0, echo(0x100, 2), PING), ident=2))
    add("echo reply B > A seq 1", v4(B, A, 1,
        icmp4(0, 0, echo(0x100, 1), PING)))
    add("echo request seq 3", v4(A, B, 1, icmp4(8, 0, echo(0x100, 3), PING),
                                 ident=3))
    add("echo reply seq 3", v4(B, A, 1, icmp4(0, 0, echo(0x100, 3), PING),
                               ident=2))
    add("echo request B > A id 0x100 (B pings A, same id)", v4(B, A, 1,
        icmp4(8, 0, echo(0x100, 1), PING), ident=3))
    add("echo request id 0", v4(A, B, 1, icmp4(8, 0, echo(0, 1), PING),
                                ident=4))
    add("echo request with a bad ICMP checksum", v4(A, B, 1,
        icmp4(8, 0, echo(0x101, 1), PING, bad=True), ident=5))
    add("echo request with code 1", v4(A, B, 1,
        icmp4(8, 1, echo(0x102, 1), PING), ident=6))
    add("echo reply with code 1 to the tracked id", v4(B, A, 1,
        icmp4(0, 1, echo(0x100, 4), PING), ident=4))
    add("unsolicited echo reply B > A id 0x103", v4(B, A, 1,
        icmp4(0, 0, echo(0x103, 1), PING), ident=5))
    add("echo request A > B, only 4 bytes of ICMP", v4(A, B, 1,
        struct.pack("!BBH", 8, 0, csum(b"\x08\0\0\0"))))
    add("timestamp request A > B id 0x200", v4(A, B, 1,
        icmp4(13, 0, echo(0x200, 1), struct.pack("!III", 1000, 0, 0))))
    add("timestamp reply B > A", v4(B, A, 1,
        icmp4(14, 0, echo(0x200, 1), struct.pack("!III", 1000, 1001, 1002))))
    add("unsolicited timestamp reply id 0x201", v4(B, A, 1,
        icmp4(14, 0, echo(0x201, 1), struct.pack("!III", 1, 2, 3))))
    add("information request A > B id 0x300", v4(A, B, 1,
        icmp4(15, 0, echo(0x300, 1))))
    add("information reply B > A", v4(B, A, 1, icmp4(16, 0, echo(0x300, 1))))
    add("address mask request (17) A > B", v4(A, B, 1,
        icmp4(17, 0, echo(0x400, 1), b"\0" * 4)))
    add("address mask reply (18) B > A", v4(B, A, 1,
        icmp4(18, 0, echo(0x400, 1), b"\xff\xff\xff\0")))
    add("router solicitation (10) A > 224.0.0.2", v4(A, "224.0.0.2", 1,
        icmp4(10, 0, b"\0" * 4), ttl=1))
    add("ICMP type 42 (extended echo request)", v4(A, B, 1,
        icmp4(42, 0, echo(0x500, 1 << 8))))
    add("ICMPv6 echo request [A6] > [B6] id 0x600", v6(A6, B6, 58,
        icmp6(A6, B6, 128, 0, echo(0x600, 1), PING)))
    add("ICMPv6 echo request again", v6(A6, B6, 58,
        icmp6(A6, B6, 128, 0, echo(0x600, 2), PING)))
    add("ICMPv6 echo reply", v6(B6, A6, 58,
        icmp6(B6, A6, 129, 0, echo(0x600, 1), PING)))
    add("ICMPv6 echo request seq 3", v6(A6, B6, 58,
        icmp6(A6, B6, 128, 0, echo(0x600, 3), PING)))
    add("ICMPv6 unsolicited echo reply id 0x601", v6(B6, A6, 58,
        icmp6(B6, A6, 129, 0, echo(0x601, 1), PING)))
    add("ICMPv6 echo request with code 1", v6(A6, B6, 58,
        icmp6(A6, B6, 128, 1, echo(0x602, 1), PING)))
    add("ICMPv6 echo request with a bad checksum", v6(A6, B6, 58,
        icmp6(A6, B6, 128, 0, echo(0x603, 1), PING, bad=True)))
    add("ICMPv6 router solicitation (133)", v6(A6, "ff02::2", 58,
        icmp6(A6, "ff02::2", 133, 0, b"\0" * 4), hlim=255))
    add("ICMPv6 MLDv2 report (143) behind hop-by-hop router alert",
        v6(A6, "ff02::16", 0, bytes([58, 0, 5, 2, 0, 0, 1, 0])
           + icmp6(A6, "ff02::16", 143, 0, b"\0\0\0\0"), hlim=1))
    add("ICMPv6 type 200 (private experimentation)", v6(A6, B6, 58,
        icmp6(A6, B6, 200, 0, b"\0" * 4)))
    add("ICMPv6 echo request [B6] > [A6] id 0x600 (B pings A)", v6(B6, A6, 58,
        icmp6(B6, A6, 128, 0, echo(0x600, 1), PING)))
    return out


def icmp_errors_v4():
    out = []
    add = lambda d, f: out.append((d, f))
    fwd = v4(A, B, 17, udp(A, B, 42000, 6000, b"ping?"))
    rev = v4(B, A, 17, udp(B, A, 6000, 42000, b"pong!"))
    lone = v4(A, B, 17, udp(A, B, 42001, 6001, b"untracked"))
    syn = v4(A, C, 6, tcp(A, C, 42002, 80, 1000, 0, 0x02,
                          opts=b"\x02\x04\x05\xb4"))
    bad_inner = v4(A, B, 17, udp(A, B, 42000, 6000, b"ping?", mode="bad"))
    frag_inner = v4(A, B, 17, udp(A, B, 42000, 6000, b"x" * 40),
                    frag=0x2000, ident=77)
    badip_inner = v4(A, B, 17, udp(A, B, 42000, 6000, b"ping?"),
                     bad_csum=True)
    add("UDP A:42000 > B:6000", fwd)
    add("its reply", rev)
    add("port unreachable B > A quoting A > B", err4(B, A, 3, 3,
        quote4(fwd)))
    add("port unreachable A > B quoting B > A", err4(A, B, 3, 3,
        quote4(rev)))
    add("host unreachable R > A quoting A > B", err4(R, A, 3, 1,
        quote4(fwd)))
    add("net unreachable R > B quoting B > A", err4(R, B, 3, 0,
        quote4(rev)))
    add("admin prohibited (3/13) R > A quoting A > B", err4(R, A, 3, 13,
        quote4(fwd)))
    add("fragmentation needed (3/4) R > A quoting A > B", err4(R, A, 3, 4,
        quote4(fwd), rest=struct.pack("!HH", 0, 1400)))
    add("time exceeded R > A quoting A > B", err4(R, A, 11, 0, quote4(fwd)))
    add("time exceeded R > B quoting B > A", err4(R, B, 11, 0, quote4(rev)))
    add("parameter problem R > A quoting A > B", err4(R, A, 12, 0,
        quote4(fwd), rest=b"\x14\0\0\0"))
    add("parameter problem B > A quoting A > B", err4(B, A, 12, 0,
        quote4(fwd), rest=b"\x14\0\0\0"))
    add("source quench B > A quoting A > B", err4(B, A, 4, 0, quote4(fwd)))
    add("source quench A > B quoting B > A", err4(A, B, 4, 0, quote4(rev)))
    add("redirect R > A quoting A > B", err4(R, A, 5, 1, quote4(fwd),
        rest=addr(R).packed))
    add("redirect R > B quoting B > A", err4(R, B, 5, 1, quote4(rev),
        rest=addr(R).packed))
    add("port unreachable B > A quoting all of A > B", err4(B, A, 3, 3,
        l3_of(fwd)))
    add("port unreachable B > A quoting A > B, 4 bytes of UDP",
        err4(B, A, 3, 3, quote4(fwd, 4)))
    add("port unreachable B > A quoting 16 bytes of A > B's IP header",
        err4(B, A, 3, 3, l3_of(fwd)[:16]))
    add("port unreachable B > A quoting A > B with a bad UDP checksum",
        err4(B, A, 3, 3, l3_of(bad_inner)))
    add("port unreachable B > A quoting A > B with a bad IP checksum",
        err4(B, A, 3, 3, quote4(badip_inner)))
    add("port unreachable B > A quoting a first fragment of A > B",
        err4(B, A, 3, 3, quote4(frag_inner)))
    add("port unreachable B > A with a bad ICMP checksum", v4(B, A, 1,
        icmp4(3, 3, b"\0" * 4, quote4(fwd), bad=True)))
    add("port unreachable B > R quoting A > B (quoted source is not the "
        "destination)", err4(B, R, 3, 3, quote4(fwd)))
    add("port unreachable R > A quoting B > A (quoted source is B)",
        err4(R, A, 3, 3, quote4(rev)))
    add("port unreachable B > A quoting untracked A:42001 > B:6001",
        err4(B, A, 3, 3, quote4(lone)))
    add("A:42001 > B:6001 (now tracked)", lone)
    add("port unreachable B > A quoting it again", err4(B, A, 3, 3,
        quote4(lone)))
    add("TCP SYN A:42002 > C:80", syn)
    add("port unreachable C > A quoting the SYN (8 bytes of TCP)",
        err4(C, A, 3, 3, quote4(syn)))
    add("host unreachable R > A quoting the whole SYN", err4(R, A, 3, 1,
        l3_of(syn)))
    add("port unreachable C > A quoting the SYN with source port 0",
        err4(C, A, 3, 3, quote4(v4(A, C, 6, tcp(A, C, 0, 80, 1000, 0,
                                                 0x02)))))
    add("time exceeded R > A quoting time exceeded R > A (an error)",
        err4(R, A, 11, 0, quote4(out[8][1])))
    add("A > B again (still established)", v4(A, B, 17,
        udp(A, B, 42000, 6000, b"ping?"), ident=2))
    return out


def icmp_errors_v6():
    out = []
    add = lambda d, f: out.append((d, f))
    fwd = v6(A6, B6, 17, udp(A6, B6, 43000, 7000, b"ping?"))
    rev = v6(B6, A6, 17, udp(B6, A6, 7000, 43000, b"pong!"))
    lone = v6(A6, B6, 17, udp(A6, B6, 43001, 7001, b"untracked"))
    syn = v6(A6, C6, 6, tcp(A6, C6, 43002, 443, 5000, 0, 0x02,
                            opts=b"\x02\x04\x05\xa0"))
    ping = v6(A6, B6, 58, icmp6(A6, B6, 128, 0, echo(0x700, 1), PING))
    frag = v6(A6, B6, 44, bytes([17, 0, 0, 1]) + struct.pack("!I", 5)
              + udp(A6, B6, 43000, 7000, b"y" * 40))
    add("UDP [A6]:43000 > [B6]:7000", fwd)
    add("its reply", rev)
    add("port unreachable B6 > A6 quoting A6 > B6", err6(B6, A6, 1, 4,
        quote6(fwd)))
    add("port unreachable A6 > B6 quoting B6 > A6", err6(A6, B6, 1, 4,
        quote6(rev)))
    add("no route (1/0) R6 > A6 quoting A6 > B6", err6(R6, A6, 1, 0,
        quote6(fwd)))
    add("admin prohibited (1/1) R6 > B6 quoting B6 > A6", err6(R6, B6, 1, 1,
        quote6(rev)))
    add("packet too big R6 > A6 quoting A6 > B6", err6(R6, A6, 2, 0,
        quote6(fwd), rest=struct.pack("!I", 1280)))
    add("packet too big R6 > B6 quoting B6 > A6", err6(R6, B6, 2, 0,
        quote6(rev), rest=struct.pack("!I", 1280)))
    add("time exceeded R6 > A6 quoting A6 > B6", err6(R6, A6, 3, 0,
        quote6(fwd)))
    add("time exceeded R6 > B6 quoting B6 > A6", err6(R6, B6, 3, 0,
        quote6(rev)))
    add("parameter problem R6 > A6 quoting A6 > B6", err6(R6, A6, 4, 0,
        quote6(fwd), rest=struct.pack("!I", 6)))
    add("parameter problem B6 > A6 quoting A6 > B6", err6(B6, A6, 4, 1,
        quote6(fwd), rest=struct.pack("!I", 40)))
    add("port unreachable B6 > A6 quoting A6 > B6 cut to 44 bytes",
        err6(B6, A6, 1, 4, quote6(fwd)[:44]))
    add("port unreachable B6 > A6 quoting A6 > B6 cut to 48 bytes",
        err6(B6, A6, 1, 4, quote6(fwd)[:48]))
    add("port unreachable B6 > A6 with a bad ICMPv6 checksum", v6(B6, A6, 58,
        icmp6(B6, A6, 1, 4, b"\0" * 4, quote6(fwd), bad=True)))
    add("port unreachable B6 > R6 quoting A6 > B6 (quoted source is not "
        "the destination)", err6(B6, R6, 1, 4, quote6(fwd)))
    add("port unreachable B6 > A6 quoting untracked [A6]:43001 > :7001",
        err6(B6, A6, 1, 4, quote6(lone)))
    add("TCP SYN [A6]:43002 > [C6]:443", syn)
    add("port unreachable C6 > A6 quoting the SYN", err6(C6, A6, 1, 4,
        quote6(syn)))
    add("ICMPv6 echo request A6 > B6 id 0x700", ping)
    add("no route R6 > A6 quoting the echo request", err6(R6, A6, 1, 0,
        quote6(ping)))
    add("port unreachable B6 > A6 quoting a first fragment of A6 > B6",
        err6(B6, A6, 1, 4, quote6(frag)))
    add("redirect (137) R6 > A6", v6(R6, A6, 58, icmp6(R6, A6, 137, 0,
        b"\0" * 4, addr(R6).packed + addr(B6).packed), hlim=255))
    add("[A6] > [B6] again (still established)", fwd)
    return out


def other_protos():
    out = []
    add = lambda d, f: out.append((d, f))
    vr = struct.pack("!BBBBBBH", 0x31, 5, 100, 1, 0, 100, 0) + addr(R).packed
    vr = vr[:6] + struct.pack("!H", csum(vr)) + vr[8:]
    gre = struct.pack("!HH", 0, 0x0800) + ipv4("172.16.0.1", "172.16.0.2",
                                              17, b"\0" * 16)
    sctp_init = struct.pack("!HHII", 5000, 36412, 0, 0) + bytes(20)
    add("VRRPv3 (112) A > 224.0.0.18", v4(A, "224.0.0.18", 112, vr, ttl=255))
    add("VRRPv3 again", v4(A, "224.0.0.18", 112, vr, ttl=255, ident=2))
    add("GRE (47) A > B", v4(A, B, 47, gre))
    add("GRE A > B again", v4(A, B, 47, gre, ident=2))
    add("GRE B > A", v4(B, A, 47, gre))
    add("GRE A > B after the reply", v4(A, B, 47, gre, ident=3))
    add("SCTP (132) A:5000 > B:36412 INIT (tracked without ports?)",
        v4(A, B, 132, sctp_init))
    add("SCTP B:36412 > A:5000", v4(B, A, 132,
        struct.pack("!HHII", 36412, 5000, 1, 0) + bytes(20)))
    add("SCTP A:5001 > B:36412 (other ports, same addresses)", v4(A, B, 132,
        struct.pack("!HHII", 5001, 36412, 0, 0) + bytes(20), ident=2))
    add("IGMPv2 report (2) A > 224.0.0.22", v4(A, "224.0.0.22", 2,
        icmp4(0x16, 0, addr("239.2.2.2").packed), ttl=1, frag=0))
    add("ESP (50) A > B", v4(A, B, 50, struct.pack("!II", 0x1000, 1)
                                      + bytes(24)))
    add("ESP B > A", v4(B, A, 50, struct.pack("!II", 0x2000, 1) + bytes(24)))
    add("OSPF (89) A > 224.0.0.5", v4(A, "224.0.0.5", 89, bytes(24), ttl=1))
    add("UDP-Lite (136) A > B", v4(A, B, 136, struct.pack("!HHHH", 1, 2, 8, 0)
                                   + bytes(8)))
    add("DCCP (33) A > B", v4(A, B, 33, bytes(16)))
    add("protocol 253 (experimentation) with no payload", v4(A, B, 253, b""))
    add("protocol 0 on IPv4 (HOPOPT number)", v4(A, C, 0, bytes(8)))
    add("IPv4 carrying protocol 58 (ICMPv6 echo request bytes)",
        v4(A, B, 58, icmp6(A6, B6, 128, 0, echo(1, 1), PING)))
    add("IPv4 carrying protocol 58, ICMPv6 echo reply bytes, B > A",
        v4(B, A, 58, icmp6(A6, B6, 129, 0, echo(1, 1), PING)))
    add("IPv4 carrying protocol 58, neighbour solicitation bytes", v4(A, C,
        58, icmp6(A6, C6, 135, 0, b"\0" * 4, addr(C6).packed)))
    add("IPv6 carrying protocol 1 (ICMPv4 echo request bytes)",
        v6(A6, B6, 1, icmp4(8, 0, echo(2, 1), PING)))
    add("IPv6 carrying protocol 1, echo reply bytes, B6 > A6",
        v6(B6, A6, 1, icmp4(0, 0, echo(2, 1), PING)))
    add("IPv6 carrying protocol 1, port unreachable bytes", v6(A6, C6, 1,
        icmp4(3, 3, b"\0" * 4, bytes(28))))
    add("IPv6 carrying protocol 1, timestamp reply bytes", v6(C6, A6, 1,
        icmp4(14, 0, echo(3, 1), bytes(12))))
    add("IPv6 GRE (47) A6 > B6", v6(A6, B6, 47, gre))
    add("IPv6 GRE B6 > A6", v6(B6, A6, 47, gre))
    add("IPv6 no next header (59)", v6(A6, B6, 59, b""))
    add("IPv6 ESP (50)", v6(A6, B6, 50, struct.pack("!II", 0x3000, 1)
                                       + bytes(24)))
    add("IPv6 SCTP (132)", v6(A6, B6, 132, sctp_init))
    add("IPv6 OSPFv3 (89) to ff02::5", v6(A6, "ff02::5", 89, bytes(16),
                                          hlim=1))
    add("VRRP from B (a second connection)", v4(B, "224.0.0.18", 112, vr,
                                                 ttl=255))
    return out


def fragments():
    out = []
    add = lambda d, f: out.append((d, f))
    big = udp(A, B, 44000, 8000, bytes(range(256)) * 6)       # 1544 bytes
    add("UDP A:44000 > B:8000 first fragment (MF, offset 0)",
        v4(A, B, 17, big[:1480], frag=0x2000, ident=100))
    add("last fragment (offset 1480)", v4(A, B, 17, big[1480:],
                                          frag=1480 // 8, ident=100))
    big2 = udp(A, B, 44001, 8000, bytes(3000))
    add("UDP A:44001 > B:8000 first of three fragments",
        v4(A, B, 17, big2[:1480], frag=0x2000, ident=101))
    add("middle fragment (MF, offset 1480)", v4(A, B, 17, big2[1480:2960],
                                                frag=0x2000 | 185,
                                                ident=101))
    add("last fragment (offset 2960)", v4(A, B, 17, big2[2960:],
                                          frag=370, ident=101))
    add("UDP A:44000 > B:8000 unfragmented (DF)", v4(A, B, 17,
        udp(A, B, 44000, 8000, b"small"), ident=102))
    add("same flow, neither DF nor MF, offset 0", v4(A, B, 17,
        udp(A, B, 44000, 8000, b"small"), frag=0, ident=103))
    add("same flow with the reserved flag bit set", v4(A, B, 17,
        udp(A, B, 44000, 8000, b"small"), frag=0xC000, ident=104))
    add("reply B:8000 > A:44000 as a first fragment", v4(B, A, 17,
        udp(B, A, 8000, 44000, bytes(100))[:64], frag=0x2000, ident=200))
    add("reply B:8000 > A:44000 unfragmented", v4(B, A, 17,
        udp(B, A, 8000, 44000, b"reply"), ident=201))
    ping = icmp4(8, 0, echo(0x800, 1), bytes(2000))
    add("echo request A > B first fragment", v4(A, B, 1, ping[:1480],
                                                frag=0x2000, ident=105))
    add("echo request last fragment", v4(A, B, 1, ping[1480:],
                                         frag=185, ident=105))
    add("GRE (47) A > B first fragment", v4(A, B, 47, bytes(64),
                                            frag=0x2000, ident=106))
    add("DF and MF both set, offset 0", v4(A, B, 17, udp(A, B, 44002, 8000,
                                                         b"odd"),
                                           frag=0x6000, ident=107))
    add("fragment with offset 8 bytes, no MF, carrying UDP-looking bytes",
        v4(A, B, 17, udp(A, B, 44003, 8000, b"tail"), frag=1, ident=108))
    b6 = udp(A6, B6, 44004, 8000, bytes(2000))
    add("IPv6 UDP first fragment (fragment header, M)", v6(A6, B6, 44,
        bytes([17, 0, 0, 1]) + struct.pack("!I", 300) + b6[:1448]))
    add("IPv6 last fragment (offset 1448)", v6(A6, B6, 44, bytes([17, 0])
        + struct.pack("!H", 1448) + struct.pack("!I", 300) + b6[1448:]))
    add("IPv6 atomic fragment (offset 0, no M) of UDP [A6]:44005",
        v6(A6, B6, 44, bytes([17, 0, 0, 0]) + struct.pack("!I", 301)
           + udp(A6, B6, 44005, 8000, b"atomic")))
    add("IPv6 fragment header with only the reserved bits set", v6(A6, B6,
        44, bytes([17, 0, 0, 6]) + struct.pack("!I", 302)
        + udp(A6, B6, 44006, 8000, b"res")))
    add("IPv6 hop-by-hop then a first fragment", v6(A6, B6, 0,
        ext(44) + bytes([17, 0, 0, 1]) + struct.pack("!I", 303)
        + b6[:1000]))
    return out


def vlan():
    out = []
    add = lambda d, f: out.append((d, f))
    q1 = [(0x8100, 100)]
    add("802.1Q VLAN 100: UDP A:45000 > B:9000", v4(A, B, 17,
        udp(A, B, 45000, 9000, b"tagged"), vlans=q1))
    add("802.1Q VLAN 100: reply", v4(B, A, 17,
        udp(B, A, 9000, 45000, b"tagged"), vlans=q1))
    add("same flow untagged (the VLAN is not part of the key)", v4(A, B, 17,
        udp(A, B, 45000, 9000, b"untagged"), ident=2))
    add("same flow on VLAN 200", v4(A, B, 17, udp(A, B, 45000, 9000, b"200"),
                                    ident=3, vlans=[(0x8100, 200)]))
    add("802.1Q priority 5, DEI set, VLAN 100: reply", v4(B, A, 17,
        udp(B, A, 9000, 45000, b"pcp"), vlans=[(0x8100, 0xB064)]))
    add("802.1Q priority tag (VLAN 0): echo request A > B", v4(A, B, 1,
        icmp4(8, 0, echo(0x900, 1), PING), vlans=[(0x8100, 0x2000)]))
    add("802.1Q VLAN 100: echo reply", v4(B, A, 1,
        icmp4(0, 0, echo(0x900, 1), PING), vlans=q1))
    add("802.1ad VLAN 300: IPv6 UDP [A6]:45001 > [B6]:9000", v6(A6, B6, 17,
        udp(A6, B6, 45001, 9000, b"s-tag"), vlans=[(0x88A8, 300)]))
    add("802.1Q VLAN 300: its reply", v6(B6, A6, 17,
        udp(B6, A6, 9000, 45001, b"c-tag"), vlans=[(0x8100, 300)]))
    add("802.1ad 10 + 802.1Q 20 (QinQ): UDP A:45002 > B:9000",
        v4(A, B, 17, udp(A, B, 45002, 9000, b"qinq"),
           vlans=[(0x88A8, 10), (0x8100, 20)]))
    add("802.1Q 10 + 802.1Q 20: UDP A:45003 > B:9000", v4(A, B, 17,
        udp(A, B, 45003, 9000, b"double"),
        vlans=[(0x8100, 10), (0x8100, 20)]))
    add("QinQ reply B:9000 > A:45002", v4(B, A, 17,
        udp(B, A, 9000, 45002, b"qinq"), vlans=[(0x88A8, 10), (0x8100, 20)]))
    add("untagged UDP A:45002 > B:9000 (after the QinQ one)", v4(A, B, 17,
        udp(A, B, 45002, 9000, b"plain")))
    add("802.1Q VLAN 100 with a bad IPv4 header checksum", v4(A, B, 17,
        udp(A, B, 45000, 9000, b"bad"), vlans=q1, bad_csum=True))
    add("802.1Q VLAN 100: TCP SYN A:45004 > C:80", v4(A, C, 6,
        tcp(A, C, 45004, 80, 77, 0, 0x02), vlans=q1))
    add("802.1Q VLAN 100: ARP request (not IP)", eth(A, "255.255.255.255",
        0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, host_mac(A),
                            addr(A).packed, bytes(6), addr(B).packed),
        vlans=q1))
    add("802.1Q tag with nothing after its ethertype", eth(A, B, 0x0800, b"",
                                                           vlans=q1))
    return out


def ipv6_ext():
    out = []
    add = lambda d, f: out.append((d, f))
    seg = udp(A6, B6, 46000, 5353, b"hbh+dst")
    add("UDP [A6]:46000 > [B6]:5353 behind hop-by-hop + destination "
        "options", v6(A6, B6, 0, ext(60) + ext(17) + seg))
    add("its reply, no extension header", v6(B6, A6, 17,
        udp(B6, A6, 5353, 46000, b"plain")))
    add("reply behind destination options only", v6(B6, A6, 60,
        ext(17) + udp(B6, A6, 5353, 46000, b"dst")))
    add("A6 > B6 behind a 16-byte hop-by-hop header", v6(A6, B6, 0,
        ext(17, 1) + seg))
    add("A6 > B6 behind destination options, hop-by-hop", v6(A6, B6, 60,
        ext(0) + ext(17) + seg))
    add("A6 > B6: hop-by-hop, destination options, routing (0 left), "
        "destination options", v6(A6, B6, 0, ext(60) + ext(43)
                                  + bytes([60, 2, 0, 0, 0, 0, 0, 0])
                                  + addr(B6).packed + ext(17) + seg))
    add("ICMPv6 echo request behind hop-by-hop + destination options",
        v6(A6, B6, 0, ext(60) + ext(58) + icmp6(A6, B6, 128, 0,
                                                echo(0xA00, 1), PING)))
    add("ICMPv6 echo reply behind destination options", v6(B6, A6, 60,
        ext(58) + icmp6(B6, A6, 129, 0, echo(0xA00, 1), PING)))
    add("TCP SYN [A6]:46001 > [C6]:80 behind hop-by-hop", v6(A6, C6, 0,
        ext(6) + tcp(A6, C6, 46001, 80, 9, 0, 0x02)))
    add("ESP (50) behind hop-by-hop", v6(A6, B6, 0, ext(50)
        + struct.pack("!II", 0x4000, 1) + bytes(16)))
    add("hop-by-hop then no next header (59)", v6(A6, B6, 0, ext(59)))
    add("hop-by-hop header cut short by the payload length", v6(A6, B6, 0,
        ext(17, 3)[:16]))
    add("destination options longer than the payload", v6(A6, B6, 60,
        bytes([17, 10]) + bytes(6) + seg))
    add("port unreachable B6 > A6 quoting the hop-by-hop + dst-opts "
        "datagram", err6(B6, A6, 1, 4, l3_of(out[0][1])))
    add("A6 > B6 again, plain", v6(A6, B6, 17, seg))
    return out


CAPTURES = [
    ("udp_flows", udp_flows),
    ("icmp_queries", icmp_queries),
    ("icmp_errors_v4", icmp_errors_v4),
    ("icmp_errors_v6", icmp_errors_v6),
    ("other_protos", other_protos),
    ("fragments", fragments),
    ("vlan", vlan),
    ("ipv6_ext", ipv6_ext),
]


def main():
    outdir = (sys.argv[1] if len(sys.argv) > 1 else
              os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, "data", "other"))
    pcaplib.write_captures(outdir, CAPTURES, T0)


if __name__ == "__main__":
    main()
