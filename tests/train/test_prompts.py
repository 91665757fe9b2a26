"""Prompt sampling: points in masks, jittered boxes, corrective clicks in the error region."""

from __future__ import annotations

import numpy as np
import pytest

from tinysam_export.train.prompts import (
    center_corrective_click,
    deepest_point,
    depth_map,
    jitter_box,
    mask_iou,
    mask_to_box,
    sample_corrective_click,
    sample_positive_point,
)


def _square(size: int = 32, lo: int = 8, hi: int = 20) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[lo:hi, lo:hi] = True
    return m


def test_depth_map_of_square() -> None:
    d = depth_map(_square())
    assert d[8, 8] == 1 and d[8, 14] == 1  # boundary
    assert d[13, 13] == 6  # centre of a 12-px square: 6 erosions
    assert d[0, 0] == 0
    # the image border counts as outside
    full = np.ones((5, 5), bool)
    assert depth_map(full)[0, 2] == 1 and depth_map(full)[2, 2] == 3


def test_deepest_point_is_central() -> None:
    x, y, depth = deepest_point(_square())
    assert 13 <= x <= 14 and 13 <= y <= 14 and depth == 6
    assert deepest_point(np.zeros((4, 4), bool))[2] == 0


def test_positive_points_lie_in_mask() -> None:
    rng = np.random.default_rng(0)
    ring = _square(lo=4, hi=28) & ~_square(lo=10, hi=22)
    for interior in (0.0, 0.5, 1.0):
        for _ in range(20):
            x, y = sample_positive_point(ring, rng, interior).astype(int)
            assert ring[y, x]
    # interior=1 only gives the deepest pixels
    x, y = sample_positive_point(ring, rng, 1.0).astype(int)
    assert depth_map(ring)[y, x] == depth_map(ring).max()
    with pytest.raises(ValueError, match="empty"):
        sample_positive_point(np.zeros((4, 4), bool), rng)


def test_jitter_box_stays_valid_and_close() -> None:
    rng = np.random.default_rng(1)
    box = mask_to_box(_square())
    assert box.tolist() == [8, 8, 19, 19]
    for _ in range(50):
        j = jitter_box(box, rng, (32, 32))
        assert j[0] <= j[2] and j[1] <= j[3]
        assert (j >= 0).all() and (j <= 31).all()
        assert np.abs(j - box).max() <= 20


def test_corrective_click_lies_in_error_region() -> None:
    rng = np.random.default_rng(2)
    gt = _square()
    pred = np.zeros_like(gt)
    pred[8:20, 8:14] = True  # misses the right half
    pred[0:3, 0:3] = True  # and has a false positive
    seen = set()
    for _ in range(100):
        c = sample_corrective_click(pred, gt, rng)
        assert c is not None
        assert pred[c.y, c.x] != gt[c.y, c.x]
        assert c.label == int(gt[c.y, c.x])
        seen.add(c.label)
    assert seen == {0, 1}
    assert sample_corrective_click(gt, gt, rng) is None


def test_center_click_goes_to_thickest_error() -> None:
    gt = _square(lo=4, hi=28)
    pred = gt.copy()
    pred[4:28, 16:28] = False  # big false negative (12 px wide)
    pred[30:32, 0:4] = True  # thin false positive
    c = center_corrective_click(pred, gt)
    assert c is not None and c.label == 1
    assert gt[c.y, c.x] and not pred[c.y, c.x]
    assert 20 <= c.x <= 23
    # only a false positive left -> negative click inside it
    c = center_corrective_click(gt | _square(lo=29, hi=32), gt)
    assert c is not None and c.label == 0 and not gt[c.y, c.x]
    assert center_corrective_click(gt, gt) is None


def test_mask_iou() -> None:
    a = _square(lo=0, hi=10)
    b = np.zeros_like(a)
    b[0:10, 0:5] = True
    assert mask_iou(a, b) == pytest.approx(0.5)
    assert mask_iou(b, b) == 1.0
    with pytest.raises(ValueError, match="shape"):
        mask_iou(a, a[:5])
