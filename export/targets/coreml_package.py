"""Reading a saved CoreML package without the CoreML runtime (which only macOS has).

:func:`check_package` verifies a package against its graph spec (names, shapes and ranges,
dtypes, int8 weight ops, metadata); :func:`package_metadata` and :func:`stored_weights` read
what the exporter recorded in it. Used by the target (``tinysam_export.targets.coreml``) after
each conversion and by the Linux verification (``tinysam_export.targets.coreml_verify``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinysam_export.config import Precision
from tinysam_export.errors import ExportError
from tinysam_mobile.errors import MissingDependencyError
from tinysam_mobile.spec import GraphSpec

DIM_RANGES: dict[str, tuple[int, int, int]] = {
    "num_prompts": (1, 64, 1),
    "num_points": (1, 16, 2),
}
"""``(lower, upper, default)`` of each symbolic dimension of the decoder."""

INT8_WEIGHT_OPS = frozenset({"constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"})
"""MIL ops that hold int8 weights in an ML program."""

AUTHOR = "tinysam-mobile"
"""``author`` of every package."""

FP16_CHECK_KEY = "tinysam.fp16_check"
"""User-metadata key of the fp16 numerics figures inside the package."""

WEIGHTS_KEY = "tinysam.weights"
"""User-metadata key: precision of the weights stored in the package (``int8``, ``fp16``,
``fp32``); differs from ``tinysam.precision`` only for an int8 graph kept at float16 weights."""


def coremltools_module() -> Any:
    """``coremltools``, or :class:`MissingDependencyError` naming the extra to install."""
    try:
        import coremltools
    except ImportError:
        raise MissingDependencyError(
            "the CoreML target needs coremltools: pip install 'tinysam-mobile[coreml]'"
        ) from None
    return coremltools


def _array_shape(feature: Any) -> tuple[list[int], list[list[int]] | None]:
    arr = feature.type.multiArrayType
    ranges = [[int(r.lowerBound), int(r.upperBound)] for r in arr.shapeRange.sizeRanges]
    return [int(d) for d in arr.shape], ranges or None


def check_package(path: Path, spec: GraphSpec, precision: Precision | str) -> dict[str, Any]:
    """Verify a saved package against ``spec`` without executing it.

    Checks input/output names and order, float32 dtype, fixed dims, the symbolic dims' ranges
    (:data:`DIM_RANGES`), int8 weight ops present exactly when the package stores int8 weights
    (an ``int8`` package, unless its metadata records the float16 fallback), and the metadata.
    Returns the figures as a JSON-able dict.

    Raises
    ------
    ExportError
        Naming the graph and the first mismatch.
    """
    ct = coremltools_module()
    precision = Precision(precision)
    pb = ct.utils.load_spec(str(path))
    desc = pb.description
    where = f"{spec.name} CoreML package {Path(path).name}"
    for kind, got, want in (
        ("input", desc.input, spec.inputs),
        ("output", desc.output, spec.outputs),
    ):
        names = [f.name for f in got]
        if names != [t.name for t in want]:
            raise ExportError(f"{where}: {kind}s are {names}, spec says {[t.name for t in want]}")
        for f, t in zip(got, want, strict=True):
            if f.type.multiArrayType.dataType != ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32:
                raise ExportError(f"{where}: {kind} {t.name!r} is not float32")
            if kind == "output":
                continue
            shape, ranges = _array_shape(f)
            for axis, d in enumerate(t.shape):
                want_range = [DIM_RANGES[d][0], DIM_RANGES[d][1]] if isinstance(d, str) else [d, d]
                got_range = ranges[axis] if ranges else [shape[axis], shape[axis]]
                if got_range != want_range:
                    raise ExportError(
                        f"{where}: input {t.name!r} axis {axis} ({d}) allows {got_range}, "
                        f"expected {want_range}"
                    )
    ops = _op_types(pb)
    int8_ops = sorted(ops & INT8_WEIGHT_OPS)
    user = dict(desc.metadata.userDefined)
    weights = stored_weights(user, precision, where) if precision is Precision.INT8 else precision
    if (weights is Precision.INT8) != bool(int8_ops):
        raise ExportError(
            f"{where}: int8 weight ops {int8_ops or 'absent'} for {precision.value} "
            f"({weights.value} weights)"
        )
    stored_weights(user, precision, where)
    meta = desc.metadata
    if not (
        meta.shortDescription and meta.author == AUTHOR and meta.license and meta.versionString
    ):
        raise ExportError(f"{where}: model metadata (description/author/license/version) missing")
    undocumented = [f.name for f in [*desc.input, *desc.output] if not f.shortDescription]
    if undocumented:
        raise ExportError(f"{where}: undocumented inputs/outputs {undocumented}")
    return {
        "spec_version": int(pb.specificationVersion),
        "inputs_checked": spec.input_names,
        "outputs_checked": spec.output_names,
        "dim_ranges": {k: list(v[:2]) for k, v in DIM_RANGES.items() if _uses(spec, k)},
        "int8_weight_ops": int8_ops,
        "weights": weights.value,
        "metadata": True,
    }


def stored_weights(meta: dict[str, str], precision: Precision | str, where: str) -> Precision:
    """Precision of the weights a package stores, from its metadata (:data:`WEIGHTS_KEY`).

    Packages without the key store weights of their ``precision``. Only an int8 package may
    store other weights (float16: the INT8 pass's fallback).

    Raises
    ------
    ExportError
        The metadata names weights the package's precision cannot hold.
    """
    precision = Precision(precision)
    value = meta.get(WEIGHTS_KEY)
    if value is None:
        return precision
    allowed = {Precision.INT8, Precision.FP16} if precision is Precision.INT8 else {precision}
    if value not in {p.value for p in allowed}:
        raise ExportError(
            f"{where}: metadata {WEIGHTS_KEY}={value!r} for a {precision.value} graph"
        )
    return Precision(value)


def _uses(spec: GraphSpec, dim: str) -> bool:
    return any(dim in t.shape for t in spec.inputs)


def _op_types(pb: Any) -> set[str]:
    """Every MIL op type in the program (nested blocks included)."""
    found: set[str] = set()

    def walk(block: Any) -> None:
        for op in block.operations:
            found.add(op.type)
            for b in op.blocks:
                walk(b)

    for fn in pb.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            walk(block)
    return found


def package_metadata(path: Path) -> dict[str, str]:
    """The package's user-defined metadata (e.g. :data:`FP16_CHECK_KEY`)."""
    return dict(coremltools_module().utils.load_spec(str(path)).description.metadata.userDefined)
