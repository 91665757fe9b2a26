"""``MaskGenerator``: SAM-style records from grid or hierarchical everything mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysam_mobile.masks import box_xyxy_to_xywh, rle_to_coco, rle_to_mask

from .config import EverythingConfig
from .hierarchical import EverythingResult, generate_everything
from .passes import Trace


class MaskGenerator:
    """Segment everything with a :class:`~tinysam_mobile.predictor.Predictor`.

    Parameters
    ----------
    predictor
        The predictor (its encoder runs once per :meth:`generate`).
    mode, points_per_side, points_per_batch, pred_iou_thresh, stability_score_thresh,
    stability_score_offset, high_score_thresh, box_nms_thresh, min_mask_region_area, output_mode
        See :class:`~tinysam_mobile.everything.config.EverythingConfig` (validated there).
    **extra
        Further :class:`EverythingConfig` fields (``stability_frame``).

    Attributes
    ----------
    config
        The frozen :class:`EverythingConfig`.
    last_stats
        Counters of the last :meth:`generate` (per pass: prompts, decoder calls, masks after
        the IoU / stability / edge filters, seconds; NMS; totals), or None.
    last_result
        The :class:`EverythingResult` of the last call (every intermediate step), or None.
    """

    def __init__(
        self,
        predictor: Any,
        mode: str = "hierarchical",
        points_per_side: int = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        high_score_thresh: float = 8.5,
        box_nms_thresh: float = 0.7,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        **extra: Any,
    ) -> None:
        self.predictor = predictor
        self.config = EverythingConfig(
            mode=mode,  # type: ignore[arg-type]
            points_per_side=points_per_side,
            points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset,
            high_score_thresh=high_score_thresh,
            box_nms_thresh=box_nms_thresh,
            min_mask_region_area=min_mask_region_area,
            output_mode=output_mode,  # type: ignore[arg-type]
            **extra,
        )
        self.last_stats: dict[str, Any] | None = None
        self.last_result: EverythingResult | None = None

    def generate(self, image: np.ndarray | None, trace: Trace | None = None) -> list[dict]:
        """Masks of everything in ``image``.

        Parameters
        ----------
        image
            uint8 ``(H, W, 3)`` RGB; None reuses the image already set on the predictor.
        trace
            Optional observer of each decoder batch (see ``passes.run_pass``).

        Returns
        -------
        list of dict
            One record per mask, highest predicted IoU first, with SAM's keys:
            ``segmentation`` (bool ``(H, W)``, COCO RLE ``{"size", "counts": str}`` or
            uncompressed RLE ``{"size", "counts": list[int]}`` per ``output_mode``), ``area``
            (int), ``bbox`` (XYWH, ``w = x1 - x0``, image pixels), ``predicted_iou``,
            ``point_coords`` (``[[x, y]]`` image frame), ``stability_score``, ``crop_box``
            (``[0, 0, W, H]``).
        """
        result = generate_everything(self.predictor, image, self.config, trace=trace)
        self.last_result = result
        self.last_stats = result.stats
        return records_from_result(result, self.config.output_mode)


def records_from_result(result: EverythingResult, output_mode: str) -> list[dict]:
    """SAM automatic-mask-generator records of an :class:`EverythingResult`."""
    h, w = result.original_hw
    bboxes = box_xyxy_to_xywh(result.boxes_xyxy)
    out = []
    for i, rle in enumerate(result.rles):
        if output_mode == "binary_mask":
            seg: Any = rle_to_mask(rle)
        elif output_mode == "coco_rle":
            seg = rle_to_coco(rle)
        elif output_mode == "uncompressed_rle":
            seg = {"size": [h, w], "counts": np.asarray(rle["counts"]).tolist()}
        else:
            raise ValueError(f"unknown output_mode {output_mode!r}")
        out.append(
            {
                "segmentation": seg,
                "area": int(result.areas[i]),
                "bbox": [int(v) for v in bboxes[i]],
                "predicted_iou": float(result.iou_preds[i]),
                "point_coords": [[float(v) for v in result.point_coords[i]]],
                "stability_score": float(result.stability[i]),
                "crop_box": [0, 0, w, h],
            }
        )
    return out
