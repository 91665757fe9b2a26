"""Resize, pad and coordinate transforms (official TinySAM preprocessing)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.errors import ImageError
from tinysam_mobile.spec import PIXEL_MEAN
from tinysam_mobile.transforms import (
    boxes_image_to_model,
    boxes_model_to_image,
    coords_image_to_model,
    coords_model_to_image,
    preprocess,
    resize_image,
    resized_hw,
)


def _round_half_up(v: Fraction) -> int:
    return int(v + Fraction(1, 2))


@pytest.mark.parametrize(
    ("hw", "size"),
    [((534, 800), 1024), ((770, 769), 1024), ((1, 1000), 1024), ((300, 300), 256), ((7, 3), 64)],
)
def test_resized_hw_rounding(hw: tuple[int, int], size: int) -> None:
    h, w = hw
    want = (
        _round_half_up(Fraction(h * size, max(h, w))),
        _round_half_up(Fraction(w * size, max(h, w))),
    )
    assert resized_hw(hw, size) == want
    assert max(resized_hw(hw, size)) == size


def test_resized_hw_known_values() -> None:
    assert resized_hw((534, 800), 1024) == (684, 1024)  # 683.52 rounds up
    assert resized_hw((770, 769), 1024) == (1024, 1023)  # 1022.67


@pytest.mark.parametrize("hw", [(0, 5), (5, 0), (-1, 3)])
def test_resized_hw_rejects_empty(hw: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        resized_hw(hw, 1024)


def test_resized_hw_rejects_side_rounding_to_zero() -> None:
    assert resized_hw((1, 1024), 1024) == (1, 1024)
    with pytest.raises(ImageError, match="too elongated"):
        resized_hw((1, 5000), 1024)


def test_resize_image_is_pil_bilinear() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = resize_image(img, 64)
    assert out.shape == (45, 64, 3)  # 37 * 64 / 53 = 44.68
    ref = np.asarray(Image.fromarray(img).resize((64, 45), Image.BILINEAR))
    np.testing.assert_array_equal(out, ref)


def test_resize_constant_image_stays_constant() -> None:
    img = np.full((10, 20, 3), 77, np.uint8)
    assert np.all(resize_image(img, 64) == 77)


def test_preprocess_layout_and_padding() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)
    x = preprocess(img, 64)
    assert x.shape == (1, 3, 64, 64)
    assert x.dtype == np.float32
    resized = resize_image(img, 64)  # (32, 64)
    np.testing.assert_array_equal(x[0, :, :32, :], resized.transpose(2, 0, 1).astype(np.float32))
    for c in range(3):
        np.testing.assert_allclose(x[0, c, 32:, :], np.float32(PIXEL_MEAN[c]))
    assert x.max() <= 255.0
    assert x.min() >= 0.0


def test_preprocess_custom_mean_and_tall_image() -> None:
    img = np.zeros((40, 10, 3), np.uint8)
    x = preprocess(img, 32, pixel_mean=(1.0, 2.0, 3.0))
    # resized to (32, 8): padding is on the right
    assert np.all(x[0, :, :, :8] == 0)
    np.testing.assert_array_equal(x[0, :, 0, 8], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 values"):
        preprocess(img, 32, pixel_mean=(1.0, 2.0))


def test_preprocess_rejects_non_rgb_u8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((4, 4, 3), np.float32), 32)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        preprocess(np.zeros((4, 4), np.uint8), 32)


def test_coords_scale_each_axis() -> None:
    hw = (534, 800)  # -> (684, 1024)
    pts = np.array([[800.0, 534.0], [0.0, 0.0], [400.0, 267.0]])
    out = coords_image_to_model(pts, hw, 1024)
    np.testing.assert_allclose(out[0], [1024.0, 684.0])
    np.testing.assert_allclose(out[2], [400.0 * 1024 / 800, 267.0 * 684 / 534])
    np.testing.assert_allclose(out[1], [0.0, 0.0])
    np.testing.assert_array_equal(pts[0], [800.0, 534.0])  # input untouched


def test_coords_roundtrip_batched() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform(0, 700, size=(3, 5, 2))
    hw = (700, 333)
    back = coords_model_to_image(coords_image_to_model(pts, hw, 1024), hw, 1024)
    np.testing.assert_allclose(back, pts, rtol=1e-12)


def test_boxes_transform_and_roundtrip() -> None:
    hw = (534, 800)
    boxes = np.array([[0.0, 0.0, 800.0, 534.0], [10.0, 20.0, 30.0, 40.0]])
    out = boxes_image_to_model(boxes, hw, 1024)
    np.testing.assert_allclose(out[0], [0.0, 0.0, 1024.0, 684.0])
    np.testing.assert_allclose(boxes_model_to_image(out, hw, 1024), boxes)


def test_coords_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        coords_image_to_model(np.zeros((3, 3)), (10, 10), 64)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        boxes_image_to_model(np.zeros((3,)), (10, 10), 64)
