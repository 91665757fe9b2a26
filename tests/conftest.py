"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _need_shared(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{path} is missing; CI always has ../shared next to the checkout")
    pytest.skip(f"{path} is not here (outside CI this test needs ../shared next to the checkout)")
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` next to the checkout (fails under CI when missing)."""
    return _need_shared(SHARED)


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """``../shared/reference``: the official-layout checkpoint and official outputs."""
    return _need_shared(shared_dir / "reference")


@pytest.fixture(scope="session")
def images_dir(shared_dir: Path) -> Path:
    """``../shared/images``."""
    return _need_shared(shared_dir / "images")
