"""``ovsct events system@NAME``: the kernel's conntrack events, streamed.

    ovsct [-f json] events [-m] [-s] system@NAME [zone=N] [match]

One line per event, until interrupted: "[NEW] ", "[UPDATE] " or
"[DESTROY] " followed by the entry's dump line (dump-conntrack's format,
-m and -s as there), or with -f json one JSON object per line (the dump's
JSON object plus "event").  zone=N and dump-conntrack's filter arguments
(the flush-conntrack match, CIDR prefixes, state=S[,S...]) select
events.  The events come from the nfnetlink conntrack multicast groups
(NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY) of the caller's network
namespace.  When the kernel drops events because we read too slowly
(ENOBUFS on the socket), a counted warning goes to stderr and the stream
goes on: losses are never silent.

Neighbours: ovsct/kernel/netlink.py, ovsct/kernel/dump.py, ovsct/cli.py.
"""

from __future__ import annotations

import errno
import json
import os
import signal
from typing import Any, TextIO

from ovsct import format as fmt
from ovsct.kernel import dump
from ovsct.kernel.commands import is_kernel_dp
from ovsct.kernel.netlink import GROUPS, CtNetlink, KernelError

__all__ = ["run_events", "cli_events", "is_kernel_events", "WARN_LOST"]

WARN_LOST = ("{}: events: the kernel dropped conntrack events (receive "
             "buffer overrun, ENOBUFS); {} loss(es) so far\n")
ERR_USAGE = "{}: events: {}\n"


def _parse(args: list[str], program: str, err: TextIO
           ) -> tuple[int, bool, str | None, Any] | None:
    verbosity, stats = 0, False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        arg = args.pop(0)
        if arg == "--more":
            verbosity += 1
        elif arg == "--statistics":
            stats = True
        elif arg.startswith("--") or any(c not in "ms" for c in arg[1:]):
            err.write(ERR_USAGE.format(program,
                                       "Unrecognized option " + arg))
            return None
        else:
            verbosity += arg.count("m")
            stats = stats or "s" in arg
    dp = args.pop(0) if args else None
    return verbosity, stats, dp, args


def is_kernel_events(args: list[str]) -> bool:
    """True if ``ovsct events ARGS`` names a kernel datapath (system@NAME
    after the options): ovsct/cli.py then calls cli_events(), otherwise
    the userspace datapath's events (ovsct/events.py)."""
    rest = list(args)
    while rest and rest[0].startswith("-") and len(rest[0]) > 1:
        rest.pop(0)
    return bool(rest) and is_kernel_dp(rest[0])


def cli_events(args: list[str], as_json: bool, pretty: bool, out: TextIO,
               err: TextIO, program: str = "ovsct") -> int:
    """The ``ovsct events system@NAME`` command line: options, datapath,
    filters (ovsct/cli.py calls it when is_kernel_events(args))."""
    parsed = _parse(list(args), program, err)
    if parsed is None:
        return 2
    verbosity, stats, _dp, rest = parsed
    match = None
    if rest:
        from ovsct.commands.flush import ParseError, parse_dump_filter
        ds: list[str] = []
        try:
            flt = parse_dump_filter(rest, ds)
        except ParseError:
            err.write(fmt.error_line(program, "".join(ds), errno.EINVAL)
                      + "\n")
            return 2
        match = dump.Match(flt)
    return run_events(verbosity > 0, stats, match, as_json, out, err,
                      program)


def run_events(verbose: bool, stats: bool, match: Any, as_json: bool,
               out: TextIO, err: TextIO, program: str = "ovsct",
               max_events: int | None = None) -> int:
    """Streams events until interrupted (or 'max_events' were written)."""
    from ovsct import _engine

    try:
        nl = CtNetlink(groups=tuple(GROUPS.values()))
    except KernelError as exc:
        err.write(fmt.error_line(program, "events: cannot listen to "
                                 "conntrack events", exc.errno) + "\n")
        return 2
    # SIGTERM ends the stream like ^C does.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    written = lost = 0
    buffer = getattr(out, "buffer", None)
    try:
        while max_events is None or written < max_events:
            try:
                buf = nl.recv()
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                lost += 1
                err.write(WARN_LOST.format(program, lost))
                err.flush()
                continue
            raw, status, code = _engine.nfct_entries(buf, verbose, stats, -1)
            lines = []
            for e in dump.entries_from(raw):
                if match is not None and not match(e):
                    continue
                if as_json:
                    obj = dump.entry_json(e)
                    obj["event"] = e.event
                    lines.append(json.dumps(obj, separators=(",", ":"),
                                            sort_keys=True) + "\n")
                else:
                    lines.append("[%s] %s\n" % (e.event, e.line))
                written += 1
                if max_events is not None and written >= max_events:
                    break
            if lines:
                text = "".join(lines)
                if buffer is not None:
                    buffer.write(text.encode("utf-8"))
                    buffer.flush()
                else:
                    out.write(text)
                    out.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
        nl.close()
    if lost:
        err.write(WARN_LOST.format(program, lost))
    return 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
