"""The one Python frame builder of the tests: Ethernet frames built by hand,
with correct checksums unless asked otherwise.  Stdlib only.

Every capture generator (tests/gen/*.py), the engine tests and the daemon
harness build their frames here; a generator keeps only what is its own
choice (addresses, the MAC of a host, timing).  Addresses are text
("10.0.0.1", "fc00::1") or packed bytes, ports and ids integers.

Layers, each returning bytes:

  csum, pseudo                 Internet checksum (RFC 1071), pseudo-header
  host_mac                     a stable MAC per IP address (multicast mapped)
  ether                        Ethernet II frame: MACs, VLAN tags, padding
  eth, v4, v6                  frames between the hosts of two IP addresses
  ipv4, ipv6                   IP packets (any header field can be forced)
  udp, tcp, icmp4, icmp6       transport segments and ICMP messages
  echo, l3_of, quote4, quote6  echo ids, the IP packet of a frame, what an
                               ICMP error quotes
  udp4, udp6, tcp4, icmp4_query, icmp4_error
                               whole frames in one call, for the tests that
                               build a few packets inline (fixed MACs)
  udp_flow_frames              'n' distinct one-packet UDP flows (big tables)
"""

import ipaddress
import struct

ETH_IP, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
IP_DF = 0x4000                  # IPv4 flags+offset field: don't fragment.
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = (0x01, 0x02, 0x04, 0x08, 0x10,
                                          0x20, 0x40, 0x80)
TCP_FLAG_LETTERS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK,
                    "U": URG}


# ---------------------------------------------------------------------------
# Checksums, addresses.

def csum(data: bytes) -> int:
    """Internet checksum (RFC 1071) of 'data'."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def addr(a):
    """An ipaddress object from text or packed bytes."""
    return ipaddress.ip_address(a)


def pseudo(src, dst, proto: int, length: int) -> bytes:
    """The IPv4 or IPv6 pseudo-header of a transport checksum."""
    s, d = addr(src), addr(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def host_mac(ip) -> bytes:
    """A stable MAC for the host of 'ip': the multicast MAC of a multicast
    address (RFC 1112 / RFC 2464), else 02:00 and the address's last four
    bytes (locally administered, unicast)."""
    a = addr(ip)
    if a.is_multicast:
        if a.version == 4:
            return b"\x01\x00\x5e" + bytes([a.packed[1] & 0x7F]) \
                + a.packed[2:]
        return b"\x33\x33" + a.packed[12:]
    return b"\x02\x00" + a.packed[-4:]


# ---------------------------------------------------------------------------
# Ethernet.

def ether(dst_mac: bytes, src_mac: bytes, ethertype: int, payload: bytes,
          vlans=(), pad: bool = False, trailer: bytes = b"") -> bytes:
    """An Ethernet II frame.  'vlans' is a list of (tpid, tci), outermost
    first; 'pad' pads the frame to 60 bytes as a NIC does; 'trailer' comes
    after the padding."""
    frame = dst_mac + src_mac
    for tpid, tci in vlans:
        frame += struct.pack("!HH", tpid, tci)
    frame += struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame + trailer


def eth(src, dst, ethertype: int, payload: bytes, vlans=(), pad=True,
        mac=host_mac, trailer: bytes = b"") -> bytes:
    """A frame from the host of IP 'src' to that of IP 'dst' ('mac' maps an
    address to its host's MAC), padded to 60 bytes unless 'pad' is
    false."""
    return ether(mac(dst), mac(src), ethertype, payload, vlans, pad,
                 trailer)


def v4(src, dst, proto: int, l4: bytes, vlans=(), mac=host_mac,
       **ip) -> bytes:
    """An IPv4 frame between the hosts of 'src' and 'dst'; 'ip' are
    ipv4() options."""
    return eth(src, dst, ETH_IP, ipv4(src, dst, proto, l4, **ip), vlans,
               mac=mac)


def v6(src, dst, nxt: int, l4: bytes, vlans=(), mac=host_mac,
       **ip) -> bytes:
    """An IPv6 frame between the hosts of 'src' and 'dst'; 'ip' are
    ipv6() options."""
    return eth(src, dst, ETH_IPV6, ipv6(src, dst, nxt, l4, **ip), vlans,
               mac=mac)


# ---------------------------------------------------------------------------
# IP.

def ipv4(src, dst, proto: int, payload: bytes, ident: int = 1,
         frag: int = IP_DF, ttl: int = 64, tos: int = 0,
         options: bytes = b"", tot_len=None, ihl=None,
         bad_csum: bool = False) -> bytes:
    """IPv4 header + payload.  'frag' is the flags+offset field (DF by
    default); 'tot_len' and 'ihl' override the computed values; 'bad_csum'
    flips two bits of the header checksum."""
    if ihl is None:
        ihl = 5 + len(options) // 4
    if tot_len is None:
        tot_len = 20 + len(options) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tot_len, ident, frag,
                      ttl, proto, 0, addr(src).packed, addr(dst).packed)
    hdr += options
    c = csum(hdr) ^ (0x0101 if bad_csum else 0)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv6(src, dst, nxt: int, payload: bytes, hlim: int = 64,
         plen=None) -> bytes:
    """IPv6 header + payload ('plen' overrides the payload length)."""
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB16s16s", 0x60000000, plen, nxt, hlim,
                       addr(src).packed, addr(dst).packed) + payload


# ---------------------------------------------------------------------------
# Transport.

def udp(src, dst, sport: int, dport: int, data: bytes, mode: str = "ok",
        length=None, trailer: bytes = b"") -> bytes:
    """A UDP datagram between IP 'src' and 'dst', then 'trailer' (bytes in
    the IP payload after the datagram).  'mode': ok (RFC 768 checksum over
    the datagram, 0 sent as 0xffff), zero (no checksum), bad (ok with two
    bits flipped), whole (checksum over the whole IP payload, trailer
    included, with that length in the pseudo-header).  'length' overrides
    the UDP length field."""
    if length is None:
        length = 8 + len(data)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    c = 0
    if mode == "whole":
        whole = seg + trailer
        c = csum(pseudo(src, dst, 17, len(whole)) + whole) or 0xFFFF
    elif mode != "zero":
        c = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
        if mode == "bad":
            c ^= 0x0101
    return seg[:6] + struct.pack("!H", c) + seg[8:] + trailer


def tcp(src, dst, sport: int, dport: int, seq: int, ack: int, flags: int,
        win: int = 65535, opts: bytes = b"", data: bytes = b"",
        bad: bool = False, doff=None) -> bytes:
    """A TCP segment between IP 'src' and 'dst' (seq and ack taken modulo
    2^32).  'doff' overrides the data offset; 'bad' flips two bits of the
    checksum."""
    if doff is None:
        doff = 5 + len(opts) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, doff << 4, flags, win, 0, 0)
    seg += opts + data
    c = csum(pseudo(src, dst, 6, len(seg)) + seg) ^ (0x0101 if bad else 0)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def icmp4(typ: int, code: int, rest: bytes, data: bytes = b"",
          bad: bool = False) -> bytes:
    """An ICMP message: type, code, the 4 bytes after the checksum
    ('rest'), then 'data'."""
    m = struct.pack("!BBH", typ, code, 0) + rest + data
    c = csum(m) ^ (0x0101 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def icmp6(src, dst, typ: int, code: int, rest: bytes, data: bytes = b"",
          bad: bool = False) -> bytes:
    """An ICMPv6 message between 'src' and 'dst' (its checksum covers the
    pseudo-header)."""
    m = struct.pack("!BBH", typ, code, 0) + rest + data
    c = csum(pseudo(src, dst, 58, len(m)) + m) ^ (0x0101 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def echo(ident: int, seq: int) -> bytes:
    """The id and sequence words of an echo (or timestamp) message."""
    return struct.pack("!HH", ident, seq)


# ---------------------------------------------------------------------------
# Taking frames apart (for ICMP errors).

def l3_of(frame: bytes) -> bytes:
    """The IP packet in an Ethernet frame (any VLAN tags skipped), without
    the padding."""
    off = 12
    while struct.unpack("!H", frame[off:off + 2])[0] in (0x8100, 0x88A8):
        off += 4
    et = struct.unpack("!H", frame[off:off + 2])[0]
    p = frame[off + 2:]
    if et == ETH_IP:
        return p[:struct.unpack("!H", p[2:4])[0]]
    return p[:40 + struct.unpack("!H", p[4:6])[0]]


def quote4(frame: bytes, l4: int = 8) -> bytes:
    """What an ICMPv4 error quotes (RFC 792): the IP header and 'l4'
    bytes of the payload."""
    p = l3_of(frame)
    return p[:(p[0] & 15) * 4 + l4]


def quote6(frame: bytes) -> bytes:
    """What an ICMPv6 error quotes (RFC 4443): as much as fits in 1280
    bytes."""
    return l3_of(frame)[:1232]


# ---------------------------------------------------------------------------
# Whole frames in one call, between two fixed MACs (52:54:00:00:00:01 ->
# 52:54:00:00:00:02), IPv4 without DF and with id 0.

_MAC_A, _MAC_B = bytes.fromhex("505400000001"), bytes.fromhex("505400000002")


def _quick4(src, dst, proto: int, l4: bytes) -> bytes:
    return ether(_MAC_B, _MAC_A, ETH_IP,
                 ipv4(src, dst, proto, l4, ident=0, frag=0))


def udp4(src, dst, sport: int, dport: int, payload: bytes = b"x") -> bytes:
    return _quick4(src, dst, 17, udp(src, dst, sport, dport, payload))


def udp6(src, dst, sport: int, dport: int, payload: bytes = b"x") -> bytes:
    return ether(_MAC_B, _MAC_A, ETH_IPV6,
                 ipv6(src, dst, 17, udp(src, dst, sport, dport, payload)))


def tcp4(src, dst, sport: int, dport: int, flags: str, seq: int = 1000,
         ack: int = 0, payload: bytes = b"", opts: bytes = b"") -> bytes:
    """'flags' as letters: "S", "SA", "FA", "R"...; 'opts' the TCP options
    (a multiple of 4 bytes)."""
    bits = sum(TCP_FLAG_LETTERS[c] for c in flags)
    return _quick4(src, dst, 6, tcp(src, dst, sport, dport, seq, ack, bits,
                                    opts=opts, data=payload))


def icmp4_query(src, dst, icmp_type: int, ident: int,
                code: int = 0) -> bytes:
    """An ICMP query (echo request 8, reply 0, ...) with seq 1."""
    return _quick4(src, dst, 1, icmp4(icmp_type, code, echo(ident, 1),
                                      b"ping"))


def icmp4_error(src, dst, icmp_type: int, code: int,
                quoted_frame: bytes) -> bytes:
    """An ICMP error from 'src' to 'dst' quoting the IP header and the
    first 8 bytes of the payload of 'quoted_frame'."""
    quoted = quoted_frame[14:][:28]
    return _quick4(src, dst, 1, icmp4(icmp_type, code, bytes(4), quoted))


# ---------------------------------------------------------------------------
# Big tables.

def udp_flow_frames(n: int, first: int = 0) -> list:
    """'n' one-packet UDP flows 10.x.y.z:P -> 10.200.0.1:5000 (x.y.z the
    flow number, P = 10000 + number % 50000), each a distinct connection;
    no UDP checksum, IPv4 id 0, no DF."""
    dst_mac, src_mac = bytes(5) + b"\x02", bytes(5) + b"\x01"
    dst = bytes([10, 200, 0, 1])
    frames = []
    for i in range(first, first + n):
        src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
        frames.append(ether(dst_mac, src_mac, ETH_IP, ipv4(
            src, dst, 17, udp(src, dst, 10000 + i % 50000, 5000, b"",
                              mode="zero"), ident=0, frag=0)))
    return frames
