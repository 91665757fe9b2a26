"""Prompt sampling from instance masks (numpy only; shared by training and evaluation).

Coordinates are ``(x, y)`` in the pixel frame of the mask that is passed in (for training
that is the model frame, ``image_size`` square; for evaluation the original image). A point at
``(x, y)`` names pixel column ``x``, row ``y``; the prompt encoder adds the half-pixel offset.
Boxes are ``(x0, y0, x1, y1)`` with inclusive pixel corners, as SAM's ``mask_to_box``.

Depth of a pixel inside a mask is measured by repeated 4-neighbour erosion with the image border
counted as outside (a city-block distance transform); the *deepest* pixel is the usual
"centre of the object" click of interactive-segmentation benchmarks (NoC protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _erode4(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:, :] &= mask[:-1, :]
    out[:-1, :] &= mask[1:, :]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[0, :] = False
    out[-1, :] = False
    out[:, 0] = False
    out[:, -1] = False
    return out


def depth_map(mask: np.ndarray) -> np.ndarray:
    """City-block distance of each mask pixel to the outside (border counts as outside).

    Parameters
    ----------
    mask
        bool array (H, W).

    Returns
    -------
    numpy.ndarray
        int32 (H, W): 0 outside the mask, 1 on its boundary, growing inwards.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    mask = mask.astype(bool)
    depth = np.zeros(mask.shape, dtype=np.int32)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return depth
    # work on the bounding box (plus a ring of background) only
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    cur = np.zeros((y1 - y0 + 2, x1 - x0 + 2), dtype=bool)
    cur[1:-1, 1:-1] = mask[y0:y1, x0:x1]
    # pixels on the image border are outside-adjacent: the padding ring is background there
    acc = np.zeros(cur.shape, dtype=np.int32)
    while cur.any():
        acc += cur
        cur = _erode4(cur)
    depth[y0:y1, x0:x1] = acc[1:-1, 1:-1]
    return depth


def deepest_point(mask: np.ndarray) -> tuple[int, int, int]:
    """The pixel deepest inside ``mask`` (the first in row-major order among ties).

    Returns
    -------
    tuple
        ``(x, y, depth)``; depth 0 means the mask is empty (then x = y = 0).
    """
    d = depth_map(mask)
    idx = int(np.argmax(d))
    y, x = divmod(idx, d.shape[1])
    return x, y, int(d[y, x])


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """Tight box (x0, y0, x1, y1), float32 (4,), inclusive pixel corners, of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("mask is empty; it has no box")
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float32)


def sample_positive_point(
    mask: np.ndarray, rng: np.random.Generator, interior: float = 0.0
) -> np.ndarray:
    """A random pixel of ``mask`` as float32 (2,) ``(x, y)``.

    Parameters
    ----------
    interior
        0 samples uniformly over the mask; a value in (0, 1] samples only pixels whose depth is
        at least ``interior`` times the maximum depth (points away from the boundary).
    """
    if interior > 0:
        d = depth_map(mask)
        cand = d >= max(1, int(np.ceil(interior * d.max())))
    else:
        cand = mask.astype(bool)
    ys, xs = np.nonzero(cand)
    if ys.size == 0:
        raise ValueError("mask is empty; cannot sample a positive point")
    i = int(rng.integers(0, ys.size))
    return np.array([xs[i], ys[i]], dtype=np.float32)


def jitter_box(
    box: np.ndarray,
    rng: np.random.Generator,
    hw: tuple[int, int],
    std_frac: float = 0.1,
    max_px: float = 20.0,
) -> np.ndarray:
    """Perturb each box coordinate by N(0, std_frac * side), clipped to ``max_px`` and the image.

    ``box`` is (4,) ``(x0, y0, x1, y1)``; ``hw`` the image (height, width). Returns float32 (4,)
    with x0 <= x1 and y0 <= y1.
    """
    w = float(box[2] - box[0] + 1)
    h = float(box[3] - box[1] + 1)
    noise = rng.normal(0.0, 1.0, 4) * std_frac * np.array([w, h, w, h])
    out = box + np.clip(noise, -max_px, max_px)
    out[[0, 2]] = np.clip(out[[0, 2]], 0, hw[1] - 1)
    out[[1, 3]] = np.clip(out[[1, 3]], 0, hw[0] - 1)
    x0, x1 = sorted((out[0], out[2]))
    y0, y1 = sorted((out[1], out[3]))
    return np.array([x0, y0, x1, y1], dtype=np.float32)


@dataclass(frozen=True)
class Click:
    """One corrective click: ``(x, y)`` pixel and label (1 positive, 0 negative)."""

    x: int
    y: int
    label: int


def sample_corrective_click(
    pred: np.ndarray, gt: np.ndarray, rng: np.random.Generator
) -> Click | None:
    """A click drawn uniformly from the error region of a prediction (SAM training).

    Parameters
    ----------
    pred, gt
        bool arrays (H, W): predicted and true mask in the same frame.

    Returns
    -------
    Click or None
        Positive if the pixel is a false negative (missed object), negative if a false positive;
        None when the prediction is already exact.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ in shape")
    err = pred != gt
    ys, xs = np.nonzero(err)
    if ys.size == 0:
        return None
    i = int(rng.integers(0, ys.size))
    y, x = int(ys[i]), int(xs[i])
    return Click(x, y, int(bool(gt[y, x])))


def center_corrective_click(pred: np.ndarray, gt: np.ndarray) -> Click | None:
    """The deterministic evaluation click: the deepest pixel of the error region.

    The false-negative and false-positive regions are measured separately; the click goes to the
    deepest pixel of whichever has the larger depth (the centre of the thickest error region,
    as in the NoC protocol of interactive segmentation). Positive on a false negative,
    negative on a false positive; None when the prediction is exact.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ in shape")
    gt = gt.astype(bool)
    pred = pred.astype(bool)
    fn = gt & ~pred
    fp = pred & ~gt
    fx, fy, fd = deepest_point(fn)
    px, py, pd = deepest_point(fp)
    if fd == 0 and pd == 0:
        return None
    if fd >= pd:
        return Click(fx, fy, 1)
    return Click(px, py, 0)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool masks of equal shape (1.0 when both are empty)."""
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(inter / union)
