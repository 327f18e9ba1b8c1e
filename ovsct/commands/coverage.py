"""ct/coverage-show: the engine's event counters in the shape of OVS's
coverage/show (lib/coverage.c coverage_read()), and the rate-limited
warning OVS logs when NAT runs out of tuples (lib/conntrack.c
conn_not_found(): "Unable to NAT due to tuple space exhaustion - if DoS
attack, use firewalling and/or zone partitioning.").

The counters are the engine's (ovsct.engine.COUNTER_NAMES, struct
ovsct_counters), shown as "conntrack_<name>" like OVS's conntrack_full and
conntrack_zone_full coverage counters; the measurements among them (the
sweeper's lock-hold maximum and histogram) are no events and are left out.
Rates are averages over the last 5 seconds, minute and hour, computed from
samples taken whenever a command runs (a sample at least every
SAMPLE_INTERVAL), the oldest sample inside a window standing for its start.
"""

from __future__ import annotations

import threading
import time
import weakref
import zlib
from typing import Any, Callable

from ovsct.commands.table import TOOLS, Context, Result, command

NAT_EXHAUSTED_WARNING = ("Unable to NAT due to tuple space exhaustion - if "
                         "DoS attack, use firewalling and/or zone "
                         "partitioning.")
PREFIX = "conntrack_"
WINDOWS = (5.0, 60.0, 3600.0)       # coverage/show's three averages.
SAMPLE_INTERVAL = 1.0
WARN_INTERVAL = 1.0                 # The warning at most once per second.


def _is_event(name: str) -> bool:
    return not name.startswith(("max_", "sweep_hold_"))


class History:
    """Counter samples of one engine, and the NAT warning's state."""

    def __init__(self, engine: Any) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.nat_seen = 0
        self.last_warn = float("-inf")
        self.sample(engine)

    def sample(self, engine: Any, now: float | None = None
               ) -> dict[str, int]:
        now = time.monotonic() if now is None else now
        counters = engine.counters()
        with self.lock:
            if not self.samples or now - self.samples[-1][0] \
                    >= SAMPLE_INTERVAL:
                self.samples.append((now, counters))
            # Keep one sample older than the longest window.
            cut = 0
            while (cut + 1 < len(self.samples)
                   and now - self.samples[cut + 1][0] >= WINDOWS[-1]):
                cut += 1
            del self.samples[:cut]
        return counters

    def rates(self, name: str, total: int, now: float) -> list[float]:
        """Events per second over each window: the growth since the oldest
        sample inside it, over the window's length (as OVS, whose averages
        also count a window not yet lived through as zeros)."""
        out = []
        with self.lock:
            for window in WINDOWS:
                c0 = next((c for t, c in self.samples if now - t <= window),
                          self.samples[-1][1])
                out.append(max(total - c0.get(name, 0), 0) / window)
        return out


_histories: "weakref.WeakKeyDictionary[Any, History]" = \
    weakref.WeakKeyDictionary()
_histories_lock = threading.Lock()


def history(engine: Any) -> History:
    with _histories_lock:
        h = _histories.get(engine)
        if h is None:
            h = _histories[engine] = History(engine)
        return h


def check_nat_exhaustion(engine: Any, warn: Callable[[str], Any],
                         now: float | None = None) -> bool:
    """Samples the counters; if NAT exhaustion grew since the last warning
    and none was logged in the last WARN_INTERVAL, calls warn() with OVS's
    text.  Returns whether it warned.  The daemon calls this for every
    command."""
    now = time.monotonic() if now is None else now
    h = history(engine)
    n = h.sample(engine, now)["nat_exhausted"]
    with h.lock:
        if n <= h.nat_seen or now - h.last_warn < WARN_INTERVAL:
            return False
        h.nat_seen = n
        h.last_warn = now
    warn(NAT_EXHAUSTED_WARNING)
    return True


def coverage_text(rows: list[tuple[str, list[float], int]],
                  never: int) -> str:
    """coverage_read()'s text: header with a hash of the totals, one line
    per counter hit at least once, then the count of the others."""
    digest = zlib.crc32("".join("%s=%d;" % (name, total)
                                for name, _, total in rows).encode())
    lines = ["Event coverage, avg rate over last: %d seconds, last minute, "
             "last hour,  hash=%08x:" % (WINDOWS[0], digest)]
    for name, (r5, r60, r3600), total in rows:
        lines.append("%-24s %5.1f/sec %9.3f/sec %13.4f/sec   total: %d"
                     % (name, r5, r60, r3600, total))
    lines.append("%d events never hit" % never)
    return "\n".join(lines) + "\n"


@command("ct/coverage-show", "", 0, 0, group=TOOLS, read_only=True,
         summary="Show the event counters (packets, invalid, table or zone "
         "full, NAT exhausted, created, expired, flushed, removed...) as "
         "coverage/show does.")
def coverage_show(ctx: Context, args: list[str]) -> Result:
    engine = ctx.engine
    now = time.monotonic()
    h = history(engine)
    counters = h.sample(engine, now)
    rows, data, never = [], {}, 0
    for name, total in counters.items():
        if not _is_event(name):
            continue
        rates = h.rates(name, total, now)
        data[PREFIX + name] = {"total": total, "rate_5s": rates[0],
                               "rate_1m": rates[1], "rate_1h": rates[2]}
        if total:
            rows.append((PREFIX + name, rates, total))
        else:
            never += 1
    return Result(coverage_text(rows, never), data)
