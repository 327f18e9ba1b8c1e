"""ct/save and ct/restore: the whole engine state to a file and back.

Rows for the command table (ovsct/commands.py adds rows() to its table),
with the same Command / Result / CommandError shapes.  This module imports
ovsct.commands only inside functions: the table imports it while it is
being built, and either module may be imported first.  The engine does the
work (ext/persist.c: a bucket-by-bucket snapshot written atomically, a
restore that validates the whole file before it changes anything); the
handlers only pick the file, turn the statistics into text and JSON, and
the engine's errors into the error body.

The daemon's --state-file (unixctl/persist.py) is the default FILE of
ct/save; it reaches the handlers as Context.state_file when set.

Neighbours: ovsct/commands.py (table types), ovsct/engine.py (save(),
restore()), unixctl/persist.py (--state-file, periodic saves).
"""

from __future__ import annotations

from typing import Any, NoReturn

from ovsct import format as fmt

__all__ = ["rows", "ERR_NO_FILE", "ERR_SAVE", "ERR_RESTORE",
           "state_file", "save_text", "restore_text"]

# Error texts, in one place.
ERR_NO_FILE = "no FILE given and no --state-file set"
ERR_SAVE = "cannot save {}: {}"
ERR_RESTORE = "cannot restore {}: {}"

_ENGINE_ERRORS = (ValueError, MemoryError, OSError)


def state_file(ctx: Any) -> str | None:
    """The daemon's --state-file, if it has one."""
    return getattr(ctx, "state_file", None)


def _fail(ctx: Any, message: str) -> NoReturn:
    from ovsct.commands import CommandError
    raise CommandError(fmt.error_line(ctx.program, message))


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


def _save(ctx: Any, args: list[str]) -> Any:
    from ovsct.commands import Result
    path = args[0] if args else state_file(ctx)
    if not path:
        _fail(ctx, ERR_NO_FILE)
    try:
        stats = ctx.engine.save(path)
    except _ENGINE_ERRORS as exc:
        _fail(ctx, ERR_SAVE.format(path, _reason(exc, path)))
    return Result(save_text(path, stats), dict(stats, file=path))


def _restore(ctx: Any, args: list[str]) -> Any:
    from ovsct.commands import Result
    path = args[0]
    try:
        stats = ctx.engine.restore(path)
    except _ENGINE_ERRORS as exc:
        _fail(ctx, ERR_RESTORE.format(path, _reason(exc, path)))
    return Result(restore_text(path, stats), dict(stats, file=path))


_STATE = "State"


def rows() -> list[Any]:
    """ct/save and ct/restore as rows of ovsct.commands.COMMANDS."""
    from ovsct.commands import Command
    return [
        Command("ct/save", "[FILE]", 0, 1, _save, True, _STATE,
                "Save every connection and setting to FILE (default: the "
                "daemon's --state-file), atomically."),
        Command("ct/restore", "FILE", 1, 1, _restore, False, _STATE,
                "Add the connections and settings saved in FILE; a bad "
                "file is refused whole."),
    ]
