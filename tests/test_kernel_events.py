"""``ovsct events system@ovs-system``: NEW / UPDATE / DESTROY lines for
traffic generated in a private namespace."""

import json
import os
import signal
import sys
import time

import pytest

from kernellib import Netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (namespaces)")

DP = "system@ovs-system"


def _events(ns, *args, action):
    """Runs ``ovsct [args...]`` in 'ns', performs 'action', stops it with
    SIGINT and returns (stdout lines, stderr, exit status)."""
    proc = ns.popen(sys.executable, "-m", "ovsct.cli", *args)
    try:
        time.sleep(1.0)         # Let it join the multicast groups.
        action()
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
    return out.splitlines(), err, proc.returncode


def test_events_new_update_destroy():
    with Netns() as ns:
        def action():
            ns.conntrack("-I", "-t", "300", "-p", "udp", "-s", "10.0.0.1",
                         "-d", "10.0.0.2", "--sport", "1", "--dport", "2")
            ns.conntrack("-U", "-p", "udp", "-s", "10.0.0.1", "-d",
                         "10.0.0.2", "--sport", "1", "--dport", "2",
                         "-m", "5")
            ns.conntrack("-D", "-p", "udp", "-s", "10.0.0.1", "-d",
                         "10.0.0.2", "--sport", "1", "--dport", "2")
        lines, err, rc = _events(ns, "events", DP, action=action)
        assert rc == 0, err
        line = ("udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),"
                "reply=(src=10.0.0.2,dst=10.0.0.1,sport=2,dport=1)")
        assert lines[0] == "[NEW] " + line
        assert "[UPDATE] " + line + ",mark=5" in lines
        assert lines[-1] == "[DESTROY] " + line + ",mark=5"


def test_events_of_real_traffic_json_and_zone_filter():
    with Netns() as ns:
        sports = iter(range(1, 100))

        def action():
            ns.run("ping", "-c", "1", "-W", "2", "127.0.0.1")
            ns.conntrack("-I", "-t", "300", "-p", "udp", "-s", "10.0.0.1",
                         "-d", "10.0.0.2", "--sport", str(next(sports)),
                         "--dport", "2", "--zone", "4")
        lines, err, rc = _events(ns, "-f", "json", "events", "-m", DP,
                                 action=action)
        assert rc == 0, err
        events = [json.loads(x) for x in lines]
        icmp = [e for e in events if e["protocol"] == "icmp"]
        assert icmp and icmp[0]["event"] == "NEW"
        assert icmp[0]["orig"]["src"] == "127.0.0.1"
        assert icmp[0]["orig"]["type"] == 8
        assert any(e["zone"] == 4 for e in events)

        lines, err, rc = _events(ns, "events", DP, "zone=4", action=action)
        assert rc == 0, err
        assert lines and all(",zone=4" in x for x in lines)


def test_events_state_filter():
    """state=S[,S...] (dump-conntrack's filter) selects the events of TCP
    entries whose state, as the dump prints it, is one of S."""
    with Netns() as ns:
        def action():
            for sport, state in ((1, "ESTABLISHED"), (2, "SYN_SENT"),
                                 (3, "SYN_RECV"), (4, "TIME_WAIT")):
                ns.conntrack("-I", "-t", "300", "-p", "tcp", "-s",
                             "10.0.0.1", "-d", "10.0.0.2", "--sport",
                             str(sport), "--dport", "80", "--state", state)
            ns.conntrack("-I", "-t", "300", "-p", "udp", "-s", "10.0.0.1",
                         "-d", "10.0.0.2", "--sport", "1", "--dport", "2")
        lines, err, rc = _events(ns, "events", DP,
                                 "state=ESTABLISHED,time_wait",
                                 action=action)
        assert rc == 0, err
        assert [x.split(",sport=")[1].split(",")[0] for x in lines] \
            == ["1", "3", "4"]
        assert all(x.startswith("[NEW] tcp,") for x in lines)
        assert sum("state=ESTABLISHED" in x for x in lines) == 2
        lines, err, rc = _events(ns, "events", DP, "state=NOPE",
                                 action=lambda: None)
        assert rc == 2 and "failed to parse state" in err


def test_events_of_other_datapaths_go_to_the_daemon():
    """Only system@NAME reads netlink; without it, or with the userspace
    datapath's name, `ovsct events` asks ovsctd (absent here)."""
    with Netns(ruleset="") as ns:
        target = "/nonexistent/ovsctd.ctl"
        for args in ([], ["-m", "ovsct@ovsct"], ["netdev@ovs-netdev"]):
            r = ns.ovsct("-t", target, "events", *args)
            assert r.returncode == 1, r.stderr
            assert 'cannot connect to "%s"' % target in r.stderr
