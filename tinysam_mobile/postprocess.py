"""Mask post-processing: token selection, bilinear upscaling to the image, thresholding.

:func:`resize_bilinear` reproduces ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False, antialias=False)`` in float32 (half-pixel centres, source index clamped at 0,
neighbour clamped at the last row/column, width interpolated first, then height), so masks from
the runtime match those of the official PyTorch predictor.
"""

from __future__ import annotations

import numpy as np

from .spec import MASK_THRESHOLD
from .transforms import resized_hw


def _axis_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of one axis, computed in float32 like torch's CPU kernel.

    Returns
    -------
    (i0, i1, l1)
        int64 (out_size,) lower and upper neighbours and float32 (out_size,) weight of ``i1``.
    """
    # torch: the scale is a float; ``scale * (dst + 0.5) - 0.5`` is evaluated in double (the
    # 0.5 literals are doubles) and the result stored as float.
    scale = float(np.float32(in_size) / np.float32(out_size))
    dst = np.arange(out_size, dtype=np.float64)
    src = np.maximum(scale * (dst + 0.5) - 0.5, 0.0).astype(np.float32)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    l1 = (src - i0.astype(np.float32)).astype(np.float32)
    return i0, i1, l1


def resize_bilinear(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes, equal to torch's ``align_corners=False``.

    Parameters
    ----------
    x
        float (..., h, w); computed in float32.
    out_hw
        (H, W) of the output, both > 0.

    Returns
    -------
    np.ndarray
        float32 (..., H, W).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"resize_bilinear needs (..., h, w) with h, w > 0, got {x.shape}")
    out_h, out_w = (int(v) for v in out_hw)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"output size must be positive, got {out_hw}")
    in_h, in_w = x.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return x.copy()
    # Width first (as torch does): (..., h, W).
    j0, j1, lw = _axis_weights(in_w, out_w)
    tmp = x[..., j0]
    tmp *= np.float32(1.0) - lw
    tmp += x[..., j1] * lw
    # Then height: (..., H, W).
    i0, i1, lh = _axis_weights(in_h, out_h)
    lh = lh[:, None]
    out = tmp[..., i0, :]
    out *= np.float32(1.0) - lh
    out += tmp[..., i1, :] * lh
    return out


def upscale_logits(
    low_res: np.ndarray,
    resized: tuple[int, int] | None,
    original_hw: tuple[int, int],
    image_size: int,
) -> np.ndarray:
    """Upscale low-res mask logits to the original image, as the official predictor does.

    Parameters
    ----------
    low_res
        float32 (..., h, w) logits (256x256 for image_size 1024), model frame.
    resized
        (height, width) of the resized image inside the padded square; ``None`` computes it
        from ``original_hw``.
    original_hw
        (H, W) of the original image.
    image_size
        Side ``S`` of the encoder input.

    Returns
    -------
    np.ndarray
        float32 (..., H, W) logits in the image frame: resized to ``S x S``, cropped to
        ``resized``, resized to ``original_hw``.
    """
    if resized is None:
        resized = resized_hw(original_hw, image_size)
    rh, rw = resized
    square = resize_bilinear(low_res, (image_size, image_size))
    cropped = square[..., :rh, :rw]
    return resize_bilinear(cropped, original_hw)


def select_masks(
    low_res_masks: np.ndarray, iou: np.ndarray, multimask_output: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the decoder tokens to return.

    Parameters
    ----------
    low_res_masks
        float32 (B, 4, h, w) logits of all four mask tokens.
    iou
        float32 (B, 4) predicted IoU of each token.
    multimask_output
        True: tokens 1..3 (TinySAM's / SAM's three masks); False: token 0 (single mask).

    Returns
    -------
    (masks, iou)
        (B, C, h, w) and (B, C), C = 3 or 1.
    """
    low_res_masks = np.asarray(low_res_masks)
    iou = np.asarray(iou)
    if low_res_masks.ndim != 4 or low_res_masks.shape[1] != 4:
        raise ValueError(f"low_res_masks must be (B, 4, h, w), got {low_res_masks.shape}")
    if iou.shape != low_res_masks.shape[:2]:
        raise ValueError(f"iou must be (B, 4) = {low_res_masks.shape[:2]}, got {iou.shape}")
    sl = slice(1, 4) if multimask_output else slice(0, 1)
    return low_res_masks[:, sl], iou[:, sl]


def threshold(logits: np.ndarray, mask_threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """Binary masks: ``logits > mask_threshold`` (bool, same shape)."""
    return np.asarray(logits) > mask_threshold
