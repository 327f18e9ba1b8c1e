"""`ovsct bench`: the C benchmark driver (bench/bench.c) from the command line.

    ovsct bench [PHASE] [--conns N] [--threads T] [--batch B] [--buckets K]
                [--sweep-interval MS] [--spread MS] [--json]

The whole run happens in C threads inside the benchmark extension
(`ovsct._bench.run`, GIL released); this module only parses the
arguments and prints the JSON object the driver returns, either as one line
(`--json`) or as tables.  Phases (bench/bench.c explains each):

    standard  insert, look up, sweep and flush N distinct UDP connections
    aging     how soon the background sweeper removes N expired ones, and
              that expired entries are counted nowhere
    scaling   insert with 1..T threads, sharded table vs. one bucket
    buckets   256 .. 65536 buckets, 1..T threads, lock contention
    hashbits  bucket from the hash's high bits vs. its low bits
    memory    bytes per UDP, TCP and NAT connection; what a flush returns
    sweep     sweeper CPU per scanned / removed connection, lock holds
    tcp       handshake, data and close per connection (ns per packet)
    nat       new connections through SNAT with a port range
    dump      packet latency while the table is dumped and flushed

cli.py calls `add_parser(subparsers)` and then `run(args)`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, TextIO

__all__ = ["PHASES", "add_parser", "run", "render"]

PHASES = ("standard", "aging", "scaling", "buckets", "hashbits", "memory",
          "sweep", "tcp", "nat", "dump")

# Display order, label and unit of the known result keys; other keys follow
# in the driver's order.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("phase", "phase", ""),
    ("conns", "connections", ""),
    ("threads", "threads", ""),
    ("cores", "cores", ""),
    ("batch", "batch", "frames"),
    ("buckets", "buckets", ""),
    ("insert_ms", "insert", "ms"),
    ("insert_cpu_ms", "insert, process CPU", "ms"),
    ("insert_mpps", "insert rate", "Mconn/s"),
    ("lookup_ms", "look up", "ms"),
    ("lookup_cpu_ms", "look up, process CPU", "ms"),
    ("lookup_mpps", "look-up rate", "Mpkt/s"),
    ("sweep_ms", "sweep (expired)", "ms"),
    ("flush_ms", "flush", "ms"),
    ("reinsert_ms", "re-insert", "ms"),
    ("frame_build_ms", "frame building (included above)", "ms"),
    ("bytes_per_conn_rss", "memory per conn (RSS)", "bytes"),
    ("bytes_per_conn_alloc", "memory per conn (malloc)", "bytes"),
    ("bytes_per_conn_mapped", "memory per conn (mapped)", "bytes"),
    ("sweep_interval_ms", "sweep interval", "ms"),
    ("spread_ms", "creation times spread over", "ms"),
    ("first_removal_ms", "first removal after expiry", "ms"),
    ("expire_p50_ms", "removal - expiry, p50", "ms"),
    ("expire_p99_ms", "removal - expiry, p99", "ms"),
    ("expire_max_ms", "removal - expiry, max", "ms"),
    ("sweep_ns_per_conn", "sweeper CPU per removed conn", "ns"),
    ("ns_per_scanned", "sweeper CPU per scanned node", "ns"),
    ("ns_per_removed", "sweeper CPU per removed conn", "ns"),
    ("max_lock_hold_us", "longest sweeper lock hold", "us"),
    ("counted_after_expiry", "expired entries counted", ""),
    ("ns_per_packet", "time per packet", "ns"),
    ("ns_per_conn", "time per connection", "ns"),
    ("plain_ns_per_conn", "same without NAT", "ns"),
    ("dumped", "entries dumped", ""),
    ("dump_ms", "dump + format", "ms"),
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
_HIDDEN = frozenset(["bytes_per_conn", "checks", "targets", "ok",
                     "drain_curve"])


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the `bench` sub-command to 'subparsers' and returns it."""
    p = subparsers.add_parser(
        "bench",
        help="run a C benchmark of the connection tracker",
        description="Runs a benchmark phase in C threads inside the engine "
                    "and prints its figures and correctness checks.")
    p.add_argument("phase", nargs="?", default="standard",
                   help="one of: " + ", ".join(PHASES)
                   + " (default standard)")
    p.add_argument("--conns", type=_positive, default=1000000, metavar="N",
                   help="distinct connections (default 1000000)")
    p.add_argument("--threads", type=_positive, default=1, metavar="T",
                   help="C threads sharing the connections (default 1)")
    p.add_argument("--batch", type=_positive, default=32, metavar="B",
                   help="frames per ovsct_execute() call (default 32)")
    p.add_argument("--buckets", type=_non_negative, default=0, metavar="K",
                   help="table buckets, a power of two (default: engine's)")
    p.add_argument("--sweep-interval", type=_non_negative, default=0,
                   metavar="MS",
                   help="sweep interval in ms (default: engine's)")
    p.add_argument("--spread", type=_non_negative, default=0, metavar="MS",
                   help="aging: spread creation times over MS ms "
                        "(default 0: all expire at once)")
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
    from ovsct import _bench

    try:
        text = _bench.run(args.phase or "standard", args.conns,
                          args.threads, args.batch, args.buckets,
                          getattr(args, "sweep_interval", 0),
                          getattr(args, "spread", 0))
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
    """Formats a driver result: a two-column table of the figures (nested
    objects flattened as "outer.inner"), one table per list of objects
    ("runs", "kinds", "traffic"), then the checks and targets."""
    rows = []
    for key, label, unit in _FIELDS:
        if key in result:
            rows.append((label, _value(result[key]), unit))
    known = {k for k, _, _ in _FIELDS} | _HIDDEN
    lists = []
    for key, value in result.items():
        if key in known:
            continue
        if isinstance(value, list) and all(isinstance(v, dict)
                                           for v in value):
            lists.append((key, value))
        elif isinstance(value, dict):
            rows += [(f"{key}.{k}", _value(v), "")
                     for k, v in _flatten(value)]
        else:
            rows.append((key, _value(value), ""))
    parts = [_table(rows, ("figure", "value", "unit"))]
    for key, items in lists:
        if not items:
            continue
        flat = [dict(_flatten(item)) for item in items]
        cols = list(dict.fromkeys(k for f in flat for k in f))
        parts.append(key + ":\n" + _table(
            [tuple(_value(f.get(c, "")) for c in cols) for f in flat],
            tuple(cols), numeric=True))
    check_rows = [(name, "ok" if ok else "FAILED")
                  for name, ok in result.get("checks", {}).items()]
    check_rows += [(name, "met" if ok else "missed")
                   for name, ok in result.get("targets", {}).items()]
    if check_rows:
        parts.append(_table(check_rows, ("check / target", "result")))
    return "\n\n".join(parts)


def _flatten(d: dict[str, Any], prefix: str = ""
             ) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            out.append((prefix + k, " ".join(_value(x) for x in v)))
        else:
            out.append((prefix + k, v))
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "-" if v < 0 else f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(rows: list[tuple[str, ...]], headers: tuple[str, ...],
           numeric: bool = False) -> str:
    """'rows' under 'headers'; the second column (every column but the
    first if 'numeric') right-aligned."""
    right = (range(1, len(headers)) if numeric else
             range(1, 2) if len(headers) > 2 else range(0))
    try:
        from tabulate import tabulate
    except ImportError:           # pragma: no cover - tabulate is required
        widths = [max([len(h)] + [len(r[i]) for r in rows])
                  for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                            for i, (c, w) in enumerate(zip(r, widths)))
                  for r in rows]
        return "\n".join(line.rstrip() for line in lines)
    return tabulate(rows, headers=headers,
                    colalign=tuple("right" if i in right else "left"
                                   for i in range(len(headers))),
                    disable_numparse=True)


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
