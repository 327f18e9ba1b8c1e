"""Shared pytest set-up.

Helper modules (tests/lib: framebuild, pcaplib, oraclelib, daemonlib,
enginecheck) import by name under --import-mode=importlib; the run stops
at once if the engine is not built (see tests/lib/enginecheck.py for
OVSCT_ALLOW_NO_ENGINE)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))

import enginecheck  # noqa: E402


def pytest_sessionstart(session):
    enginecheck.check_session()
