"""flush-conntrack on the kernel datapath removes exactly the matching
entries (compared with ``conntrack -L`` before and after), with OVS's
texts for errors."""

import os

import pytest

from kernellib import Netns, key_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (namespaces)")

DP = "system@ovs-system"

# (orig src, sport, zone, mark) of UDP entries 10.0.0.x -> 10.0.1.1:53,
# plus one ICMP echo and one TCP entry.
UDP = [("10.0.0.1", 1000, 0, 0), ("10.0.0.1", 1001, 5, 0),
       ("10.0.0.2", 1000, 5, 7), ("10.0.0.3", 1000, 0, 7),
       ("10.0.0.3", 1001, 9, 0x17)]


def _populate(ns):
    for src, sport, zone, mark in UDP:
        ns.conntrack("-I", "-t", "300", "-p", "udp", "-s", src, "-d",
                     "10.0.1.1", "--sport", str(sport), "--dport", "53",
                     "--zone", str(zone), "-m", str(mark))
    ns.conntrack("-I", "-t", "300", "-p", "icmp", "-s", "10.0.0.1", "-d",
                 "10.0.1.1", "--icmp-type", "8", "--icmp-code", "0",
                 "--icmp-id", "77", "--zone", "5")
    ns.conntrack("-I", "-t", "300", "-p", "tcp", "-s", "10.0.0.1", "-d",
                 "10.0.1.1", "--sport", "4000", "--dport", "80", "--state",
                 "ESTABLISHED")


def _keys(ns):
    return {key_of(e) for e in ns.kernel_entries()}


def _udp_key(src, sport, zone):
    return (zone, 17, src, "10.0.1.1", sport, 53, None, None)


ICMP_KEY = (5, 1, "10.0.0.1", "10.0.1.1", None, None, 77, 8)
TCP_KEY = (0, 6, "10.0.0.1", "10.0.1.1", 4000, 80, None, None)

CASES = [
    # (arguments, keys removed)
    ([], "all"),
    (["zone=5"], [_udp_key("10.0.0.1", 1001, 5),
                  _udp_key("10.0.0.2", 1000, 5), ICMP_KEY]),
    (["mark=7"], [_udp_key("10.0.0.2", 1000, 5),
                  _udp_key("10.0.0.3", 1000, 0)]),
    (["mark=0x7/0x7"], [_udp_key("10.0.0.2", 1000, 5),
                        _udp_key("10.0.0.3", 1000, 0),
                        _udp_key("10.0.0.3", 1001, 9)]),
    (["zone=5", "mark=7"], [_udp_key("10.0.0.2", 1000, 5)]),
    (["ct_nw_src=10.0.0.3"], [_udp_key("10.0.0.3", 1000, 0),
                              _udp_key("10.0.0.3", 1001, 9)]),
    (["ct_nw_proto=17,ct_tp_src=1000"],
     [_udp_key("10.0.0.1", 1000, 0), _udp_key("10.0.0.2", 1000, 5),
      _udp_key("10.0.0.3", 1000, 0)]),
    # Five-tuple: zone 0 unless given.
    (["ct_nw_src=10.0.0.1,ct_nw_dst=10.0.1.1,ct_nw_proto=17,ct_tp_src=1000,"
      "ct_tp_dst=53"], [_udp_key("10.0.0.1", 1000, 0)]),
    (["zone=5", "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.1.1,ct_nw_proto=17,"
      "ct_tp_src=1001,ct_tp_dst=53"], [_udp_key("10.0.0.1", 1001, 5)]),
    (["zone=5", "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.1.1,ct_nw_proto=1,"
      "icmp_type=8,icmp_code=0,icmp_id=77"], [ICMP_KEY]),
    # Reply tuple only.
    (["", "ct_nw_src=10.0.1.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,"
      "ct_tp_src=53,ct_tp_dst=1000"], [_udp_key("10.0.0.2", 1000, 5)]),
    (["ct_nw_proto=6"], [TCP_KEY]),
    # CIDR prefixes (an extension of the flush grammar): every address in
    # the prefix, never a whole-table or a one-address flush.
    (["ct_nw_src=10.0.0.2/31"], [_udp_key("10.0.0.2", 1000, 5),
                                 _udp_key("10.0.0.3", 1000, 0),
                                 _udp_key("10.0.0.3", 1001, 9)]),
    (["ct_nw_src=10.0.0.0/30,ct_nw_proto=17,ct_tp_src=1001"],
     [_udp_key("10.0.0.1", 1001, 5), _udp_key("10.0.0.3", 1001, 9)]),
    (["ct_nw_src=10.0.1.0/24"], []),
]


@pytest.mark.parametrize("args,removed", CASES,
                         ids=[" ".join(a) or "all" for a, _ in CASES])
def test_flush_removes_exactly_the_matches(args, removed):
    with Netns(ruleset="") as ns:
        _populate(ns)
        before = _keys(ns)
        assert len(before) == len(UDP) + 2
        r = ns.ovsct("flush-conntrack", DP, *args)
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
        after = _keys(ns)
        expected = set() if removed == "all" else before - set(removed)
        if removed != "all":
            assert set(removed) <= before
        assert after == expected


ERRORS = [
    (["ct_nw_src=10.9.9.9,ct_nw_dst=10.1.0.2,ct_nw_proto=17,ct_tp_src=1,"
      "ct_tp_dst=2"],
     "ovsct: failed to flush conntrack (No such file or directory)\n"),
    (["zone=abc"], "ovsct: failed to parse zone (Invalid argument)\n"),
    (["ct_nw_src=1.2.3"],
     "ovsct: failed to parse field ct_nw_src (Invalid argument)\n"),
    (["foo=1"],
     "ovsct: invalid conntrack tuple field: foo (Invalid argument)\n"),
    (["zone=5", "ct_nw_src=10.0.0.1,ct_tp_src=1"],
     "ovsct: port is set without protocol (Invalid argument)\n"),
]


@pytest.mark.parametrize("args,text", ERRORS,
                         ids=[" ".join(a) for a, _ in ERRORS])
def test_flush_errors_leave_the_table(args, text):
    with Netns(ruleset="") as ns:
        _populate(ns)
        before = _keys(ns)
        r = ns.ovsct("flush-conntrack", DP, *args)
        assert r.returncode == 2
        assert r.stderr == text
        assert _keys(ns) == before
