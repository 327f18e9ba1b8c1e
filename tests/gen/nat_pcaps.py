#!/usr/bin/env python3
"""Writes the NAT test captures of tests/data/nat/ (stdlib only,
deterministic) and offers the frame builders to tests/test_nat.py.

Run from anywhere: ``python3 tests/gen/nat_pcaps.py [OUTDIR]``.  The same
bytes come out on every run (fixed timestamps, nothing random) and every
checksum is correct, so ``tcpdump -vvnr FILE`` reports none as bad.

A reply in a capture is addressed as a real server would address it: to
the *translated* address and port.  The actions below are chosen so that
the translation is predictable: an address-only SNAT keeps the source port
(OVS tries the packet's own port first, then the next ones), a single
address with a single port leaves no choice.  Captures whose translation the
engine chooses (ranges) are built by the tests themselves, after running
the forward packets through the engine.

captures (ACTION; then one line per frame)
==========================================

  udp_snat.pcap       ct(commit,nat(src=10.1.1.240))
    1  10.1.1.1:2000 > 10.1.1.2:53
    2  10.1.1.2:53 > 10.1.1.240:2000, reply to 1
    3  10.1.1.1:2001 > 10.1.1.2:53
    4  10.1.1.2:53 > 10.1.1.240:2001, reply to 3
    5  10.1.1.1:2000 > 10.1.1.2:53, flow 1 again
    6  10.1.1.3:2000 > 10.1.1.2:53: 10.1.1.240:2000 and :2001 are taken,
       so the engine takes the next port, 2002
    7  10.1.1.2:53 > 10.1.1.240:2002, reply to 6

  udp_snat_port.pcap  ct(commit,nat(src=10.1.1.240:3000))
    1  10.1.1.1:2000 > 10.1.1.2:53
    2  10.1.1.2:53 > 10.1.1.240:3000, reply to 1
    3  10.1.1.3:2001 > 10.1.1.2:53: the only tuple is taken (exhaustion)
    4  10.1.1.1:2000 > 10.1.1.2:5353: another reply tuple, same port
    5  10.1.1.2:5353 > 10.1.1.240:3000, reply to 4

  udp_dnat.pcap       ct(commit,nat(dst=10.3.0.2:8080))
    1  10.3.0.1:3333 > 10.3.0.64:53
    2  10.3.0.2:8080 > 10.3.0.1:3333, reply to 1

  udp_dnat_addr.pcap  ct(commit,nat(dst=10.3.0.2))
    1  10.3.0.1:3334 > 10.3.0.64:53
    2  10.3.0.2:53 > 10.3.0.1:3334, reply to 1

  tcp_snat.pcap       ct(commit,nat(src=10.1.1.240))
    1  SYN 10.1.1.5:4000 > 10.1.1.2:80
    2  SYN|ACK 10.1.1.2:80 > 10.1.1.240:4000
    3  ACK
    4  PSH|ACK, 20 bytes client > server
    5  ACK server > client

  icmp_snat.pcap      ct(commit,nat(src=10.1.1.240))
    1  echo request 10.1.1.1 > 10.1.1.2, id 0x1234
    2  echo reply 10.1.1.2 > 10.1.1.240, id 0x1234
    3  echo request 10.1.1.1 > 10.1.1.2, id 0x1234, seq 2

  icmp_err_snat.pcap  ct(commit,nat(src=10.1.1.240))
    1  UDP 10.1.1.1:5555 > 10.1.1.9:9999
    2  port unreachable 10.1.1.9 > 10.1.1.240 quoting
       10.1.1.240:5555 > 10.1.1.9:9999 (the packet as the server saw it)
    3  time exceeded from router 10.1.1.254 > 10.1.1.240 quoting the same

  udp6_snat.pcap      ct(commit,nat(src=fc00::100))
    1  [fc00::1]:4000 > [fc00::2]:53
    2  [fc00::2]:53 > [fc00::100]:4000, reply to 1
    3  ICMPv6 echo request fc00::1 > fc00::2, id 7
    4  ICMPv6 echo reply fc00::2 > fc00::100, id 7
    5  [fc00::1]:4001 > [fc00::9]:9999
    6  ICMPv6 port unreachable fc00::9 > fc00::100 quoting
       [fc00::100]:4001 > [fc00::9]:9999
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "lib"))

import framebuild as fb  # noqa: E402
import pcaplib  # noqa: E402
from framebuild import ETH_IP, ETH_IPV6, addr  # noqa: E402

TS_BASE = 1700000000            # Fixed capture start (seconds).
MAC_A = bytes.fromhex("505400000001")
MAC_B = bytes.fromhex("505400000002")
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = (fb.FIN, fb.SYN, fb.RST,
                                               fb.PSH, fb.ACK)


# ---------------------------------------------------------------------------
# Frames (framebuild), as these captures and tests/test_nat.py use them: no
# DF, MAC_A -> MAC_B one way and MAC_B -> MAC_A for replies, no padding.

def ip(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64,
       ident: int = 1) -> bytes:
    """An IPv4 (no options) or IPv6 (no extension headers) packet."""
    if addr(src).version == 4:
        return fb.ipv4(src, dst, proto, payload, ident=ident, frag=0,
                       ttl=ttl)
    return fb.ipv6(src, dst, proto, payload, hlim=ttl)


def eth(packet: bytes, reply: bool = False) -> bytes:
    ethertype = ETH_IPV6 if packet[0] >> 4 == 6 else ETH_IP
    if reply:
        return fb.ether(MAC_A, MAC_B, ethertype, packet)
    return fb.ether(MAC_B, MAC_A, ethertype, packet)


def udp_seg(src: str, dst: str, sport: int, dport: int,
            payload: bytes = b"query") -> bytes:
    return fb.udp(src, dst, sport, dport, payload)


def udp(src: str, dst: str, sport: int, dport: int,
        payload: bytes = b"query", reply: bool = False) -> bytes:
    return eth(ip(src, dst, 17, udp_seg(src, dst, sport, dport, payload)),
               reply)


def tcp(src: str, dst: str, sport: int, dport: int, flags: int, seq: int,
        ack: int = 0, payload: bytes = b"", window: int = 65535,
        reply: bool = False) -> bytes:
    return eth(ip(src, dst, 6, fb.tcp(src, dst, sport, dport, seq, ack,
                                      flags, window, data=payload)), reply)


def _icmp_msg(src: str, dst: str, typ: int, code: int, rest: bytes,
              body: bytes) -> bytes:
    if addr(src).version == 6:
        return fb.icmp6(src, dst, typ, code, rest, body)
    return fb.icmp4(typ, code, rest, body)


def icmp_echo(src: str, dst: str, ident: int, seq: int = 1,
              request: bool = True, reply: bool = False) -> bytes:
    """ICMP or ICMPv6 echo request/reply, by the address family."""
    v6 = addr(src).version == 6
    typ = (128 if request else 129) if v6 else (8 if request else 0)
    msg = _icmp_msg(src, dst, typ, 0, fb.echo(ident, seq), b"ping-payload")
    return eth(ip(src, dst, 58 if v6 else 1, msg), reply)


def icmp_error(src: str, dst: str, typ: int, code: int, quoted: bytes,
               reply: bool = True) -> bytes:
    """An ICMP(v6) error from 'src' to 'dst' quoting 'quoted' (an IP
    packet, without Ethernet): IPv4 quotes the header + 8 bytes, IPv6 the
    whole packet."""
    v6 = addr(src).version == 6
    body = quoted if v6 else quoted[:(quoted[0] & 15) * 4 + 8]
    msg = _icmp_msg(src, dst, typ, code, bytes(4), body)
    return eth(ip(src, dst, 58 if v6 else 1, msg), reply)


def strip_eth(frame: bytes) -> bytes:
    return frame[14:]


# ---------------------------------------------------------------------------
# pcap.

def write_pcap(path: str, frames: list[bytes]) -> None:
    """Classic little-endian pcap, microsecond timestamps 1 ms apart."""
    with open(path, "wb") as f:
        f.write(pcaplib.pcap_bytes(frames,
                                   [(TS_BASE, i * 1000)
                                    for i in range(len(frames))]))


# ---------------------------------------------------------------------------
# The captures (see the table in the docstring).  Each builder gives the
# frames as captured, or with after=True as the engine must put them out
# once the capture's action has translated them (orig packets carry the
# translated tuple, replies the original one; untranslated packets are
# unchanged).  tests/test_nat.py compares the --write output with the
# latter byte for byte: incremental checksum updates must agree with these
# checksums computed from scratch.

def _udp_snat(after: bool = False) -> list[bytes]:
    c, c3, s, n = "10.1.1.1", "10.1.1.3", "10.1.1.2", "10.1.1.240"
    if not after:
        return [
            udp(c, s, 2000, 53),
            udp(s, n, 53, 2000, b"answer", reply=True),
            udp(c, s, 2001, 53),
            udp(s, n, 53, 2001, b"answer", reply=True),
            udp(c, s, 2000, 53, b"again"),
            udp(c3, s, 2000, 53),
            udp(s, n, 53, 2002, b"answer", reply=True),
        ]
    return [
        udp(n, s, 2000, 53),
        udp(s, c, 53, 2000, b"answer", reply=True),
        udp(n, s, 2001, 53),
        udp(s, c, 53, 2001, b"answer", reply=True),
        udp(n, s, 2000, 53, b"again"),
        udp(n, s, 2002, 53),
        udp(s, c3, 53, 2000, b"answer", reply=True),
    ]


def _udp_snat_port(after: bool = False) -> list[bytes]:
    c, c3, s, n = "10.1.1.1", "10.1.1.3", "10.1.1.2", "10.1.1.240"
    if not after:
        return [
            udp(c, s, 2000, 53),
            udp(s, n, 53, 3000, b"answer", reply=True),
            udp(c3, s, 2001, 53),
            udp(c, s, 2000, 5353),
            udp(s, n, 5353, 3000, b"answer", reply=True),
        ]
    return [
        udp(n, s, 3000, 53),
        udp(s, c, 53, 2000, b"answer", reply=True),
        udp(c3, s, 2001, 53),                   # exhausted: unchanged
        udp(n, s, 3000, 5353),
        udp(s, c, 5353, 2000, b"answer", reply=True),
    ]


def _udp_dnat(after: bool = False) -> list[bytes]:
    c, vip, srv = "10.3.0.1", "10.3.0.64", "10.3.0.2"
    if not after:
        return [
            udp(c, vip, 3333, 53),
            udp(srv, c, 8080, 3333, b"answer", reply=True),
        ]
    return [
        udp(c, srv, 3333, 8080),
        udp(vip, c, 53, 3333, b"answer", reply=True),
    ]


def _udp_dnat_addr(after: bool = False) -> list[bytes]:
    c, vip, srv = "10.3.0.1", "10.3.0.64", "10.3.0.2"
    return [
        udp(c, srv if after else vip, 3334, 53),
        udp(vip if after else srv, c, 53, 3334, b"answer", reply=True),
    ]


def _tcp_snat(after: bool = False) -> list[bytes]:
    c, s, n = "10.1.1.5", "10.1.1.2", "10.1.1.240"
    src, dst = (n, c) if after else (c, n)  # client's address out, back in
    cs, ss = 1000, 5000
    data = b"GET / HTTP/1.0\r\n\r\n\r\n"
    return [
        tcp(src, s, 4000, 80, TCP_SYN, cs),
        tcp(s, dst, 80, 4000, TCP_SYN | TCP_ACK, ss, cs + 1, reply=True),
        tcp(src, s, 4000, 80, TCP_ACK, cs + 1, ss + 1),
        tcp(src, s, 4000, 80, TCP_PSH | TCP_ACK, cs + 1, ss + 1, data),
        tcp(s, dst, 80, 4000, TCP_ACK, ss + 1, cs + 1 + len(data),
            reply=True),
    ]


def _icmp_snat(after: bool = False) -> list[bytes]:
    c, s, n = "10.1.1.1", "10.1.1.2", "10.1.1.240"
    src, dst = (n, c) if after else (c, n)
    return [
        icmp_echo(src, s, 0x1234, 1),
        icmp_echo(s, dst, 0x1234, 1, request=False, reply=True),
        icmp_echo(src, s, 0x1234, 2),
    ]


def _icmp_err_snat(after: bool = False) -> list[bytes]:
    c, s, n = "10.1.1.1", "10.1.1.9", "10.1.1.240"
    src, dst = (n, c) if after else (c, n)
    # The quote is the datagram as it reached the server (TTL one less);
    # translated back, it is the client's own datagram.
    quoted = ip(dst, s, 17, udp_seg(dst, s, 5555, 9999, b"probe"), ttl=63)
    return [
        udp(src, s, 5555, 9999, b"probe"),
        icmp_error(s, dst, 3, 3, quoted),
        icmp_error("10.1.1.254", dst, 11, 0, quoted),
    ]


def _udp6_snat(after: bool = False) -> list[bytes]:
    c, s, e, n = "fc00::1", "fc00::2", "fc00::9", "fc00::100"
    src, dst = (n, c) if after else (c, n)
    quoted = ip(dst, e, 17, udp_seg(dst, e, 4001, 9999, b"probe"))
    return [
        udp(src, s, 4000, 53),
        udp(s, dst, 53, 4000, b"answer", reply=True),
        icmp_echo(src, s, 7, 1),
        icmp_echo(s, dst, 7, 1, request=False, reply=True),
        udp(src, e, 4001, 9999, b"probe"),
        icmp_error(e, dst, 1, 4, quoted),
    ]


# name -> (action the capture is made for, builder)
CAPTURES = {
    "udp_snat": ("ct(commit,nat(src=10.1.1.240))", _udp_snat),
    "udp_snat_port": ("ct(commit,nat(src=10.1.1.240:3000))",
                      _udp_snat_port),
    "udp_dnat": ("ct(commit,nat(dst=10.3.0.2:8080))", _udp_dnat),
    "udp_dnat_addr": ("ct(commit,nat(dst=10.3.0.2))", _udp_dnat_addr),
    "tcp_snat": ("ct(commit,nat(src=10.1.1.240))", _tcp_snat),
    "icmp_snat": ("ct(commit,nat(src=10.1.1.240))", _icmp_snat),
    "icmp_err_snat": ("ct(commit,nat(src=10.1.1.240))", _icmp_err_snat),
    "udp6_snat": ("ct(commit,nat(src=fc00::100))", _udp6_snat),
}


def frames(name: str, after: bool = False) -> list[bytes]:
    """The frames of capture 'name'; with 'after', as NAT must leave
    them."""
    return CAPTURES[name][1](after)


def main(argv: list[str]) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = (argv[1] if len(argv) > 1
              else os.path.join(here, os.pardir, "data", "nat"))
    os.makedirs(outdir, exist_ok=True)
    for name in CAPTURES:
        write_pcap(os.path.join(outdir, name + ".pcap"), frames(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
