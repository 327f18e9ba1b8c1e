"""ovsctd --state-file: restore at start, save periodically and at exit.

    --state-file=FILE      restore FILE at start (if it exists), save the
                           whole state to it every --save-interval seconds
                           and when the daemon exits cleanly ("exit",
                           SIGTERM, SIGINT, SIGHUP)
    --save-interval=SECS   default 5

Saves run on a background thread with the GIL released; the engine copies
the table one bucket at a time (ext/persist.c), so replays and commands go
on meanwhile.  A file the engine refuses at start (truncated, corrupt,
another version or byte order) is logged, renamed to FILE.rejected so that
the next save does not destroy the evidence, and the daemon starts with an
empty table.

Neighbours: unixctl/main.py (calls add_args(), start(), stop()),
ovsct/commands/persist.py (ct/save, ct/restore, the log texts),
ovsct/engine.py (save(), restore()).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

import ovs.fatal_signal
import ovs.vlog

from ovsct.commands.persist import restore_text, save_text

vlog = ovs.vlog.Vlog("persist")

DEFAULT_SAVE_INTERVAL = 5.0
REJECTED_SUFFIX = ".rejected"
# At most one failed-save message per this many seconds.
ERROR_LOG_INTERVAL = 60.0


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of "
                                         "seconds")
    return value


def add_args(group: Any) -> None:
    # abspath at parsing time: --detach changes the directory later.
    group.add_argument("--state-file", metavar="FILE", type=os.path.abspath,
                       help="restore the connections and settings from FILE "
                       "at start, save them there periodically and at exit")
    group.add_argument("--save-interval", type=_interval,
                       default=DEFAULT_SAVE_INTERVAL, metavar="SECONDS",
                       help="seconds between saves to --state-file "
                       "(default %g)" % DEFAULT_SAVE_INTERVAL)


class StateKeeper:
    """Restores and saves one engine's state to one file."""

    def __init__(self, engine: Any, path: str, interval: float) -> None:
        self.engine = engine
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = 0.0
        self.saves = 0

    def restore(self) -> None:
        """Restores the file if there is one; never fails the start."""
        if not os.path.exists(self.path):
            vlog.info("%s: no saved state, starting with an empty table"
                      % self.path)
            return
        try:
            stats = self.engine.restore(self.path)
        except ValueError as e:
            vlog.err("cannot restore %s; starting with an empty table"
                     % e)
            self._set_aside()
        except (OSError, MemoryError) as e:
            vlog.err("cannot restore %s: %s; starting with an empty table"
                     % (self.path, e))
        else:
            vlog.info(restore_text(self.path, stats).rstrip("\n"))

    def _set_aside(self) -> None:
        aside = self.path + REJECTED_SUFFIX
        try:
            os.replace(self.path, aside)
        except OSError as e:
            vlog.err("cannot rename %s to %s: %s" % (self.path, aside, e))
        else:
            vlog.err("kept the refused file as %s" % aside)

    def save(self, why: str) -> bool:
        try:
            stats = self.engine.save(self.path)
        except (OSError, ValueError, MemoryError) as e:
            now = time.monotonic()
            if now - self._last_error >= ERROR_LOG_INTERVAL:
                self._last_error = now
                vlog.err("%s save of %s failed: %s" % (why, self.path, e))
            return False
        self.saves += 1
        if why != "periodic":
            vlog.info("%s: %s" % (why, save_text(self.path,
                                                 stats).rstrip("\n")))
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="save",
                                        daemon=True)
        self._thread.start()
        # Fatal signals (SIGTERM, SIGINT, SIGHUP) end the daemon through
        # ovs.fatal_signal's hooks: save there too.
        ovs.fatal_signal.add_hook(self._on_signal, None, False)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.save("periodic")

    def _on_signal(self) -> None:
        self._stop.set()
        self.save("exit (signal)")

    def stop(self) -> None:
        """Stops the periodic saves and saves one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.save("exit")


def start(args: Any, engine: Any, context: Any) -> StateKeeper | None:
    """After the engine exists, before the daemon reports ready: restores
    --state-file and starts the periodic saves.  ct/save's default FILE
    becomes the state file."""
    if not args.state_file:
        return None
    path = args.state_file
    keeper = StateKeeper(engine, path, args.save_interval)
    keeper.restore()
    keeper.start()
    context.state_file = path
    context.state_keeper = keeper
    return keeper


def stop(context: Any) -> None:
    """At a clean exit, before the engine is closed."""
    keeper = getattr(context, "state_keeper", None)
    if keeper is not None:
        keeper.stop()
