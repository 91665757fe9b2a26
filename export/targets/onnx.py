"""ONNX target: ``torch.onnx.export`` (dynamo) -> onnxslim -> ``onnx.checker`` -> one file.

Why these choices:

- The dynamo exporter (``torch.export``) gives the cleaner decoder graph: the symbolic
  dimensions ``num_prompts`` / ``num_points`` keep their names on inputs *and* outputs and the
  remaining dimensions are static, whereas the TorchScript exporter leaves anonymous
  ``Reshape`` dimensions on the outputs and ~30 % more nodes. It needs opset >= 18.
- onnxslim only folds constants and removes redundant shape arithmetic with standard ONNX ops;
  onnxsim-style optimisers can fuse attention into the non-standard ``com.microsoft::Attention``
  that ONNX Runtime Mobile builds and other runtimes may lack, so it is not used, and the
  result is checked to contain only default-domain ops.
- Graphs are saved as a single file (weights inline; vit_t is far below the 2 GB protobuf
  limit) so an app ships exactly the files the manifest lists.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from tinysam_export.config import Precision
from tinysam_export.errors import ExportError
from tinysam_export.graphs import example_inputs
from tinysam_export.targets import ConvertOptions, artifact_name
from tinysam_mobile.errors import MissingDependencyError

if TYPE_CHECKING:
    from torch import nn

    from tinysam_mobile.spec import GraphSpec

SUFFIX = ".onnx"
"""File suffix of ONNX artifacts."""

MIN_OPSET = 18
"""Lowest opset the dynamo exporter emits."""

_TRACE_SIZES = {"num_prompts": 3, "num_points": 4}
"""Sizes used for symbolic dims while tracing: distinct and > 1, so none is specialised."""


def _import_tools() -> tuple:
    try:
        import onnx
        import onnxslim
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MissingDependencyError(
            f"the ONNX exporter needs {exc.name}; install the extra: pip install "
            "'tinysam-mobile[export]'"
        ) from None
    return torch, onnx, onnxslim


def tool_versions() -> dict[str, str]:
    """Versions of the packages this target uses."""
    torch, onnx, onnxslim = _import_tools()
    import onnxscript

    return {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxslim": onnxslim.__version__,
    }


def _dynamic_shapes(spec: GraphSpec) -> dict[str, dict[int, object] | None]:
    """``torch.export`` dynamic-shape spec from the symbolic dims named in ``spec``."""
    from torch.export import Dim

    dims: dict[str, object] = {}
    out: dict[str, dict[int, object] | None] = {}
    for t in spec.inputs:
        axes = {}
        for axis, d in enumerate(t.shape):
            if isinstance(d, str):
                axes[axis] = dims.setdefault(d, Dim(d, min=1, max=4096))
        out[t.name] = axes or None
    return out


def _check_graph(model: object, spec: GraphSpec) -> None:
    """Check names, ranks, fixed dims, symbolic-dim names and op domains of an ONNX model."""
    graph = model.graph  # type: ignore[attr-defined]
    for kind, got_values, want in (
        ("input", graph.input, spec.inputs),
        ("output", graph.output, spec.outputs),
    ):
        got = {v.name: v for v in got_values}
        if [v.name for v in got_values] != [t.name for t in want]:
            raise ExportError(
                f"{spec.name} ONNX {kind}s are {[v.name for v in got_values]}, "
                f"spec says {[t.name for t in want]}"
            )
        for t in want:
            dims = got[t.name].type.tensor_type.shape.dim
            shape = tuple(d.dim_param if d.dim_param else d.dim_value for d in dims)
            if shape != tuple(t.shape):
                raise ExportError(
                    f"{spec.name} ONNX {kind} {t.name!r} has shape {list(shape)}, "
                    f"spec says {list(t.shape)}"
                )
    domains = {n.domain for n in graph.node} - {"", "ai.onnx"}
    if domains:
        raise ExportError(f"{spec.name} ONNX graph uses non-standard op domains {sorted(domains)}")


def convert(graph: nn.Module, spec: GraphSpec, out_dir: Path, opts: ConvertOptions) -> Path:
    """Export ``graph`` to ``out_dir/<graph>.<precision>.onnx`` and return the path.

    Parameters
    ----------
    graph
        ``EncoderGraph`` or ``DecoderGraph`` (eval mode); its forward takes the spec inputs in
        order.
    spec
        The graph's spec; symbolic dims become named dynamic axes.
    out_dir
        Target folder (created if needed).
    opts
        Precision must be fp32 (quantised variants are produced by a separate pass).

    Raises
    ------
    ExportError
        If the exporter fails or the result does not match ``spec``.
    """
    torch, onnx, onnxslim = _import_tools()
    if Precision(opts.precision) is not Precision.FP32:
        raise ExportError(f"the ONNX converter writes fp32 graphs, not {opts.precision}")
    opset = max(opts.opset, MIN_OPSET)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / artifact_name(str(spec.name), opts.precision, SUFFIX)
    inputs = example_inputs(spec, **_TRACE_SIZES)
    args = tuple(inputs[n] for n in spec.input_names)

    # The exporter reports progress with print/logging/warnings; the pipeline has its own.
    noisy = logging.getLogger("torch.onnx")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            torch.no_grad(),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                args,
                dynamo=True,
                opset_version=opset,
                input_names=spec.input_names,
                output_names=spec.output_names,
                dynamic_shapes=_dynamic_shapes(spec),
                external_data=False,
                optimize=True,
                verbose=False,
            )
            model = onnxslim.slim(program.model_proto)
    except Exception as exc:  # the exporters raise many unrelated types
        raise ExportError(f"ONNX export of the {spec.name} graph failed: {exc}") from exc
    finally:
        noisy.setLevel(level)

    model.producer_name = "tinysam-export"
    _check_graph(model, spec)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"ONNX checker rejected the {spec.name} graph: {exc}") from exc
    onnx.save_model(model, path, save_as_external_data=False)
    return path
