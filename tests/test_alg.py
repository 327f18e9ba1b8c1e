"""ALG helpers at the engine level: expectations' life cycle, flush by
zone and with the parent, expiry, and FTP through SNAT and DNAT with the
payload rewrite and the sequence adjustment (OVS's lib/conntrack.c
handle_ftp_ctl()).  The per-packet states against OVS itself are in
tests/test_ovs_oracle.py (capture set "alg")."""
from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest

from enginecheck import require_engine  # noqa: E402

require_engine()
import dpkt  # noqa: E402

from ovsct.engine import Conntrack  # noqa: E402
from ovsct.format import ct_state_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "alg_pcaps", ROOT / "tests" / "gen" / "alg_pcaps.py")
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)


@pytest.fixture
def ct():
    with Conntrack(manual_clock=True, sweeper=False) as c:
        yield c


def states(ct, frames, action):
    return [ct_state_name(s) for s in ct.execute_frames(frames, action)]


def test_active_ftp_expectation_and_related(ct):
    frames = G.ftp_active4()
    got = states(ct, frames[:6], "ct(commit,alg=ftp)")
    assert got[4] == "est|trk"
    assert ct.dump_exp() == [
        "tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),"
        "parent=(src=10.1.1.1,dst=10.1.1.2,sport=33333,dport=21)"]
    assert states(ct, frames[6:9], "ct(commit)") == [
        "new|rel|trk", "est|rel|rpl|trk", "est|rel|trk"]
    dump = ct.dump_text(verbose=True)
    assert "dport=33333),id=0,status=0,protoinfo=(state_orig=ESTABLISHED," \
           "state_reply=ESTABLISHED,flags_orig=0,flags_reply=0),helper=ftp" \
           in dump
    assert ",parent=(src=10.1.1.1,dst=10.1.1.2,sport=33333,dport=21)" \
        in dump
    assert "parent=" not in ct.dump_text()
    # The expectation stays while its parent lives (OVS removes it with
    # the parent only).
    assert len(ct.dump_exp()) == 1


def test_no_alg_no_expectation(ct):
    got = states(ct, G.ftp_active4(), "ct(commit)")
    assert got[6] == "new|trk"
    assert ct.dump_exp() == []
    assert "helper=" not in ct.dump_text()


def test_uncommitted_expected_packet_is_related_new(ct):
    frames = G.ftp_passive4()
    states(ct, frames[:6], "ct(commit,alg=ftp)")
    assert states(ct, frames[6:7], "ct") == ["new|rel|trk"]
    assert ct.nconns() == 1


def test_flush_zone_and_parent_remove_expectations(ct):
    frames = G.ftp_passive4()
    states(ct, frames[:6], "ct(commit,zone=5,alg=ftp)")
    assert ct.dump_exp(zone=5) and ct.dump_exp(zone=6) == []
    assert ct.dump_exp()[0].endswith(
        "dport=30000),zone=5,parent=(src=10.1.1.1,dst=10.1.1.2,"
        "sport=33334,dport=21)")
    ct.flush(zone=6)
    assert len(ct.dump_exp()) == 1
    ct.flush(zone=5)
    assert ct.dump_exp() == []
    # The data connection is now a plain new one.
    assert states(ct, frames[6:7], "ct(commit,zone=5)") == ["new|trk"]


def test_flush_all_and_expiry(ct):
    frames = G.tftp4()
    states(ct, frames[:1], "ct(commit,alg=tftp)")
    assert len(ct.dump_exp()) == 1
    ct.flush()
    assert ct.dump_exp() == []
    states(ct, frames[:1], "ct(commit,alg=tftp)")
    assert len(ct.dump_exp()) == 1
    ct.advance(120_000)         # beyond udp_first: the parent expires
    assert ct.dump_exp() == []
    assert states(ct, frames[1:2], "ct(commit)") == ["new|trk"]
    ct.sweep_now()
    assert ct.dump_exp() == []


def test_bad_port_is_invalid_and_expects_nothing(ct):
    got = states(ct, G.ftp_bad_port(), "ct(commit,alg=ftp)")
    assert [got[i] for i in (3, 5, 7, 9, 11)] == ["est|inv|trk"] * 5
    assert ct.dump_exp() == []


def _tcp(frame):
    eth = dpkt.ethernet.Ethernet(frame)
    return eth.data, eth.data.data


def _csum_ok(frame):
    ip, tcp = _tcp(frame)
    raw = bytes(ip)
    if isinstance(ip, dpkt.ip.IP):
        from framebuild import csum, pseudo
        seg = raw[ip.hl * 4:ip.len]
        return csum(pseudo(
            ".".join(map(str, ip.src)), ".".join(map(str, ip.dst)), 6,
            len(seg)) + seg) == 0 and csum(raw[:ip.hl * 4]) == 0
    return True


def test_active_ftp_through_snat(ct):
    """Client 10.1.1.1 behind SNAT to 192.168.0.100: PORT is rewritten to
    the public address (5 bytes longer), the client's later segments are
    moved on by 5, the server's acks moved back; the server's data
    connection to the public address is translated back to the client."""
    nat = "ct(commit,alg=ftp,nat(src=192.168.0.100))"
    c, s, pub = "10.1.1.1", "10.1.1.2", "192.168.0.100"
    inside = G.Tcp(c, 33333, s, 21)
    outside = G.Tcp(pub, 33333, s, 21)
    hs_in, hs_out = inside.handshake(), outside.handshake()
    st, out = ct.execute_room([hs_in[0]], nat)
    assert ct_state_name(st[0]) == "new|trk|snat"
    st, _ = ct.execute_room([hs_out[1]], nat)
    assert ct_state_name(st[0]) == "est|rpl|trk|dnat"
    ct.execute_room([hs_in[2]], nat)
    port = inside.a_sends(b"PORT 10,1,1,1,156,64\r\n")
    outside.sa += len(b"PORT 192,168,0,100,156,64\r\n")
    st, out = ct.execute_room([port], nat)
    assert ct_state_name(st[0]) == "est|trk|snat"
    ip, tcp = _tcp(out[0])
    assert tcp.data == b"PORT 192,168,0,100,156,64\r\n"
    assert len(out[0]) == len(port) + 5 and _csum_ok(out[0])
    # Server acks the longer segment: the client must see its own numbers.
    reply = outside.b_sends(b"200 ok\r\n")
    st, out = ct.execute_room([reply], nat)
    assert ct_state_name(st[0]) == "est|rpl|trk|dnat"
    _, tcp = _tcp(out[0])
    assert tcp.ack == inside.sa and _csum_ok(out[0])
    quit_ = inside.a_sends(b"QUIT\r\n")
    st, out = ct.execute_room([quit_], nat)
    assert ct_state_name(st[0]) == "est|trk|snat"
    _, tcp = _tcp(out[0])
    assert tcp.seq == inside.sa - 6 + 5 and _csum_ok(out[0])
    assert ct.dump_exp() == [
        "tcp,orig=(src=10.1.1.2,dst=192.168.0.100,sport=0,dport=40000),"
        "parent=(src=10.1.1.1,dst=10.1.1.2,sport=33333,dport=21)"]
    data = G.Tcp(s, 20, pub, 40000).handshake()[0]
    st, out = ct.execute_room([data], "ct(commit,nat)")
    assert ct_state_name(st[0]) == "new|rel|trk|dnat"
    ip, _ = _tcp(out[0])
    assert ".".join(map(str, ip.dst)) == c


def test_passive_ftp_through_dnat(ct):
    """Server 10.1.1.2 behind DNAT from 172.16.0.1: the 227 reply carries
    the server's real address, rewritten to the public one (3 bytes
    shorter); the client's data connection to the public address is
    translated to the server."""
    nat = "ct(commit,alg=ftp,nat(dst=10.1.1.2))"
    c, vip, s = "10.1.1.1", "172.16.0.1", "10.1.1.2"
    front = G.Tcp(c, 33334, vip, 21)
    back = G.Tcp(c, 33334, s, 21)
    hf, hb = front.handshake(), back.handshake()
    assert ct_state_name(ct.execute_room([hf[0]], nat)[0][0]) \
        == "new|trk|dnat"
    assert ct_state_name(ct.execute_room([hb[1]], nat)[0][0]) \
        == "est|rpl|trk|snat"
    ct.execute_room([hf[2]], nat)
    pasv = front.a_sends(b"PASV\r\n")
    back.sa += 6
    ct.execute_room([pasv], nat)
    msg = b"227 Entering Passive Mode (10,1,1,2,117,48)\r\n"
    st, out = ct.execute_room([back.b_sends(msg)], nat)
    assert ct_state_name(st[0]) == "est|rpl|trk|snat"
    _, tcp = _tcp(out[0])
    assert tcp.data == b"227 Entering Passive Mode (172,16,0,1,117,48)\r\n"
    assert _csum_ok(out[0])
    front.sb += len(tcp.data)
    # The client's ack covers the shorter text: moved back for the server.
    ack = front.a_sends(b"LIST\r\n")
    st, out = ct.execute_room([ack], nat)
    _, tcp = _tcp(out[0])
    assert tcp.ack == back.sb and _csum_ok(out[0])
    assert ct.dump_exp() == [
        "tcp,orig=(src=10.1.1.1,dst=172.16.0.1,sport=0,dport=30000),"
        "parent=(src=10.1.1.1,dst=172.16.0.1,sport=33334,dport=21)"]
    data = G.Tcp(c, 41000, vip, 30000).handshake()[0]
    st, out = ct.execute_room([data], "ct(commit,nat)")
    assert ct_state_name(st[0]) == "new|rel|trk|dnat"
    ip, _ = _tcp(out[0])
    assert ".".join(map(str, ip.dst)) == s


def test_no_room_no_rewrite(ct):
    """Without room to grow (execute() without lens) OVS's MTU check
    refuses the rewrite; the expectation is made all the same."""
    nat = "ct(commit,alg=ftp,nat(src=192.168.0.100))"
    t = G.Tcp("10.1.1.1", 33333, "10.1.1.2", 21)
    hs = t.handshake()
    ct.execute_frames(hs[:1], nat)
    port = t.a_sends(b"PORT 10,1,1,1,156,64\r\n")
    buf = bytearray(port)
    from array import array
    ct.execute(buf, array("I", [0, len(buf)]), nat)
    assert bytes(buf).find(b"PORT 10,1,1,1,156,64") > 0
    assert len(ct.dump_exp()) == 1


def test_alg_action_text():
    from ovsct.action import parse_ct_action
    assert str(parse_ct_action("ct(commit,alg=tftp)")) == \
        "ct(commit,alg=tftp)"
    with pytest.raises(ValueError, match='invalid "alg" argument "sip"'):
        parse_ct_action("ct(commit,alg=sip)")
    assert struct.calcsize("I") == 4
