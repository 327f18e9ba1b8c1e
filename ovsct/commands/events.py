"""ct/events-read: connection events of the userspace datapath, read by
long polling (ours; OVS has no such command).

    ct/events-read [-m] [-s] [--close] [cursor=C] [max=N] [wait=MS]
                   [zone=N] [mark=X[/M]] [labels=Y[/N]] [state=S[,S...]]
                   [ct-orig-tuple [ct-reply-tuple]]

unixctl is request/response, so a reader calls this in a loop (`ovsct
events` does): without cursor= it becomes a new reader (the engine's
events are on while at least one reader exists) and gets the events from
now on; with the cursor of its previous reply it gets the events after
it.  A call answers as soon as there are events (or losses) to report,
else after waiting up to wait= ms (default 1000, at most 10000) on a
thread of its own, so neither the daemon's loop nor its table commands
wait for it.  A reader that has not read for READER_LEASE seconds is
dropped (its engine subscription with it); --close drops it at once.

The reply's first line is "cursor=C lost=N" (N: events this reader lost
since its previous call, because the ring overflowed or a writer dropped
them); each event follows as "[NEW] ", "[UPDATE] " or "[DESTROY] " and
the dump-conntrack line (-m, -s as there).  In JSON: {"cursor": C,
"lost": N, "restarted": bool, "readers": the number of readers,
"events": [the dump's entry object plus "event"]}, the objects made
by the engine as dump-conntrack's.  The arguments after the cursor are
dump-conntrack's filter (ovsct/commands/flush.py parse_dump_filter():
flush-conntrack's match with CIDR prefixes, and state=), applied by the
engine's one matcher while reading.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from typing import Any, Optional

from ovsct import format as fmt
from ovsct.commands.dpctl import ENGINE_ERRORS, errno_of
from ovsct.commands.flush import ParseError, parse_dump_filter
from ovsct.commands.table import (CONN, UNBOUNDED, CommandError, Context,
                                  Result, command)
from ovsct.numbers import scan_prefixed

__all__ = ["events_read", "READER_LEASE", "DEFAULT_WAIT_MS", "MAX_WAIT_MS"]

READER_LEASE = 10.0         # Seconds a reader is kept without a read.
DEFAULT_WAIT_MS = 1000
MAX_WAIT_MS = 10000
DEFAULT_MAX = 1024
MAX_EVENTS = 16384
POLL_S = 0.02               # How often a waiting call looks at the ring.


class _Readers:
    """The readers of one engine: id -> [cursor, last read time].  Each
    holds one engine subscription."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.readers: dict[int, list] = {}
        self.ids = itertools.count(1)
        self.reaper: Optional[threading.Thread] = None

    def open(self) -> int:
        cursor = self.engine.events_subscribe()
        with self.lock:
            rid = next(self.ids)
            self.readers[rid] = [cursor, time.monotonic()]
            if self.reaper is None:
                self.reaper = threading.Thread(target=self._reap,
                                               name="events-lease",
                                               daemon=True)
                self.reaper.start()
        return rid

    def close(self, rid: int) -> None:
        with self.lock:
            found = self.readers.pop(rid, None) is not None
        if found:
            self.engine.events_unsubscribe()

    def get(self, rid: int) -> Optional[tuple[int, int]]:
        with self.lock:
            reader = self.readers.get(rid)
            if reader is None:
                return None
            reader[1] = time.monotonic()
            return reader[0]

    def put(self, rid: int, cursor: tuple[int, int]) -> None:
        with self.lock:
            reader = self.readers.get(rid)
            if reader is not None:
                reader[0] = cursor
                reader[1] = time.monotonic()

    def count(self) -> int:
        with self.lock:
            return len(self.readers)

    def _reap(self) -> None:
        while True:
            time.sleep(READER_LEASE / 4)
            now = time.monotonic()
            with self.lock:
                stale = [rid for rid, (_, seen) in self.readers.items()
                         if now - seen > READER_LEASE]
            for rid in stale:
                try:
                    self.close(rid)
                except ValueError:      # The engine was closed.
                    return


_registry: "weakref.WeakKeyDictionary[Any, _Readers]" = \
    weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _readers(engine: Any) -> _Readers:
    with _registry_lock:
        readers = _registry.get(engine)
        if readers is None:
            readers = _registry[engine] = _Readers(engine)
        return readers


def _fail(ctx: Context, message: str) -> None:
    raise CommandError(fmt.error_line(ctx.program, message))


def _number(ctx: Context, arg: str, prefix: str, low: int, high: int
            ) -> Optional[int]:
    value = scan_prefixed(arg, prefix, 32)
    if value is None or not low <= value <= high:
        _fail(ctx, f"events: {arg}: expected {prefix}{low}..{high}")
    return value


def _parse_cursor(ctx: Context, text: str) -> tuple[int, int, int]:
    try:
        rid, seq, dropped = (int(p) for p in text.split(":"))
        if min(rid, seq, dropped) < 0:
            raise ValueError(text)
    except ValueError:
        _fail(ctx, f"events: cursor={text}: expected the cursor of a "
              "previous reply (READER:SEQ:DROPPED)")
    return rid, seq, dropped


@command("ct/events-read", "[-m] [-s] [--close] [cursor=C] [max=N] "
         "[wait=MS] [zone=N] [mark=X[/M]] [labels=Y[/N]] "
         "[state=S[,S...]] [ct-orig-tuple [ct-reply-tuple]]", 0,
         UNBOUNDED, group=CONN,
         read_only=True, long_poll=True,
         summary="Read connection events (NEW, UPDATE, DESTROY) after "
         "cursor C, waiting up to MS ms for some.")
def events_read(ctx: Context, args: list[str]) -> Result:
    verbose = stats = close = False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        arg = args.pop(0)
        if arg == "--more":
            verbose = True
        elif arg == "--statistics":
            stats = True
        elif arg == "--close":
            close = True
        elif arg.startswith("--") or any(c not in "ms" for c in arg[1:]):
            raise CommandError(f"Unrecognized option {arg}")
        else:
            verbose = verbose or "m" in arg
            stats = stats or "s" in arg
    cursor_text = None
    max_events, wait_ms = DEFAULT_MAX, DEFAULT_WAIT_MS
    while args:
        arg = args[0]
        if arg.startswith("cursor="):
            cursor_text = arg[len("cursor="):]
        elif arg.startswith("max="):
            max_events = _number(ctx, arg, "max=", 1, MAX_EVENTS)
        elif arg.startswith("wait="):
            wait_ms = _number(ctx, arg, "wait=", 0, MAX_WAIT_MS)
        else:
            break
        args.pop(0)
    flt = None
    if args:
        ds: list[str] = []
        try:
            flt = parse_dump_filter(args, ds)
        except ParseError:
            _fail(ctx, "events: " + "".join(ds))

    engine = ctx.engine
    readers = _readers(engine)
    restarted = False
    try:
        if cursor_text is not None:
            rid, seq, dropped = _parse_cursor(ctx, cursor_text)
            if close:
                readers.close(rid)
                return Result("", {"closed": True})
            cursor = readers.get(rid)
            if cursor is None:
                # Expired or from an earlier daemon: a new reader, and the
                # reply says so (events in between are unknown).
                restarted = True
            elif cursor != (seq, dropped):
                # A cursor the reader had been given before: replaying
                # from it is what it asks for.
                cursor = (seq, dropped)
        if cursor_text is None or restarted:
            if close:
                return Result("", {"closed": False})
            rid = readers.open()
            cursor = readers.get(rid)
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            events, cursor, lost = engine.events_read(
                cursor, max_events, flt, verbose, stats)
            readers.put(rid, cursor)
            if events or lost or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
    except ENGINE_ERRORS as exc:
        raise CommandError(fmt.error_line(ctx.program, "events: cannot read "
                                          "events", errno_of(exc)))
    token = "%d:%d:%d" % (rid, cursor[0], cursor[1])
    n_readers = readers.count()
    return Result(lambda: fmt.events_text(token, lost, restarted, events),
                  lambda: fmt.events_json(token, lost, restarted, events,
                                          n_readers))
