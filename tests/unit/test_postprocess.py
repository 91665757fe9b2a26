"""Mask post-processing: bilinear resize, upscaling, selection, threshold; official parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.postprocess import resize_bilinear, select_masks, threshold, upscale_logits
from tinysam_mobile.transforms import resized_hw


def test_resize_2x_half_pixel_centres_and_clamp() -> None:
    # align_corners=False: output pixel d samples source (d + 0.5) / 2 - 0.5, clamped.
    x = np.array([[0.0, 1.0]], np.float32)
    out = resize_bilinear(x, (1, 4))
    np.testing.assert_allclose(out, [[0.0, 0.25, 0.75, 1.0]], atol=1e-7)
    col = resize_bilinear(x.T, (4, 1))
    np.testing.assert_allclose(col[:, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-7)


def test_resize_downscale_by_two_averages_pairs() -> None:
    # scale 2: source index 2d + 0.5 -> average of pixels 2d and 2d+1 (no antialias beyond that)
    x = np.arange(8, dtype=np.float32).reshape(1, 8)
    np.testing.assert_allclose(resize_bilinear(x, (1, 4)), [[0.5, 2.5, 4.5, 6.5]])


def test_resize_reproduces_linear_ramp_inside() -> None:
    yy, xx = np.mgrid[0:16, 0:16].astype(np.float32)
    x = 3 * xx - 2 * yy
    out = resize_bilinear(x, (64, 64))
    # away from the clamped border, output at d samples source (d + 0.5) / 4 - 0.5
    src = (np.arange(64) + 0.5) / 4 - 0.5
    want = 3 * src[None, :] - 2 * src[:, None]
    np.testing.assert_allclose(out[2:-2, 2:-2], want[2:-2, 2:-2], atol=1e-4)


def test_resize_batch_dims_constant_identity() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    out = resize_bilinear(x, (11, 13))
    assert out.shape == (2, 3, 11, 13)
    assert out.dtype == np.float32
    for i in range(2):
        np.testing.assert_allclose(out[i, 1], resize_bilinear(x[i, 1], (11, 13)))
    np.testing.assert_array_equal(resize_bilinear(x, (5, 7)), x)
    c = np.full((4, 6), 2.5, np.float32)
    np.testing.assert_allclose(resize_bilinear(c, (9, 3)), 2.5)


def test_resize_does_not_modify_input() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = x.copy()
    resize_bilinear(x, (6, 8))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(("shape", "out"), [((0, 4), (2, 2)), ((4,), (2, 2)), ((4, 4), (0, 2))])
def test_resize_bad_sizes(shape: tuple[int, ...], out: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match=r"resize_bilinear|positive"):
        resize_bilinear(np.zeros(shape, np.float32), out)


def test_upscale_logits_crops_padding() -> None:
    # image 32x64 at size 64 -> resized (32, 64): the bottom half of the square is padding.
    low = np.full((1, 16, 16), -10.0, np.float32)
    low[:, :8, :] = 10.0  # valid half positive, padded half negative
    up = upscale_logits(low, None, (32, 64), 64)
    assert up.shape == (1, 32, 64)
    # the crop keeps only the valid half, which then stretches to the whole image
    assert (up[0, :30] > 0).all()
    assert (up[0, 31] < up[0, 0]).all()
    np.testing.assert_allclose(up, upscale_logits(low, resized_hw((32, 64), 64), (32, 64), 64))


def test_select_masks_tokens() -> None:
    low = np.arange(2 * 4, dtype=np.float32).reshape(2, 4, 1, 1) * np.ones((1, 1, 3, 3), np.float32)
    iou = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]], np.float32)
    m3, i3 = select_masks(low, iou, True)
    assert m3.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(m3[:, :, 0, 0], [[1, 2, 3], [5, 6, 7]])
    np.testing.assert_array_equal(i3, iou[:, 1:])
    m1, i1 = select_masks(low, iou, False)
    assert m1.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(m1[:, 0, 0, 0], [0, 4])
    np.testing.assert_array_equal(i1, iou[:, :1])


def test_select_masks_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, 4, h, w\)"):
        select_masks(np.zeros((1, 3, 2, 2)), np.zeros((1, 3)), True)
    with pytest.raises(ValueError, match="iou"):
        select_masks(np.zeros((1, 4, 2, 2)), np.zeros((4,)), True)


def test_threshold() -> None:
    x = np.array([-1.0, 0.0, 1e-6, 2.0])
    np.testing.assert_array_equal(threshold(x), [False, False, True, True])
    np.testing.assert_array_equal(threshold(x, 1.5), [False, False, False, True])


CASES = ("point", "points_neg", "box", "box_point")


@pytest.mark.parametrize("name", ["dog", "picture1"])
def test_masks_match_official_reference(reference_dir: Path, name: str) -> None:
    """Upscale + threshold of the official low-res logits reproduces the official masks."""
    ref = np.load(reference_dir / f"{name}.npz")
    hw = tuple(int(v) for v in ref["image_hw"])
    for case in CASES:
        for prefix in (f"{case}__", f"{case}__refine_"):
            low = ref[f"{prefix}low_res_logits"]
            masks = threshold(upscale_logits(low, None, hw, 1024))
            want = ref[f"{prefix}masks"]
            assert masks.shape == want.shape
            agree = float((masks == want).mean())
            assert agree >= 0.999, f"{name}/{prefix}: only {agree:.5f} of pixels agree"
