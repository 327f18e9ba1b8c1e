"""FTP through NAT in an offline capture replay (``ovsct -r FILE --write``,
Conntrack.execute_pcap(write=...)): with an action that has NAT the replay
gives each frame room to grow (dpio/replay.c), so the FTP helper rewrites
the PORT, 227 and EPRT lines and adjusts the control connection's
sequence numbers (OVS's lib/conntrack.c handle_ftp_ctl()), and the
written capture holds every frame at its new length with its original
time stamp and link type.

Each session is built twice with tests/gen/alg_pcaps.py's Tcp: once as the
packets arrive at ct() (client-side frames as the client sees them,
server-side frames as the server sees them) and once as they should leave
it (the other side's view).  The written frames must equal the second
from the IP header on: addresses, ports, FTP text, sequence and ack
numbers and checksums (the Ethernet header is the input's: NAT does not
touch it)."""
from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from enginecheck import require_engine  # noqa: E402

require_engine()
import dpkt  # noqa: E402

import pcaplib  # noqa: E402
from framebuild import csum, pseudo  # noqa: E402
from ovsct.engine import Conntrack  # noqa: E402
from ovsct.format import ct_state_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "alg_pcaps", ROOT / "tests" / "gen" / "alg_pcaps.py")
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)

T0 = 1700000000


class View:
    """The addresses of client and server as one side of the NAT sees
    them."""

    def __init__(self, client, server):
        self.client, self.server = client, server


def _port_args(ip: str, port: int) -> str:
    return ",".join(ip.split(".") + [str(port >> 8), str(port & 0xff)])


def session(mode: str, a: View, b: View, cport: int, dport: int):
    """One FTP session through ct() ('mode': active4, passive4, active6,
    passive6).  'a' is the client side's view, 'b' the server side's:
    the client's frames (the control connection's original direction)
    arrive in view 'a' and leave in view 'b', the server's the other way
    round.  Returns (frames in, frames expected out, {name: index})."""
    ta = G.Tcp(a.client, cport, a.server, 21)
    tb = G.Tcp(b.client, cport, b.server, 21)
    frames_in, frames_out, where = [], [], {}

    def client(text_a, text_b, name=None):
        where[name] = len(frames_in)
        frames_in.append(ta.a_sends(text_a))
        frames_out.append(tb.a_sends(text_b))

    def server(text_b, text_a, name=None):
        where[name] = len(frames_in)
        frames_in.append(tb.b_sends(text_b))
        frames_out.append(ta.b_sends(text_a))

    ha, hb = ta.handshake(), tb.handshake()
    frames_in += [ha[0], hb[1], ha[2]]
    frames_out += [hb[0], ha[1], hb[2]]
    server(b"220 ready\r\n", b"220 ready\r\n")
    if mode == "active4":
        client(f"PORT {_port_args(a.client, dport)}\r\n".encode(),
               f"PORT {_port_args(b.client, dport)}\r\n".encode(), "ctl")
        server(b"200 PORT ok\r\n", b"200 PORT ok\r\n")
    elif mode == "active6":
        client(f"EPRT |2|{a.client}|{dport}|\r\n".encode(),
               f"EPRT |2|{b.client}|{dport}|\r\n".encode(), "ctl")
        server(b"200 EPRT ok\r\n", b"200 EPRT ok\r\n")
    elif mode == "passive4":
        client(b"PASV\r\n", b"PASV\r\n")
        server(b"227 Entering Passive Mode (%s)\r\n"
               % _port_args(b.server, dport).encode(),
               b"227 Entering Passive Mode (%s)\r\n"
               % _port_args(a.server, dport).encode(), "ctl")
    else:
        client(b"EPSV\r\n", b"EPSV\r\n")
        text = b"229 Entering Extended Passive Mode (|||%d|)\r\n" % dport
        server(text, text, "ctl")
    # The data connection: opened by the server (active) from port 20, by
    # the client (passive) from 41000.
    if mode.startswith("active"):
        da = G.Tcp(a.server, 20, a.client, dport, 7000, 9000)
        db = G.Tcp(b.server, 20, b.client, dport, 7000, 9000)
        ha, hb = da.handshake(), db.handshake()
        first_in, first_out = hb, ha        # Arrives from the server.
    else:
        da = G.Tcp(a.client, 41000, a.server, dport, 7000, 9000)
        db = G.Tcp(b.client, 41000, b.server, dport, 7000, 9000)
        ha, hb = da.handshake(), db.handshake()
        first_in, first_out = ha, hb
    where["data"] = len(frames_in)
    frames_in += [first_in[0], first_out[1], first_in[2]]
    frames_out += [first_out[0], first_in[1], first_out[2]]
    # After it, the control connection goes on: the skew applies.
    client(b"QUIT\r\n", b"QUIT\r\n", "quit")
    server(b"221 bye\r\n", b"221 bye\r\n", "bye")
    client(b"", b"")
    return frames_in, frames_out, where


def _l3(frame: bytes) -> bytes:
    """The IP packet of an Ethernet frame, without Ethernet padding."""
    ip = frame[14:]
    if frame[12:14] == b"\x08\x00":
        return ip[:struct.unpack("!H", ip[2:4])[0]]
    return ip[:40 + struct.unpack("!H", ip[4:6])[0]]


def _checksums_ok(frame: bytes) -> bool:
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    raw = _l3(frame)
    if isinstance(ip, dpkt.ip.IP):
        hl = ip.hl * 4
        seg = raw[hl:]
        return (csum(raw[:hl]) == 0
                and csum(pseudo(raw[12:16], raw[16:20], 6, len(seg))
                         + seg) == 0)
    seg = raw[40:]
    return csum(pseudo(raw[8:24], raw[24:40], 6, len(seg)) + seg) == 0


def _replay(tmp_path, frames, action, linktype=1, **kw):
    """Runs 'frames' (Ethernet) as a capture of 'linktype' through a fresh
    engine with --write: (states, link type, written records, records
    in)."""
    records = [(T0 + i, 1000 * i,
                f if linktype == 1 else pcaplib.eth_to(f, linktype))
               for i, f in enumerate(frames)]
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    src.write_bytes(pcaplib.write_pcap(records, linktype))
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        kw.setdefault("capture_clock", True)
        st = ct.execute_pcap(str(src), action, write=str(out), **kw)
        exp = ct.dump_exp()
    linktype_out, _, written = pcaplib.read_pcap(out.read_bytes())
    return [ct_state_name(s) for s in st], linktype_out, written, \
        records, exp


def _record_lengths(data: bytes) -> list:
    """(caplen, len) of each record of a little-endian pcap."""
    out, off = [], 24
    while off < len(data):
        cap, orig = struct.unpack("<II", data[off + 8:off + 16])
        out.append((cap, orig))
        off += 16 + cap
    return out


C4, S4, PUB4 = "10.1.1.1", "10.1.1.2", "10.9.1.100"
VIP4 = "172.16.200.201"
C6, S6, PUB6, VIP6 = "fc00::1", "fc00::2", "fd00:99::1:100", "fd00:77::21"

CASES = {
    # name: (mode, client-side view, server-side view, nat action)
    "active4-snat": ("active4", View(C4, S4), View(PUB4, S4),
                     f"nat(src={PUB4})"),
    "active4-dnat": ("active4", View(C4, VIP4), View(C4, S4),
                     f"nat(dst={S4})"),
    "passive4-snat": ("passive4", View(C4, S4), View(PUB4, S4),
                      f"nat(src={PUB4})"),
    "passive4-dnat": ("passive4", View(C4, VIP4), View(C4, S4),
                      f"nat(dst={S4})"),
    "active6-snat": ("active6", View(C6, S6), View(PUB6, S6),
                     f"nat(src={PUB6})"),
    "passive6-dnat": ("passive6", View(C6, VIP6), View(C6, S6),
                      f"nat(dst={S6})"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ftp_through_nat_written(tmp_path, name):
    mode, a, b, nat = CASES[name]
    frames_in, frames_out, where = session(mode, a, b, 33333, 40000)
    action = f"ct(commit,alg=ftp,{nat})"
    st, linktype, written, records, exp = _replay(tmp_path, frames_in,
                                                  action)
    assert linktype == 1 and len(written) == len(frames_in)
    kind = "snat" if "snat" in name else "dnat"
    back = "dnat" if kind == "snat" else "snat"
    assert st[0] == f"new|trk|{kind}"
    assert st[where["ctl"]] == (f"est|trk|{kind}" if "active" in mode
                                else f"est|rpl|trk|{back}")
    assert len(exp) == 1, exp
    # The data connection is related, its NAT the expectation's.
    d = where["data"]
    assert "new|rel|trk" in st[d] and ("nat" in st[d]), st[d]
    assert "est|rel" in st[d + 1] and "est|rel" in st[d + 2]
    for i, ((sec, frac, frame), (sec0, frac0, frame0), want) in \
            enumerate(zip(written, records, frames_out)):
        # Original time stamps; the input's Ethernet header.
        assert (sec, frac) == (sec0, frac0), i
        assert frame[:14] == frame0[:14], i
        assert _l3(frame) == _l3(want), (i, st[i], dpkt.ethernet.Ethernet(
            frame).data.data.data, dpkt.ethernet.Ethernet(want).data.data
            .data)
        assert _checksums_ok(frame), i
    ctl_in = dpkt.ethernet.Ethernet(frames_in[where["ctl"]]).data.data
    ctl_out = dpkt.ethernet.Ethernet(written[where["ctl"]][2]).data.data
    if mode == "passive6":
        # 229 carries no address: nothing to rewrite.
        assert ctl_out.data == ctl_in.data
    elif (mode.startswith("active") and kind == "snat") \
            or (mode == "passive4" and kind == "dnat"):
        assert ctl_out.data != ctl_in.data
    # The pcap records carry the new lengths.
    lengths = _record_lengths((tmp_path / "out.pcap").read_bytes())
    assert lengths == [(len(f), len(f)) for _, _, f in written]


def test_active_snat_grows_and_moves_sequence(tmp_path):
    """The PORT line grows by the text's change and the client's later
    segments move on by as much: spelled out for one case."""
    frames_in, _, where = session("active4", View(C4, S4), View(PUB4, S4),
                                  33333, 40000)
    st, _, written, records, _ = _replay(
        tmp_path, frames_in, f"ct(commit,alg=ftp,nat(src={PUB4}))")
    i = where["ctl"]
    port = dpkt.ethernet.Ethernet(written[i][2]).data.data
    assert port.data == b"PORT 10,9,1,100,156,64\r\n"
    growth = len("10,9,1,100") - len("10,1,1,1")
    assert len(written[i][2]) == len(records[i][2]) + growth
    q = where["quit"]
    tcp_in = dpkt.ethernet.Ethernet(records[q][2]).data.data
    tcp_out = dpkt.ethernet.Ethernet(written[q][2]).data.data
    assert tcp_out.seq == tcp_in.seq + growth
    bye = where["bye"]
    tcp_in = dpkt.ethernet.Ethernet(records[bye][2]).data.data
    tcp_out = dpkt.ethernet.Ethernet(written[bye][2]).data.data
    assert tcp_out.ack == tcp_in.ack - growth


@pytest.mark.parametrize("batch", [1, 3, 32])
def test_batches_on_the_wall_clock(tmp_path, batch):
    """Several frames per engine call (one clock for all): each frame has
    its own room and length."""
    frames_in, frames_out, _ = session("active6", View(C6, S6),
                                       View(PUB6, S6), 33333, 40000)
    _, _, written, _, _ = _replay(
        tmp_path, frames_in, f"ct(commit,alg=ftp,nat(src={PUB6}))",
        batch=batch, capture_clock=False)
    assert [_l3(f) for _, _, f in written] == [_l3(f) for f in frames_out]


@pytest.mark.parametrize("linktype,hdr", [(pcaplib.LINKTYPE_LOOP, 4),
                                          (pcaplib.LINKTYPE_RAW, 0)])
def test_link_type_kept_with_new_lengths(tmp_path, linktype, hdr):
    """Frames that grow keep their own link-layer header."""
    frames_in, frames_out, where = session(
        "active4", View(C4, S4), View(PUB4, S4), 33333, 40000)
    st, lt, written, records, _ = _replay(
        tmp_path, frames_in, f"ct(commit,alg=ftp,nat(src={PUB4}))",
        linktype)
    assert lt == linktype
    i = where["ctl"]
    assert len(written[i][2]) > len(records[i][2])
    assert written[i][2][:hdr] == records[i][2][:hdr]
    assert written[i][2][hdr:].startswith(_l3(frames_out[i]))


def test_without_nat_frames_are_untouched(tmp_path):
    """alg=ftp without NAT: no rewrite, the capture written as read."""
    frames_in, _, where = session("active4", View(C4, S4), View(C4, S4),
                                  33333, 40000)
    st, _, written, records, exp = _replay(tmp_path, frames_in,
                                           "ct(commit,alg=ftp)")
    assert written == records
    assert len(exp) == 1 and "rel" in st[where["data"]]


def test_cli_writes_translated_port(tmp_path):
    """``ovsct -r ftp.pcap --action 'ct(commit,alg=ftp,nat(...))' --write
    out.pcap states``."""
    frames_in, frames_out, where = session(
        "active4", View(C4, S4), View(PUB4, S4), 33333, 40000)
    src, out = tmp_path / "ftp.pcap", tmp_path / "out.pcap"
    src.write_bytes(pcaplib.write_pcap(
        [(T0, i, f) for i, f in enumerate(frames_in)], 1))
    r = subprocess.run(
        [sys.executable, "-m", "ovsct.cli", "-r", str(src), "--action",
         f"ct(commit,alg=ftp,nat(src={PUB4}))", "--write", str(out),
         "states"], cwd=ROOT, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[where["data"]].endswith("new|rel|trk|dnat")
    _, _, written = pcaplib.read_pcap(out.read_bytes())
    assert [_l3(f) for _, _, f in written] == [_l3(f) for f in frames_out]


@pytest.mark.parametrize("batch", [1, 32])
def test_fragments_with_nat_in_the_room_layout(tmp_path, batch):
    """Fragments held by reassembly leave into their slots of the room
    layout, rewritten by the datagram's NAT, at their own lengths."""
    import framebuild as fb
    a, b = "10.0.3.1", "10.0.3.2"
    whole = fb.udp(a, b, 50000, 9000, bytes(i & 0xff for i in range(3000)))
    frames = [fb.v4(a, b, 17, whole[:1480], frag=0x2000),
              fb.v4(a, b, 17, whole[1480:2960], frag=0x2000 | 185),
              fb.v4(a, b, 17, whole[2960:], frag=370)]
    st, _, written, records, _ = _replay(
        tmp_path, frames, "ct(commit,nat(src=10.9.9.9))", batch=batch,
        capture_clock=False)
    assert st == ["new|trk|snat"] * 3
    assert [len(f) for _, _, f in written] == [len(f) for f in frames]
    for i, ((_, _, frame), orig) in enumerate(zip(written, frames)):
        assert frame[26:30] == bytes([10, 9, 9, 9])
        assert csum(frame[14:34]) == 0
        if i:                   # The first holds the UDP checksum.
            assert frame[34:] == orig[34:]
    udp = b"".join(f[34:] for _, _, f in written)
    assert csum(fb.pseudo("10.9.9.9", b, 17, len(udp)) + udp) == 0
