"""dpctl commands on the kernel datapath (``system@NAME``).

The dpctl front (ovsct.commands) eats the options and, when the first
parameter left names a ``system@`` datapath, calls dispatch() here with the
command's short name and its parameters (the datapath first).  Handlers
answer as ovs-dpctl does on a Linux kernel datapath (lib/dpctl.c with
lib/dpif-netlink.c and lib/netlink-conntrack.c), on the conntrack table of
the caller's network namespace:

  dump-conntrack [-m] [-s] DP [zone=N] [dump filter]
  flush-conntrack DP [zone=N] [mark=X[/M]] [labels=Y[/N]] [orig [reply]]
  ct-stats-show [-m] DP [zone=N] [verbose] | DP [dump filter]
  ct-bkts DP [gt=N]          bucket count only (per-bucket counts are not
                             visible from user space)
  ct-get-nconns / ct-get-maxconns / ct-set-maxconns N
  ct-get-tcp-seq-chk / ct-enable-tcp-seq-chk / ct-disable-tcp-seq-chk
                             sysctls (nf_conntrack_count, _max,
                             _tcp_be_liberal inverted)

A dump filter is the userspace dump's (parse_dump_filter()): the flush
match, CIDR prefixes and state=S[,S...], in any order; state= matches the
kernel's TCP state as the dump prints it.

Zone limits and the sweep interval have no kernel counterpart here: they
fail with OVS's text for the operation and EOPNOTSUPP, as ct_dpif_*() does
when the dpif class lacks the operation.  Errors are CommandError with
dpctl_error()'s "<program>: <message> (<strerror>)" line; the front ends
turn them into exit status 2.

Neighbours: ovsct/commands/ (Result, CommandError, the dpctl hook that calls
dispatch(), the flush grammar and the error texts, each named beside its
userspace handler), ovsct/kernel/{netlink,dump,sysctl}.py.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, Iterator, NoReturn

from ovsct import format as fmt
from ovsct.commands import limits, settings
from ovsct.commands.dpctl import KERNEL_DP_PREFIX
from ovsct.commands.flush import (FLUSH_FAILED, INVALID_ARGS, ParseError,
                                  is_filter_arg, parse_dump_filter,
                                  parse_flush_args)
from ovsct.commands.show import DUMP_START_FAILED
from ovsct.commands.table import CommandError, Result
from ovsct.kernel import dump, sysctl
from ovsct.kernel.netlink import CtNetlink, KernelError
from ovsct.numbers import scan_decimal, scan_prefixed
from ovsct.types import FlushFilter

__all__ = ["is_kernel_dp", "dispatch", "ERR_BKTS_HIDDEN"]

ERR_BKTS_HIDDEN = ("Per-bucket counts are not visible for the kernel "
                   "datapath: the kernel exports only the bucket count.\n")


def is_kernel_dp(arg: str) -> bool:
    """True if 'arg' names a kernel datapath ("system@NAME")."""
    return (arg.startswith(KERNEL_DP_PREFIX)
            and len(arg) > len(KERNEL_DP_PREFIX))


class _Run:
    """One command: options, the program name errors start with."""

    def __init__(self, program: str, verbosity: int, stats: bool) -> None:
        self.program = program
        self.verbose = verbosity > 0
        self.stats = stats

    def fail(self, message: str, err: int | None = errno.EINVAL) -> NoReturn:
        raise CommandError(fmt.error_line(self.program, message, err))


def _netlink(run: _Run, message: str) -> CtNetlink:
    try:
        return CtNetlink()
    except KernelError as exc:
        run.fail(f"{message}: {exc.strerror}", exc.errno)


def _zone_arg(args: list[str]) -> tuple[int | None, list[str]]:
    """A trailing zone=N, as dpctl_dump_conntrack() takes it."""
    if args:
        zone = scan_prefixed(args[-1], "zone=", 16)
        if zone is not None:
            return zone, args[:-1]
    return None, args


def _parse_match(run: _Run, args: list[str]) -> FlushFilter:
    """The flush-conntrack grammar (ofp_ct_match_parse())."""
    ds: list[str] = []
    try:
        return parse_flush_args(args, ds)
    except ParseError:
        run.fail("".join(ds))


def _parse_filter(run: _Run, args: list[str]) -> FlushFilter:
    """The dump filter of dump-conntrack and ct-stats-show, as the
    userspace datapath's (ovsct/commands/flush.py parse_dump_filter())."""
    ds: list[str] = []
    try:
        return parse_dump_filter(args, ds)
    except ParseError:
        run.fail("".join(ds))


# ---------------------------------------------------------------------------
# dump-conntrack, ct-stats-show, ct-bkts

def _dump_conntrack(run: _Run, args: list[str]) -> Result:
    zone, rest = _zone_arg(args)
    match = None
    if rest:
        # Filters (the dump filter grammar): decoded entries, matched
        # here.
        match = dump.Match(_parse_filter(run, args))
        zone = match.zone
    nl = _netlink(run, DUMP_START_FAILED)
    verbose, stats = run.verbose, run.stats

    def entries() -> Iterator[dump.KernelEntry]:
        try:
            for e in dump.iter_entries(nl, verbose, stats, zone,
                                       match.kernel_mark if match else None):
                if match is None or match(e):
                    yield e
        except KernelError as exc:
            run.fail(DUMP_START_FAILED, exc.errno)

    def text() -> Iterator[str]:
        try:
            if match is None:
                yield from dump.iter_text(nl, verbose, stats, zone)
            else:
                for e in entries():
                    yield e.line + "\n"
        except KernelError as exc:
            run.fail(DUMP_START_FAILED, exc.errno)
        finally:
            nl.close()

    def data() -> list:
        try:
            return [dump.entry_json(e) for e in entries()]
        finally:
            nl.close()
    return Result(text, data)


def _ct_stats_show(run: _Run, args: list[str]) -> Result:
    verbose = run.verbose
    zone = None
    if any(is_filter_arg(a) for a in args):
        # A dump filter (as the userspace ct-stats-show takes it).
        match = dump.Match(_parse_filter(run, args))
        with _netlink(run, DUMP_START_FAILED) as nl:
            try:
                stats = dump.stats_of(
                    e for e in dump.iter_entries(nl, zone=match.zone,
                                                 mark=match.kernel_mark)
                    if match(e))
            except KernelError as exc:
                run.fail(DUMP_START_FAILED, exc.errno)
        return Result(fmt.stats_text(stats, verbose),
                      fmt.stats_json(stats, match.zone))
    while args:
        value = scan_prefixed(args[-1], "zone=", 16)
        if args[-1].startswith("verbose"):
            verbose = True
        elif value is not None:
            zone = value
        else:
            break
        args = args[:-1]
    if args:
        run.fail(INVALID_ARGS)
    with _netlink(run, DUMP_START_FAILED) as nl:
        try:
            stats = dump.stats_of(dump.iter_entries(nl, zone=zone))
        except KernelError as exc:
            run.fail(DUMP_START_FAILED, exc.errno)
    return Result(fmt.stats_text(stats, verbose), fmt.stats_json(stats, zone))


def _ct_bkts(run: _Run, args: list[str]) -> Result:
    if args and scan_prefixed(args[-1], "gt=", 16) is not None:
        args = args[:-1]
    if args:
        run.fail(INVALID_ARGS)
    try:
        buckets = sysctl.read("buckets")
        count = sysctl.read("count")
    except sysctl.SysctlError as exc:
        run.fail(f"{DUMP_START_FAILED}: {exc.strerror}", exc.errno)
    text = (f"Total Buckets: {buckets}\nCurrent Connections: {count}\n\n"
            + ERR_BKTS_HIDDEN)
    return Result(text, {"total_buckets": buckets, "connections": count,
                         "buckets": None})


# ---------------------------------------------------------------------------
# flush-conntrack

def _flush_conntrack(run: _Run, args: list[str]) -> Result:
    match = _parse_match(run, args)
    zone = match.zone
    with _netlink(run, FLUSH_FAILED) as nl:
        try:
            if match.is_zero():
                # ct_dpif_flush(zone, NULL): all, or one zone, in the
                # kernel.
                nl.flush(zone=zone)
                return Result("", {"zone": zone, "flushed": None})
            if match.is_five_tuple():
                # nl_ct_flush_tuple(): the entry of that original tuple in
                # 'zone' (0 if none given); ENOENT if there is none.
                o = match.orig
                nl.delete(o.l3, dump.KernelTuple(
                    str(o.src), str(o.dst), o.sport, o.dport, o.icmp_id,
                    o.icmp_type, o.icmp_code), o.proto, zone or 0)
                return Result("", {"zone": zone, "flushed": 1})
            filt = dump.Match(match)
            if (not filt.tuples and not match.labels_mask):
                # Mark only: the kernel filters the flush itself.
                nl.flush(zone=zone, mark=filt.kernel_mark)
                return Result("", {"zone": zone, "flushed": None})
            # Everything else: dump, match, delete one by one (as
            # ct_dpif_flush() does for a generic match).
            victims = [e for e in dump.iter_entries(
                nl, zone=zone, mark=filt.kernel_mark) if filt(e)]
            flushed = 0
            for e in victims:
                try:
                    nl.delete(e.l3, e.orig, e.proto, e.zone, e.id)
                    flushed += 1
                except KernelError as exc:
                    if exc.errno != errno.ENOENT:   # Gone meanwhile: fine.
                        raise
        except KernelError as exc:
            run.fail(FLUSH_FAILED, exc.errno)
    return Result("", {"zone": zone, "flushed": flushed})


# ---------------------------------------------------------------------------
# Sysctls: nconns, maxconns, tcp-seq-chk

def _no_args(run: _Run, args: list[str]) -> None:
    if args:
        run.fail(INVALID_ARGS)


def _sysctl(run: _Run, message: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except sysctl.SysctlError as exc:
        run.fail(f"{message}: {exc.strerror}", exc.errno)


def _ct_get_nconns(run: _Run, args: list[str]) -> Result:
    _no_args(run, args)
    value = _sysctl(run, settings.NCONNS_GET_FAILED,
                    lambda: sysctl.read("count"))
    return Result(f"{value}\n", {"nconns": value})


def _ct_get_maxconns(run: _Run, args: list[str]) -> Result:
    _no_args(run, args)
    value = _sysctl(run, settings.MAXCONNS_GET_FAILED,
                    lambda: sysctl.read("max"))
    return Result(f"{value}\n", {"maxconns": value})


def _ct_set_maxconns(run: _Run, args: list[str]) -> Result:
    value = scan_decimal(args[-1], 32) if len(args) == 1 else None
    if value is None:
        run.fail(settings.MAXCONNS_MALFORMED)
    _sysctl(run, settings.MAXCONNS_SET_FAILED,
            lambda: sysctl.write("max", value))
    return Result(fmt.MAXCONNS_SET, {"maxconns": value})


def _set_tcp_seq_chk(enabled: bool) -> Callable[[_Run, list[str]], Result]:
    verb = "enabling" if enabled else "disabling"

    def handler(run: _Run, args: list[str]) -> Result:
        _no_args(run, args)
        _sysctl(run, settings.TCP_SEQ_CHK_SET_FAILED.format(verb),
                lambda: sysctl.write("tcp_be_liberal", 0 if enabled else 1))
        return Result(fmt.TCP_SEQ_CHK_SET.format(verb),
                      {"tcp_seq_chk": enabled})
    return handler


def _ct_get_tcp_seq_chk(run: _Run, args: list[str]) -> Result:
    _no_args(run, args)
    liberal = _sysctl(run, settings.TCP_SEQ_CHK_GET_FAILED,
                      lambda: sysctl.read("tcp_be_liberal"))
    on = not liberal
    return Result(fmt.TCP_SEQ_CHK_STATUS.format(
        "enabled" if on else "disabled"), {"tcp_seq_chk": on})


# ---------------------------------------------------------------------------
# Operations the kernel datapath does not offer: OVS's error texts with
# EOPNOTSUPP (ct_dpif_*() when the dpif class lacks the operation).

def _unsupported(message: str) -> Callable[[_Run, list[str]], Result]:
    def handler(run: _Run, args: list[str]) -> Result:
        run.fail(message, errno.EOPNOTSUPP)
    return handler


_HANDLERS: dict[str, Callable[[_Run, list[str]], Result]] = {
    "dump-conntrack": _dump_conntrack,
    "flush-conntrack": _flush_conntrack,
    "ct-stats-show": _ct_stats_show,
    "ct-bkts": _ct_bkts,
    "ct-get-nconns": _ct_get_nconns,
    "ct-get-maxconns": _ct_get_maxconns,
    "ct-set-maxconns": _ct_set_maxconns,
    "ct-enable-tcp-seq-chk": _set_tcp_seq_chk(True),
    "ct-disable-tcp-seq-chk": _set_tcp_seq_chk(False),
    "ct-get-tcp-seq-chk": _ct_get_tcp_seq_chk,
    "ct-set-limits": _unsupported(limits.SET_LIMIT_FAILED),
    "ct-del-limits": _unsupported(limits.DEL_LIMIT_FAILED),
    "ct-get-limits": _unsupported(limits.GET_LIMIT_FAILED.format(
        os.strerror(errno.EOPNOTSUPP))),
    "ct-get-sweep-interval": _unsupported(settings.SWEEP_GET_FAILED),
    "ct-set-sweep-interval": _unsupported(settings.SWEEP_SET_FAILED),
}


def dispatch(name: str, args: list[str], verbosity: int = 0,
             statistics: bool = False, program: str = "ovsct") -> Result:
    """Runs dpctl command 'name' (short name, e.g. "dump-conntrack") on the
    kernel datapath 'args[0]' with the parameters 'args[1:]' left after
    the options.  Returns a Result or raises CommandError."""
    run = _Run(program, verbosity, statistics)
    handler = _HANDLERS.get(name)
    if handler is None:
        run.fail(f"{name}: not available on the kernel datapath",
                 errno.EOPNOTSUPP)
    return handler(run, list(args[1:]))
