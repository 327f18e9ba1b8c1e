"""ovsct: a userspace connection tracker with Open vSwitch semantics.

The engine is C (ovsct._engine); ovsct.engine wraps it.  The value types
(Tuple, TupleMatch, Entry, FlushFilter) are pure Python (ovsct.types).
Names are loaded lazily so that importing ovsct.errors (done by the binding
at import time), ovsct.types or ovsct.action does not load the extension.
"""

from ovsct import errors
from ovsct.errors import NotFound, OvsctError, TableFull

__version__ = "0.1.0"

__all__ = [
    "Conntrack", "Entry", "FlushFilter", "NotFound", "OvsctError",
    "TableFull", "Tuple", "TupleMatch", "errors", "parse_ct_action",
    "__version__",
]

_TYPE_NAMES = frozenset(["Entry", "FlushFilter", "Tuple", "TupleMatch"])


def __getattr__(name):
    if name in _TYPE_NAMES:
        from ovsct import types
        return getattr(types, name)
    if name == "Conntrack":
        from ovsct.engine import Conntrack
        return Conntrack
    if name == "parse_ct_action":
        from ovsct.action import parse_ct_action
        return parse_ct_action
    raise AttributeError(f"module 'ovsct' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
