"""Everything mode on a fake predictor whose masks are known disks (numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinysam_mobile.everything import (
    EverythingConfig,
    MaskGenerator,
    generate_everything,
    grid_points_xy_image,
    make_grid,
    merge_nms,
    point_prompts,
    postprocess_small_regions,
    remaining_points,
    run_pass,
    union_high_confidence,
)
from tinysam_mobile.everything import passes as passes_mod
from tinysam_mobile.masks import coco_rle_decode, mask_to_rle, rle_to_mask
from tinysam_mobile.transforms import coords_model_to_image, resized_hw

IOU_BY_TOKEN = (0.5, 0.92, 0.95, 0.4)
"""Token 0 (unused), token 1 (steep, stable), token 2 (shallow, unstable), token 3 (low IoU)."""


class FakePredictor:
    """Predictor stand-in: a prompt inside disk k gets disk k's logits; outside, background.

    Token 1 logits are ``20 * (r - d)`` (d: distance in image pixels from the disk centre), so the
    mask is the disk, it is stable and its core is above 8.5; token 2 is ``0.25 * (r - d)``
    (unstable), token 3 is token 1 with a low predicted IoU. A prompt outside every disk gets
    logits -20 everywhere and IoU 0.1.
    """

    def __init__(self, hw: tuple[int, int], disks: list[tuple[float, float, float]], size=256):
        self.original_hw = hw
        self.image_size = size
        self.resized_hw = resized_hw(hw, size)
        self.disks = disks  # (cx, cy, r) image frame
        self.calls: list[int] = []
        low = size // 4
        centres = (np.arange(low) + 0.5) * 4.0  # low-res pixel centres, model frame
        gx, gy = np.meshgrid(centres, centres)
        img = coords_model_to_image(np.stack([gx, gy], -1), hw, size)
        self._gx, self._gy = img[..., 0], img[..., 1]

    def set_image(self, image: np.ndarray) -> None:
        assert image.shape[:2] == self.original_hw

    def decode(self, point_coords, point_labels):
        b = point_coords.shape[0]
        assert point_coords.shape == (b, 2, 2) and point_labels.tolist() == [[1, -1]] * b
        self.calls.append(b)
        low = self.image_size // 4
        out = np.full((b, 4, low, low), -20.0, np.float32)
        iou = np.full((b, 4), 0.1, np.float32)
        pts = coords_model_to_image(point_coords[:, 0], self.original_hw, self.image_size)
        for i, (x, y) in enumerate(pts):
            for cx, cy, r in self.disks:
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    d = np.hypot(self._gx - cx, self._gy - cy)
                    out[i, 0] = out[i, 1] = out[i, 3] = 20.0 * (r - d)
                    out[i, 2] = 0.25 * (r - d)
                    iou[i] = IOU_BY_TOKEN
                    break
        return out, iou


HW = (120, 200)  # non-square: x and y must not be swapped anywhere
DISKS = [(50.0, 60.0, 30.0), (150.0, 40.0, 22.0)]


def _disk_mask(hw, cx, cy, r):
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def _mask_iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def _inside(points, disks):
    return np.array(
        [any((x - cx) ** 2 + (y - cy) ** 2 <= r * r for cx, cy, r in disks) for x, y in points]
    )


# ----------------------------------------------------------------------------- grid


def test_make_grid_matches_definition() -> None:
    assert make_grid(1).tolist() == [[0.5, 0.5]]
    g = make_grid(4)
    assert g.shape == (16, 2)
    side = [0.125, 0.375, 0.625, 0.875]
    assert g[:4, 0].tolist() == side and g[:4, 1].tolist() == [0.125] * 4  # x varies fastest
    assert g[::4, 1].tolist() == side
    pts = grid_points_xy_image(4, HW)
    np.testing.assert_allclose(pts[1], [0.375 * 200, 0.125 * 120])
    with pytest.raises(ValueError, match="points_per_side"):
        make_grid(0)


def test_remaining_points_indexes_covered_row_first() -> None:
    h, w = 30, 50
    covered = np.zeros((h, w), bool)
    covered[:, :10] = True  # left strip: x < 10, every y
    covered[25:, :] = True  # bottom band: y >= 25, every x
    pts = np.array([[5.5, 3.0], [12.0, 3.0], [49.9, 24.9], [40.0, 26.0], [9.99, 29.5], [10.0, 0.0]])
    left = remaining_points(pts, covered)
    assert left.tolist() == [[12.0, 3.0], [49.9, 24.9], [10.0, 0.0]]
    with pytest.raises(ValueError, match="points_xy_image"):
        remaining_points(np.zeros((3, 3)), covered)


# ----------------------------------------------------------------------------- one pass


def test_pass_filters_batches_and_trace() -> None:
    fake = FakePredictor(HW, DISKS)
    pts = grid_points_xy_image(8, HW)
    inside = _inside(pts, DISKS)
    events = []
    cfg = EverythingConfig(mode="grid", points_per_side=8, points_per_batch=10)
    res = run_pass(fake, pts, cfg, name="grid", trace=lambda e, d: events.append((e, d)))
    assert fake.calls == [10] * 6 + [4]  # one decoder call per batch
    assert [d["batch"] for _, d in events] == list(range(7))
    assert events[0][0] == "decoder_batch" and events[0][1]["low_res_masks"].shape == (
        10,
        4,
        64,
        64,
    )
    s = res.stats
    assert (s.prompts, s.decoder_calls, s.masks) == (64, 7, 192)
    want_idx = np.flatnonzero(inside)
    # IoU filter keeps tokens 1 and 2 of prompts inside a disk; stability keeps token 1
    assert res.kept_after_iou.tolist() == sorted(
        [3 * p for p in want_idx] + [3 * p + 1 for p in want_idx]
    )
    assert res.kept_after_stability.tolist() == [3 * p for p in want_idx]
    assert res.kept.tolist() == [3 * p for p in want_idx]
    assert (s.after_iou, s.after_stability, s.after_edge) == (
        2 * inside.sum(),
        inside.sum(),
        inside.sum(),
    )
    np.testing.assert_allclose(res.iou_preds, IOU_BY_TOKEN[1])
    assert (res.stability >= 0.95).all()
    np.testing.assert_array_equal(res.point_coords, pts[want_idx])
    for p, rle, box in zip(res.point_coords, res.rles, res.boxes_xyxy, strict=True):
        cx, cy, r = next(d for d in DISKS if _inside([p], [d])[0])
        m = rle_to_mask(rle)
        assert _mask_iou(m, _disk_mask(HW, cx, cy, r)) > 0.95
        assert abs(box[0] - (cx - r)) <= 2 and abs(box[3] - (cy + r)) <= 2
    assert res.high_rles == ()


def test_only_survivors_are_upscaled(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = passes_mod.upscale_logits

    def counting(low, *a, **k):
        seen.append(low.shape[0])
        return real(low, *a, **k)

    monkeypatch.setattr(passes_mod, "upscale_logits", counting)
    fake = FakePredictor(HW, DISKS)
    cfg = EverythingConfig(mode="grid", points_per_side=8)
    res = run_pass(fake, grid_points_xy_image(8, HW), cfg, name="grid")
    assert sum(seen) == res.stats.after_stability  # low-res stability: rejects never upscaled
    seen.clear()
    cfg_img = EverythingConfig(mode="grid", points_per_side=8, stability_frame="image")
    res_img = run_pass(fake, grid_points_xy_image(8, HW), cfg_img, name="grid")
    assert sum(seen) == res_img.stats.after_iou  # SAM order: IoU survivors upscaled
    assert res_img.kept.tolist() == res.kept.tolist()
    np.testing.assert_allclose(res_img.stability, res.stability, atol=0.02)
    # prefilter: token 2 (low-res score far below 0.95 - margin) is never upscaled, and the
    # decisions and scores are the image-frame ones
    seen.clear()
    cfg_pre = EverythingConfig(mode="grid", points_per_side=8, stability_frame="prefilter")
    res_pre = run_pass(fake, grid_points_xy_image(8, HW), cfg_pre, name="grid")
    assert sum(seen) == res.stats.after_stability < res_img.stats.after_iou
    assert res_pre.kept.tolist() == res_img.kept.tolist()
    np.testing.assert_array_equal(res_pre.stability, res_img.stability)


def test_point_prompts_model_frame_with_padding_point() -> None:
    coords, labels = point_prompts(np.array([[100.0, 60.0]]), HW, 256)
    sy = resized_hw(HW, 256)[0] / HW[0]
    np.testing.assert_allclose(coords[0], [[100.0 * 256 / 200, 60.0 * sy], [0.0, 0.0]], rtol=1e-6)
    assert labels.tolist() == [[1.0, -1.0]] and coords.dtype == labels.dtype == np.float32


# ----------------------------------------------------------------------------- union, merge


def test_union_high_confidence_arrays_and_rles_agree() -> None:
    a = _disk_mask(HW, 50, 60, 10)
    b = _disk_mask(HW, 150, 40, 5)
    u = union_high_confidence(np.stack([a, b]), HW)
    assert np.array_equal(u, a | b)
    assert np.array_equal(union_high_confidence([mask_to_rle(a), mask_to_rle(b)], HW), a | b)
    assert not union_high_confidence([], HW).any()
    with pytest.raises(ValueError, match="does not match"):
        union_high_confidence([mask_to_rle(a[:10])], HW)


def test_merge_nms_drops_duplicates_keeps_best() -> None:
    fake = FakePredictor(HW, DISKS)
    cfg = EverythingConfig(mode="grid", points_per_side=8)
    p = run_pass(fake, grid_points_xy_image(8, HW), cfg, name="grid")
    m = merge_nms([p, p], cfg.box_nms_thresh)
    assert m.boxes_xyxy.shape == (2 * p.kept.size, 4)
    assert m.kept.size == len(DISKS)


# ----------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("mode", ["grid", "hierarchical"])
def test_generate_finds_each_disk_once(mode: str) -> None:
    fake = FakePredictor(HW, DISKS)
    image = np.zeros((*HW, 3), np.uint8)
    cfg = EverythingConfig(mode=mode, points_per_side=16, points_per_batch=32)
    res = generate_everything(fake, image, cfg)
    assert len(res.rles) == len(DISKS)
    for cx, cy, r in DISKS:
        truth = _disk_mask(HW, cx, cy, r)
        assert max(_mask_iou(rle_to_mask(x), truth) for x in res.rles) > 0.95
    assert np.all(np.diff(res.iou_preds) <= 0)
    assert (
        res.stats["decoder_calls"]
        == len(fake.calls)
        == sum(math.ceil(n / 32) for n in [p.stats.prompts for p in res.passes])
    )


def test_hierarchical_skips_covered_points() -> None:
    disks = [(60.0, 45.0, 40.0), (150.0, 90.0, 25.0)]
    fake = FakePredictor(HW, disks)
    cfg = EverythingConfig(points_per_side=16)
    res = generate_everything(fake, None, cfg)
    coarse, dense = res.passes
    assert coarse.stats.prompts == 16  # 4 x 4
    # coverage: the kept coarse masks' logits > 8.5, i.e. the disks hit by a coarse point
    coarse_pts = grid_points_xy_image(4, HW)
    hit = [d for d in disks if _inside(coarse_pts, [d]).any()]
    assert hit, "test layout: the coarse grid must hit a disk"
    cov = res.coverage
    for cx, cy, r in hit:
        core = _disk_mask(HW, cx, cy, r - 3)
        assert cov[core].all()
    grown = np.any([_disk_mask(HW, cx, cy, r + 3) for cx, cy, r in hit], axis=0)
    assert not cov[~grown].any()  # bilinear upscaling of ~3 px low-res cells: 3 px slack
    full = grid_points_xy_image(16, HW)
    np.testing.assert_array_equal(res.dense_points_xy_image, remaining_points(full, cov))
    assert dense.stats.prompts < 256
    assert len(res.rles) == len(disks)


def test_generator_records_and_output_modes() -> None:
    fake = FakePredictor(HW, DISKS)
    image = np.zeros((*HW, 3), np.uint8)
    out = {}
    for om in ("binary_mask", "coco_rle", "uncompressed_rle"):
        gen = MaskGenerator(fake, mode="grid", points_per_side=8, output_mode=om)
        out[om] = gen.generate(image)
        assert gen.last_stats["passes"][0]["prompts"] == 64
    recs = out["binary_mask"]
    assert len(recs) == len(DISKS)
    for r, rc, ru in zip(recs, out["coco_rle"], out["uncompressed_rle"], strict=True):
        assert set(r) == {
            "segmentation",
            "area",
            "bbox",
            "predicted_iou",
            "point_coords",
            "stability_score",
            "crop_box",
        }
        seg = r["segmentation"]
        assert seg.dtype == bool and seg.shape == HW
        assert np.array_equal(coco_rle_decode(rc["segmentation"]), seg)
        assert isinstance(rc["segmentation"]["counts"], str)
        assert np.array_equal(rle_to_mask(ru["segmentation"]), seg)
        assert r["area"] == int(seg.sum())
        ys, xs = np.nonzero(seg)
        assert r["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        assert r["crop_box"] == [0, 0, HW[1], HW[0]]
        assert (
            len(r["point_coords"]) == 1
            and seg[int(r["point_coords"][0][1]), int(r["point_coords"][0][0])]
        )


def test_min_mask_region_area_postprocessing() -> None:
    a = _disk_mask(HW, 50, 60, 30)
    a[60, 50] = False  # small hole
    b = _disk_mask(HW, 150, 40, 20)
    b_speck = b.copy()
    b_speck[110:112, 5:7] = True  # small island far away
    rles = [mask_to_rle(m) for m in (a, b, b_speck)]
    boxes = np.array([[20, 30, 80, 90], [130, 20, 170, 60], [5, 20, 170, 111]])
    kept, new_rles, new_boxes = postprocess_small_regions(rles, boxes, 10, 0.7)
    # b and cleaned b_speck are duplicates; the unchanged b (score 1) wins over b_speck (0)
    assert kept.tolist() == [1, 0]
    assert np.array_equal(rle_to_mask(new_rles[1]), a | _disk_mask(HW, 50, 60, 1))
    assert new_boxes[0].tolist() == [130, 20, 170, 60]


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"mode": "crops"}, ValueError, "mode"),
        ({"output_mode": "png"}, ValueError, "output_mode"),
        ({"points_per_side": 0}, ValueError, "points_per_side"),
        ({"points_per_side": 8.0}, TypeError, "points_per_side"),
        ({"points_per_batch": 0}, ValueError, "points_per_batch"),
        ({"box_nms_thresh": 1.5}, ValueError, "box_nms_thresh"),
        ({"pred_iou_thresh": float("nan")}, ValueError, "pred_iou_thresh"),
        ({"high_score_thresh": "8.5"}, TypeError, "high_score_thresh"),
        ({"min_mask_region_area": -1}, ValueError, "min_mask_region_area"),
        ({"stability_score_offset": -1.0}, ValueError, "stability_score_offset"),
        ({"stability_frame": "model"}, ValueError, "stability_frame"),
        ({"stability_prefilter_margin": -0.1}, ValueError, "stability_prefilter_margin"),
    ],
)
def test_config_validation(kwargs: dict, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        EverythingConfig(**kwargs)


def test_config_defaults_frozen_and_coarse_side() -> None:
    cfg = EverythingConfig()
    assert (cfg.mode, cfg.points_per_side, cfg.points_per_batch) == ("hierarchical", 32, 64)
    assert (cfg.pred_iou_thresh, cfg.stability_score_thresh, cfg.high_score_thresh) == (
        0.88,
        0.95,
        8.5,
    )
    assert cfg.coarse_points_per_side == 8
    assert EverythingConfig(points_per_side=3).coarse_points_per_side == 1
    with pytest.raises(AttributeError):
        cfg.mode = "grid"  # type: ignore[misc]
    with pytest.raises(ValueError, match="mode"):
        MaskGenerator(FakePredictor(HW, DISKS), mode="bogus")
