"""Mask utilities: stability score, boxes, box NMS, and run-length encodings.

Numpy only. The semantics follow SAM's automatic-mask-generator helpers (``amg.py``) so that
records are interchangeable with SAM's, and the COCO RLE string is byte-compatible with
pycocotools (which this module does not import).

Conventions
-----------
- Masks are boolean arrays ``(..., H, W)``; logits are float ``(..., H, W)``.
- Boxes are ``XYXY`` with inclusive pixel indices (``x1`` is the last column that holds a mask
  pixel), as SAM's ``batched_mask_to_box``; their area is ``(x1 - x0) * (y1 - y0)``.
- Run-length encodings run over the mask in column-major (Fortran) order and start with a run of
  zeros (of length 0 when the first pixel is set), as COCO and SAM do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "area_from_rle",
    "box_area",
    "box_iou",
    "box_nms",
    "box_xyxy_to_xywh",
    "coco_rle_decode",
    "coco_rle_encode",
    "is_box_near_crop_edge",
    "mask_to_box",
    "mask_to_rle",
    "rle_counts",
    "rle_to_coco",
    "rle_to_mask",
    "stability_score",
]


def stability_score(logits: np.ndarray, mask_threshold: float, offset: float) -> np.ndarray:
    """Stability of the binary mask under a shift of the logit cutoff (SAM's definition).

    Parameters
    ----------
    logits
        Float mask logits ``(..., H, W)`` in any frame.
    mask_threshold
        Logit cutoff of the binary mask (0.0 for SAM-family models).
    offset
        Shift of the cutoff (SAM's ``stability_score_offset``).

    Returns
    -------
    np.ndarray
        float32 ``(...)``: ``count(logits > thr + offset) / count(logits > thr - offset)``.
        Where the denominator is 0 (no pixel above ``thr - offset``) the score is 0.0; SAM
        produces NaN there, which fails every threshold just the same.
    """
    x = np.asarray(logits)
    if x.ndim < 2:
        raise ValueError(f"logits must have shape (..., H, W), got {x.shape}")
    inter = np.count_nonzero(x > (mask_threshold + offset), axis=(-2, -1))
    union = np.count_nonzero(x > (mask_threshold - offset), axis=(-2, -1))
    out = np.zeros(np.shape(inter), dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out.astype(np.float32)


def mask_to_box(masks: np.ndarray) -> np.ndarray:
    """Tight boxes around boolean masks.

    Parameters
    ----------
    masks
        bool ``(..., H, W)``.

    Returns
    -------
    np.ndarray
        int64 ``(..., 4)`` XYXY with inclusive max indices; all zeros for an empty mask.
    """
    m = np.asarray(masks, dtype=bool)
    if m.ndim < 2:
        raise ValueError(f"masks must have shape (..., H, W), got {m.shape}")
    h, w = m.shape[-2:]
    if h == 0 or w == 0:
        return np.zeros((*m.shape[:-2], 4), dtype=np.int64)
    cols = m.any(axis=-2)  # (..., W)
    rows = m.any(axis=-1)  # (..., H)
    x0 = np.argmax(cols, axis=-1)
    x1 = w - 1 - np.argmax(cols[..., ::-1], axis=-1)
    y0 = np.argmax(rows, axis=-1)
    y1 = h - 1 - np.argmax(rows[..., ::-1], axis=-1)
    boxes = np.stack([x0, y0, x1, y1], axis=-1).astype(np.int64)
    boxes[~cols.any(axis=-1)] = 0
    return boxes


def box_xyxy_to_xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    """Convert ``(..., 4)`` XYXY boxes to XYWH with ``w = x1 - x0`` (SAM's convention)."""
    b = np.array(boxes_xyxy, copy=True)
    b[..., 2] = b[..., 2] - b[..., 0]
    b[..., 3] = b[..., 3] - b[..., 1]
    return b


def box_area(boxes_xyxy: np.ndarray) -> np.ndarray:
    """Areas ``(x1 - x0) * (y1 - y0)`` of ``(N, 4)`` boxes, float64 ``(N,)``."""
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of XYXY boxes, float64 ``(N, M)``; 0/0 gives NaN like torchvision."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def box_nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression (torchvision ``nms`` / one-category ``batched_nms``).

    Boxes are visited in descending score (a stable sort, so equal scores keep index order); a
    box is dropped when its IoU with an already kept box is ``> iou_threshold``.

    Parameters
    ----------
    boxes_xyxy
        float or int ``(N, 4)`` XYXY.
    scores
        float ``(N,)``.
    iou_threshold
        IoU above which the lower-scored box is suppressed.

    Returns
    -------
    np.ndarray
        int64 ``(K,)`` kept indices, highest score first.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or s.shape != (boxes.shape[0],):
        raise ValueError(f"expected boxes (N, 4) and scores (N,), got {boxes.shape}, {s.shape}")
    order = np.argsort(-s, kind="stable")
    if order.size == 0:
        return order.astype(np.int64)
    iou = box_iou(boxes[order], boxes[order])
    suppressed = np.zeros(order.size, dtype=bool)
    keep: list[int] = []
    for i in range(order.size):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed[i + 1 :] |= iou[i, i + 1 :] > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)].astype(np.int64)


def is_box_near_crop_edge(
    boxes_xyxy: np.ndarray,
    crop_box: tuple[int, int, int, int] | np.ndarray,
    orig_box: tuple[int, int, int, int] | np.ndarray,
    atol: float = 20.0,
) -> np.ndarray:
    """Whether boxes touch an edge of the crop that is not an edge of the image (SAM).

    Parameters
    ----------
    boxes_xyxy
        ``(N, 4)`` XYXY in the crop frame.
    crop_box, orig_box
        XYXY of the crop in the image and of the whole image (``[0, 0, W, H]``).
    atol
        Distance in pixels that counts as touching.

    Returns
    -------
    np.ndarray
        bool ``(N,)``. For a crop that is the whole image this is all False: SAM's generator
        without crops keeps every mask at this step.
    """
    crop = np.asarray(crop_box, dtype=np.float64)
    orig = np.asarray(orig_box, dtype=np.float64)
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    b = b + np.array([crop[0], crop[1], crop[0], crop[1]])
    near_crop = np.abs(b - crop[None]) <= atol
    near_image = np.abs(b - orig[None]) <= atol
    return np.any(near_crop & ~near_image, axis=1)


# ---------------------------------------------------------------------------- run lengths


def rle_counts(mask: np.ndarray) -> np.ndarray:
    """Run lengths of a 2-D bool ``(h, w)`` mask: int64, Fortran order, zero run first."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {m.shape}")
    flat = np.ravel(m.astype(bool, copy=False), order="F")
    n = flat.size
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [n]))
    counts = np.diff(bounds)
    if flat[0]:
        counts = np.concatenate(([0], counts))
    return counts.astype(np.int64)


def _check_size(size: Any) -> tuple[int, int]:
    if len(size) != 2 or min(int(size[0]), int(size[1])) < 0:
        raise ValueError(f"RLE size must be [h, w] with h, w >= 0, got {size!r}")
    return int(size[0]), int(size[1])


def _runs_to_mask(counts: np.ndarray, h: int, w: int) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size and counts.min() < 0:
        raise ValueError("RLE counts must be non-negative")
    if int(counts.sum()) != h * w:
        raise ValueError(f"RLE counts sum to {int(counts.sum())}, expected h * w = {h * w}")
    values = (np.arange(counts.size) % 2).astype(bool)
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T.copy()


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """Uncompressed RLE of a 2-D bool mask (SAM's ``mask_to_rle_pytorch`` for one mask).

    Returns
    -------
    dict
        ``{"size": [h, w], "counts": list[int]}``, Fortran order, first run counts zeros.
    """
    counts = rle_counts(mask)
    h, w = np.shape(mask)
    return {"size": [int(h), int(w)], "counts": counts.tolist()}


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """Decode an uncompressed RLE to a bool ``(h, w)`` mask (inverse of :func:`mask_to_rle`)."""
    h, w = _check_size(rle["size"])
    return _runs_to_mask(np.asarray(rle["counts"], dtype=np.int64), h, w)


def area_from_rle(rle: dict[str, Any]) -> int:
    """Number of set pixels of an uncompressed or COCO (string) RLE."""
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = _decode_counts(counts)
    return int(np.asarray(counts, dtype=np.int64)[1::2].sum())


def _encode_counts(counts: np.ndarray) -> str:
    """COCO's compact string for run lengths (pycocotools ``rleToString``).

    Each value from index 3 on is replaced by its difference to the value two places earlier,
    then written as little-endian groups of 5 bits, one character (``48 + group``) per group,
    bit 0x20 set on every group but the last; the last group's bit 0x10 is the sign.
    """
    x = np.asarray(counts, dtype=np.int64).copy()
    if x.size > 3:
        x[3:] = x[3:] - np.asarray(counts, dtype=np.int64)[1:-2]
    if x.size == 0:
        return ""
    n_groups = 1
    while True:  # enough groups for the largest magnitude, plus the sign bit
        lim = 1 << (5 * n_groups - 1)
        if np.all((x >= -lim) & (x < lim)):
            break
        n_groups += 1
    shifts = 5 * np.arange(n_groups, dtype=np.int64)
    groups = (x[:, None] >> shifts[None, :]) & 0x1F  # (m, G)
    rest = x[:, None] >> (shifts[None, :] + 5)  # value left after each group
    sign = (groups & 0x10) != 0
    more = np.where(sign, rest != -1, rest != 0)
    # number of characters = index of the first group with more == False, plus 1
    n_chars = np.argmin(more, axis=1) + 1
    chars = (groups | (more.astype(np.int64) << 5)) + 48
    take = np.arange(n_groups)[None, :] < n_chars[:, None]
    return chars[take].astype(np.uint8).tobytes().decode("ascii")


def _decode_counts(s: str | bytes) -> np.ndarray:
    """Inverse of :func:`_encode_counts` (pycocotools ``rleFrString``), int64 run lengths."""
    raw = s.encode("ascii") if isinstance(s, str) else bytes(s)
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if c.min() < 0 or c.max() > 63:
        raise ValueError("COCO RLE counts string holds characters outside '0'..'o'")
    more = (c & 0x20) != 0
    if more[-1]:
        raise ValueError("COCO RLE counts string ends in the middle of a value")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    idx = np.arange(c.size)
    value_of = np.repeat(np.arange(ends.size), ends - starts + 1)
    pos = idx - starts[value_of]
    vals = np.zeros(ends.size, dtype=np.int64)
    np.add.at(vals, value_of, (c & 0x1F) << (5 * pos))
    last_len = ends - starts + 1
    neg = (c[ends] & 0x10) != 0
    vals[neg] |= -1 << (5 * last_len[neg])
    # undo the delta coding (x[i] += x[i - 2] from index 3 on): index 0 stands alone, the odd
    # indices chain from 1 and the even ones from 2
    vals[1::2] = np.cumsum(vals[1::2])
    vals[2::2] = np.cumsum(vals[2::2])
    return vals


def coco_rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE of a 2-D bool mask, byte-equal to pycocotools' ``mask.encode``.

    Parameters
    ----------
    mask
        bool or 0/1 ``(h, w)`` in image frame.

    Returns
    -------
    dict
        ``{"size": [h, w], "counts": str}``; ``counts`` equals
        ``pycocotools.mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()``.
    """
    m = np.asarray(mask)
    counts = rle_counts(m)
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": _encode_counts(counts)}


def rle_to_coco(rle: dict[str, Any]) -> dict[str, Any]:
    """Compress an uncompressed RLE (list or int array counts) to COCO's string form."""
    h, w = _check_size(rle["size"])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if int(counts.sum()) != h * w:
        raise ValueError(f"RLE counts sum to {int(counts.sum())}, expected h * w = {h * w}")
    return {"size": [h, w], "counts": _encode_counts(counts)}


def coco_rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """Decode a COCO RLE (string or bytes counts) to a bool ``(h, w)`` mask."""
    h, w = _check_size(rle["size"])
    return _runs_to_mask(_decode_counts(rle["counts"]), h, w)
