"""Drawing masks and prompts on an image (PIL), for the ``tinysam`` subcommands and demos."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .atomic import atomic_output

PALETTE: tuple[tuple[int, int, int], ...] = (
    (30, 144, 255),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (255, 215, 0),
)
"""Mask colours, used in order and repeated."""

POSITIVE_COLOR = (0, 220, 0)
NEGATIVE_COLOR = (230, 0, 0)
BOX_COLOR = (255, 255, 0)


def mask_color(index: int) -> tuple[int, int, int]:
    """Colour of mask ``index``: the palette in order, then deterministic pseudo-random colours."""
    if index < len(PALETTE):
        return PALETTE[index]
    rng = np.random.default_rng(index)
    r, g, b = (int(v) for v in rng.integers(40, 256, size=3))
    return (r, g, b)


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a bool (H, W) mask: inside the mask with a 4-neighbour outside it."""
    m = np.asarray(mask, dtype=bool)
    padded = np.pad(m, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & m
    return m & ~interior


def draw_overlay(
    image_u8: np.ndarray,
    masks: np.ndarray | Sequence[np.ndarray] = (),
    points_xy_image: Any = None,
    point_labels: Any = None,
    box_xyxy_image: Any = None,
    alpha: float = 0.5,
    colors: Sequence[tuple[int, int, int]] | None = None,
    outline: bool = True,
) -> Image.Image:
    """Tint masks over an image and draw the prompts.

    Parameters
    ----------
    image_u8
        uint8 (H, W, 3) RGB.
    masks
        bool (K, H, W) (or a sequence of (H, W)); each gets its own colour, drawn in order.
    points_xy_image
        (N, 2) points in image pixels; label 1 is drawn as a green dot, 0 as a red one.
    point_labels
        (N,) labels (required with points).
    box_xyxy_image
        (4,) or (M, 4) boxes in image pixels, drawn as rectangles.
    alpha
        Opacity of the tint, 0..1.
    colors
        Colours for the masks; default :func:`mask_color`.
    outline
        Draw each mask's boundary in its colour at full opacity.

    Returns
    -------
    PIL.Image.Image
        RGB image of the same size.
    """
    img = np.asarray(image_u8)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    for k, m in enumerate(masks):
        m = np.asarray(m, dtype=bool)
        if m.shape != (h, w):
            raise ValueError(f"mask {k} has shape {m.shape}, image is {(h, w)}")
        color = np.asarray(colors[k] if colors is not None else mask_color(k), dtype=np.float32)
        out[m] = out[m] * (1.0 - alpha) + color * alpha
        if outline:
            out[mask_outline(m)] = color
    pil = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    radius = max(3, round(max(h, w) / 150))
    if box_xyxy_image is not None:
        for x0, y0, x1, y1 in np.asarray(box_xyxy_image, dtype=np.float64).reshape(-1, 4):
            draw.rectangle((x0, y0, x1, y1), outline=BOX_COLOR, width=max(2, radius // 2))
    if points_xy_image is not None:
        pts = np.asarray(points_xy_image, dtype=np.float64).reshape(-1, 2)
        labels = np.ones(len(pts)) if point_labels is None else np.asarray(point_labels).ravel()
        if len(labels) != len(pts):
            raise ValueError(f"{len(pts)} points but {len(labels)} labels")
        for (x, y), lab in zip(pts, labels, strict=True):
            fill = POSITIVE_COLOR if lab > 0 else NEGATIVE_COLOR
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius),
                fill=fill,
                outline=(255, 255, 255),
                width=max(1, radius // 3),
            )
    return pil


def save_png_atomic(image: Image.Image, path: str | Path) -> Path:
    """Save ``image`` as PNG at ``path`` without ever leaving a half-written file.

    The image is written to a temporary file in the same folder and renamed into place.

    Raises
    ------
    OSError
        When the folder does not exist or is not writable (nothing is left behind).
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        image.save(tmp, format="PNG")
    return path


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """A bool (H, W) mask as an 8-bit grayscale image (255 inside, 0 outside)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got {m.shape}")
    return Image.fromarray(np.where(m, 255, 0).astype(np.uint8))
