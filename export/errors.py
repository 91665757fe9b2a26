"""Exceptions raised by the exporter. Each message names the offending file, key or figure."""

from __future__ import annotations

from tinysam_mobile.errors import TinySamError


class CheckpointError(TinySamError, ValueError):
    """A file is not a usable checkpoint of the requested architecture."""


class ExportError(TinySamError, RuntimeError):
    """A conversion or a requested target/precision combination failed or is unsupported."""


class VerificationError(ExportError):
    """An exported graph disagrees with the PyTorch model beyond the threshold."""
