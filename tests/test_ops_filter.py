"""Issue 13, filtered dumps: the arguments dump-conntrack and ct-stats-show
take (the flush-conntrack match, CIDR prefixes, state=) parsed into one
FlushFilter, which rows they select, and flush-conntrack with a prefix;
and the three exchanges with the real ovs-appctl that now answer as OVS
3.1 does (tests/data/ovs/ holds its texts)."""

import json
import os
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

import pytest

from ovsct.commands.flush import (ParseError, parse_dump_filter,
                                  parse_flush_args)
from enginecheck import needs_engine  # noqa: E402
from daemonlib import OVS_APPCTL, ROOT, Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402

needs_appctl = pytest.mark.skipif(not os.access(OVS_APPCTL, os.X_OK),
                                  reason="ovs-appctl not installed")
DATA = Path(ROOT) / "tests" / "data"


def parse(*args):
    return parse_dump_filter(list(args), [])


def parse_error(*args):
    ds = []
    with pytest.raises(ParseError):
        parse_dump_filter(list(args), ds)
    return "".join(ds)


# ---------------------------------------------------------------------------
# Parsing.

def test_prefixes_are_parsed_and_host_bits_cleared():
    flt = parse("ct_nw_src=10.1.2.3/16,ct_nw_dst=10.9.9.9")
    assert flt.orig.src == IPv4Address("10.1.0.0")
    assert flt.orig.src_plen == 16
    assert flt.orig.dst == IPv4Address("10.9.9.9")
    assert flt.orig.dst_plen is None
    assert not flt.is_five_tuple() and flt.has_extensions()
    v6 = parse("ct_ipv6_src=fc00::1:2/112")
    assert (v6.orig.src, v6.orig.src_plen) == (IPv6Address("fc00::1:0"), 112)
    # A full-length prefix is the whole address.
    full = parse("ct_nw_src=10.0.0.1/32")
    assert full.orig.src_plen is None and not full.has_extensions()
    # The same in flush-conntrack's grammar.
    flush = parse_flush_args(["ct_nw_src=10.1.0.0/16"], [])
    assert flush.orig.src_plen == 16 and not flush.is_zero()


def test_match_arguments_in_any_order():
    a = parse("state=established,time_wait", "mark=5/0xff", "zone=3",
              "ct_nw_proto=6,ct_nw_src=10.0.0.2", "ct_nw_dst=10.0.0.2")
    b = parse("zone=3", "mark=5/0xff", "ct_nw_proto=6,ct_nw_src=10.0.0.2",
              "state=TIME_WAIT,ESTABLISHED", "ct_nw_dst=10.0.0.2")
    assert a == b
    assert a.zone == 3 and (a.mark, a.mark_mask) == (5, 0xff)
    assert a.states == {"ESTABLISHED", "TIME_WAIT"}
    assert a.orig.proto == a.reply.proto == 6
    # The first tuple is the original direction, the second the reply.
    assert a.orig.src == a.reply.dst == IPv4Address("10.0.0.2")
    assert a.orig.dst is None and a.reply.src is None


@pytest.mark.parametrize("args,error", [
    (["ct_nw_src=10.0.0.0/33"], "failed to parse field ct_nw_src"),
    (["ct_nw_src=10.0.0.0/x"], "failed to parse field ct_nw_src"),
    (["ct_ipv6_src=fc00::/129"], "failed to parse field ct_ipv6_src"),
    (["state=OPEN"], "failed to parse state"),
    (["state="], "failed to parse state"),
    (["zone=1", "zone=2"], "zone is set multiple times"),
    (["ct_nw_proto=6", "ct_nw_proto=6", "ct_nw_proto=6"],
     "invalid arguments"),
    (["labels=x"], "failed to parse labels"),
])
def test_bad_filters(args, error):
    assert parse_error(*args).startswith(error)


# ---------------------------------------------------------------------------
# Semantics, on real captures through the engine.

def _offline(pcap, *args, action="ct(commit)", fmt="text"):
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "ovsct.cli", "-r", str(DATA / pcap),
           "--action=" + action, "-f", fmt] + list(args)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def _rows(pcap, *args, **kw):
    # Without "bucket": each run's engine hashes with its own seed.
    rows = json.loads(_offline(pcap, "dump-conntrack", *args, fmt="json",
                               **kw))
    for row in rows:
        del row["bucket"]
    return rows


@needs_engine
@pytest.mark.parametrize("net", ["10.0.0.0/24", "10.0.0.0/8", "10.1.0.0/16",
                                 "10.0.0.2/31", "0.0.0.0/0"])
def test_prefix_selects_the_rows_in_the_network(net):
    rows = _rows("udp.pcap")
    want = [r for r in rows if r["l3"] == 4
            and ip_address(r["orig"]["src"]) in ip_network(net)]
    assert _rows("udp.pcap", "ct_nw_src=" + net) == want
    # The text dump selects the same connections.
    text = _offline("udp.pcap", "dump-conntrack", "ct_nw_src=" + net)
    assert len(text.splitlines()) == len(want)
    for r in want:
        assert "orig=(src=%s,dst=%s," % (r["orig"]["src"],
                                         r["orig"]["dst"]) in text


@needs_engine
def test_reply_tuple_and_ipv6_prefix():
    rows = _rows("udp.pcap")
    want = [r for r in rows if r["l3"] == 6
            and ip_address(r["reply"]["src"]) in ip_network("fc00::/124")]
    assert want and len(want) < len(rows)
    got = _rows("udp.pcap", "", "ct_ipv6_src=fc00::/124")
    assert got == want


@needs_engine
def test_state_filter_uses_the_printed_state():
    rows = _rows("tcp.pcap")
    for state in ("TIME_WAIT", "ESTABLISHED", "SYN_SENT"):
        want = [r for r in rows if r["tcp"]["state"] == state]
        assert _rows("tcp.pcap", "state=" + state.lower()) == want
        text = _offline("tcp.pcap", "dump-conntrack", "state=" + state)
        assert text.count("state=%s)" % state) == len(want)
        assert len(text.splitlines()) == len(want)
    # -m prints both states; the filter still takes the coalesced one.
    verbose = _offline("tcp.pcap", "dump-conntrack", "-m", "state=TIME_WAIT")
    assert len(verbose.splitlines()) == len(
        [r for r in rows if r["tcp"]["state"] == "TIME_WAIT"])
    # Not TCP: never selected by a state.
    assert _rows("udp.pcap", "state=ESTABLISHED") == []


@needs_engine
def test_mark_and_stats_filters():
    action = "ct(commit,zone=5,exec(set_field:7->ct_mark))"
    rows = _rows("icmp.pcap", action=action)
    assert rows and all(r["mark"] == 7 for r in rows)
    assert _rows("icmp.pcap", "mark=7", action=action) == rows
    assert _rows("icmp.pcap", "mark=6/0x6", action=action) == rows
    assert _rows("icmp.pcap", "mark=1/0x1", action=action) == rows
    assert _rows("icmp.pcap", "mark=8", action=action) == []
    assert _rows("icmp.pcap", "zone=5", "mark=7", action=action) == rows
    assert _rows("icmp.pcap", "zone=4", "mark=7", action=action) == []
    stats = _offline("tcp.pcap", "ct-stats-show", "state=TIME_WAIT")
    n = len([r for r in _rows("tcp.pcap")
             if r["tcp"]["state"] == "TIME_WAIT"])
    assert stats.startswith("Connections Stats:\n    Total: %d\n" % n)


@needs_engine
def test_flush_with_a_prefix():
    from ovsct.commands import Context, dispatch
    from ovsct.engine import Conntrack

    with Conntrack(manual_clock=True, sweeper=False) as engine:
        engine.execute_pcap(str(DATA / "udp.pcap"), "ct(commit)")
        before = engine.dump()
        ctx = Context(engine=engine)
        res = dispatch(ctx, "dpctl/flush-conntrack",
                       ["ct_nw_src=10.0.0.0/24"])
        gone = [e for e in before if e.orig.l3 == 4
                and ip_address(e.orig.src) in ip_network("10.0.0.0/24")]
        assert res.data["flushed"] == len(gone) > 0
        left = {(e.orig.src, e.orig.sport) for e in engine.dump()}
        assert left == {(e.orig.src, e.orig.sport) for e in before
                        if e not in gone}


# ---------------------------------------------------------------------------
# Three exchanges with the real ovs-appctl (issue 13).

@needs_engine
@needs_appctl
def test_appctl_exchanges_as_ovs_31(tmp_path):
    pcap = str(tmp_path / "flows.pcap")
    write_udp_flows_pcap(pcap, 50)
    with Ovsctd("--pcap", pcap, timeout=60) as d:
        for seq, args in (("094", ["dpctl/flush-conntrack", *"abcde"]),
                          ("115", ["dpctl/dump-conntrack", *"abcde"])):
            golden = (DATA / "ovs" / (seq + "_err_%s_too_many.stderr"
                                      % args[0][6:])).read_bytes()
            r = d.appctl(*args)
            assert r.returncode == 2
            assert r.stderr == golden.replace(b"ovs-vswitchd", b"ovsctd")
        # gt= is parsed, and the table printed (every bucket at or below
        # the threshold shows as ".").
        r = d.appctl("dpctl/ct-bkts", "gt=100000")
        assert r.returncode == 0, r.stderr
        text = r.stdout.decode()
        assert text.startswith("Total Buckets: ")
        assert "Current Connections: 50\n" in text
        assert "|  Buckets  |         Connections per Buckets         |" \
            in text
        assert "    ." in text and not any(c.isdigit() for line in
                                           text.splitlines()[6:]
                                           for c in line.split("|")[-1])
        assert d.appctl("dpctl/ct-get-nconns").stdout == b"50\n"
