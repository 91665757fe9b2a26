"""Progress reporting for the numbered export stages."""

from __future__ import annotations

import sys
from typing import Protocol, TextIO


class Progress(Protocol):
    """Receives stage events from :func:`tinysam_export.pipeline.run_export`."""

    def stage_started(self, number: int, total: int, name: str) -> None:
        """Stage ``number`` of ``total`` begins."""
        ...

    def stage_finished(
        self, number: int, total: int, name: str, seconds: float, detail: str
    ) -> None:
        """Stage ``number`` ended after ``seconds``; ``detail`` is a one-line summary."""
        ...

    def warning(self, message: str) -> None:
        """Something the user must know (for example: verification skipped)."""
        ...


class NullProgress:
    """Reports nothing (``--quiet``); warnings are still dropped silently."""

    def stage_started(self, number: int, total: int, name: str) -> None:
        """Ignore."""

    def stage_finished(
        self, number: int, total: int, name: str, seconds: float, detail: str
    ) -> None:
        """Ignore."""

    def warning(self, message: str) -> None:
        """Ignore."""


class StreamProgress:
    """Writes ``[n/N] stage ... 1.2 s  detail`` lines to a stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    def stage_started(self, number: int, total: int, name: str) -> None:
        """Print the stage header (completed by :meth:`stage_finished`)."""
        self.stream.write(f"[{number}/{total}] {name} ...")
        self.stream.flush()

    def stage_finished(
        self, number: int, total: int, name: str, seconds: float, detail: str
    ) -> None:
        """Print the elapsed seconds and the summary."""
        tail = f"  {detail}" if detail else ""
        self.stream.write(f" {seconds:.1f} s{tail}\n")
        self.stream.flush()

    def warning(self, message: str) -> None:
        """Print a prominent warning."""
        self.stream.write(f"\nWARNING: {message}\n")
        self.stream.flush()
