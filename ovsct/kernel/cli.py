"""``ovsct CMD system@NAME ...`` without a daemon, as ovs-dpctl does.

ovsct.cli calls wants_local() before contacting ovsctd: a dpctl command
whose datapath argument is a kernel datapath runs here, in this process
(and so in its network namespace), through the same command table and
handlers as in the daemon.  Output, streams and exit codes are those of the
client mode: 0 on success, 2 with the error text on stderr on failure.

Neighbours: ovsct/cli.py (the caller), ovsct/kernel/commands.py,
ovsct/kernel/events.py (``ovsct events``).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ovsct.kernel.commands import is_kernel_dp

__all__ = ["wants_local", "datapath_arg", "run_local"]


def datapath_arg(params: list[str]) -> str | None:
    """The first parameter after the dpctl options (-m, -s, --more...)."""
    for param in params:
        if param.startswith("-") and len(param) > 1:
            continue
        return param
    return None


def wants_local(name: str, params: list[str]) -> bool:
    """True if dpctl command 'name' (the table's name, "dpctl/...")
    addresses a kernel datapath."""
    if not name.startswith("dpctl/"):
        return False
    dp = datapath_arg(params)
    return dp is not None and is_kernel_dp(dp)


def _write_json(value: Any, pretty: bool, out: TextIO) -> None:
    if pretty:
        out.write(json.dumps(value, indent=4, sort_keys=True) + "\n")
    else:
        out.write(json.dumps(value, separators=(",", ":"), sort_keys=True)
                  + "\n")


def _write_text(piece: str, out: TextIO) -> None:
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        buffer.write(piece.encode("utf-8"))
    else:
        out.write(piece)


def run_local(name: str, params: list[str], as_json: bool, pretty: bool,
              out: TextIO, err: TextIO, program: str) -> int:
    """Runs table command 'name' locally; returns the exit status."""
    from ovsct.commands import CommandError, Context, dispatch

    context = Context(engine=None, program=program)
    try:
        result = dispatch(context, name, params)
        if as_json:
            _write_json(result.data, pretty, out)
            return 0
        out.flush()
        text = result.stream(False)
        if isinstance(text, str):
            if text:
                _write_text(text if text.endswith("\n") else text + "\n",
                            out)
        else:
            last = ""
            for piece in text:
                if piece:
                    _write_text(piece, out)
                    last = piece
            if last and not last.endswith("\n"):
                _write_text("\n", out)
    except CommandError as e:
        out.flush()
        err.write(e.text if e.text.endswith("\n") else e.text + "\n")
        return 2
    return 0
