"""Registry of export targets.

Every target module exposes the same two functions:

- ``convert(graph: nn.Module, spec: GraphSpec, out_dir: Path, opts: ConvertOptions) -> Path``:
  writes ``out_dir / artifact_name(spec.name, opts.precision, SUFFIX)`` and returns its path;
- ``tool_versions() -> dict[str, str]``: versions of the converters it used (for the manifest);
- optionally ``quantization_record(precision) -> dict | None``: the manifest's
  ``artifacts[].quantization`` when ``convert`` itself quantises (TFLite int8).

Target modules are imported lazily (``load_target``), so a missing optional converter
(coremltools, the TFLite converter) only matters when that target is requested; the pipeline
calls :func:`check_requirements` before its first stage, so a missing one is reported up front,
naming the pip extra, instead of after minutes of conversion. Adding a target is one entry in
``TARGET_MODULES`` and ``TARGET_REQUIREMENTS`` plus its row in
``tinysam_export.config.SUPPORTED``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, cast

from tinysam_export.config import DEFAULT_OPSET, Precision, Target
from tinysam_export.errors import ExportError
from tinysam_mobile.errors import MissingDependencyError

if TYPE_CHECKING:
    from torch import nn

    from tinysam_mobile.spec import GraphSpec

TARGET_MODULES: dict[Target, str] = {
    Target.ONNX: "tinysam_export.targets.onnx",
    Target.COREML: "tinysam_export.targets.coreml",  # H9
    Target.TFLITE: "tinysam_export.targets.tflite",
}
"""Module implementing each target (imported on first use)."""

TARGET_REQUIREMENTS: dict[Target, tuple[tuple[str, str], ...]] = {
    Target.ONNX: (("onnx", "export"), ("onnxscript", "export"), ("onnxslim", "export")),
    Target.COREML: (("coremltools", "coreml"),),
    Target.TFLITE: (
        ("litert_torch", "tflite-export"),
        ("ai_edge_quantizer", "tflite-export"),
        ("ai_edge_litert", "tflite-export"),  # the runtime, for verification
    ),
}
"""(importable module, pip extra that installs it) that converting and verifying a target needs."""


def check_requirements(targets: Iterable[Target]) -> None:
    """Raise unless every module the ``targets`` need can be imported.

    Raises
    ------
    MissingDependencyError
        Naming each target with missing modules and the extra to install,
        e.g. ``pip install 'tinysam-mobile[tflite-export]'``.
    """
    problems = []
    for target in dict.fromkeys(Target(t) for t in targets):
        missing = [
            (module, extra)
            for module, extra in TARGET_REQUIREMENTS.get(target, ())
            if importlib.util.find_spec(module) is None
        ]
        if missing:
            extras = " ".join(
                f"'tinysam-mobile[{e}]'" for e in dict.fromkeys(e for _, e in missing)
            )
            modules = ", ".join(m for m, _ in missing)
            problems.append(f"{target.value} needs {modules}: pip install {extras}")
    if problems:
        raise MissingDependencyError(
            "converters not installed for the requested targets: "
            + "; ".join(problems)
            + " (or leave these targets out of --target)"
        )


@dataclass(frozen=True)
class ConvertOptions:
    """Options shared by every target's ``convert``.

    Parameters
    ----------
    precision
        Precision of the artifact to write (the float conversion; INT8 is a separate pass).
    opset
        ONNX opset (ignored by targets that do not emit ONNX).
    threads
        CPU threads a converter may use (``None``: its default).
    """

    precision: Precision = Precision.FP32
    opset: int = DEFAULT_OPSET
    threads: int | None = None


class TargetModule(Protocol):
    """What a target module provides."""

    SUFFIX: str

    def convert(
        self, graph: nn.Module, spec: GraphSpec, out_dir: Path, opts: ConvertOptions
    ) -> Path:
        """Convert ``graph`` and return the written file."""
        ...

    def tool_versions(self) -> dict[str, str]:
        """Versions of the tools the conversion uses."""
        ...


def artifact_name(graph: str, precision: Precision | str, suffix: str) -> str:
    """File name of an artifact inside its target folder, e.g. ``encoder.fp32.onnx``."""
    return f"{graph}.{Precision(precision).value}{suffix}"


def load_target(target: Target | str) -> TargetModule:
    """Import and return the module implementing ``target``.

    Raises
    ------
    ExportError
        If no module is registered for ``target``.
    """
    target = Target(target)
    name = TARGET_MODULES.get(target)
    if name is None:
        raise ExportError(f"no converter is registered for target {target.value!r}")
    module: ModuleType = importlib.import_module(name)
    return cast("TargetModule", module)
