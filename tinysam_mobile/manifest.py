"""``manifest.json``: the description of a bundle that every runtime (Python, Kotlin, Swift) reads.

A bundle is a folder with ``manifest.json`` and the graph files it lists. The manifest fixes the
model geometry, the preprocessing, the prompt encoding, the input/output specs of both graphs and,
for every artifact, its file, size and sha256 (checked before a graph is loaded).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .errors import BundleError, ManifestError
from .spec import (
    BOX_LABELS,
    MASK_THRESHOLD,
    PAD_LABEL,
    PIXEL_MEAN,
    PIXEL_STD,
    SCHEMA_VERSION,
    GraphName,
    GraphSpec,
    ModelGeometry,
    graph_specs,
)

MANIFEST_NAME = "manifest.json"
"""File name of the manifest inside a bundle folder."""


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | Path) -> tuple[str, int]:  # H9: folder artifacts (.mlpackage)
    """Return ``(hex sha256, total bytes)`` of a file or of a folder such as a ``.mlpackage``.

    A folder hashes a deterministic listing: for every regular file below it, sorted by its
    ``/``-separated relative path, the line ``"<relpath>\\0<size>\\0<sha256 of the file>\\n"``.
    Renaming, adding, removing or changing any file changes the digest. A plain file gives
    :func:`sha256_file` and its size.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path), path.stat().st_size
    digest = hashlib.sha256()
    total = 0
    for f in sorted(
        (p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix()
    ):
        size = f.stat().st_size
        total += size
        digest.update(f"{f.relative_to(path).as_posix()}\0{size}\0{sha256_file(f)}\n".encode())
    return digest.hexdigest(), total


@dataclass(frozen=True)
class Artifact:
    """One graph file of a bundle.

    Parameters
    ----------
    graph
        Which graph the file holds (``encoder`` / ``decoder``).
    target
        Runtime target: ``"onnx"``, ``"tflite"`` or ``"coreml"``.
    precision
        ``"fp32"``, ``"fp16"`` or ``"int8"``.
    file
        Path relative to the bundle folder, with ``/`` separators.
    sha256, size_bytes
        Hex sha256 and size of the file, checked by :func:`verify_artifact`.
    quantization
        Recipe of the INT8 pass (``None`` for float artifacts).
    parity
        Metrics measured against PyTorch when the bundle was exported.
    """

    graph: GraphName
    target: str
    precision: str
    file: str
    sha256: str
    size_bytes: int
    quantization: dict[str, Any] | None = None
    parity: dict[str, Any] | None = None

    @classmethod
    def from_file(
        cls,
        bundle_dir: str | Path,
        file: str,
        graph: GraphName | str,
        target: str,
        precision: str,
        quantization: dict[str, Any] | None = None,
        parity: dict[str, Any] | None = None,
    ) -> Artifact:
        """Describe an existing file of a bundle, computing its size and sha256."""
        path = Path(bundle_dir) / file
        if not (path.is_file() or path.is_dir()):  # H9: a .mlpackage is a folder
            raise BundleError(f"artifact file {path} does not exist")
        digest, size = sha256_tree(path)  # H9
        return cls(
            GraphName(graph),
            target,
            precision,
            Path(file).as_posix(),
            digest,
            size,
            quantization,
            parity,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the manifest form of this artifact."""
        return {
            "graph": str(self.graph),
            "target": self.target,
            "precision": self.precision,
            "file": self.file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "quantization": self.quantization,
            "parity": self.parity,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Artifact:
        """Inverse of :meth:`to_json`; raises :class:`ManifestError` on missing keys."""
        _require(d, ("graph", "target", "precision", "file", "sha256", "size_bytes"), "artifact")
        try:
            graph = GraphName(d["graph"])
        except ValueError:
            raise ManifestError(
                f"artifact {d['file']!r} has unknown graph {d['graph']!r}"
            ) from None
        return cls(
            graph,
            str(d["target"]),
            str(d["precision"]),
            str(d["file"]),
            str(d["sha256"]),
            int(d["size_bytes"]),
            d.get("quantization"),
            d.get("parity"),
        )


@dataclass(frozen=True)
class Manifest:
    """Parsed ``manifest.json`` (schema version :data:`~tinysam_mobile.spec.SCHEMA_VERSION`).

    ``graphs`` defaults to the specs of :mod:`tinysam_mobile.spec` for ``geometry``.
    """

    geometry: ModelGeometry
    artifacts: tuple[Artifact, ...] = ()
    graphs: dict[GraphName, GraphSpec] = field(default_factory=dict)
    model_name: str = "vit_t"
    pixel_mean: tuple[float, float, float] = PIXEL_MEAN
    pixel_std: tuple[float, float, float] = PIXEL_STD
    mask_threshold: float = MASK_THRESHOLD
    checkpoint: dict[str, Any] | None = None
    verification: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    created_by: str = "tinysam-export 0.1.0"
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.graphs:
            object.__setattr__(self, "graphs", graph_specs(self.geometry))
        object.__setattr__(self, "artifacts", tuple(self.artifacts))

    def artifact(self, target: str, precision: str, graph: GraphName | str) -> Artifact:
        """Return the artifact for ``(target, precision, graph)``.

        Raises
        ------
        BundleError
            When the bundle has no such artifact; the message lists what it has.
        """
        for a in self.artifacts:
            if a.target == target and a.precision == precision and a.graph == graph:
                return a
        have = ", ".join(f"{a.graph}/{a.target}/{a.precision}" for a in self.artifacts) or "none"
        raise BundleError(
            f"bundle has no {graph} artifact for target={target!r} precision={precision!r}; "
            f"it has: {have}"
        )

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as a JSON-serialisable dict (the documented schema)."""
        s = self.geometry.image_size
        return {
            "schema_version": self.schema_version,
            "model": {
                "name": self.model_name,
                "image_size": s,
                "embedding_hw": list(self.geometry.embedding_hw),
                "low_res_hw": list(self.geometry.low_res_hw),
                "mask_threshold": self.mask_threshold,
                "checkpoint": self.checkpoint,
            },
            "preprocess": {
                "channel_order": "RGB",
                "layout": "NCHW",
                "input_range": [0, 255],
                "resize": {
                    "longest_side": s,
                    "interpolation": "bilinear",
                    "library": "PIL",
                    "rounding": "int(side * image_size / max(h, w) + 0.5)",
                },
                "pad": {"where": "bottom_right", "value": "pixel_mean"},
                "pixel_mean": list(self.pixel_mean),
                "pixel_std": list(self.pixel_std),
                "normalization": "in_encoder_graph",
            },
            "prompt": {
                "box_labels": list(BOX_LABELS),
                "pad_label": PAD_LABEL,
                "pad_point": [0, 0],
                "coordinate_frame": "model",
            },
            "graphs": {str(k): v.to_json() for k, v in self.graphs.items()},
            "artifacts": [a.to_json() for a in self.artifacts],
            "verification": self.verification,
            "tools": self.tools,
            "created_by": self.created_by,
        }

    @classmethod
    def from_json(cls, d: Any) -> Manifest:
        """Parse and check a manifest dict; raises :class:`ManifestError` naming what is wrong."""
        if not isinstance(d, dict):
            raise ManifestError(f"manifest must be a JSON object, got {type(d).__name__}")
        _require(d, ("schema_version",), "manifest")
        if d["schema_version"] != SCHEMA_VERSION:
            raise ManifestError(
                f"unsupported manifest schema_version {d['schema_version']!r}; "
                f"this runtime reads version {SCHEMA_VERSION}"
            )
        _require(d, ("model", "preprocess", "graphs", "artifacts"), "manifest")
        model, pre = d["model"], d["preprocess"]
        _require(model, ("image_size",), "model")
        _require(pre, ("pixel_mean",), "preprocess")
        try:
            geometry = ModelGeometry(int(model["image_size"]))
        except (TypeError, ValueError) as e:
            raise ManifestError(f"model.image_size is invalid: {e}") from None
        for key, want in (
            ("embedding_hw", geometry.embedding_hw),
            ("low_res_hw", geometry.low_res_hw),
        ):
            if key in model and tuple(model[key]) != want:
                raise ManifestError(
                    f"model.{key} is {model[key]} but image_size {geometry.image_size} implies "
                    f"{list(want)}"
                )
        try:
            graphs = {GraphName(k): GraphSpec.from_json(k, v) for k, v in d["graphs"].items()}
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            raise ManifestError(f"manifest 'graphs' is malformed: {e!r}") from None
        missing = [str(g) for g in GraphName if g not in graphs]
        if missing:
            raise ManifestError(f"manifest 'graphs' lacks {', '.join(missing)}")
        mean = _triple(pre["pixel_mean"], "preprocess.pixel_mean")
        std = _triple(pre.get("pixel_std", PIXEL_STD), "preprocess.pixel_std")
        if not isinstance(d["artifacts"], list):
            raise ManifestError("manifest 'artifacts' must be a list")
        return cls(
            geometry=geometry,
            artifacts=tuple(Artifact.from_json(a) for a in d["artifacts"]),
            graphs=graphs,
            model_name=str(model.get("name", "vit_t")),
            pixel_mean=mean,
            pixel_std=std,
            mask_threshold=float(model.get("mask_threshold", MASK_THRESHOLD)),
            checkpoint=model.get("checkpoint"),
            verification=d.get("verification", {}),
            tools=d.get("tools", {}),
            created_by=str(d.get("created_by", "")),
            schema_version=int(d["schema_version"]),
        )


def _require(d: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(d, dict):
        raise ManifestError(f"{where} must be a JSON object, got {type(d).__name__}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise ManifestError(f"{where} is missing required key(s): {', '.join(missing)}")


def _triple(v: Any, where: str) -> tuple[float, float, float]:
    try:
        a, b, c = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ManifestError(f"{where} must be three numbers, got {v!r}") from None
    return (a, b, c)


def load_manifest(bundle_dir: str | Path) -> Manifest:
    """Read ``bundle_dir/manifest.json``.

    Raises
    ------
    ManifestError
        When the folder or the file is missing, the JSON is invalid, the schema version is not
        supported or a required key is missing.
    """
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise ManifestError(f"bundle folder {bundle_dir} does not exist")
    path = bundle_dir / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path} is missing: {bundle_dir} is not a tinysam bundle")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from None
    try:
        return Manifest.from_json(data)
    except ManifestError as e:
        raise ManifestError(f"{path}: {e}") from None


def write_manifest(path: str | Path, manifest: Manifest) -> Path:
    """Write ``manifest`` as JSON to ``path`` atomically (temp file + rename).

    ``path`` may be the bundle folder (then ``manifest.json`` inside it) or the file itself.
    Returns the path written.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n"
    return write_text_atomic(path, text)


def verify_artifact(bundle_dir: str | Path, artifact: Artifact) -> Path:
    """Check that an artifact's file exists and has the recorded size and sha256.

    Returns
    -------
    Path
        The absolute path of the verified file.

    Raises
    ------
    BundleError
        Naming the file and the expected and actual size or sha256 (missing, truncated or
        tampered file).
    """
    path = (Path(bundle_dir) / artifact.file).resolve()
    if not (path.is_file() or path.is_dir()):  # H9: a .mlpackage is a folder
        raise BundleError(f"bundle file {artifact.file} is missing (looked for {path})")
    digest, size = sha256_tree(path)  # H9: files and folders (.mlpackage)
    if size != artifact.size_bytes:
        raise BundleError(
            f"bundle file {artifact.file} is truncated or replaced: expected "
            f"{artifact.size_bytes} bytes, found {size}"
        )
    if digest != artifact.sha256:
        raise BundleError(
            f"bundle file {artifact.file} was modified: sha256 expected {artifact.sha256}, "
            f"actual {digest}"
        )
    return path
