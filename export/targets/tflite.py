"""TFLite target: ``litert-torch`` conversion (no TensorFlow), int8 weights via ``ai-edge-quantizer``.

``litert-torch`` 0.10 exports static shapes only, so the decoder file holds one signature per
supported ``(num_prompts, num_points)`` pair (:data:`DECODER_SIGNATURES`, weights shared between
signatures); the runtime (:class:`tinysam_mobile.backends.tflite.TfliteSession`) picks the
signature matching the point count and splits a batch of prompts into the largest batch
signatures available (prompts are decoded independently, so the split is exact). The encoder has
one signature, ``serving_default``.

Every signature's inputs and outputs carry the graph spec's names (``image_embeddings``,
``point_coords``, ..., ``low_res_masks``, ``iou_predictions``): the graph is wrapped so that it
takes keyword inputs and returns a dict (:class:`_NamedIO`), which ``litert-torch`` turns into
signature names.

INT8 is :data:`INT8_RECIPE`: int8 weights with per-channel scales and ``DEQUANTIZE`` ops, float32
computation (``ai_edge_quantizer``'s ``weight_only_wi8_afp32``). Measured on
the reference checkpoint at 1024 (docs/TARGETS.md), dynamic-range int8 (int8 weights, int8
activations quantised on the fly) sits at the edge of the mask-IoU gate (mean 0.9800 / 0.9806
in two runs against the 0.98 limit), weight-only passes with a margin (0.9855); full-integer
quantisation would quantise the point coordinates and wrecks the decoder.

Every file is written compacted (:mod:`tinysam_export.targets.tflite_compact`): the decoder's
signatures repeat each weight's quantisation tables, which are stored once.
"""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinysam_export.config import Precision
from tinysam_export.errors import ExportError
from tinysam_export.graphs import example_inputs
from tinysam_export.quiet import quiet_output
from tinysam_export.targets import ConvertOptions, artifact_name
from tinysam_export.targets.tflite_compact import write_compact
from tinysam_mobile.errors import MissingDependencyError
from tinysam_mobile.spec import GraphName, GraphSpec

SUFFIX = ".tflite"

ENCODER_SIGNATURE = "serving_default"
"""Name of the encoder's only signature."""

DECODER_SIGNATURES: tuple[tuple[int, int], ...] = (
    (1, 2),  # one point (+ padding point) or a box
    (1, 3),  # two points + padding, or box + point
    (1, 4),
    (1, 5),
    (1, 6),
    (16, 2),  # everything mode: 16 single-point prompts per call
)
"""``(num_prompts, num_points)`` of the decoder signatures (each costs about as much conversion
time as the whole encoder)."""

INT8_RECIPE = "weight_only_wi8_afp32"
"""``ai_edge_quantizer.recipe`` function used for ``int8``."""

_EXTRA = "pip install 'tinysam-mobile[tflite-export]'"


def signature_name(num_prompts: int, num_points: int) -> str:
    """Name of the decoder signature for a shape, e.g. ``p16_n2``."""
    return f"p{num_prompts}_n{num_points}"


class _NamedIO(nn.Module):
    """``graph`` with keyword inputs and a dict of outputs, both named by ``spec``.

    ``litert-torch`` names signature inputs after the keyword arguments and outputs after the
    keys of a returned dict (positional ones become ``args_<i>`` / ``output_<i>``).
    """

    def __init__(self, graph: nn.Module, spec: GraphSpec) -> None:
        super().__init__()
        self.wrapped = graph  # not ``graph``: torch.fx.GraphModule reserves that attribute
        self.input_names = spec.input_names
        self.output_names = spec.output_names

    def forward(self, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the graph on the named inputs; return the named outputs."""
        out = self.wrapped(*(inputs[name] for name in self.input_names))
        out = out if isinstance(out, tuple) else (out,)
        return dict(zip(self.output_names, out, strict=True))


def _litert() -> Any:
    try:
        with quiet_output():  # torchao reports optional kernels it cannot load
            import litert_torch
    except ImportError:
        raise MissingDependencyError(f"the TFLite target needs litert-torch: {_EXTRA}") from None
    return litert_torch


def quantize_int8(src: Path, dst: Path) -> None:
    """Write ``dst``: the float ``.tflite`` file ``src`` with :data:`INT8_RECIPE` weights.

    Raises
    ------
    MissingDependencyError
        ``ai-edge-quantizer`` is not installed.
    """
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        raise MissingDependencyError(f"TFLite int8 needs ai-edge-quantizer: {_EXTRA}") from None
    with tempfile.TemporaryDirectory(prefix="tinysam-tflite-q-") as tmp:
        # the quantizer finds ops by their tensors' names: give a stripped file names again
        named = _rename_tensors(src, Path(tmp) / src.name, lambda i, j: f"t{i}_{j}")
        qt = quantizer.Quantizer(str(named))
        qt.load_quantization_recipe(getattr(recipe, INT8_RECIPE)())
        with quiet_output():  # progress bars and a size report on stdout / stderr
            qt.quantize().export_model(str(dst), overwrite=True)
    strip_tensor_names(dst)


def _signatures(spec: GraphSpec) -> list[tuple[str, int, int]]:
    """(signature name, num_prompts, num_points) of every signature of the graph's file."""
    if spec.name is GraphName.ENCODER:
        return [(ENCODER_SIGNATURE, 1, 1)]
    return [(signature_name(b, n), b, n) for b, n in DECODER_SIGNATURES]


def _convert_float(graph: nn.Module, spec: GraphSpec, out: Path) -> None:
    """Convert ``graph`` with every signature of :func:`_signatures` to float32 ``out``."""
    litert_torch = _litert()
    named = _NamedIO(graph.eval(), spec).eval()
    converter = None
    with torch.no_grad():
        for name, b, n in _signatures(spec):
            ex = example_inputs(spec, num_prompts=b, num_points=n)
            converter = (litert_torch if converter is None else converter).signature(
                name, named, sample_kwargs=ex
            )
        try:
            with quiet_output():
                model = converter.convert()
        except Exception as exc:
            raise ExportError(
                f"litert-torch failed to convert the {spec.name} graph: {exc}"
            ) from exc
    with quiet_output():
        model.export(str(out))
    strip_tensor_names(out)


def strip_tensor_names(path: Path) -> None:
    """Rewrite the ``.tflite`` file at ``path`` without tensor names and compacted (in place).

    Tensor names are debugging strings (the converter spells out every module path, about 1 MB
    in the six-signature decoder); no interpreter needs them. Signature inputs and outputs keep
    their names: a signature maps its own names to tensor indices. The file is written with
    :func:`tinysam_export.targets.tflite_compact.write_compact`: tables and vectors repeated
    across signatures (per-channel quantisation parameters above all) are stored once.
    """
    tmp = path.with_name(path.name + ".tmp")
    _rename_tensors(path, tmp, lambda i, j: None, compact=True).replace(path)


def _rename_tensors(src: Path, dst: Path, name: Any, *, compact: bool = False) -> Path:
    """Write ``src`` to ``dst`` with tensor ``j`` of subgraph ``i`` named ``name(i, j)``."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    for i, subgraph in enumerate(model.subgraphs):
        for j, tensor in enumerate(subgraph.tensors):
            tensor.name = name(i, j)
    if compact:
        write_compact(model, dst)
    else:
        flatbuffer_utils.write_model(model, str(dst))
    return dst


def convert(graph: nn.Module, spec: GraphSpec, out_dir: Path, opts: ConvertOptions) -> Path:
    """Convert one graph to ``out_dir / <graph>.<precision>.tflite``.

    ``int8`` is a pass over the float file: the one converted just before in the same folder
    (same graph, same run) when it exists, else a float conversion in a scratch folder.

    Raises
    ------
    ExportError
        Unsupported precision or a converter failure (naming the graph).
    MissingDependencyError
        ``litert-torch`` / ``ai-edge-quantizer`` are not installed.
    """
    if opts.precision not in (Precision.FP32, Precision.INT8):
        raise ExportError(f"the tflite target does not support {opts.precision.value}")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / artifact_name(spec.name, opts.precision, SUFFIX)
    if opts.precision is Precision.FP32:
        _convert_float(graph, spec, out)
        return out
    float_file = out_dir / artifact_name(spec.name, Precision.FP32, SUFFIX)
    if float_file.is_file():
        quantize_int8(float_file, out)
        return out
    with tempfile.TemporaryDirectory(prefix="tinysam-tflite-") as tmp:
        scratch = Path(tmp) / float_file.name
        _convert_float(graph, spec, scratch)
        quantize_int8(scratch, out)
    return out


def quantization_record(precision: Precision) -> dict[str, Any] | None:
    """The manifest's ``artifacts[].quantization`` of an artifact of this precision."""
    if Precision(precision) is not Precision.INT8:
        return None
    return {
        "recipe": INT8_RECIPE,
        "tool": "ai-edge-quantizer",
        "weights": "int8, symmetric, per output channel (DEQUANTIZE ops)",
        "activations": "float32",
    }


def tool_versions() -> dict[str, str]:
    """Versions of the converter packages."""
    out = {}
    for pkg in ("litert-torch", "ai-edge-quantizer", "ai-edge-litert"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out
