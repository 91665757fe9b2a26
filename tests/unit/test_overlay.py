"""Overlay drawing and atomic PNG writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.overlay import (
    BOX_COLOR,
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    draw_overlay,
    mask_color,
    mask_outline,
    mask_to_image,
    save_png_atomic,
)


def test_outline_of_square() -> None:
    m = np.zeros((7, 7), bool)
    m[1:6, 1:6] = True
    edge = mask_outline(m)
    assert edge.sum() == 16  # 5x5 square: 25 - 9 interior
    assert not edge[3, 3]
    assert edge[1, 1]
    assert not mask_outline(np.zeros((3, 3), bool)).any()


def test_tint_outline_and_untouched_background() -> None:
    img = np.full((20, 30, 3), 100, np.uint8)
    m = np.zeros((20, 30), bool)
    m[5:15, 5:15] = True
    out = np.asarray(draw_overlay(img, m[None], alpha=0.5))
    c = np.asarray(mask_color(0), np.float32)
    np.testing.assert_array_equal(out[10, 10], np.round((100 + c) / 2).astype(np.uint8))
    np.testing.assert_array_equal(out[5, 5], c.astype(np.uint8))  # outline at full colour
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(out[19, 29], [100, 100, 100])


def test_each_mask_has_its_own_colour() -> None:
    img = np.zeros((10, 20, 3), np.uint8)
    masks = np.zeros((2, 10, 20), bool)
    masks[0, :, :10] = True
    masks[1, :, 10:] = True
    out = np.asarray(draw_overlay(img, masks, alpha=1.0, outline=False))
    np.testing.assert_array_equal(out[5, 2], mask_color(0))
    np.testing.assert_array_equal(out[5, 15], mask_color(1))
    assert mask_color(0) != mask_color(1)
    assert mask_color(100) == mask_color(100)


def test_prompts_drawn() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    out = np.asarray(
        draw_overlay(img, (), [[20, 20], [70, 70]], [1, 0], box_xyxy_image=[5, 40, 95, 90])
    )
    np.testing.assert_array_equal(out[20, 20], POSITIVE_COLOR)
    np.testing.assert_array_equal(out[70, 70], NEGATIVE_COLOR)
    np.testing.assert_array_equal(out[40, 50], BOX_COLOR)
    np.testing.assert_array_equal(out[60, 50], [0, 0, 0])  # inside the box, not filled


def test_overlay_bad_inputs() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="mask 0 has shape"):
        draw_overlay(img, np.zeros((1, 5, 5), bool))
    with pytest.raises(ValueError, match="uint8"):
        draw_overlay(img.astype(np.float32))
    with pytest.raises(ValueError, match="alpha"):
        draw_overlay(img, alpha=2.0)
    with pytest.raises(ValueError, match="2 points but 1 labels"):
        draw_overlay(img, (), [[1, 1], [2, 2]], [1])


def test_save_png_atomic(tmp_path: Path) -> None:
    m = np.zeros((4, 6), bool)
    m[1, 2] = True
    p = save_png_atomic(mask_to_image(m), tmp_path / "m.png")
    back = np.asarray(Image.open(p))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, np.where(m, 255, 0))
    assert [q.name for q in tmp_path.iterdir()] == ["m.png"]
    with pytest.raises(OSError):
        save_png_atomic(mask_to_image(m), tmp_path / "nope" / "m.png")
