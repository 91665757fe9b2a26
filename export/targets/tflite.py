"""TFLite target: ``litert-torch`` conversion (no TensorFlow), dynamic-range INT8 weights.

``litert-torch`` 0.10 exports static shapes only, so the decoder file holds one signature per
supported ``(num_prompts, num_points)`` pair (:data:`DECODER_SIGNATURES`, weights shared between
signatures); the runtime (:class:`tinysam_mobile.backends.tflite.TfliteSession`) picks the
signature matching the point count and splits a batch of prompts into the largest batch
signatures available (prompts are decoded independently, so the split is exact). The encoder has
one signature.

INT8 is dynamic-range (``ai_edge_quantizer`` recipe ``dynamic_wi8_afp32``: int8 weights with
per-channel scales, float activations). Full-integer quantisation would quantise the point
coordinates and wrecks the decoder.

Signature inputs are ``args_0..args_4`` in the order of the graph spec, outputs ``output_0..``;
the runtime maps them to the spec's names.
"""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from tinysam_export.config import Precision
from tinysam_export.errors import ExportError
from tinysam_export.graphs import example_inputs
from tinysam_export.targets import ConvertOptions, artifact_name
from tinysam_mobile.errors import MissingDependencyError
from tinysam_mobile.spec import GraphName, GraphSpec

SUFFIX = ".tflite"

DECODER_SIGNATURES: tuple[tuple[int, int], ...] = (
    (1, 2),  # one point (+ padding point) or a box
    (1, 3),  # two points + padding, or box + point
    (1, 4),
    (1, 5),
    (1, 6),
    (16, 2),  # everything mode: 16 single-point prompts per call
)
"""``(num_prompts, num_points)`` of the decoder signatures."""


def signature_name(num_prompts: int, num_points: int) -> str:
    """Name of the decoder signature for a shape, e.g. ``p16_n2``."""
    return f"p{num_prompts}_n{num_points}"


def _litert():
    try:
        import litert_torch
    except ImportError:
        raise MissingDependencyError(
            "the TFLite target needs litert-torch: pip install 'tinysam-mobile[tflite-export]'"
        ) from None
    return litert_torch


def _quantize_dynamic_range(src: Path, dst: Path) -> None:
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        raise MissingDependencyError(
            "TFLite INT8 needs ai-edge-quantizer: pip install 'tinysam-mobile[tflite-export]'"
        ) from None
    qt = quantizer.Quantizer(str(src))
    qt.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    qt.quantize().export_model(str(dst), overwrite=True)


def convert(graph: nn.Module, spec: GraphSpec, out_dir: Path, opts: ConvertOptions) -> Path:
    """Convert one graph to ``out_dir / <graph>.<precision>.tflite``.

    Raises
    ------
    ExportError
        Unsupported precision or a converter failure (naming the graph and signature).
    """
    if opts.precision not in (Precision.FP32, Precision.INT8):
        raise ExportError(f"the tflite target does not support {opts.precision.value}")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / artifact_name(spec.name, opts.precision, SUFFIX)
    float_file = out_dir / artifact_name(spec.name, Precision.FP32, SUFFIX)
    if opts.precision is Precision.INT8 and float_file.is_file():
        # INT8 is a pass over the float artifact converted just before (same graph, same run)
        _quantize_dynamic_range(float_file, out)
        return out
    litert_torch = _litert()
    graph = graph.eval()
    if spec.name is GraphName.ENCODER:
        shapes = [("serving_default", 1, 1)]
    else:
        shapes = [(signature_name(b, n), b, n) for b, n in DECODER_SIGNATURES]
    converter = None
    with torch.no_grad():
        for name, b, n in shapes:
            ex = example_inputs(spec, num_prompts=b, num_points=n)
            args = tuple(ex[k] for k in spec.input_names)
            converter = (
                litert_torch.signature(name, graph, args)
                if converter is None
                else converter.signature(name, graph, args)
            )
        try:
            model = converter.convert()
        except Exception as exc:
            raise ExportError(
                f"litert-torch failed to convert the {spec.name} graph: {exc}"
            ) from exc
    if opts.precision is Precision.FP32:
        model.export(str(out))
        return out
    with tempfile.TemporaryDirectory(prefix="tinysam-tflite-") as tmp:
        float_path = Path(tmp) / "float.tflite"
        model.export(str(float_path))
        _quantize_dynamic_range(float_path, out)
    return out


def tool_versions() -> dict[str, str]:
    """Versions of the converter packages."""
    out = {}
    for pkg in ("litert-torch", "ai-edge-quantizer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out
