"""INT8 passes over float artifacts (``onnx_int8``) and their calibration data (``calibration``).

INT8 is a separate pass: the float graphs are converted first, then quantised here with the
recipe of each graph recorded in the manifest.
"""

from __future__ import annotations

from tinysam_export.quantize.calibration import builtin_images, load_calibration_images
from tinysam_export.quantize.onnx_int8 import (
    RECIPES,
    Int8Artifact,
    Int8Recipe,
    quantize_onnx_int8,
    write_ort_models,
)

__all__ = [
    "RECIPES",
    "Int8Artifact",
    "Int8Recipe",
    "builtin_images",
    "load_calibration_images",
    "quantize_onnx_int8",
    "write_ort_models",
]
