"""The one atomic-output helper: complete files only, ordinary permissions, nothing left on error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tinysam_mobile.atomic import atomic_output, publish_mode, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_file_has_the_permissions_open_would_give(tmp_path: Path, umask_022) -> None:
    out = write_text_atomic(tmp_path / "a.json", "{}\n")
    assert out.read_text() == "{}\n"
    assert _mode(out) == 0o644  # not mkstemp's private 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_failure_leaves_neither_the_file_nor_a_temporary(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_output(tmp_path / "keep.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert (tmp_path / "keep.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_missing_folder_is_an_oserror_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_text_atomic(tmp_path / "nope" / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_publish_mode_on_a_private_folder(tmp_path: Path, umask_022) -> None:
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    publish_mode(d)
    assert _mode(d) == 0o755
