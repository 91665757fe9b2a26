"""Golden vectors of hierarchical everything mode (``everything__<img>.json``).

The writer runs the everything-mode step functions (``run_pass``, ``union_high_confidence``,
``remaining_points``, ``box_nms``) on a small grid and records every decoder batch, so the checker
(and a port) can replay the passes from the stored raw outputs and must reproduce every kept
index, the coverage map, the second-pass points, the NMS result and the final masks.

Thresholds: with the default ones (IoU 0.88, stability 0.95, high confidence 8.5) an untrained or
random-weight model keeps nothing and the vectors would test nothing. The writer therefore first
decodes the whole grid once and sets the thresholds to quantiles of what it saw, so every filter
keeps some masks and drops others; the values used are recorded in ``config``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.everything.config import EverythingConfig
from tinysam_mobile.everything.grid import grid_to_image, make_grid, remaining_points
from tinysam_mobile.everything.passes import point_prompts, run_pass, union_high_confidence
from tinysam_mobile.masks import box_nms, coco_rle_encode, rle_to_mask
from tinysam_mobile.spec import ModelGeometry

from .arrays import ArrayWriter, check_array, compare, load_array

POINTS_PER_SIDE = 0
"""0: choose the largest grid (8, 4 or 2 points per side) whose raw outputs fit the budget."""

BUDGET_BYTES = 6 << 20
"""Bytes of raw decoder outputs the everything vectors may store."""

POINTS_PER_BATCH = 3
"""Small batches so that batch offsets in the flat mask indices are exercised."""


def _points_per_side(low_res_hw: tuple[int, int]) -> int:
    per_prompt = 4 * low_res_hw[0] * low_res_hw[1] * 4
    for n in (8, 4, 2):
        if (max(1, n // 4) ** 2 + n * n) * per_prompt <= BUDGET_BYTES:
            return n
    return 2


class _Recorder:
    """Predictor wrapper that records (or replays) every decoder call."""

    def __init__(self, predictor: Any, replay: list[dict[str, np.ndarray]] | None = None):
        self.p = predictor
        self.calls: list[dict[str, np.ndarray]] = []
        self.replay = replay
        self.original_hw = tuple(int(v) for v in predictor.original_hw)
        self.resized_hw = tuple(int(v) for v in predictor.resized_hw)
        self.image_size = int(predictor.image_size)

    def decode(
        self, point_coords: np.ndarray, point_labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode (or replay the next stored call) and record the call."""
        if self.replay is not None:
            stored = self.replay[len(self.calls)]
            self.calls.append({"point_coords": point_coords, "point_labels": point_labels})
            return stored["low_res_masks"], stored["iou_predictions"]
        low, iou = self.p.decode(point_coords, point_labels)
        self.calls.append(
            {
                "point_coords": point_coords,
                "point_labels": point_labels,
                "low_res_masks": low,
                "iou_predictions": iou,
            }
        )
        return low, iou


def _tuned_config(rec: _Recorder, points_per_side: int) -> EverythingConfig:
    """Thresholds at quantiles of what the model outputs (see the module docstring).

    IoU and stability thresholds: quantiles over a probe pass on the whole grid. High-confidence
    threshold: the quantile of the coarse logits whose coverage leaves closest to half of the
    full grid for the second pass.
    """
    hw = rec.original_hw
    probe_cfg = EverythingConfig(
        points_per_side=points_per_side,
        points_per_batch=64,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    full = grid_to_image(make_grid(points_per_side), hw)
    probe = run_pass(rec.p, full, probe_cfg, name="probe")
    iou = probe.iou_preds if probe.iou_preds.size else np.zeros(1)
    stab = probe.stability[probe.stability > 0]
    cfg = EverythingConfig(
        points_per_side=points_per_side,
        points_per_batch=POINTS_PER_BATCH,
        pred_iou_thresh=float(np.quantile(iou, 0.3)),
        stability_score_thresh=float(np.quantile(stab, 0.2)) if stab.size else 0.5,
    )
    coarse_pts = grid_to_image(make_grid(cfg.coarse_points_per_side), hw)
    low = rec.p.decode(*point_prompts(coarse_pts, hw, rec.image_size))[0][:, 1:]
    best: tuple[float, float] | None = None
    for q in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995):
        t = float(min(8.5, np.quantile(low, q)))
        trial = dataclasses.replace(cfg, high_score_thresh=t)
        coarse = run_pass(rec.p, coarse_pts, trial, name="trial", keep_high_confidence=True)
        left = remaining_points(full, union_high_confidence(coarse.high_rles, hw)).shape[0]
        score = abs(left / full.shape[0] - 0.5)
        if best is None or score < best[1]:
            best = (t, score)
    assert best is not None
    return dataclasses.replace(cfg, high_score_thresh=best[0])


def _run(rec: _Recorder, cfg: EverythingConfig) -> dict[str, Any]:
    """The hierarchical steps; returns every intermediate result."""
    hw = rec.original_hw
    coarse_pts = grid_to_image(make_grid(cfg.coarse_points_per_side), hw)
    coarse = run_pass(rec, coarse_pts, cfg, name="coarse", keep_high_confidence=True)
    n_coarse_calls = len(rec.calls)
    covered = union_high_confidence(coarse.high_rles, hw)
    dense_pts = remaining_points(grid_to_image(make_grid(cfg.points_per_side), hw), covered)
    dense = run_pass(rec, dense_pts, cfg, name="dense")
    boxes = np.concatenate([coarse.boxes_xyxy, dense.boxes_xyxy]).astype(np.int64)
    scores = np.concatenate([coarse.iou_preds, dense.iou_preds]).astype(np.float32)
    rles = coarse.rles + dense.rles
    kept = box_nms(boxes, scores, cfg.box_nms_thresh)
    return {
        "coarse": coarse,
        "dense": dense,
        "n_coarse_calls": n_coarse_calls,
        "covered": covered,
        "dense_pts": dense_pts,
        "boxes": boxes,
        "scores": scores,
        "kept": kept,
        "final_rles": [coco_rle_encode(rle_to_mask(rles[i])) for i in kept],
    }


def _pass_doc(w: ArrayWriter, stem: str, res: Any, calls: list[dict]) -> dict[str, Any]:
    batches = [
        {k: w.put(f"{stem}__b{i}__{k}", v, "float32") for k, v in call.items()}
        for i, call in enumerate(calls)
    ]
    return {
        "points_xy_image": w.put(f"{stem}__points", res.points_xy_image, "float32"),
        "batches": batches,
        "kept_after_iou": res.kept_after_iou.tolist(),
        "kept_after_stability": res.kept_after_stability.tolist(),
        "kept": res.kept.tolist(),
        "iou_preds": w.put(f"{stem}__iou", res.iou_preds, "float32"),
        "stability": w.put(f"{stem}__stability", res.stability, "float32"),
        "boxes_xyxy": w.put(f"{stem}__boxes", res.boxes_xyxy, "int32"),
        "rles": [coco_rle_encode(rle_to_mask(r)) for r in res.rles],
    }


def write_everything(
    w: ArrayWriter, predictor: Any, image_id: str, points_per_side: int = POINTS_PER_SIDE
) -> dict[str, Any]:
    """Run hierarchical everything mode on the predictor's current image and store it all."""
    low_res_hw = ModelGeometry(int(predictor.image_size)).low_res_hw
    n = points_per_side or _points_per_side(low_res_hw)
    rec = _Recorder(predictor)
    cfg = _tuned_config(rec, n)
    r = _run(rec, cfg)
    stem = f"{image_id}__everything"
    nc = r["n_coarse_calls"]
    return {
        "image": image_id,
        "config": dataclasses.asdict(cfg),
        "coarse": _pass_doc(w, f"{stem}__coarse", r["coarse"], rec.calls[:nc]),
        "coverage": w.put(f"{stem}__coverage", r["covered"], "bits"),
        "dense_points_xy_image": w.put(f"{stem}__dense_points", r["dense_pts"], "float32"),
        "dense": _pass_doc(w, f"{stem}__dense", r["dense"], rec.calls[nc:]),
        "merged": {
            "boxes": w.put(f"{stem}__merged_boxes", r["boxes"], "int32"),
            "scores": w.put(f"{stem}__merged_scores", r["scores"], "float32"),
            "nms_iou_threshold": cfg.box_nms_thresh,
            "kept": r["kept"].tolist(),
        },
        "final": {"rles": r["final_rles"], "count": len(r["final_rles"])},
    }


class _Image:
    def __init__(self, image: dict[str, Any]):
        self.original_hw = tuple(image["original_hw"])
        self.resized_hw = tuple(image["resized_hw"])
        self.image_size = image["image_size"]


def check_everything(root: Path, doc: dict[str, Any], image: dict[str, Any]) -> list[str]:
    """Replay the passes on the stored decoder outputs and compare every intermediate result."""
    name = f"everything__{doc['image']}"
    batches = doc["coarse"]["batches"] + doc["dense"]["batches"]
    replay = [{k: load_array(root, v) for k, v in b.items()} for b in batches]
    rec = _Recorder(_Image(image), replay=replay)
    cfg = EverythingConfig(**doc["config"])
    r = _run(rec, cfg)
    fails: list[str] = []
    if len(rec.calls) != len(batches):
        fails.append(f"{name}: {len(rec.calls)} decoder calls, stored {len(batches)}")
    for i, (call, stored) in enumerate(zip(rec.calls, replay, strict=False)):
        for k in ("point_coords", "point_labels"):
            fails += compare(f"{name}.batch{i}.{k}", call[k], stored[k], "float32")
    for key, res in (("coarse", r["coarse"]), ("dense", r["dense"])):
        d = doc[key]
        where = f"{name}.{key}"
        fails += check_array(root, f"{where}.points", res.points_xy_image, d["points_xy_image"])
        for k in ("kept_after_iou", "kept_after_stability", "kept"):
            fails += compare(f"{where}.{k}", getattr(res, k), np.asarray(d[k]), "int32")
        fails += check_array(root, f"{where}.iou_preds", res.iou_preds, d["iou_preds"])
        fails += check_array(root, f"{where}.stability", res.stability, d["stability"])
        fails += check_array(root, f"{where}.boxes", res.boxes_xyxy, d["boxes_xyxy"])
        if [coco_rle_encode(rle_to_mask(x)) for x in res.rles] != d["rles"]:
            fails.append(f"{where}.rles differ")
    fails += check_array(root, f"{name}.coverage", r["covered"], doc["coverage"])
    fails += check_array(root, f"{name}.dense_points", r["dense_pts"], doc["dense_points_xy_image"])
    m = doc["merged"]
    fails += check_array(root, f"{name}.merged.boxes", r["boxes"], m["boxes"])
    fails += check_array(root, f"{name}.merged.scores", r["scores"], m["scores"])
    fails += compare(f"{name}.merged.kept", r["kept"], np.asarray(m["kept"]), "int32")
    if r["final_rles"] != doc["final"]["rles"]:
        fails.append(f"{name}.final.rles differ")
    return fails
