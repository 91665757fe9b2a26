"""CoreML target: TorchScript trace -> ``coremltools.convert`` ML program (iOS 16 / macOS 13).

- Inputs and outputs carry the spec's names (``tinysam_mobile.spec``), which the iOS runtime
  (``ios_demo/.../CoreMLSession.swift``) feeds by name. The decoder's ``num_prompts`` (1..64)
  and ``num_points`` (1..16) are ``ct.RangeDim`` dimensions, so one model serves interactive
  prompts and everything-mode batches.
- The decoder is traced through :func:`tinysam_export.patches.patch_for_coreml`
  (``repeat_interleave -> expand``: coremltools cannot convert ``repeat_interleave``; the
  dense positional encoding from a float64-computed per-axis table, which float16 compute
  keeps 10x more accurate than float16 sines of large angles).
- ``fp32``: float32 compute. ``fp16``: float16 compute. ``int8``: the fp16 model with int8
  weights (``coremltools.optimize.coreml.linear_quantize_weights``, symmetric, per output
  channel, tensors of more than :data:`INT8_WEIGHT_THRESHOLD` elements); CoreML dequantises
  them on load (``constexpr_*`` ops). The INT8 pass (``tinysam_export.quantize.coreml_int8``)
  may keep one graph of an int8 artifact at float16 weights (``weights=FP16``) when its int8
  weights fail the gate; the package records the stored weights in :data:`WEIGHTS_KEY`.
- TinyViT is known to overflow in float16 on some stacks. Before an fp16 / int8 encoder is
  converted, :func:`fp16_encoder_check` runs the same wrapper in PyTorch with fp16-rounded
  weights and, where the CPU runs it, in torch float16; if the embedding does not hold
  (cosine < :data:`FP16_MIN_COSINE` or non-finite), the ops in :data:`FP32_KEEP_OPS` stay
  float32. The figures and the decision are stored in the package's user metadata
  (``tinysam.fp16_check``) and copied into the manifest's parity record.
- CoreML cannot predict on Linux: :func:`~tinysam_export.targets.coreml_package.check_package`
  verifies what can be verified without the runtime (names, shapes and ranges, dtypes, int8
  weight ops, metadata); ``tinysam_export.targets.coreml_verify`` adds the gate on
  PyTorch-simulated weights.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tinysam_export.config import Precision
from tinysam_export.errors import ExportError
from tinysam_export.graphs import example_inputs
from tinysam_export.patches import PATCHES, PE_AXIS_TABLE, coreml_int_of_shape, patch_for_coreml
from tinysam_export.quantize.weight_only import INT8_WEIGHT_THRESHOLD
from tinysam_export.quiet import quiet_output
from tinysam_export.targets import ConvertOptions, artifact_name
from tinysam_export.targets.coreml_package import (
    AUTHOR,
    DIM_RANGES,
    FP16_CHECK_KEY,
    INT8_WEIGHT_OPS,
    WEIGHTS_KEY,
    check_package,
    coremltools_module,
    package_metadata,
    stored_weights,
)
from tinysam_export.verify import cosine, relative_error, synthetic_images
from tinysam_mobile.spec import GraphName, GraphSpec
from tinysam_mobile.transforms import preprocess

SUFFIX = ".mlpackage"
"""An ML program is saved as a ``.mlpackage`` folder."""

FP16_MIN_COSINE = 0.999
"""Embedding cosine (fp16 vs fp32 PyTorch) below which fp32 ops are kept in the encoder."""

FP32_KEEP_OPS = frozenset({"softmax", "layer_norm", "reduce_mean", "reduce_sum", "pow", "sqrt"})
"""MIL ops kept in float32 when the fp16 encoder check fails (attention / norm statistics)."""

LICENSE = "Apache-2.0 (tinysam-mobile); model weights: see the checkpoint's license"


def tool_versions() -> dict[str, str]:
    """Versions of the converter packages."""
    return {"coremltools": metadata.version("coremltools"), "torch": torch.__version__}


def can_predict() -> bool:
    """Whether CoreML models can be executed here (macOS only)."""
    return sys.platform == "darwin"


# -- fp16 numerics in PyTorch ---------------------------------------------------------------


def fp16_rounded(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose float parameters and buffers are rounded to float16 and back."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for t in [*out.parameters(), *out.buffers()]:
            if t.is_floating_point():
                t.copy_(t.half().float())
    return out


def _half_forward(module: nn.Module, *args: torch.Tensor) -> Any:
    """Run ``module`` in torch float16; returns the outputs as float32, or an error string."""
    try:
        half = copy.deepcopy(module).half()
        with torch.no_grad():
            out = half(*(a.half() for a in args))
    except (RuntimeError, NotImplementedError) as exc:  # op without a CPU half kernel
        return f"torch float16 not runnable on this CPU: {str(exc).splitlines()[0]}"
    return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()


def encoder_inputs(image_size: int) -> list[tuple[str, torch.Tensor]]:
    """The built-in synthetic images preprocessed for the encoder, (1, 3, S, S) float32 each."""
    return [(n, torch.from_numpy(preprocess(im, image_size))) for n, im in synthetic_images()]


def fp16_encoder_check(encoder: nn.Module, image_size: int) -> dict[str, Any]:
    """Embedding error of the encoder with fp16-rounded weights and in torch float16.

    Returns a JSON-able dict: per mode the worst ``cosine`` and ``relative_error`` over the
    synthetic images (or the reason the mode could not run), and ``holds``.
    """
    rounded = fp16_rounded(encoder)
    figures: dict[str, Any] = {}
    for mode in ("fp16_rounded_weights", "torch_float16"):
        cos, rel, note = [], [], None
        for _, x in encoder_inputs(image_size):
            with torch.no_grad():
                ref = encoder(x).numpy()
                got = rounded(x) if mode == "fp16_rounded_weights" else _half_forward(encoder, x)
            if isinstance(got, str):
                note = got
                break
            cos.append(cosine(got.numpy(), ref))
            rel.append(relative_error(got.numpy(), ref))
        figures[mode] = (
            {"executed": False, "reason": note}
            if note
            else {"executed": True, "min_cosine": min(cos), "max_relative_error": max(rel)}
        )
    ok = [
        f["min_cosine"] >= FP16_MIN_COSINE and np.isfinite(f["max_relative_error"])
        for f in figures.values()
        if f["executed"]
    ]
    figures["holds"] = bool(ok) and all(ok)
    figures["min_cosine_required"] = FP16_MIN_COSINE
    return figures


# -- conversion -----------------------------------------------------------------------------


def _input_types(ct: Any, spec: GraphSpec) -> list[Any]:
    dims: dict[str, Any] = {}
    types = []
    for t in spec.inputs:
        shape = []
        for d in t.shape:
            if isinstance(d, str):
                if d not in dims:  # one RangeDim object per name ties the inputs' sizes
                    lo, hi, default = DIM_RANGES[d]
                    dims[d] = ct.RangeDim(lower_bound=lo, upper_bound=hi, default=default)
                d = dims[d]
            shape.append(d)
        types.append(ct.TensorType(name=t.name, shape=ct.Shape(shape), dtype=np.float32))
    return types


def _compute_precision(ct: Any, precision: Precision, keep_fp32: bool) -> Any:
    if precision is Precision.FP32:
        return ct.precision.FLOAT32
    if not keep_fp32:
        return ct.precision.FLOAT16
    return ct.transforms.FP16ComputePrecision(
        op_selector=lambda op: op.op_type not in FP32_KEEP_OPS
    )


def _describe(mlmodel: Any, spec: GraphSpec, precision: Precision, extra: dict[str, str]) -> None:
    from tinysam_export import __version__

    mlmodel.short_description = (
        f"TinySAM / MobileSAM {spec.name} ({precision.value}), exported by tinysam-export; "
        "see manifest.json for preprocessing and prompt encoding"
    )
    mlmodel.author = AUTHOR
    mlmodel.license = LICENSE
    mlmodel.version = __version__
    for t in spec.inputs:
        mlmodel.input_description[t.name] = f"{t.doc or t.name} (float32 {list(t.shape)})"
    for t in spec.outputs:
        mlmodel.output_description[t.name] = f"{t.doc or t.name} (float32 {list(t.shape)})"
    for k, v in {"tinysam.graph": str(spec.name), "tinysam.precision": precision.value}.items():
        mlmodel.user_defined_metadata[k] = v
    for k, v in extra.items():
        mlmodel.user_defined_metadata[k] = v


def convert(
    graph: nn.Module,
    spec: GraphSpec,
    out_dir: Path,
    opts: ConvertOptions,
    weights: Precision | None = None,
) -> Path:
    """Convert one graph to ``out_dir / <graph>.<precision>.mlpackage`` and return its path.

    Parameters
    ----------
    graph, spec, out_dir, opts
        As every target's ``convert``.
    weights
        Precision of the stored weights; ``None``: ``opts.precision``. Only an int8 artifact
        may differ: ``FP16`` keeps float16 weights (the INT8 pass's per-graph fallback).

    Raises
    ------
    ExportError
        A converter failure (naming the graph), a ``weights`` other than the precision for a
        non-int8 artifact, or a package not matching ``spec``.
    MissingDependencyError
        coremltools is not installed.
    """
    ct = coremltools_module()
    precision = Precision(opts.precision)
    weights = precision if weights is None else Precision(weights)
    if weights is not precision and not (precision is Precision.INT8 and weights is Precision.FP16):
        raise ExportError(
            f"{spec.name}: a {precision.value} CoreML package cannot hold {weights.value} weights"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / artifact_name(str(spec.name), precision, SUFFIX)
    graph = patch_for_coreml(graph.eval())
    extra: dict[str, str] = {}
    keep_fp32 = False
    if spec.name is GraphName.ENCODER and precision is not Precision.FP32:
        check = fp16_encoder_check(graph, int(spec.inputs[0].shape[-1]))
        keep_fp32 = not check["holds"]
        check["fp32_ops_kept"] = sorted(FP32_KEEP_OPS) if keep_fp32 else []
        extra[FP16_CHECK_KEY] = json.dumps(check)
    if spec.name is GraphName.DECODER:
        extra["tinysam.patches"] = json.dumps(sorted(PATCHES))
    extra[WEIGHTS_KEY] = weights.value
    ex = example_inputs(spec, num_prompts=2, num_points=3)
    args = tuple(ex[n] for n in spec.input_names)
    try:
        with (
            warnings.catch_warnings(),
            quiet_output(),
            torch.no_grad(),
            coreml_int_of_shape(),
        ):
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(graph, args, check_trace=False)
            mlmodel = ct.convert(
                traced,
                inputs=_input_types(ct, spec),
                outputs=[ct.TensorType(name=n, dtype=np.float32) for n in spec.output_names],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS16,
                compute_precision=_compute_precision(ct, precision, keep_fp32),
                skip_model_load=not can_predict(),
            )
            if weights is Precision.INT8:
                mlmodel = _quantize_int8(mlmodel)
    except Exception as exc:  # the converters raise many unrelated types
        raise ExportError(f"CoreML conversion of the {spec.name} graph failed: {exc}") from exc
    _describe(mlmodel, spec, precision, extra)
    if path.exists():
        shutil.rmtree(path)
    mlmodel.save(str(path))
    check_package(path, spec, precision)
    return path


def _quantize_int8(mlmodel: Any) -> Any:
    """Per-output-channel symmetric int8 weights for every large-enough weight tensor.

    The decoder's positional-encoding table (:data:`tinysam_export.patches.PE_AXIS_TABLE`, sines
    and cosines) stays float16: int8 would cost 4e-3 of encoding accuracy to save 32 KB.
    """
    from coremltools.optimize import coreml as cto

    names = cto.get_weights_metadata(mlmodel, weight_threshold=INT8_WEIGHT_THRESHOLD)
    config = cto.OptimizationConfig(
        global_config=cto.OpLinearQuantizerConfig(
            mode="linear_symmetric",
            dtype="int8",
            granularity="per_channel",
            weight_threshold=INT8_WEIGHT_THRESHOLD,
        ),
        op_name_configs={n: None for n in names if n.startswith(PE_AXIS_TABLE)},
    )
    return cto.linear_quantize_weights(mlmodel, config=config)


__all__ = [
    "AUTHOR",
    "DIM_RANGES",
    "FP16_CHECK_KEY",
    "INT8_WEIGHT_OPS",
    "INT8_WEIGHT_THRESHOLD",
    "SUFFIX",
    "WEIGHTS_KEY",
    "check_package",
    "convert",
    "fp16_encoder_check",
    "fp16_rounded",
    "package_metadata",
    "stored_weights",
    "tool_versions",
]
