"""ovsct: a userspace connection tracker with Open vSwitch semantics.

The engine is C (ovsct._engine); ovsct.engine wraps it.  Names are loaded
lazily so that importing ovsct.errors (done by the binding at import time)
or ovsct.action does not load the extension.
"""

from ovsct import errors
from ovsct.errors import NotFound, OvsctError, TableFull

__version__ = "0.1.0"

__all__ = [
    "Conntrack", "Entry", "FlushFilter", "NotFound", "OvsctError",
    "TableFull", "Tuple", "TupleMatch", "errors", "parse_ct_action",
    "__version__",
]

_ENGINE_NAMES = frozenset(
    ["Conntrack", "Entry", "FlushFilter", "Tuple", "TupleMatch"])


def __getattr__(name):
    if name in _ENGINE_NAMES:
        from ovsct import engine
        return getattr(engine, name)
    if name == "parse_ct_action":
        from ovsct.action import parse_ct_action
        return parse_ct_action
    raise AttributeError(f"module 'ovsct' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
