"""ct/save and ct/restore: the whole engine state to a file and back (ours;
OVS has no such commands).

The engine does the work (ext/persist.c: a bucket-by-bucket snapshot
written atomically, a restore that validates the whole file before it
changes anything); the handlers only pick the file, turn the statistics
into text and JSON, and the engine's errors into the error body.  The
daemon's --state-file (unixctl/persist.py) is the default FILE of
ct/save; it reaches the handlers as Context.state_file.  save_text() and
restore_text() are also the daemon's log lines.

Neighbours: ovsct/engine.py (save(), restore()), unixctl/persist.py
(--state-file, periodic saves).
"""

from __future__ import annotations

from ovsct.commands.table import STATE, Context, Result, command
from ovsct.commands.tp import fail

# What the engine raises for a refused file (ValueError), a system error
# (OSError) or a lack of memory.
_ENGINE_ERRORS = (ValueError, MemoryError, OSError)


def _reason(exc: BaseException, path: str) -> str:
    """The engine's message without the file name it starts with."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc)
    for prefix in (f"{path}: ", f"{path}.tmp: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def save_text(path: str, stats: dict) -> str:
    return ("saved %d connections, %d zone limits, %d timeout policies "
            "to %s (%d bytes)\n" % (stats["connections"],
                                    stats["zone_limits"],
                                    stats["timeout_policies"], path,
                                    stats["bytes"]))


def restore_text(path: str, stats: dict) -> str:
    return ("restored %d of %d connections from %s (%d duplicates, "
            "%d expired, %d refused by limits), %d zone limits, "
            "%d timeout policies; saved %.1f s ago\n"
            % (stats["restored"], stats["connections"], path,
               stats["duplicates"], stats["expired"], stats["refused"],
               stats["zone_limits"], stats["timeout_policies"],
               stats["age_ms"] / 1000.0))


@command("ct/save", "[FILE]", 0, 1, group=STATE, read_only=True,
         summary="Save every connection and setting to FILE (default: the "
         "daemon's --state-file), atomically.")
def save(ctx: Context, args: list[str]) -> Result:
    path = args[0] if args else ctx.state_file
    if not path:
        fail(ctx, "no FILE given and no --state-file set")
    try:
        stats = ctx.engine.save(path)
    except _ENGINE_ERRORS as exc:
        fail(ctx, f"cannot save {path}: {_reason(exc, path)}")
    return Result(save_text(path, stats), dict(stats, file=path))


@command("ct/restore", "FILE", 1, 1, group=STATE,
         summary="Add the connections and settings saved in FILE; a bad "
         "file is refused whole.")
def restore(ctx: Context, args: list[str]) -> Result:
    path = args[0]
    try:
        stats = ctx.engine.restore(path)
    except _ENGINE_ERRORS as exc:
        fail(ctx, f"cannot restore {path}: {_reason(exc, path)}")
    return Result(restore_text(path, stats), dict(stats, file=path))
