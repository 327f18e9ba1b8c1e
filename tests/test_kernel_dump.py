"""The kernel datapath's dump and settings commands against the kernel's own
view, in a private network namespace (root only: namespaces, nftables,
conntrack)."""

import json
import os

import pytest

from kernellib import RULESET, Netns, key_of, parse_ovs_line

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (namespaces)")

DP = "system@ovs-system"
UNSUPPORTED = {
    "ct-set-limits": ("zone=1,limit=3",
                      "ovsct: failed to set conntrack limit (Operation not "
                      "supported)\n"),
    "ct-del-limits": ("zone=1",
                      "ovsct: failed to delete conntrack limit (Operation "
                      "not supported)\n"),
    "ct-get-limits": ("",
                      "ovsct: failed to get conntrack limit Operation not "
                      "supported (Operation not supported)\n"),
    "ct-get-sweep-interval": ("",
                              "ovsct: failed to get the sweep interval "
                              "(Operation not supported)\n"),
    "ct-set-sweep-interval": ("5000",
                              "ovsct: failed to set the sweep interval "
                              "(Operation not supported)\n"),
}


def _insert(ns, *args):
    ns.conntrack("-I", "-t", "300", *args)


def _populate(ns):
    """Entries of every shape: TCP states, UDP, ICMP, IPv6, zones, marks."""
    _insert(ns, "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport",
            "1000", "--dport", "80", "--state", "ESTABLISHED", "--zone", "5",
            "-m", "7")
    _insert(ns, "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport",
            "1001", "--dport", "80", "--state", "SYN_SENT")
    _insert(ns, "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport",
            "1002", "--dport", "80", "--state", "TIME_WAIT", "-m", "9")
    _insert(ns, "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport",
            "1003", "--dport", "80", "--state", "FIN_WAIT")
    _insert(ns, "-p", "udp", "-s", "10.0.0.3", "-d", "10.0.0.2", "--sport",
            "1000", "--dport", "53", "--zone", "5")
    _insert(ns, "-p", "udp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport",
            "1000", "--dport", "53")
    _insert(ns, "-p", "icmp", "-s", "10.0.0.1", "-d", "10.0.0.2",
            "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "33")
    _insert(ns, "-p", "udp", "-s", "fc00::1", "-d", "fc00::2", "--sport",
            "5", "--dport", "6", "--zone", "7", "-m", "3")
    _insert(ns, "-p", "icmpv6", "-s", "fc00::1", "-d", "fc00::2",
            "--icmpv6-type", "128", "--icmpv6-code", "0", "--icmpv6-id",
            "9")


def _real_traffic(ns):
    """A TCP connection and a UDP exchange over lo, and a ping."""
    ns.python(
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "c = socket.create_connection(srv.getsockname()); a, _ = "
        "srv.accept()\n"
        "c.sendall(b'x'); a.recv(1)\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "v.bind(('127.0.0.1', 0)); u.sendto(b'q', v.getsockname())\n"
        "d, peer = v.recvfrom(9); v.sendto(b'r', peer)\n")
    ns.run("ping", "-c", "1", "-W", "2", "127.0.0.1")


def _compare(ns, lines):
    ours = sorted((parse_ovs_line(line) for line in lines), key=key_of)
    theirs = sorted(ns.kernel_entries(), key=key_of)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for key in ("l3", "proto", "zone", "mark", "orig", "reply"):
            assert a[key] == b[key], (key, a, b)
        if b["state"] is not None:
            assert a["state"] == b["state"], (a, b)
        if "ct_id" in a:
            assert a["ct_id"] == b["ct_id"]
    return ours


def test_dump_matches_kernel_view():
    with Netns() as ns:
        _populate(ns)
        _real_traffic(ns)
        r = ns.ovsct("dump-conntrack", DP)
        assert r.returncode == 0, r.stderr
        ours = _compare(ns, r.stdout.splitlines())
        assert len(ours) >= 12
        protos = {e["proto"] for e in ours}
        assert {1, 6, 17, 58} <= protos
        states = {e["state"] for e in ours if e["proto"] == 6}
        # FIN_WAIT is FIN_WAIT_1; TIME_WAIT; the real connection is
        # ESTABLISHED; SYN_SENT.
        assert {"ESTABLISHED", "SYN_SENT", "TIME_WAIT",
                "FIN_WAIT_1"} <= states
        # -m: ids, status names, and the same entries.
        r = ns.ovsct("dump-conntrack", "-m", DP)
        assert r.returncode == 0, r.stderr
        _compare(ns, r.stdout.splitlines())
        assert all(",status=" in line and ",id=" in line
                   for line in r.stdout.splitlines())
        assert "SEEN_REPLY" in r.stdout and "CONFIRMED" in r.stdout


def test_dump_zone_and_formats():
    with Netns() as ns:
        _populate(ns)
        r = ns.ovsct("dump-conntrack", "-s", DP, "zone=5")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) == 2
        assert all(",zone=5," in line and ",timeout=" in line
                   for line in lines)
        # The exact text of one line (OVS's kernel format).
        r = ns.ovsct("dump-conntrack", DP, "zone=7")
        assert r.stdout == (
            "udp,orig=(src=fc00::1,dst=fc00::2,sport=5,dport=6),"
            "reply=(src=fc00::2,dst=fc00::1,sport=6,dport=5),zone=7,"
            "mark=3\n")
        r = ns.ovsct("-f", "json", "dump-conntrack", DP, "zone=5")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert sorted(e["protocol"] for e in data) == ["tcp", "udp"]
        tcp = next(e for e in data if e["proto"] == 6)
        assert tcp["tcp"]["state"] == "ESTABLISHED" and tcp["mark"] == 7
        assert tcp["orig"] == {"src": "10.0.0.1", "dst": "10.0.0.2",
                               "sport": 1000, "dport": 80}
        # A filter (the flush grammar) on the dump.
        r = ns.ovsct("dump-conntrack", DP, "ct_nw_src=10.0.0.3")
        assert r.returncode == 0, r.stderr
        assert [parse_ovs_line(x)["orig"]["src"]
                for x in r.stdout.splitlines()] == ["10.0.0.3"]


def test_labels_counters_and_timestamps():
    """Labels set with pyroute2, accounting and timestamps turned on: the
    -s dump shows packets/bytes per direction and start=."""
    # A rule that uses labels makes the kernel give entries label space.
    ruleset = RULESET.replace("ct state new accept;",
                              "ct state new accept; ct label 100 accept;")
    with Netns(ruleset=ruleset) as ns:
        ns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1",
               "net.netfilter.nf_conntrack_timestamp=1")
        _real_traffic(ns)
        ns.python(
            "import socket\n"
            "from pyroute2 import NFCTSocket\n"
            "from pyroute2.netlink.nfnetlink.nfctsocket import "
            "NFCTAttrTuple\n"
            "s = NFCTSocket()\n"
            "t = NFCTAttrTuple(saddr='10.9.0.1', daddr='10.9.0.2', "
            "proto=17, sport=1, dport=2)\n"
            "s.entry('add', timeout=300, tuple_orig=t, "
            "tuple_reply=t.reverse(), labels=(1 << 100) | 0xabcd, "
            "labels_mask=(1 << 128) - 1)\n")
        r = ns.ovsct("dump-conntrack", "-s", DP)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        labelled = [x for x in lines if "10.9.0.1" in x]
        assert len(labelled) == 1
        assert ",labels=0x%x" % ((1 << 100) | 0xabcd) in labelled[0]
        tcp = [x for x in lines if x.startswith("tcp,")]
        assert tcp and ",packets=" in tcp[0] and ",bytes=" in tcp[0]
        assert ",start=" in tcp[0]
        r = ns.ovsct("-f", "json", "dump-conntrack", DP)
        data = json.loads(r.stdout)
        assert any(e["labels"] == (1 << 100) | 0xabcd for e in data)
        assert any(e.get("counters", {}).get("orig", {}).get("packets")
                   for e in data)


def test_stats_bkts_and_sysctls():
    with Netns() as ns:
        _populate(ns)
        n = len(ns.kernel_entries())
        r = ns.ovsct("ct-get-nconns", DP)
        assert r.returncode == 0 and r.stdout == "%d\n" % n
        r = ns.ovsct("ct-stats-show", "-m", DP)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Connections Stats:\n    Total: %d\n" % n)
        assert "  TCP: 4\n" in r.stdout and "[ESTABLISHED]=1" in r.stdout
        assert "  ICMPv6: 1\n" in r.stdout
        r = ns.ovsct("ct-stats-show", DP, "zone=5")
        assert r.stdout == ("Connections Stats:\n    Total: 2\n  TCP: 1\n"
                            "  UDP: 1\n")
        buckets = int(ns.run("sysctl", "-n",
                             "net.netfilter.nf_conntrack_buckets").stdout)
        r = ns.ovsct("ct-bkts", DP)
        assert r.returncode == 0
        assert r.stdout.startswith("Total Buckets: %d\nCurrent Connections:"
                                   " %d\n" % (buckets, n))
        assert "not visible" in r.stdout
        maxconns = ns.run("sysctl", "-n",
                          "net.netfilter.nf_conntrack_max").stdout
        r = ns.ovsct("ct-get-maxconns", DP)
        assert r.returncode == 0 and r.stdout == maxconns
        # Read-only in a child namespace: a clear error, exit 2.
        r = ns.ovsct("ct-set-maxconns", DP, "1000")
        assert r.returncode == 2
        assert r.stderr.startswith("ovsct: ct set maxconns failed: ")
        assert "read-only" in r.stderr
        # tcp-seq-chk is nf_conntrack_tcp_be_liberal inverted.
        for cmd, text, liberal in (
                ("ct-disable-tcp-seq-chk", "disabling", "1"),
                ("ct-enable-tcp-seq-chk", "enabling", "0")):
            r = ns.ovsct(cmd, DP)
            assert r.stdout == "%s TCP sequence checking successful\n" % text
            assert ns.run("sysctl", "-n",
                          "net.netfilter.nf_conntrack_tcp_be_liberal"
                          ).stdout.strip() == liberal
            r = ns.ovsct("ct-get-tcp-seq-chk", DP)
            assert r.stdout == "TCP sequence checking: %s\n" % (
                "enabled" if liberal == "0" else "disabled")


@pytest.mark.parametrize("command", sorted(UNSUPPORTED))
def test_unsupported_commands(command):
    with Netns(ruleset="") as ns:
        arg, text = UNSUPPORTED[command]
        r = ns.ovsct(command, DP, *([arg] if arg else []))
        assert r.returncode == 2
        assert r.stderr == text


def test_state_filter_on_kernel_entries():
    """state=S[,S...] (the userspace dump filter, issue 13) on the kernel
    datapath: dump-conntrack (text and JSON) and ct-stats-show select the
    TCP entries whose state, as the dump prints it, is one of S; the
    kernel's SYN_RECV prints as ESTABLISHED, so state=ESTABLISHED selects
    it too.  Compared with the kernel's own view (conntrack -L)."""
    with Netns() as ns:
        _populate(ns)
        _insert(ns, "-p", "tcp", "-s", "10.0.0.4", "-d", "10.0.0.2",
                "--sport", "1004", "--dport", "80", "--state", "SYN_RECV")
        _real_traffic(ns)       # A real TCP connection over lo, closed.
        kernel = ns.kernel_entries()

        def expected(states, zone=None):
            return sorted(key_of(e) for e in kernel
                          if e["proto"] == 6 and e["state"] in states
                          and (zone is None or e["zone"] == zone))

        # The kernel's SYN_RECV is shown as ESTABLISHED.
        established = expected({"ESTABLISHED", "SYN_RECV"})
        assert len(established) == 2
        r = ns.ovsct("dump-conntrack", DP, "state=ESTABLISHED")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert sorted(key_of(parse_ovs_line(x)) for x in lines) \
            == established
        assert all("protoinfo=(state=ESTABLISHED)" in x for x in lines)

        # Several states, any case, in any order with zone= and a match.
        r = ns.ovsct("dump-conntrack", "-m", DP, "state=time_wait,SYN_SENT",
                     "mark=9")
        assert r.returncode == 0, r.stderr
        assert [parse_ovs_line(x)["orig"]["sport"]
                for x in r.stdout.splitlines()] == [1002]
        r = ns.ovsct("dump-conntrack", DP, "zone=5",
                     "state=ESTABLISHED,FIN_WAIT_1")
        assert sorted(key_of(parse_ovs_line(x))
                      for x in r.stdout.splitlines()) \
            == expected({"ESTABLISHED"}, zone=5)
        r = ns.ovsct("dump-conntrack", DP, "state=FIN_WAIT_1",
                     "ct_nw_src=10.0.0.0/24")
        assert sorted(key_of(parse_ovs_line(x))
                      for x in r.stdout.splitlines()) \
            == expected({"FIN_WAIT_1"}) != []
        r = ns.ovsct("-f", "json", "dump-conntrack", DP, "state=SYN_SENT")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert [e["orig"]["sport"] for e in data] == [1001]
        assert data[0]["tcp"]["state"] == "SYN_SENT"

        # ct-stats-show with the same filter.
        r = ns.ovsct("ct-stats-show", DP, "state=ESTABLISHED")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Connections Stats:\n    Total: %d\n"
                                   "  TCP: %d\n" % (len(established),
                                                    len(established)))
        r = ns.ovsct("-f", "json", "ct-stats-show", DP, "state=TIME_WAIT",
                     "zone=0")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["total"] \
            == len(expected({"TIME_WAIT"}, zone=0)) >= 1

        # A bad state: the userspace dump's error, exit 2.
        r = ns.ovsct("dump-conntrack", DP, "state=BOGUS")
        assert r.returncode == 2
        assert "failed to parse state" in r.stderr


def test_other_namespace_is_not_seen():
    """Entries live in the namespace that made them: another namespace's
    dump does not show them."""
    with Netns() as a, Netns() as b:
        _populate(a)
        r = b.ovsct("dump-conntrack", DP)
        assert r.returncode == 0 and r.stdout == ""
        r = b.ovsct("ct-get-nconns", DP)
        assert r.stdout == "0\n"


def test_through_ovsctd():
    """The real ovs-appctl through a real ovsctd running in the namespace."""
    from pyroute2 import netns

    from daemonlib import Ovsctd
    with Netns() as ns:
        _populate(ns)
        d = Ovsctd()
        netns.pushns(ns.name)       # The daemon's namespace is ns.
        try:
            d.start()
        finally:
            netns.popns()
        try:
            r = d.appctl("dpctl/dump-conntrack", DP)
            assert r.returncode == 0, r.stderr
            _compare(ns, r.stdout.decode().splitlines())
            r = d.appctl("dpctl/dump-conntrack", "-m", DP, "zone=5")
            assert r.returncode == 0
            assert len(r.stdout.decode().splitlines()) == 2
            r = d.appctl("dpctl/dump-conntrack", DP, "state=TIME_WAIT")
            assert r.returncode == 0, r.stderr
            assert [parse_ovs_line(x)["orig"]["sport"]
                    for x in r.stdout.decode().splitlines()] == [1002]
            r = d.appctl("dpctl/flush-conntrack", DP, "zone=5",
                         "ct_nw_src=10.0.0.3,ct_nw_dst=10.0.0.2,"
                         "ct_nw_proto=17,ct_tp_src=1000,ct_tp_dst=53")
            assert r.returncode == 0, r.stderr
            left = ns.kernel_entries()
            assert not [e for e in left if e["orig"]["src"] == "10.0.0.3"]
            r = d.appctl("dpctl/ct-get-nconns", DP)
            assert r.stdout.decode() == "%d\n" % len(left)
            # The userspace datapath is still ours.
            r = d.appctl("dpctl/ct-get-nconns")
            assert r.stdout.decode() == "0\n"
        finally:
            d.stop()
