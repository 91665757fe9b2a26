"""CoreML INT8: int8 per-channel weights per graph where the gate holds, float16 where not.

An int8 CoreML package is the float16 ML program with int8 weights
(``coremltools.optimize.coreml.linear_quantize_weights``: symmetric, one scale per output
channel, every constant of more than 2048 elements except the decoder's positional-encoding
table; :func:`tinysam_export.targets.coreml.convert`). CoreML dequantises them when it loads
the model and computes in float16.

Before the graphs are converted, each graph's int8 weights are checked with the mask-IoU gate
(:mod:`tinysam_export.quantize.gate`) against the float32 PyTorch graphs, the other graph kept
float32, then both together, exactly as the ONNX pass checks its static recipes. CoreML cannot run on Linux, so the
candidate is the PyTorch wrapper with the CoreML patches and the package's weights simulated
(:func:`tinysam_export.targets.coreml_verify.simulated_graph`: weights rounded to int8 per output
channel and float16, float32 compute); the record says so (``coreml_numerics_executed``). A
graph that fails keeps **float16 weights** (the package records ``tinysam.weights = fp16``) and
the manifest records the rejected int8 attempt with the gate's message. The verify stage then
checks both graphs together (on macOS by running the packages).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from torch import nn

from tinysam_export.config import Precision
from tinysam_export.errors import VerificationError
from tinysam_export.quantize.gate import settle_pair, verify_low_precision
from tinysam_export.quantize.onnx_int8 import Int8Artifact
from tinysam_export.reference import TorchSession
from tinysam_export.targets import ConvertOptions
from tinysam_export.verify import synthetic_images
from tinysam_mobile.spec import GraphName, ModelGeometry

ORDER = (GraphName.ENCODER, GraphName.DECODER)


def int8_recipe() -> dict[str, Any]:
    """Manifest record of the int8 weights of a CoreML graph."""
    from tinysam_export.targets.coreml import INT8_WEIGHT_THRESHOLD

    return {
        "method": "weight_only",
        "format": "CoreML constexpr_affine_dequantize",
        "weight_type": "int8",
        "mode": "linear_symmetric",
        "per_channel": True,
        "weight_threshold": INT8_WEIGHT_THRESHOLD,
        "kept_float16": ["decoder positional-encoding table (tinysam_export.patches)"],
        "activation_type": "float16",
        "tool": f"coremltools.optimize.coreml.linear_quantize_weights "
        f"{metadata.version('coremltools')}",
        "reason": "int8 weights (4x smaller than float32), float16 compute",
    }


def fp16_fallback(rejected: dict[str, Any], why: str) -> dict[str, Any]:
    """Manifest record of a graph kept at float16 weights after its int8 weights failed."""
    return {
        "method": "fp16_weights",
        "weight_type": "float16",
        "activation_type": "float16",
        "per_channel": False,
        "reason": "int8 weights failed the mask-IoU gate (simulated in PyTorch); float16 weights",
        "rejected": {"recipe": rejected, "why": why},
    }


def _check(
    graphs: dict[GraphName, nn.Module],
    weights: dict[GraphName, Precision | None],
    geometry: ModelGeometry,
    images: list,
    label: str,
) -> dict[str, Any]:
    """Gate figures of the graphs with simulated CoreML weights (``None``: float32 graph).

    Raises
    ------
    VerificationError
        Naming the case and the figure.
    """
    from tinysam_export.targets.coreml_verify import simulated_graph

    reference = tuple(TorchSession(graphs[g], graphs[g].spec) for g in ORDER)
    candidate = tuple(
        reference[i]
        if weights[g] is None
        else TorchSession(simulated_graph(graphs[g], weights[g]), graphs[g].spec)
        for i, g in enumerate(ORDER)
    )
    figures = verify_low_precision(reference, candidate, geometry, images, label)
    return {
        **figures["decoder"]["masks"],
        "image_embeddings_cosine": figures["encoder"]["image_embeddings"]["cosine"],
        "simulated_in_pytorch": True,
        "coreml_numerics_executed": False,
    }


def check_int8_graph(
    graphs: dict[GraphName, nn.Module],
    graph: GraphName,
    geometry: ModelGeometry,
    images: list,
) -> dict[str, Any]:
    """Gate figures of ``graph`` with simulated int8 CoreML weights, the other graph float32.

    Raises
    ------
    VerificationError
        Naming the graph, the case and the figure.
    """
    weights = {g: Precision.INT8 if g is graph else None for g in ORDER}
    label = f"coreml/int8 ({graph.value} int8 only, simulated in PyTorch)"
    return _check(graphs, weights, geometry, images, label)


def quantize_coreml_int8(
    graphs: dict[GraphName, nn.Module],
    out_dir: Path,
    geometry: ModelGeometry,
    images: list | None = None,
) -> dict[GraphName, Int8Artifact]:
    """Write ``encoder.int8.mlpackage`` and ``decoder.int8.mlpackage`` into ``out_dir``.

    Each graph is gated with simulated int8 weights (:func:`check_int8_graph`, the other graph
    float32); then both graphs are gated together, as the verify stage will: while the pair
    fails, the int8 graph with the lower mean mask IoU keeps float16 weights instead. Then both
    are converted.

    Parameters
    ----------
    graphs
        The export wrappers (``tinysam_export.graphs``), float32.
    out_dir
        The bundle's ``coreml`` folder.
    geometry
        Model geometry.
    images
        (name, uint8 RGB) images of the checks; default the built-in synthetic images (the
        pipeline passes the verify stage's images).

    Returns
    -------
    dict
        Per graph the package and its ``quantization`` record.
    """
    from tinysam_export.targets import coreml

    images = synthetic_images() if images is None else list(images)
    records: dict[GraphName, dict[str, Any]] = {}
    weights: dict[GraphName, Precision] = {}

    def fall_back(g: GraphName, why: str) -> None:
        weights[g] = Precision.FP16
        records[g] = fp16_fallback(records[g], why)

    for g in ORDER:
        records[g] = int8_recipe()
        weights[g] = Precision.INT8
        try:
            records[g]["check"] = check_int8_graph(graphs, g, geometry, images)
        except VerificationError as exc:
            fall_back(g, str(exc))
    settle_pair(
        ORDER,
        record=lambda g: records[g],
        first_choice=lambda g: weights[g] is Precision.INT8,
        check_pair=lambda: _check(
            graphs,
            dict(weights),
            geometry,
            images,
            "coreml/int8 (both graphs, simulated in PyTorch)",
        ),
        fall_back=fall_back,
    )
    out: dict[GraphName, Int8Artifact] = {}
    for g in ORDER:
        opts = ConvertOptions(precision=Precision.INT8)
        path = coreml.convert(graphs[g], graphs[g].spec, out_dir, opts, weights=weights[g])
        out[g] = Int8Artifact(g, path, records[g])
    return out
