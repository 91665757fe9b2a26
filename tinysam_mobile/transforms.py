"""Image resize/pad and coordinate transforms between the image and model frames.

These match the official TinySAM / SAM preprocessing: the longest side is resized to
``image_size`` with PIL bilinear, the new size rounded as ``int(old * S / max(H, W) + 0.5)``;
the image is padded bottom/right to ``S x S``. Normalisation (mean/std) happens inside the
encoder graph, so padding with ``pixel_mean`` here gives exactly zero after normalisation.

Frames: ``*_xy_image`` are pixel coordinates of the original image; ``*_xy_model`` are pixel
coordinates of the resized image (the frame the decoder graph is fed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from .errors import ImageError
from .spec import PIXEL_MEAN


def resized_hw(original_hw: tuple[int, int], image_size: int) -> tuple[int, int]:
    """Size of the image after resizing its longest side to ``image_size``.

    Parameters
    ----------
    original_hw
        (height, width) of the original image, both > 0.
    image_size
        Target length of the longest side.

    Returns
    -------
    tuple[int, int]
        (height, width) computed as ``int(side * image_size / max(H, W) + 0.5)``.

    Raises
    ------
    ImageError
        When a side would round to 0 (an extremely elongated image).
    """
    h, w = (int(v) for v in original_hw)
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got {h}x{w}")
    scale = image_size * 1.0 / max(h, w)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    if new_h == 0 or new_w == 0:
        raise ImageError(
            f"a {w}x{h} image is too elongated: its short side would be 0 pixels at "
            f"image_size {image_size}"
        )
    return new_h, new_w


def resize_image(image_u8: np.ndarray, image_size: int) -> np.ndarray:
    """Resize an RGB image so its longest side is ``image_size`` (PIL bilinear).

    Parameters
    ----------
    image_u8
        uint8 (H, W, 3) RGB.
    image_size
        Target length of the longest side.

    Returns
    -------
    np.ndarray
        uint8 (h, w, 3) with ``(h, w) = resized_hw((H, W), image_size)``.
    """
    _check_rgb_u8(image_u8)
    new_h, new_w = resized_hw(image_u8.shape[:2], image_size)
    resized = Image.fromarray(image_u8).resize((new_w, new_h), Image.BILINEAR)
    return np.asarray(resized)


def preprocess(
    image_u8: np.ndarray,
    image_size: int,
    pixel_mean: Sequence[float] = PIXEL_MEAN,
) -> np.ndarray:
    """Build the encoder input from an RGB image.

    Parameters
    ----------
    image_u8
        uint8 (H, W, 3) RGB.
    image_size
        Side ``S`` of the square encoder input.
    pixel_mean
        Per-channel value used for the bottom/right padding (0..255 scale).

    Returns
    -------
    np.ndarray
        float32 (1, 3, S, S), NCHW, values on 0..255 (not normalised).
    """
    resized = resize_image(image_u8, image_size)
    h, w = resized.shape[:2]
    mean = np.asarray(pixel_mean, dtype=np.float32)
    if mean.shape != (3,):
        raise ValueError(f"pixel_mean must have 3 values, got shape {mean.shape}")
    out = np.empty((1, 3, image_size, image_size), dtype=np.float32)
    out[0] = mean[:, None, None]
    out[0, :, :h, :w] = resized.transpose(2, 0, 1)
    return out


def _scales(original_hw: tuple[int, int], image_size: int) -> tuple[float, float]:
    old_h, old_w = (int(v) for v in original_hw)
    new_h, new_w = resized_hw((old_h, old_w), image_size)
    return new_w / old_w, new_h / old_h


def coords_image_to_model(
    points_xy_image: np.ndarray, original_hw: tuple[int, int], image_size: int
) -> np.ndarray:
    """Map (x, y) points from the original image to the model frame.

    Parameters
    ----------
    points_xy_image
        (..., 2) x, y in original-image pixels.
    original_hw, image_size
        Original (height, width) and encoder input side.

    Returns
    -------
    np.ndarray
        float64 (..., 2): x scaled by ``new_w / old_w``, y by ``new_h / old_h``.
    """
    sx, sy = _scales(original_hw, image_size)
    pts = np.array(points_xy_image, dtype=np.float64)
    _check_last_dim(pts, 2, "points")
    pts[..., 0] *= sx
    pts[..., 1] *= sy
    return pts


def coords_model_to_image(
    points_xy_model: np.ndarray, original_hw: tuple[int, int], image_size: int
) -> np.ndarray:
    """Inverse of :func:`coords_image_to_model`: (..., 2) model frame -> float64 image frame."""
    sx, sy = _scales(original_hw, image_size)
    pts = np.array(points_xy_model, dtype=np.float64)
    _check_last_dim(pts, 2, "points")
    pts[..., 0] /= sx
    pts[..., 1] /= sy
    return pts


def boxes_image_to_model(
    boxes_xyxy_image: np.ndarray, original_hw: tuple[int, int], image_size: int
) -> np.ndarray:
    """Map (..., 4) XYXY boxes from the image frame to the model frame (float64)."""
    boxes = np.asarray(boxes_xyxy_image, dtype=np.float64)
    _check_last_dim(boxes, 4, "boxes")
    corners = coords_image_to_model(boxes.reshape(*boxes.shape[:-1], 2, 2), original_hw, image_size)
    return corners.reshape(boxes.shape)


def boxes_model_to_image(
    boxes_xyxy_model: np.ndarray, original_hw: tuple[int, int], image_size: int
) -> np.ndarray:
    """Inverse of :func:`boxes_image_to_model`: (..., 4) model frame -> float64 image frame."""
    boxes = np.asarray(boxes_xyxy_model, dtype=np.float64)
    _check_last_dim(boxes, 4, "boxes")
    corners = coords_model_to_image(boxes.reshape(*boxes.shape[:-1], 2, 2), original_hw, image_size)
    return corners.reshape(boxes.shape)


def _check_last_dim(a: np.ndarray, n: int, what: str) -> None:
    if a.ndim == 0 or a.shape[-1] != n:
        raise ValueError(f"{what} must have shape (..., {n}), got {a.shape}")


def _check_rgb_u8(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array (use image_io.load_image)")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must have shape (H, W, 3) with H, W > 0, got {image.shape}")
