"""Write ``.tflite`` flatbuffers with every repeated table and vector stored once.

The converter and the quantizer write each subgraph's tables in full. A decoder file with six
signatures therefore stores each weight's per-channel quantisation parameters (float32 scales
and int64 zero points, 12 bytes per channel) six times, and every weight tensor's zero-point
vector even though all of them are zeros: about 0.9 MB of the int8 decoder at 1024, more than
the whole margin between the weights and the 10.5 MB size target.

FlatBuffers allows any number of references to one table or vector: an offset is an offset.
:func:`compact_bytes` packs the object API's model (``schema_py_generated.ModelT``) with a
memo keyed by *content*, so every table (tensor, quantisation parameters, operator, options,
...) and every numeric vector (scales, zero points, shapes, operator inputs) that already
exists in the file is referenced instead of written again. The interpreter reads the same
model: tensors, buffers and operators keep their indices, and the outputs are bit-identical
(tested); the interpreter's FlatBuffers verifier accepts the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TFLITE_FILE_IDENTIFIER = b"TFL3"


def _content_key(value: Any) -> Any:
    """A hashable key equal for equal object-API values (tables, vectors, scalars)."""
    if isinstance(value, np.ndarray):
        return ("nd", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.tobytes())
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_content_key(v) for v in value))
    if _is_table(value):
        fields = sorted((k, v) for k, v in vars(value).items() if k != "Pack")
        return (type(value).__name__, tuple((k, _content_key(v)) for k, v in fields))
    if value is None or isinstance(value, (bytes, str, int, float, bool)):
        return (type(value).__name__, value)
    raise TypeError(f"unexpected value in a TFLite model object: {type(value).__name__}")


def _is_table(value: Any) -> bool:
    return hasattr(type(value), "Pack")


def _share_tables(obj: Any, memo: dict[Any, int], *, root: bool = True) -> Any:
    """Give every table below ``obj`` a ``Pack`` that reuses the offset of an equal table.

    Children first: a parent's key covers its children's content, so equal parents are found
    whatever the memo holds for their children. The root (the model) is packed as usual.
    """
    for field, value in list(vars(obj).items()):
        if isinstance(value, memoryview):  # buffers / custom options read from a mapped file
            setattr(obj, field, np.frombuffer(value, dtype=np.uint8))
            continue
        children = value if isinstance(value, list) else [value]
        for child in children:
            if _is_table(child):
                _share_tables(child, memo, root=False)
    if root:
        return obj
    key = _content_key(obj)
    pack_fresh = type(obj).Pack

    def pack(builder: Any) -> int:
        offset = memo.get(key)
        if offset is None:
            offset = memo[key] = pack_fresh(obj, builder)
        return offset

    obj.Pack = pack  # instance attribute: the generated parent code calls child.Pack(builder)
    return obj


def _builder(initial_size: int = 1 << 20) -> Any:
    import flatbuffers

    class _SharedVectorBuilder(flatbuffers.Builder):
        """A builder that writes each distinct numeric vector once."""

        def __init__(self, size: int) -> None:
            super().__init__(size)
            self._vectors: dict[tuple[str, bytes], int] = {}

        def CreateNumpyVector(self, x: np.ndarray) -> int:  # flatbuffers API name
            key = (x.dtype.str, x.tobytes())
            offset = self._vectors.get(key)
            if offset is None:
                offset = self._vectors[key] = super().CreateNumpyVector(x)
            return offset

    return _SharedVectorBuilder(initial_size)


def compact_bytes(model: Any) -> bytearray:
    """Serialise an object-API ``ModelT`` with repeated tables and vectors shared.

    ``model`` is modified (its tables get memoising ``Pack`` methods); read it again to reuse
    it.
    """
    builder = _builder()
    root = _share_tables(model, {})
    builder.Finish(root.Pack(builder), file_identifier=TFLITE_FILE_IDENTIFIER)
    return builder.Output()


def write_compact(model: Any, path: Path) -> None:
    """Write ``model`` (object-API ``ModelT``) to ``path`` with :func:`compact_bytes`."""
    import sys

    if sys.byteorder != "little":  # the object API holds host-order arrays
        raise RuntimeError("writing .tflite files needs a little-endian host")
    Path(path).write_bytes(compact_bytes(model))
