"""The tests and the engine build (ovsct._engine).

A missing or broken build fails the run: tests/conftest.py stops it at the
start with the import error.  Setting OVSCT_ALLOW_NO_ENGINE=1 lets the
tests that do not need the engine run without one (a Python-only check);
those that need it are then skipped, with the import error as the reason.
"""

import importlib
import os

import pytest

ALLOW_ENV = "OVSCT_ALLOW_NO_ENGINE"
ALLOWED = os.environ.get(ALLOW_ENV) == "1"


def _import_error():
    try:
        importlib.import_module("ovsct._engine")
    except ImportError as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


ENGINE_ERROR = _import_error()
SKIP_REASON = "ovsct._engine cannot be imported (%s) and %s=1" % (
    ENGINE_ERROR, ALLOW_ENV)

# For tests that need the engine: skipped only when it is missing and
# allowed to be; otherwise they run (and fail if it is missing).
needs_engine = pytest.mark.skipif(ENGINE_ERROR is not None and ALLOWED,
                                  reason=SKIP_REASON)


def require_engine():
    """ovsct._engine, for a test module that needs it at import time.
    Without it the module is skipped if OVSCT_ALLOW_NO_ENGINE=1, else the
    ImportError is raised (a collection error: the run fails)."""
    if ENGINE_ERROR is not None and ALLOWED:
        pytest.skip(SKIP_REASON, allow_module_level=True)
    return importlib.import_module("ovsct._engine")


def check_session():
    """Stops the run when the engine is missing and not allowed to be."""
    if ENGINE_ERROR is not None and not ALLOWED:
        pytest.exit("ovsct._engine cannot be imported (%s): build it with "
                    "`python setup.py build_ext --inplace`, or set %s=1 to "
                    "run only the tests that do not need it"
                    % (ENGINE_ERROR, ALLOW_ENV), returncode=1)
