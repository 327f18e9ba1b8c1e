"""Exceptions raised by ovsct.

The C binding (ovsct._engine) maps engine errno values to these classes at
one place (set_error() in binding/convert.c): ENOSPC -> TableFull, ENOENT ->
NotFound, EINVAL -> ValueError, ENOMEM -> MemoryError.  This module must not
import anything from ovsct: the binding imports it while the package is
still initialising.
"""

from __future__ import annotations

import os

__all__ = ["ClientError", "OvsctError", "TableFull", "NotFound", "strerror"]


class OvsctError(Exception):
    """Base class of ovsct's own exceptions."""


class TableFull(OvsctError):
    """The connection table (or a zone) is at its limit (ENOSPC)."""


class NotFound(OvsctError, LookupError):
    """No such connection, zone limit or timeout policy (ENOENT)."""


class ClientError(OvsctError):
    """A failure to reach a unixctl server or to talk to it (ovsct.rundir,
    ovsct.client).

    'errno' is a positive errno value (or 0), 'message' is ovs-appctl's text
    without the program prefix or the strerror suffix, and 'log' is the
    vlog-style warning ovs-appctl prints first (module, text) or None."""

    def __init__(self, err: int, message: str,
                 log: tuple[str, str] | None = None):
        super().__init__(message)
        self.errno = err
        self.message = message
        self.log = log

    def __str__(self) -> str:
        return "%s (%s)" % (self.message, strerror(self.errno))


def strerror(err: int) -> str:
    """ovs_retval_to_string() (lib/util.c): errno text, with EOF (-1 or 0)
    as "End of file"."""
    if err == -1 or err == 0:
        return "End of file"
    return os.strerror(err)
