"""Connection events of the userspace datapath (ext/events.c,
ct/events-read, ``ovsct events``).

Engine level, with a manual clock: commit -> NEW (with the commit's
mark), the TCP close -> UPDATEs, expiry, flushes and force -> DESTROY,
ring overflow counted, nothing recorded while no one listens, filters,
and several packet threads while a reader reads.  Daemon level, with a
real ovsctd: ``ovsct events`` as a subprocess while ct/replay runs a
capture, the real ``ovs-appctl`` on ct/events-read, JSON lines, and the
lost-events warning.
"""

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from daemonlib import OVS_APPCTL, ROOT, Ovsctd
from enginecheck import require_engine
from framebuild import icmp4_query, tcp4, udp4, udp_flow_frames

_engine = require_engine()

from ovsct.action import parse_ct_action  # noqa: E402
from ovsct.engine import Conntrack, FlushFilter, pcap_write  # noqa: E402
from ovsct.types import TupleMatch  # noqa: E402

A, B = "10.0.0.1", "10.0.0.2"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def ct():
    with Conntrack(manual_clock=True, start_ms=1000, sweeper=False) as c:
        yield c


def run(ct, frames, action="ct(commit)"):
    if isinstance(frames, bytes):
        frames = [frames]
    return list(ct.execute_frames(frames, parse_ct_action(action)))


def read_all(ct, cursor, **kw):
    events, cursor, lost = ct.events_read(cursor, 16384, **kw)
    return events, cursor, lost


def tcp_session(sport=1000):
    return [tcp4(A, B, sport, 80, "S", seq=100),
            tcp4(B, A, 80, sport, "SA", seq=500, ack=101),
            tcp4(A, B, sport, 80, "A", seq=101, ack=501),
            tcp4(A, B, sport, 80, "FA", seq=101, ack=501),
            tcp4(B, A, 80, sport, "FA", seq=501, ack=102),
            tcp4(A, B, sport, 80, "A", seq=102, ack=502)]


def test_names_come_from_the_engine():
    assert _engine.EVENT_NAMES == ("", "NEW", "UPDATE", "DESTROY")


def test_tcp_session_new_updates_destroy(ct):
    cursor = ct.events_subscribe()
    run(ct, tcp_session(), "ct(commit,exec(set_field:5->ct_mark))")
    events, cursor, lost = read_all(ct, cursor)
    assert lost == 0
    assert [e.type for e in events] == ["NEW", "UPDATE", "UPDATE", "UPDATE"]
    # NEW carries the commit's mark; each UPDATE a new printed state.
    assert events[0].entry.mark == 5 and "mark=5" in events[0].line
    states = [e.line.split("state=")[1].rstrip(")") for e in events]
    assert states == ["SYN_SENT", "ESTABLISHED", "CLOSING", "TIME_WAIT"]
    assert events[0].line.startswith(
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1000,dport=80),"
        "reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=1000),")
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    # The line is the dump's line (same formatter, same -m / -s).
    verbose_dump = ct.dump_text(verbose=True)
    ct.flush()
    events, cursor, lost = read_all(ct, cursor, verbose=True)
    assert [e.type for e in events] == ["DESTROY"]
    # -m: the verbose line, exactly what dump-conntrack -m prints.
    assert events[0].line + "\n" == verbose_dump
    assert "state_orig=FIN_WAIT_2,state_reply=FIN_WAIT_2" in events[0].line


def test_dump_line_matches_the_dump(ct):
    cursor = ct.events_subscribe()
    run(ct, udp4(A, B, 5, 6))
    events, cursor, _ = read_all(ct, cursor, stats=True)
    assert [e.line + "\n" for e in events] == [
        ct.dump_text(stats=True)]


def test_udp_reply_and_mark_change_are_updates(ct):
    cursor = ct.events_subscribe()
    run(ct, [udp4(A, B, 5, 6), udp4(A, B, 5, 6)])     # no reply yet
    run(ct, udp4(B, A, 6, 5))                          # first reply
    run(ct, udp4(B, A, 6, 5))                          # nothing new
    run(ct, udp4(A, B, 5, 6), "ct(commit,exec(set_field:9->ct_mark))")
    run(ct, udp4(A, B, 5, 6), "ct(commit,exec(set_field:9->ct_mark))")
    events, _, lost = read_all(ct, cursor)
    assert lost == 0
    assert [e.type for e in events] == ["NEW", "UPDATE", "UPDATE"]
    assert [e.entry.mark for e in events] == [0, 0, 9]


def test_expiry_reaped_by_sweep_and_lookup_is_destroy(ct):
    cursor = ct.events_subscribe()
    run(ct, [udp4(A, B, 1, 2), udp4(A, B, 3, 4)])
    ct.advance(120000)
    run(ct, udp4(A, B, 1, 2))       # lookup reaps it, a new one is made
    ct.sweep_now()                  # the sweeper reaps the other
    events, _, _ = read_all(ct, cursor)
    kinds = [(e.type, e.entry.orig.sport) for e in events]
    assert kinds[:2] == [("NEW", 1), ("NEW", 3)]
    assert sorted(kinds[2:]) == sorted([("DESTROY", 1), ("NEW", 1),
                                        ("DESTROY", 3)])
    assert kinds.index(("DESTROY", 1)) < kinds.index(("NEW", 1), 1)


def test_flushes_and_force_are_destroy(ct):
    cursor = ct.events_subscribe()
    run(ct, [udp4(A, B, i, 53) for i in range(1, 11)])
    run(ct, icmp4_query(A, B, 8, 77), "ct(commit,zone=3)")
    ct.flush(zone=3)
    ct.flush_filter(FlushFilter(zone=0))
    events, cursor, _ = read_all(ct, cursor)
    assert [e.type for e in events].count("NEW") == 11
    assert [e.type for e in events].count("DESTROY") == 11
    # Flushing everything (map swap without readers) still says DESTROY
    # per connection while a reader exists.
    run(ct, [udp4(A, B, i, 53) for i in range(1, 6)])
    assert ct.flush() == 5
    events, cursor, _ = read_all(ct, cursor)
    assert [e.type for e in events] == ["NEW"] * 5 + ["DESTROY"] * 5
    # force: a reply-direction packet ends the connection.
    run(ct, tcp_session(2000)[:3])
    run(ct, tcp4(B, A, 80, 2000, "S", seq=9), "ct(commit,force)")
    events, cursor, _ = read_all(ct, cursor)
    assert "DESTROY" in [e.type for e in events]
    assert events[-1].type == "NEW" and events[-1].entry.orig.sport == 80


def test_nothing_recorded_without_subscribers(ct):
    run(ct, udp4(A, B, 1, 2))
    cursor = ct.events_subscribe()
    events, cursor, _ = read_all(ct, cursor)
    assert events == []
    ct.events_unsubscribe()
    run(ct, [udp4(A, B, 3, 4), udp4(B, A, 2, 1)])
    ct.flush()
    events, cursor2, lost = read_all(ct, cursor)
    assert events == [] and lost == 0 and cursor2 == cursor


def test_read_before_any_subscribe_is_an_error(ct):
    with pytest.raises(ValueError, match="never enabled"):
        ct.events_read((1, 0))


def test_ring_overflow_is_counted():
    with Conntrack(manual_clock=True, start_ms=1000, sweeper=False,
                   event_ring=64) as ct:
        cursor = ct.events_subscribe()
        run(ct, udp_flow_frames(200))
        events, cursor, lost = ct.events_read(cursor, 1000)
        assert len(events) == 64 and lost == 200 - 64
        assert [e.seq for e in events] == list(range(137, 201))
        # A reader that keeps up loses nothing.
        run(ct, udp_flow_frames(10, first=500))
        events, cursor, lost = ct.events_read(cursor, 1000)
        assert len(events) == 10 and lost == 0


def test_filter_is_applied_by_the_engine(ct):
    cursor = ct.events_subscribe()
    run(ct, udp4(A, B, 1, 2), "ct(commit,zone=1)")
    run(ct, udp4(A, B, 3, 4), "ct(commit,zone=2)")
    run(ct, udp4(A, B, 5, 6), "ct(commit,zone=2,exec(set_field:7->ct_mark))")
    flt = FlushFilter(zone=2, mark=7, mark_mask=0xff)
    events, _, _ = read_all(ct, cursor, flt=flt)
    assert [(e.type, e.entry.orig.sport) for e in events] == [("NEW", 5)]


def test_filter_prefixes_and_states_are_the_dumps(ct):
    """The one engine filter (ext/filter.c): CIDR prefixes and TCP states
    select the same events as the same filter selects connections in a
    dump."""
    cursor = ct.events_subscribe()
    run(ct, [udp4("10.0.0.1", B, 1, 2), udp4("10.1.0.1", B, 1, 2),
             tcp4(A, B, 1000, 80, "S", seq=100)])
    filters = [
        FlushFilter(orig=TupleMatch(l3=4, src="10.1.0.0", src_plen=16)),
        FlushFilter(orig=TupleMatch(l3=4, src="10.0.0.0", src_plen=8)),
        FlushFilter(states=["SYN_SENT"]),
        FlushFilter(states=["ESTABLISHED"]),
    ]
    counts = []
    for flt in filters:
        events, _, _ = read_all(ct, cursor, flt=flt)
        assert all(e.type == "NEW" for e in events)
        assert sorted(e.line + "\n" for e in events) == sorted(
            ct.dump_text(flt).splitlines(keepends=True))
        counts.append(len(events))
    assert counts == [1, 3, 1, 0]


def test_json_object_is_the_dumps_plus_event(ct):
    """Event.json is made by the engine's JSON formatter: the dump's
    object with "event" among its sorted keys."""
    cursor = ct.events_subscribe()
    run(ct, [udp4(A, B, 1, 2), tcp4(A, B, 1000, 80, "S", seq=100)],
        "ct(commit,exec(set_field:7->ct_mark))")
    events, _, _ = read_all(ct, cursor)
    dumped = {(o["orig"]["sport"]): o for o in ct.dump_json()}
    assert len(events) == 2
    for e in events:
        obj = json.loads(e.json)
        want = dict(dumped[e.entry.orig.sport], event="NEW")
        assert obj == want
        assert e.json == json.dumps(want, sort_keys=True,
                                    separators=(",", ":")).encode()


def test_packet_threads_while_reading():
    """Three packet threads and a flushing thread while a reader reads:
    every connection committed is seen NEW exactly once unless reported
    lost, and sequence numbers only grow."""
    with Conntrack(buckets=64, event_ring=1 << 16) as ct:
        cursor = ct.events_subscribe()
        errors, seen = [], []
        stop = threading.Event()

        def packets(base):
            try:
                for r in range(20):
                    run(ct, udp_flow_frames(200, first=base + r * 200))
            except Exception as e:      # pragma: no cover - reported below
                errors.append(e)

        def reader():
            nonlocal cursor
            lost_total = 0
            while True:
                done = stop.is_set()
                events, cursor, lost = ct.events_read(cursor, 4096)
                seen.extend(events)
                lost_total += lost
                if done and not events:
                    break
            seen.append(lost_total)

        threads = [threading.Thread(target=packets, args=(b,))
                   for b in (0, 10000, 20000)]
        rd = threading.Thread(target=reader)
        rd.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        rd.join()
        assert not errors
        lost = seen.pop()
        news = [e for e in seen if e.type == "NEW"]
        assert len(news) + lost >= 12000 and len(news) <= 12000
        assert len({(e.entry.orig.src, e.entry.orig.sport)
                    for e in news}) == len(news)
        seqs = [e.seq for e in seen]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


# ---------------------------------------------------------------------------
# With a real ovsctd.

@pytest.fixture
def daemon():
    with Ovsctd() as d:
        yield d


def start_events(d, *args):
    """`ovsct ... events` with its output in files (a pipe nobody reads
    would fill up and stall it)."""
    out = open(Path(d.tmpdir) / "events.out", "w+")
    err = open(Path(d.tmpdir) / "events.err", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ovsct.cli", "-t", d.socket] + list(args),
        env=d.env, cwd=ROOT, stdout=out, stderr=err, text=True)
    proc.files = (out, err)
    return proc


def wait_reader(d, n=1, timeout=10):
    """Until the daemon has 'n' event readers besides our probe."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = d.ovsct("-f", "json", "ct/events-read", "wait=0")
        reply = json.loads(r.stdout)
        d.appctl("ct/events-read", "--close", "cursor=" + reply["cursor"])
        if reply["readers"] > n:
            return
        time.sleep(0.05)
    raise AssertionError("the events reader did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    texts = []
    for f in proc.files:
        f.seek(0)
        texts.append(f.read())
        f.close()
    return proc.returncode, texts[0], texts[1]


def test_ovsct_events_while_replaying(daemon):
    proc = start_events(daemon, "events", "-s")
    try:
        wait_reader(daemon)
        r = daemon.appctl("ct/replay", str(DATA / "tcp.pcap"))
        assert r.returncode == 0, r.stderr
        dump = daemon.appctl("dpctl/dump-conntrack", "-s").stdout.decode()
        assert daemon.appctl("dpctl/flush-conntrack").returncode == 0
        time.sleep(1.5)
    finally:
        rc, out, err = stop(proc)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines]
    assert kinds.count("[NEW]") == 2 and kinds.count("[DESTROY]") == 2
    assert "[UPDATE]" in kinds
    assert all(k in ("[NEW]", "[UPDATE]", "[DESTROY]") for k in kinds)
    # Each DESTROY line is the connection's dump line (without -s's
    # timeout, which has moved on).
    dumped = {re.sub(",timeout=[0-9]+", "", line)
              for line in dump.splitlines()}
    destroyed = {re.sub(",timeout=[0-9]+", "", line.split(" ", 1)[1])
                 for line in lines if line.startswith("[DESTROY]")}
    assert len(dumped) == 2
    assert destroyed == dumped


def test_ovsct_events_json_and_zone_filter(daemon):
    proc = start_events(daemon, "-f", "json", "events", "ovsct@ovsct",
                        "zone=0")
    try:
        wait_reader(daemon)
        daemon.appctl("ct/replay", str(DATA / "udp.pcap"))
        daemon.appctl("ct/replay", str(DATA / "udp.pcap"),
                      "ct(commit,zone=5)")
        time.sleep(1.5)
    finally:
        rc, out, err = stop(proc)
    assert rc == 0 and err == ""
    objs = [json.loads(line) for line in out.splitlines()]
    assert objs and all(o["zone"] == 0 for o in objs)
    assert objs[0]["event"] == "NEW" and objs[0]["protocol"] == "udp"


def test_appctl_events_read_dump_filter(daemon):
    """ct/events-read takes dump-conntrack's filter: a prefix and state=
    through the real ovs-appctl; its JSON reply carries the engine's
    objects."""
    r = daemon.ovsct("-f", "json", "ct/events-read", "wait=0",
                     "ct_nw_src=10.0.0.0/8", "state=SYN_SENT,ESTABLISHED")
    assert r.returncode == 0, r.stderr
    cursor = json.loads(r.stdout)["cursor"]
    daemon.appctl("ct/replay", str(DATA / "tcp.pcap"))
    daemon.appctl("ct/replay", str(DATA / "udp.pcap"))
    r = daemon.ovsct("-f", "json", "ct/events-read", "cursor=" + cursor,
                     "wait=0", "ct_nw_src=0.0.0.0/0",
                     "state=SYN_SENT,ESTABLISHED")
    assert r.returncode == 0, r.stderr
    reply = json.loads(r.stdout)
    assert reply["events"] and reply["lost"] == 0
    assert {o["protocol"] for o in reply["events"]} == {"tcp"}
    assert {o["tcp"]["state"] for o in reply["events"]} <= {
        "SYN_SENT", "ESTABLISHED"}
    bad = subprocess.run([OVS_APPCTL, "-t", daemon.socket,
                          "ct/events-read", "wait=0", "state=BOGUS"],
                         capture_output=True, text=True)
    assert bad.returncode == 2, bad.stderr
    assert "ovsctd: events: failed to parse state" in bad.stderr
    daemon.appctl("ct/events-read", "--close", "cursor=" + cursor)


def test_bad_filter_is_an_error(daemon):
    r = daemon.ovsct("events", "zone=70000")
    assert r.returncode == 2
    assert "failed to parse zone" in r.stderr.decode()


def test_appctl_events_read(daemon):
    r = subprocess.run([OVS_APPCTL, "-t", daemon.socket, "ct/events-read",
                        "wait=0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert header.startswith("cursor=") and header.endswith(" lost=0")
    cursor = header.split()[0]
    daemon.appctl("ct/replay", str(DATA / "icmp.pcap"))
    r = subprocess.run([OVS_APPCTL, "-t", daemon.socket, "ct/events-read",
                        "-m", cursor, "max=1"], capture_output=True,
                       text=True)
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[NEW] icmp,")
    r = subprocess.run([OVS_APPCTL, "-t", daemon.socket, "ct/events-read",
                        "cursor=x"], capture_output=True, text=True)
    assert r.returncode == 2 and "READER:SEQ:DROPPED" in r.stderr


def test_lost_events_are_a_counted_warning(daemon):
    """A reader that never reads between two replays of many flows loses
    events; `ovsct events` reports them on stderr with their count."""
    proc = start_events(daemon, "events")
    try:
        wait_reader(daemon)
        proc.send_signal(signal.SIGSTOP)    # a reader that falls behind
        time.sleep(0.3)
        daemon.appctl("ct/replay", str(big_capture(daemon)))
        proc.send_signal(signal.SIGCONT)
        time.sleep(2)
    finally:
        rc, out, err = stop(proc)
    assert rc == 0, err
    assert "event(s) lost so far" in err, (len(out.splitlines()), err)
    # Every one of the 12000 NEW events was either printed or counted
    # lost (the ring keeps 8192; a long poll in flight may take 1024).
    lost = int(err.strip().splitlines()[-1].split("; ")[1].split()[0])
    assert lost >= 12000 - 8192 - 1024
    kept = [line for line in out.splitlines() if line.startswith("[NEW]")]
    assert len(kept) + lost == 12000


def big_capture(daemon):
    """A capture of 12000 one-packet UDP flows (more than the ring)."""
    path = Path(daemon.tmpdir) / "flows.pcap"
    if not path.exists():
        frames = udp_flow_frames(12000)
        offsets = [0]
        for f in frames:
            offsets.append(offsets[-1] + len(f))
        pcap_write(str(path), b"".join(frames), offsets)
    return path
