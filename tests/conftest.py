"""Shared pytest set-up: test helper modules (framebuild) import by name
under --import-mode=importlib."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
