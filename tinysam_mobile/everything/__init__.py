"""Segment everything: SAM's grid mode and TinySAM's hierarchical mode, numpy only.

High level::

    from tinysam_mobile.everything import MaskGenerator
    records = MaskGenerator(predictor, mode="hierarchical").generate(image_u8)

Step API (pure functions over a frozen :class:`EverythingConfig`; each returns one type and
mutates nothing; a port or a golden-vector writer can call them one by one):

``make_grid(n) -> float64 (n*n, 2)``
    normalized grid (x, y) in [0, 1], SAM's ``build_point_grid``.
``grid_to_image(points, original_hw) -> float64 (P, 2)``
    ``points_xy_image`` = (x * W, y * H).
``point_prompts(points_xy_image, original_hw, image_size) -> (float32 (B, 2, 2), float32 (B, 2))``
    decoder inputs in the model frame: the point (label 1) plus SAM's padding point (label -1).
``run_pass(predictor, points_xy_image, config, name=..., keep_high_confidence=..., trace=...)``
    ``-> PassResult``: decoder calls of ``points_per_batch`` prompts, tokens 1..3, IoU filter,
    stability filter (``config.stability_frame``: low-res shortcut, SAM's image frame, or a
    low-res prefilter plus the image-frame decision), upscaling of survivors only, boxes,
    crop-edge filter, RLEs. Flat mask
    index = ``prompt * 3 + token - 1``; ``kept_after_iou``, ``kept_after_stability``, ``kept``
    are such indices. ``trace("decoder_batch", {...})`` sees the raw decoder inputs and outputs
    of every batch without the pass keeping them. ``coarse_pass`` / ``dense_pass`` are the two
    hierarchical uses of it.
``union_high_confidence(high_masks, original_hw) -> bool (H, W)``
    OR of the kept coarse masks' ``logits > high_score_thresh`` in the image frame.
``remaining_points(points_xy_image, covered) -> float64 (M, 2)``
    full-grid points (x, y) with ``covered[floor(y), floor(x)]`` False.
``merge_nms(passes, iou_threshold) -> MergeResult``
    boxes and predicted-IoU scores of all passes concatenated, and the NMS-kept indices.
``generate_everything(predictor, image, config, trace=None) -> EverythingResult``
    all of the above; the result holds every intermediate (passes, coverage, second-pass
    points, merge) and the final masks (RLE), boxes, scores, stats.

Mask helpers (stability score, boxes, NMS, RLE) live in :mod:`tinysam_mobile.masks`.
"""

from __future__ import annotations

from .config import EverythingConfig
from .generator import MaskGenerator, records_from_result
from .grid import grid_to_image, make_grid, remaining_points
from .hierarchical import (
    EverythingResult,
    MergeResult,
    coarse_pass,
    dense_pass,
    generate_everything,
    grid_points_xy_image,
    merge_nms,
    postprocess_small_regions,
)
from .passes import (
    PassResult,
    PassStats,
    point_prompts,
    quality_filter,
    run_pass,
    union_high_confidence,
    valid_low_res_hw,
)

__all__ = [
    "EverythingConfig",
    "EverythingResult",
    "MaskGenerator",
    "MergeResult",
    "PassResult",
    "PassStats",
    "coarse_pass",
    "dense_pass",
    "generate_everything",
    "grid_points_xy_image",
    "grid_to_image",
    "make_grid",
    "merge_nms",
    "point_prompts",
    "postprocess_small_regions",
    "quality_filter",
    "records_from_result",
    "remaining_points",
    "run_pass",
    "union_high_confidence",
    "valid_low_res_hw",
]
