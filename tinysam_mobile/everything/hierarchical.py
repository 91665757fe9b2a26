"""Grid and hierarchical everything mode as pure steps over a frozen config.

``generate_everything`` composes the steps; each is importable on its own (see the package
docstring for the step API).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinysam_mobile.masks import area_from_rle, box_nms, mask_to_box, rle_counts, rle_to_mask

from .config import EverythingConfig
from .grid import grid_to_image, make_grid, remaining_points
from .passes import DecoderPredictor, PassResult, Trace, run_pass, union_high_confidence
from .regions import remove_small_regions


@dataclass(frozen=True)
class MergeResult:
    """Masks of all passes concatenated (in pass order) and their box NMS.

    Attributes
    ----------
    boxes_xyxy
        int64 ``(M, 4)`` boxes fed to NMS (image frame).
    scores
        float32 ``(M,)`` predicted IoU fed to NMS.
    kept
        int64 ``(K,)`` indices into the concatenation, highest score first.
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    kept: np.ndarray


@dataclass(frozen=True)
class EverythingResult:
    """Final masks (NMS order) plus every intermediate result of the run.

    Attributes
    ----------
    original_hw
        (H, W) of the image.
    passes
        ``(grid,)`` or ``(coarse, dense)`` :class:`PassResult`.
    coverage
        bool ``(H, W)`` union of high-confidence coarse masks (hierarchical), else None.
    dense_points_xy_image
        float64 ``(P2, 2)`` points of the second pass (hierarchical), else None.
    merge
        :class:`MergeResult`.
    rles
        uncompressed RLEs (int64 counts arrays) of the final masks.
    boxes_xyxy, iou_preds, stability, point_coords, areas
        ``(K, 4)`` int64, ``(K,)`` float32, ``(K,)`` float32, ``(K, 2)`` float64, ``(K,)`` int64.
    stats
        JSON-ready dict: per pass counters, NMS and total seconds.
    """

    original_hw: tuple[int, int]
    passes: tuple[PassResult, ...]
    coverage: np.ndarray | None
    dense_points_xy_image: np.ndarray | None
    merge: MergeResult
    rles: tuple[dict[str, Any], ...]
    boxes_xyxy: np.ndarray
    iou_preds: np.ndarray
    stability: np.ndarray
    point_coords: np.ndarray
    areas: np.ndarray
    stats: dict[str, Any]


def grid_points_xy_image(points_per_side: int, original_hw: tuple[int, int]) -> np.ndarray:
    """Full-image grid in image pixels: float64 ``(n * n, 2)``."""
    return grid_to_image(make_grid(points_per_side), original_hw)


def coarse_pass(
    predictor: DecoderPredictor,
    points_xy_image: np.ndarray,
    config: EverythingConfig,
    trace: Trace | None = None,
) -> PassResult:
    """First hierarchical pass; also keeps each mask's ``logits > high_score_thresh``."""
    return run_pass(
        predictor, points_xy_image, config, name="coarse", keep_high_confidence=True, trace=trace
    )


def dense_pass(
    predictor: DecoderPredictor,
    points_xy_image: np.ndarray,
    config: EverythingConfig,
    trace: Trace | None = None,
) -> PassResult:
    """Second hierarchical pass over the uncovered points of the full grid."""
    return run_pass(predictor, points_xy_image, config, name="dense", trace=trace)


def merge_nms(passes: Sequence[PassResult], iou_threshold: float) -> MergeResult:
    """Concatenate the kept masks of the passes and run box NMS scored by predicted IoU.

    The concatenation is in pass order (coarse then dense; the official script puts the dense
    pass first, which only matters for exactly equal scores).
    """
    boxes = np.concatenate([p.boxes_xyxy for p in passes]) if passes else np.zeros((0, 4))
    scores = np.concatenate([p.iou_preds for p in passes]) if passes else np.zeros(0)
    boxes = boxes.astype(np.int64).reshape(-1, 4)
    scores = scores.astype(np.float32)
    return MergeResult(boxes, scores, box_nms(boxes, scores, iou_threshold))


def postprocess_small_regions(
    rles: Sequence[dict[str, Any]],
    boxes_xyxy: np.ndarray,
    min_area: int,
    nms_thresh: float,
) -> tuple[np.ndarray, tuple[dict[str, Any], ...], np.ndarray]:
    """SAM's small-region cleanup: fill holes, drop islands, prefer unchanged masks in NMS.

    Parameters
    ----------
    rles
        Uncompressed RLEs of the masks (image frame).
    boxes_xyxy
        int64 ``(N, 4)`` their boxes.
    min_area
        Holes and islands smaller than this many pixels are changed.
    nms_thresh
        Box NMS threshold of the re-run (scores 1 for unchanged, 0 for changed masks).

    Returns
    -------
    (kept, rles, boxes)
        int64 ``(K,)`` indices into the input in NMS order, the new RLEs ``(K,)`` and boxes
        ``(K, 4)`` of those masks (recomputed only for changed masks).
    """
    new_masks_rle: list[dict[str, Any]] = []
    new_boxes = np.asarray(boxes_xyxy, dtype=np.int64).reshape(-1, 4).copy()
    scores = np.zeros(len(rles), dtype=np.float32)
    for i, rle in enumerate(rles):
        mask = rle_to_mask(rle)
        mask, changed_holes = remove_small_regions(mask, min_area, "holes")
        mask, changed_islands = remove_small_regions(mask, min_area, "islands")
        changed = changed_holes or changed_islands
        scores[i] = 0.0 if changed else 1.0
        if changed:
            new_boxes[i] = mask_to_box(mask)
            new_masks_rle.append({"size": list(rle["size"]), "counts": rle_counts(mask)})
        else:
            new_masks_rle.append(rle)
    kept = box_nms(new_boxes, scores, nms_thresh)
    return kept, tuple(new_masks_rle[i] for i in kept), new_boxes[kept]


def generate_everything(
    predictor: Any,
    image: np.ndarray | None,
    config: EverythingConfig,
    trace: Trace | None = None,
) -> EverythingResult:
    """Segment everything on one image.

    Parameters
    ----------
    predictor
        :class:`tinysam_mobile.predictor.Predictor` (or anything with ``set_image``,
        ``decode``, ``original_hw``, ``resized_hw``, ``image_size``).
    image
        uint8 ``(H, W, 3)`` RGB, or None when the predictor's image is already set.
    config
        :class:`EverythingConfig`; ``config.mode`` picks grid or hierarchical.
    trace
        Optional observer of every decoder batch (see :func:`passes.run_pass`).

    Returns
    -------
    EverythingResult
        Final masks in NMS order (highest predicted IoU first) and every intermediate result.
    """
    t0 = time.perf_counter()
    stats: dict[str, Any] = {"mode": config.mode}
    if image is not None:
        t_enc = time.perf_counter()
        predictor.set_image(image)
        stats["encoder_seconds"] = time.perf_counter() - t_enc
    hw = tuple(int(v) for v in predictor.original_hw)
    full_grid = grid_points_xy_image(config.points_per_side, hw)
    coverage = None
    dense_points = None
    if config.mode == "grid":
        passes: tuple[PassResult, ...] = (
            run_pass(predictor, full_grid, config, name="grid", trace=trace),
        )
    else:
        coarse_points = grid_points_xy_image(config.coarse_points_per_side, hw)
        coarse = coarse_pass(predictor, coarse_points, config, trace)
        coverage = union_high_confidence(coarse.high_rles, hw)
        dense_points = remaining_points(full_grid, coverage)
        dense = dense_pass(predictor, dense_points, config, trace)
        passes = (coarse, dense)
        stats["high_confidence_masks"] = int(sum(area_from_rle(r) > 0 for r in coarse.high_rles))
        stats["covered_fraction"] = float(coverage.mean())
    t_nms = time.perf_counter()
    merge = merge_nms(passes, config.box_nms_thresh)
    all_rles = [r for p in passes for r in p.rles]
    iou = np.concatenate([p.iou_preds for p in passes])
    stab = np.concatenate([p.stability for p in passes])
    points = np.concatenate([p.point_coords for p in passes]).reshape(-1, 2)
    order = merge.kept
    rles = tuple(all_rles[i] for i in order)
    boxes = merge.boxes_xyxy[order]
    if config.min_mask_region_area > 0 and order.size:
        kept2, rles, boxes = postprocess_small_regions(
            rles, boxes, config.min_mask_region_area, config.box_nms_thresh
        )
        order = order[kept2]
    stats["nms_seconds"] = time.perf_counter() - t_nms
    stats["passes"] = [p.stats.to_json() for p in passes]
    stats["prompts"] = int(sum(p.stats.prompts for p in passes))
    stats["decoder_calls"] = int(sum(p.stats.decoder_calls for p in passes))
    stats["masks_before_nms"] = int(merge.scores.size)
    stats["masks"] = len(rles)
    stats["seconds"] = time.perf_counter() - t0
    return EverythingResult(
        original_hw=hw,
        passes=passes,
        coverage=coverage,
        dense_points_xy_image=dense_points,
        merge=merge,
        rles=rles,
        boxes_xyxy=np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
        iou_preds=iou[order].astype(np.float32),
        stability=stab[order].astype(np.float32),
        point_coords=points[order],
        areas=np.array([area_from_rle(r) for r in rles], dtype=np.int64),
        stats=stats,
    )
