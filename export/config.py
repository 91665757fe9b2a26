"""Typed export configuration: targets, precisions, what is supported, and ``ExportConfig``.

``SUPPORTED`` is the single table of (target, precision) pairs the exporter can produce. A new
target is added in three places: a member of :class:`Target`, a row here, and an entry in
``tinysam_export.targets.TARGET_MODULES``. The command-line flags of ``tinysam-export`` are
derived from the fields of :class:`ExportConfig` (their ``metadata``), so a new option is a new
field.
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
    # H9: coreml int8 (int8 weights) converts, but fails the gate on the small models; see
    # docs/TARGETS.md
    Target.COREML: frozenset({Precision.FP32, Precision.FP16}),
}
"""Which precisions each target can currently produce; a target that is absent is unsupported."""

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
        raise ExportError(
            f"precision {precision.value!r} is not supported for target {target.value!r} "
            f"(supported: {ok})"
        )


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
    targets, precisions
        Every combination ``targets x precisions`` is exported; each must be in ``SUPPORTED``.
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
        metadata={"flag": "--target", "help": "graph format (repeatable)"},
    )
    precisions: tuple[Precision, ...] = field(
        default=(Precision.FP32,),
        metadata={"flag": "--precision", "help": "weight precision (repeatable)"},
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.calibration_dir is not None:
            object.__setattr__(self, "calibration_dir", Path(self.calibration_dir))
            if not self.calibration_dir.is_dir():
                raise ExportError(f"--calibration-dir {self.calibration_dir} is not a folder")
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))
        object.__setattr__(self, "targets", tuple(Target(t) for t in self.targets))
        object.__setattr__(self, "precisions", tuple(Precision(p) for p in self.precisions))
        if not self.targets:
            raise ExportError("no target requested")
        if not self.precisions:
            raise ExportError("no precision requested")
        for target in self.targets:
            for precision in self.precisions:
                check_supported(target, precision)
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

    @property
    def combinations(self) -> list[tuple[Target, Precision]]:
        """Every (target, precision) pair to export, in a stable order."""
        return [(t, p) for t in dict.fromkeys(self.targets) for p in dict.fromkeys(self.precisions)]
