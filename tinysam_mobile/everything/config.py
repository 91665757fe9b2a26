"""Frozen configuration of everything mode, validated on construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Mode = Literal["hierarchical", "grid"]
OutputMode = Literal["binary_mask", "coco_rle", "uncompressed_rle"]
StabilityFrame = Literal["low_res", "image", "prefilter"]

MODES: tuple[str, ...] = ("hierarchical", "grid")
OUTPUT_MODES: tuple[str, ...] = ("binary_mask", "coco_rle", "uncompressed_rle")
STABILITY_FRAMES: tuple[str, ...] = ("low_res", "image", "prefilter")

COARSE_DIVISOR = 4
"""The first hierarchical pass uses ``points_per_side // COARSE_DIVISOR`` points per side."""


@dataclass(frozen=True)
class EverythingConfig:
    """Parameters of segment-everything (SAM's automatic mask generator, TinySAM's defaults).

    Parameters
    ----------
    mode
        ``"hierarchical"`` (TinySAM: coarse grid, then the full grid minus covered points) or
        ``"grid"`` (SAM's single pass over the full grid, no crops).
    points_per_side
        Side ``n`` of the full ``n x n`` grid (32). The coarse grid has ``max(1, n // 4)``.
    points_per_batch
        Single-point prompts per decoder call (64).
    pred_iou_thresh
        Keep masks whose predicted IoU is ``> pred_iou_thresh`` (0.88); ``<= 0`` disables.
    stability_score_thresh
        Keep masks whose stability score is ``>= stability_score_thresh`` (0.95); ``<= 0``
        disables.
    stability_score_offset
        Logit shift of the stability score (1.0).
    high_score_thresh
        Logit (not a probability) above which a kept coarse mask marks its pixels covered (8.5).
    box_nms_thresh
        Box IoU above which the lower-scored of two masks is dropped (0.7).
    min_mask_region_area
        If > 0, fill holes and remove islands smaller than this many pixels (SAM's
        postprocessing), then re-run NMS. 0 disables.
    output_mode
        ``"binary_mask"``, ``"coco_rle"`` or ``"uncompressed_rle"``.
    stability_frame
        Where the stability score is computed. ``"low_res"`` (default): on the decoder's low-res
        logits cropped to the image area; rejected masks are never upscaled (a shortcut: a few
        per cent of decisions near the threshold differ from SAM's). ``"image"``: SAM's order,
        on the logits upscaled to the original image, for every mask that passed the IoU filter.
        ``"prefilter"``: the low-res score rejects masks below
        ``stability_score_thresh - stability_prefilter_margin`` without upscaling them; the
        others get SAM's image-frame score and decision. See
        :mod:`tinysam_mobile.everything.passes` for the measured differences.
    stability_prefilter_margin
        Margin of ``"prefilter"`` (0.05, twice the largest low-res vs image-frame score
        difference measured).
    """

    mode: Mode = "hierarchical"
    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    high_score_thresh: float = 8.5
    box_nms_thresh: float = 0.7
    min_mask_region_area: int = 0
    output_mode: OutputMode = "binary_mask"
    stability_frame: StabilityFrame = "low_res"
    stability_prefilter_margin: float = 0.05

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {self.output_mode!r}")
        if self.stability_frame not in STABILITY_FRAMES:
            raise ValueError(
                f"stability_frame must be one of {STABILITY_FRAMES}, got {self.stability_frame!r}"
            )
        for name in ("points_per_side", "points_per_batch", "min_mask_region_area"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.points_per_side < 1:
            raise ValueError(f"points_per_side must be >= 1, got {self.points_per_side}")
        if self.points_per_batch < 1:
            raise ValueError(f"points_per_batch must be >= 1, got {self.points_per_batch}")
        if self.min_mask_region_area < 0:
            raise ValueError(f"min_mask_region_area must be >= 0, got {self.min_mask_region_area}")
        for name in (
            "pred_iou_thresh",
            "stability_score_thresh",
            "stability_score_offset",
            "high_score_thresh",
            "box_nms_thresh",
            "stability_prefilter_margin",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if self.stability_score_offset < 0:
            raise ValueError(
                f"stability_score_offset must be >= 0, got {self.stability_score_offset}"
            )
        if not 0.0 <= self.stability_prefilter_margin <= 1.0:
            raise ValueError(
                f"stability_prefilter_margin must be in [0, 1], got {self.stability_prefilter_margin}"
            )
        if not 0.0 <= self.box_nms_thresh <= 1.0:
            raise ValueError(f"box_nms_thresh must be in [0, 1], got {self.box_nms_thresh}")

    @property
    def coarse_points_per_side(self) -> int:
        """Points per side of the first hierarchical pass: ``max(1, points_per_side // 4)``."""
        return max(1, self.points_per_side // COARSE_DIVISOR)

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)
