"""Exceptions raised by the runtime. Each message names the offending file, key or value."""

from __future__ import annotations


class TinySamError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageError(TinySamError, ValueError):
    """An image could not be read or has an unusable size, mode or depth."""


class PromptError(TinySamError, ValueError):
    """Points, labels, box or mask input are malformed or lie outside the image."""


class BundleError(TinySamError):
    """A bundle file is missing, truncated, tampered with or does not match the manifest."""


class ManifestError(BundleError):
    """``manifest.json`` is missing, unreadable or of an unsupported schema."""


class MissingDependencyError(TinySamError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


class StateError(TinySamError, RuntimeError):
    """A call came in the wrong order (for example ``predict`` before ``set_image``)."""
