"""TFLite graph session (``ai-edge-litert``, the maintained successor of ``tflite-runtime``).

A TFLite file exported by ``tinysam_export.targets.tflite`` holds one signature per static input
shape: the encoder one (``serving_default``), the decoder one per ``(num_prompts, num_points)``
pair named ``p{B}_n{N}``. Signature inputs and outputs carry the spec's tensor names. ``run``
picks the signature for the point count and decodes a batch of prompts in chunks of the largest
available batch sizes, padding the last chunk with copies of its last prompt (each prompt is
decoded independently, so chunking does not change the result).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinysam_mobile.errors import BundleError, MissingDependencyError
from tinysam_mobile.session import GraphInputError, validate_inputs
from tinysam_mobile.spec import GraphName, GraphSpec

_DECODER_SIGNATURE = re.compile(r"^p(\d+)_n(\d+)$")


class TfliteSession:
    """A :class:`~tinysam_mobile.session.GraphSession` over a ``.tflite`` file.

    Parameters
    ----------
    path
        ``.tflite`` file.
    spec
        The graph's spec; every signature's input count and fixed dims are checked on load.
    threads
        Interpreter threads (``None``: the runtime's default).

    Raises
    ------
    MissingDependencyError
        ``ai-edge-litert`` is not installed.
    BundleError
        The file cannot be loaded or its signatures do not match the spec.
    """

    def __init__(self, path: str | Path, spec: GraphSpec, threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MissingDependencyError(
                "the TFLite runtime is not installed: pip install 'tinysam-mobile[tflite]'"
            ) from None
        self.spec = spec
        self.path = Path(path)
        try:
            self._interp = Interpreter(model_path=str(self.path), num_threads=threads)
        except Exception as exc:  # the interpreter raises ValueError / RuntimeError
            raise BundleError(f"TFLite could not load {self.path}: {exc}") from None
        self._runners = {}
        self._shapes: dict[tuple[int, int], str] = {}
        for name, sig in self._interp.get_signature_list().items():
            if set(sig["inputs"]) != set(spec.input_names) or not set(spec.output_names) <= set(
                sig["outputs"]
            ):
                raise BundleError(
                    f"{self.path.name} signature {name!r} has inputs {sorted(sig['inputs'])} / "
                    f"outputs {sorted(sig['outputs'])}; the {spec.name} spec has "
                    f"{sorted(spec.input_names)} / {sorted(spec.output_names)}"
                )
            self._runners[name] = self._interp.get_signature_runner(name)
            m = _DECODER_SIGNATURE.match(name)
            if m:
                self._shapes[(int(m.group(1)), int(m.group(2)))] = name
        if not self._runners:
            raise BundleError(f"{self.path} has no signature")
        if spec.name is GraphName.DECODER and not self._shapes:
            raise BundleError(f"{self.path} has no decoder signature named p<B>_n<N>")

    @property
    def point_counts(self) -> list[int]:
        """Point counts (padding included) the decoder file supports."""
        return sorted({n for _, n in self._shapes})

    def _call(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run signature ``name`` on arrays in the spec's input order; outputs in spec order."""
        out = self._runners[name](**dict(zip(self.spec.input_names, arrays, strict=True)))
        return [np.asarray(out[n]) for n in self.spec.output_names]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate the inputs against the spec, run, and return outputs by spec name."""
        validate_inputs(self.spec, inputs)
        arrays = [np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.spec.input_names]
        if self.spec.name is GraphName.ENCODER:
            outs = self._call(next(iter(self._runners)), arrays)
            return dict(zip(self.spec.output_names, outs, strict=True))
        emb, coords = arrays[0], arrays[1]
        b, n = coords.shape[0], coords.shape[1]
        sizes = sorted((bb for bb, nn in self._shapes if nn == n), reverse=True)
        if not sizes:
            raise GraphInputError(
                f"{self.path.name} has no decoder signature for {n} points (padding included); "
                f"supported point counts: {self.point_counts}"
            )
        chunks: list[list[np.ndarray]] = []
        start = 0
        while start < b:
            size = next((s for s in sizes if s <= b - start), None)
            if size is None:  # fewer prompts left than the smallest batch: pad with copies
                size = sizes[-1]
            part = [a[start : start + size] for a in arrays[1:]]
            real = part[0].shape[0]
            if real < size:
                part = [np.concatenate([p, np.repeat(p[-1:], size - real, axis=0)]) for p in part]
            outs = self._call(self._shapes[(size, n)], [emb, *part])
            chunks.append([o[:real] for o in outs])
            start += real
        return {
            name: np.concatenate([c[i] for c in chunks])
            for i, name in enumerate(self.spec.output_names)
        }
