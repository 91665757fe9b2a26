"""``run_export``: checkpoint -> verified bundle, in numbered stages.

Stages (``tinysam_export.stages``, ``tinysam_export.quantize.stage``,
``tinysam_export.verify_stage``): 1 load checkpoint, 2 build graphs, 3 convert, 4 quantize,
5 verify, 6 write manifest, 7 golden vectors. Each returns a typed result. Before the first one,
the converters of every requested target are checked (a missing extra is named up front).
Everything is written into a temporary folder next to ``config.out`` that is renamed into place
only after the last stage; on any error the temporary folder is removed and nothing appears at
``config.out``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

from tinysam_export.config import ExportConfig, Target
from tinysam_export.errors import ExportError
from tinysam_export.progress import NullProgress, Progress
from tinysam_export.quantize.stage import stage_quantize
from tinysam_export.stages import (
    ConvertResult,
    VerifyResult,
    stage_build_graphs,
    stage_convert,
    stage_golden,
    stage_load,
    stage_write_manifest,
)
from tinysam_export.targets import check_requirements
from tinysam_export.verify_stage import stage_verify, verify_summary
from tinysam_mobile.atomic import publish_mode
from tinysam_mobile.manifest import Manifest

T = TypeVar("T")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`run_export` produced."""

    out: Path
    manifest: Manifest
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise ExportError(f"output folder {out} already exists; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise ExportError(f"output path {out} exists and is not a folder")


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename ``tmp`` to ``out``; with ``force``, swap an existing ``out`` out of the way first."""
    _check_out(out, force)
    for folder, _, files in os.walk(tmp):  # mkdtemp / mkstemp made them private
        publish_mode(folder)
        for name in files:
            publish_mode(Path(folder) / name)
    if not out.exists():
        tmp.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run_export(config: ExportConfig, progress: Progress | None = None) -> ExportResult:
    """Export a checkpoint into a verified bundle at ``config.out``.

    Parameters
    ----------
    config
        What to export and where.
    progress
        Receives stage start/finish events (default: silent).

    Returns
    -------
    ExportResult
        The bundle folder, its manifest and each stage's duration.

    Raises
    ------
    CheckpointError, ExportError, VerificationError
        Nothing is left at ``config.out`` (an existing folder is kept unless the export
        succeeded with ``force``).
    """
    progress = progress or NullProgress()
    _check_out(config.out, config.force)
    # golden vectors run ONNX graphs (converted for them when the bundle has none)
    check_requirements([*config.targets, *([Target.ONNX] if config.golden else [])])
    config.out.parent.mkdir(parents=True, exist_ok=True)
    total = 6 + int(config.golden)
    seconds: dict[str, float] = {}
    state = {"number": 0}

    def stage(name: str, fn: Callable[[], T], detail: Callable[[T], str]) -> T:
        state["number"] += 1
        progress.stage_started(state["number"], total, name)
        t0 = time.perf_counter()
        try:
            result = fn()
        except BaseException:
            progress.stage_finished(
                state["number"], total, name, time.perf_counter() - t0, "FAILED"
            )
            raise
        seconds[name] = time.perf_counter() - t0
        progress.stage_finished(state["number"], total, name, seconds[name], detail(result))
        return result

    old_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    tmp = Path(tempfile.mkdtemp(prefix=f".{config.out.name}.tmp-", dir=config.out.parent))
    try:
        loaded = stage(
            "load checkpoint",
            lambda: stage_load(config),
            lambda r: f"{r.checkpoint.name}, image size {r.geometry.image_size}",
        )
        graphs = stage(
            "build graphs", lambda: stage_build_graphs(loaded), lambda r: "encoder, decoder"
        )
        converted = stage(
            "convert",
            lambda: stage_convert(config, graphs, tmp),
            lambda r: ", ".join(sorted(r.artifacts.values())),
        )
        quantized = stage(  # INT8 passes (ONNX, CoreML), then .ort files
            "quantize",
            lambda: stage_quantize(
                config, loaded.geometry, graphs.graphs, converted.artifacts, tmp
            ),
            lambda r: r.summary(),
        )
        converted = ConvertResult(
            {**converted.artifacts, **quantized.artifacts},
            {**converted.tools, **quantized.tools},
            {**converted.quantization, **quantized.quantization},
        )
        if config.verify:
            verified = stage(
                "verify",
                lambda: stage_verify(config, loaded, graphs, converted, tmp),
                verify_summary,
            )
        else:
            progress.warning(
                "--no-verify: the exported graphs were NOT checked against PyTorch; the manifest "
                "records verification.executed = false"
            )
            verified = stage(
                "verify",
                lambda: VerifyResult({"executed": False, "reason": "--no-verify"}, {}),
                lambda r: "SKIPPED",
            )
        manifest = stage(
            "write manifest",
            lambda: stage_write_manifest(
                config, loaded, converted, verified, tmp, converted.quantization
            ),
            lambda r: f"{len(r.artifacts)} artifacts",
        )
        if config.golden:
            stage(
                "golden vectors",
                lambda: stage_golden(config, loaded, graphs, tmp, manifest),
                lambda r: r,
            )
        _move_into_place(tmp, config.out, config.force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(old_threads)
    return ExportResult(config.out, manifest, seconds)
