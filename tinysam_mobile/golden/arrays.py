"""Array references of the golden-vector files: writing, reading and comparing.

An array inside a golden JSON file is one of three objects (see ``docs/GOLDEN.md``):

- file: ``{"file": "bin/x.bin", "dtype": ..., "shape": [...]}``, raw little-endian C-order bytes;
  dtype ``bits`` is a boolean array packed 8 per byte, most significant bit first;
- fill: ``{"fill": 0.0, "dtype": ..., "shape": [...]}``, a constant array;
- digest: ``{"sha256": ..., "dtype": ..., "shape": [...], "samples": {"index", "values"}}`` for
  arrays too large to store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.errors import BundleError

DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
}
"""Stored dtypes (``bits`` is handled apart)."""

FLOAT_RTOL = 1e-5
"""Relative tolerance of float comparisons."""

FLOAT_ATOL_SCALE = 1e-5
"""Absolute tolerance of float comparisons, times ``max(1, max abs of the stored array)``."""

MASK_MISMATCH_FRACTION = 1e-4
"""Largest fraction of differing pixels allowed between two binary masks."""

NUM_SAMPLES = 64
"""Sampled positions stored in a digest reference."""


def _as_stored(array: np.ndarray, dtype: str) -> np.ndarray:
    a = np.asarray(array)
    if dtype == "bits":
        return a.astype(bool)
    if dtype not in DTYPES:
        raise ValueError(f"unknown golden dtype {dtype!r} (known: bits, {', '.join(DTYPES)})")
    return np.ascontiguousarray(a.astype(DTYPES[dtype]))


def array_bytes(array: np.ndarray, dtype: str) -> bytes:
    """Little-endian bytes of ``array`` stored as ``dtype`` (``bits`` packed MSB first)."""
    a = _as_stored(array, dtype)
    if dtype == "bits":
        return np.packbits(a.reshape(-1), bitorder="big").tobytes()
    return a.tobytes()


def sample_positions(shape: tuple[int, ...], n: int = NUM_SAMPLES, seed: int = 0) -> np.ndarray:
    """Deterministic sample positions ``int (min(n, size), ndim)`` of an array of ``shape``.

    The first and last elements are always included; the rest are drawn with a fixed seed.
    """
    size = int(np.prod(shape))
    if size == 0:
        return np.zeros((0, len(shape)), dtype=np.int64)
    flat = np.random.default_rng(seed).choice(size, size=min(n, size), replace=False)
    flat[0] = 0
    if flat.size > 1:
        flat[-1] = size - 1
    return np.stack(np.unravel_index(np.sort(flat), shape), axis=1).astype(np.int64)


@dataclass
class ArrayWriter:
    """Writes arrays under ``root / "bin"`` and returns their JSON references.

    Parameters
    ----------
    root
        The ``golden/`` folder.
    max_file_bytes
        Arrays larger than this become digests when the caller allows it (``digest_ok``).
    """

    root: Path
    max_file_bytes: int = 1 << 20
    bytes_written: int = 0
    _shared: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def put(
        self,
        name: str,
        array: np.ndarray,
        dtype: str,
        digest_ok: bool = False,
        dedupe: bool = False,
    ) -> dict:
        """Store ``array`` as ``bin/<name>.bin`` (or as a digest) and return its reference.

        Parameters
        ----------
        name
            File stem, unique inside the golden folder.
        array
            The values; converted to ``dtype``.
        dtype
            ``float32``, ``int32``, ``uint8`` or ``bits``.
        digest_ok
            Allow a digest instead of a file when the bytes exceed ``max_file_bytes``.
        dedupe
            Reuse the file of an earlier ``dedupe`` array with the same dtype and bytes (the
            reference then names that file; the shape is this array's).
        """
        a = _as_stored(array, dtype)
        data = array_bytes(a, dtype)
        ref: dict[str, Any] = {"dtype": dtype, "shape": [int(s) for s in a.shape]}
        if digest_ok and len(data) > self.max_file_bytes:
            idx = sample_positions(a.shape)
            ref["sha256"] = hashlib.sha256(data).hexdigest()
            ref["samples"] = {
                "index": idx.tolist(),
                "values": [_scalar(a[tuple(i)]) for i in idx],
            }
            return ref
        rel = f"bin/{name}.bin"
        if dedupe:
            key = (dtype, hashlib.sha256(data).hexdigest())
            if key in self._shared:
                ref["file"] = self._shared[key]
                return ref
            self._shared[key] = rel
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.bytes_written += len(data)
        ref["file"] = rel
        return ref

    @staticmethod
    def fill(value: float, dtype: str, shape: tuple[int, ...]) -> dict:
        """Reference of a constant array."""
        return {"fill": value, "dtype": dtype, "shape": [int(s) for s in shape]}


def _scalar(v: Any) -> float | int | bool:
    return v.item() if hasattr(v, "item") else v


def load_array(root: Path, ref: dict) -> np.ndarray:
    """Read a file or fill reference (a digest cannot be read back: use :func:`check_array`).

    Raises
    ------
    BundleError
        If the file is missing or its size does not match ``shape`` and ``dtype``.
    """
    dtype = ref["dtype"]
    shape = tuple(int(s) for s in ref["shape"])
    if "fill" in ref:
        np_dtype = bool if dtype == "bits" else DTYPES[dtype]
        return np.full(shape, ref["fill"], dtype=np_dtype)
    if "file" not in ref:
        raise BundleError(f"golden array reference has no file to read: {sorted(ref)}")
    path = Path(root) / ref["file"]
    if not path.is_file():
        raise BundleError(f"golden array file is missing: {path}")
    data = path.read_bytes()
    size = int(np.prod(shape))
    if dtype == "bits":
        expected = (size + 7) // 8
        if len(data) != expected:
            raise BundleError(f"{path}: {len(data)} bytes, expected {expected} for bits {shape}")
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="big")[:size]
        return bits.astype(bool).reshape(shape)
    expected = size * DTYPES[dtype].itemsize
    if len(data) != expected:
        raise BundleError(f"{path}: {len(data)} bytes, expected {expected} for {dtype} {shape}")
    return np.frombuffer(data, DTYPES[dtype]).reshape(shape).copy()


def compare(what: str, actual: np.ndarray, expected: np.ndarray, dtype: str) -> list[str]:
    """Compare two arrays with the golden tolerances; return failure messages (empty: equal).

    Parameters
    ----------
    what
        Name used in messages (file and field).
    actual
        Recomputed values.
    expected
        Stored values.
    dtype
        Stored dtype, which selects the rule: floats within ``FLOAT_RTOL`` / ``FLOAT_ATOL_SCALE``,
        ``bits`` within ``MASK_MISMATCH_FRACTION``, integers exact.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        return [f"{what}: shape {a.shape} != stored {e.shape}"]
    if dtype == "float32":
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        scale = max(1.0, float(np.abs(e64).max(initial=0.0)))
        tol = FLOAT_RTOL * np.abs(e64) + FLOAT_ATOL_SCALE * scale
        bad = ~(np.abs(a64 - e64) <= tol)
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            return [
                f"{what}: {int(bad.sum())} of {e.size} values off tolerance, first at {i}: "
                f"{a64[i]!r} vs stored {e64[i]!r}"
            ]
        return []
    if dtype == "bits":
        diff = int(np.count_nonzero(a.astype(bool) != e.astype(bool)))
        if diff > MASK_MISMATCH_FRACTION * max(e.size, 1):
            return [f"{what}: {diff} of {e.size} mask pixels differ"]
        return []
    if not np.array_equal(a, e):
        i = tuple(int(v) for v in np.argwhere(a != e)[0])
        return [f"{what}: integer values differ, first at {i}: {a[i]!r} vs stored {e[i]!r}"]
    return []


def check_array(root: Path, what: str, actual: np.ndarray, ref: dict) -> list[str]:
    """Compare recomputed ``actual`` with a stored reference of any form.

    A digest is compared byte-exactly (sha256 of the little-endian bytes of ``actual`` as the
    stored dtype) and its samples with the dtype's tolerance.
    """
    dtype = ref["dtype"]
    shape = tuple(int(s) for s in ref["shape"])
    a = np.asarray(actual)
    if a.shape != shape:
        return [f"{what}: shape {a.shape} != stored {shape}"]
    if "sha256" in ref:
        failures = []
        digest = hashlib.sha256(array_bytes(a, dtype)).hexdigest()
        if digest != ref["sha256"]:
            failures.append(f"{what}: sha256 {digest[:12]}... != stored {ref['sha256'][:12]}...")
        idx = np.asarray(ref["samples"]["index"], dtype=np.int64).reshape(-1, len(shape))
        got = np.asarray([a[tuple(i)] for i in idx])
        want = np.asarray(ref["samples"]["values"])
        failures += compare(f"{what} samples", got, want, dtype)
        return failures
    return compare(what, a, load_array(root, ref), dtype)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (floats keep their full float32 round-trip precision)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def read_json(path: Path) -> Any:
    """Read a golden JSON file, raising :class:`BundleError` with the path when it is bad."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BundleError(f"golden file is missing: {path}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"golden file is not valid JSON: {path}: {exc}") from None
