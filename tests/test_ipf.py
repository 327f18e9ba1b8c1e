"""IP fragment reassembly (ext/ipf.c) beyond what the frag oracle set
covers (tests/test_ovs_oracle.py compares per-packet states with OVS):
the dpctl/ipf-* sequence of OVS 3.1 through the real ovs-appctl, fragments
held across execute() calls and drained, NAT rewriting of every fragment,
expiry and purge on the engine clock, and the limits."""

import os
import struct
import sys
from pathlib import Path

import pytest
from enginecheck import needs_engine

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))
import framebuild as fb  # noqa: E402
from daemonlib import OVS_APPCTL, Ovsctd  # noqa: E402

OUTPUTS = Path(__file__).resolve().parent / "data" / "ovs"
A, B = "10.0.3.1", "10.0.3.2"
INV, TRK, NEW, SNAT = 0x10, 0x20, 0x01, 0x40

needs_appctl = pytest.mark.skipif(not os.access(OVS_APPCTL, os.X_OK),
                                  reason="ovs-appctl not installed")


def frags(sport=50000, ident=1, n=2000):
    whole = fb.udp(A, B, sport, 9000, bytes(i & 0xff for i in range(n)))
    first = fb.v4(A, B, 17, whole[:1480], frag=0x2000, ident=ident)
    last = fb.v4(A, B, 17, whole[1480:], frag=1480 // 8, ident=ident)
    return whole, first, last


@needs_appctl
@pytest.mark.parametrize("client", ["appctl", "ovsct"])
def test_ovs_sequence_073_to_077(client):
    """OVS 3.1's ipf-set-* captures, in their order on one daemon."""
    with Ovsctd() as d:
        run = d.appctl if client == "appctl" else d.ovsct
        for name, argv in (
                ("073_dpctl_ipf-set-enabled_v4", ["v4"]),
                ("074_dpctl_ipf-set-min-frag_v4_1000", ["v4", "1000"]),
                ("075_dpctl_ipf-set-max-nfrags_500", ["500"]),
                ("076_dpctl_ipf-get-status", []),
                ("077_dpctl_ipf-set-disabled_v6", ["v6"])):
            cmd = "dpctl/" + name.split("_")[2]
            r = run(cmd, *argv)
            assert (r.returncode, r.stdout) == (
                0, (OUTPUTS / (name + ".txt")).read_bytes()), name
        r = run("dpctl/ipf-get-status")
        assert b"v6 enabled: 0\n" in r.stdout


@needs_appctl
def test_command_errors():
    with Ovsctd() as d:
        for argv, err in (
                (["ipf-set-min-frag", "v4", "399"],
                 "requested minimum fragment size too small; see "
                 "documentation (Operation not permitted)"),
                (["ipf-set-min-frag", "v5", "1000"],
                 "parameter missing: v4 for IPv4 or v6 for IPv6 "
                 "(Invalid argument)"),
                (["ipf-set-min-frag", "v4", "x"],
                 "parameter missing for minimum fragment size "
                 "(Invalid argument)"),
                (["ipf-set-max-nfrags", "5001"],
                 "setting maximum fragments failed (Operation not "
                 "permitted)"),
                (["ipf-set-max-nfrags", "many"],
                 "parameter missing for maximum fragments (Invalid "
                 "argument)")):
            r = d.appctl("dpctl/" + argv[0], *argv[1:])
            assert r.returncode == 2, argv
            assert r.stderr.decode().splitlines()[0] == "ovsctd: " + err


@needs_engine
def test_held_fragments_leave_by_drain():
    from ovsct.engine import Conntrack
    _, first, last = frags()
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        assert ct.execute_frames([first], "ct(commit)") == bytes([0])
        assert ct.ipf_status()["nfrag"] == 1
        assert len(ct.ipf_lists()) == 1
        assert "state=first frag" in ct.ipf_lists()[0]
        assert ct.execute_frames([last], "ct(commit)") == bytes([NEW | TRK])
        out = ct.ipf_drain()
        assert [(s, f) for _, s, f in out] == [(NEW | TRK, first[:1514])]
        st = ct.ipf_status()
        assert st["nfrag"] == 0
        assert st["counters"][0][:2] == (2, 2)     # accepted, completed
        assert ct.nconns() == 1


@needs_engine
def test_expiry_and_purge_on_the_engine_clock():
    from ovsct.engine import Conntrack
    _, first, _ = frags(ident=7)
    _, first2, _ = frags(ident=8)
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        ct.set_time(1000)
        assert ct.execute_frames([first, first2], "ct(commit)") == b"\0\0"
        ct.set_time(1000 + 15000)
        ct.sweep_now()
        assert ct.ipf_drain() == []                 # not yet: 15 s exactly
        ct.set_time(1000 + 15001)
        ct.sweep_now()
        assert [s for _, s, _ in ct.ipf_drain()] == [INV, INV]
        assert ct.ipf_status()["counters"][0][2] == 2          # expired
        ct.execute_frames([first], "ct(commit)")
        ct.set_time(1000 + 15001 + 25000)
        ct.sweep_now()                              # nobody drained: purged
        st = ct.ipf_status()
        assert (st["nfrag"], st["counters"][0][5]) == (0, 1)
        assert ct.ipf_drain() == []


@needs_engine
def test_limits_and_settings():
    from ovsct.engine import Conntrack
    _, first, last = frags()
    _, small, _ = frags(ident=2, n=600)
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        with pytest.raises(ValueError):
            ct.ipf_set_min_frag(False, 399)
        with pytest.raises(ValueError):
            ct.ipf_set_max_nfrags(5001)
        ct.ipf_set_max_nfrags(1)
        assert ct.execute_frames([first, last], "ct(commit)") == bytes(
            [0, INV | TRK])                          # max-nfrags reached
        ct.ipf_set_max_nfrags(1000)
        assert ct.execute_frames([small], "ct(commit)") == bytes([INV | TRK])
        assert ct.ipf_status()["counters"][0][3] == 1          # too small
        ct.ipf_set_min_frag(False, 400)
        assert ct.execute_frames([small], "ct(commit)") == bytes([0])
        ct.ipf_set_enabled(False, False)
        assert ct.execute_frames([last], "ct(commit)") == bytes([INV | TRK])
        ct.ipf_set_enabled(False, True)
        # The first fragment held since max-nfrags was 1 completes now.
        assert ct.execute_frames([last], "ct(commit)") == bytes([NEW | TRK])
        # The list is gone: the same fragment starts a new one.
        assert ct.execute_frames([first], "ct(commit)") == b"\0"


def _reassemble(frames):
    """The UDP datagram carried by IPv4 fragments 'frames'."""
    parts = {}
    for f in frames:
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        assert fb.csum(ip[:ihl]) == 0, "IP header checksum"
        off = (struct.unpack("!H", ip[6:8])[0] & 0x1fff) * 8
        parts[off] = (ip[12:20], ip[ihl:tot])
    addrs = {a for a, _ in parts.values()}
    assert len(addrs) == 1
    return addrs.pop(), b"".join(parts[k][1] for k in sorted(parts))


@needs_engine
def test_snat_rewrites_every_fragment():
    from ovsct.engine import Conntrack
    whole, first, last = frags(n=3000)
    mid = fb.v4(A, B, 17, whole[1480:2960], frag=0x2000 | 185, ident=1)
    last = fb.v4(A, B, 17, whole[2960:], frag=370, ident=1)
    action = "ct(commit,nat(src=10.9.9.9))"
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        assert ct.execute_frames([last], action) == b"\0"
        buf = bytearray(first + mid)
        offs = [0, len(first), len(first) + len(mid)]
        assert ct.execute(buf, offs, action) == bytes([NEW | TRK | SNAT] * 2)
        out = ct.ipf_drain()
        assert [s for _, s, _ in out] == [NEW | TRK | SNAT]
        got = [bytes(buf[:len(first)]), bytes(buf[len(first):]), out[0][2]]
    addrs, udp = _reassemble(got)
    assert addrs[:4] == bytes([10, 9, 9, 9]) and addrs[4:] == bytes(
        [10, 0, 3, 2])
    assert udp[8:] == whole[8:]
    pseudo = fb.pseudo("10.9.9.9", B, 17, len(udp))
    assert fb.csum(pseudo + udp) == 0, "UDP checksum after SNAT"


@needs_engine
def test_drain_takes_only_its_owners_fragments():
    """Two owners share a table (as the live datapath and a capture replay
    do): a drain by tag takes its owner's fragments, in order, and leaves
    the others queued for their owner's drain."""
    from ovsct.engine import Conntrack
    own_a, own_b, other, span = 1 << 40, 2 << 40, 3 << 40, 0xff << 40
    _, a1, a1_last = frags(sport=50001, ident=11)
    _, b2, b2_last = frags(sport=50002, ident=12)
    _, a3, a3_last = frags(sport=50003, ident=13)
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        assert ct.execute_frames([a1], "ct(commit)", tag_base=own_a) == b"\0"
        assert ct.execute_frames([a3], "ct(commit)",
                                 tag_base=own_a + 5) == b"\0"
        assert ct.execute_frames([b2], "ct(commit)", tag_base=own_b) == b"\0"
        # A third caller completes A1 then B2: both queue, A's first.
        assert ct.execute_frames([a1_last, b2_last], "ct(commit)",
                                 tag_base=other) == bytes([NEW | TRK] * 2)
        assert ct.ipf_status()["nfrag"] == 3       # a3 held, 2 queued
        assert ct.ipf_drain(mask=span, value=other) == []
        got = ct.ipf_drain(mask=span, value=own_b)
        assert got == [(own_b, NEW | TRK, b2[:1514])]
        assert ct.ipf_status()["nfrag"] == 2
        # B's was the last queued: a fragment queued now follows A1.
        assert ct.execute_frames([a3_last], "ct(commit)",
                                 tag_base=other) == bytes([NEW | TRK])
        assert ct.ipf_drain(mask=span, value=own_b) == []
        got = ct.ipf_drain(mask=span, value=own_a)
        assert [(t, s, f) for t, s, f in got] == [
            (own_a, NEW | TRK, a1[:1514]), (own_a + 5, NEW | TRK, a3[:1514])]
        assert ct.ipf_status()["nfrag"] == 0
        assert ct.ipf_drain(mask=0) == []


@needs_engine
def test_live_tags_are_the_live_datapaths():
    """Python callers cannot take the live flag (bit 63), and a drain whose
    value has bits outside its mask would match nothing: both refused."""
    from ovsct import _engine
    from ovsct.engine import Conntrack
    _, first, _ = frags(ident=21)
    assert _engine.TAG_LIVE == 1 << 63
    with Conntrack(manual_clock=True, sweeper=False) as ct:
        with pytest.raises(ValueError, match="TAG_LIVE"):
            ct.execute_frames([first], "ct(commit)",
                              tag_base=_engine.TAG_LIVE)
        with pytest.raises(ValueError, match="TAG_LIVE"):
            ct.execute_frames([first, first], "ct(commit)",
                              tag_base=_engine.TAG_LIVE - 1)
        with pytest.raises(ValueError, match="outside mask"):
            ct.ipf_drain(mask=1, value=2)
        assert ct.ipf_status()["nfrag"] == 0
        assert ct.execute_frames([first], "ct(commit)",
                                 tag_base=_engine.TAG_LIVE - 1) == b"\0"
        assert ct.ipf_drain(expire_all=True) == [
            (_engine.TAG_LIVE - 1, INV, first[:1514])]
