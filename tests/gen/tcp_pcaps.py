#!/usr/bin/env python3
"""Writes the TCP tracker captures of tests/data/tcp/ (stdlib only,
deterministic).

Run from anywhere: ``python3 tests/gen/tcp_pcaps.py [OUTDIR]``.  The same
bytes come out on every run: timestamps are fixed, nothing is random.  Every
IPv4 header and TCP checksum is correct (OVS's conntrack checks both).

Each capture is an Ethernet pcap.  Besides them the script writes
``captures.txt``: for every capture, one line per packet, ``NAME INDEX
DESCRIPTION``, so that a test failure can say what the packet was.  The
per-packet ct_state that real OVS gives these captures lives beside them in
``NAME.ovs-states`` (made by ``tests/ovs_oracle/run_oracle.py tcp``; see
tests/data/tcp/README).

Conventions: the client is 10.0.1.1 (fc00::1:1 on IPv6), the server
10.0.1.2 (fc00::1:2), port 80; each connection of a capture has its own
client port.  Linux-like handshakes: MSS, SACK_PERM, timestamps and
window scale in SYN and SYN+ACK, scaled windows afterwards.
"""

import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "lib"))

import pcaplib  # noqa: E402
from framebuild import (  # noqa: E402
    ACK, CWR, ECE, ETH_IP, ETH_IPV6, FIN, PSH, RST, SYN, URG, ether,
    host_mac, ipv4, ipv6, tcp)

T0 = 1700000000          # capture start, seconds


def tcp_opts(mss=1460, sack=True, ts=None, wscale=None):
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sack:
        o += b"\x04\x02"
    if ts is not None:
        o += struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if wscale is not None:
        o += struct.pack("!BBBB", 1, 3, 3, wscale)
    while len(o) % 4:
        o += b"\x01"
    return o


def ts_opt(val, ecr):
    return struct.pack("!BBBBII", 1, 1, 8, 10, val, ecr)


def ip_frame(src, dst, l4, ident, trailer=b""):
    """The frame of TCP segment 'l4' from 'src' to 'dst' (IPv4 with DF and
    id 'ident', or IPv6), padded to 60 bytes, then 'trailer'."""
    if src.version == 4:
        packet, ethertype = ipv4(src, dst, 6, l4, ident=ident), ETH_IP
    else:
        packet, ethertype = ipv6(src, dst, 6, l4), ETH_IPV6
    return ether(host_mac(dst), host_mac(src), ethertype, packet, pad=True,
                 trailer=trailer)


class Conn:
    """One TCP connection: keeps each side's next sequence number so that
    packets get realistic seq/ack values unless a test overrides them."""

    def __init__(self, cap, cport, cisn, sisn, v6=False, sport=80,
                 cwscale=7, swscale=7):
        if v6:
            self.ip = {"c": ipaddress.ip_address("fc00::1:1"),
                       "s": ipaddress.ip_address("fc00::1:2")}
        else:
            self.ip = {"c": ipaddress.ip_address("10.0.1.1"),
                       "s": ipaddress.ip_address("10.0.1.2")}
        self.port = {"c": cport, "s": sport}
        self.nxt = {"c": cisn, "s": sisn}
        self.ws = {"c": cwscale, "s": swscale}
        self.cap = cap
        self.tsval = {"c": 1000 + cport, "s": 5000 + cport}

    def isn(self, side, value):
        self.nxt[side] = value

    def send(self, side, flags, data=b"", seq=None, ack=None, win=None,
             opts=None, advance=True, trailer=b"", desc=""):
        other = "s" if side == "c" else "c"
        if seq is None:
            seq = self.nxt[side]
        if ack is None:
            ack = self.nxt[other] if flags & ACK else 0
        self.tsval[side] += 7
        if opts is None:
            if flags & SYN:
                ecr = 0 if not flags & ACK else self.tsval[other]
                opts = tcp_opts(ts=(self.tsval[side], ecr),
                                wscale=self.ws[side])
            else:
                opts = ts_opt(self.tsval[side], self.tsval[other])
        if win is None:
            if flags & SYN:
                win = 64240 if side == "c" else 65160
            else:
                # 64 KiB expressed in the side's scale (Linux-like).
                ws = self.ws[side]
                win = 64240 if ws is None else max(1, 65536 >> min(ws, 14))
        seg = tcp(self.ip[side], self.ip[other], self.port[side],
                  self.port[other], seq, ack, flags, win, opts, data)
        frame = ip_frame(self.ip[side], self.ip[other], seg,
                         self.cap.ident(), trailer)
        self.cap.add(frame, side, self, flags, seq, ack, win, len(data),
                     desc)
        if advance:
            end = seq + len(data) + (1 if flags & SYN else 0) \
                + (1 if flags & FIN else 0)
            if ((end - self.nxt[side]) & 0xffffffff) < 0x80000000:
                self.nxt[side] = end & 0xffffffff
        return self

    def handshake(self, ecn=False):
        self.send("c", SYN | ((ECE | CWR) if ecn else 0), desc="SYN")
        self.send("s", SYN | ACK | (ECE if ecn else 0), desc="SYN+ACK")
        self.send("c", ACK, desc="ACK (handshake done)")
        return self

    def exchange(self, cbytes=120, sbytes=1448):
        self.send("c", PSH | ACK, b"C" * cbytes, desc="request data")
        self.send("s", ACK, desc="ACK of request")
        self.send("s", PSH | ACK, b"S" * sbytes, desc="response data")
        self.send("c", ACK, desc="ACK of response")
        return self


def flag_names(flags):
    names = [n for n, b in (("SYN", SYN), ("FIN", FIN), ("RST", RST),
                            ("PSH", PSH), ("ACK", ACK), ("URG", URG),
                            ("ECE", ECE), ("CWR", CWR)) if flags & b]
    return "+".join(names) or "none"


class Capture:
    def __init__(self, name):
        self.name = name
        self.frames = []
        self.lines = []
        self._ident = 0x100

    def ident(self):
        self._ident += 1
        return self._ident

    def conn(self, cport, cisn, sisn, **kw):
        return Conn(self, cport, cisn, sisn, **kw)

    def add(self, frame, side, conn, flags, seq, ack, win, dlen, desc):
        arrow = ("c%d>s" if side == "c" else "s>c%d") % conn.port["c"]
        v = "v6 " if conn.ip["c"].version == 6 else ""
        line = "%s%s %s seq=%u ack=%u win=%u len=%d" % (
            v, arrow, flag_names(flags), seq & 0xffffffff,
            ack & 0xffffffff, win, dlen)
        if desc:
            line += ": " + desc
        self.frames.append(frame)
        self.lines.append(line)

    def pcap(self):
        return pcaplib.pcap_bytes(self.frames,
                                  pcaplib.ms_stamps(T0, len(self.frames)))


CAPTURES = []


def capture(fn):
    CAPTURES.append(fn)
    return fn


# ---------------------------------------------------------------------------
# The captures.  Each function fills one Capture; its name is the file name.

@capture
def handshake_data_client_fin(cap):
    """Full handshake, data both ways, the client closes first."""
    c = cap.conn(40001, 0x1a2b3c4d, 0x9e8d7c6b).handshake().exchange()
    c.send("s", PSH | ACK, b"s" * 500, desc="more response data")
    c.send("c", ACK, desc="ACK")
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", ACK, desc="ACK of client FIN")
    c.send("s", FIN | ACK, desc="server FIN")
    c.send("c", ACK, desc="last ACK: both FIN_WAIT_2")
    c.send("c", ACK, advance=False, desc="duplicate last ACK after close")


@capture
def server_fin_first(cap):
    """The server closes first; the client sends more data half-closed."""
    c = cap.conn(40002, 0x00c0ffee, 0x7fff0000).handshake().exchange()
    c.send("s", FIN | ACK, desc="server FIN")
    c.send("c", ACK, desc="ACK of server FIN")
    c.send("c", PSH | ACK, b"late" * 50, desc="client data, half-closed")
    c.send("s", ACK, desc="server ACKs data")
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", ACK, desc="ACK of client FIN")


@capture
def simultaneous_close(cap):
    """Both FINs cross on the wire, then each side ACKs the other's."""
    c = cap.conn(40003, 0xdeadbeef, 0x12345678).handshake().exchange()
    cfin = c.nxt["c"]
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", FIN | ACK, ack=cfin,
           desc="server FIN, not yet acking client FIN")
    c.send("c", ACK, desc="client ACKs server FIN")
    c.send("s", ACK, desc="server ACKs client FIN")


@capture
def rst_in_window(cap):
    """RSTs whose sequence numbers the tracker accepts, and one it must not
    (in window but not exact), then a SYN reusing the reset tuple."""
    c = cap.conn(40004, 0x01020304, 0xa0b0c0d0).handshake().exchange()
    c.send("s", RST | ACK, desc="server RST+ACK, seq exact")
    c.send("c", PSH | ACK, b"x" * 10, desc="client data after RST")
    c.isn("c", 0x55667788)
    c.send("c", SYN, desc="new SYN on the reset tuple")
    c.send("s", SYN | ACK, desc="SYN+ACK")
    c.send("c", ACK, desc="ACK")
    d = cap.conn(40005, 0x11111111, 0x22222222).handshake().exchange()
    d.send("c", RST, seq=d.nxt["c"] + 1, advance=False,
           desc="client RST, seq = seqlo+1 (accepted)")
    e = cap.conn(40006, 0x33333333, 0x44444444).handshake().exchange()
    e.send("c", RST, seq=e.nxt["c"] + 1000, advance=False,
           desc="client RST inside window but not exact")
    e.send("c", RST | ACK, seq=e.nxt["c"] - 1, advance=False,
           desc="client RST+ACK, seq = seqlo-1 (accepted)")


@capture
def rst_out_of_window(cap):
    """RSTs far outside the window are invalid; the connection goes on."""
    c = cap.conn(40007, 0x10000000, 0x60000000).handshake().exchange()
    c.send("s", RST | ACK, seq=c.nxt["s"] + 10000000, advance=False,
           desc="server RST 10M ahead")
    c.send("c", PSH | ACK, b"y" * 64, desc="client data")
    c.send("s", ACK, desc="server ACK")
    c.send("c", RST, seq=c.nxt["c"] - 10000000, advance=False,
           desc="client RST 10M behind")
    c.send("c", RST | ACK, seq=c.nxt["c"] + 70000, advance=False,
           desc="client RST beyond server's window")
    c.send("s", PSH | ACK, b"z" * 32, desc="server data")
    c.send("c", ACK, desc="client ACK")


@capture
def syn_retransmit(cap):
    """Retransmitted SYN and SYN+ACK; a SYN with a new ISN before any
    answer; a SYN repeated after the handshake."""
    c = cap.conn(40008, 0x0badf00d, 0x0ddba11)
    c.send("c", SYN, desc="SYN")
    c.send("c", SYN, seq=0x0badf00d, advance=False,
           desc="SYN retransmitted")
    c.send("c", SYN, seq=0x0badf00d, advance=False,
           desc="SYN retransmitted again")
    c.send("s", SYN | ACK, desc="SYN+ACK")
    c.send("s", SYN | ACK, seq=0x0ddba11, advance=False,
           desc="SYN+ACK retransmitted")
    c.send("c", ACK, desc="ACK")
    c.exchange()
    c.send("c", SYN, seq=0x0badf00d, advance=False,
           desc="stale SYN after establishment")
    c.send("c", PSH | ACK, b"q" * 40, desc="client data")
    d = cap.conn(40009, 0x70000000, 0x30000000)
    d.send("c", SYN, desc="SYN")
    d.isn("c", 0x70100000)
    d.send("c", SYN, desc="SYN with another ISN, no answer yet")
    d.send("s", SYN | ACK, desc="SYN+ACK to the second SYN")
    d.send("c", ACK, desc="ACK")
    d.send("c", PSH | ACK, b"r" * 10, desc="client data")


@capture
def out_of_window_data(cap):
    """Data segments outside the receiver's window (sequence checking on),
    acks of data never sent; in-window retransmissions stay valid."""
    c = cap.conn(40010, 0x20000000, 0x40000000).handshake().exchange()
    n = c.nxt["c"]
    c.send("c", PSH | ACK, b"a" * 100, seq=n + 5000000, advance=False,
           desc="data 5M beyond the window")
    c.send("c", PSH | ACK, b"b" * 100, seq=n - 3000000, advance=False,
           desc="data 3M behind")
    c.send("c", PSH | ACK, b"c" * 100, ack=c.nxt["s"] + 5000000,
           advance=False, desc="acks 5M bytes the server never sent")
    c.send("s", PSH | ACK, b"d" * 100, seq=c.nxt["s"] + 200000,
           advance=False, desc="server data beyond the client's window")
    c.send("c", PSH | ACK, b"e" * 200, desc="in-window data")
    c.send("c", PSH | ACK, b"e" * 200, seq=n, advance=False,
           desc="retransmission of the same data")
    c.send("c", PSH | ACK, b"f" * 100, seq=c.nxt["c"] + 30000,
           advance=False, desc="data 30000 ahead, inside the window")
    c.send("s", ACK, desc="server ACK")
    c.send("c", PSH | ACK, b"g" * 100, ack=c.nxt["s"] - 100000,
           advance=False, desc="ack 100000 behind (ackskew too big)")
    c.send("c", ACK, desc="valid ACK")


@capture
def window_scaling(cap):
    """wscale 7 (client) and 8 (server), windows of 64K<<scale; segments
    far ahead are valid only when the scale is applied."""
    c = cap.conn(40011, 0x0a000000, 0x0b000000, cwscale=7, swscale=8)
    c.handshake()
    c.send("c", ACK, win=0xffff, desc="client window 0xffff<<7 (8 MB)")
    c.send("s", ACK, win=0xffff, desc="server window 0xffff<<8 (16 MB)")
    c.exchange()
    n = c.nxt["c"]
    c.send("c", PSH | ACK, b"h" * 1000, seq=n + 4000000, advance=False,
           win=0xffff, desc="client data 4M ahead (in 16 MB window)")
    c.send("c", PSH | ACK, b"h" * 1000, seq=n, win=0xffff,
           desc="client fills the gap")
    c.send("s", PSH | ACK, b"i" * 1000, seq=c.nxt["s"] + 2000000,
           advance=False, win=0xffff,
           desc="server data 2M ahead (in 8 MB window)")
    c.send("c", PSH | ACK, b"j" * 100, seq=n + 20000000, advance=False,
           win=0xffff, desc="client data 20M ahead (beyond 16 MB)")
    c.send("s", ACK, win=0xffff, desc="server ACK")
    c.send("c", FIN | ACK, win=0xffff, desc="client FIN")
    c.send("s", FIN | ACK, win=0xffff, desc="server FIN")
    c.send("c", ACK, win=0xffff, desc="last ACK")
    # Only the client offers a scale: neither side scales.
    d = cap.conn(40012, 0x0c000000, 0x0d000000, cwscale=7, swscale=None)
    d.handshake()
    d.send("s", ACK, win=0xffff, desc="server window 0xffff, unscaled")
    d.send("c", PSH | ACK, b"k" * 1000, seq=d.nxt["c"] + 1000000,
           advance=False, win=0xffff,
           desc="client data 1M ahead (no scaling: invalid)")
    d.send("c", PSH | ACK, b"k" * 1000, seq=d.nxt["c"] + 30000,
           advance=False, win=0xffff, desc="client data 30000 ahead")
    # wscale 15 is clamped to 14.
    e = cap.conn(40013, 0x0e000000, 0x0f000000, cwscale=15, swscale=14)
    e.handshake()
    e.send("s", ACK, win=0xffff, desc="server window 0xffff<<14 (1 GB)")
    e.send("c", PSH | ACK, b"l" * 100, seq=e.nxt["c"] + 500000000,
           advance=False, win=4, desc="client data 500M ahead")


@capture
def midstream_pickup(cap):
    """The first packet is an ACK carrying data: the tracker picks the
    connection up liberally (both window scales unknown)."""
    c = cap.conn(40014, 0x31000000, 0x32000000)
    c.send("c", PSH | ACK, b"m" * 100, desc="first packet: data+ACK")
    c.send("c", PSH | ACK, b"m" * 100, desc="more client data")
    c.send("s", ACK, desc="server ACK")
    c.send("s", PSH | ACK, b"n" * 1448, desc="server data")
    c.send("c", ACK, desc="client ACK")
    c.send("c", PSH | ACK, b"o" * 100, seq=c.nxt["c"] + 4000000,
           advance=False, desc="client data 4M ahead (window 512<<14)")
    c.send("c", PSH | ACK, b"o" * 100, seq=c.nxt["c"] + 100000000,
           advance=False, desc="client data 100M ahead")
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", FIN | ACK, desc="server FIN")
    c.send("c", ACK, desc="last ACK")
    d = cap.conn(40015, 0x33000000, 0x34000000)
    d.send("s", ACK, desc="first packet: bare ACK from the server side")
    d.send("c", PSH | ACK, b"p" * 20, desc="data the other way")
    d.send("s", ACK, desc="ACK")


@capture
def tcp6_handshake_close(cap):
    """TCP over IPv6, ECN-setup SYN, data, close, then a reset
    connection."""
    c = cap.conn(40016, 0x61000000, 0x62000000, v6=True)
    c.handshake(ecn=True).exchange()
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", FIN | ACK, desc="server FIN")
    c.send("c", ACK, desc="last ACK")
    d = cap.conn(40017, 0x63000000, 0x64000000, v6=True)
    d.handshake()
    d.send("s", RST | ACK, seq=d.nxt["s"] + 5000000, advance=False,
           desc="RST out of window")
    d.send("s", RST | ACK, desc="RST in window")
    d.send("c", ACK, desc="client ACK after RST")


@capture
def syn_reopen(cap):
    """After FIN, FIN, ACK (both FIN_WAIT_2) a SYN on the same 4-tuple
    starts a new connection; also from the server side, and a SYN on a
    connection that is only half closed."""
    c = cap.conn(40018, 0x71000000, 0x72000000).handshake().exchange()
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", FIN | ACK, desc="server FIN (acks client FIN)")
    c.send("c", ACK, desc="last ACK: both FIN_WAIT_2")
    c.isn("c", 0x73000000)
    c.isn("s", 0x74000000)
    c.handshake()
    c.send("c", PSH | ACK, b"t" * 10, desc="data on the new connection")
    d = cap.conn(40019, 0x75000000, 0x76000000).handshake().exchange()
    d.send("c", FIN | ACK, desc="client FIN")
    d.send("s", FIN | ACK, desc="server FIN")
    d.send("c", ACK, desc="last ACK")
    d.isn("s", 0x77000000)
    d.send("s", SYN, desc="server-side SYN on the reversed tuple")
    d.isn("c", 0x78000000)
    d.send("c", SYN | ACK, desc="SYN+ACK from the old client side")
    d.send("s", ACK, desc="ACK")
    e = cap.conn(40020, 0x79000000, 0x7a000000).handshake().exchange()
    e.send("c", FIN | ACK, desc="client FIN")
    e.send("s", ACK, desc="server ACKs FIN, does not close")
    old = e.nxt["c"]
    e.isn("c", 0x7b000000)
    e.send("c", SYN, desc="new SYN while the server is still open")
    e.send("c", SYN, seq=old, advance=False, desc="SYN at the old seqlo")
    f = cap.conn(40021, 0x7c000000, 0x7d000000).handshake().exchange()
    f.isn("c", 0x7e000000)
    f.send("c", SYN, desc="SYN with a new ISN on an established connection")


@capture
def invalid_flags(cap):
    """Flag combinations OVS refuses, inside a connection and as the first
    packet of new ones."""
    c = cap.conn(40022, 0x81000000, 0x82000000).handshake().exchange()
    c.send("c", SYN | FIN, advance=False, desc="SYN+FIN")
    c.send("c", 0, advance=False, desc="no flags")
    c.send("c", FIN, advance=False, desc="FIN without ACK")
    c.send("c", PSH, b"u" * 5, advance=False, desc="PSH without ACK")
    c.send("c", URG, advance=False, desc="URG without ACK")
    c.send("c", SYN | RST, advance=False, desc="SYN+RST")
    c.send("c", FIN | SYN | RST | PSH | ACK | URG, advance=False,
           desc="all flags")
    c.send("c", ECE, advance=False, desc="ECE alone")
    c.send("c", SYN | PSH, advance=False, desc="SYN+PSH")
    c.send("c", SYN | URG, advance=False, desc="SYN+URG")
    c.send("c", RST | PSH, advance=False, desc="RST+PSH without ACK")
    c.send("c", RST | FIN, advance=False, desc="RST+FIN without ACK")
    c.send("c", CWR | ACK, advance=False, desc="CWR+ACK (valid flags)")
    c.send("c", FIN | PSH | URG | ACK, advance=False,
           desc="FIN+PSH+URG+ACK (valid flags)")
    c.send("c", ACK, desc="valid ACK")
    for port, flags, what in ((40023, SYN | FIN, "SYN+FIN"),
                              (40024, 0, "no flags"),
                              (40025, FIN, "FIN without ACK"),
                              (40026, SYN | RST, "SYN+RST"),
                              (40027, RST, "bare RST"),
                              (40031, SYN | PSH, "SYN+PSH"),
                              (40032, SYN | ECE | CWR, "ECN-setup SYN")):
        d = cap.conn(port, 0x83000000 + port, 0x84000000)
        d.send("c", flags, advance=False, desc="first packet: " + what)
        d.send("c", flags, advance=False, desc="again")


@capture
def synack_first(cap):
    """A SYN+ACK cannot create a connection; the ACK after it can."""
    c = cap.conn(40028, 0x91000000, 0x92000000)
    c.nxt["c"] += 1
    c.send("s", SYN | ACK, desc="first packet: SYN+ACK")
    c.send("s", SYN | ACK, seq=0x92000000, advance=False,
           desc="SYN+ACK again")
    c.send("c", ACK, desc="client ACK: picks up the connection")
    c.send("s", PSH | ACK, b"v" * 100, desc="server data")
    c.send("c", ACK, desc="client ACK")


@capture
def seq_wraparound(cap):
    """Sequence numbers that wrap past 2^32 during the connection."""
    c = cap.conn(40029, 0xfffffc00, 0xffffff00).handshake()
    for i in range(3):
        c.send("c", PSH | ACK, b"w" * 600, desc="client data %d" % i)
        c.send("s", PSH | ACK, b"W" * 150, desc="server data %d" % i)
    c.send("c", ACK, desc="client ACK")
    c.send("c", FIN | ACK, desc="client FIN")
    c.send("s", FIN | ACK, desc="server FIN")
    c.send("c", ACK, desc="last ACK")


@capture
def syn_with_data(cap):
    """A SYN carrying data (TCP fast open style), a SYN+ACK acking it."""
    c = cap.conn(40030, 0xa1000000, 0xa2000000)
    c.send("c", SYN, b"GET / HTTP/1.0\r\n\r\n", desc="SYN with 18 bytes")
    c.send("s", SYN | ACK, desc="SYN+ACK acking SYN and data")
    c.send("c", ACK, desc="ACK")
    c.send("s", PSH | ACK, b"x" * 300, desc="server data")
    c.send("c", ACK, desc="ACK")


@capture
def wscale_option_parsing(cap):
    """Odd option layouts in the SYN: does the tracker see the window scale?
    Each connection ends with client data 1M ahead, valid only if both
    sides' scales were recognised (server window 0xffff<<8), and a control
    segment 30000 ahead."""
    cases = (
        (40040, b"\x03\x02\x07\x01", "WS option with length byte 2"),
        (40041, b"\x00\x01\x03\x03\x07\x01\x01\x01", "WS after EOL"),
        (40042, b"\x08\x00\x03\x03\x07\x01\x01\x01",
         "option with length 0, then WS"),
        (40043, b"\x02\x28\x05\xb4\x03\x03\x07\x01",
         "MSS with length 40 (overruns), then WS"),
        (40044, b"\x01\x01\x01\x01\x01\x01\x03\x03",
         "WS cut short by the end of the header"),
        (40045, b"\x01\x03\x03\x07", "NOP, WS 7 (plain)"),
        (40046, b"\x03\x03\x02\x03\x03\x08\x01\x01",
         "two WS options, 2 then 8"),
    )
    for port, opts, what in cases:
        c = cap.conn(port, 0xb0000000 + (port << 16), 0xc0000000,
                     cwscale=7, swscale=8)
        c.send("c", SYN, opts=opts, desc="SYN, " + what)
        c.send("s", SYN | ACK, desc="SYN+ACK, wscale 8")
        c.send("c", ACK, win=0xffff, desc="ACK, window 0xffff")
        c.send("s", ACK, win=0xffff, desc="server window 0xffff")
        c.send("c", PSH | ACK, b"1" * 100, seq=c.nxt["c"] + 1000000,
               advance=False, win=0xffff, desc="client data 1M ahead")
        c.send("s", PSH | ACK, b"2" * 100, seq=c.nxt["s"] + 1000000,
               advance=False, win=0xffff, desc="server data 1M ahead")
        c.send("c", PSH | ACK, b"3" * 100, seq=c.nxt["c"] + 30000,
               advance=False, win=0xffff, desc="client data 30000 ahead")
    # The scale option's quirk on the SYN+ACK side.
    d = cap.conn(40047, 0xb1000000, 0xc1000000, cwscale=7, swscale=8)
    d.send("c", SYN, desc="SYN, wscale 7")
    d.send("s", SYN | ACK, opts=b"\x03\x02\x08\x01",
           desc="SYN+ACK, WS option with length byte 2")
    d.send("c", ACK, win=0xffff, desc="ACK, window 0xffff")
    d.send("s", ACK, win=0xffff, desc="server window 0xffff")
    d.send("c", PSH | ACK, b"4" * 100, seq=d.nxt["c"] + 1000000,
           advance=False, win=0xffff, desc="client data 1M ahead")
    # A retransmitted SYN+ACK without the option after one with it.
    e = cap.conn(40048, 0xb2000000, 0xc2000000, cwscale=7, swscale=8)
    e.send("c", SYN, desc="SYN, wscale 7")
    e.send("s", SYN | ACK, desc="SYN+ACK, wscale 8")
    e.send("s", SYN | ACK, seq=0xc2000000, advance=False,
           opts=tcp_opts(wscale=None), desc="SYN+ACK again, no WS")
    e.send("c", ACK, win=0xffff, desc="ACK, window 0xffff")
    e.send("s", ACK, win=0xffff, desc="server window 0xffff")
    e.send("c", PSH | ACK, b"5" * 100, seq=e.nxt["c"] + 1000000,
           advance=False, win=0xffff, desc="client data 1M ahead")


@capture
def simultaneous_open(cap):
    """Both sides send a SYN, then each a SYN+ACK."""
    c = cap.conn(40050, 0xd1000000, 0xd2000000)
    c.send("c", SYN, desc="client SYN")
    c.send("s", SYN, desc="server SYN (no ACK)")
    c.send("c", SYN | ACK, seq=0xd1000000, advance=False,
           desc="client SYN+ACK")
    c.send("s", SYN | ACK, seq=0xd2000000, advance=False,
           desc="server SYN+ACK")
    c.send("c", ACK, desc="client ACK")
    c.exchange()


@capture
def odd_openings(cap):
    """A pickup followed by a SYN (from either side); data sent right
    after the SYN, before any answer."""
    c = cap.conn(40051, 0xe1000000, 0xe2000000)
    c.send("c", ACK, desc="first packet: bare ACK (pickup)")
    c.isn("c", 0xe3000000)
    c.send("c", SYN, desc="SYN from the same side")
    c.send("s", SYN | ACK, desc="SYN+ACK")
    c.send("c", ACK, desc="ACK")
    d = cap.conn(40052, 0xe4000000, 0xe5000000)
    d.send("c", PSH | ACK, b"a" * 10, desc="first packet: data (pickup)")
    d.isn("s", 0xe6000000)
    d.send("s", SYN, desc="SYN from the other side")
    d.send("c", ACK, desc="ACK")
    e = cap.conn(40053, 0xe7000000, 0xe8000000)
    e.send("c", SYN, desc="SYN")
    e.send("c", PSH | ACK, b"b" * 50, ack=0x12345678,
           desc="data before the SYN+ACK")
    e.send("s", SYN | ACK, desc="SYN+ACK")
    e.send("c", ACK, desc="ACK")
    f = cap.conn(40054, 0xe9000000, 0xea000000)
    f.send("c", SYN, win=0, desc="SYN with window 0")
    f.send("s", SYN | ACK, win=0, desc="SYN+ACK with window 0")
    f.send("c", PSH | ACK, b"c" * 10, desc="data into a zero window")
    f.send("s", ACK, desc="ACK")


@capture
def zero_length_and_padding(cap):
    """Segments without payload are exempt from the sequence check;
    Ethernet padding and trailers are not payload."""
    c = cap.conn(40055, 0xf1000000, 0xf2000000).handshake().exchange()
    n = c.nxt["c"]
    c.send("c", ACK, seq=n + 1000000000, opts=b"", advance=False,
           desc="bare ACK (padded frame), seq 1G off")
    c.send("c", ACK, opts=b"", trailer=b"\xde\xad\xbe\xef",
           desc="bare ACK with a 4-byte trailer after the padding")
    c.send("c", ACK, seq=n + 1000000000, opts=b"",
           trailer=b"\xde\xad\xbe\xef", advance=False,
           desc="bare ACK with a trailer, seq 1G off")
    c.send("c", PSH | ACK, b"!", opts=b"", desc="1-byte segment, padded")
    c.send("c", PSH | ACK, b"!", seq=c.nxt["c"] + 1000000000, opts=b"",
           advance=False, desc="1-byte segment, seq 1G off")
    c.send("c", ACK, ack=c.nxt["s"] + 1000000000, opts=b"", advance=False,
           desc="bare ACK acking 1G ahead")
    c.send("c", FIN | ACK, seq=c.nxt["c"] + 1000000000, opts=b"",
           advance=False, desc="FIN, seq 1G off")
    c.send("s", PSH | ACK, b"?" * 3, opts=b"", desc="server 3 bytes")
    c.send("c", RST | ACK, ack=0, opts=b"",
           desc="RST+ACK with ack 0, exact seq")
    c.send("s", ACK, opts=b"", desc="server ACK after RST")


def build():
    caps = []
    for fn in CAPTURES:
        cap = Capture(fn.__name__)
        fn(cap)
        caps.append(cap)
    return caps


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = (argv[1] if len(argv) > 1
              else os.path.join(here, os.pardir, "data", "tcp"))
    os.makedirs(outdir, exist_ok=True)
    lines = []
    for cap in build():
        with open(os.path.join(outdir, cap.name + ".pcap"), "wb") as f:
            f.write(cap.pcap())
        for i, text in enumerate(cap.lines, 1):
            lines.append("%s %d %s\n" % (cap.name, i, text))
    with open(os.path.join(outdir, "captures.txt"), "w") as f:
        f.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
