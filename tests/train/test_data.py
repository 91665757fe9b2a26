"""Procedural data: determinism, split disjointness, occlusion-consistent masks, folder IO."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pytest
from PIL import Image

from tinysam_export.train.data import (
    SPLIT_SEED_RANGES,
    instance_map,
    make_sample,
    make_split,
    occlude,
    read_folder,
    split_of,
    split_seeds,
    write_split,
)


def _digest(image: np.ndarray, masks: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes() + np.packbits(masks).tobytes()).hexdigest()


def test_same_seed_same_bytes() -> None:
    a = make_sample(1234, 96)
    b = make_sample(1234, 96)
    assert _digest(*a) == _digest(*b)


def test_different_seeds_differ() -> None:
    digests = {_digest(*make_sample(s, 64)) for s in range(6)}
    assert len(digests) == 6


def test_sample_shapes_and_types() -> None:
    image, masks = make_sample(7, 80)
    assert image.dtype == np.uint8 and image.shape == (80, 80, 3)
    assert masks.dtype == bool and masks.ndim == 3 and masks.shape[1:] == (80, 80)
    assert len(masks) >= 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 1_000_000_005])
def test_masks_disjoint_and_nonempty(seed: int) -> None:
    _, masks = make_sample(seed, 96)
    assert (masks.sum(axis=0) <= 1).all(), "instances overlap after occlusion"
    assert (masks.reshape(len(masks), -1).sum(axis=1) > 0).all()


def test_occlusion_later_shapes_cover_earlier_ones() -> None:
    a = np.zeros((10, 10), bool)
    a[0:6, 0:6] = True
    b = np.zeros((10, 10), bool)
    b[3:9, 3:9] = True
    c = np.zeros((10, 10), bool)
    c[4:5, 4:5] = True
    vis = occlude([a, b, c])
    assert vis[0].sum() == 36 - 9 and not vis[0][3:6, 3:6].any()
    assert vis[1].sum() == 36 - 1 and not vis[1][4, 4]
    assert vis[2].sum() == 1
    assert (vis.sum(axis=0) <= 1).all()
    assert (vis.any(axis=0) == (a | b | c)).all()


def test_generated_masks_are_partially_occluded() -> None:
    # in a crowded image some object loses pixels to later ones: its visible mask is then not
    # a single filled shape, so the union of masks is smaller than the sum of full shapes;
    # observable here as masks that touch (share a boundary) without overlapping
    touching = 0
    for seed in range(8):
        _, masks = make_sample(seed, 96)
        grown = masks.copy()
        grown[:, 1:] |= masks[:, :-1]
        grown[:, :-1] |= masks[:, 1:]
        for i in range(len(masks)):
            others = np.delete(masks, i, axis=0).any(axis=0)
            touching += int((grown[i] & others).any())
    assert touching > 0


def test_split_ranges_are_disjoint() -> None:
    ranges = sorted(SPLIT_SEED_RANGES.values())
    for (_, hi), (lo, _) in itertools.pairwise(ranges):
        assert hi <= lo
    train = set(split_seeds("train", 300))
    heldout = set(split_seeds("heldout", 300))
    assert not train & heldout
    assert {split_of(s) for s in heldout} == {"heldout"}
    assert {split_of(s) for s in train} == {"train"}


def test_split_errors() -> None:
    with pytest.raises(ValueError, match="unknown split"):
        split_seeds("validation", 3)
    lo, hi = SPLIT_SEED_RANGES["heldout"]
    with pytest.raises(ValueError, match="overflows"):
        split_seeds("heldout", 10, seed=hi - lo - 5)
    with pytest.raises(ValueError, match="no split"):
        split_of(-1)
    with pytest.raises(ValueError, match="image_size"):
        make_sample(0, 16)


def test_heldout_split_is_stable_and_seeded() -> None:
    first = [s.seed for s in make_split("heldout", 3, image_size=64)]
    assert first == [SPLIT_SEED_RANGES["heldout"][0] + i for i in range(3)]
    other = [s.seed for s in make_split("heldout", 3, seed=500, image_size=64)]
    assert not set(first) & set(other)


def test_instance_map_roundtrip_and_overlap_error() -> None:
    _, masks = make_sample(11, 64)
    imap = instance_map(masks)
    back = np.stack([imap == k for k in range(1, len(masks) + 1)])
    assert (back == masks).all()
    with pytest.raises(ValueError, match="overlap"):
        instance_map(np.ones((2, 4, 4), bool))


def test_write_and_read_folder(tmp_path) -> None:
    write_split(tmp_path, "heldout", 3, seed=0, image_size=64)
    meta = json.loads((tmp_path / "split.json").read_text())
    assert meta["n"] == 3 and meta["image_size"] == 64
    read = list(read_folder(tmp_path))
    made = list(make_split("heldout", 3, image_size=64))
    assert len(read) == 3
    for r, m in zip(read, made, strict=True):
        assert (r.image == m.image).all()
        assert (r.masks == m.masks).all()


def test_read_coco_folder(tmp_path) -> None:
    from tinysam_mobile.masks import coco_rle_encode

    (tmp_path / "images").mkdir()
    image = np.zeros((20, 30, 3), np.uint8)
    Image.fromarray(image).save(tmp_path / "images" / "a.png")
    rle_mask = np.zeros((20, 30), bool)
    rle_mask[2:6, 3:9] = True
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30}],
        "annotations": [
            {"id": 1, "image_id": 1, "iscrowd": 0, "segmentation": coco_rle_encode(rle_mask)},
            {
                "id": 2,
                "image_id": 1,
                "iscrowd": 0,
                "segmentation": [[10, 10, 19, 10, 19, 17, 10, 17]],
            },
            {"id": 3, "image_id": 1, "iscrowd": 1, "segmentation": coco_rle_encode(rle_mask)},
        ],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    (sample,) = list(read_folder(tmp_path))
    assert sample.masks.shape == (2, 20, 30)
    assert (sample.masks[0] == rle_mask).all()
    assert sample.masks[1][10:18, 10:20].all() and not sample.masks[1][:9].any()


def test_read_folder_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="images/"):
        list(read_folder(tmp_path))
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="COCO JSON"):
        list(read_folder(tmp_path))
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "x.png")
    with pytest.raises(FileNotFoundError, match="no instance map"):
        list(read_folder(tmp_path))
