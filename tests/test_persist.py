"""Conntrack.save() / restore() at the engine level (ext/persist.c).

A table with UDP, ICMP, TCP (handshake and data, window scaling), SNAT
and DNAT connections, marks, labels, zone limits, a timeout policy and
non-default settings is saved, restored into a fresh table on another
clock, and must then be the same table: the same dump (remaining times
reduced by the wall-clock time since the save), the same settings, and
the same answers to the same next packets (TCP stays est inside its
windows and inv outside, NAT replies are translated back).  Bad files
(bit flips, truncations, other version, other byte order, empty, trailing
bytes) are refused whole with a message naming the problem, and leave
the table untouched.  ALG state is kept: an FTP control connection
committed with alg=ftp is still helper=ftp after the restore and its next
PORT creates an expectation, whose data connection is +rel.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import time
from pathlib import Path

import pytest

import framebuild as fb
from ovsct.engine import Conntrack
from ovsct.format import ct_state_name
from persistlib import CLIENT, SERVER, VIP, engine, run, tcp_handshake

_spec = importlib.util.spec_from_file_location(
    "alg_pcaps", Path(__file__).resolve().parent / "gen" / "alg_pcaps.py")
ALG = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ALG)

MARK_ACTION = ("ct(commit,exec(set_field:0x2a->ct_mark,"
               "set_field:0xab00000000000000000000000000cd->ct_label))")
SNAT_ACTION = "ct(commit,zone=7,nat(src=10.1.1.240-10.1.1.250:3000-3010))"
DNAT_ACTION = "ct(commit,zone=8,nat(dst=10.3.0.2:8080))"

# Header offsets (struct persist_header in ext/persist.c).
OFS_BOM, OFS_VERSION = 8, 12
HEADER_SIZE = 128


def populate(ct: Conntrack) -> list[bytes]:
    """Fills 'ct'; returns the SNAT'ed and DNAT'ed forward frames (what
    the far side saw), from which replies are made."""
    for i in range(20):
        assert run(ct, [fb.udp4(CLIENT, SERVER, 2000 + i, 53)],
                   "ct(commit)")[0] == ["new|trk"]
    run(ct, [fb.udp4(SERVER, CLIENT, 53, 2000)], "ct(commit)")
    run(ct, [fb.icmp4_query(CLIENT, SERVER, 8, 77)], "ct(commit,zone=3)")
    run(ct, [fb.udp6("fd00::1", "fd00::2", 4000, 4001)], "ct(commit)")
    for sport in (40000, 40001):
        for batch in tcp_handshake(sport):
            run(ct, batch, MARK_ACTION)
    translated = []
    for i in range(3):
        translated += run(ct, [fb.udp4(CLIENT, SERVER, 6000 + i, 53)],
                          SNAT_ACTION)[1]
    translated += run(ct, [fb.tcp4(CLIENT, VIP, 7000, 80, "S", 1, 0)],
                      DNAT_ACTION)[1]
    ct.maxconns = 12345
    ct.sweep_interval = 777
    ct.set_zone_limit(None, 1000)
    ct.set_zone_limit(7, 50)
    ct.set_zone_tp(3, {"icmp_first": 17, "icmp_reply": 9})
    return translated


def snapshot(ct: Conntrack) -> list[tuple]:
    """The dump, with times as ms left and without the bucket (which
    depends on the table's hash seed)."""
    now = ct.now
    return sorted((repr(e.orig), repr(e.reply), e.zone, e.mark, e.labels,
                   e.expiration - now, e.tcp_state, e.tcp_wscale,
                   e.tcp_flags) for e in ct.dump())


def settings(ct: Conntrack) -> tuple:
    return (ct.maxconns, ct.sweep_interval, ct.tcp_seq_chk,
            ct.get_zone_limit(None)[0], ct.list_zone_limits(),
            ct.get_zone_limit(7), ct.list_zone_tps())


def without_times(snap: list[tuple]) -> list[tuple]:
    return [s[:5] + s[6:] for s in snap]


def test_round_trip_same_table_same_behaviour(tmp_path):
    path = tmp_path / "state"
    src = engine()
    translated = populate(src)
    src.advance(5_000)
    before = snapshot(src)
    saved = src.save(path)
    assert saved["connections"] == len(before) == src.nconns() == 28
    assert saved["zone_limits"] == 1 and saved["timeout_policies"] == 1
    assert saved["bytes"] == os.path.getsize(path)
    assert not os.path.exists(str(path) + ".tmp")

    dst = engine(start_ms=42)         # another clock origin
    t0 = time.monotonic()
    stats = dst.restore(path)
    elapsed_ms = (time.monotonic() - t0) * 1000 + stats["age_ms"]
    assert stats["restored"] == 28 and stats["connections"] == 28
    assert (stats["duplicates"], stats["expired"], stats["refused"]) == \
        (0, 0, 0)
    assert dst.nconns() == 28
    after = snapshot(dst)
    assert without_times(after) == without_times(before)
    for b, a in zip(before, after):
        # Reduced by the wall-clock time since the save, nothing more.
        assert 0 <= b[5] - a[5] <= elapsed_ms + 5, (b, a)
        assert b[5] - a[5] >= stats["age_ms"]
    assert settings(dst) == settings(src)
    assert dst.tcp_seq_chk
    tcp = [s for s in after if s[6]]
    assert {s[6] for s in tcp} >= {("ESTABLISHED", "ESTABLISHED")}
    assert {s[7] for s in tcp if s[3] == 0x2a} == {(7, 7)}

    # The same next packets get the same answers from both tables.
    sport = 40000
    nxt = [
        [fb.tcp4(CLIENT, SERVER, sport, 80, "PA", 1006, 5007, b"more")],
        [fb.tcp4(SERVER, CLIENT, 80, sport, "A", 5007, 1010)],
        # Far outside the windows: invalid in both.
        [fb.tcp4(CLIENT, SERVER, sport, 80, "PA", 900_000_000, 5007,
                 b"x")],
        [fb.udp4(SERVER, CLIENT, 53, 2001)],
        [fb.icmp4_query(SERVER, CLIENT, 0, 77)],
    ]
    zones = ["ct(commit)", "ct(commit)", "ct(commit)", "ct(commit)",
             "ct(commit,zone=3)"]
    for batch, action in zip(nxt, zones):
        a, b = run(src, batch, action), run(dst, batch, action)
        assert a == b, (batch, a, b)
    assert run(dst, nxt[0], "ct")[0] == ["est|trk"]
    assert run(dst, nxt[2], "ct")[0] == ["inv|trk"]
    assert run(dst, nxt[4], "ct(zone=3)")[0] == ["est|rpl|trk"]

    # NAT replies are still translated back, to the same bytes.
    for f in translated:
        ip = f[14:]
        s, d = ip[12:16], ip[16:20]
        if ip[9] == 17:
            sp, dp = struct.unpack("!HH", ip[20:24])
            reply = fb.udp4(".".join(map(str, d)), ".".join(map(str, s)),
                            dp, sp, b"answer")
            action = SNAT_ACTION
            want = "est|rpl|trk|dnat"
        else:
            sp, dp = struct.unpack("!HH", ip[20:24])
            reply = fb.tcp4(".".join(map(str, d)), ".".join(map(str, s)),
                            dp, sp, "SA", 9000, 2)
            action = DNAT_ACTION
            want = "est|rpl|trk|snat"
        a, b = run(src, [reply], action), run(dst, [reply], action)
        assert b[0] == [want], b
        assert a == b
        assert b[1][0][14 + 16:14 + 20] == bytes([10, 0, 0, 1])
    assert without_times(snapshot(src)) == without_times(snapshot(dst))
    src.close()
    dst.close()


def test_restore_adds_skips_duplicates_and_respects_limits(tmp_path):
    path = tmp_path / "state"
    src = engine()
    for i in range(4):
        run(src, [fb.udp4(CLIENT, SERVER, 100 + i, 53)], "ct(commit)")
    src.maxconns = 5
    src.save(path)

    # Into the same table: every connection is a duplicate.
    stats = src.restore(path)
    assert (stats["restored"], stats["duplicates"]) == (0, 4)
    assert src.nconns() == 4

    # Into a table holding one of them and two others: 1 duplicate, and
    # maxconns (5, from the file) admits 2 of the remaining 3.
    dst = engine()
    run(dst, [fb.udp4(SERVER, CLIENT, 53, 100)], "ct(commit)")  # reverse
    run(dst, [fb.udp4(CLIENT, SERVER, 900, 53)], "ct(commit)")
    run(dst, [fb.udp4(CLIENT, SERVER, 901, 53)], "ct(commit)")
    stats = dst.restore(path)
    assert (stats["restored"], stats["duplicates"], stats["refused"]) == \
        (2, 1, 1)
    assert dst.nconns() == 5 and dst.maxconns == 5
    assert dst.counters()["created"] == 5


def test_zone_limit_applies_to_restored(tmp_path):
    path = tmp_path / "state"
    src = engine()
    for i in range(5):
        run(src, [fb.udp4(CLIENT, SERVER, 100 + i, 53)], "ct(commit,zone=4)")
    src.set_zone_limit(4, 3)           # after the fact: 5 > 3 are kept
    src.save(path)
    dst = engine()
    stats = dst.restore(path)
    assert (stats["restored"], stats["refused"]) == (3, 2)
    assert dst.get_zone_limit(4) == (3, 3, True)


def test_expired_during_downtime_are_not_restored(tmp_path):
    path = tmp_path / "state"
    src = engine()
    src.set_zone_tp(5, {"udp_first": 1})
    run(src, [fb.udp4(CLIENT, SERVER, 1, 53)], "ct(commit,zone=5)")
    run(src, [fb.udp4(CLIENT, SERVER, 2, 53)], "ct(commit)")
    src.save(path)
    time.sleep(1.1)                     # wall-clock time since the save
    dst = engine()
    stats = dst.restore(path)
    assert stats["age_ms"] >= 1100
    assert (stats["restored"], stats["expired"]) == (1, 1)
    (entry,) = dst.dump()
    assert entry.orig.sport == 2
    assert 60_000 - 2_000 < entry.expiration - dst.now <= 60_000 - 1_100


def test_save_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "state"
    ct = engine()
    run(ct, [fb.udp4(CLIENT, SERVER, 1, 53)], "ct(commit)")
    ct.save(path)
    first = path.read_bytes()
    run(ct, [fb.udp4(CLIENT, SERVER, 2, 53)], "ct(commit)")
    assert ct.save(path)["connections"] == 2
    assert path.read_bytes() != first
    assert sorted(os.listdir(tmp_path)) == ["state"]
    # A directory that does not exist: an OSError naming the file.
    with pytest.raises(FileNotFoundError) as exc:
        ct.save(tmp_path / "missing" / "state")
    assert "missing/state.tmp" in str(exc.value)


# ---------------------------------------------------------------------------
# Bad files: refused whole, table untouched.

@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("persist") / "good"
    ct = engine()
    populate(ct)
    ct.save(path)
    ct.close()
    return path.read_bytes()


def refused(tmp_path, data: bytes) -> str:
    path = tmp_path / "bad"
    path.write_bytes(data)
    ct = engine()
    before = (settings(ct), snapshot(ct))
    with pytest.raises(ValueError) as exc:
        ct.restore(path)
    assert (settings(ct), snapshot(ct)) == before     # nothing applied
    assert ct.nconns() == 0
    msg = str(exc.value)
    assert msg.startswith(f"{path}: "), msg
    return msg


@pytest.mark.parametrize("where", [0, 9, 20, 60, 100, 119, 120, 200,
                                   "middle", "last"])
def test_bit_flip_refused(tmp_path, good_file, where):
    data = bytearray(good_file)
    i = {"middle": len(data) // 2, "last": len(data) - 1}.get(where, where)
    data[i] ^= 0x10
    msg = refused(tmp_path, bytes(data))
    if i < 8:
        assert "bad magic" in msg
    elif i < HEADER_SIZE:
        assert "corrupt" in msg or "byte order" in msg or "version" in msg \
            or "layouts" in msg or "truncated" in msg or "trailing" in msg
    else:
        assert msg.endswith("corrupt (checksum mismatch)"), msg


@pytest.mark.parametrize("keep", [1, 8, 60, HEADER_SIZE, HEADER_SIZE + 1,
                                  "half", "minus1"])
def test_truncated_refused(tmp_path, good_file, keep):
    n = {"half": len(good_file) // 2,
         "minus1": len(good_file) - 1}.get(keep, keep)
    msg = refused(tmp_path, good_file[:n])
    if n < 8:
        assert "bad magic" in msg
    else:
        assert "truncated" in msg, msg
        assert str(n) in msg


def test_empty_refused(tmp_path):
    assert refused(tmp_path, b"").endswith(": empty file")


def test_trailing_bytes_refused(tmp_path, good_file):
    assert "trailing garbage" in refused(tmp_path, good_file + b"\0")


@pytest.mark.parametrize("version", [1, 3, 0xffffffff])
def test_other_version_refused(tmp_path, good_file, version):
    data = bytearray(good_file)
    data[OFS_VERSION:OFS_VERSION + 4] = struct.pack("=I", version)
    msg = refused(tmp_path, bytes(data))
    assert f"format version {version}, expected 2" in msg, msg


def test_version_1_file_refused_before_its_layout_is_read(tmp_path):
    # A version 1 file's start (16 bytes) and a whole zeroed version 1
    # header (120 bytes, no ALG sizes): refused for the version, not as
    # truncated or of other layouts.
    head = struct.pack("=8sII", b"OVSCTSTA", 0x01020304, 1)
    for size in (16, 120):
        msg = refused(tmp_path, head + bytes(size - len(head)))
        assert msg.endswith("format version 1, expected 2 (this build "
                            "reads only version 2)"), msg


def test_other_byte_order_refused(tmp_path, good_file):
    data = bytearray(good_file)
    # The whole header as the other byte order would have written it.
    fields = "=8s12Iqq Q5I4s3Q".replace(" ", "")
    values = struct.unpack(fields, data[:HEADER_SIZE])
    other = "<" if struct.pack("=I", 1) == struct.pack(">I", 1) else ">"
    data[:HEADER_SIZE] = struct.pack(other + fields[1:], *values)
    msg = refused(tmp_path, bytes(data))
    assert "other byte order" in msg


def test_not_a_state_file(tmp_path):
    assert "bad magic" in refused(tmp_path, b"# some text file\n")


def test_missing_file(tmp_path):
    ct = engine()
    with pytest.raises(FileNotFoundError):
        ct.restore(tmp_path / "nope")


def test_closed_engine(tmp_path):
    ct = engine()
    ct.close()
    with pytest.raises(ValueError, match="closed"):
        ct.save(tmp_path / "x")


def test_save_while_packets_flow(tmp_path):
    """Saves taken while another thread commits connections are complete
    files holding a consistent subset (every connection that existed when
    the save began, none twice)."""
    import threading

    ct = engine()
    for i in range(500):
        run(ct, [fb.udp4(CLIENT, SERVER, 10000 + i, 53)], "ct(commit)")
    stop = threading.Event()

    def traffic():
        i = 0
        while not stop.is_set() and i < 40000:
            frames = [fb.udp4("10.5.%d.%d" % (i >> 8 & 0xff, i & 0xff),
                              SERVER, 1000 + k, 53) for k in range(32)]
            ct.execute_frames(frames, "ct(commit)")
            i += 1

    t = threading.Thread(target=traffic)
    t.start()
    try:
        counts = []
        for k in range(5):
            path = tmp_path / ("s%d" % k)
            low = ct.nconns()
            saved = ct.save(path)["connections"]
            high = ct.nconns()
            assert low <= saved <= high
            fresh = engine()
            stats = fresh.restore(path)
            assert stats["restored"] == saved == fresh.nconns()
            assert stats["duplicates"] == 0
            fresh.close()
            counts.append(saved)
    finally:
        stop.set()
        t.join()
    assert counts[0] >= 500


def alg_states(ct: Conntrack, frames: list[bytes], action: str) -> list:
    return [ct_state_name(s) for s in ct.execute_frames(frames, action)]


def test_alg_helper_and_parent_survive(tmp_path):
    """An FTP control connection committed with alg=ftp keeps helper=ftp:
    after the restore its PORT creates an expectation (which was not
    saved) and the data connection is +rel; the data connection's helper,
    related flag and parent survive a second save and restore."""
    frames = ALG.ftp_active4()
    ct = engine()
    assert alg_states(ct, frames[:4], "ct(commit,alg=ftp)")[3] == \
        "est|rpl|trk"
    assert ct.dump_exp() == []
    before = ct.dump_text(verbose=True)
    assert "helper=ftp" in before
    ct.save(tmp_path / "ctl")
    ct.close()

    ct = engine(start_ms=5_000_000)
    assert ct.restore(tmp_path / "ctl")["restored"] == 1
    assert ct.dump_text(verbose=True) == before
    assert ct.dump_exp() == []
    assert alg_states(ct, frames[4:6], "ct(commit,alg=ftp)") == [
        "est|trk", "est|rpl|trk"]
    assert ct.dump_exp() == [
        "tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),"
        "parent=(src=10.1.1.1,dst=10.1.1.2,sport=33333,dport=21)"]
    assert alg_states(ct, frames[6:9], "ct(commit)") == [
        "new|rel|trk", "est|rel|rpl|trk", "est|rel|trk"]
    both = ct.dump_text(verbose=True)
    assert ",parent=(src=10.1.1.1,dst=10.1.1.2,sport=33333,dport=21)" \
        in both
    ct.save(tmp_path / "both")
    ct.close()

    ct = engine(start_ms=9_000_000)
    assert ct.restore(tmp_path / "both")["restored"] == 2
    assert ct.dump_text(verbose=True) == both
    # The data connection is still related to its parent.
    assert alg_states(ct, frames[8:9], "ct(commit)") == ["est|rel|trk"]
    ct.close()


def test_restored_connections_post_new_events(tmp_path):
    """A restore posts a NEW event per restored connection to subscribed
    readers (as a commit does), none for duplicates, and nothing when
    nobody is subscribed."""
    ct = engine()
    populate(ct)
    ct.save(tmp_path / "f")
    n = ct.nconns()
    ct.close()

    ct = engine()
    cursor = ct.events_subscribe()
    assert ct.restore(tmp_path / "f")["restored"] == n
    events, cursor, lost = ct.events_read(cursor, 16384)
    assert lost == 0
    assert [e.type for e in events] == ["NEW"] * n
    dumped = {(repr(e.orig), e.zone) for e in ct.dump()}
    assert {(repr(e.entry.orig), e.entry.zone) for e in events} == dumped
    assert any(e.entry.mark == 0x2a for e in events)
    # Restoring again: all duplicates, no event.
    assert ct.restore(tmp_path / "f")["duplicates"] == n
    assert ct.events_read(cursor, 16384)[0] == []
    ct.close()
