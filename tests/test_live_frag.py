"""Live datapath, IP fragments through a bridge: a real ovsctd bridges two
veths (--bridge=INSIDE,OUTSIDE) between namespace lv-f-in (10.82.0.1) and
namespace lv-f-out (10.82.0.2), MTU 1500, with reassembly on (the
default, as in OVS).  Fragments leave the bridge with their datagram's
state: a 3000-byte UDP datagram sent from INSIDE (fragmented by the
kernel, or sent as fragments spaced out so that each one is a batch of
its own and the earlier ones leave through ovsct_ipf_drain()) arrives
whole, and so does the reply; one started from OUTSIDE does not; with
SNAT every fragment is rewritten; the fragments of a datagram that never
completes are held, then dropped as inv when their list times out (15 s).
Run as root; the topology is removed even when a test fails."""

import time

import pytest

import livelib
from livelib import (Ovsctd, Topology, check_balance, finish, serve,
                     settled, show)

INSIDE = "lv-f0"        # Host end towards lv-f-in.
OUTSIDE = "lv-f9"       # Host end towards lv-f-out.
IN_IF, OUT_IF = "lv-f1", "lv-f8"
IN_IP, OUT_IP, NAT_IP = "10.82.0.1", "10.82.0.2", "10.82.0.100"
SIZE = 3000             # UDP payload: 3 fragments at MTU 1500.


@pytest.fixture(scope="module")
def topo():
    livelib.require_netns()
    with Topology("lv-f") as t:
        t.inside = t.namespace("in")
        t.outside = t.namespace("out")
        t.veth(INSIDE, t.inside, IN_IF, IN_IP + "/24")
        t.veth(OUTSIDE, t.outside, OUT_IF, OUT_IP + "/24")
        # Static neighbours: no ARP to wait for; the SNAT address is
        # INSIDE's for OUTSIDE.
        in_mac = t.mac(t.inside, IN_IF)
        t.neigh(t.inside, IN_IF, OUT_IP, t.mac(t.outside, OUT_IF))
        t.neigh(t.outside, OUT_IF, IN_IP, in_mac)
        t.neigh(t.outside, OUT_IF, NAT_IP, in_mac)
        yield t


# Traffic programs (python3 -c in a namespace).

def _payload(n: int) -> str:
    """Python source of the test payload of 'n' bytes."""
    return "bytes((i * 7 + 3) %% 256 for i in range(%d))" % n


def udp_server(port: int, reply: int, timeout: float) -> str:
    """Waits for one datagram; prints 'got LEN PEER_IP INTACT' (or 'none'),
    answers 'reply' bytes."""
    return f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', {port})); s.settimeout({timeout})
print('listening', flush=True)
try:
    d, a = s.recvfrom(65536)
except socket.timeout:
    print('none', flush=True)
else:
    ok = d == {_payload(SIZE)}
    print('got', len(d), a[0], ok, flush=True)
    if {reply}:
        s.sendto({_payload(reply)}, a)
"""


def udp_client(dst: str, port: int, sport: int, timeout: float) -> str:
    """One datagram of SIZE bytes from a plain socket (the kernel fragments
    it); prints 'answer LEN INTACT' or 'answer none'."""
    return f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', {sport})); s.settimeout({timeout})
s.sendto({_payload(SIZE)}, ('{dst}', {port}))
try:
    d = s.recv(65536)
    print('answer', len(d), d == {_payload(SIZE)}, flush=True)
except socket.timeout:
    print('answer none', flush=True)
"""


def raw_fragments(src: str, dst: str, port: int, sport: int, ident: int,
                  order: list[int], gap: float, timeout: float) -> str:
    """The same datagram built by hand as fragments of 1480 data bytes,
    sent from a raw socket in 'order' (indexes) with 'gap' seconds
    between them; then waits for the answer on 'sport' as udp_client."""
    return f"""
import socket, struct, time
def csum(b):
    if len(b) % 2:
        b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s4, d4 = socket.inet_aton('{src}'), socket.inet_aton('{dst}')
payload = {_payload(SIZE)}
ulen = 8 + len(payload)
u = struct.pack('!HHHH', {sport}, {port}, ulen, 0) + payload
c = csum(s4 + d4 + struct.pack('!BBH', 0, 17, ulen) + u) or 0xffff
u = u[:6] + struct.pack('!H', c) + u[8:]
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(('0.0.0.0', {sport})); rx.settimeout({timeout})
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for k in {order}:
    off = k * 1480
    part = u[off:off + 1480]
    more = off + 1480 < len(u)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(part), {ident},
                     (more << 13) | (off // 8), 64, 17, 0, s4, d4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    tx.sendto(ip + part, ('{dst}', 0))
    time.sleep({gap})
print('sent', flush=True)
try:
    d = rx.recv(65536)
    print('answer', len(d), d == payload, flush=True)
except socket.timeout:
    print('answer none', flush=True)
"""


# Daemon helpers.

def dump(d):
    return sorted(livelib.dump(d).splitlines())


def test_firewall_passes_inside_fragments_and_their_replies(topo):
    udp = ("udp,orig=(src=%s,dst=%s,sport=40301,dport=5301),"
           "reply=(src=%s,dst=%s,sport=5301,dport=40301)"
           % (IN_IP, OUT_IP, OUT_IP, IN_IP))
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall") as d:
        # Kernel-fragmented both ways (the reply too: 3000 bytes).
        srv = serve(topo, topo.outside, udp_server(5301, SIZE, timeout=5))
        r = topo.run(topo.inside, udp_client(OUT_IP, 5301, 40301, 3))
        assert finish(srv, "got") == "got %d %s True" % (SIZE, IN_IP)
        assert r.stdout.strip() == "answer %d True" % SIZE, \
            r.stdout + r.stderr

        # Fragments spaced out, last first: the first two are held by
        # reassembly in batches of their own, and leave (with the
        # datagram's state) when the third completes the datagram.
        before = settled(d)
        srv = serve(topo, topo.outside, udp_server(5301, SIZE, timeout=5))
        r = topo.run(topo.inside, raw_fragments(
            IN_IP, OUT_IP, 5301, 40301, 0x4242, [2, 1, 0], 0.2, 3))
        assert finish(srv, "got") == "got %d %s True" % (SIZE, IN_IP)
        assert r.stdout.split("\n")[-2] == "answer %d True" % SIZE, \
            r.stdout + r.stderr
        after = settled(d)
        assert (after[INSIDE]["forwarded"] - before[INSIDE]["forwarded"]
                == 3), (before, after)
        assert (after[OUTSIDE]["forwarded"] - before[OUTSIDE]["forwarded"]
                == 3), (before, after)

        # Started from OUTSIDE: no fragment gets in.
        before = after
        srv = serve(topo, topo.inside, udp_server(5302, 0, timeout=1.5))
        r = topo.run(topo.outside, udp_client(IN_IP, 5302, 40302, 0.3))
        assert r.stdout.strip() == "answer none", r.stdout + r.stderr
        assert finish(srv, "none") == "none"
        after = settled(d)
        assert (after[OUTSIDE]["dropped_by_reason"]["not_established"]
                - before[OUTSIDE]["dropped_by_reason"]["not_established"]
                == 3), (before, after)
        assert after[OUTSIDE]["forwarded"] == before[OUTSIDE]["forwarded"]
        check_balance(after)
        for row in after.values():
            assert row["tracked"] == row["received"], row   # All IPv4.

        # One connection: the datagrams from INSIDE, reassembled.
        assert dump(d) == [udp]
        r = d.appctl("dpctl/ipf-get-status")
        assert r.returncode == 0, r.stderr
        assert "        num frag: 0\n" in r.stdout.decode()  # All left.


def test_snat_rewrites_every_fragment_with_two_workers(topo):
    action = "ct(commit,nat(src=%s))" % NAT_IP
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall",
                "--action=" + action, "--workers=2") as d:
        srv = serve(topo, topo.outside, udp_server(5311, SIZE, timeout=5))
        r = topo.run(topo.inside, raw_fragments(
            IN_IP, OUT_IP, 5311, 40311, 0x4343, [0, 1, 2], 0.2, 3))
        # A fragment left unrewritten would not reassemble at OUTSIDE.
        assert finish(srv, "got") == "got %d %s True" % (SIZE, NAT_IP)
        assert r.stdout.split("\n")[-2] == "answer %d True" % SIZE, \
            r.stdout + r.stderr
        srv = serve(topo, topo.outside, udp_server(5311, SIZE, timeout=5))
        r = topo.run(topo.inside, udp_client(OUT_IP, 5311, 40312, 3))
        assert finish(srv, "got") == "got %d %s True" % (SIZE, NAT_IP)
        assert r.stdout.strip() == "answer %d True" % SIZE, \
            r.stdout + r.stderr
        rows = settled(d)
        check_balance(rows)
        assert sum(row["dropped"] for row in rows.values()) == 0, rows
        text = "\n".join(dump(d))
        for sport in (40311, 40312):
            assert ("reply=(src=%s,dst=%s,sport=5311,dport=%d)"
                    % (OUT_IP, NAT_IP, sport)) in text, text


def test_incomplete_datagram_is_held_then_dropped_as_invalid(topo):
    """Two fragments of three: held (neither forwarded nor dropped) until
    their list times out (15 s, as OVS), then dropped by the firewall as
    inv, with no traffic to wake the workers."""
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall") as d:
        before = settled(d)
        srv = serve(topo, topo.outside, udp_server(5321, 0, timeout=1))
        r = topo.run(topo.inside, raw_fragments(
            IN_IP, OUT_IP, 5321, 40321, 0x4444, [0, 2], 0.1, 0.1))
        assert r.returncode == 0, r.stderr
        assert finish(srv, "none") == "none"
        rows = show(d)
        assert rows[INSIDE]["held"] == 2, rows
        assert rows[INSIDE]["forwarded"] == before[INSIDE]["forwarded"]
        assert rows[INSIDE]["dropped"] == before[INSIDE]["dropped"]
        check_balance(rows)
        deadline = time.monotonic() + 25
        while rows[INSIDE]["held"] and time.monotonic() < deadline:
            time.sleep(0.5)
            rows = show(d)
        assert rows[INSIDE]["held"] == 0, rows
        assert (rows[INSIDE]["dropped_by_reason"]["invalid"]
                - before[INSIDE]["dropped_by_reason"]["invalid"] == 2), rows
        check_balance(rows)
        assert dump(d) == []
