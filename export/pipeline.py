"""``run_export``: checkpoint -> verified bundle, in numbered stages.

Stages: 1 load checkpoint, 2 build graphs, 3 convert, 4 verify, 5 write manifest. Each returns a
typed result. Everything is written into a temporary folder next to ``config.out`` that is
renamed into place only after the last stage; on any error the temporary folder is removed and
nothing appears at ``config.out``.
"""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from tinysam_export import __version__
from tinysam_export.assets import demo_image_size
from tinysam_export.checkpoint import load_model
from tinysam_export.config import EMBEDDED_CHECKPOINT, ExportConfig, Precision, Target
from tinysam_export.errors import CheckpointError, ExportError
from tinysam_export.graphs import build_graphs, model_geometry
from tinysam_export.modeling.build import MODEL_REGISTRY
from tinysam_export.progress import NullProgress, Progress
from tinysam_export.quantize.stage import int8_pairs, stage_quantize  # H8: INT8 + .ort stage
from tinysam_export.reference import TorchSession
from tinysam_export.targets import ConvertOptions, load_target
from tinysam_export.verify import FP32_THRESHOLDS, shared_images, synthetic_images, verify_graphs
from tinysam_mobile.manifest import Artifact, Manifest, sha256_file, write_manifest
from tinysam_mobile.session import open_session
from tinysam_mobile.spec import GraphName, ModelGeometry

T = TypeVar("T")


@dataclass(frozen=True)
class LoadResult:
    """Stage 1: the model and where it came from."""

    sam: nn.Module
    checkpoint: Path
    checkpoint_sha256: str
    geometry: ModelGeometry


@dataclass(frozen=True)
class GraphsResult:
    """Stage 2: the export wrappers keyed by graph name."""

    graphs: dict[GraphName, nn.Module]


@dataclass(frozen=True)
class ConvertResult:
    """Stage 3: artifacts written (relative to the bundle) and the converters' versions."""

    artifacts: dict[tuple[Target, Precision, GraphName], str]
    tools: dict[str, str]


@dataclass(frozen=True)
class VerifyResult:
    """Stage 4: the manifest's ``verification`` block and per-artifact parity figures."""

    verification: dict[str, Any]
    parity: dict[tuple[Target, Precision, GraphName], dict[str, Any]]


@dataclass(frozen=True)
class ExportResult:
    """What :func:`run_export` produced."""

    out: Path
    manifest: Manifest
    stage_seconds: dict[str, float] = field(default_factory=dict)


def resolve_checkpoint(config: ExportConfig) -> Path:
    """The checkpoint to load: ``config.checkpoint`` or the embedded demo model.

    Raises
    ------
    CheckpointError
        When no checkpoint is given and no embedded model is packaged.
    """
    if config.checkpoint is not None:
        return config.checkpoint
    if EMBEDDED_CHECKPOINT.is_file():
        return EMBEDDED_CHECKPOINT
    raise CheckpointError(
        f"no --checkpoint given and no embedded demo model is packaged ({EMBEDDED_CHECKPOINT} "
        "is absent); pass --checkpoint PATH (official vit_t layout, e.g. tinysam_42.3.pth)"
    )


def _embedded_image_size() -> int | None:
    """Image size the embedded demo model was trained at (``demo_vit_t.json``), if recorded."""
    try:
        return demo_image_size()
    except (FileNotFoundError, KeyError):
        return None


def stage_load(config: ExportConfig) -> LoadResult:
    """Stage 1: load the checkpoint strictly into the requested architecture."""
    if config.model not in MODEL_REGISTRY:
        known = ", ".join(sorted(MODEL_REGISTRY))
        raise ExportError(f"unknown model {config.model!r} (known: {known})")
    path = resolve_checkpoint(config)
    image_size = config.image_size
    if image_size is None and config.checkpoint is None:
        image_size = _embedded_image_size()
    sam = load_model(path, config.model, image_size)
    return LoadResult(sam, path, sha256_file(path), model_geometry(sam))


def stage_build_graphs(loaded: LoadResult) -> GraphsResult:
    """Stage 2: wrap the model into the encoder and decoder graphs."""
    return GraphsResult(build_graphs(loaded.sam))


def stage_convert(config: ExportConfig, graphs: GraphsResult, bundle: Path) -> ConvertResult:
    """Stage 3: convert both graphs for every requested (target, precision)."""
    artifacts: dict[tuple[Target, Precision, GraphName], str] = {}
    tools: dict[str, str] = {}
    for target, precision in config.combinations:
        if (target, precision) in int8_pairs(config):
            continue  # H8: made from the float graphs by stage_quantize
        module = load_target(target)
        opts = ConvertOptions(precision=precision, opset=config.opset, threads=config.threads)
        for name, graph in graphs.graphs.items():
            path = module.convert(graph, graph.spec, bundle / target.value, opts)
            artifacts[(target, precision, name)] = path.relative_to(bundle).as_posix()
        tools.update(module.tool_versions())
    return ConvertResult(artifacts, tools)


def _thresholds(precision: Precision) -> Any:
    if precision is Precision.FP32:
        return FP32_THRESHOLDS
    raise ExportError(f"no verification thresholds are defined for {precision.value}")


def stage_verify(
    config: ExportConfig,
    loaded: LoadResult,
    graphs: GraphsResult,
    converted: ConvertResult,
    bundle: Path,
) -> VerifyResult:
    """Stage 4: parity of every artifact pair against PyTorch (raises ``VerificationError``)."""
    images = synthetic_images() + shared_images(config.max_verify_images)
    reference = tuple(
        TorchSession(graphs.graphs[g], graphs.graphs[g].spec)
        for g in (GraphName.ENCODER, GraphName.DECODER)
    )
    parity: dict[tuple[Target, Precision, GraphName], dict[str, Any]] = {}
    thresholds: dict[str, Any] = {}
    cases: list[str] = []
    offline: list[str] = []  # H9: CoreML artifacts checked without executing them
    for target, precision in config.combinations:
        label = f"{target.value}/{precision.value}"
        if target is Target.COREML and sys.platform != "darwin":  # H9: CoreML cannot run here
            from tinysam_export.targets.coreml_verify import offline_verify

            packages = {
                g: bundle / converted.artifacts[(target, precision, g)]
                for g in (GraphName.ENCODER, GraphName.DECODER)
            }
            figures = offline_verify(
                reference, graphs.graphs, packages, precision, loaded.geometry, images, label
            )
            cases = figures.pop("cases") or cases
            thresholds[label] = {"coreml_numerics_executed": False}
            offline.append(label)
            for g in (GraphName.ENCODER, GraphName.DECODER):
                parity[(target, precision, g)] = figures[str(g)]
            continue
        sessions = []
        for g in (GraphName.ENCODER, GraphName.DECODER):
            art = Artifact.from_file(
                bundle,
                converted.artifacts[(target, precision, g)],
                g,
                target.value,
                precision.value,
            )
            sessions.append(open_session(bundle, art, config.threads, spec=graphs.graphs[g].spec))
        if precision is not Precision.FP32:  # H8: mask-IoU gate against float32
            from tinysam_export.quantize.gate import LOW_PRECISION_THRESHOLDS as limits
            from tinysam_export.quantize.gate import verify_low_precision

            figures = verify_low_precision(
                reference, tuple(sessions), loaded.geometry, images, label, limits
            )
        else:
            limits = _thresholds(precision)
            figures = verify_graphs(
                reference, tuple(sessions), loaded.geometry, images, limits, label
            )
        cases = figures.pop("cases")
        thresholds[label] = limits.to_json()
        for g in (GraphName.ENCODER, GraphName.DECODER):
            parity[(target, precision, g)] = figures[str(g)]
    verification = {
        "executed": True,
        "reference": "PyTorch eager (tinysam_export.reference.TorchSession) through tinysam_mobile.Predictor",
        "images": [name for name, _ in images],
        "cases": cases,
        "thresholds": thresholds,
    }
    if offline:  # H9
        verification["coreml_numerics_executed"] = False
        verification["not_executed"] = offline
    return VerifyResult(verification, parity)


def stage_write_manifest(
    config: ExportConfig,
    loaded: LoadResult,
    converted: ConvertResult,
    verified: VerifyResult,
    bundle: Path,
    quantization: dict[tuple[Target, Precision, GraphName], dict[str, Any]] | None = None,
) -> Manifest:
    """Stage 5: describe every artifact (sha256, size, parity) in ``manifest.json``."""
    artifacts = [
        Artifact.from_file(
            bundle,
            file,
            graph,
            target.value,
            precision.value,
            parity=verified.parity.get((target, precision, graph)),
            quantization=(quantization or {}).get((target, precision, graph)),
        )
        for (target, precision, graph), file in converted.artifacts.items()
    ]
    tools = {
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
        "onnxruntime": metadata.version("onnxruntime"),
        **converted.tools,
    }
    manifest = Manifest(
        geometry=loaded.geometry,
        artifacts=tuple(artifacts),
        model_name=config.model,
        checkpoint={"file": loaded.checkpoint.name, "sha256": loaded.checkpoint_sha256},
        verification=verified.verification,
        tools=tools,
        created_by=f"tinysam-export {__version__}",
    )
    write_manifest(bundle, manifest)
    return manifest


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise ExportError(f"output folder {out} already exists; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise ExportError(f"output path {out} exists and is not a folder")


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename ``tmp`` to ``out``; with ``force``, swap an existing ``out`` out of the way first."""
    _check_out(out, force)
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
        quantized = stage(  # H8: INT8 pass over the float ONNX graphs, then .ort files
            "quantize",
            lambda: stage_quantize(
                config, loaded.geometry, graphs.graphs, converted.artifacts, tmp
            ),
            lambda r: r.summary(),
        )
        converted = ConvertResult(
            {**converted.artifacts, **quantized.artifacts}, {**converted.tools, **quantized.tools}
        )
        if config.verify:
            verified = stage(
                "verify",
                lambda: stage_verify(config, loaded, graphs, converted, tmp),
                lambda r: _verify_summary(r),
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
                config, loaded, converted, verified, tmp, quantized.quantization
            ),
            lambda r: f"{len(r.artifacts)} artifacts",
        )
        if config.golden:  # H8: golden vectors from the bundle's own graphs
            from tinysam_mobile.golden.stage import stage_golden

            stage("golden vectors", lambda: stage_golden(tmp, manifest), lambda r: r)
        _move_into_place(tmp, config.out, config.force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(old_threads)
    return ExportResult(config.out, manifest, seconds)


def _verify_summary(result: VerifyResult) -> str:
    worst = []
    for (target, precision, graph), figures in result.parity.items():
        if figures.get("coreml_numerics_executed") is False:  # H9
            worst.append(f"{target.value}/{precision.value} {graph}: CoreML numerics NOT executed")
            continue
        rel = max(v.get("relative_error", 0.0) for v in figures.values() if isinstance(v, dict))
        worst.append(f"{target.value}/{precision.value} {graph}: max rel err {rel:.2e}")
    return f"{len(result.verification['cases'])} cases; " + "; ".join(worst)
