#!/usr/bin/env python3
"""Markdown tables of a run_all.py result, for docs/benchmarks.md.

    python3 benchmarks/report.py [docs/img/bench-results.json]

Prints one table per question, each figure as "median (best)" over the
repetitions.  The prose around the tables in docs/benchmarks.md is written
by hand; the tables are pasted from here.
"""

from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mb(cfg: dict, path: tuple, fmt: str = "%.1f") -> str:
    """'median (best)' of the figure at 'path' in a config's aggregates."""
    vals = []
    for which in ("median", "best"):
        v = cfg[which]
        for p in path:
            v = v[p]
        vals.append(v)
    if isinstance(vals[0], bool):
        return "yes" if vals[0] else "no"
    m, b = fmt % vals[0], fmt % vals[1]
    return m if m == b else "%s (%s)" % (m, b)


def table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def section(title: str, body: str) -> None:
    print("### " + title + "\n\n" + body + "\n")


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "docs", "img", "bench-results.json")
    with open(path) as f:
        res = json.load(f)
    c = res["configs"]
    m = res["machine"]
    print("Machine: %(nproc)d cores (`nproc`), %(cpu)s, %(mem_gib)s GiB, "
          "%(os)s, kernel %(kernel)s, gcc %(gcc)s, Python %(python)s; "
          "commit %(commit)s%(dirty)s; %(date)s; load %(load).2f before, "
          "%(load_after).2f after.\n" % dict(
              m, dirty=" + work tree" if m["dirty"] else "",
              load_after=m.get("load_after", -1)))
    print("Figures: median (best) of %d runs.\n" % res["repeat"])

    if "scaling" in c:
        s = c["scaling"]
        rows = []
        for i, r in enumerate(s["median"]["runs"]):
            p = ("runs", i)
            rows.append([r["table"], str(r["buckets"]), str(r["threads"]),
                         mb(s, p + ("insert_ms",)),
                         mb(s, p + ("insert_mcps",), "%.2f"),
                         mb(s, p + ("insert_mcps_per_thread",), "%.2f"),
                         mb(s, p + ("speedup",), "%.2f"),
                         mb(s, p + ("lookup_ms",)),
                         mb(s, p + ("lock_contended_insert",), "%d")])
        section("1. Insertion scaling (`%s`)" % s["command"], table(
            ["table", "buckets", "threads", "insert ms", "Mconn/s",
             "Mconn/s per thread", "speedup", "look-up ms",
             "contended (insert)"], rows))

    names = [n for n in c if n.startswith("aging")]
    if names:
        rows = []
        for n in names:
            a = c[n]
            r = a["median"]
            rows.append([
                "%s" % r["conns"], str(r["threads"]),
                str(r["sweep_interval_ms"]), str(r["spread_ms"]),
                mb(a, ("first_removal_ms",)), mb(a, ("expire_p50_ms",)),
                mb(a, ("expire_p99_ms",)), mb(a, ("expire_max_ms",)),
                mb(a, ("sweep_ns_per_conn",), "%.0f"),
                mb(a, ("max_lock_hold_us",), "%.0f"),
                mb(a, ("counted_after_expiry",), "%d")])
        section("2. Expiration latency (`ovsct bench aging ...`)", table(
            ["conns", "threads", "interval ms", "spread ms",
             "first removal ms", "p50 ms", "p99 ms", "max ms",
             "sweeper ns/conn", "max hold µs", "counted"], rows))
        a = c.get("aging-1m")
        if a:
            x = ("counts_after_expiry",)
            section("2b. Counts right after 1M expired (no sweeper)", table(
                ["count", "expired ones counted", "time ms"], [
                    ["zone count (`ovsct_get_zone_limit`)",
                     mb(a, x + ("zone_count",), "%d"),
                     mb(a, x + ("zone_count_ms",))],
                    ["`ovsct_stats` total", mb(a, x + ("stats_total",), "%d"),
                     mb(a, x + ("stats_ms",))],
                    ["dump entries", mb(a, x + ("dumped",), "%d"),
                     mb(a, x + ("dump_ms",))],
                    ["admission refused (1M new, maxconns = zone limit "
                     "= 1M)", mb(a, x + ("admission_refused",), "%d"),
                     mb(a, x + ("admission_ms",))],
                    ["`ovsct_nconns` after the admission",
                     mb(a, x + ("nconns_after",), "%d"),
                     mb(a, x + ("nconns_ms",), "%.3f")]]))

    if "memory" in c:
        s = c["memory"]
        rows = []
        for i, k in enumerate(s["median"]["kinds"]):
            p = ("kinds", i)
            rows.append([k["kind"].upper(),
                         mb(s, p + ("bytes_per_conn_rss",)),
                         mb(s, p + ("bytes_per_conn_mapped",)),
                         mb(s, p + ("bytes_per_conn_alloc",)),
                         mb(s, p + ("rss_before_mb",)),
                         mb(s, p + ("rss_after_insert_mb",)),
                         mb(s, p + ("rss_after_flush_mb",)),
                         mb(s, p + ("rss_returned_pct",)),
                         mb(s, p + ("flush_release_ms",))])
        section("3. Memory (`%s`)" % s["command"], table(
            ["kind", "RSS B/conn", "mapped B/conn", "malloc B/conn",
             "RSS before MiB", "after insert", "after flush+reclaim",
             "returned %", "flush+reclaim ms"], rows))

    if "sweep" in c:
        s = c["sweep"]
        rows = [["scanning (nothing expired)",
                 mb(s, ("scan", "scanned"), "%d"),
                 mb(s, ("scan", "sweeper_cpu_ms")),
                 mb(s, ("scan", "ns_per_scanned")), "",
                 mb(s, ("traffic", 0, "mpps"), "%.2f"),
                 mb(s, ("traffic", 0, "batch_p99_us")),
                 mb(s, ("traffic", 0, "batch_max_us"), "%.0f")],
                ["500k expiring",
                 mb(s, ("expire", "scanned"), "%d"),
                 mb(s, ("expire", "sweeper_cpu_ms")), "",
                 mb(s, ("expire", "ns_per_removed")),
                 mb(s, ("traffic", 1, "mpps"), "%.2f"),
                 mb(s, ("traffic", 1, "batch_p99_us")),
                 mb(s, ("traffic", 1, "batch_max_us"), "%.0f")]]
        section("4. Sweep cost (`%s`)" % s["command"], table(
            ["stage", "nodes scanned", "sweeper CPU ms", "ns/scanned",
             "ns/removed", "traffic Mpps", "traffic p99 µs/batch",
             "traffic max µs/batch"], rows))
        classes = ("lt_1us", "lt_4us", "lt_16us", "lt_64us", "lt_256us",
                   "lt_1ms", "lt_4ms", "ge_4ms")
        hist_rows = []
        for label, path in (("sweep: scanning", ("scan", "hold_hist")),
                            ("sweep: expiring", ("expire", "hold_hist"))):
            hist_rows.append([label] + [mb(s, path + (k,), "%d")
                                        for k in classes])
        if "aging-1m" in c:
            hist_rows.append(["aging 1M: drain"] + [
                mb(c["aging-1m"], ("hold_hist_drain", k), "%d")
                for k in classes])
        section("4b. Sweeper lock holds", table(
            ["", "<1µs", "<4µs", "<16µs", "<64µs", "<256µs", "<1ms",
             "<4ms", "≥4ms"], hist_rows))

    if "buckets" in c:
        s = c["buckets"]
        rows = []
        for i, r in enumerate(s["median"]["runs"]):
            p = ("runs", i)
            rows.append([str(r["buckets"]), str(r["threads"]),
                         mb(s, p + ("insert_ms",)),
                         mb(s, p + ("lookup_ms",)),
                         mb(s, p + ("lock_contended_insert",), "%d"),
                         mb(s, p + ("lock_contended_lookup",), "%d"),
                         mb(s, p + ("sweep_ms",)),
                         mb(s, p + ("bytes_per_conn_mapped",), "%.0f")])
        section("5. Bucket count (`%s`)" % s["command"], table(
            ["buckets", "threads", "insert ms", "look-up ms",
             "contended (insert)", "contended (look-up)",
             "full sweep ms", "mapped B/conn"], rows))

    if "hashbits" in c:
        s = c["hashbits"]
        rows = []
        for i, r in enumerate(s["median"]["runs"]):
            p = ("runs", i)
            rows.append([r["mapping"], mb(s, p + ("insert_ms",)),
                         mb(s, p + ("lookup_ms",)),
                         "%.1f" % r["per_bucket_mean"],
                         mb(s, p + ("per_bucket_stddev",), "%.1f"),
                         "%.1f" % r["poisson_stddev"],
                         "%d-%d" % (r["per_bucket_min"],
                                    r["per_bucket_max"])])
        section("6. Hash-to-bucket mapping (`%s`)" % s["command"], table(
            ["mapping", "insert ms", "look-up ms", "conns/bucket",
             "stddev", "Poisson stddev", "min-max (median run)"], rows))

    lk = res.get("lock_kinds")
    if lk:
        res_lk = lk["results"]
        kinds = list(res_lk.get("scaling", {}))
        rows = []
        if kinds:
            runs0 = res_lk["scaling"][kinds[0]]["median"]["runs"]
            for i, r in enumerate(runs0):
                for key, label in (("insert_ms", "insert"),
                                   ("lookup_ms", "look up")):
                    rows.append(["%s %s, %d thread(s), ms" % (
                        label, r["table"], r["threads"])] + [
                        mb(res_lk["scaling"][k], ("runs", i, key))
                        for k in kinds])
        if "sweep" in res_lk:
            for key, label in (("max_lock_hold_us", "sweeper max hold µs"),):
                rows.append([label] + [mb(res_lk["sweep"][k], (key,), "%.0f")
                                       for k in kinds])
            for i, st in enumerate(("scan", "expire")):
                rows.append(["traffic p99 µs/batch, %s" % st] + [
                    mb(res_lk["sweep"][k], ("traffic", i, "batch_p99_us"))
                    for k in kinds])
                rows.append(["traffic max µs/batch, %s" % st] + [
                    mb(res_lk["sweep"][k], ("traffic", i, "batch_max_us"),
                       "%.0f") for k in kinds])
        section("7. Lock kind (`%s`)" % lk["command"],
                table(["figure"] + kinds, rows))

    if "dump" in c:
        s = c["dump"]
        rows = []
        for i, st in enumerate(s["median"]["traffic"]):
            p = ("traffic", i)
            rows.append([st["stage"], mb(s, p + ("ms",)),
                         mb(s, p + ("mpps",), "%.2f"),
                         mb(s, p + ("batch_p50_us",), "%.2f"),
                         mb(s, p + ("batch_p99_us",), "%.2f"),
                         mb(s, p + ("batch_p999_us",), "%.1f"),
                         mb(s, p + ("batch_max_us",), "%.0f")])
        section("8a. In process (`%s`): dump %s ms, flush %s ms" % (
            s["command"], mb(s, ("dump_ms",)), mb(s, ("flush_ms",), "%.2f")),
            table(["main thread", "ms", "traffic Mpps", "p50 µs/batch",
                   "p99", "p99.9", "max"], rows))
    cp = res.get("control_plane")
    if cp:
        r = cp["results"]
        rows = []
        for key, label in (
                ("dump_appctl_idle", "dump, ovs-appctl, idle"),
                ("dump_ovsct_idle", "dump, ovsct, idle"),
                ("dump_appctl_traffic", "dump, ovs-appctl, replay running"),
                ("dump_ovsct_traffic", "dump, ovsct, replay running"),
                ("flush_idle", "flush, idle"),
                ("flush_traffic", "flush, replay running")):
            v = r[key]
            rows.append([label, "%.3f" % v["median"], "%.3f" % v["best"]])
        for key, label in (("replay_alone_mpps", "replay alone, Mpps"),
                           ("replay_during_dumps_mpps",
                            "replay during dumps, Mpps")):
            if key in r:
                rows.append([label, "%.2f" % r[key]["median"],
                             "%.2f" % r[key]["best"]])
        section("8b. Through the socket (`%s`), %d connections" % (
            cp["command"], r["nconns"]),
            table(["", "median s", "best s"], rows))

    rows = []
    for n in ("tcp-1t", "tcp-2t"):
        if n in c:
            s = c[n]
            rows.append([n, mb(s, ("ms",)), mb(s, ("ns_per_packet",)),
                         mb(s, ("ns_per_conn",), "%.0f"),
                         mb(s, ("mpps",), "%.2f")])
    if rows:
        section("TCP (handshake, data, ACK, FIN, FIN, ACK: 8 packets)",
                table(["run", "ms for 1M conns", "ns/packet", "ns/conn",
                       "Mpps"], rows))
    if "nat" in c:
        s = c["nat"]
        rows = []
        for i, r in enumerate(s["median"]["runs"]):
            p = ("runs", i)
            rows.append([r["destinations"], mb(s, p + ("ns_per_conn",)),
                         mb(s, p + ("plain_ns_per_conn",)),
                         mb(s, p + ("nat_cost_ratio",), "%.2f"),
                         mb(s, p + ("nat_exhausted",), "%d")])
        section("NAT (`%s`)" % s["command"], table(
            ["destinations", "ns/conn", "ns/conn without NAT", "ratio",
             "refused (exhausted)"], rows))
    cmp_ = res.get("compare_ovs")
    if cmp_:
        print("### OVS comparison (`%s`)\n\n```\n%s```\n"
              % (cmp_["command"], cmp_["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
