"""Exceptions raised by ovsct.

The C binding (ovsct._engine) maps engine errno values to these classes at
one place (set_error() in binding/convert.c): ENOSPC -> TableFull, ENOENT ->
NotFound, EINVAL -> ValueError, ENOMEM -> MemoryError.  This module must not
import anything from ovsct: the binding imports it while the package is
still initialising.
"""

__all__ = ["OvsctError", "TableFull", "NotFound"]


class OvsctError(Exception):
    """Base class of ovsct's own exceptions."""


class TableFull(OvsctError):
    """The connection table (or a zone) is at its limit (ENOSPC)."""


class NotFound(OvsctError, LookupError):
    """No such connection, zone limit or timeout policy (ENOENT)."""
