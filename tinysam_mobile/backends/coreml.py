"""CoreML graph session (``coremltools.models.MLModel.predict``), macOS only.

A ``.mlpackage`` exported by ``tinysam_export.targets.coreml`` has the spec's input and output
names, float32 inputs and outputs, and ``num_prompts`` / ``num_points`` ranges on the decoder.
coremltools can build and inspect packages on every platform, but only macOS has the CoreML
framework that executes them; elsewhere :class:`CoreMLSession` refuses with
:class:`~tinysam_mobile.errors.MissingDependencyError`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tinysam_mobile.errors import BundleError, MissingDependencyError
from tinysam_mobile.session import validate_inputs
from tinysam_mobile.spec import GraphSpec


class CoreMLSession:
    """A :class:`~tinysam_mobile.session.GraphSession` over a ``.mlpackage``.

    Parameters
    ----------
    path
        The ``.mlpackage`` folder.
    spec
        The graph's spec; input and output names are checked on load.
    threads
        Ignored (CoreML schedules its own threads); accepted for a uniform signature.

    Raises
    ------
    MissingDependencyError
        Not on macOS, or coremltools is not installed.
    BundleError
        The package cannot be loaded or its names differ from the spec.
    """

    def __init__(self, path: str | Path, spec: GraphSpec, threads: int | None = None) -> None:
        del threads
        if sys.platform != "darwin":
            raise MissingDependencyError(
                f"CoreML models run only on macOS (this is {sys.platform}); use the onnx or "
                "tflite artifacts of the bundle here"
            )
        try:
            import coremltools as ct
        except ImportError:
            raise MissingDependencyError(
                "the CoreML backend needs coremltools: pip install 'tinysam-mobile[coreml]'"
            ) from None
        self.spec = spec
        self.path = Path(path)
        try:
            self._model = ct.models.MLModel(str(self.path))
        except Exception as e:  # coremltools raises many types
            raise BundleError(f"CoreML could not load {self.path}: {e}") from None
        desc = self._model.get_spec().description
        for kind, got, want in (
            ("input", [f.name for f in desc.input], spec.input_names),
            ("output", [f.name for f in desc.output], spec.output_names),
        ):
            if sorted(got) != sorted(want):
                raise BundleError(
                    f"{self.path.name}: {spec.name} graph {kind}s are {sorted(got)} in the model "
                    f"but {sorted(want)} in the manifest"
                )

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate ``inputs`` against the spec, predict, and return float32 outputs by name."""
        validate_inputs(self.spec, inputs)
        feeds = {
            k: np.ascontiguousarray(inputs[k], dtype=np.float32) for k in self.spec.input_names
        }
        out = self._model.predict(feeds)
        return {n: np.asarray(out[n], dtype=np.float32) for n in self.spec.output_names}
