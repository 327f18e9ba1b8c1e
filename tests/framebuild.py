"""Ethernet frames built by hand for the tests, with correct checksums.

udp4/udp6/tcp4/icmp4 build one packet each; icmp4_error() wraps the IP
packet of another frame in an ICMP error, as a router or host sends it.
Stdlib only; addresses are text, ports and ids integers.
"""

import ipaddress
import struct

from pcaplib import csum as checksum

_ETH = bytes.fromhex("505400000002" "505400000001")


def _ip4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0,
                      64, proto, 0, ipaddress.IPv4Address(src).packed,
                      ipaddress.IPv4Address(dst).packed)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def _l4_csum4(src: str, dst: str, proto: int, l4: bytes, at: int) -> bytes:
    pseudo = (ipaddress.IPv4Address(src).packed
              + ipaddress.IPv4Address(dst).packed
              + struct.pack("!BBH", 0, proto, len(l4)))
    c = checksum(pseudo + l4) or 0xffff
    return l4[:at] + struct.pack("!H", c) + l4[at + 2:]


def ip4_packet(frame: bytes) -> bytes:
    """The IPv4 packet inside an Ethernet frame from this module."""
    return frame[14:]


def udp4(src: str, dst: str, sport: int, dport: int,
         payload: bytes = b"x") -> bytes:
    l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    l4 = _l4_csum4(src, dst, 17, l4, 6)
    return _ETH + b"\x08\x00" + _ip4(src, dst, 17, l4)


def tcp4(src: str, dst: str, sport: int, dport: int, flags: str,
         seq: int = 1000, ack: int = 0, payload: bytes = b"") -> bytes:
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32}
    f = sum(bits[c] for c in flags)
    l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, f,
                     65535, 0, 0) + payload
    l4 = _l4_csum4(src, dst, 6, l4, 16)
    return _ETH + b"\x08\x00" + _ip4(src, dst, 6, l4)


def icmp4(src: str, dst: str, icmp_type: int, ident: int,
          code: int = 0) -> bytes:
    l4 = struct.pack("!BBHHH", icmp_type, code, 0, ident, 1) + b"ping"
    l4 = l4[:2] + struct.pack("!H", checksum(l4)) + l4[4:]
    return _ETH + b"\x08\x00" + _ip4(src, dst, 1, l4)


def icmp4_error(src: str, dst: str, icmp_type: int, code: int,
                quoted_frame: bytes) -> bytes:
    """An ICMP error from 'src' to 'dst' quoting the IP header and the
    first 8 bytes of the payload of 'quoted_frame'."""
    quoted = ip4_packet(quoted_frame)[:28]
    l4 = struct.pack("!BBHI", icmp_type, code, 0, 0) + quoted
    l4 = l4[:2] + struct.pack("!H", checksum(l4)) + l4[4:]
    return _ETH + b"\x08\x00" + _ip4(src, dst, 1, l4)


def udp6(src: str, dst: str, sport: int, dport: int,
         payload: bytes = b"x") -> bytes:
    s6 = ipaddress.IPv6Address(src).packed
    d6 = ipaddress.IPv6Address(dst).packed
    l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = s6 + d6 + struct.pack("!IxxxB", len(l4), 17)
    l4 = l4[:6] + struct.pack("!H", checksum(pseudo + l4) or 0xffff) + l4[8:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(l4), 17, 64) + s6 + d6
    return _ETH + b"\x86\xdd" + ip6 + l4
