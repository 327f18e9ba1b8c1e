#!/usr/bin/env python3
"""Draws the figures of docs/benchmarks.md from a run_all.py result.

    python3 benchmarks/plots.py [docs/img/bench-results.json] [--outdir DIR]

Needs matplotlib (`pip install .[plot]`).  One PNG per question, into
docs/img/ by default; a figure whose data is missing from the result is
skipped.  Figures use the median of the repetitions (the best where a
single run's curve is drawn: the run with the median drain time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HOLD_CLASSES = ("lt_1us", "lt_4us", "lt_16us", "lt_64us", "lt_256us",
                "lt_1ms", "lt_4ms", "ge_4ms")
HOLD_LABELS = ("<1µs", "<4µs", "<16µs", "<64µs", "<256µs", "<1ms", "<4ms",
               "≥4ms")


def _median_run(cfg: dict, key: str) -> dict:
    runs = sorted(cfg["runs"], key=lambda r: r.get(key, 0))
    return runs[(len(runs) - 1) // 2]


def _subtitle(res: dict) -> str:
    m = res["machine"]
    return "%d cores, %s, %s" % (m["nproc"], m["cpu"], m["date"])


def scaling(res: dict, plt: Any, out: str) -> None:
    med = res["configs"]["scaling"]["median"]["runs"]
    fig, ax = plt.subplots(figsize=(6, 4))
    tables = ("sharded", "single-lock")
    threads = sorted({r["threads"] for r in med})
    width = 0.38
    for i, table in enumerate(tables):
        rows = [r for r in med if r["table"] == table]
        xs = [t + (i - 0.5) * width for t in threads]
        n = rows[0]["buckets"]
        ax.bar(xs, [r["insert_mcps"] for r in rows], width,
               label="%s (%d bucket%s)" % (table, n, "s" if n > 1 else ""))
        for x, r in zip(xs, rows):
            ax.text(x, r["insert_mcps"], "%.0f ms" % r["insert_ms"],
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(threads)
    ax.set_xlabel("inserting threads")
    ax.set_ylabel("new connections / s (millions)")
    ax.set_title("Insert 1M connections (median of %d)\n%s"
                 % (res["configs"]["scaling"]["n"], _subtitle(res)),
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def expiry(res: dict, plt: Any, out: str) -> None:
    cfgs = res["configs"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    labels = {
        "aging-1m": "default (1000 ms interval), all at once",
        "aging-1m-interval100": "100 ms interval, all at once",
        "aging-1m-interval5000": "5000 ms interval, all at once",
        "aging-1m-spread1000": "default, expiring over 1 s",
        "aging-1m-spread1000-interval100": "100 ms interval, over 1 s",
    }
    for name, label in labels.items():
        if name not in cfgs:
            continue
        r = _median_run(cfgs[name], "expire_max_ms")
        curve = r["drain_curve"]
        ax.plot([p["ms"] for p in curve],
                [p["removed"] / r["conns"] for p in curve], label=label)
    if "aging-1m-spread1000" in cfgs:
        ax.plot([0, 1000], [0, 1], "k:", label="expired (spread runs)")
    ax.set_xlabel("ms after the first expiry")
    ax.set_ylabel("fraction removed")
    ax.set_title("1M connections expiring: removal over time", fontsize=9)
    ax.legend(fontsize=7)
    names = [n for n in ("aging-10k", "aging-100k", "aging-1m")
             if n in cfgs]
    xs = range(len(names))
    for i, (key, lab) in enumerate((("expire_p50_ms", "p50"),
                                    ("expire_p99_ms", "p99"),
                                    ("expire_max_ms", "max"))):
        ax2.bar([x + (i - 1) * 0.27 for x in xs],
                [cfgs[n]["median"][key] for n in names], 0.27, label=lab)
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(["%s" % n.split("-")[1] for n in names])
    ax2.set_ylabel("removed at - expired at (ms)")
    ax2.set_title("Default settings, all expiring at once (median)",
                  fontsize=9)
    ax2.axhline(2000, color="r", ls="--", lw=0.8)
    ax2.text(0, 2000, "target: 2 s", color="r", fontsize=7, va="bottom")
    ax2.legend(fontsize=8)
    fig.suptitle(_subtitle(res), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def memory(res: dict, plt: Any, out: str) -> None:
    kinds = res["configs"]["memory"]["median"]["kinds"]
    fig, ax = plt.subplots(figsize=(6, 4))
    stages = (("rss_before_mb", "before insert"),
              ("rss_after_insert_mb", "after 1M inserted"),
              ("rss_after_flush_mb", "after flush + reclaim"))
    for i, (key, label) in enumerate(stages):
        ax.bar([k + (i - 1) * 0.27 for k in range(len(kinds))],
               [kd[key] for kd in kinds], 0.27, label=label)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels(["%s\n%.0f B/conn" % (k["kind"].upper(),
                                             k["bytes_per_conn_rss"])
                        for k in kinds])
    ax.set_ylabel("process RSS (MiB)")
    ax.set_title("Memory per connection and after a flush (median)\n%s"
                 % _subtitle(res), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def holds(res: dict, plt: Any, out: str) -> None:
    cfgs = res["configs"]
    series = []
    if "sweep" in cfgs:
        s = cfgs["sweep"]["median"]
        series.append(("sweep phase: scanning, traffic on",
                       s["scan"]["hold_hist"]))
        series.append(("sweep phase: 500k expiring, traffic on",
                       s["expire"]["hold_hist"]))
    if "aging-1m" in cfgs:
        series.append(("aging: 1M expiring, no traffic",
                       cfgs["aging-1m"]["median"]["hold_hist_drain"]))
    if not series:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    w = 0.8 / len(series)
    for i, (label, h) in enumerate(series):
        ax.bar([x + (i - (len(series) - 1) / 2) * w
                for x in range(len(HOLD_CLASSES))],
               [h[c] or float("nan") for c in HOLD_CLASSES], w,
               label=label)
    ax.set_yscale("log")
    ax.set_xticks(range(len(HOLD_CLASSES)))
    ax.set_xticklabels(HOLD_LABELS)
    ax.axvline(4.5, color="r", ls="--", lw=0.8)
    over = sum(h[c] for _, h in series for c in HOLD_CLASSES[5:])
    ax.text(4.55, 1, "1 ms target (%s)" % (
        "%d holds at or above" % over if over else "none at or above"),
        color="r", fontsize=7)
    ax.set_ylim(bottom=0.5)
    ax.set_xlabel("sweeper bucket-lock hold")
    ax.set_ylabel("holds (median count)")
    ax.set_title("Sweeper lock holds, 1M connections\n%s" % _subtitle(res),
                 fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def buckets(res: dict, plt: Any, out: str) -> None:
    med = res["configs"]["buckets"]["median"]["runs"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for t in sorted({r["threads"] for r in med}):
        rows = [r for r in med if r["threads"] == t]
        xs = [r["buckets"] for r in rows]
        ax.plot(xs, [r["insert_ms"] for r in rows], "o-",
                label="insert, %d thread%s" % (t, "s" if t > 1 else ""))
        ax.plot(xs, [r["lookup_ms"] for r in rows], "s--",
                label="look up, %d thread%s" % (t, "s" if t > 1 else ""))
        ax2.plot(xs, [r["lock_contended_insert"] or float("nan")
                      for r in rows], "o-", label="insert, %d thread%s"
                 % (t, "s" if t > 1 else ""))
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xlabel("buckets")
        a.axvline(4096, color="gray", ls=":", lw=0.8)
        a.legend(fontsize=7)
    ax.set_ylabel("ms for 1M (median)")
    ax.set_ylim(bottom=0)
    ax2.set_yscale("log")
    ax2.set_ylabel("lock_contended (trylock failures)")
    ax.set_title("Bucket count: time", fontsize=9)
    ax2.set_title("Bucket count: contention", fontsize=9)
    fig.suptitle(_subtitle(res), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def hashbits(res: dict, plt: Any, out: str) -> None:
    runs = res["configs"]["hashbits"]["median"]["runs"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        lo, w = r["hist_lo"], r["hist_bin_width"]
        xs = [lo + i * w for i in range(len(r["hist"]))]
        ax.step(xs, r["hist"], where="post",
                label="%s (stddev %.1f, Poisson %.1f)"
                % (r["mapping"], r["per_bucket_stddev"],
                   r["poisson_stddev"]))
    ax.set_xlabel("connections in a bucket")
    ax.set_ylabel("buckets")
    ax.set_title("Connections per bucket (%d buckets)"
                 % runs[0]["buckets"], fontsize=9)
    ax.legend(fontsize=7)
    names = [r["mapping"] for r in runs]
    ax2.bar([i - 0.2 for i in range(len(runs))],
            [r["insert_ms"] for r in runs], 0.4, label="insert 1M")
    ax2.bar([i + 0.2 for i in range(len(runs))],
            [r["lookup_ms"] for r in runs], 0.4, label="look up 1M")
    ax2.set_xticks(range(len(runs)))
    ax2.set_xticklabels(names)
    ax2.set_ylabel("ms (median)")
    ax2.set_title("Speed", fontsize=9)
    ax2.legend(fontsize=8)
    fig.suptitle(_subtitle(res), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def lock_kinds(res: dict, plt: Any, out: str) -> None:
    lk = res["lock_kinds"]["results"].get("scaling")
    if not lk:
        return
    kinds = list(lk)
    runs0 = lk[kinds[0]]["median"]["runs"]
    labels = ["%s, %dT" % (r["table"], r["threads"]) for r in runs0]
    fig, ax = plt.subplots(figsize=(8, 4))
    w = 0.8 / len(kinds)
    for i, k in enumerate(kinds):
        rows = lk[k]["median"]["runs"]
        ax.bar([x + (i - (len(kinds) - 1) / 2) * w
                for x in range(len(rows))],
               [r["insert_ms"] for r in rows], w, label=k)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("insert 1M, ms (median)")
    ax.set_title("Bucket lock kind (CT_BUCKET_LOCK_KIND)\n%s"
                 % _subtitle(res), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def dump_latency(res: dict, plt: Any, out: str) -> None:
    tr = res["configs"]["dump"]["median"]["traffic"]
    fig, ax = plt.subplots(figsize=(7, 4))
    keys = (("batch_p50_us", "p50"), ("batch_p99_us", "p99"),
            ("batch_p999_us", "p99.9"), ("batch_max_us", "max"))
    for i, (k, label) in enumerate(keys):
        ax.bar([x + (i - 1.5) * 0.2 for x in range(len(tr))],
               [s[k] for s in tr], 0.2, label=label)
    ax.set_yscale("log")
    ax.set_xticks(range(len(tr)))
    ax.set_xticklabels(["%s\n%.1f Mpps" % (s["stage"], s["mpps"])
                        for s in tr])
    ax.set_ylabel("ovsct_execute() of 32 packets (µs)")
    ax.set_title("Packet path while the main thread dumps / flushes 1M "
                 "(median)\n%s" % _subtitle(res), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


FIGURES = (
    ("scaling.png", scaling, "scaling"),
    ("expiry.png", expiry, "aging-1m"),
    ("memory.png", memory, "memory"),
    ("sweep_holds.png", holds, "sweep"),
    ("buckets.png", buckets, "buckets"),
    ("hashbits.png", hashbits, "hashbits"),
    ("lock_kinds.png", lock_kinds, None),
    ("dump_latency.png", dump_latency, "dump"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", nargs="?", default=os.path.join(
        ROOT, "docs", "img", "bench-results.json"))
    parser.add_argument("--outdir", default=os.path.join(ROOT, "docs",
                                                         "img"))
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plots.py: needs matplotlib (pip install .[plot])",
              file=sys.stderr)
        return 1
    with open(args.result) as f:
        res = json.load(f)
    os.makedirs(args.outdir, exist_ok=True)
    for name, draw, needs in FIGURES:
        if needs and needs not in res.get("configs", {}):
            continue
        if needs is None and "lock_kinds" not in res:
            continue
        path = os.path.join(args.outdir, name)
        draw(res, plt, path)
        plt.close("all")
        print("wrote %s" % path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
