"""Everything mode end to end on the exported tiny random-weight bundle (ONNX Runtime).

A random-weight model predicts no confident mask, so most checks disable the IoU / stability
filters (thresholds 0) or place ``high_score_thresh`` at quantiles of the logits it produces,
and compare every step with what the raw decoder outputs (seen through ``trace``) imply.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.cli import main
from tinysam_mobile.everything import (
    EverythingConfig,
    MaskGenerator,
    generate_everything,
    grid_points_xy_image,
    remaining_points,
)
from tinysam_mobile.masks import box_nms, coco_rle_decode, mask_to_box, rle_to_mask
from tinysam_mobile.postprocess import upscale_logits
from tinysam_mobile.predictor import Predictor

pytestmark = pytest.mark.export  # needs the exported tiny_bundle

HW = (90, 140)


def _image() -> np.ndarray:
    yy, xx = np.mgrid[: HW[0], : HW[1]]
    img = np.zeros((*HW, 3), np.uint8)
    img[..., 0] = 40 + (xx * 1.5).astype(np.uint8)
    img[(xx - 40) ** 2 + (yy - 45) ** 2 < 20**2] = (230, 200, 30)
    img[10:40, 90:130] = (20, 60, 220)
    return img


@pytest.fixture(scope="module")
def predictor(tiny_bundle: Path) -> Predictor:
    p = Predictor.from_bundle(tiny_bundle, threads=1)
    p.set_image(_image())
    return p


def _collect(events: list) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for name, data in events:
        assert name == "decoder_batch"
        out.setdefault(data["pass"], []).append(data)
    return out


def _pass_logits(batches: list[dict]) -> np.ndarray:
    """(P * 3, h, w) low-res logits of tokens 1..3 in flat mask order."""
    low = np.concatenate([b["low_res_masks"][:, 1:] for b in batches])
    return low.reshape(-1, *low.shape[2:])


def test_grid_pass_matches_raw_decoder_outputs(predictor: Predictor) -> None:
    events: list = []
    cfg = EverythingConfig(
        mode="grid",
        points_per_side=4,
        points_per_batch=5,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    res = generate_everything(predictor, None, cfg, trace=lambda e, d: events.append((e, d)))
    batches = _collect(events)["grid"]
    assert [b["low_res_masks"].shape[0] for b in batches] == [5, 5, 5, 1]
    (grid,) = res.passes
    assert grid.stats.decoder_calls == 4 == math.ceil(16 / 5)
    assert grid.kept.tolist() == list(range(48))  # filters off; whole-image crop keeps all
    # the batched prompt equals the interactive one (same padding point, same frame)
    x, y = grid_points_xy_image(4, HW)[6]
    _, iou1, low1 = predictor.predict(np.array([[x, y]]), np.array([1]))
    np.testing.assert_allclose(batches[1]["low_res_masks"][1, 1:], low1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batches[1]["iou_predictions"][1, 1:], iou1, rtol=1e-4, atol=1e-5)
    # each kept mask is its upscaled logits > 0, boxed
    low = _pass_logits(batches)
    for k in (0, 7, 47):
        want = upscale_logits(low[k], predictor.resized_hw, HW, predictor.image_size) > 0
        assert np.array_equal(rle_to_mask(grid.rles[k]), want)
        assert grid.boxes_xyxy[k].tolist() == mask_to_box(want).tolist()
    # NMS over the pass, records in score order
    assert res.merge.kept.tolist() == box_nms(grid.boxes_xyxy, grid.iou_preds, 0.7).tolist()
    assert np.all(np.diff(res.iou_preds) <= 0)
    for rle, box, area in zip(res.rles, res.boxes_xyxy, res.areas, strict=True):
        m = rle_to_mask(rle)
        assert m.shape == HW and int(m.sum()) == area
        assert mask_to_box(m).tolist() == box.tolist()


def test_hierarchical_coverage_and_second_pass(predictor: Predictor) -> None:
    probe = []
    base = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    generate_everything(
        predictor, None, EverythingConfig(**base), trace=lambda e, d: probe.append((e, d))
    )
    coarse_low = _pass_logits(_collect(probe)["coarse"])
    up = upscale_logits(coarse_low, predictor.resized_hw, HW, predictor.image_size)
    full = grid_points_xy_image(4, HW)
    for q in (0.0, 0.7, 0.97, 1.0):
        thr = float(np.quantile(up, q)) - (1e-3 if q == 0.0 else 0.0)
        cfg = EverythingConfig(**base, high_score_thresh=thr)
        res = generate_everything(predictor, None, cfg)
        coarse, dense = res.passes
        assert coarse.stats.prompts == 1  # 4 // 4 points per side
        assert np.array_equal(res.coverage, np.any(up > thr, axis=0))
        want = remaining_points(full, res.coverage)
        np.testing.assert_array_equal(res.dense_points_xy_image, want)
        assert dense.stats.prompts == len(want)
        assert dense.stats.decoder_calls == math.ceil(len(want) / 64)
        assert [p.name for p in res.passes] == ["coarse", "dense"]
        if q == 0.0:
            assert dense.stats.prompts == 0 and res.coverage.all()
        if q == 1.0:
            assert dense.stats.prompts == 16 and not res.coverage.any()


def test_mask_generator_default_thresholds(predictor: Predictor) -> None:
    for mode in ("grid", "hierarchical"):
        gen = MaskGenerator(predictor, mode=mode, points_per_side=4)
        records = gen.generate(None)
        assert isinstance(records, list)
        stats = gen.last_stats
        assert stats is not None and stats["mode"] == mode
        assert stats["masks"] == len(records)
        assert stats["prompts"] == sum(p["prompts"] for p in stats["passes"])


def test_cli_everything_writes_json_and_overlay(tiny_bundle: Path, tmp_path: Path) -> None:
    img_path = tmp_path / "in.png"
    Image.fromarray(_image()).save(img_path)
    out, overlay = tmp_path / "masks.json", tmp_path / "overlay.png"
    argv = [
        "everything",
        str(img_path),
        "--bundle",
        str(tiny_bundle),
        "--mode",
        "grid",
        "--points-per-side",
        "4",
        "--pred-iou-thresh",
        "0",
        "--stability-score-thresh",
        "0",
        "--stability-frame",
        "prefilter",
        "--out",
        str(out),
        "--overlay",
        str(overlay),
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["image_hw"] == list(HW) and doc["config"]["mode"] == "grid"
    assert doc["config"]["stability_frame"] == "prefilter"
    assert doc["stats"]["prompts"] == 16 and doc["masks"]
    union = np.zeros(HW, bool)
    for rec in doc["masks"]:
        m = coco_rle_decode(rec["segmentation"])
        assert m.shape == HW and int(m.sum()) == rec["area"]
        union |= m
    shown = np.asarray(Image.open(overlay).convert("RGB"))
    assert shown.shape == (*HW, 3)
    assert np.any(shown[union] != _image()[union])  # masks are tinted
    assert main(["everything", str(img_path), "--bundle", str(tiny_bundle)]) == 2  # no output
    bad = ["everything", str(img_path), "--bundle", str(tmp_path / "nope"), "--out", str(out)]
    assert main(bad) == 2
    assert main([*argv[:-2], "--box-nms-thresh", "2"]) == 2
