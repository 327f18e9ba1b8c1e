"""Topologies for the live datapath tests: network namespaces and veth
pairs built with pyroute2, real traffic from Python run inside the
namespaces (``ip netns exec``), and cleanup that runs even when a test
fails.

    with Topology("lv-t") as topo:
        ns = topo.namespace("a")                 # lv-t-a
        topo.veth("lv-t0", ns, "lv-t1", "10.9.0.2/24")
        topo.run(ns, "print(1)")                 # python3 -c in ns

Every namespace and interface name starts with the prefix given, so that
a leftover from a crashed run is found and removed by the next one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from daemonlib import Ovsctd  # noqa: F401  (re-exported)
from pyroute2 import IPRoute, NetNS, netns


def require_netns() -> None:
    """Skips (with the reason) where the machine forbids namespaces."""
    if os.geteuid() != 0:
        pytest.skip("live datapath tests need root (namespaces, AF_PACKET)")
    name = "lv-probe-%d" % os.getpid()
    try:
        netns.create(name)
    except OSError as exc:
        pytest.skip("cannot create a network namespace: %s" % exc)
    netns.remove(name)


def _sysctl(ns: str | None, key: str, value: str) -> None:
    cmd = ["sysctl", "-q", "-w", "%s=%s" % (key, value)]
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    subprocess.run(cmd, check=True, capture_output=True)


class Topology:
    """Namespaces and veth pairs, all named with 'prefix', removed on exit
    (and before start, in case an earlier run crashed)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.ipr = IPRoute()

    def __enter__(self) -> "Topology":
        self._sweep()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sweep(self) -> None:
        for name in netns.listnetns():
            if name.startswith(self.prefix):
                netns.remove(name)
        for link in self.ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            if name.startswith(self.prefix):
                self.ipr.link("del", index=link["index"])

    def close(self) -> None:
        try:
            for name in self.links:
                idx = self.ipr.link_lookup(ifname=name)
                if idx:
                    self.ipr.link("del", index=idx[0])
            for name in self.namespaces:
                try:
                    netns.remove(name)
                except OSError:
                    pass
            self._sweep()
        finally:
            self.ipr.close()

    def namespace(self, suffix: str) -> str:
        name = "%s-%s" % (self.prefix, suffix)
        netns.create(name)
        self.namespaces.append(name)
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        # No router solicitations: keep the wire quiet between checks.
        _sysctl(name, "net.ipv6.conf.default.router_solicitations", "0")
        _sysctl(name, "net.ipv6.conf.default.accept_dad", "0")
        return name

    def veth(self, host: str, ns: str, peer: str, *addrs: str,
             host_ipv6: bool = False) -> None:
        """A veth pair: 'host' stays here (up, no address, IPv6 off unless
        'host_ipv6'), 'peer' goes to 'ns' with 'addrs' ("10.0.0.1/24",
        "fd00::1/64")."""
        self.ipr.link("add", ifname=host, kind="veth", peer=peer)
        self.links.append(host)
        pidx = self.ipr.link_lookup(ifname=peer)[0]
        self.ipr.link("set", index=pidx, net_ns_fd=ns)
        hidx = self.ipr.link_lookup(ifname=host)[0]
        if not host_ipv6:
            _sysctl(None, "net.ipv6.conf.%s.disable_ipv6" % host, "1")
        self.ipr.link("set", index=hidx, state="up")
        with NetNS(ns) as n:
            idx = n.link_lookup(ifname=peer)[0]
            for addr in addrs:
                a, _, plen = addr.partition("/")
                n.addr("add", index=idx, address=a, prefixlen=int(plen),
                       **({"flags": 0x02} if ":" in a else {}))  # nodad
            n.link("set", index=idx, state="up")

    def host_addr(self, host: str, addr: str) -> None:
        a, _, plen = addr.partition("/")
        idx = self.ipr.link_lookup(ifname=host)[0]
        self.ipr.addr("add", index=idx, address=a, prefixlen=int(plen))

    def mac(self, ns: str, ifname: str) -> str:
        with NetNS(ns) as n:
            link = n.get_links(n.link_lookup(ifname=ifname)[0])[0]
            return link.get_attr("IFLA_ADDRESS")

    def neigh(self, ns: str, ifname: str, addr: str, mac: str) -> None:
        """A permanent neighbour entry: no ARP on the wire."""
        subprocess.run(["ip", "-n", ns, "neigh", "replace", addr, "lladdr",
                        mac, "dev", ifname, "nud", "permanent"],
                       check=True, capture_output=True)

    # Traffic.

    def popen(self, ns: str | None, code: str, **kw) -> subprocess.Popen:
        """python3 -c 'code' in 'ns' (None: here), stdin/stdout pipes."""
        cmd = [sys.executable, "-c", code]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        return subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kw)

    def run(self, ns: str | None, code: str, timeout: float = 20
            ) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-c", code]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)

    def sh(self, ns: str | None, *argv: str, timeout: float = 20
           ) -> subprocess.CompletedProcess:
        cmd = list(argv)
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)


# Traffic programs (run with python3 -c in a namespace).  Each prints one
# line with its result.

def tcp_server(port: int, reply: int = 0, hold: bool = False) -> str:
    """Accepts one connection, prints the peer and the byte count read
    until EOF, answers 'reply' bytes; with 'hold', waits for a line on
    stdin before closing."""
    return f"""
import socket, sys
s = socket.socket(socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', {port})); s.listen(1); s.settimeout(15)
print('listening', flush=True)
c, a = s.accept()
c.settimeout(15)
got = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    got += len(d)
    if got >= {reply} and {reply}:
        c.sendall(b'r' * {reply})
        break
print('peer', a[0], a[1], 'got', got, flush=True)
if {hold}:
    sys.stdin.readline()
c.close()
"""


def tcp_client(addr: str, port: int, send: int, expect: int,
               hold: bool = False, timeout: float = 5) -> str:
    """Connects, sends 'send' bytes, reads 'expect' bytes, prints
    'ok LOCALPORT RECEIVED' (or 'fail ERROR'); with 'hold', prints
    'connected' and waits for a line on stdin before closing."""
    return f"""
import socket, sys
try:
    s = socket.create_connection(('{addr}', {port}), timeout={timeout})
    port = s.getsockname()[1]
    if {hold}:
        print('connected', port, flush=True)
        sys.stdin.readline()
    s.sendall(b'q' * {send})
    got = 0
    while got < {expect}:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
    s.close()
    print('ok', port, got, flush=True)
except OSError as e:
    print('fail', e, flush=True)
"""


def udp_server(port: int, count: int, timeout: float = 5) -> str:
    """Answers up to 'count' datagrams (echo), prints the peers seen."""
    return f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', {port})); s.settimeout({timeout})
print('listening', flush=True)
peers = []
try:
    for _ in range({count}):
        d, a = s.recvfrom(65536)
        s.sendto(d, a)
        peers.append('%s:%d' % a)
except socket.timeout:
    pass
print('peers', ' '.join(peers), flush=True)
"""


def udp_client(addr: str, port: int, count: int, sport: int,
               timeout: float = 1) -> str:
    """Sends 'count' datagrams from 'sport', one at a time, waiting for
    each answer; prints 'answers N'."""
    return f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', {sport})); s.settimeout({timeout})
n = 0
for i in range({count}):
    s.sendto(b'u%d' % i, ('{addr}', {port}))
    try:
        s.recvfrom(65536)
        n += 1
    except socket.timeout:
        pass
print('answers', n, flush=True)
"""


def icmp_echo(addr: str, ident: int, count: int) -> str:
    """Sends 'count' ICMP echo requests with id 'ident' from a raw socket
    and prints 'replies N'."""
    return f"""
import socket, struct, time
def csum(b):
    if len(b) % 2:
        b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1)
n = 0
for seq in range({count}):
    h = struct.pack('!BBHHH', 8, 0, 0, {ident}, seq) + b'ovsct-live'
    h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
    s.sendto(h, ('{addr}', 0))
    end = time.monotonic() + 1
    while time.monotonic() < end:
        try:
            d = s.recv(2048)
        except socket.timeout:
            break
        ihl = (d[0] & 15) * 4
        t, _, _, i, q = struct.unpack('!BBHHH', d[ihl:ihl + 8])
        if t == 0 and i == {ident} and q == seq:
            n += 1
            break
print('replies', n, flush=True)
"""


def wait_line(proc: subprocess.Popen, prefix: str, timeout: float = 10
              ) -> str:
    """Reads 'proc''s stdout until a line starting with 'prefix'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError("no %r from %s: %s" % (
        prefix, proc.args, proc.stderr.read() if proc.poll() is not None
        else ""))


def vlan_udp(ifname: str, dst_mac: str, src_ip: str, dst_ip: str,
             sport: int, dport: int, vid: int, reply: bool) -> str:
    """Raw VLAN-tagged UDP over AF_PACKET on 'ifname' (no 8021q module
    needed: the receiving kernel strips the tag into the packet auxdata).
    reply=False: sends one datagram, then waits for the answer and prints
    'answer VID'.  reply=True: waits for the datagram, prints 'request
    VID', answers it with the same tag."""
    return f"""
import socket, struct, time
def csum(b):
    if len(b) % 2:
        b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def frame(dmac, smac, src, dst, sp, dp, vid, payload):
    s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    pseudo = s4 + d4 + struct.pack('!BBH', 0, 17, ulen)
    u = struct.pack('!HHHH', sp, dp, ulen, 0) + payload
    u = u[:6] + struct.pack('!H', csum(pseudo + u) or 0xffff) + u[8:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + ulen, 7, 0, 64, 17, 0,
                     s4, d4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return dmac + smac + struct.pack('!HH', 0x8100, vid) + b'\\x08\\x00' \\
        + ip + u
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('{ifname}', 0))
s.setsockopt(263, 8, 1)                      # PACKET_AUXDATA
mac = s.getsockname()[4]
dmac = bytes.fromhex('{dst_mac}'.replace(':', ''))
def wait(sport, dport):
    end = time.monotonic() + 5
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(20))
        except socket.timeout:
            break
        if len(data) < 42 or data[12:14] != b'\\x08\\x00' or data[23] != 17:
            continue
        sp, dp = struct.unpack('!HH', data[34:38])
        if (sp, dp) != (sport, dport):
            continue
        vid = -1
        for level, kind, val in anc:
            if level == 263 and kind == 8:
                st, _, _, _, _, tci, _ = struct.unpack('=IIIHHHH', val[:20])
                if st & (1 << 4):            # TP_STATUS_VLAN_VALID
                    vid = tci & 0xfff
        return data, vid
    return None, None
if {reply}:
    print('listening', flush=True)
    data, vid = wait({sport}, {dport})
    print('request', vid, flush=True)
    if data:
        s.send(frame(data[6:12], mac, '{src_ip}', '{dst_ip}', {dport},
                     {sport}, {vid}, b'pong'))
else:
    s.send(frame(dmac, mac, '{src_ip}', '{dst_ip}', {sport}, {dport}, {vid},
                 b'ping'))
    data, vid = wait({dport}, {sport})
    print('answer', vid, flush=True)
"""


# Counters and dumps of a running ovsctd (tests/lib/daemonlib.py).

def show(d):
    r = d.ovsct("-f", "json", "ct/show-interfaces")
    assert r.returncode == 0, r.stderr
    return {row["name"]: row for row in json.loads(r.stdout)}


def dump(d):
    r = d.appctl("dpctl/dump-conntrack")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def settled(d, timeout=10):
    """Counters once nothing moves and no fragment is held."""
    last = show(d)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.4)
        now = show(d)
        if all(now[n]["received"] == last[n]["received"]
               and now[n]["held"] == 0 for n in now):
            return now
        last = now
    raise AssertionError("the bridge never went quiet: %s" % last)


def check_balance(rows):
    """Every received frame was forwarded, dropped for a reason, or is
    held by reassembly; tracked frames are among the received ones."""
    for row in rows.values():
        assert row["ring_drops"] == 0, row
        assert row["received"] == (row["forwarded"] + row["dropped"]
                                   + row["held"]), row
        assert row["dropped"] == sum(row["dropped_by_reason"].values())
        assert row["tracked"] + row["held"] <= row["received"], row


def serve(topo, ns, program):
    p = topo.popen(ns, program)
    wait_line(p, "listening")
    return p


def finish(p, prefix, timeout=20):
    try:
        return wait_line(p, prefix, timeout)
    finally:
        p.kill()
        p.wait()
