"""tinysam-mobile runtime: run exported TinySAM / MobileSAM graphs with numpy + ONNX Runtime.

Importing this package never imports torch. The public names are imported lazily (on first
attribute access) so ``import tinysam_mobile`` stays cheap and a missing optional module does
not break it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Predictor": "tinysam_mobile.predictor",
    "load_manifest": "tinysam_mobile.manifest",
    "Manifest": "tinysam_mobile.manifest",
    "Artifact": "tinysam_mobile.manifest",
    "load_image": "tinysam_mobile.image_io",
    "GraphSession": "tinysam_mobile.session",
    "OrtSession": "tinysam_mobile.session",
    "MaskGenerator": "tinysam_mobile.everything",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from .image_io import load_image as load_image
    from .manifest import Artifact as Artifact
    from .manifest import Manifest as Manifest
    from .manifest import load_manifest as load_manifest
    from .predictor import Predictor as Predictor
    from .session import GraphSession as GraphSession
    from .session import OrtSession as OrtSession


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tinysam_mobile' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
