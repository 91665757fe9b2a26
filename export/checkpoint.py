"""Loading and saving ``vit_t`` checkpoints in the official TinySAM / MobileSAM layout.

Files are read with ``torch.load(..., weights_only=True)`` only: a checkpoint is data, and a
file that needs arbitrary unpickling (a whole pickled model, such as Q-TinySAM's quantized
model) is refused with an explanation instead of being executed.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from tinysam_mobile.atomic import atomic_output

from .errors import CheckpointError
from .modeling.build import MODEL_REGISTRY, build_sam
from .modeling.sam import Sam
from .modeling.tiny_vit import TinyViT

UNUSED_PREFIXES = ("image_encoder.norm_head.", "image_encoder.head.")
"""TinyViT's classification head: present in the official checkpoints, unused by segmentation."""

_NESTING_KEYS = ("model", "state_dict")
_MAX_LISTED = 5


def _sniff(path: Path) -> str:
    """A short description of what a non-checkpoint file looks like, for error messages."""
    with path.open("rb") as f:
        head = f.read(512)
    if not head:
        return "it is empty"
    if head.startswith(b"\xff\xd8\xff"):
        return "it looks like a JPEG image"
    if head.startswith(b"\x89PNG"):
        return "it looks like a PNG image"
    if head.startswith(b"\x08") or b"onnx" in head[:64].lower():
        return "it may be an ONNX model"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "its contents are not a PyTorch checkpoint"
    return "it looks like a text file"


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.pth`` / ``.pt`` file.

    Parameters
    ----------
    path
        A file written by ``torch.save(state_dict)``, possibly nested under ``"model"`` or
        ``"state_dict"`` (training checkpoints); a ``"module."`` prefix on every key (from
        ``DistributedDataParallel``) is removed.

    Returns
    -------
    dict[str, torch.Tensor]
        On the CPU; floating tensors (fp16, bf16, fp64) cast to float32, integer tensors
        unchanged. Non-tensor entries are dropped.

    Raises
    ------
    CheckpointError
        The file is missing, is not a PyTorch checkpoint, is a pickled object (a whole
        model) rather than a state dict, or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if found:
            raise CheckpointError(
                f"{path} is a pickled Python object (it references {found.group(1)}), not a "
                "state dict: it was probably saved with torch.save(model) (e.g. Q-TinySAM's "
                "quantized model). Loading it would execute code from the file, so it is "
                "refused. A state_dict is needed: in a trusted environment, load it and save "
                "torch.save(model.state_dict(), 'weights.pth')."
            ) from None
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({_sniff(path)})") from None
    except Exception as e:  # torch raises many types for foreign files
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint ({_sniff(path)}; torch.load: "
            f"{type(e).__name__}: {str(e)[:120]})"
        ) from None

    for _ in range(3):  # unwrap {"model": {...}} / {"state_dict": {...}}, possibly twice
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _NESTING_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None:
                obj = inner
                continue
        break
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of names to tensors)"
        )
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        keys = ", ".join(map(str, list(obj)[:_MAX_LISTED])) or "none"
        raise CheckpointError(
            f"{path} holds a dict without tensors (keys: {keys}); expected a state dict, "
            f"possibly nested under {' or '.join(map(repr, _NESTING_KEYS))}"
        )
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}


def _list(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def check_state_dict(model: Sam, state: Mapping[str, torch.Tensor], source: str, name: str) -> None:
    """Raise :class:`CheckpointError` unless ``state`` matches ``model`` key for key and shape.

    The message names the first missing / unexpected keys and shape mismatches, and
    recognises SAM ViT-B/L/H checkpoints.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    parts = [f"{source} does not match the {name!r} architecture"]
    if any(k.startswith("image_encoder.blocks.") or k == "image_encoder.pos_embed" for k in state):
        parts.append(
            "it looks like a SAM ViT (vit_b/vit_l/vit_h) checkpoint; only "
            f"{', '.join(sorted(MODEL_REGISTRY))} (TinyViT) is supported"
        )
    if missing:
        parts.append(f"{len(missing)} missing keys: {_list(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys: {_list(unexpected)}")
    if mismatched:
        parts.append(f"{len(mismatched)} shape mismatches: {_list(mismatched)}")
    raise CheckpointError("; ".join(parts))


def load_model(
    path: str | os.PathLike[str], name: str = "vit_t", image_size: int | None = None
) -> Sam:
    """Build ``name`` and load a checkpoint into it strictly.

    Only TinyViT's unused classification head (:data:`UNUSED_PREFIXES`) is dropped; every
    other key must match in name and shape.

    The image size may differ from the one the checkpoint was trained at: no tensor of the
    ``vit_t`` layout depends on it (TinyViT's attention biases depend on the window size,
    the prompt encoder's positional encoding is a frequency matrix, the rest are convs and
    linears), so a 1024 checkpoint loads into a 256 or 512 model; windows are padded at the
    smaller grids. Accuracy at other sizes is whatever the weights give there.

    The attention-bias tables are gathered on every forward call (never cached), so the
    order of ``eval()`` and loading does not matter.

    Parameters
    ----------
    path
        Checkpoint file (see :func:`load_state_dict`).
    name
        Model registry name.
    image_size
        Encoder input side; None means ``tinysam_mobile.spec.DEFAULT_IMAGE_SIZE`` (1024).

    Returns
    -------
    Sam
        float32, CPU, eval mode.

    Raises
    ------
    CheckpointError
        The file is unusable (see :func:`load_state_dict`) or belongs to another
        architecture.
    """
    state = load_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith(UNUSED_PREFIXES)}
    model = build_sam(name) if image_size is None else build_sam(name, image_size)
    check_state_dict(model, state, str(path), name)
    model.load_state_dict(state, strict=True)
    return model.eval()


def save_state_dict(
    model: Sam, path: str | os.PathLike[str], dtype: torch.dtype | None = None
) -> Path:
    """Write ``model``'s weights in the official checkpoint layout.

    The file holds a flat state dict with the official keys, including TinyViT's unused
    classification head (``norm_head`` as ones/zeros, ``head`` as zeros: placeholders, so
    the official ``build_sam_vit_t`` loads the file strictly). It is written to a temporary
    file and renamed into place.

    Parameters
    ----------
    model
        The model to save.
    path
        Destination file.
    dtype
        Cast floating tensors to this dtype (e.g. ``torch.float16`` halves the file);
        None keeps float32. :func:`load_state_dict` casts back to float32.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    head: dict[str, torch.Tensor] = {}
    if isinstance(model.image_encoder, TinyViT):
        for key, shape in model.image_encoder.head_shapes.items():
            fill = 1.0 if key == "norm_head.weight" else 0.0
            head[f"image_encoder.{key}"] = torch.full(shape, fill, dtype=torch.float32)
    state: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        if head and k.startswith("image_encoder.neck."):  # official order: head before neck
            state.update(head)
            head = {}
        state[k] = v.detach().cpu().clone()
    state.update(head)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return path
