"""The command table's types, the row decorator, and unixctl's own checks.

A handler takes a Context and the unixctl params (options included,
command name excluded) and returns a Result, or raises CommandError whose
text is the whole error body.  Only a front end (the unixctl adapter of
unixctl/main.py, the offline CLI) turns those into replies.

A row is declared once, by decorating its handler with @command (or
@dpctl, ovsct/commands/dpctl.py): the decorator builds the Command and
hangs it on the function as '.command'.  ovsct/commands/__init__.py lists
the handlers in table order and build() collects their rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["Command", "CommandError", "Context", "Handler", "Result",
           "UNBOUNDED", "build", "command", "dispatch", "find_command",
           "CONN", "LIMITS", "SETTINGS", "TP", "STATE", "LIVE",
           "TOOLS"]

UNBOUNDED = sys.maxsize

# Groups of the help text and the man pages, in the order they appear.
CONN = "Connections"
LIMITS = "Limits"
SETTINGS = "Settings"
TP = "Timeout policies"
STATE = "State"
LIVE = "Live interfaces"
TOOLS = "Tools"


@dataclass
class Context:
    """What a handler may use: the engine and the name errors start with
    (OVS's program_name).  'stream_dump': dump-conntrack's text and JSON
    come in pieces, in hash order as OVS prints it (the daemon sends each
    piece as the client drains the previous one); otherwise they are one
    sorted string and one sorted list (the offline CLI, whose output then
    does not depend on the bucket layout).
    'state_file': the daemon's --state-file, ct/save's default FILE."""

    engine: Any
    program: str = "ovsctd"
    stream_dump: bool = False
    state_file: str | None = None


class Result:
    """A command's success: 'text' is the unixctl body exactly as OVS's
    handler produced it (the unixctl layer adds a final newline to a
    non-empty body lacking one), 'data' the JSON-able structured result.
    Either may be given as a callable, evaluated on first use, so that a
    dump is only formatted in the form the client asked for."""

    __slots__ = ("_text", "_data")

    def __init__(self, text: str | Callable[[], str] = "",
                 data: Any = None) -> None:
        self._text = text
        self._data = data

    @property
    def text(self) -> str:
        if callable(self._text):
            self._text = self._text()
        if not isinstance(self._text, str):
            self._text = "".join(self._text)
        return self._text

    @property
    def data(self) -> Any:
        if callable(self._data):
            self._data = self._data()
        return self._data

    def value(self, as_json: bool) -> Any:
        """The one rendering a client asked for.  Front ends should call
        this (not both properties) in the thread that ran the handler: for
        dump-conntrack each property is a full walk of the table."""
        return self.data if as_json else self.text

    def stream(self, as_json: bool) -> Any:
        """Like value(), but text made in pieces stays an iterator of str
        pieces, for a front end that can send them as they come."""
        if as_json:
            return self.data
        if callable(self._text):
            self._text = self._text()
        return self._text

    def __repr__(self) -> str:
        return f"Result(text={self.text!r}, data={self.data!r})"


class CommandError(Exception):
    """A command's failure; 'text' is the whole error body (possibly
    several lines) without the final newline."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


Handler = Callable[[Context, list[str]], Result]


@dataclass(frozen=True)
class Command:
    """One entry of the table.  'min_args'/'max_args' are unixctl param
    counts, options included (UNBOUNDED: no maximum).  'deferred' marks a
    handler that may run for long (it reads a file and runs a whole
    capture): the daemon may run it off its main loop.  'long_poll' marks
    a handler that may wait for something to happen (ct/events-read): the
    daemon runs it on a pool of its own, so that it holds up neither the
    table commands nor the packet workers."""

    name: str
    usage: str
    min_args: int
    max_args: int
    handler: Handler
    read_only: bool
    group: str
    summary: str
    deferred: bool = False
    long_poll: bool = False


def command(name: str, usage: str, min_args: int, max_args: int, *,
            group: str, summary: str, read_only: bool = False,
            deferred: bool = False, long_poll: bool = False
            ) -> Callable[[Handler], Handler]:
    """Declares the row of the decorated handler (see the module
    comment)."""
    def declare(handler: Handler) -> Handler:
        handler.command = Command(  # type: ignore[attr-defined]
            name, usage, min_args, max_args, handler, read_only, group,
            summary, deferred, long_poll)
        return handler
    return declare


def build(handlers: Iterable[Handler]) -> list[Command]:
    """The rows of 'handlers', in that order."""
    return [h.command for h in handlers]  # type: ignore[attr-defined]


_by_name: dict[str, Command] = {}


def index(commands: list[Command]) -> None:
    _by_name.clear()
    _by_name.update((c.name, c) for c in commands)


def find_command(name: str) -> Command | None:
    return _by_name.get(name)


def too_many_args(name: str, max_args: int) -> str:
    """lib/unixctl.c process_command()'s text for too many params."""
    return f'"{name}" command takes at most {max_args} arguments'


def dispatch(ctx: Context, name: str, args: list[str]) -> Result:
    """Runs 'name' with unixctl's own checks first (lib/unixctl.c
    process_command(), its texts), for front ends without a unixctl server
    such as the offline CLI."""
    command = _by_name.get(name)
    if command is None:
        raise CommandError(f'"{name}" is not a valid command (use '
                           f'"list-commands" to see a list of valid '
                           f'commands)')
    if len(args) < command.min_args:
        raise CommandError(f'"{name}" command requires at least '
                           f'{command.min_args} arguments')
    if len(args) > command.max_args:
        raise CommandError(too_many_args(name, command.max_args))
    return command.handler(ctx, list(args))
