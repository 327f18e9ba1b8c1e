"""`ovsct bench`: the C benchmark driver (ext/bench.c) from the command line.

    ovsct bench [PHASE] [--conns N] [--threads T] [--batch B] [--buckets K]
                [--json]

The whole run happens in C threads inside the extension
(`ovsct._engine.bench_run`, GIL released); this module only parses the
arguments and prints the JSON object the driver returns, either as one line
(`--json`) or as a table.  Phases: "standard" (insert, look up, sweep and
flush N distinct UDP connections) and "aging" (how fast the background
sweeper removes N connections that expire together).

cli.py calls `add_parser(subparsers)` and then `run(args)`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, TextIO

__all__ = ["PHASES", "add_parser", "run", "render"]

PHASES = ("standard", "aging")

# Display order, label and unit of the known result keys; other keys follow
# in the driver's order.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("phase", "phase", ""),
    ("conns", "connections", ""),
    ("threads", "threads", ""),
    ("batch", "batch", "frames"),
    ("buckets", "buckets", ""),
    ("insert_ms", "insert", "ms"),
    ("insert_mpps", "insert rate", "Mconn/s"),
    ("lookup_ms", "look up", "ms"),
    ("lookup_mpps", "look-up rate", "Mpkt/s"),
    ("sweep_ms", "sweep (expired)", "ms"),
    ("flush_ms", "flush", "ms"),
    ("reinsert_ms", "re-insert", "ms"),
    ("frame_build_ms", "frame building (included above)", "ms"),
    ("bytes_per_conn_rss", "memory per conn (RSS)", "bytes"),
    ("bytes_per_conn_alloc", "memory per conn (malloc)", "bytes"),
    ("bytes_per_conn_mapped", "memory per conn (mapped)", "bytes"),
    ("sweep_interval_ms", "sweep interval", "ms"),
    ("first_removal_ms", "first removal after expiry", "ms"),
    ("p50_ms", "50% removed after", "ms"),
    ("p99_ms", "99% removed after", "ms"),
    ("max_ms", "all removed after", "ms"),
    ("sweep_ns_per_conn", "sweeper CPU per conn", "ns"),
    ("max_lock_hold_us", "longest sweeper lock hold", "us"),
    ("counted_after_expiry", "counted right after expiry", ""),
    ("count_after_expiry_ms", "that count took", "ms"),
    ("created", "connections created", ""),
    ("nconns_after_insert", "nconns after insert", ""),
    ("swept", "removed by the sweep", ""),
    ("sweep_calls", "ovsct_sweep_now() calls", ""),
    ("flushed", "flushed", ""),
    ("removed", "removed by the sweeper", ""),
    ("samples", "counter samples", ""),
    ("sweeps", "sweeper wake-ups", ""),
    ("sweep_scanned", "nodes scanned by the sweeper", ""),
    ("lock_contended", "bucket lock contentions", ""),
)
_HIDDEN = frozenset(["bytes_per_conn", "checks", "targets", "ok"])


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the `bench` sub-command to 'subparsers' and returns it."""
    p = subparsers.add_parser(
        "bench",
        help="run a C benchmark of the connection tracker",
        description="Runs a benchmark phase in C threads inside the engine "
                    "and prints its figures and correctness checks.")
    p.add_argument("phase", nargs="?", default="standard",
                   help="standard (default) or aging")
    p.add_argument("--conns", type=_positive, default=1000000, metavar="N",
                   help="distinct connections (default 1000000)")
    p.add_argument("--threads", type=_positive, default=1, metavar="T",
                   help="C threads sharing the connections (default 1)")
    p.add_argument("--batch", type=_positive, default=32, metavar="B",
                   help="frames per ovsct_execute() call (default 32)")
    p.add_argument("--buckets", type=_non_negative, default=0, metavar="K",
                   help="table buckets, a power of two (default: engine's)")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, out: Optional[TextIO] = None,
        err: Optional[TextIO] = None) -> int:
    """Runs the benchmark described by 'args'.  Returns the exit status:
    0 when every correctness check passed (missed performance targets do
    not count), 1 otherwise or on error."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    from ovsct import _engine

    try:
        text = _engine.bench_run(args.phase or "standard", args.conns,
                                 args.threads, args.batch, args.buckets)
    except (ValueError, OverflowError, MemoryError) as e:
        print(f"ovsct bench: {_error_text(e)}", file=err)
        return 1
    result = json.loads(text)
    if args.json:
        print(json.dumps(result), file=out)
    else:
        print(render(result), file=out)
    failed = [k for k, v in result.get("checks", {}).items() if not v]
    if failed:
        print("ovsct bench: failed checks: " + ", ".join(failed), file=err)
        return 1
    return 0


def render(result: dict[str, Any]) -> str:
    """Formats a driver result as a two-column table plus its checks."""
    rows = []
    for key, label, unit in _FIELDS:
        if key in result:
            rows.append((label, _value(result[key]), unit))
    known = {k for k, _, _ in _FIELDS} | _HIDDEN
    for key, value in result.items():
        if key not in known:
            rows.append((key, _value(value), ""))
    check_rows = [(name, "ok" if ok else "FAILED")
                  for name, ok in result.get("checks", {}).items()]
    check_rows += [(name, "met" if ok else "missed")
                   for name, ok in result.get("targets", {}).items()]
    return (_table(rows, ("figure", "value", "unit"))
            + ("\n\n" + _table(check_rows, ("check / target", "result"))
               if check_rows else ""))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "-" if v < 0 else f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    try:
        from tabulate import tabulate
    except ImportError:           # pragma: no cover - tabulate is required
        widths = [max([len(h)] + [len(r[i]) for r in rows])
                  for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths))
                  for r in rows]
        return "\n".join(line.rstrip() for line in lines)
    return tabulate(rows, headers=headers, colalign=("left", "right")
                    + ("left",) * (len(headers) - 2), disable_numparse=True)


def _error_text(e: BaseException) -> str:
    """The driver's {"error": ...} message, or the exception's text."""
    text = str(e.args[0]) if e.args else str(e)
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text


def _positive(s: str) -> int:
    v = _non_negative(s)
    if v == 0:
        raise argparse.ArgumentTypeError(f"must be positive: {s!r}")
    return v


def _non_negative(s: str) -> int:
    try:
        v = int(s, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}") from None
    if v < 0 or v > 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"out of range: {s!r}")
    return v
