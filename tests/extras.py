"""``need(module, reason)``: import an optional dependency for a test, or skip, but never in CI.

CI installs the ``[all]`` extra (the README's set-up command), so there a missing module is a
broken install, not a reason to skip: the test fails, naming the module. Elsewhere (a runtime-
only install, say) the test is skipped with ``reason``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def need(module: str, reason: str) -> ModuleType:
    """Return the imported ``module``; skip the test (fail under ``CI``) when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is missing in CI, which installs [all]: {reason} ({exc})")
        pytest.skip(f"{module} is not installed: {reason}")
        raise AssertionError from None  # unreachable
