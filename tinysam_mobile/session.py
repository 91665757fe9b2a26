"""Graph sessions: run one exported graph, with inputs checked against its manifest spec.

:class:`GraphSession` is the protocol the :class:`~tinysam_mobile.predictor.Predictor` and
everything mode run on; :class:`OrtSession` implements it with ONNX Runtime, tests use numpy
fakes and the exporter wraps torch modules. :func:`open_session` verifies a bundle artifact
(size + sha256) and opens the session that matches its target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import BundleError, MissingDependencyError, TinySamError
from .manifest import Artifact, load_manifest, verify_artifact
from .spec import GraphSpec, TensorSpec


class GraphInputError(TinySamError, ValueError):
    """Inputs given to a graph do not match its spec (names, dtypes, ranks or dimensions)."""


@runtime_checkable
class GraphSession(Protocol):
    """One runnable graph.

    Attributes
    ----------
    spec
        Input and output specs (names, shapes, dtypes) from the manifest.
    """

    spec: GraphSpec

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on named inputs; return the named outputs of ``spec.outputs``."""
        ...


def validate_inputs(spec: GraphSpec, inputs: dict[str, np.ndarray]) -> dict[str, int]:
    """Check inputs against a graph spec.

    Checks that the names are exactly the spec's, that dtypes and ranks match, that fixed
    dimensions have their value and that every symbolic dimension (``"num_prompts"``, ...) has
    one value across all inputs.

    Returns
    -------
    dict[str, int]
        The value bound to each symbolic dimension.

    Raises
    ------
    GraphInputError
        Naming the graph, the tensor and what differs.
    """
    g = spec.name
    missing = [n for n in spec.input_names if n not in inputs]
    extra = [n for n in inputs if n not in spec.input_names]
    if missing or extra:
        raise GraphInputError(
            f"{g} graph inputs: missing {missing or 'none'}, unexpected {extra or 'none'} "
            f"(expected {spec.input_names})"
        )
    bound: dict[str, int] = {}
    where: dict[str, str] = {}
    for t in spec.inputs:
        a = inputs[t.name]
        if not isinstance(a, np.ndarray):
            raise GraphInputError(
                f"{g} input {t.name!r} must be a numpy array, got {type(a).__name__}"
            )
        if a.dtype != np.dtype(t.dtype):
            raise GraphInputError(f"{g} input {t.name!r} must be {t.dtype}, got {a.dtype}")
        if a.ndim != len(t.shape):
            raise GraphInputError(
                f"{g} input {t.name!r} must have rank {len(t.shape)} {_fmt(t.shape)}, "
                f"got shape {a.shape}"
            )
        for axis, (want, got) in enumerate(zip(t.shape, a.shape, strict=True)):
            if isinstance(want, int):
                if want != got:
                    raise GraphInputError(
                        f"{g} input {t.name!r} dim {axis} must be {want} {_fmt(t.shape)}, "
                        f"got shape {a.shape}"
                    )
            elif want in bound and bound[want] != got:
                raise GraphInputError(
                    f"{g} input {t.name!r} dim {axis} ({want}) is {got} but {where[want]} "
                    f"has {want} = {bound[want]}"
                )
            else:
                bound[want] = got
                where.setdefault(want, repr(t.name))
    return bound


def _fmt(shape: tuple[int | str, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(bool)": "bool",
}


def _check_tensor(kind: str, graph: str, want: TensorSpec, got_shape: list, got_type: str) -> None:
    got_dtype = _ORT_DTYPES.get(got_type, got_type)
    if got_dtype != want.dtype:
        raise BundleError(
            f"{graph} graph {kind} {want.name!r} is {got_dtype} in the model but {want.dtype} "
            "in the manifest"
        )
    if len(got_shape) != len(want.shape):
        raise BundleError(
            f"{graph} graph {kind} {want.name!r} has rank {len(got_shape)} {got_shape} in the "
            f"model but {len(want.shape)} {_fmt(want.shape)} in the manifest"
        )
    for axis, (w, m) in enumerate(zip(want.shape, got_shape, strict=True)):
        if isinstance(w, int) and isinstance(m, int) and w != m:
            raise BundleError(
                f"{graph} graph {kind} {want.name!r} dim {axis} is {m} in the model but {w} in "
                "the manifest"
            )
        if kind == "input" and isinstance(w, str) and isinstance(m, int):
            raise BundleError(
                f"{graph} graph input {want.name!r} dim {axis} is fixed to {m} in the model but "
                f"the manifest declares it variable ({w})"
            )


class OrtSession:
    """A :class:`GraphSession` backed by ONNX Runtime (CPU).

    Parameters
    ----------
    path
        ``.onnx`` file.
    spec
        The graph's spec from the manifest; the model's inputs/outputs are checked against it
        on load (names, dtypes, ranks, fixed dimensions).
    threads
        ``intra_op_num_threads`` (``None``: ONNX Runtime's default).

    Raises
    ------
    BundleError
        When the file cannot be loaded or does not match the spec (naming the tensor).
    """

    def __init__(self, path: str | Path, spec: GraphSpec, threads: int | None = None) -> None:
        import onnxruntime as ort

        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.spec = spec
        self.path = Path(path)
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise BundleError(f"ONNX Runtime could not load {self.path}: {e}") from None
        self._check_signature()

    def _check_signature(self) -> None:
        g = str(self.spec.name)
        for kind, model_side, spec_side in (
            ("input", self._session.get_inputs(), self.spec.inputs),
            ("output", self._session.get_outputs(), self.spec.outputs),
        ):
            by_name = {m.name: m for m in model_side}
            want = [t.name for t in spec_side]
            if set(by_name) != set(want):
                raise BundleError(
                    f"{self.path.name}: {g} graph {kind}s are {sorted(by_name)} in the model but "
                    f"{sorted(want)} in the manifest"
                )
            for t in spec_side:
                m = by_name[t.name]
                _check_tensor(kind, g, t, list(m.shape), m.type)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate ``inputs`` against the spec, run, and return the outputs by name."""
        validate_inputs(self.spec, inputs)
        names = self.spec.output_names
        outs = self._session.run(names, inputs)
        return dict(zip(names, outs, strict=True))


def open_session(
    bundle_dir: str | Path,
    artifact: Artifact,
    threads: int | None = None,
    spec: GraphSpec | None = None,
) -> GraphSession:
    """Verify an artifact (size, sha256) and open a session for it.

    Parameters
    ----------
    bundle_dir
        Bundle folder.
    artifact
        Entry of the manifest to open.
    threads
        Intra-op threads (``None``: runtime default).
    spec
        The graph's spec; read from the bundle's manifest when ``None``.

    Raises
    ------
    BundleError
        Missing / truncated / tampered file, graph not matching the spec, unknown target.
    MissingDependencyError
        The target's runtime is not installed.
    """
    path = verify_artifact(bundle_dir, artifact)
    if spec is None:
        spec = load_manifest(bundle_dir).graphs[artifact.graph]
    if artifact.target == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:  # pragma: no cover - a core dependency
            raise MissingDependencyError(
                "onnxruntime is not installed: pip install tinysam-mobile (it is a core dependency)"
            ) from None
        return OrtSession(path, spec, threads=threads)
    if artifact.target == "tflite":  # H8: tinysam_mobile.backends.tflite (ai-edge-litert)
        from tinysam_mobile.backends.tflite import TfliteSession

        return TfliteSession(path, spec, threads=threads)
    if artifact.target == "coreml":  # H9: tinysam_mobile.backends.coreml (macOS only)
        from tinysam_mobile.backends.coreml import CoreMLSession

        return CoreMLSession(path, spec, threads=threads)
    raise BundleError(
        f"target {artifact.target!r} of {artifact.file} is not supported by this runtime "
        "(supported: onnx, tflite, coreml)"
    )
