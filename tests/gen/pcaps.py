#!/usr/bin/env python3
"""Writes the test captures of tests/data/ (stdlib only, deterministic).

Run from anywhere: ``python3 tests/gen/pcaps.py [OUTDIR]``.  The same bytes
come out on every run: timestamps are fixed, nothing is random.  Every
checksum is correct except where a packet below says otherwise, so
``tcpdump -nr FILE -vv`` reports bad checksums only in bad.pcap.

Besides the captures the script writes ``expected.txt``: one line per
capture, ``NAME COUNT CODES``, where CODES has one letter per frame for
what ct_parse() must return: ``v`` valid, ``r`` valid with icmp_related,
``i`` invalid.  tests/c/test_packet.c checks it.  The table below is the
source of those letters: the script parses it and refuses to write
anything if the packets it builds do not match it line for line.

expected
========

  udp.pcap
    1  v  10.0.0.1:40000 > 10.0.0.2:53, DNS-like query
    2  v  10.0.0.2:53 > 10.0.0.1:40000, its reply
    3  v  10.0.0.1:40001 > 10.0.0.3:123, one-way flow
    4  v  10.0.0.1:40001 > 10.0.0.3:123, same flow again
    5  v  [fc00::1]:40002 > [fc00::2]:53, v6 query
    6  v  [fc00::2]:53 > [fc00::1]:40002, its reply
    7  v  10.0.0.4:1000 > 10.0.0.5:2000, UDP checksum 0 (not checked on v4)
    8  v  10.0.0.5:2000 > 10.0.0.4:1000, reply with a checksum
    9  v  802.1Q VLAN 100, 10.1.0.1:5000 > 10.1.0.2:5001
   10  v  802.1ad VLAN 200, [fc00::10]:5000 > [fc00::20]:5001
   11  v  v6 hop-by-hop + destination options, [fc00::1]:40003 > [fc00::2]:53
   12  v  v6 routing header (type 0, 0 left), [fc00::1]:40004 > [fc00::2]:53
   13  v  v6 atomic fragment header (offset 0, M 0), [fc00::1]:40005 > :53
   14  v  v6 AH header, [fc00::1]:40006 > [fc00::2]:53
   15  v  v4 with a router-alert option (ihl 6), 10.0.0.1:40007 > 10.0.0.2:53

  icmp.pcap
    1  v  echo request 10.0.0.1 > 10.0.0.2, id 0x1234
    2  v  echo reply 10.0.0.2 > 10.0.0.1, id 0x1234
    3  v  ICMPv6 echo request fc00::1 > fc00::2, id 7
    4  v  ICMPv6 echo reply fc00::2 > fc00::1, id 7
    5  v  UDP 10.0.0.1:5555 > 10.0.0.9:9999
    6  r  port unreachable 10.0.0.9 > 10.0.0.1 quoting 5
    7  v  unsolicited echo reply 10.0.0.7 > 10.0.0.1, id 99
    8  v  UDP [fc00::1]:6000 > [fc00::9]:8000
    9  r  ICMPv6 port unreachable fc00::9 > fc00::1 quoting 8
   10  r  time exceeded from router 10.0.0.254 > 10.0.0.1 quoting 5
   11  v  timestamp request 10.0.0.1 > 10.0.0.2, id 0x55
   12  v  timestamp reply 10.0.0.2 > 10.0.0.1, id 0x55
   13  r  host unreachable 10.0.0.254 > 10.0.0.1 quoting echo request 1
   14  r  ICMPv6 packet too big fc00::fe > fc00::1 quoting echo request 3
   15  i  echo request with code 1
   16  i  time exceeded quoting an ICMP error (packet 6)
   17  i  ICMPv6 neighbour solicitation (OVS: invalid)
   18  i  port unreachable whose quoted source is not the outer destination
   19  i  port unreachable quoting only 4 bytes of the UDP header
   20  i  router advertisement (type 9)

  other.pcap
    1  v  VRRP (112) 192.168.0.30 > 224.0.0.18
    2  v  VRRP (112) 192.168.0.30 > 224.0.0.18, next advertisement
    3  v  GRE (47) 10.0.0.1 > 10.0.0.2 carrying an echo request
    4  v  GRE (47) 10.0.0.2 > 10.0.0.1 carrying the echo reply
    5  v  IPv6 GRE (47) fc00::1 > fc00::2
    6  v  IPv6 carrying protocol 1 (ICMPv4): "other" for v6
    7  v  IGMPv2 report (2) 192.168.0.30 > 224.0.0.22

  bad.pcap
    1  i  bad IPv4 header checksum (UDP inside is fine)
    2  i  bad UDP checksum over IPv4
    3  i  bad TCP checksum (SYN)
    4  i  bad ICMP checksum (echo request)
    5  i  bad UDP checksum over IPv6
    6  i  UDP checksum 0 over IPv6
    7  i  UDP source port 0
    8  i  TCP destination port 0
    9  i  IPv4 first fragment (MF, offset 0)
   10  i  IPv4 non-first fragment (offset 1480)
   11  i  IPv6 first fragment (fragment header, M, offset 0)
   12  i  IPv6 last fragment (offset 1448)
   13  i  IPv4 total length beyond the frame
   14  i  IPv4 total length leaving 4 bytes of UDP header
   15  i  IPv4 ihl 4
   16  i  ARP request (not IP)
   17  i  TCP data offset 4
   18  i  UDP length beyond the IP payload
   19  i  two VLAN tags (OVS's default vlan-limit is 1)
   20  i  10-byte runt
   21  i  IPv6 payload length beyond the frame
   22  i  bad ICMPv6 checksum (echo request)
   23  i  IPv6 hop-by-hop header longer than the payload

  tcp.pcap
    1  v  SYN 10.0.0.1:45000 > 10.0.0.2:80, wscale 7, MSS, SACK, TS
    2  v  SYN-ACK, wscale 8
    3  v  ACK
    4  v  PSH|ACK, 100 bytes client > server
    5  v  ACK server > client
    6  v  PSH|ACK, 200 bytes server > client
    7  v  ACK client > server
    8  v  FIN|ACK client > server
    9  v  FIN|ACK server > client
   10  v  ACK client > server
   11  v  SYN [fc00::1]:45001 > [fc00::2]:443, no wscale option
   12  v  SYN-ACK
   13  v  ACK
   14  v  RST|ACK client > server

  mixed.pcapng (every block little-endian)
    1  v  section 1, EPB: udp.pcap 1
    2  v  EPB: udp.pcap 2
    3  v  SPB: icmp.pcap 1 (a name-resolution block follows, skipped)
    4  v  EPB with a comment option: icmp.pcap 2 (a statistics block
          follows, skipped)
    5  v  section 2 (its own interface block), EPB: other.pcap 1
    6  v  EPB: tcp.pcap 1
    7  i  EPB: bad.pcap 1

  mixed-be.pcapng (the same blocks, big-endian)
    1  v  udp.pcap 1
    2  v  udp.pcap 2
    3  v  icmp.pcap 1
    4  v  icmp.pcap 2
    5  v  other.pcap 1
    6  v  tcp.pcap 1
    7  i  bad.pcap 1

  (libpcap refuses sections of different byte orders in one file, so
  tcpdump can read both files; test_packet.c concatenates them to test
  that case.)

  sample.pcap
    1  v  DNS query 192.168.1.10:53001 > 192.168.1.1:53
    2  v  its reply
    3  v  echo request 192.168.1.10 > 192.168.1.20, id 0x4d2, seq 1
    4  v  echo reply
    5  v  VRRP 192.168.1.2 > 224.0.0.18
    6  v  DNS query 192.168.1.10:53002 > 192.168.1.1:53
    7  v  its reply
    8  v  DNS query [2001:db8::10]:53003 > [2001:db8::1]:53
    9  v  its reply
   10  v  echo request 192.168.1.10 > 192.168.1.20, seq 2
   11  v  echo reply
   12  v  ICMPv6 echo request 2001:db8::10 > 2001:db8::20, id 0x99
   13  v  ICMPv6 echo reply
   14  v  UDP 192.168.1.10:33434 > 192.168.1.30:33434
   15  r  port unreachable 192.168.1.30 > 192.168.1.10 quoting 14
   16  v  DNS query 192.168.1.10:53004 > 192.168.1.1:53
   17  v  its reply
   18  v  VRRP 192.168.1.2 > 224.0.0.18
   19  v  UDP 192.168.1.10:33435 > 10.20.30.40:33435 (TTL 1)
   20  r  time exceeded 192.168.1.1 > 192.168.1.10 quoting 19
   21  v  NTP 192.168.1.10:123 > 192.168.1.5:123
   22  v  its reply
   23  v  echo request 192.168.1.10 > 192.168.1.20, seq 3
   24  v  echo reply
   25  v  syslog 192.168.1.10:514 > 192.168.1.50:514, one way
   26  v  syslog again
   27  v  DNS query [2001:db8::10]:53005 > [2001:db8::1]:53
   28  v  its reply
   29  v  ICMPv6 echo request, seq 2
   30  v  ICMPv6 echo reply
   31  v  UDP [2001:db8::10]:50000 > [2001:db8::99]:7777
   32  r  ICMPv6 port unreachable 2001:db8::99 > 2001:db8::10 quoting 31
   33  v  DNS query 192.168.1.10:53006 > 192.168.1.1:53
   34  v  its reply
   35  v  VRRP 192.168.1.2 > 224.0.0.18
   36  v  DNS query 192.168.1.10:53007 > 192.168.1.1:53, no reply
   37  v  echo request 192.168.1.10 > 192.168.1.99, no reply
"""

import os
import re
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "lib"))

import framebuild as fb  # noqa: E402
import pcaplib  # noqa: E402
from framebuild import (  # noqa: E402
    addr, csum, echo, icmp4, icmp6, ipv4, ipv6, l3_of, quote4, tcp, udp)

TS_BASE = 1700000000            # Fixed capture start (seconds).


# Hosts.  The frames come from framebuild; only the MAC of a host is this
# file's own (its captures were first written with it): broadcast is
# ff:ff:ff:ff:ff:ff and an IPv6 host is 02 and the address's last five
# bytes (framebuild.host_mac takes four).

def mac_for(ip):
    a = addr(ip)
    if a == addr("255.255.255.255"):
        return b"\xff" * 6
    if a.version == 6 and not a.is_multicast:
        return b"\x02" + a.packed[-5:]
    return fb.host_mac(a)


def eth(src, dst, ethertype, payload, vlans=()):
    """A frame between the hosts of 'src' and 'dst', padded to 60 bytes."""
    return fb.eth(src, dst, ethertype, payload, vlans, mac=mac_for)


def v4(src, dst, proto, l4, **kw):
    return fb.v4(src, dst, proto, l4, mac=mac_for, **kw)


def v6(src, dst, nxt, l4, **kw):
    return fb.v6(src, dst, nxt, l4, mac=mac_for, **kw)


PING_DATA = bytes(range(0x10, 0x30))
TCP_OPTS_SYN = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02"
                + struct.pack("!BBII", 8, 10, 1000, 0) + b"\x01"
                + struct.pack("!BBB", 3, 3, 7))
TCP_OPTS_SYNACK = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02"
                   + struct.pack("!BBII", 8, 10, 2000, 1000) + b"\x01"
                   + struct.pack("!BBB", 3, 3, 8))


def dns_query(qid, name="example.com", qtype=1):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + b"\0"
            + struct.pack("!HH", qtype, 1))


def dns_reply(qid, name="example.com", qtype=1):
    query = dns_query(qid, name, qtype)
    rdata = (bytes([93, 184, 216, 34]) if qtype == 1
             else addr("2606:2800:220:1::1").packed)
    answer = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + query[12:]
            + answer)


def vrrp(vrid, prio, vip):
    body = struct.pack("!BBBBBBH", 0x21, vrid, prio, 1, 0, 1, 0) \
        + addr(vip).packed + b"\0" * 8
    return body[:6] + struct.pack("!H", csum(body)) + body[8:]


def gre(proto, payload):
    return struct.pack("!HH", 0, proto) + payload


# Captures.

def udp_pcap():
    a, b = "10.0.0.1", "10.0.0.2"
    s6, d6 = "fc00::1", "fc00::2"
    q = dns_query(0x1111)
    out = [
        ("v", v4(a, b, 17, udp(a, b, 40000, 53, q))),
        ("v", v4(b, a, 17, udp(b, a, 53, 40000, dns_reply(0x1111)))),
        ("v", v4(a, "10.0.0.3", 17,
                 udp(a, "10.0.0.3", 40001, 123, b"\x23" + b"\0" * 47))),
        ("v", v4(a, "10.0.0.3", 17,
                 udp(a, "10.0.0.3", 40001, 123, b"\x23" + b"\1" * 47),
                 ident=2)),
        ("v", v6(s6, d6, 17, udp(s6, d6, 40002, 53,
                                 dns_query(0x2222, qtype=28)))),
        ("v", v6(d6, s6, 17, udp(d6, s6, 53, 40002,
                                 dns_reply(0x2222, qtype=28)))),
        ("v", v4("10.0.0.4", "10.0.0.5", 17,
                 udp("10.0.0.4", "10.0.0.5", 1000, 2000, b"no checksum",
                     mode="zero"))),
        ("v", v4("10.0.0.5", "10.0.0.4", 17,
                 udp("10.0.0.5", "10.0.0.4", 2000, 1000, b"checksummed"))),
        ("v", v4("10.1.0.1", "10.1.0.2", 17,
                 udp("10.1.0.1", "10.1.0.2", 5000, 5001, b"tagged"),
                 vlans=[(0x8100, 100)])),
        ("v", v6("fc00::10", "fc00::20", 17,
                 udp("fc00::10", "fc00::20", 5000, 5001, b"qinq outer"),
                 vlans=[(0x88A8, 200)])),
    ]
    # Hop-by-hop (PadN to 8 bytes) then destination options (PadN).
    seg = udp(s6, d6, 40003, 53, q)
    ext = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([17, 0, 1, 4, 0, 0, 0, 0])
    out.append(("v", v6(s6, d6, 0, ext + seg)))
    # Type 0 routing header with nothing left to visit, listing the
    # header's destination, so every checksummer agrees on the
    # pseudo-header (OVS always uses the IPv6 header's destination).
    seg = udp(s6, d6, 40004, 53, q)
    ext = bytes([17, 2, 0, 0, 0, 0, 0, 0]) + addr(d6).packed
    out.append(("v", v6(s6, d6, 43, ext + seg)))
    # Atomic fragment: a fragment header saying offset 0, no more.
    seg = udp(s6, d6, 40005, 53, q)
    ext = bytes([17, 0, 0, 0]) + struct.pack("!I", 0xABCD)
    out.append(("v", v6(s6, d6, 44, ext + seg)))
    # AH with a 12-byte ICV: 24 bytes, length field 24 / 4 - 2 = 4.
    seg = udp(s6, d6, 40006, 53, q)
    ext = bytes([17, 4, 0, 0]) + struct.pack("!II", 0x100, 1) + b"\xAA" * 12
    out.append(("v", v6(s6, d6, 51, ext + seg)))
    # Router alert option: ihl 6.
    out.append(("v", v4(a, b, 17, udp(a, b, 40007, 53, q),
                        options=b"\x94\x04\x00\x00")))
    return out


def icmp_pcap():
    a, b, r = "10.0.0.1", "10.0.0.2", "10.0.0.254"
    s6, d6 = "fc00::1", "fc00::2"
    req = v4(a, b, 1, icmp4(8, 0, echo(0x1234, 1), PING_DATA))
    req6 = v6(s6, d6, 58, icmp6(s6, d6, 128, 0, echo(7, 1), PING_DATA))
    udp5 = v4(a, "10.0.0.9", 17, udp(a, "10.0.0.9", 5555, 9999, b"hello?"))
    udp8 = v6(s6, "fc00::9", 17, udp(s6, "fc00::9", 6000, 8000, b"hi6"))
    unreach = icmp4(3, 3, b"\0" * 4, quote4(udp5))
    unreach_pkt = v4("10.0.0.9", a, 1, unreach)
    out = [
        ("v", req),
        ("v", v4(b, a, 1, icmp4(0, 0, echo(0x1234, 1), PING_DATA))),
        ("v", req6),
        ("v", v6(d6, s6, 58, icmp6(d6, s6, 129, 0, echo(7, 1), PING_DATA))),
        ("v", udp5),
        ("r", unreach_pkt),
        ("v", v4("10.0.0.7", a, 1, icmp4(0, 0, echo(99, 1), PING_DATA))),
        ("v", udp8),
        ("r", v6("fc00::9", s6, 58,
                 icmp6("fc00::9", s6, 1, 4, b"\0" * 4, l3_of(udp8)))),
        ("r", v4(r, a, 1, icmp4(11, 0, b"\0" * 4, quote4(udp5)))),
        ("v", v4(a, b, 1, icmp4(13, 0, echo(0x55, 1),
                                struct.pack("!III", 1000, 0, 0)))),
        ("v", v4(b, a, 1, icmp4(14, 0, echo(0x55, 1),
                                struct.pack("!III", 1000, 1001, 1001)))),
        ("r", v4(r, a, 1, icmp4(3, 1, b"\0" * 4, quote4(req)))),
        ("r", v6("fc00::fe", s6, 58,
                 icmp6("fc00::fe", s6, 2, 0, struct.pack("!I", 1280),
                       l3_of(req6)))),
        ("i", v4(a, b, 1, icmp4(8, 1, echo(0x1234, 2), PING_DATA))),
        # The router got the unreachable (sent by 10.0.0.9 to 10.0.0.1)
        # and reports it back to its sender.
        ("i", v4(r, "10.0.0.9", 1,
                 icmp4(11, 0, b"\0" * 4, quote4(unreach_pkt)))),
        ("i", v6(s6, "ff02::1:ff00:2", 58,
                 icmp6(s6, "ff02::1:ff00:2", 135, 0, b"\0" * 4,
                       addr(d6).packed + b"\x01\x01" + mac_for(s6)),
                 hlim=255)),
        ("i", v4("10.0.0.9", "10.0.0.8", 1,
                 icmp4(3, 3, b"\0" * 4, quote4(udp5)))),
        ("i", v4("10.0.0.9", a, 1,
                 icmp4(3, 3, b"\0" * 4, quote4(udp5)[:24]))),
        ("i", v4(r, "255.255.255.255", 1,
                 icmp4(9, 0, struct.pack("!BBH", 1, 2, 1800),
                       addr(r).packed + struct.pack("!I", 0)))),
    ]
    return out


def other_pcap():
    a, b = "10.0.0.1", "10.0.0.2"
    inner_req = ipv4("172.16.0.1", "172.16.0.2", 1,
                     icmp4(8, 0, echo(1, 1), PING_DATA))
    inner_rep = ipv4("172.16.0.2", "172.16.0.1", 1,
                     icmp4(0, 0, echo(1, 1), PING_DATA))
    inner6 = ipv6("fd00::1", "fd00::2", 59, b"")
    return [
        ("v", v4("192.168.0.30", "224.0.0.18", 112,
                 vrrp(1, 100, "192.168.0.1"), ttl=255, frag=0)),
        ("v", v4("192.168.0.30", "224.0.0.18", 112,
                 vrrp(1, 100, "192.168.0.1"), ttl=255, frag=0, ident=2)),
        ("v", v4(a, b, 47, gre(0x0800, inner_req))),
        ("v", v4(b, a, 47, gre(0x0800, inner_rep))),
        ("v", v6("fc00::1", "fc00::2", 47, gre(0x86DD, inner6))),
        ("v", v6("fc00::1", "fc00::2", 1,
                 icmp4(8, 0, echo(5, 1), PING_DATA))),
        ("v", v4("192.168.0.30", "224.0.0.22", 2,
                 icmp4(0x16, 0, addr("239.1.1.1").packed), ttl=1, frag=0)),
    ]


def bad_pcap():
    a, b = "10.0.0.1", "10.0.0.2"
    s6, d6 = "fc00::1", "fc00::2"
    payload = b"x" * 32
    udp_ok = udp(a, b, 1234, 5678, payload)
    big = udp(a, b, 1234, 5678, b"y" * 2000)
    big6 = udp(s6, d6, 1234, 5678, b"y" * 2000)
    full = v4(a, b, 17, udp_ok)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac_for(a),
                      addr(a).packed, b"\0" * 6, addr(b).packed)
    qinq = eth(a, b, 0x0800, ipv4(a, b, 17, udp_ok),
               vlans=[(0x88A8, 10), (0x8100, 20)])
    return [
        ("i", v4(a, b, 17, udp_ok, bad_csum=True)),
        ("i", v4(a, b, 17, udp(a, b, 1234, 5678, payload, mode="bad"))),
        ("i", v4(a, b, 6, tcp(a, b, 1234, 80, 1, 0, 0x02, bad=True))),
        ("i", v4(a, b, 1, icmp4(8, 0, echo(1, 1), PING_DATA, bad=True))),
        ("i", v6(s6, d6, 17, udp(s6, d6, 1234, 5678, payload, mode="bad"))),
        ("i", v6(s6, d6, 17, udp(s6, d6, 1234, 5678, payload, mode="zero"))),
        ("i", v4(a, b, 17, udp(a, b, 0, 5678, payload))),
        ("i", v4(a, b, 6, tcp(a, b, 1234, 0, 1, 0, 0x02))),
        ("i", v4(a, b, 17, big[:1480], frag=0x2000, ident=7)),
        ("i", v4(a, b, 17, big[1480:], frag=1480 // 8, ident=7)),
        ("i", v6(s6, d6, 44, bytes([17, 0, 0, 1]) + struct.pack("!I", 9)
                 + big6[:1448])),
        ("i", v6(s6, d6, 44, bytes([17, 0]) + struct.pack("!H", 1448)
                 + struct.pack("!I", 9) + big6[1448:])),
        ("i", full[:len(full) - 10]),
        ("i", v4(a, b, 17, udp_ok, tot_len=24)),
        ("i", v4(a, b, 17, udp_ok, ihl=4)),
        ("i", eth(a, "255.255.255.255", 0x0806, arp)),
        ("i", v4(a, b, 6, tcp(a, b, 1234, 80, 1, 0, 0x02, doff=4))),
        ("i", v4(a, b, 17, udp(a, b, 1234, 5678, payload, length=200))),
        ("i", qinq),
        ("i", full[:10]),
        ("i", v6(s6, d6, 17, udp(s6, d6, 1234, 5678, payload), plen=400)),
        ("i", v6(s6, d6, 58, icmp6(s6, d6, 128, 0, echo(1, 1), PING_DATA,
                                   bad=True))),
        ("i", v6(s6, d6, 0, bytes([17, 10, 1, 4, 0, 0, 0, 0])
                 + udp(s6, d6, 1234, 5678, payload))),
    ]


def tcp_pcap():
    a, b = "10.0.0.1", "10.0.0.2"
    c, s = 45000, 80
    ci, si = 1000, 5000          # Initial sequence numbers.

    def fwd(seq, ack, flags, **kw):
        return ("v", v4(a, b, 6, tcp(a, b, c, s, seq, ack, flags, **kw)))

    def rev(seq, ack, flags, **kw):
        return ("v", v4(b, a, 6, tcp(b, a, s, c, seq, ack, flags, **kw)))

    out = [
        fwd(ci, 0, 0x02, win=64240, opts=TCP_OPTS_SYN),
        rev(si, ci + 1, 0x12, win=65160, opts=TCP_OPTS_SYNACK),
        fwd(ci + 1, si + 1, 0x10, win=502),
        fwd(ci + 1, si + 1, 0x18, win=502, data=b"G" * 100),
        rev(si + 1, ci + 101, 0x10, win=509),
        rev(si + 1, ci + 101, 0x18, win=509, data=b"H" * 200),
        fwd(ci + 101, si + 201, 0x10, win=501),
        fwd(ci + 101, si + 201, 0x11, win=501),
        rev(si + 201, ci + 102, 0x11, win=509),
        fwd(ci + 102, si + 202, 0x10, win=501),
    ]
    s6, d6 = "fc00::1", "fc00::2"
    mss = struct.pack("!BBH", 2, 4, 1440)
    out += [
        ("v", v6(s6, d6, 6, tcp(s6, d6, 45001, 443, 7000, 0, 0x02,
                                win=64800, opts=mss))),
        ("v", v6(d6, s6, 6, tcp(d6, s6, 443, 45001, 9000, 7001, 0x12,
                                win=64800, opts=mss))),
        ("v", v6(s6, d6, 6, tcp(s6, d6, 45001, 443, 7001, 9001, 0x10,
                                win=64800))),
        ("v", v6(s6, d6, 6, tcp(s6, d6, 45001, 443, 7001, 9001, 0x14,
                                win=0))),
    ]
    return out


def sample_pcap():
    cl, gw, peer = "192.168.1.10", "192.168.1.1", "192.168.1.20"
    c6, r6, p6 = "2001:db8::10", "2001:db8::1", "2001:db8::20"
    out = []

    def dns(sport, qid):
        out.append(("v", v4(cl, gw, 17, udp(cl, gw, sport, 53,
                                            dns_query(qid)))))
        out.append(("v", v4(gw, cl, 17, udp(gw, cl, 53, sport,
                                            dns_reply(qid)))))

    def dns6(sport, qid):
        out.append(("v", v6(c6, r6, 17, udp(c6, r6, sport, 53,
                                            dns_query(qid, qtype=28)))))
        out.append(("v", v6(r6, c6, 17, udp(r6, c6, 53, sport,
                                            dns_reply(qid, qtype=28)))))

    def ping(seq):
        out.append(("v", v4(cl, peer, 1, icmp4(8, 0, echo(0x4D2, seq),
                                               PING_DATA), ident=seq)))
        out.append(("v", v4(peer, cl, 1, icmp4(0, 0, echo(0x4D2, seq),
                                               PING_DATA), ident=seq)))

    def ping6(seq):
        out.append(("v", v6(c6, p6, 58, icmp6(c6, p6, 128, 0,
                                              echo(0x99, seq), PING_DATA))))
        out.append(("v", v6(p6, c6, 58, icmp6(p6, c6, 129, 0,
                                              echo(0x99, seq), PING_DATA))))

    def vrrp_adv(n):
        out.append(("v", v4("192.168.1.2", "224.0.0.18", 112,
                            vrrp(10, 200, gw), ttl=255, frag=0, ident=n)))

    dns(53001, 0xA001)
    ping(1)
    vrrp_adv(1)
    dns(53002, 0xA002)
    dns6(53003, 0xA003)
    ping(2)
    ping6(1)
    probe = v4(cl, "192.168.1.30", 17,
               udp(cl, "192.168.1.30", 33434, 33434, b"\0" * 24))
    out.append(("v", probe))
    out.append(("r", v4("192.168.1.30", cl, 1,
                        icmp4(3, 3, b"\0" * 4, l3_of(probe)))))
    dns(53004, 0xA004)
    vrrp_adv(2)
    probe = v4(cl, "10.20.30.40", 17,
               udp(cl, "10.20.30.40", 33435, 33435, b"\0" * 24), ttl=1)
    out.append(("v", probe))
    out.append(("r", v4(gw, cl, 1, icmp4(11, 0, b"\0" * 4, quote4(probe)),
                        tos=0xC0)))
    ntp = b"\x23\x02\x06\xe9" + b"\0" * 44
    out.append(("v", v4(cl, "192.168.1.5", 17,
                        udp(cl, "192.168.1.5", 123, 123, ntp))))
    out.append(("v", v4("192.168.1.5", cl, 17,
                        udp("192.168.1.5", cl, 123, 123,
                            b"\x24" + ntp[1:]))))
    ping(3)
    for n in range(2):
        msg = b"<13>Nov 14 22:13:20 host app: message %d" % n
        out.append(("v", v4(cl, "192.168.1.50", 17,
                            udp(cl, "192.168.1.50", 514, 514, msg))))
    dns6(53005, 0xA005)
    ping6(2)
    probe = v6(c6, "2001:db8::99", 17,
               udp(c6, "2001:db8::99", 50000, 7777, b"anyone?"))
    out.append(("v", probe))
    out.append(("r", v6("2001:db8::99", c6, 58,
                        icmp6("2001:db8::99", c6, 1, 4, b"\0" * 4,
                              l3_of(probe)))))
    dns(53006, 0xA006)
    vrrp_adv(3)
    out.append(("v", v4(cl, gw, 17, udp(cl, gw, 53007, 53,
                                        dns_query(0xA007)))))
    out.append(("v", v4(cl, "192.168.1.99", 1,
                        icmp4(8, 0, echo(0x4D3, 1), PING_DATA))))
    return out


# Writers.

def timestamps(n):
    """(seconds, microseconds) of frame i: 1 ms apart."""
    return [(TS_BASE + i // 1000, (i % 1000) * 1000) for i in range(n)]


def pcap_bytes(frames):
    return pcaplib.pcap_bytes(frames, timestamps(len(frames)))


def pad4(data):
    return data + b"\0" * (-len(data) % 4)


def ng_block(order, btype, body):
    length = 12 + len(body)
    return (struct.pack(order + "II", btype, length) + body
            + struct.pack(order + "I", length))


def ng_option(order, code, value):
    return struct.pack(order + "HH", code, len(value)) + pad4(value)


def ng_section(order, blocks):
    shb = struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    idb = (struct.pack(order + "HHI", 1, 0, 65535)
           + ng_option(order, 2, b"eth0") + ng_option(order, 0, b""))
    return (ng_block(order, 0x0A0D0D0A, shb) + ng_block(order, 1, idb)
            + b"".join(blocks))


def ng_epb(order, usec, frame, options=b""):
    body = struct.pack(order + "IIIII", 0, usec >> 32, usec & 0xFFFFFFFF,
                       len(frame), len(frame)) + pad4(frame) + options
    return ng_block(order, 6, body)


def mixed_pcapng(caps, order):
    """Two sections in byte order 'order', with blocks to skip."""
    t = TS_BASE * 1000000
    nrb = (struct.pack(order + "HH", 1, 12) + addr("10.0.0.2").packed
           + b"server\0\0" + struct.pack(order + "HH", 0, 0))
    isb = struct.pack(order + "IIII", 0, t >> 32, t & 0xFFFFFFFF, 0)
    comment = ng_option(order, 1, b"a comment") + ng_option(order, 0, b"")
    spb_frame = caps["icmp.pcap"][0][1]
    sec1 = ng_section(order, [
        ng_epb(order, t, caps["udp.pcap"][0][1]),
        ng_epb(order, t + 1000, caps["udp.pcap"][1][1]),
        ng_block(order, 3, struct.pack(order + "I", len(spb_frame))
                 + pad4(spb_frame)),
        ng_block(order, 4, nrb),
        ng_epb(order, t + 3000, caps["icmp.pcap"][1][1], comment),
        ng_block(order, 5, isb),
    ])
    sec2 = ng_section(order, [
        ng_epb(order, t + 4000, caps["other.pcap"][0][1]),
        ng_epb(order, t + 5000, caps["tcp.pcap"][0][1]),
        ng_epb(order, t + 6000, caps["bad.pcap"][0][1]),
    ])
    codes = [caps["udp.pcap"][0][0], caps["udp.pcap"][1][0],
             caps["icmp.pcap"][0][0], caps["icmp.pcap"][1][0],
             caps["other.pcap"][0][0], caps["tcp.pcap"][0][0],
             caps["bad.pcap"][0][0]]
    return sec1 + sec2, codes


def documented():
    """{file: [codes]} from the table in the docstring."""
    table, current = {}, None
    for line in __doc__.split("\n"):
        m = re.match(r"^  (\S+\.pcap(?:ng)?)( \(.*\))?$", line)
        if m:
            current = table.setdefault(m.group(1), [])
            continue
        m = re.match(r"^ +(\d+)  ([vri])  ", line)
        if m and current is not None:
            if int(m.group(1)) != len(current) + 1:
                raise SystemExit("docstring numbering broken at: " + line)
            current.append(m.group(2))
    return table


def main():
    outdir = (sys.argv[1] if len(sys.argv) > 1
              else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "data"))
    caps = {
        "udp.pcap": udp_pcap(),
        "icmp.pcap": icmp_pcap(),
        "other.pcap": other_pcap(),
        "bad.pcap": bad_pcap(),
        "tcp.pcap": tcp_pcap(),
        "sample.pcap": sample_pcap(),
    }
    files = {name: (pcap_bytes([f for _, f in pkts]),
                    [c for c, _ in pkts]) for name, pkts in caps.items()}
    files["mixed.pcapng"] = mixed_pcapng(caps, "<")
    files["mixed-be.pcapng"] = mixed_pcapng(caps, ">")

    doc = documented()
    for name, (_, codes) in files.items():
        if doc.get(name) != codes:
            raise SystemExit("%s: built %s but the docstring says %s"
                             % (name, "".join(codes),
                                "".join(doc.get(name, []))))
    if set(doc) != set(files):
        raise SystemExit("docstring lists other files: %s" % sorted(doc))

    os.makedirs(outdir, exist_ok=True)
    order = ["udp.pcap", "icmp.pcap", "other.pcap", "bad.pcap", "tcp.pcap",
             "mixed.pcapng", "mixed-be.pcapng", "sample.pcap"]
    lines = []
    for name in order:
        data, codes = files[name]
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        lines.append("%s %d %s\n" % (name, len(codes), "".join(codes)))
    with open(os.path.join(outdir, "expected.txt"), "w") as f:
        f.write("# NAME FRAMES CODES (v valid, r related, i invalid); "
                "written by tests/gen/pcaps.py\n")
        f.writelines(lines)


if __name__ == "__main__":
    main()
