"""Mask utilities: stability score, boxes, NMS, RLE (pycocotools byte equality)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinysam_mobile import masks as M
from tinysam_mobile.everything.regions import label_components, remove_small_regions

# ----------------------------------------------------------------------------- helpers


def _disk(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _nms_brute(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Reference greedy NMS written from its definition, with Python floats."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            a, b = boxes[i], boxes[j]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def _bfs_labels(m: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """8-connected labelling by breadth-first search, raster order of first pixel."""
    h, w = m.shape
    lab = np.zeros((h, w), dtype=np.int32)
    sizes: list[int] = []
    for y, x in itertools.product(range(h), range(w)):
        if not m[y, x] or lab[y, x]:
            continue
        sizes.append(0)
        lab[y, x] = len(sizes)
        stack = [(y, x)]
        while stack:
            a, b = stack.pop()
            sizes[-1] += 1
            for dy, dx in itertools.product((-1, 0, 1), repeat=2):
                yy, xx = a + dy, b + dx
                if 0 <= yy < h and 0 <= xx < w and m[yy, xx] and not lab[yy, xx]:
                    lab[yy, xx] = len(sizes)
                    stack.append((yy, xx))
    return lab, sizes


# ----------------------------------------------------------------------------- stability


def test_stability_score_counts_pixels_above_shifted_thresholds() -> None:
    logits = np.array([[[-2.0, -0.5, 0.5], [1.5, 2.0, 3.0]]], dtype=np.float32)
    # > 1.0: 1.5, 2.0, 3.0 (3); > -1.0: -0.5, 0.5, 1.5, 2.0, 3.0 (5)
    np.testing.assert_allclose(M.stability_score(logits, 0.0, 1.0), [3 / 5])
    # no pixel above thr - offset -> 0, not NaN
    assert M.stability_score(np.full((2, 4, 4), -5.0), 0.0, 1.0).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="H, W"):
        M.stability_score(np.zeros(3), 0.0, 1.0)


# ----------------------------------------------------------------------------- boxes


def test_mask_to_box_inclusive_and_empty() -> None:
    m = np.zeros((3, 10, 12), dtype=bool)
    m[0, 2:5, 3:9] = True  # rows 2..4, cols 3..8
    m[1, 9, 11] = True
    boxes = M.mask_to_box(m)
    assert boxes.tolist() == [[3, 2, 8, 4], [11, 9, 11, 9], [0, 0, 0, 0]]
    assert M.box_xyxy_to_xywh(boxes[:1]).tolist() == [[3, 2, 5, 2]]
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = rng.random((7, 9)) < 0.2
        ys, xs = np.nonzero(r)
        want = [xs.min(), ys.min(), xs.max(), ys.max()] if xs.size else [0, 0, 0, 0]
        assert M.mask_to_box(r).tolist() == [int(v) for v in want]


def test_box_iou_and_area() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(M.box_iou(a, b), [[25 / 175, 0.0, 1.0]])
    np.testing.assert_allclose(M.box_area(b), [100, 100, 100])


def test_box_nms_matches_bruteforce_reference() -> None:
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(0, 40))
        xy = rng.integers(0, 50, size=(n, 2))
        wh = rng.integers(0, 30, size=(n, 2))  # zero-size boxes included
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float64)
        # coarse scores so that ties happen; ties must keep index order
        scores = rng.integers(0, 5, size=n).astype(np.float32) / 4
        thr = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]))
        got = M.box_nms(boxes, scores, thr)
        assert got.dtype == np.int64
        assert got.tolist() == _nms_brute(boxes, scores, thr), trial


def test_box_nms_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="boxes"):
        M.box_nms(np.zeros((3, 3)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="scores"):
        M.box_nms(np.zeros((3, 4)), np.zeros(2), 0.5)


def test_is_box_near_crop_edge_whole_image_keeps_all() -> None:
    boxes = np.array([[0, 0, 100, 80], [40, 30, 60, 50], [0, 10, 5, 20]])
    whole = [0, 0, 100, 80]
    assert not M.is_box_near_crop_edge(boxes, whole, whole).any()
    # a crop inside the image: boxes touching its inner edges are flagged
    crop = [0, 0, 50, 40]
    near = M.is_box_near_crop_edge(np.array([[10, 10, 49, 30], [10, 10, 15, 15]]), crop, whole)
    assert near.tolist() == [True, False]


# ----------------------------------------------------------------------------- RLE


def _masks_for_rle() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    out = [
        np.zeros((1, 1), bool),
        np.ones((1, 1), bool),
        np.zeros((5, 7), bool),
        np.ones((5, 7), bool),
        rng.random((1, 37)) < 0.5,
        rng.random((41, 1)) < 0.5,
        _disk(33, 57, 16, 20, 11),
        _disk(64, 64, 0, 0, 40),  # set first pixel
        ~_disk(31, 29, 15, 14, 9),
        np.zeros((0, 5), bool),
    ]
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 70, size=2))
        out.append(rng.random((h, w)) < rng.random())
    # long runs (> 2**15, values needing several 5-bit groups and negative deltas)
    big = np.zeros((300, 400), bool)
    big[:, 150:] = True
    big[10:20, 5:9] = True
    out.append(big)
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2 copy keyword
def test_coco_rle_encode_is_byte_equal_to_pycocotools() -> None:
    from pycocotools import mask as mask_utils  # dev extra: the reference, never the runtime

    for k, m in enumerate(_masks_for_rle()):
        if m.size == 0:
            continue  # pycocotools cannot encode zero-size arrays
        ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        got = M.coco_rle_encode(m)
        assert got["counts"] == ref["counts"].decode("ascii"), k
        assert got["size"] == [int(v) for v in ref["size"]]
        assert M.area_from_rle(got) == int(mask_utils.area(ref))
        # and pycocotools decodes ours
        back = mask_utils.decode({"size": got["size"], "counts": got["counts"].encode()})
        assert np.array_equal(back.astype(bool), m), k


def test_rle_round_trips_and_area() -> None:
    for k, m in enumerate(_masks_for_rle()):
        unc = M.mask_to_rle(m)
        assert unc["size"] == list(m.shape)
        assert sum(unc["counts"]) == m.size
        assert np.array_equal(M.rle_to_mask(unc), m), k
        coco = M.coco_rle_encode(m)
        assert np.array_equal(M.coco_rle_decode(coco), m), k
        assert M.rle_to_coco(unc) == coco
        assert M.area_from_rle(unc) == M.area_from_rle(coco) == int(m.sum())


def test_mask_to_rle_is_fortran_order_starting_with_zeros() -> None:
    m = np.array([[1, 0, 1], [1, 1, 0]], dtype=bool)  # columns: (1,1) (0,1) (1,0)
    assert M.mask_to_rle(m) == {"size": [2, 3], "counts": [0, 2, 1, 2, 1]}
    assert M.mask_to_rle(np.zeros((2, 2), bool))["counts"] == [4]


def test_rle_decode_rejects_corrupt_input() -> None:
    with pytest.raises(ValueError, match="sum"):
        M.rle_to_mask({"size": [2, 2], "counts": [1, 1]})
    with pytest.raises(ValueError, match="outside"):
        M.coco_rle_decode({"size": [2, 2], "counts": "~~"})
    with pytest.raises(ValueError, match="middle"):
        M.coco_rle_decode({"size": [2, 2], "counts": "4P"})  # 'P' has the continuation bit
    with pytest.raises(ValueError, match="size"):
        M.rle_to_mask({"size": [2], "counts": [4]})


# ----------------------------------------------------------------------------- regions


def test_label_components_matches_bfs() -> None:
    rng = np.random.default_rng(3)
    for trial in range(120):
        h, w = (int(v) for v in rng.integers(1, 30, size=2))
        m = rng.random((h, w)) < rng.random()
        lab, sizes = label_components(m)
        ref_lab, ref_sizes = _bfs_labels(m)
        assert np.array_equal(lab, ref_lab), trial
        assert sizes.tolist() == ref_sizes, trial


def test_remove_small_regions_holes_and_islands() -> None:
    m = _disk(40, 40, 20, 20, 12)
    m[20, 20] = False  # a 1-pixel hole
    m[2:4, 2:4] = True  # a 4-pixel island
    filled, changed = remove_small_regions(m, 10, "holes")
    assert changed and filled[20, 20] and filled[2, 2]
    cleaned, changed = remove_small_regions(filled, 10, "islands")
    assert changed and not cleaned[2:4, 2:4].any() and cleaned[20, 20]
    same, changed = remove_small_regions(cleaned, 10, "islands")
    assert not changed and np.array_equal(same, cleaned)
    # every island small: the largest one is kept
    tiny = np.zeros((10, 10), bool)
    tiny[0, 0] = True
    tiny[5:7, 5:7] = True
    kept, _ = remove_small_regions(tiny, 100, "islands")
    assert kept.sum() == 4 and kept[5, 5]
    with pytest.raises(ValueError, match="mode"):
        remove_small_regions(m, 10, "bogus")
