"""Pipeline stage "verify": every artifact pair of the bundle against the PyTorch model.

Float32 artifacts must equal PyTorch within ``FP32_THRESHOLDS`` (``tinysam_export.verify``);
reduced-precision ones (int8, fp16) pass the mask-IoU gate (``tinysam_export.quantize.gate``).
Both run the exported graphs through the runtime ``Predictor`` (``open_session``: ONNX Runtime,
the TFLite interpreter, CoreML on macOS). CoreML cannot execute on other platforms: there the
packages are checked without running them (``tinysam_export.targets.coreml_verify``) and the
block says ``coreml_numerics_executed: false``.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from tinysam_export.config import ExportConfig, Precision, Target
from tinysam_export.quiet import quiet_output
from tinysam_export.reference import TorchSession
from tinysam_export.stages import ArtifactKey, ConvertResult, GraphsResult, LoadResult, VerifyResult
from tinysam_export.verify import FP32_THRESHOLDS, shared_images, synthetic_images, verify_graphs
from tinysam_mobile.manifest import Artifact
from tinysam_mobile.session import GraphSession, open_session
from tinysam_mobile.spec import GraphName

GRAPHS = (GraphName.ENCODER, GraphName.DECODER)

REFERENCE_DESCRIPTION = (
    "PyTorch eager (tinysam_export.reference.TorchSession) through tinysam_mobile.Predictor"
)


def _runs_here(target: Target) -> bool:
    """Whether this platform can execute ``target``'s artifacts (CoreML: macOS only)."""
    return target is not Target.COREML or sys.platform == "darwin"


def _open_pair(
    config: ExportConfig,
    graphs: GraphsResult,
    converted: ConvertResult,
    target: Target,
    precision: Precision,
    bundle: Path,
) -> tuple[GraphSession, GraphSession]:
    """Runtime sessions of the (encoder, decoder) artifacts of ``(target, precision)``."""
    sessions = []
    for g in GRAPHS:
        rel = converted.artifacts[(target, precision, g)]
        art = Artifact.from_file(bundle, rel, g, target.value, precision.value)
        sessions.append(open_session(bundle, art, config.threads, spec=graphs.graphs[g].spec))
    return sessions[0], sessions[1]


def stage_verify(
    config: ExportConfig,
    loaded: LoadResult,
    graphs: GraphsResult,
    converted: ConvertResult,
    bundle: Path,
) -> VerifyResult:
    """Parity of every artifact pair against PyTorch (raises ``VerificationError``).

    Parameters
    ----------
    config, loaded, graphs, converted
        Results of the earlier stages (``converted`` includes the quantize stage's artifacts).
    bundle
        The bundle folder being written.
    """
    images = synthetic_images() + shared_images(config.max_verify_images)
    reference = tuple(TorchSession(graphs.graphs[g], graphs.graphs[g].spec) for g in GRAPHS)
    parity: dict[ArtifactKey, dict[str, Any]] = {}
    thresholds: dict[str, Any] = {}
    cases: list[str] = []
    offline: list[str] = []  # CoreML artifacts checked without executing them
    for target, precision in config.combinations:
        label = f"{target.value}/{precision.value}"
        if not _runs_here(target):
            from tinysam_export.targets.coreml_verify import offline_verify

            packages = {g: bundle / converted.artifacts[(target, precision, g)] for g in GRAPHS}
            figures = offline_verify(
                reference, graphs.graphs, packages, precision, loaded.geometry, images, label
            )
            cases = figures.pop("cases") or cases
            thresholds[label] = {"coreml_numerics_executed": False}
            offline.append(label)
        else:
            sessions = _open_pair(config, graphs, converted, target, precision, bundle)
            # the TFLite interpreter announces its XNNPACK delegate on stderr (C++)
            quiet = quiet_output() if target is Target.TFLITE else nullcontext()
            with quiet:
                if precision is Precision.FP32:
                    limits: Any = FP32_THRESHOLDS
                    figures = verify_graphs(
                        reference, sessions, loaded.geometry, images, limits, label
                    )
                else:  # mask-IoU gate against float32
                    from tinysam_export.quantize.gate import LOW_PRECISION_THRESHOLDS as limits
                    from tinysam_export.quantize.gate import verify_low_precision

                    figures = verify_low_precision(
                        reference, sessions, loaded.geometry, images, label, limits
                    )
            cases = figures.pop("cases")
            thresholds[label] = limits.to_json()
        for g in GRAPHS:
            parity[(target, precision, g)] = figures[str(g)]
    verification: dict[str, Any] = {
        "executed": True,
        "reference": REFERENCE_DESCRIPTION,
        "images": [name for name, _ in images],
        "cases": cases,
        "thresholds": thresholds,
    }
    if offline:
        verification["coreml_numerics_executed"] = False
        verification["not_executed"] = offline
    return VerifyResult(verification, parity)


def verify_summary(result: VerifyResult) -> str:
    """One progress line: case count and the worst figure per artifact."""
    worst = []
    for (target, precision, graph), figures in result.parity.items():
        if figures.get("coreml_numerics_executed") is False:
            worst.append(f"{target.value}/{precision.value} {graph}: CoreML numerics NOT executed")
            continue
        label = f"{target.value}/{precision.value} {graph}"
        masks = figures.get("masks", {})
        if "mean_mask_iou" in masks:  # the mask-IoU gate's figures (decoder)
            worst.append(
                f"{label}: mask IoU min {masks['mask_iou']:.4f} mean {masks['mean_mask_iou']:.4f}"
            )
        elif any("relative_error" in v for v in figures.values() if isinstance(v, dict)):
            rel = max(v.get("relative_error", 0.0) for v in figures.values() if isinstance(v, dict))
            worst.append(f"{label}: max rel err {rel:.2e}")
        else:  # the gate's encoder figures
            cos = min(v.get("cosine", 1.0) for v in figures.values() if isinstance(v, dict))
            worst.append(f"{label}: cosine {cos:.5f}")
    return f"{len(result.verification['cases'])} cases; " + "; ".join(worst)
