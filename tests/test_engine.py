"""The engine's rules through the Python API, with an injected clock.

Each test builds its frames by hand (tests/lib/framebuild.py), runs them
through ct() and checks ct_state, the table and the counts.  The clock is
manual: expiry is tested by moving it, never by sleeping.  Covers the
rules of the engine issue that the OVS oracle captures cannot (they run
one action, zone 0, no limits): zones, expiry and exact counts,
timeout policies, maxconns and zone limits, marks and labels with masks,
force, flushes, and concurrent use from several Python threads.
"""

import threading

import pytest
from enginecheck import require_engine
from framebuild import icmp4_error, icmp4_query, tcp4, udp4, udp6

_engine = require_engine()

from ovsct.action import parse_ct_action  # noqa: E402
from ovsct.engine import (  # noqa: E402
    Conntrack, FlushFilter, Tuple, TupleMatch)
from ovsct.errors import NotFound  # noqa: E402

NEW, EST, REL, RPL, INV, TRK = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

A, B = "10.0.0.1", "10.0.0.2"


@pytest.fixture
def ct():
    with Conntrack(manual_clock=True, start_ms=1000, sweeper=False) as c:
        yield c


def run(ct, frames, action="ct(commit)"):
    if isinstance(frames, bytes):
        frames = [frames]
    return list(ct.execute_frames(frames, parse_ct_action(action)))


def test_udp_states_follow_ovs(ct):
    fwd, rev = udp4(A, B, 1000, 53), udp4(B, A, 53, 1000)
    assert run(ct, [fwd, fwd, rev, rev, fwd]) == [
        NEW | TRK, NEW | TRK, EST | RPL | TRK, EST | RPL | TRK, EST | TRK]
    assert ct.nconns() == 1


def test_lookup_without_commit_creates_nothing(ct):
    assert run(ct, udp4(A, B, 1000, 53), "ct") == [NEW | TRK]
    assert ct.nconns() == 0 and ct.dump() == []


def test_malformed_frames_are_invalid_not_fatal(ct):
    good = udp4(A, B, 1000, 53)
    frames = [b"", b"\x00" * 13, good[:30], good[:-1] + b"", udp4(A, B, 0, 53)]
    assert run(ct, frames) == [INV | TRK] * 5
    assert ct.nconns() == 0


def test_bad_batch_layout_is_a_clear_error(ct):
    with pytest.raises(ValueError):
        ct.execute(b"\x00" * 10, [0, 20], parse_ct_action("ct(commit)"))
    with pytest.raises(ValueError):
        ct.execute(b"\x00" * 10, [5, 2], parse_ct_action("ct(commit)"))


def test_zones_are_separate_tables(ct):
    f = udp4(A, B, 1000, 53)
    assert run(ct, f, "ct(commit,zone=1)") == [NEW | TRK]
    assert run(ct, f, "ct(commit,zone=2)") == [NEW | TRK]
    assert ct.nconns() == 2
    assert [e.zone for e in ct.dump(zone=2)] == [2]
    assert ct.flush(zone=1) == 1
    assert [e.zone for e in ct.dump()] == [2]


def test_expired_entries_vanish_at_once_and_are_never_counted(ct):
    run(ct, udp4(A, B, 1000, 53))               # udp_first: 60 s
    ct.advance(60000 - 1)
    assert ct.nconns() == 1 and len(ct.dump()) == 1
    ct.advance(1)
    # No sweep has run: expired entries are invisible and uncounted.
    assert ct.dump() == [] and ct.dump_text() == ""
    assert ct.nconns() == 0
    assert ct.stats()["total"] == 0 and sum(ct.bucket_counts()) == 0
    assert run(ct, udp4(A, B, 1000, 53)) == [NEW | TRK]


def test_timeouts_per_state(ct):
    fwd, rev = udp4(A, B, 1000, 53), udp4(B, A, 53, 1000)
    run(ct, [fwd, rev])                         # Both ways: udp_multiple 30
    ct.advance(30000)
    assert ct.nconns() == 0
    run(ct, [fwd])
    ct.advance(1)
    assert [e.timeout for e in ct.dump()] == [59]


def test_settled_connections_refresh_with_their_zones_last_timeout(ct):
    # A UDP connection that saw a reply and an ICMP echo that was answered
    # change state no more: later packets, either way, only push the expiry
    # to now + udp_multiple / icmp_reply of the action's zone (the packet
    # path does that without the connection's lock: ct_refresh_settled()).
    ct.set_zone_tp(5, {"udp_multiple": 11, "icmp_reply": 13})
    fwd, rev = udp4(A, B, 1000, 53), udp4(B, A, 53, 1000)
    req, rep = icmp4_query(A, B, 8, 77), icmp4_query(B, A, 0, 77)
    zone5 = "ct(commit,zone=5)"
    assert run(ct, [fwd, rev, req, rep], zone5) == [
        NEW | TRK, EST | RPL | TRK, NEW | TRK, EST | RPL | TRK]
    for frames, states in (([fwd, req], [EST | TRK, EST | TRK]),
                           ([rev, rep], [EST | RPL | TRK, EST | RPL | TRK])):
        ct.advance(9000)                        # Both still alive ...
        assert run(ct, frames, zone5) == states
        ct.advance(1)
        assert sorted((e.orig.proto, e.timeout) for e in ct.dump()) == [
            (1, 12), (17, 10)]                  # ... and refreshed.
    ct.advance(11000)
    assert [e.orig.proto for e in ct.dump()] == [1]
    ct.advance(2000)
    assert ct.nconns() == 0


def test_zone_timeout_policy(ct):
    ct.set_zone_tp(5, {"udp_first": 7})
    run(ct, udp4(A, B, 1000, 53), "ct(commit,zone=5)")
    run(ct, udp4(A, B, 1001, 53), "ct(commit,zone=6)")
    ct.advance(7000)
    assert [e.zone for e in ct.dump()] == [6]
    ct.del_zone_tp(5)
    with pytest.raises(NotFound):
        ct.del_zone_tp(5)
    run(ct, udp4(A, B, 1002, 53), "ct(commit,zone=5)")
    ct.advance(1)
    assert sorted(e.timeout for e in ct.dump()) == [52, 59]


def test_maxconns_refuses_and_expired_entries_do_not_hold_the_table(ct):
    ct.maxconns = 5
    states = run(ct, [udp4(A, B, 1000 + i, 53) for i in range(8)])
    assert states == [NEW | TRK] * 8            # Refused ones stay new.
    assert ct.nconns() == 5
    assert ct.counters()["full"] == 3
    ct.advance(60000)                           # All expire, none swept.
    run(ct, [udp4(A, B, 2000 + i, 53) for i in range(5)])
    assert ct.nconns() == 5 and ct.counters()["full"] == 3


def test_zone_limits_count_exactly(ct):
    for i in range(4):
        run(ct, udp4(A, B, 1000 + i, 53), "ct(commit,zone=7)")
    ct.set_zone_limit(7, 3)                     # Counts what is there.
    assert ct.get_zone_limit(7) == (3, 4, True)
    run(ct, udp4(A, B, 2000, 53), "ct(commit,zone=7)")
    assert ct.get_zone_limit(7)[1] == 4 and ct.counters()["zone_full"] == 1
    ct.set_zone_limit(None, 1)                  # Default: per zone.
    run(ct, [udp4(A, B, 3000 + i, 53) for i in range(3)],
        "ct(commit,zone=8)")
    assert ct.get_zone_limit(8) == (1, 1, False)
    ct.set_zone_limit(9, 0)                     # Explicit 0 admits nothing.
    run(ct, udp4(A, B, 4000, 53), "ct(commit,zone=9)")
    assert ct.get_zone_limit(9) == (0, 0, True)
    assert [e.zone for e in ct.dump(zone=9)] == []
    ct.check_invariants()                       # Zone counts = a walk.
    ct.advance(60000)                           # Expired: not counted.
    assert ct.get_zone_limit(7) == (3, 0, True)
    ct.del_zone_limit(7)
    assert ct.list_zone_limits() == [9]
    ct.check_invariants()


def test_mark_and_labels_with_masks(ct):
    f = udp4(A, B, 1000, 53)
    run(ct, f, "ct(commit,exec(set_field:0x12->ct_mark,"
               "set_field:0xab00000000->ct_label))")
    run(ct, f, "ct(commit,exec(set_field:0x3400/0xff00->ct_mark))")
    (e,) = ct.dump()
    assert (e.mark, e.labels) == (0x3412, 0xab00000000)
    assert "mark=13330,labels=0xab00000000" in ct.dump_text()


def test_force_ends_the_connection_seen_in_reply_direction(ct):
    run(ct, udp4(A, B, 1000, 53))
    assert run(ct, udp4(B, A, 53, 1000), "ct(commit,force)") == [NEW | TRK]
    (e,) = ct.dump()
    assert (e.orig.src, e.orig.sport) == (B, 53)


def test_icmp_echo_and_errors(ct):
    req, rep = icmp4_query(A, B, 8, 77), icmp4_query(B, A, 0, 77)
    assert run(ct, [req, rep]) == [NEW | TRK, EST | RPL | TRK]
    assert run(ct, icmp4_query(B, A, 0, 78)) == [INV | TRK]   # Unsolicited.
    flow = udp4(A, B, 1000, 53)
    run(ct, flow)
    err = icmp4_error(B, A, 3, 3, flow)         # Port unreachable.
    assert run(ct, err) == [REL | RPL | TRK]
    assert run(ct, icmp4_error(B, A, 3, 3, udp4(A, B, 9, 9))) == [INV | TRK]
    assert ct.nconns() == 2                     # Errors create nothing.


def test_tcp_syn_ack_cannot_open(ct):
    assert run(ct, tcp4(A, B, 1000, 80, "SA")) == [INV | TRK]
    assert run(ct, tcp4(A, B, 1000, 80, "S")) == [NEW | TRK]
    (e,) = ct.dump()
    assert e.tcp_state == ("SYN_SENT", "CLOSED")


def test_flush_by_tuple_in_either_direction_and_by_filter(ct):
    run(ct, [udp4(A, B, 1000, 53), udp4(A, B, 1001, 53), udp6(
        "fc00::1", "fc00::2", 5, 6)])
    reply = Tuple(l3=4, proto=17, src=B, dst=A, sport=53, dport=1000)
    ct.flush_tuple(0, reply)
    with pytest.raises(NotFound):
        ct.flush_tuple(0, reply)
    flt = FlushFilter(orig=TupleMatch(l3=6))
    assert ct.flush_filter(flt) == 1
    assert [e.orig.sport for e in ct.dump()] == [1001]
    assert ct.flush() == 1 and ct.nconns() == 0


def test_flushed_counts_each_flush_and_never_expiry(ct):
    """Issue 13: 'flushed' grows by exactly the connections each flush
    removes (tuple, filter, zone, all, with and without event readers);
    connections that expire, reaped by the sweeper or met by a flush,
    are counted as expired, never as flushed."""
    def counters():
        c = ct.counters()
        return c["flushed"], c["expired"], c["removed"]

    run(ct, [udp4(A, B, 1000 + i, 53) for i in range(30)])
    run(ct, [udp4(A, B, 2000 + i, 53) for i in range(7)],
        "ct(commit,zone=5)")
    assert counters() == (0, 0, 0)
    ct.flush_tuple(0, Tuple(l3=4, proto=17, src=A, dst=B, sport=1000,
                            dport=53))
    assert counters() == (1, 0, 1)
    flt = FlushFilter(orig=TupleMatch(l3=4, proto=17, sport=1001))
    assert ct.flush_filter(flt) == 1
    assert counters() == (2, 0, 2)
    assert ct.flush(5) == 7
    assert counters() == (9, 0, 9)
    assert ct.flush() == 28
    assert counters() == (37, 0, 37)

    # Expiry: reaped by the sweeper, or met by a walking flush.
    run(ct, [udp4(A, B, 3000 + i, 53) for i in range(10)])
    run(ct, [udp4(A, B, 4000 + i, 53) for i in range(4)],
        "ct(commit,zone=5)")
    ct.advance(60000)
    assert ct.sweep_now() == 14
    assert counters() == (37, 14, 51)
    run(ct, [udp4(A, B, 5000 + i, 53) for i in range(6)],
        "ct(commit,zone=5)")
    ct.advance(60000)
    assert ct.flush(5) == 0
    assert counters() == (37, 20, 57)

    # Flush-all while an event reader walks the buckets instead.
    run(ct, [udp4(A, B, 6000 + i, 53) for i in range(12)])
    ct.events_subscribe()
    try:
        assert ct.flush() == 12
    finally:
        ct.events_unsubscribe()
    assert counters() == (49, 20, 69)


def test_counts_agree_everywhere(ct):
    run(ct, [udp4(A, B, 1000 + i, 53) for i in range(100)]
        + [icmp4_query(A, B, 8, i) for i in range(20)])
    ct.advance(1)
    stats = ct.stats()
    assert stats["total"] == ct.nconns() == 120 == sum(ct.bucket_counts())
    assert stats["per_proto"]["udp"] == 100
    assert len(ct.dump_text().splitlines()) == 120
    ct.check_invariants()


def test_sweep_removes_what_expired(ct):
    run(ct, [udp4(A, B, 1000 + i, 53) for i in range(50)])
    ct.advance(60000)
    assert ct.sweep_now() == 50
    assert ct.counters()["removed"] == 50


def test_concurrent_threads(ct):
    """Packets from several Python threads (the GIL is released in the
    engine) while another thread flushes, dumps and sweeps."""
    errors = []
    stop = threading.Event()

    def packets(base):
        try:
            for r in range(30):
                frames = [udp4(A, B, base + i, 53) for i in range(200)]
                ct.execute_frames(frames, parse_ct_action("ct(commit)"))
        except Exception as e:      # pragma: no cover - reported below
            errors.append(e)

    def admin():
        try:
            while not stop.is_set():
                ct.dump()
                ct.stats()
                ct.flush(zone=3)
                ct.sweep_now()
        except Exception as e:      # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=packets, args=(b,))
               for b in (1000, 1100, 5000)]
    adm = threading.Thread(target=admin)
    adm.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    adm.join()
    assert not errors
    # 1000..1199 and 1100..1299 overlap: 300 + 200 distinct tuples.
    assert ct.nconns() == 500 == len(ct.dump())
    ct.check_invariants()


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_flush_gives_memory_back(ct):
    frames = [udp4(A, B, 1000 + i % 60000, 53 + i // 60000)
              for i in range(200000)]
    before = _rss_bytes()
    run(ct, frames)
    grown = _rss_bytes() - before
    assert ct.nconns() == 200000 and grown > 10 << 20
    ct.flush()                  # No sweeper: the flush reclaims at once.
    assert ct.nconns() == 0 and ct.dump() == []
    # The connections' memory went back to the OS, not to a free list.
    assert _rss_bytes() - before < grown // 4
    run(ct, udp4(A, B, 1000, 53))               # Usable after a release.
    assert ct.nconns() == 1


def test_tcp_timeouts_follow_the_states(ct):
    """The progression OVS showed on a real handshake and teardown
    (lib/conntrack-tcp.c tcp_conn_update(), the timeouts of
    lib/conntrack-tp.c): the timeout printed by -s after each
    packet, one millisecond later."""
    c, s = (A, 40000), (B, 80)

    def seg(src, dst, flags, seq, ack):
        return tcp4(src[0], dst[0], src[1], dst[1], flags, seq, ack)

    steps = [
        (seg(c, s, "S", 100, 0), "SYN_SENT", 29),
        (seg(s, c, "SA", 500, 101), "ESTABLISHED", 29),
        (seg(c, s, "A", 101, 501), "ESTABLISHED", 86399),
        (seg(s, c, "FA", 501, 101), "CLOSING", 899),
        (seg(c, s, "A", 101, 502), "TIME_WAIT", 899),
        (seg(c, s, "FA", 101, 502), "TIME_WAIT", 44),
        (seg(s, c, "A", 502, 102), "TIME_WAIT", 29),
    ]
    for frame, state, timeout in steps:
        run(ct, frame)
        ct.advance(1)
        (line,) = ct.dump_text(stats=True).splitlines()
        assert "timeout=%d," % timeout in line, line
        assert "protoinfo=(state=%s)" % state in line, line


def test_tcp_policy_and_sequence_check_switch(ct):
    ct.set_zone_tp(3, {"tcp_syn_sent": 20, "tcp_established": 3600})
    run(ct, tcp4(A, B, 1, 80, "S", 100), "ct(commit,zone=3)")
    ct.advance(1)
    assert "timeout=19," in ct.dump_text(stats=True)
    run(ct, [tcp4(B, A, 80, 1, "SA", 900, 101),
             tcp4(A, B, 1, 80, "A", 101, 901)], "ct(commit,zone=3)")
    ct.advance(1)
    assert "timeout=3599," in ct.dump_text(stats=True)
    far = tcp4(A, B, 1, 80, "A", 101 + 10 ** 9, 901, b"data")
    assert run(ct, far, "ct(commit,zone=3)") == [INV | TRK]
    ct.tcp_seq_chk = False
    assert run(ct, far, "ct(commit,zone=3)") == [EST | TRK]
    assert ct.tcp_seq_chk is False


def test_counts_stay_exact_when_a_shorter_policy_arrives(ct):
    """The sweeper skips connections by an expiry lower bound computed
    with the shortest timeout in force; a policy with a shorter one, or a
    clock set backwards, must not let an expired entry be counted."""
    run(ct, [udp4(A, B, 1000 + i, 53) for i in range(10)], "ct(commit,zone=2)")
    assert ct.nconns() == 10                    # Bounds recorded here.
    ct.set_zone_tp(2, {"udp_single": 1})
    run(ct, [udp4(A, B, 1000 + i, 53) for i in range(10)], "ct(commit,zone=2)")
    ct.advance(1000)                            # Expired under udp_single.
    assert ct.nconns() == 0
    run(ct, udp4(A, B, 7, 53), "ct(commit,zone=4)")
    assert ct.nconns() == 1
    ct.set_time(ct.now - 50000)                 # Backwards...
    run(ct, udp4(A, B, 7, 53), "ct(commit,zone=4)")     # ...expiry: +60 s
    ct.check_invariants()                       # Sweep bounds included.
    ct.advance(60000)
    assert ct.nconns() == 0
    ct.check_invariants()


def test_the_sweeper_thread_removes_expired_entries_by_itself():
    """No count or lookup asks for it: the background sweeper alone must
    remove what expired (polled for up to 10 s; it takes milliseconds)."""
    import time

    with Conntrack(manual_clock=True, start_ms=1000) as ct:
        ct.sweep_interval = 100
        run(ct, [udp4(A, B, 1000 + i, 53) for i in range(300)])
        ct.advance(60000)
        deadline = time.monotonic() + 10
        while (ct.counters()["removed"] < 300
               and time.monotonic() < deadline):
            time.sleep(0.01)
        counters = ct.counters()
        assert counters["removed"] == 300 and counters["expired"] == 300
        assert counters["sweeps"] > 0
