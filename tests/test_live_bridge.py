"""Live datapath, bridge mode: a real ovsctd bridges two veths
(--bridge=INSIDE,OUTSIDE) between namespace lv-b-in (10.80.0.1, fd80::1)
and namespace lv-b-out (10.80.0.2, fd80::2).  With --firewall, what INSIDE
starts gets through and back, what OUTSIDE starts does not (and is counted
as dropped); with SNAT the OUTSIDE listener sees the translated address.
Large TCP segments (GSO on veth) and VLAN-tagged frames cross intact.
Run as root; the topology is removed even when a test fails."""


import pytest

import livelib
from livelib import (Ovsctd, Topology, check_balance, dump, finish,
                     icmp_echo, serve, settled, show, tcp_client,
                     tcp_server, udp_client, udp_server)

INSIDE = "lv-b0"        # Host end towards lv-b-in.
OUTSIDE = "lv-b9"       # Host end towards lv-b-out.
IN_IF, OUT_IF = "lv-b1", "lv-b8"
IN_IP, OUT_IP, NAT_IP = "10.80.0.1", "10.80.0.2", "10.80.0.100"


@pytest.fixture(scope="module")
def topo():
    livelib.require_netns()
    with Topology("lv-b") as t:
        t.inside = t.namespace("in")
        t.outside = t.namespace("out")
        t.veth(INSIDE, t.inside, IN_IF, IN_IP + "/24", "fd80::1/64")
        t.veth(OUTSIDE, t.outside, OUT_IF, OUT_IP + "/24", "fd80::2/64")
        # The SNAT address answers no ARP: OUTSIDE knows where it is.
        t.neigh(t.outside, OUT_IF, NAT_IP, t.mac(t.inside, IN_IF))
        yield t


def test_firewall(topo):
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall") as d:
        rows = show(d)
        assert rows[INSIDE]["mode"] == "inside"
        assert rows[INSIDE]["peer"] == OUTSIDE
        assert rows[OUTSIDE]["action"] == "ct()"
        assert rows[INSIDE]["action"] == "ct(commit)"

        # From INSIDE: ping, ping6, TCP both ways, UDP request/reply.
        r = topo.run(topo.inside, icmp_echo(OUT_IP, 0x5151, 2))
        assert r.stdout.strip() == "replies 2", r.stderr
        r = topo.sh(topo.inside, "ping6", "-c", "2", "-i", "0.2", "-W", "2",
                    "fd80::2")
        assert r.returncode == 0, r.stdout + r.stderr
        srv = serve(topo, topo.outside, tcp_server(5201, reply=4000))
        r = topo.run(topo.inside, tcp_client(OUT_IP, 5201, 4000, 4000))
        assert r.stdout.startswith("ok ") and r.stdout.split()[2] == "4000", \
            r.stdout + r.stderr
        tcp_sport = int(r.stdout.split()[1])
        assert finish(srv, "peer").startswith("peer %s " % IN_IP)
        srv = serve(topo, topo.outside, udp_server(5202, 3, timeout=3))
        r = topo.run(topo.inside, udp_client(OUT_IP, 5202, 3, 40202))
        assert r.stdout.strip() == "answers 3", r.stderr
        finish(srv, "peers")

        before = settled(d)
        # From OUTSIDE: neither TCP nor UDP gets in.
        srv = serve(topo, topo.inside, tcp_server(5203))
        r = topo.run(topo.outside, tcp_client(IN_IP, 5203, 10, 0,
                                              timeout=1.5))
        assert r.stdout.startswith("fail"), r.stdout
        srv.kill()
        srv.wait()
        srv = serve(topo, topo.inside, udp_server(5204, 3, timeout=1))
        r = topo.run(topo.outside, udp_client(IN_IP, 5204, 3, 40204,
                                              timeout=0.3))
        assert r.stdout.strip() == "answers 0"
        assert finish(srv, "peers") == "peers"
        after = settled(d)
        # At least one SYN and exactly the 3 datagrams were dropped.
        dropped = (after[OUTSIDE]["dropped_by_reason"]["not_established"]
                   - before[OUTSIDE]["dropped_by_reason"]["not_established"])
        assert dropped >= 4, (before, after)
        assert after[OUTSIDE]["forwarded"] == before[OUTSIDE]["forwarded"]
        check_balance(after)

        # The dump: exactly the inside-initiated connections.
        lines = sorted(dump(d).splitlines())
        expected = [
            "icmp,orig=(src=10.80.0.1,dst=10.80.0.2,id=%d,type=8,code=0),"
            "reply=(src=10.80.0.2,dst=10.80.0.1,id=%d,type=0,code=0)"
            % (0x5151, 0x5151),
            "tcp,orig=(src=10.80.0.1,dst=10.80.0.2,sport=%d,dport=5201),"
            "reply=(src=10.80.0.2,dst=10.80.0.1,sport=5201,dport=%d),"
            "protoinfo=(state=TIME_WAIT)" % (tcp_sport, tcp_sport),
            "udp,orig=(src=10.80.0.1,dst=10.80.0.2,sport=40202,dport=5202),"
            "reply=(src=10.80.0.2,dst=10.80.0.1,sport=5202,dport=40202)",
        ]
        v4 = [line for line in lines if "src=10.80." in line]
        assert v4 == expected, lines
        v6 = [line for line in lines if "src=fd80::" in line]
        assert len(v6) == 1 and v6[0].startswith(
            "icmpv6,orig=(src=fd80::1,dst=fd80::2,"), lines
        assert len(lines) == 4, lines


def test_firewall_snat(topo):
    action = "ct(commit,nat(src=%s))" % NAT_IP
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall",
                "--action=" + action, "--workers=2") as d:
        rows = show(d)
        assert rows[OUTSIDE]["action"] == "ct(nat)"
        assert rows[INSIDE]["workers"] == 2
        srv = serve(topo, topo.outside, tcp_server(5211, reply=4000))
        r = topo.run(topo.inside, tcp_client(OUT_IP, 5211, 4000, 4000))
        assert r.stdout.startswith("ok ") and r.stdout.split()[2] == "4000", \
            r.stdout + r.stderr
        line = finish(srv, "peer")
        assert line.startswith("peer %s " % NAT_IP), line
        assert line.endswith("got 4000"), line
        srv = serve(topo, topo.outside, udp_server(5212, 2, timeout=3))
        r = topo.run(topo.inside, udp_client(OUT_IP, 5212, 2, 40212))
        assert r.stdout.strip() == "answers 2", r.stderr
        assert finish(srv, "peers").startswith("peers %s:" % NAT_IP)
        r = topo.run(topo.inside, icmp_echo(OUT_IP, 0x5252, 2))
        assert r.stdout.strip() == "replies 2", r.stderr
        text = dump(d)
        assert "reply=(src=10.80.0.2,dst=%s,sport=5211," % NAT_IP in text
        check_balance(settled(d))


def test_large_segments_and_plain_bridge(topo):
    """Without --firewall everything is forwarded after tracking, both
    ways; a 64 KiB exchange goes through as GSO segments (no segment is
    dropped as too large, none truncated)."""
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE)) as d:
        srv = serve(topo, topo.inside, tcp_server(5221, reply=65536))
        r = topo.run(topo.outside, tcp_client(IN_IP, 5221, 65536, 65536))
        assert r.stdout.startswith("ok ") and \
            r.stdout.split()[2] == "65536", r.stdout + r.stderr
        finish(srv, "peer")
        rows = settled(d)
        check_balance(rows)
        for row in rows.values():
            assert row["dropped"] == 0, row
        # Fewer frames than 1500-byte segments would need: GSO at work.
        assert rows[INSIDE]["received"] < 65536 // 1448, rows


def test_vlan_tagged_frames_cross_and_are_tracked_untagged(topo):
    """Raw VLAN 42 UDP from INSIDE and the answer from OUTSIDE: the kernel
    strips the tag into tp_vlan_tci on the bridge ports; the bridge tracks
    the untagged frame (the answer passes the firewall as +est) and puts
    the tag back, which each end sees in its packet auxdata."""
    in_mac = topo.mac(topo.inside, IN_IF)
    out_mac = topo.mac(topo.outside, OUT_IF)
    with Ovsctd("--bridge=%s,%s" % (INSIDE, OUTSIDE), "--firewall") as d:
        srv = serve(topo, topo.outside, livelib.vlan_udp(
            OUT_IF, in_mac, "10.81.0.2", "10.81.0.1", 40241, 5241, 42,
            reply=True))
        r = topo.run(topo.inside, livelib.vlan_udp(
            IN_IF, out_mac, "10.81.0.1", "10.81.0.2", 40241, 5241, 42,
            reply=False))
        assert finish(srv, "request") == "request 42"
        assert r.stdout.strip() == "answer 42", r.stdout + r.stderr
        text = dump(d)
        assert ("udp,orig=(src=10.81.0.1,dst=10.81.0.2,sport=40241,"
                "dport=5241),reply=(src=10.81.0.2,dst=10.81.0.1,"
                "sport=5241,dport=40241)") in text, text
        rows = settled(d)
        check_balance(rows)
