"""Pipeline stage "quantize": INT8 artifacts (ONNX, CoreML), plus ORT Mobile files.

Runs after "convert". For a requested ``(onnx, int8)`` pair it quantises the float32 ONNX
graphs (converted into a scratch folder when fp32 itself was not requested, so the bundle holds
only what was asked for); for ``(coreml, int8)`` it gates each graph's int8 weights and converts
it with int8 (or, failing the gate, float16) weights (``tinysam_export.quantize.coreml_int8``).
Then it writes ``.ort`` files of every ONNX artifact of the bundle into ``onnx/ort/`` with
``required_operators.config`` (the operator list of a reduced ORT Mobile build).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from tinysam_export.config import ExportConfig, Precision, Target
from tinysam_export.quantize.calibration import load_calibration_images
from tinysam_export.quantize.coreml_int8 import quantize_coreml_int8
from tinysam_export.quantize.onnx_int8 import quantize_onnx_int8
from tinysam_export.quantize.ort_mobile import write_ort_models
from tinysam_export.targets import ConvertOptions, artifact_name, load_target
from tinysam_export.verify import shared_images, synthetic_images
from tinysam_mobile.spec import GraphName, ModelGeometry

ORT_DIR = "onnx/ort"
"""Bundle folder of the ORT-format files."""


@dataclass(frozen=True)
class QuantizeResult:
    """Artifacts added by the stage (bundle-relative), their recipes, and extra files."""

    artifacts: dict[tuple[Target, Precision, GraphName], str] = field(default_factory=dict)
    quantization: dict[tuple[Target, Precision, GraphName], dict[str, Any]] = field(
        default_factory=dict
    )
    ort_files: list[str] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the progress output."""
        files = sorted(self.artifacts.values()) + self.ort_files
        return ", ".join(files) if files else "nothing to quantise"


INT8_TARGETS = (Target.ONNX, Target.COREML)
"""Targets whose int8 artifacts this stage makes."""


def int8_pairs(config: ExportConfig) -> list[tuple[Target, Precision]]:
    """The requested pairs this stage produces (the convert stage skips them)."""
    return [(t, p) for t, p in config.combinations if t in INT8_TARGETS and p is Precision.INT8]


def stage_quantize(
    config: ExportConfig,
    geometry: ModelGeometry,
    graphs: dict[GraphName, nn.Module],
    converted: dict[tuple[Target, Precision, GraphName], str],
    bundle: Path,
) -> QuantizeResult:
    """Make the requested INT8 artifacts (ONNX, CoreML) and write the ORT Mobile files.

    Parameters
    ----------
    config
        The export configuration (``calibration_dir``, ``threads``, ``opset``).
    geometry
        Model geometry.
    graphs
        The export wrappers (CoreML int8 packages are converted from them; fp32 ONNX when it
        must be converted for calibration only).
    converted
        Artifacts of the convert stage, bundle-relative.
    bundle
        The bundle folder being written.
    """
    import onnxruntime

    result = QuantizeResult(tools={"onnxruntime.quantization": onnxruntime.__version__})
    # the gate checks of the int8 choices use the verify stage's images
    check_images = (
        synthetic_images() + shared_images(config.max_verify_images) if int8_pairs(config) else []
    )
    if (Target.COREML, Precision.INT8) in int8_pairs(config):
        from tinysam_export.targets import coreml

        made = quantize_coreml_int8(graphs, bundle / Target.COREML.value, geometry, check_images)
        for g, art in made.items():
            key = (Target.COREML, Precision.INT8, g)
            result.artifacts[key] = art.path.relative_to(bundle).as_posix()
            result.quantization[key] = art.quantization
        result.tools.update(coreml.tool_versions())
    with tempfile.TemporaryDirectory(prefix="tinysam-fp32-") as scratch:
        if (Target.ONNX, Precision.INT8) in int8_pairs(config):
            fp32 = {}
            for g in (GraphName.ENCODER, GraphName.DECODER):
                rel = converted.get((Target.ONNX, Precision.FP32, g))
                if rel is not None:
                    fp32[g] = bundle / rel
                else:
                    opts = ConvertOptions(Precision.FP32, config.opset, config.threads)
                    fp32[g] = load_target(Target.ONNX).convert(
                        graphs[g], graphs[g].spec, Path(scratch), opts
                    )
            images, source = load_calibration_images(config.calibration_dir)
            out_dir = bundle / Target.ONNX.value
            names = (
                artifact_name(GraphName.ENCODER, Precision.INT8, ".onnx"),
                artifact_name(GraphName.DECODER, Precision.INT8, ".onnx"),
            )
            made = quantize_onnx_int8(
                fp32[GraphName.ENCODER],
                fp32[GraphName.DECODER],
                out_dir,
                geometry,
                images,
                source,
                config.threads,
                names,
                check_images=check_images,
            )
            for g, art in made.items():
                key = (Target.ONNX, Precision.INT8, g)
                result.artifacts[key] = art.path.relative_to(bundle).as_posix()
                result.quantization[key] = art.quantization
    onnx_files = [
        bundle / rel
        for (t, _, _), rel in {**converted, **result.artifacts}.items()
        if t is Target.ONNX
    ]
    if onnx_files:
        ort_paths, config_path = write_ort_models(onnx_files, bundle / ORT_DIR)
        result.ort_files.extend(p.relative_to(bundle).as_posix() for p in [*ort_paths, config_path])
    return result
