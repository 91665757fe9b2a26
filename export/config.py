"""Typed export configuration: targets, precisions, what is supported, and ``ExportConfig``.

``SUPPORTED`` is the single table of (target, precision) pairs the exporter can produce;
``UNSUPPORTED_REASONS`` says why a missing pair is missing. A new target is added in three places:
a member of :class:`Target`, a row here, and entries in ``tinysam_export.targets``
(``TARGET_MODULES``, ``TARGET_REQUIREMENTS``). The command-line flags of ``tinysam-export`` are
derived from the fields of :class:`ExportConfig` (their ``metadata``), so a new option is a new
field.

Precisions when none is requested (:func:`default_precisions`): ONNX fp32 (the runtime's default
graphs and the source of the golden vectors), mobile targets (CoreML, TFLite) int8, or their
smallest supported precision while int8 is not supported. ``--target all`` is every target of
``SUPPORTED`` at its defaults, plus ONNX int8 (the ORT Mobile graphs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tinysam_export.assets import DEMO_CHECKPOINT
from tinysam_export.errors import ExportError
from tinysam_mobile.spec import DEFAULT_IMAGE_SIZE, ModelGeometry


class Target(StrEnum):
    """Graph formats the exporter knows about."""

    ONNX = "onnx"
    COREML = "coreml"
    TFLITE = "tflite"


class Precision(StrEnum):
    """Numeric precision of an exported graph's weights / activations."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


SUPPORTED: dict[Target, frozenset[Precision]] = {
    Target.ONNX: frozenset({Precision.FP32, Precision.INT8}),  # int8: tinysam_export.quantize
    # int8: per-graph int8 weights, float16 weights where the gate rejects them (docs/TARGETS.md)
    Target.COREML: frozenset({Precision.FP32, Precision.FP16, Precision.INT8}),
    Target.TFLITE: frozenset({Precision.FP32, Precision.INT8}),  # int8: dynamic-range weights
}
"""Which precisions each target can currently produce; a target that is absent is unsupported."""

UNSUPPORTED_REASONS: dict[tuple[Target, Precision], str] = {
    (Target.ONNX, Precision.FP16): "no fp16 ONNX path; int8 gives smaller graphs (docs/TARGETS.md)",
    (Target.TFLITE, Precision.FP16): (
        "the TFLite target writes fp32 and dynamic-range int8 only; int8 is smaller"
    ),
}
"""Why a pair is missing from ``SUPPORTED`` (quoted when it is refused)."""

ALL_TARGETS = "all"
"""``--target all``: every target of ``SUPPORTED`` (see :func:`default_precisions`)."""

MOBILE_DEFAULT_ORDER: tuple[Precision, ...] = (Precision.INT8, Precision.FP16, Precision.FP32)
"""Default precision of a mobile target: the first of these it supports."""

DEFAULT_OPSET = 18
"""ONNX opset of the exported graphs (the dynamo exporter's lowest; ONNX Runtime Mobile runs it)."""

EMBEDDED_CHECKPOINT: Path = DEMO_CHECKPOINT
"""The packaged demo model, used when ``--checkpoint`` is omitted (see ``tinysam_export.assets``)."""


def check_supported(target: Target, precision: Precision) -> None:
    """Raise :class:`ExportError` unless ``SUPPORTED`` lists the pair.

    Parameters
    ----------
    target, precision
        The requested combination.
    """
    allowed = SUPPORTED.get(target)
    if allowed is None:
        known = ", ".join(sorted(t.value for t in SUPPORTED))
        raise ExportError(f"target {target.value!r} is not supported yet (supported: {known})")
    if precision not in allowed:
        ok = ", ".join(sorted(p.value for p in allowed))
        reason = UNSUPPORTED_REASONS.get((target, precision))
        raise ExportError(
            f"precision {precision.value!r} is not supported for target {target.value!r}"
            f"{': ' + reason if reason else ''} (supported: {ok})"
        )


def default_precisions(target: Target, all_targets: bool = False) -> tuple[Precision, ...]:
    """Precisions exported for ``target`` when no precision is requested.

    Parameters
    ----------
    target
        A target of ``SUPPORTED``.
    all_targets
        ``--target all``: ONNX gets int8 (the ORT Mobile graphs) next to fp32.

    Returns
    -------
    tuple of Precision
        ONNX: fp32 (+ int8 with ``all_targets``); other (mobile) targets: the first precision of
        :data:`MOBILE_DEFAULT_ORDER` that ``SUPPORTED`` lists.
    """
    allowed = SUPPORTED[target]
    if target is Target.ONNX:
        wanted = (Precision.FP32, Precision.INT8) if all_targets else (Precision.FP32,)
        return tuple(p for p in wanted if p in allowed)
    return (next(p for p in MOBILE_DEFAULT_ORDER if p in allowed),)


def resolve_targets(requested: tuple[Target | str, ...]) -> tuple[tuple[Target, ...], bool]:
    """Expand ``"all"`` and parse target names.

    Returns
    -------
    tuple
        The targets (stable order, no repeats) and whether ``"all"`` was among them.

    Raises
    ------
    ExportError
        An unknown target name.
    """
    if ALL_TARGETS in requested:
        return tuple(SUPPORTED), True
    targets = []
    for t in requested:
        try:
            targets.append(Target(t))
        except ValueError:
            known = ", ".join([*(m.value for m in Target), ALL_TARGETS])
            raise ExportError(f"unknown target {t!r} (known: {known})") from None
    return tuple(dict.fromkeys(targets)), False


@dataclass(frozen=True)
class ExportConfig:
    """Everything one export run needs.

    Field ``metadata`` drives the command line (``cli.py``): ``flag`` is the option name,
    ``help`` its help text; fields without ``flag`` are not command-line options.

    Parameters
    ----------
    out
        Bundle folder to create. It is written only when every stage succeeded.
    checkpoint
        ``.pth`` file in the official ``vit_t`` layout; ``None`` means the embedded demo model.
    targets
        Targets to export; ``"all"`` means every target of ``SUPPORTED``.
    precisions
        Every combination ``targets x precisions`` is exported and must be in ``SUPPORTED``;
        empty: each target's :func:`default_precisions`.
    model
        Registry name of the architecture.
    image_size
        Side of the square encoder input; ``None``: 1024, or the embedded model's own size.
    verify
        Run the parity gate against PyTorch (strongly recommended).
    force
        Replace an existing ``out`` folder.
    threads
        Torch / ONNX Runtime intra-op threads during export and verification (``None``: library
        default).
    opset
        ONNX opset version.
    max_verify_images
        How many of the shared test images (``../shared/images``) verification uses in addition
        to the built-in synthetic images; ``0`` uses only the synthetic ones.
    """

    out: Path = field(metadata={"flag": "--out", "help": "bundle folder to create"})
    checkpoint: Path | None = field(
        default=None,
        metadata={"flag": "--checkpoint", "help": "checkpoint .pth (official vit_t layout)"},
    )
    targets: tuple[Target, ...] = field(
        default=(Target.ONNX,),
        metadata={
            "flag": "--target",
            "help": "graph format (repeatable; 'all': every target)",
            "extra_choices": (ALL_TARGETS,),
        },
    )
    precisions: tuple[Precision, ...] = field(
        default=(),
        metadata={
            "flag": "--precision",
            "help": "weight precision (repeatable; default: fp32 for onnx, int8 for coreml and "
            "tflite; with --target all also int8 for onnx)",
        },
    )
    model: str = field(default="vit_t", metadata={"flag": "--model", "help": "architecture"})
    image_size: int | None = field(
        default=None,
        metadata={
            "flag": "--image-size",
            "help": f"encoder input side (default {DEFAULT_IMAGE_SIZE})",
        },
    )
    verify: bool = field(
        default=True,
        metadata={"flag": "--no-verify", "help": "skip the parity check against PyTorch (unsafe)"},
    )
    force: bool = field(
        default=False, metadata={"flag": "--force", "help": "replace an existing --out folder"}
    )
    threads: int | None = field(
        default=None, metadata={"flag": "--threads", "help": "CPU threads for torch / onnxruntime"}
    )
    opset: int = DEFAULT_OPSET
    max_verify_images: int = 1
    # -- INT8 pass and golden vectors (tinysam_export.quantize, tinysam_mobile.golden) --
    calibration_dir: Path | None = field(
        default=None,
        metadata={
            "flag": "--calibration-dir",
            "help": "images to calibrate INT8 graphs on (default: a built-in synthetic set)",
        },
    )
    golden: bool = field(
        default=True,
        metadata={"flag": "--no-golden", "help": "do not write golden test vectors (DIR/golden)"},
    )
    combinations: tuple[tuple[Target, Precision], ...] = field(default=(), init=False)
    """Every (target, precision) pair to export, in a stable order (derived)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.calibration_dir is not None:
            object.__setattr__(self, "calibration_dir", Path(self.calibration_dir))
            if not self.calibration_dir.is_dir():
                raise ExportError(f"--calibration-dir {self.calibration_dir} is not a folder")
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))
        if not self.targets:
            raise ExportError("no target requested")
        targets, all_targets = resolve_targets(tuple(self.targets))
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "precisions", tuple(Precision(p) for p in self.precisions))
        pairs = [
            (t, p)
            for t in targets
            for p in (dict.fromkeys(self.precisions) or default_precisions(t, all_targets))
        ]
        for target, precision in pairs:
            check_supported(target, precision)
        object.__setattr__(self, "combinations", tuple(pairs))
        if self.image_size is not None:
            try:
                ModelGeometry(self.image_size)
            except ValueError as exc:
                raise ExportError(f"--image-size: {exc}") from None
        if self.threads is not None and self.threads < 1:
            raise ExportError(f"--threads must be >= 1, got {self.threads}")
        if self.opset < 17:
            raise ExportError(f"opset must be >= 17, got {self.opset}")
        if self.max_verify_images < 0:
            raise ExportError(f"max_verify_images must be >= 0, got {self.max_verify_images}")
