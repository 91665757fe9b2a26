"""Plain PyTorch model of TinySAM / MobileSAM ``vit_t`` (knows nothing about export).

Build with :func:`build_sam`; load official checkpoints with
:func:`tinysam_export.checkpoint.load_model`.
"""

from __future__ import annotations

from .build import MODEL_REGISTRY, build_sam
from .sam import Sam

__all__ = ["MODEL_REGISTRY", "Sam", "build_sam"]
