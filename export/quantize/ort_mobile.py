"""ORT Mobile files: ``.ort`` graphs and the operator list of a reduced ONNX Runtime build."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tinysam_export.errors import ExportError

REQUIRED_OPS_CONFIG = "required_operators.config"
"""Operator list of a reduced ORT Mobile build (``build.py --include_ops_by_config``)."""


@contextlib.contextmanager
def quiet_onnxruntime_tools() -> Iterator[None]:
    """Silence the INFO / WARNING log lines of onnxruntime's Python tools while inside.

    ``onnxruntime.quantization`` warns through the root logger and the ORT-format converter
    logs at INFO; the exporter reports its own progress (and ``--quiet`` means quiet).
    """
    loggers = [logging.getLogger(), logging.getLogger("ort_format_model")]
    loggers += [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if "ort" in n]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


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
            with quiet_onnxruntime_tools():
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
