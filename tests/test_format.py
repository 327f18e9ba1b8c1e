"""ovsct.format: the OVS text forms against the golden outputs of a real
OVS 3.1 (tests/data/ovs), and the JSON shapes.  Pure: no
engine; entries are stand-in objects with Entry's attributes."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from ovsct import format as fmt
import entryjson  # noqa: E402  (tests/lib: the reference of the C JSON)

OUT = Path(__file__).parent / "data" / "ovs"


def golden(name: str) -> str:
    """The stdout of one golden command of tests/data/ovs."""
    return (OUT / name).read_text()


def stats(total, tcp_states=None, **per_proto):
    return {"total": total, "per_proto": per_proto,
            "tcp_states": tcp_states or {}}


# ---------------------------------------------------------------------------
# Error lines

def test_error_line():
    assert fmt.error_line("ovsctd", "invalid zone", 22) == \
        "ovsctd: invalid zone (Invalid argument)"
    assert fmt.error_line("ovsctd", "failed to flush conntrack", 2) == \
        "ovsctd: failed to flush conntrack (No such file or directory)"
    assert fmt.error_line("p", "no datapaths exist") == \
        "p: no datapaths exist"


# ---------------------------------------------------------------------------
# ct-stats-show

GOLDEN_TCP_STATES = {"SYN_SENT": 4, "ESTABLISHED": 3, "TIME_WAIT": 1}


def test_stats_empty():
    assert fmt.stats_text(stats(0), False) == \
        golden("007_empty_dpctl_ct-stats-show.txt")
    assert fmt.stats_text(stats(0), True) == "Connections Stats:\n" \
        "    Total: 0\n"


def test_stats_golden_without_icmpv6():
    # OVS 3.1 counted one ICMPv6 entry in Total and printed no line for it
    # (029); with no ICMPv6 entry our text is OVS's.
    s = stats(22, GOLDEN_TCP_STATES, tcp=8, udp=11, icmp=3)
    g = golden("029_dpctl_ct-stats-show.txt").replace("Total: 23",
                                                      "Total: 22")
    assert fmt.stats_text(s, False) == g
    g = golden("030_dpctl_ct-stats-show_-m.txt").replace("Total: 23",
                                                         "Total: 22")
    assert fmt.stats_text(s, True) == g
    assert golden("033_dpctl_ct-stats-show_verbose.txt") == \
        golden("030_dpctl_ct-stats-show_-m.txt")


def test_stats_icmpv6_line():
    # man/ovsct-commands.man, "Differences from Open vSwitch" 2: the
    # ICMPv6 line follows the ICMP line.
    s = stats(23, GOLDEN_TCP_STATES, tcp=8, udp=11, icmp=3, icmpv6=1)
    g = golden("030_dpctl_ct-stats-show_-m.txt")
    assert fmt.stats_text(s, True) == g.replace(
        "  ICMP: 3\n", "  ICMP: 3\n  ICMPv6: 1\n")
    s = stats(19, {"SYN_SENT": 4}, tcp=7, udp=9, icmp=2, icmpv6=1)
    assert fmt.stats_text(s, False) == golden(
        "031_dpctl_ct-stats-show_zone=5.txt").replace(
        "  ICMP: 2\n", "  ICMP: 2\n  ICMPv6: 1\n")


def test_stats_zone7():
    s = stats(4, {"SYN_SENT": 1}, tcp=1, udp=2, icmp=1)
    assert fmt.stats_text(s, True) == golden(
        "032_dpctl_ct-stats-show_-m_zone=7.txt")


def test_stats_all_lines_in_order():
    s = stats(9, {"TIME_WAIT": 1, "CLOSED": 2}, tcp=1, udp=1, udplite=1,
              sctp=1, icmp=1, icmpv6=1, dccp=1, igmp=1, other=1)
    assert fmt.stats_text(s, True) == (
        "Connections Stats:\n    Total: 9\n  TCP: 1\n"
        "    Conn per TCP states:\n\t  [CLOSED]=2\n\t  [TIME_WAIT]=1\n"
        "  UDP: 1\n  UDPLITE: 1\n  SCTP: 1\n  ICMP: 1\n  ICMPv6: 1\n"
        "  DCCP: 1\n  IGMP: 1\n  Other: 1\n")


def test_stats_json():
    j = fmt.stats_json(stats(3, {"SYN_SENT": 1}, tcp=1, icmpv6=2), 5)
    assert j["zone"] == 5 and j["total"] == 3
    assert j["per_proto"]["icmpv6"] == 2 and j["per_proto"]["udp"] == 0
    assert list(j["per_proto"]) == ["tcp", "udp", "udplite", "sctp", "icmp",
                                    "icmpv6", "dccp", "igmp", "other"]
    assert j["tcp_states"]["SYN_SENT"] == 1
    assert len(j["tcp_states"]) == 11


# ---------------------------------------------------------------------------
# ct-bkts

def test_bkts_golden():
    assert fmt.bkts_text([0], 0) == golden("008_empty_dpctl_ct-bkts.txt")
    assert fmt.bkts_text([23], 0) == golden("035_dpctl_ct-bkts.txt")
    assert fmt.bkts_text([23], 1) == golden("036_dpctl_ct-bkts_gt=1.txt")


def test_bkts_rows():
    counts = [0, 1, 2, 3, 0, 0, 0, 7, 8, 0]
    assert fmt.bkts_text(counts, 1) == (
        "Total Buckets: 10\nCurrent Connections: 21\n\n"
        "+-----------+-----------------------------------------+\n"
        "|  Buckets  |         Connections per Buckets         |\n"
        "+-----------+-----------------------------------------+\n"
        "   0..  7   |     .    .    2    3    .    .    .    7\n"
        "   8.. 15   |     8    .\n\n")
    assert fmt.bkts_text([0] * 16, 0) == \
        "Total Buckets: 16\nCurrent Connections: 0\n\n"
    assert fmt.bkts_text([], 0) == "Total Buckets: 0\nCurrent " \
        "Connections: 0\n\n"
    assert fmt.bkts_json([1, 0, 2], 0) == {
        "total_buckets": 3, "connections": 3, "gt": 0, "buckets": [1, 0, 2]}


# ---------------------------------------------------------------------------
# ct-get-limits

@pytest.mark.parametrize("name, default, rows", [
    ("011_default_dpctl_ct-get-limits.txt", 0, []),
    ("039_dpctl_ct-get-limits.txt", 0, [(5, 10, 0)]),
    ("041_dpctl_ct-get-limits_zone=5,7.txt", 0, [(5, 10, 0), (7, 0, 0)]),
    ("044_dpctl_ct-get-limits_zone=5,7,9.txt", 100,
     [(5, 10, 0), (7, 3, 0), (9, 100, 0)]),
    ("045_dpctl_ct-get-limits_zone=7_over_limit.txt", 100, [(7, 3, 3)]),
    ("055_dpctl_ct-get-limits_after_restore.txt", 4294967295, []),
    ("057_dpctl_ct-get-limits_dp_zone=5.txt", 4294967295,
     [(5, 4294967295, 2)]),
])
def test_limits_golden(name, default, rows):
    assert fmt.limits_text(default, rows) == golden(name)


def test_limits_json():
    assert fmt.limits_json(7, [(1, 5, 2)]) == {
        "default": 7, "zones": [{"zone": 1, "limit": 5, "count": 2}]}


# ---------------------------------------------------------------------------
# Timeout policies

def test_zone_tps_golden():
    policies = {
        7: {"udp_first": 7},
        5: {"udp_first": 120, "udp_single": 121, "udp_multiple": 122,
            "icmp_first": 50, "icmp_reply": 51, "tcp_syn_sent": 20,
            "tcp_established": 3600},
    }
    assert fmt.zone_tps_text(policies) == golden("130_tp_list-zone-tp.txt")
    del policies[5]
    assert fmt.zone_tps_text(policies) == golden(
        "137_tp_list-zone-tp_after_del.txt")
    assert fmt.zone_tps_text({}) == ""
    assert fmt.zone_tps_json({9: {"b": 2, "a": 1}, 3: {}}) == [
        {"zone": 3, "policies": {}},
        {"zone": 9, "policies": {"a": 1, "b": 2}}]


# ---------------------------------------------------------------------------
# Dump JSON

def tup(proto, src, dst, sport=0, dport=0, icmp_id=0, icmp_type=0,
        icmp_code=0, l3=4):
    return SimpleNamespace(l3=l3, proto=proto, src=src, dst=dst, sport=sport,
                           dport=dport, icmp_id=icmp_id, icmp_type=icmp_type,
                           icmp_code=icmp_code)


def entry(orig, reply, zone=0, mark=0, labels=0, tcp_state=None,
          tcp_wscale=(0, 0), tcp_flags=(0, 0), nat=0, timeout=29, bucket=3,
          helper=None, parent=None):
    return SimpleNamespace(orig=orig, reply=reply, zone=zone, mark=mark,
                           labels=labels, expiration=0, timeout=timeout,
                           tcp_state=tcp_state, tcp_wscale=tcp_wscale,
                           tcp_flags=tcp_flags, bucket=bucket, nat=nat,
                           helper=helper, parent=parent)


def test_entry_json_tcp_nat():
    e = entry(tup(6, "10.1.1.5", "10.1.1.2", 4000, 80),
              tup(6, "10.1.1.2", "10.1.1.242", 80, 3002), zone=7, mark=42,
              labels=0xabcd, tcp_state=("SYN_SENT", "CLOSED"),
              tcp_wscale=(7, 0), tcp_flags=(1, 8), nat=0x40)
    assert entryjson.entry_json(e) == {
        "protocol": "tcp", "proto": 6, "l3": 4, "zone": 7,
        "orig": {"src": "10.1.1.5", "dst": "10.1.1.2", "sport": 4000,
                 "dport": 80},
        "reply": {"src": "10.1.1.2", "dst": "10.1.1.242", "sport": 80,
                  "dport": 3002},
        "mark": 42, "labels": 0xabcd, "timeout": 29, "bucket": 3,
        "nat": ["snat"],
        "tcp": {"state": "SYN_SENT", "state_orig": "SYN_SENT",
                "state_reply": "CLOSED", "wscale_orig": 7,
                "wscale_reply": 0, "flags_orig": ["WINDOW_SCALE"],
                "flags_reply": ["BE_LIBERAL"]},
    }


@pytest.mark.parametrize("states, shown", [
    (("FIN_WAIT_2", "FIN_WAIT_2"), "TIME_WAIT"),
    (("SYN_RECV", "SYN_SENT"), "ESTABLISHED"),
    (("ESTABLISHED", "CLOSING"), "CLOSING"),
])
def test_entry_json_coalesced_state(states, shown):
    e = entry(tup(6, "a", "b", 1, 2), tup(6, "b", "a", 2, 1),
              tcp_state=states)
    assert entryjson.entry_json(e)["tcp"]["state"] == shown


def test_entries_json_icmp_other_sorted():
    icmp6 = entry(tup(58, "fc00::1", "fc00::2", icmp_id=7, icmp_type=128,
                      l3=6),
                  tup(58, "fc00::2", "fc00::1", icmp_id=7, icmp_type=129,
                      l3=6), zone=5)
    other = entry(tup(112, "192.168.0.30", "224.0.0.18"),
                  tup(112, "224.0.0.18", "192.168.0.30"))
    out = entryjson.entries_json([icmp6, other])
    assert [o["protocol"] for o in out] == ["112", "icmpv6"]
    assert out[0]["proto"] == 112 and "tcp" not in out[0]
    assert out[1]["orig"] == {"src": "fc00::1", "dst": "fc00::2", "id": 7,
                              "type": 128, "code": 0}
    assert out[1]["reply"]["type"] == 129
    assert out[1]["l3"] == 6 and out[1]["nat"] == []


# ---------------------------------------------------------------------------
# ct/replay, list-commands

def test_ct_state_name():
    assert fmt.ct_state_name(0x21) == "new|trk"
    assert fmt.ct_state_name(0x2a) == "est|rpl|trk"
    assert fmt.ct_state_name(0xff) == "new|est|rel|rpl|inv|trk|snat|dnat"
    assert fmt.ct_state_name(0) == "0"


def test_replay():
    states = bytes([0x21, 0x2a, 0x21, 0x30])
    assert fmt.replay_text("x.pcap", "ct(commit)", states) == (
        "4 packets from x.pcap through ct(commit)\n"
        "  new|trk: 2\n  est|rpl|trk: 1\n  inv|trk: 1\n")
    assert fmt.replay_json("x.pcap", "ct(commit)", states) == {
        "file": "x.pcap", "action": "ct(commit)", "packets": 4,
        "states": {"new|trk": 2, "est|rpl|trk": 1, "inv|trk": 1}}


def test_list_commands_text():
    text = fmt.list_commands_text([("dpctl/ct-get-nconns", "[dp]"),
                                   ("dpctl/list-commands", "")])
    assert text == ("The available commands are:\n"
                    "  dpctl/ct-get-nconns           [dp]\n"
                    "  dpctl/list-commands           \n")
