"""``ovsct events [dp]``: the userspace datapath's connection events,
streamed from ovsctd.

    ovsct [-t TARGET] [-f json] events [-m] [-s] [dp] [zone=N] [match]

One line per event, until interrupted: "[NEW] ", "[UPDATE] " or
"[DESTROY] " followed by the entry's dump line (dump-conntrack's format,
-m and -s as there), or with -f json one JSON object per line (the dump's
JSON object plus "event") -- the output of the kernel datapath's events.
zone=N and dump-conntrack's filter arguments (mark=, labels=, state=,
tuples with CIDR prefixes) select events; the daemon checks them (its
error ends the command, exit 2).  The events come from ct/events-read,
called in a loop on one connection (the long poll
described in ovsct(8), "Connection events").  Events the reader lost (the
daemon's ring overflowed, or a writer dropped them) are reported as a
counted warning on stderr, never silently.  SIGINT and SIGTERM end the
stream quietly (exit 0) and close the reader on the daemon.

Neighbours: ovsct/commands/events.py (ct/events-read), ovsct/client.py,
ovsct/cli.py.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any, TextIO

from ovsct import client
from ovsct.commands.dpctl import DATAPATH_ALIASES

__all__ = ["run_events", "WARN_LOST", "WARN_RESTARTED"]

METHOD = "ct/events-read"
WARN_LOST = ("{}: events: ovsctd's event ring overflowed or dropped "
             "events; {} event(s) lost so far\n")
WARN_RESTARTED = ("{}: events: ovsctd no longer knew this reader (it "
                  "restarted, or the reader expired); events in between "
                  "are unknown\n")
ERR_USAGE = "{}: events: {}\n"


def _parse(args: list[str], program: str, err: TextIO
           ) -> tuple[list[str], list[str]] | None:
    """-> (options for ct/events-read, match arguments)."""
    options: list[str] = []
    while args and args[0].startswith("-") and len(args[0]) > 1:
        arg = args.pop(0)
        if arg in ("--more", "--statistics") or (
                not arg.startswith("--")
                and all(c in "ms" for c in arg[1:])):
            options.append(arg)
        else:
            err.write(ERR_USAGE.format(program,
                                       "Unrecognized option " + arg))
            return None
    if args and args[0] in DATAPATH_ALIASES:
        args.pop(0)
    return options, args


def run_events(target: str, args: list[str], as_json: bool, out: TextIO,
               err: TextIO, program: str = "ovsct",
               max_events: int | None = None) -> int:
    """Streams events until interrupted (or 'max_events' were written)."""
    parsed = _parse(list(args), program, err)
    if parsed is None:
        return 2
    options, match = parsed
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    written = lost = 0
    cursor = None
    conn = None
    try:
        conn = client.UnixctlClient.connect(client.resolve_target(target))
        if as_json:
            error, _ = conn.transact("set-options", ["--format", "json"])
            if error is not None:
                return _server_error(error, target, program, err)
        while max_events is None or written < max_events:
            params = list(options)
            if cursor is not None:
                params.append("cursor=" + cursor)
            error, result = conn.transact(METHOD, params + match)
            if error is not None:
                return _server_error(error, target, program, err)
            cursor, n_lost, restarted, lines = _decode(result, as_json)
            if restarted:
                err.write(WARN_RESTARTED.format(program))
            if n_lost:
                lost += n_lost
                err.write(WARN_LOST.format(program, lost))
                err.flush()
            if max_events is not None:
                lines = lines[:max_events - written]
            if lines:
                out.write("".join(lines))
                out.flush()
                written += len(lines)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except client.ClientError as e:
        err.write("%s: %s\n" % (program, e))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if conn is not None:
            _close(conn, cursor)
    return 0


def _decode(result: Any, as_json: bool
            ) -> tuple[str, int, bool, list[str]]:
    """ct/events-read's reply -> (cursor, lost, restarted, output lines)."""
    if as_json:
        lines = [json.dumps(obj, separators=(",", ":"), sort_keys=True)
                 + "\n" for obj in result["events"]]
        return result["cursor"], result["lost"], result["restarted"], lines
    text = client.result_text(result)
    header, _, body = text.partition("\n")
    fields = header.split()
    values = dict(f.split("=", 1) for f in fields if "=" in f)
    return (values["cursor"], int(values["lost"]), "restarted" in fields,
            body.splitlines(keepends=True))


def _close(conn: Any, cursor: str | None) -> None:
    """Drops the reader on the daemon (best effort: it expires anyway)."""
    try:
        if cursor is not None:
            conn.transact(METHOD, ["--close", "cursor=" + cursor], timeout=1)
    except (client.ClientError, OSError, TimeoutError, KeyboardInterrupt):
        pass
    finally:
        conn.close()


def _server_error(error: Any, target: str, program: str, err: TextIO) -> int:
    err.write(error if isinstance(error, str) else json.dumps(error))
    err.write("%s: %s: server returned an error\n" % (program, target))
    return 2


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
