"""Verification of CoreML packages where CoreML cannot execute them (Linux, Windows).

Used by the export pipeline's verify stage instead of the runtime gate when
``sys.platform != "darwin"``: the packages are checked structurally
(:func:`tinysam_export.targets.coreml.check_package`) and the mask-IoU gate runs on the PyTorch
wrappers with the package's weights simulated. Every record says
``coreml_numerics_executed: false``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tinysam_export.config import Precision
from tinysam_export.targets.coreml import (
    FP16_CHECK_KEY,
    check_package,
    fp16_rounded,
    package_metadata,
)
from tinysam_mobile.spec import GraphName

INT8_MIN_WEIGHT_SIZE = 2048
"""coremltools' default ``weight_threshold``: smaller weight tensors stay float."""


def simulated_weights(module: nn.Module, precision: Precision) -> nn.Module:
    """A copy of ``module`` with the weights the CoreML package holds, computed in float32.

    ``fp16``: every float parameter / buffer rounded to float16. ``int8``: in addition, every
    weight with >= :data:`INT8_MIN_WEIGHT_SIZE` elements and >= 2 dims is rounded like
    ``linear_quantize_weights`` (symmetric int8, one scale per output channel = dim 0).
    """
    out = fp16_rounded(module)
    if precision is not Precision.INT8:
        return out
    with torch.no_grad():
        for name, p in out.named_parameters():
            if name.endswith("weight") and p.dim() >= 2 and p.numel() >= INT8_MIN_WEIGHT_SIZE:
                amax = p.abs().amax(dim=tuple(range(1, p.dim())), keepdim=True)
                scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
                p.copy_((p / scale).round().clamp(-127, 127) * scale)
    return out


def offline_verify(
    reference: tuple[Any, Any],
    graphs: dict[GraphName, nn.Module],
    packages: dict[GraphName, Path],
    precision: Precision,
    geometry: Any,
    images: list[tuple[str, np.ndarray]],
    label: str,
) -> dict[str, Any]:
    """Verify CoreML packages without executing them (Linux / Windows).

    Checks each package with :func:`check_package`; for ``fp16`` / ``int8`` runs the mask-IoU
    gate (``tinysam_export.quantize.gate``) through the runtime ``Predictor`` on the same
    wrappers with the package's weights simulated in PyTorch (:func:`simulated_weights`). Every
    record states ``coreml_numerics_executed: false``.

    Returns
    -------
    dict
        ``{"cases": [...], "encoder": {...}, "decoder": {...}}`` like the gate's figures.

    Raises
    ------
    ExportError, VerificationError
        A package not matching its spec, or the simulated figures below the thresholds.
    """
    from tinysam_export.quantize.gate import verify_low_precision
    from tinysam_export.reference import TorchSession

    statement = {
        "coreml_numerics_executed": False,
        "reason": f"CoreML cannot execute models on {sys.platform}; only macOS runs them",
        "checked": [
            "input/output names and order, float32 dtypes, fixed dims, num_prompts/num_points "
            "ranges (package spec)",
            "int8 weight ops present for int8, absent otherwise",
            "metadata (description, author, license, version, every input/output documented)",
        ],
    }
    figures: dict[str, Any] = {"cases": []}
    if precision is not Precision.FP32:
        order = (GraphName.ENCODER, GraphName.DECODER)
        simulated = tuple(
            TorchSession(simulated_weights(graphs[g], precision), graphs[g].spec) for g in order
        )
        figures = verify_low_precision(reference, simulated, geometry, images, label)
        statement["checked"].append(
            f"mask-IoU gate on the PyTorch wrappers with the package's {precision.value} "
            "weights simulated (weights rounded to float16, int8 per-channel for int8)"
        )
    out: dict[str, Any] = {"cases": figures["cases"]}
    for g, path in packages.items():
        record = {**statement, "structure": check_package(path, graphs[g].spec, precision)}
        meta = package_metadata(path)
        if FP16_CHECK_KEY in meta:
            record["fp16_torch_check"] = json.loads(meta[FP16_CHECK_KEY])
        if str(g) in figures:
            record["simulated_in_pytorch"] = figures[str(g)]
        out[str(g)] = record
    return out
