"""Verification of CoreML packages where CoreML cannot execute them (Linux, Windows).

Used by the export pipeline's verify stage instead of the runtime gate when
``sys.platform != "darwin"``: the packages are checked structurally
(:func:`tinysam_export.targets.coreml_package.check_package`) and the mask-IoU gate runs on the PyTorch
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
from tinysam_export.patches import patch_for_coreml
from tinysam_export.targets.coreml import INT8_WEIGHT_THRESHOLD, fp16_rounded
from tinysam_export.targets.coreml_package import (
    FP16_CHECK_KEY,
    WEIGHTS_KEY,
    check_package,
    package_metadata,
    stored_weights,
)
from tinysam_mobile.spec import GraphName


def _output_axis(owner: nn.Module) -> int:
    """Output-channel axis of a weight owned by ``owner`` (``conv_transpose``: 1, else 0)."""
    return 1 if isinstance(owner, nn.ConvTranspose1d | nn.ConvTranspose2d) else 0


def int8_rounded_(weight: torch.Tensor, axis: int) -> None:
    """Round ``weight`` in place like ``linear_quantize_weights`` (symmetric int8, [-127, 127]).

    One scale ``max |w| / 127`` per slice along ``axis`` (``dim >= 2``), one for a vector.
    """
    if weight.dim() >= 2:
        dims = tuple(d for d in range(weight.dim()) if d != axis)
        amax = weight.abs().amax(dim=dims, keepdim=True)
    else:
        amax = weight.abs().amax()
    scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    weight.copy_((weight / scale).round().clamp(-127, 127) * scale)


def simulated_weights(module: nn.Module, weights: Precision) -> nn.Module:
    """A copy of ``module`` with the weights a CoreML package holds, computed in float32.

    ``fp16``: every float parameter / buffer rounded to float16. ``int8``: in addition, every
    parameter with more than :data:`~tinysam_export.targets.coreml.INT8_WEIGHT_THRESHOLD`
    elements is rounded like ``linear_quantize_weights`` (:func:`int8_rounded_`, one scale per
    output channel). Buffers (the decoder's positional-encoding table) stay float16, as the
    converter keeps them.
    """
    out = fp16_rounded(module)
    if weights is not Precision.INT8:
        return out
    with torch.no_grad():
        for owner in out.modules():
            for p in owner.parameters(recurse=False):
                if p.is_floating_point() and p.numel() > INT8_WEIGHT_THRESHOLD:
                    int8_rounded_(p, _output_axis(owner))
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
    wrappers with the CoreML patches and the weights each package stores (its metadata:
    int8, or float16 where the INT8 pass fell back) simulated in PyTorch
    (:func:`simulated_graph`). Every record states ``coreml_numerics_executed: false``.

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
            "int8 weight ops present exactly where the package stores int8 weights "
            f"(metadata {WEIGHTS_KEY})",
            "metadata (description, author, license, version, every input/output documented)",
        ],
    }
    weights = {
        g: stored_weights(package_metadata(path), precision, f"{g} CoreML package")
        for g, path in packages.items()
    }
    figures: dict[str, Any] = {"cases": []}
    if precision is not Precision.FP32:
        order = (GraphName.ENCODER, GraphName.DECODER)
        simulated = tuple(
            TorchSession(simulated_graph(graphs[g], weights[g]), graphs[g].spec) for g in order
        )
        figures = verify_low_precision(reference, simulated, geometry, images, label)
        statement["checked"].append(
            "mask-IoU gate on the PyTorch wrappers with the CoreML patches and the package's "
            f"weights simulated ({', '.join(f'{g}: {w.value}' for g, w in weights.items())}; "
            "rounded to float16, int8 per output channel where stored as int8; float32 compute)"
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


def simulated_graph(graph: nn.Module, weights: Precision) -> nn.Module:
    """``graph`` as the CoreML package computes it: the CoreML patches applied
    (:func:`tinysam_export.patches.patch_for_coreml`) and its weights simulated
    (:func:`simulated_weights`)."""
    return simulated_weights(patch_for_coreml(graph), weights).eval()
