"""The stages of :func:`tinysam_export.pipeline.run_export`, each a function with a typed result.

1 load checkpoint (:func:`stage_load`), 2 build graphs (:func:`stage_build_graphs`), 3 convert
(:func:`stage_convert`), 4 quantize (``tinysam_export.quantize.stage``), 5 verify
(``tinysam_export.verify_stage``), 6 write manifest (:func:`stage_write_manifest`), 7 golden
vectors (:func:`stage_golden`). Every stage writes into the bundle folder it is given (the
pipeline's temporary folder); none of them knows about renaming it into place.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from torch import nn

from tinysam_export import __version__
from tinysam_export.assets import demo_image_size
from tinysam_export.checkpoint import load_model
from tinysam_export.config import EMBEDDED_CHECKPOINT, ExportConfig, Precision, Target
from tinysam_export.errors import CheckpointError, ExportError
from tinysam_export.graphs import build_graphs, model_geometry
from tinysam_export.modeling.build import MODEL_REGISTRY
from tinysam_export.quantize.stage import int8_pairs
from tinysam_export.targets import ConvertOptions, load_target
from tinysam_mobile.golden.stage import PREFERENCE as GOLDEN_PREFERENCE
from tinysam_mobile.manifest import Artifact, Manifest, sha256_file, write_manifest
from tinysam_mobile.spec import GraphName, ModelGeometry

ArtifactKey = tuple[Target, Precision, GraphName]
"""(target, precision, graph) of one artifact."""


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
    """Stage 3: artifacts written (relative to the bundle), the converters' versions, and the
    quantization records of artifacts a converter quantised itself (TFLite int8)."""

    artifacts: dict[ArtifactKey, str]
    tools: dict[str, str]
    quantization: dict[ArtifactKey, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyResult:
    """Stage 5: the manifest's ``verification`` block and per-artifact parity figures."""

    verification: dict[str, Any]
    parity: dict[ArtifactKey, dict[str, Any]]


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
    """Stage 3: convert both graphs for every requested (target, precision).

    Pairs made by the quantize stage (``int8_pairs``) are skipped here. A target module that
    quantises during conversion says how in ``quantization_record(precision)``.
    """
    result = ConvertResult({}, {})
    for target, precision in config.combinations:
        if (target, precision) in int8_pairs(config):
            continue
        module = load_target(target)
        opts = ConvertOptions(precision=precision, opset=config.opset, threads=config.threads)
        record = getattr(module, "quantization_record", lambda precision: None)(precision)
        for name, graph in graphs.graphs.items():
            path = module.convert(graph, graph.spec, bundle / target.value, opts)
            key = (target, precision, name)
            result.artifacts[key] = path.relative_to(bundle).as_posix()
            if record is not None:
                result.quantization[key] = record
        result.tools.update(module.tool_versions())
    return result


def stage_write_manifest(
    config: ExportConfig,
    loaded: LoadResult,
    converted: ConvertResult,
    verified: VerifyResult,
    bundle: Path,
    quantization: dict[ArtifactKey, dict[str, Any]] | None = None,
) -> Manifest:
    """Stage 6: describe every artifact (sha256, size, parity) in ``manifest.json``."""
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


def has_golden_source(manifest: Manifest) -> bool:
    """Whether the bundle holds an ONNX pair the golden-vector writer runs on."""
    pairs = {(a.target, a.precision) for a in manifest.artifacts}
    return any(p in pairs for p in GOLDEN_PREFERENCE)


def stage_golden(
    config: ExportConfig, loaded: LoadResult, graphs: GraphsResult, bundle: Path, manifest: Manifest
) -> str:
    """Stage 7: golden vectors in ``bundle / "golden"``, from PyTorch-free ONNX graphs.

    The vectors record raw graph outputs run through the runtime (ONNX Runtime, no torch): the
    bundle's own ONNX graphs when it has them (fp32 first, see
    ``tinysam_mobile.golden.stage.PREFERENCE``). A bundle without ONNX graphs (``--target
    coreml`` or ``tflite`` alone; CoreML cannot run on Linux) gets them from float32 ONNX graphs
    converted into a scratch folder for this purpose and not shipped; ``golden/index.json``
    names them (``onnx``/``fp32``) like any other source.

    Returns
    -------
    str
        One line for the progress output.
    """
    from tinysam_mobile.golden.stage import stage_golden as write_and_check

    if has_golden_source(manifest):
        return write_and_check(bundle, manifest)
    with tempfile.TemporaryDirectory(prefix="tinysam-golden-") as tmp:
        scratch = Path(tmp)
        module = load_target(Target.ONNX)
        opts = ConvertOptions(Precision.FP32, config.opset, config.threads)
        artifacts = {
            (Target.ONNX, Precision.FP32, name): module.convert(
                graph, graph.spec, scratch / Target.ONNX.value, opts
            )
            .relative_to(scratch)
            .as_posix()
            for name, graph in graphs.graphs.items()
        }
        scratch_manifest = stage_write_manifest(
            config,
            loaded,
            ConvertResult(artifacts, module.tool_versions()),
            VerifyResult({"executed": False, "reason": "scratch graphs for golden vectors"}, {}),
            scratch,
        )
        summary = write_and_check(scratch, scratch_manifest)
        shutil.move(scratch / "golden", bundle / "golden")
    return f"{summary}; the onnx/fp32 graphs were converted for the vectors, not shipped"
