"""INT8 passes over float artifacts and their calibration data.

- ``onnx_int8``: static QDQ per graph, checked at once, weight-only fallback;
- ``weight_only``: int8 weights with per-channel scales and float compute;
- ``calibration``: calibration images (a folder or a built-in set) and feeds;
- ``gate``: the mask-IoU parity gate of reduced-precision graphs;
- ``ort_mobile``: ``.ort`` files and the operator list of a reduced ORT Mobile build;
- ``stage``: the exporter's "quantize" stage.
"""

from __future__ import annotations

from tinysam_export.quantize.calibration import builtin_images, load_calibration_images
from tinysam_export.quantize.onnx_int8 import (
    STATIC,
    WEIGHT_ONLY,
    Int8Artifact,
    Int8Recipe,
    quantize_onnx_int8,
)
from tinysam_export.quantize.ort_mobile import write_ort_models

__all__ = [
    "STATIC",
    "WEIGHT_ONLY",
    "Int8Artifact",
    "Int8Recipe",
    "builtin_images",
    "load_calibration_images",
    "quantize_onnx_int8",
    "write_ort_models",
]
