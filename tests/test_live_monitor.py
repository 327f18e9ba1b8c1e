"""Live datapath, monitor mode: a real ovsctd reads a veth with
--interface while a namespace talks to the host through it (TCP, UDP,
ICMP); dump-conntrack (through the real ovs-appctl) shows the connections
with OVS's tuples and states, and ct/show-interfaces counts the frames.
Run as root; the topology (lv-m*) is removed even when a test fails."""

import re
import socket
import time

import pytest

import livelib
from livelib import (Ovsctd, Topology, icmp_echo, show, tcp_client,
                     udp_client, wait_line)

HOST = "lv-m0"
PEER = "lv-m1"
HOST_IP = "10.79.0.1"
NS_IP = "10.79.0.2"


@pytest.fixture(scope="module")
def topo():
    livelib.require_netns()
    with Topology("lv-m") as t:
        ns = t.namespace("ns")
        t.veth(HOST, ns, PEER, NS_IP + "/24")
        t.host_addr(HOST, HOST_IP + "/24")
        # Static neighbours: no ARP, so that the frame counts are exact.
        t.neigh(ns, PEER, HOST_IP, _host_mac())
        subprocess_ok = t.sh(None, "ip", "neigh", "replace", NS_IP,
                             "lladdr", t.mac(ns, PEER), "dev", HOST,
                             "nud", "permanent")
        assert subprocess_ok.returncode == 0, subprocess_ok.stderr
        t.ns = ns
        yield t


def _host_mac():
    with open("/sys/class/net/%s/address" % HOST) as f:
        return f.read().strip()


@pytest.fixture
def daemon(topo):
    with Ovsctd("--interface=" + HOST) as d:
        yield d


def dump(d):
    r = d.appctl("dpctl/dump-conntrack")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


def wait_quiet(d, name, period=0.4, timeout=10):
    """Waits until the interface's receive count stops moving."""
    last = show(d)[name]["received"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(period)
        now = show(d)[name]["received"]
        if now == last:
            return now
        last = now
    raise AssertionError("%s never went quiet" % name)


def test_show_interfaces_lists_the_monitor(daemon):
    r = daemon.appctl("ct/show-interfaces")
    assert r.returncode == 0
    line = r.stdout.decode()
    assert re.match(r"lv-m0: mode=monitor action=ct\(commit\) received=\d+ "
                    r"tracked=\d+ held=0 ring_drops=0 forwarded=0 "
                    r"dropped=0\n$",
                    line), line
    row = show(daemon)[HOST]
    assert row["mode"] == "monitor" and row["peer"] is None
    assert row["workers"] == 1


def test_tcp_established_then_time_wait(topo, daemon):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST_IP, 5101))
    srv.listen(1)
    client = topo.popen(topo.ns, tcp_client(HOST_IP, 5101, 3000, 0,
                                            hold=True))
    try:
        sport = int(wait_line(client, "connected").split()[1])
        conn, _ = srv.accept()
        tup = ("tcp,orig=(src=%s,dst=%s,sport=%d,dport=5101),"
               "reply=(src=%s,dst=%s,sport=5101,dport=%d)"
               % (NS_IP, HOST_IP, sport, HOST_IP, NS_IP, sport))
        assert wait_for(lambda: tup + ",protoinfo=(state=ESTABLISHED)"
                        in dump(daemon)), dump(daemon)
        client.stdin.write("go\n")
        client.stdin.flush()
        got = 0
        while got < 3000:
            data = conn.recv(65536)
            assert data
            got += len(data)
        conn.close()
        assert wait_line(client, "ok").startswith("ok")
        # The client closed first (after our FIN): TIME_WAIT as OVS
        # prints the pair, or CLOSING if the FINs crossed.
        assert wait_for(lambda: re.search(
            re.escape(tup) + r",protoinfo=\(state=(TIME_WAIT|CLOSING)\)",
            dump(daemon))), dump(daemon)
    finally:
        client.kill()
        client.wait()
        srv.close()


def test_udp_exchange_and_icmp_id(topo, daemon):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((HOST_IP, 5102))
    srv.settimeout(5)
    client = topo.popen(topo.ns, udp_client(HOST_IP, 5102, 1, 40102))
    try:
        data, peer = srv.recvfrom(100)
        srv.sendto(data, peer)
        assert wait_line(client, "answers") == "answers 1"
    finally:
        client.kill()
        client.wait()
        srv.close()
    r = topo.run(topo.ns, icmp_echo(HOST_IP, 0x4242, 2))
    assert r.stdout.strip() == "replies 2", r.stderr
    text = dump(daemon)
    assert ("udp,orig=(src=%s,dst=%s,sport=40102,dport=5102),"
            "reply=(src=%s,dst=%s,sport=5102,dport=40102)"
            % (NS_IP, HOST_IP, HOST_IP, NS_IP)) in text, text
    assert ("icmp,orig=(src=%s,dst=%s,id=%d,type=8,code=0),"
            "reply=(src=%s,dst=%s,id=%d,type=0,code=0)"
            % (NS_IP, HOST_IP, 0x4242, HOST_IP, NS_IP, 0x4242)) in text, text


def test_counters_add_up_to_the_traffic(topo, daemon):
    """With static neighbours and IPv6 off on the host side, the link
    carries exactly our frames: 3 echo requests + 3 replies, then 5 UDP
    requests + 5 replies (no listener: 5 ICMP port unreachables)."""
    before = wait_quiet(daemon, HOST)
    row0 = show(daemon)[HOST]
    r = topo.run(topo.ns, icmp_echo(HOST_IP, 0x4343, 3))
    assert r.stdout.strip() == "replies 3", r.stderr
    r = topo.run(topo.ns, udp_client(HOST_IP, 5199, 5, 40199,
                                     timeout=0.2))
    assert r.stdout.strip() == "answers 0", r.stderr
    after = wait_quiet(daemon, HOST)
    row = show(daemon)[HOST]
    assert after - before == 16, (row0, row)
    assert row["tracked"] - row0["tracked"] == 16
    assert row["ring_drops"] == 0
    assert row["forwarded"] == 0 and row["dropped"] == 0
    # The port unreachables are related to the UDP connection, so they
    # create nothing: ICMP + UDP entries only.
    text = dump(daemon)
    assert "id=%d," % 0x4343 in text
    assert "sport=40199,dport=5199" in text


def test_checksum_offload_is_valid_but_a_bad_checksum_is_not(topo):
    """Frames of the namespace's stack arrive with the checksum left to
    offload (TP_STATUS_CSUMNOTREADY) and are tracked as valid; a frame with
    a wrong UDP checksum sent raw from the namespace stays +inv."""
    with Ovsctd("--interface=" + HOST) as d:
        code = f"""
import socket, struct
def csum(b):
    if len(b) % 2:
        b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
src = socket.inet_aton('{NS_IP}'); dst = socket.inet_aton('{HOST_IP}')
udp = struct.pack('!HHHH', 40300, 5300, 12, 0x1234) + b'bad!'
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 32, 1, 0, 64, 17, 0, src, dst)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('{PEER}', 0))
mac = s.getsockname()[4]
s.send(bytes.fromhex('{_host_mac().replace(":", "")}') + mac
       + b'\\x08\\x00' + ip + udp)
print('sent', flush=True)
"""
        r = topo.run(topo.ns, code)
        assert r.stdout.strip() == "sent", r.stderr
        r = topo.run(topo.ns, udp_client(HOST_IP, 5301, 1, 40301,
                                         timeout=0.2))
        assert r.returncode == 0, r.stderr
        text = wait_for(lambda: "dport=5301" in dump(d) and dump(d))
        assert "sport=40301,dport=5301" in text, text
        assert "dport=5300" not in text, text
        # Both were tracked; the bad one as invalid.
        row = show(d)[HOST]
        assert row["tracked"] >= 3


def test_daemon_options_are_checked_before_it_starts(topo):
    for args, text in [
            (["--interface=lv-nonexistent"], "lv-nonexistent: no such "
             "interface"),
            (["--firewall"], "--firewall needs --bridge"),
            (["--bridge=" + HOST], "--bridge: expected INSIDE,OUTSIDE"),
            (["--bridge=%s,%s" % (HOST, HOST)], "--bridge: expected"),
            (["--interface=" + HOST, "--action=ct(bogus)"], "--action"),
            (["--interface=%s,%s" % (HOST, HOST)], "interface given twice"),
            (["--workers=0"], "--workers")]:
        d = Ovsctd(*args)
        with pytest.raises(RuntimeError) as info:
            d.start()
        assert text in str(info.value), (args, str(info.value))


def test_add_and_del_interface_over_the_socket(topo, daemon):
    r = daemon.appctl("ct/add-interface", HOST)
    assert r.returncode == 2
    assert b"lv-m0: interface already attached" in r.stderr
    r = daemon.appctl("ct/add-interface", "lv-nonexistent")
    assert b"lv-nonexistent: no such interface" in r.stderr
    r = daemon.appctl("ct/add-interface", "lo", "ct(bogus)")
    assert b"invalid action ct(bogus)" in r.stderr
    r = daemon.appctl("ct/del-interface", HOST)
    assert r.returncode == 0, r.stderr
    assert daemon.appctl("ct/show-interfaces").stdout == b""
    r = daemon.appctl("ct/del-interface", HOST)
    assert b"lv-m0: interface not attached" in r.stderr
    r = daemon.appctl("ct/add-interface", HOST, "ct(commit,zone=7)")
    assert r.returncode == 0, r.stderr
    row = show(daemon)[HOST]
    assert row["action"] == "ct(commit,zone=7)"
    r = topo.run(topo.ns, icmp_echo(HOST_IP, 0x4444, 1))
    assert r.stdout.strip() == "replies 1"
    assert wait_for(lambda: "id=%d," % 0x4444 in daemon.appctl(
        "dpctl/dump-conntrack", "zone=7").stdout.decode())
