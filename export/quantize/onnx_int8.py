"""ONNX INT8: static QDQ quantisation with per-channel weights, and ORT Mobile (``.ort``) files.

Recipe per graph (measured on the ``vit_t`` graphs; the figures are re-measured by the parity gate
at every export and written into the manifest):

- **encoder**: static QDQ of every op. ONNX Runtime fuses the QDQ groups into integer kernels
  (QLinearConv / QLinearMatMul / MatMulInteger paths), which is both the smallest file and the
  fastest graph. Dynamic quantisation is not used: it turns Conv into ``ConvInteger``, a slow path.
- **decoder**: static QDQ restricted to ``MatMul``, ``Gemm``, ``Conv`` and ``ConvTranspose``. The
  decoder's other ops (softmax, layer norm, the GELU, the upscaling adds, the positional-encoding
  sin/cos of the point coordinates) are precision-sensitive: quantising every op brings the mask
  logits' cosine down to ~0.89 and wrecks the masks; the weight-carrying ops hold nearly all of
  its bytes anyway.

Both are calibrated with MinMax ranges: ONNX Runtime adds ReduceMin / ReduceMax outputs to the
graph, so each feed leaves two scalars per tensor and calibration memory does not grow with the
number of images (histogram methods keep every intermediate tensor; that peaked at 10 GB on the
encoder). ``CalibMaxIntermediateOutputs`` is deliberately not used: in onnxruntime 1.31 it drops
the collected ranges instead of merging them ("No data is collected"). The decoder is calibrated on the
float encoder's embeddings of the calibration images with realistic prompts
(:mod:`tinysam_export.quantize.calibration`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tinysam_export.errors import ExportError
from tinysam_export.quantize.calibration import DecoderFeeds, EncoderFeeds

from tinysam_mobile.spec import GraphName, ModelGeometry, decoder_spec, encoder_spec

DECODER_OP_TYPES: tuple[str, ...] = ("MatMul", "Gemm", "Conv", "ConvTranspose")
"""Decoder ops that are quantised (see the module docstring)."""

REQUIRED_OPS_CONFIG = "required_operators.config"
"""Operator list of a reduced ORT Mobile build (``build.py --include_ops_by_config``)."""


@dataclass(frozen=True)
class Int8Recipe:
    """How one graph is quantised; written to the manifest (``artifact.quantization``)."""

    graph: GraphName
    op_types: tuple[str, ...] | None
    reason: str
    per_channel: bool = True
    activation_type: str = "QUInt8"
    weight_type: str = "QInt8"
    calibrate_method: str = "MinMax"
    quant_format: str = "QDQ"

    def to_json(self, calibration_source: str, feeds: int) -> dict[str, Any]:
        """Manifest form, with where the calibration data came from."""
        return {
            "method": "static",
            "format": self.quant_format,
            "op_types": list(self.op_types) if self.op_types else "all",
            "per_channel": self.per_channel,
            "activation_type": self.activation_type,
            "weight_type": self.weight_type,
            "calibration": {
                "method": self.calibrate_method,
                "source": calibration_source,
                "feeds": feeds,
            },
            "tool": f"onnxruntime.quantization {ort.__version__}",
            "reason": self.reason,
        }


RECIPES: dict[GraphName, Int8Recipe] = {
    GraphName.ENCODER: Int8Recipe(
        GraphName.ENCODER,
        None,
        "static QDQ of every op runs as integer kernels: smallest and fastest encoder",
    ),
    GraphName.DECODER: Int8Recipe(
        GraphName.DECODER,
        DECODER_OP_TYPES,
        "only the weight-carrying ops: quantising every decoder op wrecks the masks",
    ),
}
"""The recipe of each graph."""


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


def _session(path: Path, threads: int | None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def quantize_graph(
    fp32_path: Path, out_path: Path, reader: Any, recipe: Int8Recipe, source: str
) -> Int8Artifact:
    """Quantise one float ONNX graph with ``recipe``, calibrated on ``reader``'s feeds.

    Raises
    ------
    ExportError
        When ONNX Runtime's quantiser fails (the message names the graph).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    counting = _Counting(reader)
    try:
        quantize_static(
            str(fp32_path),
            str(out_path),
            counting,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(recipe.op_types) if recipe.op_types else None,
            per_channel=recipe.per_channel,
            activation_type=QuantType[recipe.activation_type],
            weight_type=QuantType[recipe.weight_type],
            calibrate_method=CalibrationMethod[recipe.calibrate_method],
        )
    except Exception as exc:  # onnxruntime raises bare Exceptions / RuntimeErrors
        raise ExportError(
            f"INT8 quantisation of the {recipe.graph.value} graph failed: {exc}"
        ) from exc
    if counting.count == 0:
        raise ExportError(f"INT8 calibration of the {recipe.graph.value} graph saw no feed")
    return Int8Artifact(recipe.graph, Path(out_path), recipe.to_json(source, counting.count))


def quantize_onnx_int8(
    encoder_fp32: Path,
    decoder_fp32: Path,
    out_dir: Path,
    geometry: ModelGeometry,
    images: Sequence[np.ndarray],
    source: str,
    threads: int | None = None,
    names: tuple[str, str] = ("encoder.int8.onnx", "decoder.int8.onnx"),
) -> dict[GraphName, Int8Artifact]:
    """Quantise both graphs of a bundle.

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
        Description of where the images came from (manifest).
    threads
        ONNX Runtime threads of the float sessions that make the decoder's calibration data.

    Returns
    -------
    dict
        :class:`Int8Artifact` per graph.
    """
    if not images:
        raise ExportError("INT8 calibration needs at least one image")
    out_dir.mkdir(parents=True, exist_ok=True)
    enc_spec, dec_spec = encoder_spec(geometry), decoder_spec(geometry)
    enc_name = enc_spec.input_names[0]
    enc = quantize_graph(
        encoder_fp32,
        out_dir / names[0],
        EncoderFeeds(images, geometry, enc_name),
        RECIPES[GraphName.ENCODER],
        source,
    )
    enc_sess = _session(encoder_fp32, threads)
    from tinysam_mobile.transforms import preprocess

    embeddings = [
        enc_sess.run(None, {enc_name: preprocess(img, geometry.image_size)})[0] for img in images
    ]
    del enc_sess
    dec_sess = _session(decoder_fp32, threads)

    def refine(feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        low, iou = dec_sess.run(dec_spec.output_names, feed)
        return low, iou

    reader = DecoderFeeds(
        embeddings,
        [img.shape[:2] for img in images],
        geometry,
        dec_spec.input_names,
        refine=refine,
    )
    dec = quantize_graph(
        decoder_fp32, out_dir / names[1], reader, RECIPES[GraphName.DECODER], source
    )
    return {GraphName.ENCODER: enc, GraphName.DECODER: dec}


def write_ort_models(onnx_paths: Sequence[Path], out_dir: Path) -> tuple[list[Path], Path]:
    """Convert ONNX graphs to ORT format for ONNX Runtime Mobile, plus the operator list.

    Uses ``onnxruntime.tools.convert_onnx_models_to_ort`` with the fixed optimisation style for
    ARM targets (``session.qdqisint8allowed``), so the ``.ort`` files run on a phone's CPU EP
    without further graph rewriting.

    Returns
    -------
    (ort_paths, config_path)
        ``out_dir / <stem>.ort`` for each input, in order, and ``out_dir / required_operators.config``
        (the operators and opsets of all of them: the input of a reduced ORT Mobile build).
    """
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinysam-ort-") as tmp:
        src = Path(tmp) / "src"
        dst = Path(tmp) / "dst"
        src.mkdir()
        for p in onnx_paths:
            shutil.copy2(p, src / Path(p).name)
        try:
            convert_onnx_models_to_ort(
                src,
                output_dir=dst,
                optimization_styles=[OptimizationStyle.Fixed],
                target_platform="arm",
            )
        except Exception as exc:
            raise ExportError(f"conversion to ORT format failed: {exc}") from exc
        ort_paths = []
        for p in onnx_paths:
            produced = dst / (Path(p).stem + ".ort")
            if not produced.is_file():
                raise ExportError(f"ORT conversion wrote no {produced.name} for {Path(p).name}")
            target = out_dir / produced.name
            shutil.move(produced, target)
            ort_paths.append(target)
        configs = list(dst.glob("required_operators*.config"))
        if not configs:
            raise ExportError("ORT conversion wrote no required_operators.config")
        config = out_dir / REQUIRED_OPS_CONFIG
        shutil.move(configs[0], config)
    return ort_paths, config
