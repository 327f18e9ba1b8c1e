"""Smoke tests of `ovsct bench`: every phase of bench/bench.c on a small
table.  They check that each phase runs, passes its own correctness checks
and reports the keys the docs and scripts read -- never how fast anything
is: performance is measured by the benchmarks themselves
(benchmarks/run_all.py), which print figures.
"""

from __future__ import annotations

import argparse
import io
import json

import pytest

from ovsct import bench
from ovsct.engine import COUNTER_NAMES, Conntrack

# Keys each phase must report (besides phase, conns, threads, checks, ok).
KEYS = {
    "standard": ("insert_ms", "lookup_ms", "sweep_ms", "flush_ms",
                 "bytes_per_conn_rss", "bytes_per_conn_mapped"),
    "aging": ("expire_p50_ms", "expire_p99_ms", "expire_max_ms",
              "sweep_ns_per_conn", "max_lock_hold_us",
              "counted_after_expiry", "hold_hist_drain", "drain_curve",
              "counts_after_expiry"),
    "scaling": ("runs", "speedup_sharded", "speedup_single_lock"),
    "buckets": ("runs",),
    "hashbits": ("runs",),
    "memory": ("kinds",),
    "sweep": ("ns_per_scanned", "ns_per_removed", "max_lock_hold_us",
              "hold_hist", "scan", "expire", "traffic"),
    "tcp": ("ns_per_packet", "packets", "tcp_states"),
    "nat": ("ns_per_conn", "plain_ns_per_conn", "runs"),
    "dump": ("dump_ms", "flush_ms", "dumped", "traffic"),
}


def _run(phase: str, conns: int = 2000, threads: int = 2, **opts) -> dict:
    args = argparse.Namespace(phase=phase, conns=conns, threads=threads,
                              batch=opts.pop("batch", 32),
                              buckets=opts.pop("buckets", 0),
                              sweep_interval=opts.pop("sweep_interval", 0),
                              spread=opts.pop("spread", 0), json=True)
    assert not opts
    out, err = io.StringIO(), io.StringIO()
    status = bench.run(args, out=out, err=err)
    result = json.loads(out.getvalue())
    assert status == 0, (err.getvalue(), result.get("checks"))
    return result


def test_phase_table_matches_cli():
    assert set(KEYS) == set(bench.PHASES)


@pytest.mark.parametrize("phase", sorted(KEYS))
def test_phase(phase):
    # A short sweep interval keeps the "sweep" phase's scanning stage (two
    # intervals) short; the other phases do not depend on it.
    opts = {"sweep_interval": 50} if phase == "sweep" else {}
    if phase in ("buckets", "scaling"):
        opts["buckets"] = 256       # one configuration, small tables
    r = _run(phase, **opts)
    assert r["phase"] == phase and r["conns"] == 2000 and r["threads"] == 2
    assert r["cores"] >= 1
    assert r["ok"] is True and r["checks"]
    assert all(r["checks"].values()), r["checks"]
    for key in KEYS[phase]:
        assert key in r, key


def test_aging_machine_readable_keys():
    r = _run("aging", conns=3000, threads=1)
    for key in ("conns", "expire_p50_ms", "expire_p99_ms", "expire_max_ms",
                "sweep_ns_per_conn", "max_lock_hold_us",
                "counted_after_expiry"):
        assert isinstance(r[key], (int, float)), key
    assert r["counted_after_expiry"] == 0
    assert 0 <= r["expire_p50_ms"] <= r["expire_p99_ms"] <= r["expire_max_ms"]
    assert r["removed"] == 3000
    # The sweeper's lock holds are counted in the new histogram.
    assert sum(r["hold_hist_drain"].values()) > 0
    c = r["counts_after_expiry"]
    assert c["zone_count"] == c["stats_total"] == c["dumped"] == 0
    assert c["admission_refused"] == 0 and c["admission_created"] == 3000


def test_aging_spread_and_interval():
    r = _run("aging", conns=3000, threads=1, spread=100, sweep_interval=20)
    assert r["spread_ms"] == 100 and r["sweep_interval_ms"] == 20
    assert r["expire_max_ms"] >= 0 and r["counted_after_expiry"] == 0


def test_scaling_compares_single_lock():
    r = _run("scaling", threads=2)
    tables = [(x["table"], x["threads"], x["buckets"]) for x in r["runs"]]
    assert tables == [("sharded", 1, 4096), ("single-lock", 1, 1),
                      ("sharded", 2, 4096), ("single-lock", 2, 1)]


def test_hashbits_distribution():
    r = _run("hashbits", threads=1, buckets=64)
    high, low = r["runs"]
    assert (high["mapping"], low["mapping"]) == ("high_bits", "low_bits")
    for x in (high, low):
        assert x["counted"] == 2000 and sum(x["hist"]) == 64


def test_memory_kinds_and_flush():
    r = _run("memory", threads=1)
    assert [k["kind"] for k in r["kinds"]] == ["udp", "tcp", "nat"]
    assert all(k["flushed"] == 2000 for k in r["kinds"])


def test_tcp_states():
    r = _run("tcp", threads=1)
    assert r["packets"] == 8 * 2000
    assert r["tcp_states"] == {"TIME_WAIT": 2000}


def test_nat_translates_into_range():
    r = _run("nat", threads=1)
    for x in r["runs"]:
        assert x["created"] == x["translated"] == 2000
        assert x["nat_exhausted"] == 0


def test_errors():
    args = argparse.Namespace(phase="nope", conns=10, threads=1, batch=32,
                              buckets=0, sweep_interval=0, spread=0,
                              json=True)
    err = io.StringIO()
    assert bench.run(args, out=io.StringIO(), err=err) == 1
    assert "unknown phase 'nope'" in err.getvalue()
    assert "hashbits" in err.getvalue()
    args.phase, args.spread = "aging", 10 ** 6
    err = io.StringIO()
    assert bench.run(args, out=io.StringIO(), err=err) == 1
    assert "spread" in err.getvalue()


def test_render_tables():
    r = _run("dump", conns=1000, threads=1)
    text = bench.render(r)
    assert "traffic:" in text and "batch_p99_us" in text
    assert "dumped_eq_conns" in text


def test_counter_names_cover_hold_histogram():
    with Conntrack() as ct:
        counters = ct.counters()
    assert list(counters) == list(COUNTER_NAMES)
    hist = [n for n in COUNTER_NAMES if n.startswith("sweep_hold_")]
    assert len(hist) == 8
