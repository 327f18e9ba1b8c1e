"""NAT end to end: the Python API, the offline CLI (-r, states, dump,
--write) and the daemon.

Captures come from tests/gen/nat_pcaps.py (tests/data/nat/; the script's
docstring lists every frame); the same script builds each capture as NAT
must leave it, and the --write output is compared with that byte for byte.
Every rewritten frame is also re-read with dpkt and its checksums are
recomputed here from scratch (IPv4 header, TCP, UDP, ICMP, ICMPv6, and for
ICMP errors the quoted IPv4 header and, when the quote holds it whole, the
quoted datagram).  Translations chosen by the engine (ranges) are checked
against the range and against each other, and replies to them are built
after the forward packets went through the engine, as a server would
address them.

OVS semantics (lib/conntrack.c: conn_not_found(), nat_get_unique_tuple(),
handle_nat(); dumps as lib/ct-dpif.c ct_dpif_format_entry()): the
creating packet and later orig packets get the NAT kind (snat or dnat),
replies the opposite bit; reply=() in a dump is the reverse tuple after
NAT; exhaustion leaves the packet new|trk, untranslated, and nothing in
the table; `nat` without arguments applies an existing translation, a
ct() without nat(...) does not.
"""

from __future__ import annotations

import importlib.util
import io
import ipaddress
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import threading
from array import array
from pathlib import Path

import pytest

from enginecheck import require_engine  # noqa: E402

require_engine()
import dpkt  # noqa: E402
import framebuild  # noqa: E402
from daemonlib import OVS_APPCTL, Ovsctd  # noqa: E402

from ovsct import cli  # noqa: E402
from ovsct.engine import Conntrack, NotFound, Tuple  # noqa: E402
from ovsct.format import ct_state_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "nat"

_spec = importlib.util.spec_from_file_location(
    "nat_pcaps", ROOT / "tests" / "gen" / "nat_pcaps.py")
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)

RANGE_ACTION = "ct(commit,nat(src=10.1.1.240-10.1.1.250:3000-3010))"
RANGE_ADDRS = {f"10.1.1.{i}" for i in range(240, 251)}
RANGE_PORTS = set(range(3000, 3011))


# ---------------------------------------------------------------------------
# Helpers.

def engine() -> Conntrack:
    return Conntrack(manual_clock=True, start_ms=0, sweeper=False)


def run(ct: Conntrack, frames: list[bytes],
        action) -> tuple[list[str], list[bytes]]:
    """Runs 'frames' through 'action' in one batch; returns the ct_state
    names and the frames as the engine left them (rewritten in place)."""
    buf = bytearray(b"".join(frames))
    offsets = array("I", [0])
    for f in frames:
        offsets.append(offsets[-1] + len(f))
    states = ct.execute(buf, offsets, action)
    out = [bytes(buf[offsets[i]:offsets[i + 1]]) for i in range(len(frames))]
    return [ct_state_name(s) for s in states], out


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(list(argv), out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def read_pcap(path) -> list[bytes]:
    with open(path, "rb") as f:
        return [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]


def csum(data: bytes) -> int:
    return framebuild.csum(data)


def _pseudo(l3: int, src: bytes, dst: bytes, proto: int, length: int):
    if l3 == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def _check_l4(l3, src, dst, proto, seg, where):
    """Checks the checksum of the complete L4 segment 'seg'."""
    if proto == 6:
        assert csum(_pseudo(l3, src, dst, 6, len(seg)) + seg) == 0, \
            f"{where}: bad TCP checksum"
    elif proto == 17:
        if struct.unpack_from("!H", seg, 6)[0] == 0:
            assert l3 == 4, f"{where}: UDP checksum 0 over IPv6"
            return
        assert csum(_pseudo(l3, src, dst, 17, len(seg)) + seg) == 0, \
            f"{where}: bad UDP checksum"
    elif proto == 1 and l3 == 4:
        assert csum(seg) == 0, f"{where}: bad ICMP checksum"
    elif proto == 58 and l3 == 6:
        assert csum(_pseudo(6, src, dst, 58, len(seg)) + seg) == 0, \
            f"{where}: bad ICMPv6 checksum"


def _ip_split(pkt: bytes):
    """(l3, src, dst, proto, l4 bytes present, l4 complete?)"""
    if pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack_from("!H", pkt, 2)[0]
        l4 = pkt[ihl:total]
        return 4, pkt[12:16], pkt[16:20], pkt[9], l4, total <= len(pkt), ihl
    plen = struct.unpack_from("!H", pkt, 4)[0]
    return (6, pkt[8:24], pkt[24:40], pkt[6], pkt[40:40 + plen],
            40 + plen <= len(pkt), 40)


def check_checksums(frame: bytes, where: str = "") -> None:
    """Recomputes every checksum of an Ethernet frame (no VLAN, no IPv6
    extension headers, as the generator makes them)."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    assert ethertype in (0x0800, 0x86DD), where
    pkt = frame[14:]
    l3, src, dst, proto, l4, _, ihl = _ip_split(pkt)
    if l3 == 4:
        assert csum(pkt[:ihl]) == 0, f"{where}: bad IPv4 header checksum"
    _check_l4(l3, src, dst, proto, l4, where)
    icmp_error = ((proto == 1 and l4[0] in (3, 4, 5, 11, 12))
                  or (proto == 58 and l4[0] < 128))
    if icmp_error:
        inner = l4[8:]
        il3, isrc, idst, iproto, il4, whole, iihl = _ip_split(inner)
        if il3 == 4:
            assert csum(inner[:iihl]) == 0, \
                f"{where}: bad quoted IPv4 header checksum"
        if whole:
            _check_l4(il3, isrc, idst, iproto, il4, where + " (quoted)")


def _ntop(b: bytes) -> str:
    return str(ipaddress.ip_address(b))


def fields(frame: bytes) -> dict:
    """The header fields that NAT may change, read with dpkt."""
    e = dpkt.ethernet.Ethernet(frame)
    ip = e.data
    d = {"src": _ntop(ip.src), "dst": _ntop(ip.dst), "proto": ip.p}
    l4 = ip.data
    if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        d.update(sport=l4.sport, dport=l4.dport)
        if isinstance(l4, dpkt.tcp.TCP):
            d["seq"] = l4.seq
    elif isinstance(l4, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        d.update(type=l4.type, code=l4.code)
        raw = bytes(l4)
        if l4.type in (0, 8, 128, 129):
            d["id"] = struct.unpack_from("!H", raw, 4)[0]
        else:
            inner = raw[8:]
            il3, isrc, idst, iproto, il4, _, _ = _ip_split(inner)
            d["inner"] = {"src": _ntop(isrc), "dst": _ntop(idst),
                          "sport": struct.unpack_from("!H", il4, 0)[0],
                          "dport": struct.unpack_from("!H", il4, 2)[0]}
    return d


def dump_lines(ct: Conntrack, zone=None) -> list[str]:
    return ct.dump_text(zone).splitlines()


_REPLY_RE = re.compile(r"reply=\(src=([^,]+),dst=([^,]+),sport=(\d+),"
                       r"dport=(\d+)\)")


def reply_tuples(ct: Conntrack, zone=None) -> list[tuple]:
    """(zone, src, dst, sport, dport) of every reply tuple in a dump."""
    return [(e.zone, e.reply.src, e.reply.dst, e.reply.sport, e.reply.dport,
             e.reply.proto) for e in ct.dump(zone)]


# ---------------------------------------------------------------------------
# Expected results for the bundled captures.

STATES = {
    "udp_snat": ["new|trk|snat", "est|rpl|trk|dnat", "new|trk|snat",
                 "est|rpl|trk|dnat", "est|trk|snat", "new|trk|snat",
                 "est|rpl|trk|dnat"],
    "udp_snat_port": ["new|trk|snat", "est|rpl|trk|dnat", "new|trk",
                      "new|trk|snat", "est|rpl|trk|dnat"],
    "udp_dnat": ["new|trk|dnat", "est|rpl|trk|snat"],
    "udp_dnat_addr": ["new|trk|dnat", "est|rpl|trk|snat"],
    "tcp_snat": ["new|trk|snat", "est|rpl|trk|dnat", "est|trk|snat",
                 "est|trk|snat", "est|rpl|trk|dnat"],
    "icmp_snat": ["new|trk|snat", "est|rpl|trk|dnat", "est|trk|snat"],
    "icmp_err_snat": ["new|trk|snat", "rel|rpl|trk|dnat",
                      "rel|rpl|trk|dnat"],
    "udp6_snat": ["new|trk|snat", "est|rpl|trk|dnat", "new|trk|snat",
                  "est|rpl|trk|dnat", "new|trk|snat", "rel|rpl|trk|dnat"],
}

DUMPS = {
    "udp_snat": [
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=53,dport=2000)",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2001,dport=53),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=53,dport=2001)",
        "udp,orig=(src=10.1.1.3,dst=10.1.1.2,sport=2000,dport=53),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=53,dport=2002)",
    ],
    "udp_snat_port": [
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=53,dport=3000)",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=5353),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=5353,dport=3000)",
    ],
    # As OVS 3.1 printed it (lib/conntrack.c nat_get_unique_tuple()).
    "udp_dnat": [
        "udp,orig=(src=10.3.0.1,dst=10.3.0.64,sport=3333,dport=53),"
        "reply=(src=10.3.0.2,dst=10.3.0.1,sport=8080,dport=3333)",
    ],
    "udp_dnat_addr": [
        "udp,orig=(src=10.3.0.1,dst=10.3.0.64,sport=3334,dport=53),"
        "reply=(src=10.3.0.2,dst=10.3.0.1,sport=53,dport=3334)",
    ],
    "tcp_snat": [
        "tcp,orig=(src=10.1.1.5,dst=10.1.1.2,sport=4000,dport=80),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,sport=80,dport=4000),"
        "protoinfo=(state=ESTABLISHED)",
    ],
    "icmp_snat": [
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=4660,type=8,code=0),"
        "reply=(src=10.1.1.2,dst=10.1.1.240,id=4660,type=0,code=0)",
    ],
    "icmp_err_snat": [
        "udp,orig=(src=10.1.1.1,dst=10.1.1.9,sport=5555,dport=9999),"
        "reply=(src=10.1.1.9,dst=10.1.1.240,sport=9999,dport=5555)",
    ],
    "udp6_snat": [
        "icmpv6,orig=(src=fc00::1,dst=fc00::2,id=7,type=128,code=0),"
        "reply=(src=fc00::2,dst=fc00::100,id=7,type=129,code=0)",
        "udp,orig=(src=fc00::1,dst=fc00::2,sport=4000,dport=53),"
        "reply=(src=fc00::2,dst=fc00::100,sport=53,dport=4000)",
        "udp,orig=(src=fc00::1,dst=fc00::9,sport=4001,dport=9999),"
        "reply=(src=fc00::9,dst=fc00::100,sport=9999,dport=4001)",
    ],
}

NAMES = sorted(G.CAPTURES)


def action_of(name: str) -> str:
    return G.CAPTURES[name][0]


# ---------------------------------------------------------------------------
# The captures themselves.

def test_captures_match_generator(tmp_path):
    G.main(["gen", str(tmp_path)])
    for name in NAMES:
        assert (tmp_path / f"{name}.pcap").read_bytes() == \
            (DATA / f"{name}.pcap").read_bytes(), \
            f"{name}.pcap is stale: run python3 tests/gen/nat_pcaps.py"
        for i, f in enumerate(read_pcap(DATA / f"{name}.pcap"), 1):
            check_checksums(f, f"{name} frame {i} (input)")
        for i, f in enumerate(G.frames(name, after=True), 1):
            check_checksums(f, f"{name} frame {i} (expected output)")


# ---------------------------------------------------------------------------
# Offline CLI on the bundled captures.

@pytest.mark.parametrize("name", NAMES)
def test_cli_states(name):
    rc, out, err = cli_run("-r", str(DATA / f"{name}.pcap"),
                           "--action", action_of(name), "states")
    assert (rc, err) == (0, "")
    assert out == "".join(f"{i}: {s}\n"
                          for i, s in enumerate(STATES[name], 1))


@pytest.mark.parametrize("name", NAMES)
def test_cli_dump(name):
    rc, out, err = cli_run("-r", str(DATA / f"{name}.pcap"),
                           "--action", action_of(name), "dump-conntrack")
    assert (rc, err) == (0, "")
    assert sorted(out.splitlines()) == sorted(DUMPS[name])
    rc, out, _ = cli_run("-r", str(DATA / f"{name}.pcap"),
                         "--action", action_of(name), "ct-get-nconns")
    assert out.strip() == str(len(DUMPS[name]))


@pytest.mark.parametrize("name", NAMES)
def test_cli_write(name, tmp_path):
    out_pcap = tmp_path / "out.pcap"
    rc, _, err = cli_run("-r", str(DATA / f"{name}.pcap"),
                         "--action", action_of(name),
                         "--write", str(out_pcap), "states")
    assert (rc, err) == (0, "")
    got = read_pcap(out_pcap)
    want = G.frames(name, after=True)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want), 1):
        check_checksums(g, f"{name} frame {i}")
        assert fields(g) == fields(w), f"{name} frame {i}"
        assert g == w, f"{name} frame {i}: bytes differ"


def test_write_readable_by_tcpdump(tmp_path):
    tcpdump = shutil.which("tcpdump")
    if not tcpdump:
        pytest.skip("tcpdump not installed")
    out_pcap = tmp_path / "out.pcap"
    name = "icmp_err_snat"
    assert cli_run("-r", str(DATA / f"{name}.pcap"), "--action",
                   action_of(name), "--write", str(out_pcap),
                   "states")[0] == 0
    r = subprocess.run([tcpdump, "-vvnr", str(out_pcap)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "10.1.1.240.5555 > 10.1.1.9.9999" in text
    assert "10.1.1.9 > 10.1.1.1: ICMP 10.1.1.9 udp port 9999 unreachable" \
        in text
    assert "10.1.1.254 > 10.1.1.1: ICMP time exceeded" in text
    assert "10.1.1.1.5555 > 10.1.1.9.9999" in text    # the quote, un-NATed
    assert "bad" not in text and "wrong" not in text, text


# ---------------------------------------------------------------------------
# The issue's command: a range chosen by the engine.

def _fwd_flows() -> list[bytes]:
    return [G.udp("10.1.1.1", "10.1.1.2", 2000 + i, 53) for i in range(4)] \
        + [G.tcp("10.1.1.5", "10.1.1.2", 4000, 80, G.TCP_SYN, 1000)]


def test_issue_command_range(tmp_path):
    src = tmp_path / "fwd.pcap"
    out_pcap = tmp_path / "out.pcap"
    G.write_pcap(str(src), _fwd_flows())
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "ovsct.cli", "-r", str(src),
                        "--action", RANGE_ACTION, "states"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "".join(f"{i}: new|trk|snat\n" for i in range(1, 6))

    rc, out, _ = cli_run("-r", str(src), "--action", RANGE_ACTION,
                         "--write", str(out_pcap), "dump-conntrack")
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) == 5
    seen = set()
    for line in lines:
        m = _REPLY_RE.search(line)
        assert m, line
        rsrc, rdst, rsport, rdport = m.groups()
        assert rsrc == "10.1.1.2" and rdst in RANGE_ADDRS, line
        assert int(rdport) in RANGE_PORTS, line
        assert re.match(r"(udp|tcp),orig=\(src=10\.1\.1\.[15],"
                        r"dst=10\.1\.1\.2,sport=\d+,dport=(53|80)\),"
                        r"reply=\(src=10\.1\.1\.2,dst=10\.1\.1\.(24\d|250),"
                        r"sport=(53|80),dport=30(0\d|10)\)", line), line
        seen.add((rdst, int(rsport), int(rdport)))
    assert len(seen) == 5
    # The written frames carry exactly the translations of the dump.
    written = set()
    for f in read_pcap(out_pcap):
        check_checksums(f, "range output")
        d = fields(f)
        assert d["dst"] == "10.1.1.2"
        written.add((d["src"], d["dport"], d["sport"]))
    assert written == seen


def test_range_replies_translated_back():
    ct = engine()
    fwd = _fwd_flows()
    states, out = run(ct, fwd, RANGE_ACTION)
    assert states == ["new|trk|snat"] * 5
    # Replies addressed as the server sees the translated packets.
    replies = []
    for f in out:
        d = fields(f)
        if d["proto"] == 17:
            replies.append(G.udp(d["dst"], d["src"], d["dport"], d["sport"],
                                 b"answer", reply=True))
        else:
            replies.append(G.tcp(d["dst"], d["src"], d["dport"], d["sport"],
                                 G.TCP_SYN | G.TCP_ACK, 5000, 1001,
                                 reply=True))
    states, back = run(ct, replies, RANGE_ACTION)
    assert states == ["est|rpl|trk|dnat"] * 5
    for f_in, f_back in zip(fwd, back):
        check_checksums(f_back, "reply")
        a, b = fields(f_in), fields(f_back)
        assert (b["src"], b["dst"], b["sport"], b["dport"]) == \
            (a["dst"], a["src"], a["dport"], a["sport"])
    assert ct.nconns() == 5


# ---------------------------------------------------------------------------
# DNAT.

def test_dnat_port_range_and_fallback():
    ct = engine()
    vip, c = "10.3.0.64", "10.3.0.1"
    fwd = [G.udp(c, vip, 3333 + i, 53) for i in range(4)]
    states, out = run(ct, fwd, "ct(commit,nat(dst=10.3.0.2-10.3.0.3:"
                               "8080-8081))")
    assert states == ["new|trk|dnat"] * 4
    for f in out:
        check_checksums(f, "dnat")
        d = fields(f)
        assert d["src"] == c and d["dst"] in ("10.3.0.2", "10.3.0.3")
        assert d["dport"] in (8080, 8081)
    replies = [G.udp(fields(f)["dst"], c, fields(f)["dport"],
                     fields(f)["sport"], b"answer", reply=True) for f in out]
    states, back = run(ct, replies, "ct(nat)")
    assert states == ["est|rpl|trk|snat"] * 4
    for i, f in enumerate(back):
        d = fields(f)
        assert (d["src"], d["sport"], d["dst"], d["dport"]) == \
            (vip, 53, c, 3333 + i)

    # One backend port: the second flow from the same client port finds
    # the reply tuple taken and falls back to the client's port space.
    ct = engine()
    states, out = run(ct, [G.udp(c, vip, 3333, 53), G.udp(c, vip, 3333, 54)],
                      "ct(commit,nat(dst=10.3.0.2:8080))")
    assert states == ["new|trk|dnat"] * 2
    assert sorted(dump_lines(ct)) == [
        "udp,orig=(src=10.3.0.1,dst=10.3.0.64,sport=3333,dport=53),"
        "reply=(src=10.3.0.2,dst=10.3.0.1,sport=8080,dport=3333)",
        "udp,orig=(src=10.3.0.1,dst=10.3.0.64,sport=3333,dport=54),"
        "reply=(src=10.3.0.2,dst=10.3.0.1,sport=8080,dport=3334)",
    ]
    assert fields(out[1])["dport"] == 8080
    # The backend answers the second flow to port 3334: un-NATed to 3333.
    states, back = run(ct, [G.udp("10.3.0.2", c, 8080, 3334, b"x",
                                  reply=True)], "ct(nat)")
    assert states == ["est|rpl|trk|snat"]
    d = fields(back[0])
    assert (d["src"], d["sport"], d["dst"], d["dport"]) == \
        (vip, 54, c, 3333)
    check_checksums(back[0], "dnat fallback reply")


def test_dnat_icmp_echo_and_error():
    ct = engine()
    c, vip, srv = "10.3.0.1", "10.3.0.64", "10.3.0.2"
    action = "ct(commit,nat(dst=10.3.0.2))"
    states, out = run(ct, [G.icmp_echo(c, vip, 99)], action)
    assert states == ["new|trk|dnat"]
    assert out[0] == G.icmp_echo(c, srv, 99)
    states, out = run(ct, [G.icmp_echo(srv, c, 99, request=False,
                                       reply=True)], action)
    assert states == ["est|rpl|trk|snat"]
    assert out[0] == G.icmp_echo(vip, c, 99, request=False, reply=True)

    # A UDP flow to the VIP; the backend's port unreachable names the
    # backend: the client must see the VIP, outside and in the quote.
    run(ct, [G.udp(c, vip, 5000, 53)], action)
    seen = G.ip(c, srv, 17, G.udp_seg(c, srv, 5000, 53, b"query"), ttl=63)
    states, out = run(ct, [G.icmp_error(srv, c, 3, 3, seen)], action)
    assert states == ["rel|rpl|trk|snat"]
    orig = G.ip(c, vip, 17, G.udp_seg(c, vip, 5000, 53, b"query"), ttl=63)
    assert out[0] == G.icmp_error(vip, c, 3, 3, orig)
    check_checksums(out[0], "dnat icmp error")


# ---------------------------------------------------------------------------
# ICMP echo with a port range (as a real OVS 3.1 printed it):
# `ct(commit,zone=7,...,nat(src=10.1.1.240-10.1.1.250:3000-3010))` left
#   icmp,orig=(src=10.1.1.6,dst=10.1.1.2,id=10000,type=8,code=0),
#        reply=(src=10.1.1.2,dst=10.1.1.240,id=10000,type=0,code=0),zone=7,...
# OVS 3.1's nat_get_unique_tuple() translates ports only for TCP and UDP
# (pat_proto); ICMP gets the address only, the echo id is kept.

def test_icmp_echo_range_translates_the_id():
    # The echo id is the ICMP "port" (current upstream lib/conntrack.c
    # nat_get_unique_tuple(), and the NAT issue).  OVS 3.1 kept it (it
    # printed id=10000 with this action): 3.1 translated TCP and UDP ports
    # only.
    ct = engine()
    states, out = run(ct, [G.icmp_echo("10.1.1.6", "10.1.1.2", 10000)],
                      "ct(commit,zone=7,nat(src=10.1.1.240-10.1.1.250:"
                      "3000-3010))")
    assert states == ["new|trk|snat"]
    [line] = dump_lines(ct)
    m = re.fullmatch(r"icmp,orig=\(src=10\.1\.1\.6,dst=10\.1\.1\.2,id=10000,"
                     r"type=8,code=0\),reply=\(src=10\.1\.1\.2,"
                     r"dst=(10\.1\.1\.\d+),id=(\d+),type=0,code=0\),zone=7",
                     line)
    assert m, line
    assert m.group(1) in RANGE_ADDRS
    assert 3000 <= int(m.group(2)) <= 3010
    assert fields(out[0])["id"] == int(m.group(2))
    check_checksums(out[0], "icmp range")


# ---------------------------------------------------------------------------
# Exhaustion.

def _exhaustion_flows(n: int, proto: str = "udp") -> list[bytes]:
    if proto == "udp":
        return [G.udp(f"10.8.0.{i + 1}", "10.1.1.2", 7000, 53)
                for i in range(n)]
    return [G.tcp(f"10.8.0.{i + 1}", "10.1.1.2", 7000, 80, G.TCP_SYN, 1)
            for i in range(n)]


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_exhaustion(proto):
    ct = engine()
    action = "ct(commit,nat(src=10.9.9.1:5000-5001))"
    flows = _exhaustion_flows(5, proto)
    before = ct.counters()
    states, out = run(ct, flows, action)
    after = ct.counters()
    assert states == ["new|trk|snat"] * 2 + ["new|trk"] * 3
    assert out[2:] == flows[2:], "exhausted packets must not be rewritten"
    assert after["nat_exhausted"] - before["nat_exhausted"] == 3
    assert after["created"] - before["created"] == 2
    assert ct.nconns() == 2
    assert ct.stats()["total"] == 2
    assert sorted((t[2], t[4]) for t in reply_tuples(ct)) == \
        [("10.9.9.1", 5000), ("10.9.9.1", 5001)]
    assert {fields(f)["sport"] for f in out[:2]} == {5000, 5001}
    # The two translations lead back to the two clients that got them.
    for f_in, f_out in zip(flows[:2], out[:2]):
        a, b = fields(f_in), fields(f_out)
        back = (G.udp(b["dst"], b["src"], b["dport"], b["sport"],
                      reply=True) if proto == "udp" else
                G.tcp(b["dst"], b["src"], b["dport"], b["sport"],
                      G.TCP_SYN | G.TCP_ACK, 5, 2, reply=True))
        states, res = run(ct, [back], "ct(nat)")
        assert states == ["est|rpl|trk|dnat"]
        r = fields(res[0])
        assert (r["dst"], r["dport"]) == (a["src"], a["sport"])

    # Nothing was left behind by the failed attempts: a reply to one of
    # them (untranslated) is new, and ct without commit creates nothing.
    d = fields(flows[3])
    back = (G.udp("10.1.1.2", d["src"], d["dport"], d["sport"],
                  reply=True) if proto == "udp" else
            G.tcp("10.1.1.2", d["src"], d["dport"], d["sport"],
                  G.TCP_SYN | G.TCP_ACK, 5, 2, reply=True))
    states, _ = run(ct, [back], "ct(nat)")
    assert states == (["new|trk"] if proto == "udp" else ["inv|trk"])
    assert ct.nconns() == 2

    # Again: still exhausted, counted again.
    states, _ = run(ct, flows[2:], action)
    assert states == ["new|trk"] * 3
    assert ct.counters()["nat_exhausted"] - before["nat_exhausted"] == 6
    # Freeing one translation lets exactly one more flow in.
    first = fields(flows[0])
    ct.flush_tuple(0, Tuple(l3=4, proto=17 if proto == "udp" else 6,
                            src=first["src"], dst=first["dst"],
                            sport=first["sport"], dport=first["dport"]))
    assert ct.nconns() == 1
    states, _ = run(ct, flows[2:], action)
    assert states == ["new|trk|snat", "new|trk", "new|trk"]
    assert ct.nconns() == 2
    assert len(dump_lines(ct)) == 2


def test_exhaustion_two_addresses():
    # lib/conntrack.c nat_get_unique_tuple(): one address per connection
    # (by hash), no iteration over the others; OVS 3.1 created 4 of 6.
    ct = engine()
    flows = [G.udp(f"10.8.1.{i + 1}", "10.1.1.2", 7000, 53)
             for i in range(6)]
    before = ct.counters()["nat_exhausted"]
    states, _ = run(ct, flows,
                    "ct(commit,nat(src=10.9.9.1-10.9.9.2:5000-5001))")
    created = states.count("new|trk|snat")
    assert created + states.count("new|trk") == 6
    assert 2 <= created <= 4
    assert ct.counters()["nat_exhausted"] - before == 6 - created
    assert ct.nconns() == created
    rt = reply_tuples(ct)
    assert len(set(rt)) == len(rt) == created
    for addr in ("10.9.9.1", "10.9.9.2"):
        assert sum(t[2] == addr for t in rt) <= 2


# ---------------------------------------------------------------------------
# Concurrency: threads compete for one range (engine.execute releases the
# GIL).  Checked after the run: no two connections share a reply tuple,
# every created connection is counted once, packets and table agree.

def test_concurrent_threads_share_a_range():
    n_threads, per_thread, shared = 4, 120, 16
    action = "ct(commit,nat(src=10.20.0.1-10.20.0.2:1000-1099))"
    for round_ in range(3):
        ct = engine()
        batches = []
        for t in range(n_threads):
            own = [G.udp(f"10.{30 + t}.{i // 250}.{i % 250 + 1}",
                         "10.1.1.2", 4000 + round_, 53)
                   for i in range(per_thread)]
            common = [G.udp("10.40.0.1", "10.1.1.2", 6000 + i, 53)
                      for i in range(shared)]
            frames = own + common
            random.Random(t * 10 + round_).shuffle(frames)
            batches.append(frames)
        results = [None] * n_threads
        barrier = threading.Barrier(n_threads)

        def worker(t):
            barrier.wait()
            # Small batches, so that the threads interleave.
            states, out = [], []
            frames = batches[t]
            for i in range(0, len(frames), 8):
                s, o = run(ct, frames[i:i + 8], action)
                states += s
                out += o
            results[t] = (states, out)

        threads = [threading.Thread(target=worker, args=(t,))
                   for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

        ct.check_invariants()       # NAT bindings unique, nodes linked.
        counters = ct.counters()
        rt = reply_tuples(ct)
        assert len(rt) == ct.nconns() == counters["created"]
        assert len(set(rt)) == len(rt), "duplicate translated reply tuples"
        for _, src, dst, sport, dport, _ in rt:
            assert src == "10.1.1.2" and sport == 53
            assert dst in ("10.20.0.1", "10.20.0.2")
            assert 1000 <= dport <= 1099
        per_addr = {}
        for t in rt:
            per_addr[t[2]] = per_addr.get(t[2], 0) + 1
        assert all(v <= 100 for v in per_addr.values())

        # Packets: exhausted ones untouched and counted; every translated
        # packet matches the table, each flow got one translation, and two
        # flows never the same.  (A second packet of a shared flow before
        # any reply is new|trk|snat again: OVS's OTHERS_MULTIPLE.)
        by_flow = {}
        exhausted = 0
        for t in range(n_threads):
            states, out = results[t]
            for f_in, s, f_out in zip(batches[t], states, out):
                check_checksums(f_out, "concurrent")
                a = fields(f_in)
                key = (a["src"], a["sport"])
                if s == "new|trk":
                    exhausted += 1
                    assert f_out == f_in
                    continue
                assert s in ("new|trk|snat", "est|trk|snat"), s
                b = fields(f_out)
                by_flow.setdefault(key, set()).add((b["src"], b["sport"]))
        assert len(by_flow) == counters["created"]
        assert exhausted == counters["nat_exhausted"]
        assert all(len(v) == 1 for v in by_flow.values())
        translations = [next(iter(v)) for v in by_flow.values()]
        assert len(set(translations)) == len(translations)
        assert sorted(translations) == sorted((t[2], t[4]) for t in rt)
        ct.close()


# ---------------------------------------------------------------------------
# Zones.

def test_zones():
    ct = engine()
    flow = G.udp("10.1.1.1", "10.1.1.2", 2000, 53)
    other = G.udp("10.1.1.3", "10.1.1.2", 2000, 53)
    nat = "nat(src=10.9.9.1:5000)"
    for zone in (1, 2):
        states, out = run(ct, [flow], f"ct(commit,zone={zone},{nat})")
        assert states == ["new|trk|snat"]
        assert out[0] == G.udp("10.9.9.1", "10.1.1.2", 5000, 53)
    # The single translation is per zone: zone 1 is full, zone 3 is not.
    states, _ = run(ct, [other], f"ct(commit,zone=1,{nat})")
    assert states == ["new|trk"]
    states, _ = run(ct, [other], f"ct(commit,zone=3,{nat})")
    assert states == ["new|trk|snat"]
    for zone in (1, 2):
        assert dump_lines(ct, zone) == [
            "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),"
            "reply=(src=10.1.1.2,dst=10.9.9.1,sport=53,dport=5000),"
            f"zone={zone}"]
    reply = G.udp("10.1.1.2", "10.9.9.1", 53, 5000, b"answer", reply=True)
    states, out = run(ct, [reply], "ct(zone=2,nat)")
    assert states == ["est|rpl|trk|dnat"]
    assert out[0] == G.udp("10.1.1.2", "10.1.1.1", 53, 2000, b"answer",
                           reply=True)
    states, out = run(ct, [reply], "ct(zone=4,nat)")
    assert (states, out) == (["new|trk"], [reply])

    # Flushing zone 1's connection by its NATed reply tuple leaves zone 2.
    ct.flush_tuple(1, Tuple(l3=4, proto=17, src="10.1.1.2", dst="10.9.9.1",
                            sport=53, dport=5000))
    assert dump_lines(ct, 1) == []
    assert len(dump_lines(ct, 2)) == 1
    assert ct.nconns() == 2


# ---------------------------------------------------------------------------
# `nat` without arguments, and ct() without nat.

def test_bare_nat_applies_existing_translation():
    ct = engine()
    c, s, n = "10.1.1.1", "10.1.1.2", "10.1.1.240"
    fwd = G.udp(c, s, 2000, 53)
    fwd_nat = G.udp(n, s, 3000, 53)
    rpl = G.udp(s, n, 53, 3000, b"answer", reply=True)
    rpl_nat = G.udp(s, c, 53, 2000, b"answer", reply=True)

    # Without commit, nothing is created even with nat(src=...).
    assert run(ct, [fwd], "ct(nat(src=10.1.1.240:3000))") == \
        (["new|trk"], [fwd])
    assert ct.nconns() == 0
    assert run(ct, [fwd], "ct(nat)") == (["new|trk"], [fwd])
    assert ct.nconns() == 0

    assert run(ct, [fwd], "ct(commit,nat(src=10.1.1.240:3000))") == \
        (["new|trk|snat"], [fwd_nat])
    cases = [
        # A second packet before any reply is still new (OVS: UDP
        # OTHERS_FIRST -> OTHERS_MULTIPLE), but translated.
        ("ct(nat)", fwd, "new|trk|snat", fwd_nat),
        ("ct(commit)", fwd, "new|trk", fwd),
        ("ct(nat)", rpl, "est|rpl|trk|dnat", rpl_nat),
        ("ct(nat)", fwd, "est|trk|snat", fwd_nat),
        ("ct(table=1,nat)", fwd, "est|trk|snat", fwd_nat),
        ("ct(commit,nat)", fwd, "est|trk|snat", fwd_nat),
        # Another range on an existing connection: its own translation.
        ("ct(commit,nat(src=10.7.7.7:9))", fwd, "est|trk|snat", fwd_nat),
        ("ct(commit)", fwd, "est|trk", fwd),
        ("ct", fwd, "est|trk", fwd),
        ("ct(nat)", rpl, "est|rpl|trk|dnat", rpl_nat),
        ("ct(commit,nat(dst=10.7.7.7))", rpl, "est|rpl|trk|dnat", rpl_nat),
        ("ct(commit)", rpl, "est|rpl|trk", rpl),
        ("ct", rpl, "est|rpl|trk", rpl),
    ]
    for action, frame, state, want in cases:
        states, out = run(ct, [frame], action)
        assert (states, out) == ([state], [want]), action
    assert ct.nconns() == 1

    # The untranslated reverse is not a key of the connection.
    states, _ = run(ct, [G.udp(s, c, 53, 2000, reply=True)], "ct(nat)")
    assert states == ["new|trk"]

    # commit with a bare nat on a new flow: a plain connection.
    plain = G.udp(c, s, 2001, 53)
    assert run(ct, [plain], "ct(commit,nat)") == (["new|trk"], [plain])
    assert "reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=2001)" in \
        ct.dump_text()

    # An all-zero SNAT (nat(src)) keeps the address and the free port.
    zero = G.udp(c, s, 2002, 53)
    assert run(ct, [zero], "ct(commit,nat(src))") == (["new|trk|snat"],
                                                      [zero])


def test_related_error_needs_nat_in_action():
    name = "icmp_err_snat"
    inp = G.frames(name)
    want = G.frames(name, after=True)
    ct = engine()
    run(ct, inp[:1], action_of(name))
    states, out = run(ct, inp[1:], "ct")
    assert (states, out) == (["rel|rpl|trk"] * 2, inp[1:])
    states, out = run(ct, inp[1:], "ct(nat)")
    assert (states, out) == (["rel|rpl|trk|dnat"] * 2, want[1:])


# ---------------------------------------------------------------------------
# IPv6.

def test_ipv6_ranges_and_dnat():
    ct = engine()
    c, s = "fc00::1", "fc00::2"
    flows = [G.udp(c, s, 4000 + i, 53) for i in range(3)]
    states, out = run(ct, flows,
                      "ct(commit,nat(src=[fc00::100]-[fc00::101]:"
                      "4000-4001))")
    assert states.count("new|trk|snat") >= 1
    assert states.count("new|trk|snat") + states.count("new|trk") == 3
    got = set()
    for st, f_in, f in zip(states, flows, out):
        check_checksums(f, "v6 snat")
        d = fields(f)
        if st == "new|trk":
            assert f == f_in
            continue
        assert d["src"] in ("fc00::100", "fc00::101")
        assert d["sport"] in (4000, 4001)
        got.add((d["src"], d["sport"]))
    assert len(got) == ct.nconns() == states.count("new|trk|snat")
    for line in dump_lines(ct):
        assert re.fullmatch(r"udp,orig=\(src=fc00::1,dst=fc00::2,sport=400\d,"
                            r"dport=53\),reply=\(src=fc00::2,dst=fc00::10[01],"
                            r"sport=53,dport=400[01]\)", line), line

    ct = engine()
    states, out = run(ct, [G.udp(c, "fc00::64", 4000, 53)],
                      "ct(commit,nat(dst=[fc00::2]:8080))")
    assert states == ["new|trk|dnat"]
    assert out[0] == G.udp(c, s, 4000, 8080)
    assert dump_lines(ct) == [
        "udp,orig=(src=fc00::1,dst=fc00::64,sport=4000,dport=53),"
        "reply=(src=fc00::2,dst=fc00::1,sport=8080,dport=4000)"]
    states, out = run(ct, [G.udp(s, c, 8080, 4000, b"a", reply=True)],
                      "ct(nat)")
    assert states == ["est|rpl|trk|snat"]
    assert out[0] == G.udp("fc00::64", c, 53, 4000, b"a", reply=True)


# ---------------------------------------------------------------------------
# Checksums of every rewritten packet, on varied traffic.

def test_checksums_random_traffic():
    rnd = random.Random(1234)
    actions = [
        "ct(commit,nat(src=10.99.0.1-10.99.0.9:1024-1100))",
        "ct(commit,nat(dst=10.98.0.1-10.98.0.3:80-90))",
        "ct(commit,nat(src=10.99.1.1,random))",
        "ct(commit,nat(dst=10.98.1.1,persistent))",
        "ct(commit,nat(src=[fc00::99:1]-[fc00::99:9]:1024-1100,hash))",
        "ct(commit,nat(dst=[fc00::98:1]))",
    ]
    for action in actions:
        ct = engine()
        v6 = "fc00" in action
        frames = []
        for i in range(40):
            if v6:
                a, b = f"fc00::{rnd.randrange(1, 0xffff):x}", "fc00::2"
            else:
                a = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}." \
                    f"{rnd.randrange(1, 255)}"
                b = "10.1.1.2"
            sport, dport = rnd.randrange(1, 65536), rnd.randrange(1, 65536)
            payload = bytes(rnd.randrange(256)
                            for _ in range(rnd.randrange(0, 30)))
            kind = rnd.randrange(5)
            if kind in (0, 1):
                f = G.udp(a, b, sport, dport, payload)
                if not v6 and rnd.randrange(2):
                    # UDP without a checksum: must stay without one.
                    f = f[:14 + 20 + 6] + b"\0\0" + f[14 + 20 + 8:]
            elif kind == 2:
                f = G.icmp_echo(a, b, rnd.randrange(65536),
                                rnd.randrange(65536))
            elif kind == 3:
                f = G.tcp(a, b, sport, dport, G.TCP_SYN,
                          rnd.getrandbits(32), window=rnd.randrange(65536))
            else:
                f = G.tcp(a, b, sport, dport, G.TCP_SYN,
                          rnd.getrandbits(32))
            frames.append(f)
        states, out = run(ct, frames, action)
        assert all(s.startswith("new|trk") for s in states), states
        for i, (f_in, f, s) in enumerate(zip(frames, out, states)):
            check_checksums(f, f"{action} frame {i}")
            if "snat" in s or "dnat" in s:
                assert f != f_in
            udp_v4 = f_in[23] == 17 and f_in[12:14] == b"\x08\x00"
            if udp_v4 and f_in[40:42] == b"\0\0":
                assert f[40:42] == b"\0\0", "UDP checksum 0 must stay 0"
        # Replies to whatever the engine chose translate back cleanly.
        replies = []
        for f in out:
            d = fields(f)
            if d["proto"] == 17:
                replies.append(G.udp(d["dst"], d["src"], d["dport"],
                                     d["sport"], b"r", reply=True))
            elif d["proto"] == 6:
                replies.append(G.tcp(d["dst"], d["src"], d["dport"],
                                     d["sport"], G.TCP_SYN | G.TCP_ACK, 7,
                                     (d["seq"] + 1) & 0xFFFFFFFF,
                                     reply=True))
            else:
                replies.append(G.icmp_echo(d["dst"], d["src"], d["id"],
                                           request=False, reply=True))
        states2, back = run(ct, replies, action.replace("commit,", ""))
        ct.check_invariants()
        for i, (s1, s2, f_in, f) in enumerate(zip(states, states2, frames,
                                                  back)):
            check_checksums(f, f"{action} reply {i}")
            if "snat" in s1 or "dnat" in s1:
                a, b = fields(f_in), fields(f)
                assert (a["src"], a["dst"]) == (b["dst"], b["src"]), i
                if "sport" in a:
                    assert (a["sport"], a["dport"]) == \
                        (b["dport"], b["sport"]), i


# ---------------------------------------------------------------------------
# Flush by tuple: the original tuple or the NATed reply tuple.

def _snat_conn() -> Conntrack:
    ct = engine()
    states, _ = run(ct, G.frames("udp_snat")[:2], action_of("udp_snat"))
    assert ct.nconns() == 1
    return ct


def test_flush_tuple_by_either_orientation():
    orig = Tuple(l3=4, proto=17, src="10.1.1.1", dst="10.1.1.2", sport=2000,
                 dport=53)
    natted = Tuple(l3=4, proto=17, src="10.1.1.2", dst="10.1.1.240",
                   sport=53, dport=2000)
    plain_reverse = Tuple(l3=4, proto=17, src="10.1.1.2", dst="10.1.1.1",
                          sport=53, dport=2000)
    for t in (orig, natted):
        ct = _snat_conn()
        ct.flush_tuple(0, t)
        assert ct.nconns() == 0 and dump_lines(ct) == []
        # Gone for good: the translation is free again.
        states, _ = run(ct, G.frames("udp_snat")[:1], action_of("udp_snat"))
        assert states == ["new|trk|snat"]
    ct = _snat_conn()
    with pytest.raises(NotFound):
        ct.flush_tuple(0, plain_reverse)
    with pytest.raises(NotFound):
        ct.flush_tuple(1, orig)
    assert ct.nconns() == 1

    # ICMP: by the echo id, either way.
    ct = engine()
    run(ct, G.frames("icmp_snat")[:1], action_of("icmp_snat"))
    ct.flush_tuple(0, Tuple(l3=4, proto=1, src="10.1.1.2", dst="10.1.1.240",
                            icmp_id=0x1234, icmp_type=0))
    assert ct.nconns() == 0


def test_flush_conntrack_offline_cli():
    pcap = str(DATA / "udp_snat.pcap")
    base = ["-r", pcap, "--action", action_of("udp_snat")]
    rc, out, err = cli_run(*base, "flush-conntrack",
                           "ct_nw_src=10.1.1.2,ct_nw_dst=10.1.1.240,"
                           "ct_nw_proto=17,ct_tp_src=53,ct_tp_dst=2002")
    assert (rc, out, err) == (0, "", "")


# ---------------------------------------------------------------------------
# The daemon.

@pytest.fixture
def daemon():
    with Ovsctd() as d:
        yield d


def _daemon_dump(d) -> list[str]:
    r = d.ovsct("dump-conntrack")
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.decode().splitlines())


def test_daemon_replay_dump_and_flush(daemon):
    d = daemon
    name = "udp_snat"
    r = d.ovsct("replay", str(DATA / f"{name}.pcap"), action_of(name))
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert "7 packets from" in text
    assert "new|trk|snat: 3" in text and "est|rpl|trk|dnat: 3" in text
    assert "est|trk|snat: 1" in text
    assert _daemon_dump(d) == sorted(DUMPS[name])

    # By the original tuple.
    r = d.ovsct("flush-conntrack", "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,"
                "ct_nw_proto=17,ct_tp_src=2000,ct_tp_dst=53")
    assert r.returncode == 0, r.stderr
    # By the NATed reply tuple, given as the only tuple.
    r = d.ovsct("flush-conntrack", "ct_nw_src=10.1.1.2,ct_nw_dst=10.1.1.240,"
                "ct_nw_proto=17,ct_tp_src=53,ct_tp_dst=2001")
    assert r.returncode == 0, r.stderr
    assert _daemon_dump(d) == [DUMPS[name][2]]
    # The untranslated reverse names no connection.
    r = d.ovsct("flush-conntrack", "ct_nw_src=10.1.1.2,ct_nw_dst=10.1.1.3,"
                "ct_nw_proto=17,ct_tp_src=53,ct_tp_dst=2000")
    assert r.returncode == 2
    assert b"failed to flush conntrack (No such file or directory)" in \
        r.stderr
    # By the NATed reply tuple in the reply position.
    r = d.ovsct("flush-conntrack", "", "ct_nw_src=10.1.1.2,"
                "ct_nw_dst=10.1.1.240,ct_nw_proto=17,ct_tp_src=53,"
                "ct_tp_dst=2002")
    assert r.returncode == 0, r.stderr
    assert _daemon_dump(d) == []
    assert d.ovsct("ct-get-nconns").stdout.decode().strip() == "0"


def test_daemon_zones_and_appctl(daemon):
    d = daemon
    for zone in (5, 6):
        r = d.ovsct("replay", str(DATA / "udp_dnat.pcap"),
                    f"ct(commit,zone={zone},nat(dst=10.3.0.2:8080))")
        assert r.returncode == 0, r.stderr
    want = [DUMPS["udp_dnat"][0] + f",zone={z}" for z in (5, 6)]
    assert _daemon_dump(d) == sorted(want)
    if not os.access(OVS_APPCTL, os.X_OK):
        pytest.skip("ovs-appctl not installed")
    # DNAT reply tuple (backend -> client), zone 6 only.
    r = d.appctl("dpctl/flush-conntrack", "zone=6",
                 "ct_nw_src=10.3.0.2,ct_nw_dst=10.3.0.1,ct_nw_proto=17,"
                 "ct_tp_src=8080,ct_tp_dst=3333")
    assert r.returncode == 0, r.stderr
    assert _daemon_dump(d) == [want[0]]
    r = d.appctl("dpctl/dump-conntrack", "zone=5")
    assert r.stdout.decode().splitlines() == [want[0]]
