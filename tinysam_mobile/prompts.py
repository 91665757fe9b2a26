"""Prompt validation and encoding into the decoder graph's inputs.

Encoding (as the official predictor feeds the prompt encoder): points first, in the model
frame; a box becomes its two corners labelled 2 and 3, appended after the points; a prompt
without a box gets one padding point (0, 0) labelled -1. Points and boxes must lie inside the
image, in the closed range ``[0, W] x [0, H]`` of original-image pixels (SAM itself accepts
anything; we refuse coordinates outside the image and name the offending point).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import PromptError
from .spec import BOX_LABELS, PAD_LABEL
from .transforms import coords_image_to_model


def _as_float_array(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise PromptError(f"{what} must be numeric, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise PromptError(f"{what} contains NaN or infinite values: {arr.tolist()}")
    return arr


def _check_inside(xy: np.ndarray, original_hw: tuple[int, int], what: str) -> None:
    h, w = original_hw
    for i, (x, y) in enumerate(xy):
        if not (0.0 <= x <= w and 0.0 <= y <= h):
            raise PromptError(
                f"{what} {i} at (x={x:g}, y={y:g}) lies outside the {w}x{h} image "
                f"(allowed: 0 <= x <= {w}, 0 <= y <= {h})"
            )


def validate_points(
    point_coords: Any, point_labels: Any, original_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Check points and labels; return float64 (N, 2) image-frame coords and (N,) labels.

    Raises
    ------
    PromptError
        Coordinates without labels (or the reverse), wrong shapes, length mismatch, NaN/inf,
        labels other than 0/1, points outside the image.
    """
    if point_coords is None and point_labels is None:
        return np.zeros((0, 2)), np.zeros((0,))
    if point_coords is None:
        raise PromptError("point_labels were given without point_coords")
    if point_labels is None:
        raise PromptError(
            "point_coords were given without point_labels (1 = foreground, 0 = background)"
        )
    coords = _as_float_array(point_coords, "point_coords")
    labels = _as_float_array(point_labels, "point_labels")
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise PromptError(f"point_coords must have shape (N, 2), got {coords.shape}")
    if labels.ndim != 1:
        raise PromptError(f"point_labels must have shape (N,), got {labels.shape}")
    if len(coords) != len(labels):
        raise PromptError(
            f"point_coords has {len(coords)} points but point_labels has {len(labels)} labels"
        )
    if len(coords) == 0:
        raise PromptError("point_coords is empty; pass None for no points")
    bad = [i for i, v in enumerate(labels) if v not in (0.0, 1.0)]
    if bad:
        raise PromptError(
            f"point label {labels[bad[0]]:g} at index {bad[0]} is not 0 (background) or 1 (foreground)"
        )
    _check_inside(coords, original_hw, "point")
    return coords, labels


def validate_box(box: Any, original_hw: tuple[int, int]) -> np.ndarray | None:
    """Check an XYXY box in image pixels; return float64 (4,) or ``None``.

    Accepts shape (4,) or (1, 4).
    """
    if box is None:
        return None
    b = _as_float_array(box, "box")
    if b.shape == (1, 4):
        b = b[0]
    if b.shape != (4,):
        raise PromptError(f"box must have shape (4,) or (1, 4) as x0, y0, x1, y1, got {b.shape}")
    x0, y0, x1, y1 = b
    if x1 < x0 or y1 < y0:
        raise PromptError(f"box {b.tolist()} has x1 < x0 or y1 < y0 (expected x0, y0, x1, y1)")
    _check_inside(b.reshape(2, 2), original_hw, "box corner")
    return b


def encode_prompt(
    original_hw: tuple[int, int],
    image_size: int,
    point_coords: Any = None,
    point_labels: Any = None,
    box: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a prompt and encode it as the decoder graph's point inputs.

    Parameters
    ----------
    original_hw
        (H, W) of the original image.
    image_size
        Side ``S`` of the encoder input.
    point_coords
        (N, 2) x, y in original-image pixels, or ``None``.
    point_labels
        (N,) 1 (foreground) or 0 (background), or ``None``.
    box
        (4,) or (1, 4) x0, y0, x1, y1 in original-image pixels, or ``None``.

    Returns
    -------
    (coords, labels)
        float32 (1, M, 2) model-frame coordinates and float32 (1, M) labels: the points, then
        the box corners (labels 2, 3) or, without a box, one (0, 0) point labelled -1.
    """
    coords, labels = validate_points(point_coords, point_labels, original_hw)
    b = validate_box(box, original_hw)
    if len(coords) == 0 and b is None:
        raise PromptError("empty prompt: give point_coords + point_labels and/or a box")
    if b is not None:
        coords = np.concatenate([coords, b.reshape(2, 2)], axis=0)
        labels = np.concatenate([labels, np.asarray(BOX_LABELS, dtype=np.float64)])
    coords_model = coords_image_to_model(coords, original_hw, image_size)
    if b is None:
        coords_model = np.concatenate([coords_model, np.zeros((1, 2))], axis=0)
        labels = np.concatenate([labels, [PAD_LABEL]])
    return coords_model[None].astype(np.float32), labels[None].astype(np.float32)


def prepare_mask_input(
    mask_input: Any, low_res_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Shape a previous prediction's low-res logits as the decoder's mask input.

    Parameters
    ----------
    mask_input
        Low-res logits of shape (h, w), (1, h, w) or (1, 1, h, w) (what ``predict`` returned
        as ``low_res_logits[i]``), or ``None``.
    low_res_hw
        (h, w) the decoder expects (256x256 for image_size 1024).

    Returns
    -------
    (mask, has_mask)
        float32 (1, 1, h, w) (zeros when ``None``) and float32 (1,) (1.0 when given, else 0.0).
    """
    h, w = low_res_hw
    if mask_input is None:
        return np.zeros((1, 1, h, w), np.float32), np.zeros((1,), np.float32)
    m = _as_float_array(mask_input, "mask_input")
    if m.shape not in ((h, w), (1, h, w), (1, 1, h, w)):
        raise PromptError(
            f"mask_input must have shape ({h}, {w}), (1, {h}, {w}) or (1, 1, {h}, {w}) "
            f"(one low-res logit map of a previous predict), got {m.shape}"
        )
    return m.reshape(1, 1, h, w).astype(np.float32), np.ones((1,), np.float32)
