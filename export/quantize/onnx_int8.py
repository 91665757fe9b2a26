"""ONNX INT8 with per-channel weights: static QDQ where it holds, weight-only where it does not.

Each graph is first quantised with its **static QDQ** recipe (activations and weights int8, so
ONNX Runtime runs QLinearConv / QLinearMatMul integer kernels: the fast path):

- encoder: QDQ around ``Conv``, ``MatMul`` and ``Gemm`` (the ops that carry the weights and
  the time); softmax, layer norms and GELUs stay float between them;
- decoder: QDQ around ``MatMul``, ``Gemm``, ``Conv`` and ``ConvTranspose``, calibrated on the
  float encoder's embeddings of the calibration images with realistic prompts (quantising
  *every* decoder op wrecks its masks: cosine 0.89).

The result is then checked right away with the parity gate of :mod:`tinysam_export.quantize.gate`
(mask IoU against the float graphs on the built-in verification images, the other graph kept
float). If it fails, the graph falls back to the **weight-only** recipe (int8 weights with
per-channel scales, float compute: the size of INT8, the numerics of float); the manifest records
the recipe used, the static attempt's figures and why it was rejected. Either way the large
precomputed float tables of the graphs (attention-bias tables, the dense positional encoding) are
stored as int8 too (:func:`~tinysam_export.quantize.weight_only.compress_constants`). Measured on the reference
checkpoint at 1024 (random weights, so mask logits sit within +-0.6 of the threshold and every
perturbation flips pixels): static encoder embedding cosine 0.9989 but mean mask IoU ~0.97;
static decoder mask IoU 0.84-0.94; weight-only decoder 0.98-0.99.

Calibration uses MinMax ranges: ONNX Runtime adds ReduceMin / ReduceMax outputs to the graph, so
each feed leaves two scalars per tensor and memory does not grow with the number of images
(histogram methods keep every intermediate tensor; that peaked at 10 GB on the encoder). The
augmented encoder session itself peaks at ~6 GB at image size 1024. ``CalibMaxIntermediateOutputs``
is deliberately not used: in onnxruntime 1.31 it drops the collected ranges instead of merging
them ("No data is collected").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from tinysam_export.errors import ExportError, VerificationError
from tinysam_export.quantize.calibration import DecoderFeeds, EncoderFeeds
from tinysam_export.quantize.onnx_names import shorten_names
from tinysam_export.quantize.ort_mobile import quiet_onnxruntime_tools
from tinysam_export.quantize.weight_only import compress_constants, quantize_weights_only
from tinysam_mobile.session import OrtSession
from tinysam_mobile.spec import GraphName, ModelGeometry, decoder_spec, encoder_spec
from tinysam_mobile.transforms import preprocess

ENCODER_OP_TYPES: tuple[str, ...] = ("Conv", "MatMul", "Gemm")
"""Encoder ops that are quantised."""

DECODER_OP_TYPES: tuple[str, ...] = ("MatMul", "Gemm", "Conv", "ConvTranspose")
"""Decoder ops that are quantised."""


@dataclass(frozen=True)
class Int8Recipe:
    """How one graph is quantised; written to the manifest (``artifact.quantization``)."""

    graph: GraphName
    method: str  # "static" (QDQ activations + weights) or "weight_only"
    op_types: tuple[str, ...]
    reason: str
    per_channel: bool = True
    activation_type: str = "QUInt8"
    weight_type: str = "QInt8"
    calibrate_method: str = "MinMax"
    float_compute: str | None = None
    """Static only: which ops keep float compute, by rule (a key of :data:`FLOAT_COMPUTE_RULES`)
    or ``None``. Weight ops among them still store int8 weights."""

    def to_json(self, calibration_source: str | None, feeds: int) -> dict[str, Any]:
        """Manifest form, with where the calibration data came from (static only)."""
        out: dict[str, Any] = {
            "method": self.method,
            "format": "QDQ",
            "op_types": list(self.op_types),
            "per_channel": self.per_channel,
            "weight_type": self.weight_type,
            "reason": self.reason,
        }
        if self.method == "static":
            out["activation_type"] = self.activation_type
            if self.float_compute:
                out["float_compute"] = {
                    "rule": self.float_compute,
                    "ops": FLOAT_COMPUTE_RULES[self.float_compute][1],
                    "weights": "int8 (weight-only, DequantizeLinear)",
                }
            out["calibration"] = {
                "method": self.calibrate_method,
                "source": calibration_source,
                "feeds": feeds,
            }
            out["tool"] = f"onnxruntime.quantization {ort.__version__}"
        else:
            out["activation_type"] = "float32"
            out["tool"] = "tinysam_export.quantize.weight_only"
        return out


STATIC: dict[GraphName, Int8Recipe] = {
    GraphName.ENCODER: Int8Recipe(
        GraphName.ENCODER,
        "static",
        ENCODER_OP_TYPES,
        "integer kernels for the Conv / Gemm layers; the stem conv, the neck (which writes the "
        "embedding) and the attention matmuls keep float compute",
        float_compute="stem_neck_attention",
    ),
    GraphName.DECODER: Int8Recipe(
        GraphName.DECODER,
        "static",
        DECODER_OP_TYPES,
        "integer kernels on the weight-carrying ops only (all ops: masks wrecked)",
    ),
}
"""First choice per graph."""

WEIGHT_ONLY: dict[GraphName, Int8Recipe] = {
    g: Int8Recipe(
        g,
        "weight_only",
        ENCODER_OP_TYPES if g is GraphName.ENCODER else DECODER_OP_TYPES,
        "static QDQ failed the mask-IoU gate; int8 weights, float compute",
    )
    for g in GraphName
}
"""Fallback per graph."""


@dataclass(frozen=True)
class Int8Artifact:
    """A quantised graph and the manifest record of how it was made."""

    graph: GraphName
    path: Path
    quantization: dict[str, Any]


class _Counting:
    """Wraps a calibration reader and counts the feeds it gave."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = self.reader.get_next()
        if feed is not None:
            self.count += 1
        return feed

    def rewind(self) -> None:
        self.reader.rewind()
        self.count = 0


def stem_and_neck_convs(model: Any) -> list[str]:
    """Names of the encoder's first ``Conv`` (the stem) and its last two (the neck).

    Measured on the reference checkpoint and the demo model: these three convs carry most of
    the static QDQ error into the embedding (quantising the neck's output convs writes the
    activation rounding straight into ``image_embeddings``); everything else stays integer.
    Nodes are in topological order, so first and last are the graph's ends.
    """
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    return convs[:1] + convs[-2:] if len(convs) >= 3 else convs


def activation_matmuls(model: Any) -> list[str]:
    """Names of the ``MatMul`` nodes with no constant input: attention's ``q @ k^T`` and
    ``attn @ v``. Static QDQ would quantise both operands per tensor to uint8, softmax
    probabilities included; they carry no weights, so keeping them float costs no size."""
    constants = {t.name for t in model.graph.initializer}
    constants |= {n.output[0] for n in model.graph.node if n.op_type == "Constant"}
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and not any(i in constants for i in n.input)
    ]


def _stem_neck_attention(model: Any) -> list[str]:
    return stem_and_neck_convs(model) + activation_matmuls(model)


FLOAT_COMPUTE_RULES: dict[str, tuple[Any, str]] = {
    "stem_neck_attention": (
        _stem_neck_attention,
        "the first Conv, the last two, and every MatMul without a constant input (attention)",
    ),
}
"""``Int8Recipe.float_compute`` rules: (nodes of a graph, description for the manifest).

Measured on the reference checkpoint at 1024 (mean mask IoU against float32 over the verify
stage's 27 cases, static encoder with the weight-only decoder): stem and neck float only
(the previous rule) 0.9781 with max-abs decoder scales and 0.9804 with
:func:`~tinysam_export.quantize.weight_only.int8_scales` (at the gate's 0.98),
``stem_neck_attention`` 0.9821."""


def quantize_static_graph(fp32_path: Path, out_path: Path, reader: Any, recipe: Int8Recipe) -> int:
    """Static QDQ of one float graph with ``recipe``; returns the number of calibration feeds.

    With ``recipe.float_compute``, the ops it names are left out of static QDQ and their weights
    are stored as int8 afterwards (weight-only), so the file stays INT8-sized.

    Raises
    ------
    ExportError
        When ONNX Runtime's quantiser fails (the message names the graph).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    excluded = []
    if recipe.float_compute:
        rule = FLOAT_COMPUTE_RULES[recipe.float_compute][0]
        excluded = rule(onnx.load(str(fp32_path), load_external_data=False))
    counting = _Counting(reader)
    try:
        with quiet_onnxruntime_tools():
            quantize_static(
                str(fp32_path),
                str(out_path),
                counting,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(recipe.op_types),
                per_channel=recipe.per_channel,
                activation_type=QuantType[recipe.activation_type],
                weight_type=QuantType[recipe.weight_type],
                calibrate_method=CalibrationMethod[recipe.calibrate_method],
                nodes_to_exclude=excluded,
            )
        if excluded:  # their float weights: int8 + DequantizeLinear (QDQ weights are skipped)
            quantize_weights_only(out_path, out_path, recipe.op_types)
    except Exception as exc:  # onnxruntime raises bare Exceptions / RuntimeErrors
        raise ExportError(
            f"INT8 quantisation of the {recipe.graph.value} graph failed: {exc}"
        ) from exc
    if counting.count == 0:
        raise ExportError(f"INT8 calibration of the {recipe.graph.value} graph saw no feed")
    return counting.count


def quantize_onnx_int8(
    encoder_fp32: Path,
    decoder_fp32: Path,
    out_dir: Path,
    geometry: ModelGeometry,
    images: Sequence[np.ndarray],
    source: str,
    threads: int | None = None,
    names: tuple[str, str] = ("encoder.int8.onnx", "decoder.int8.onnx"),
    check_images: Sequence[tuple[str, np.ndarray]] | None = None,
) -> dict[GraphName, Int8Artifact]:
    """Quantise both graphs of a bundle (static first, weight-only when the gate rejects it).

    Each graph's static recipe is checked with the other graph float; then the two int8 graphs
    are checked together, as the verify stage will gate them: while the pair fails, the static
    graph with the lower mean mask IoU falls back to weight-only (a graph can pass alone and
    still push the pair below the limit).

    Parameters
    ----------
    encoder_fp32, decoder_fp32
        The float ONNX graphs (spec of :mod:`tinysam_mobile.spec`).
    out_dir
        Where ``names`` are written.
    geometry
        Model geometry of the graphs.
    images
        uint8 (H, W, 3) RGB calibration images.
    source
        Where the images came from (manifest).
    threads
        ONNX Runtime threads of the float sessions (decoder calibration data, the check).
    check_images
        (name, uint8 RGB) images of the gate checks; default the built-in synthetic images.
        The pipeline passes the verify stage's images.

    When the pair fails even with both graphs weight-only, both records say so
    (``pair_check.passed: false``) and the verify stage, the gate, rejects the export (unless
    ``--no-verify``).
    """
    from tinysam_export.quantize.gate import settle_pair, verify_low_precision
    from tinysam_export.verify import synthetic_images

    if not images:
        raise ExportError("INT8 calibration needs at least one image")
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = {GraphName.ENCODER: encoder_spec(geometry), GraphName.DECODER: decoder_spec(geometry)}
    fp32 = {GraphName.ENCODER: encoder_fp32, GraphName.DECODER: decoder_fp32}
    float_sessions = {g: OrtSession(fp32[g], specs[g], threads) for g in fp32}
    enc_in = specs[GraphName.ENCODER].input_names[0]
    enc_out = specs[GraphName.ENCODER].output_names[0]

    def readers(g: GraphName) -> Any:
        if g is GraphName.ENCODER:
            return EncoderFeeds(images, geometry, enc_in)
        embeddings = [
            float_sessions[GraphName.ENCODER].run({enc_in: preprocess(img, geometry.image_size)})[
                enc_out
            ]
            for img in images
        ]
        dec = float_sessions[GraphName.DECODER]

        def refine(feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            out = dec.run(feed)
            return tuple(out[n] for n in specs[GraphName.DECODER].output_names)

        hws = [img.shape[:2] for img in images]
        return DecoderFeeds(embeddings, hws, geometry, specs[g].input_names, refine=refine)

    images_checked = list(check_images) if check_images is not None else synthetic_images()
    pair = (GraphName.ENCODER, GraphName.DECODER)
    reference = tuple(float_sessions[k] for k in pair)

    def check(candidate: dict[GraphName, Any], label: str) -> dict[str, Any]:
        figures = verify_low_precision(
            reference, tuple(candidate[k] for k in pair), geometry, images_checked, label
        )
        return figures["decoder"]["masks"]

    def weight_only(g: GraphName, path: Path, rejected: dict[str, Any], why: str) -> None:
        quantize_weights_only(fp32[g], path, WEIGHT_ONLY[g].op_types)
        record = WEIGHT_ONLY[g].to_json(None, 0)
        record["int8_constants"] = compress_constants(path)
        record["rejected"] = {"recipe": rejected, "why": why}
        out[g] = Int8Artifact(g, path, record)

    out: dict[GraphName, Int8Artifact] = {}
    static_recipes: dict[GraphName, dict[str, Any]] = {}
    for g, name in zip(pair, names, strict=True):
        path = out_dir / name
        feeds = quantize_static_graph(fp32[g], path, readers(g), STATIC[g])
        record = STATIC[g].to_json(source, feeds)
        record["int8_constants"] = compress_constants(path)
        static_recipes[g] = STATIC[g].to_json(source, feeds)
        try:
            candidate = {**float_sessions, g: OrtSession(path, specs[g], threads)}
            record["check"] = check(candidate, f"onnx/int8 (static {g.value} only)")
            out[g] = Int8Artifact(g, path, record)
        except VerificationError as exc:
            weight_only(g, path, static_recipes[g], str(exc))

    # the verify stage gates both int8 graphs together
    settle_pair(
        pair,
        record=lambda g: out[g].quantization,
        first_choice=lambda g: out[g].quantization["method"] == "static",
        check_pair=lambda: check(
            {g: OrtSession(out[g].path, specs[g], threads) for g in pair},
            "onnx/int8 (both graphs)",
        ),
        fall_back=lambda g, why: weight_only(g, out[g].path, static_recipes[g], why),
    )
    for g in pair:  # the recipes are settled: only now may node names change
        out[g].quantization["short_names"] = True
        shorten_names(out[g].path)
    return out
