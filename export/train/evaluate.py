"""Quick held-out monitoring during training (PyTorch only).

This is a progress signal for the training log, not the project's quality figure: the reported
figures come from ``benchmarks/eval_quality.py``, which runs the runtime ``Predictor`` pipeline
(the one exported bundles use). Here the images are already ``S x S`` squares, so no resize or
padding is involved and the decoder outputs can be compared to the masks directly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tinysam_mobile.spec import BOX_LABELS, PAD_LABEL

from .data import make_split
from .prompts import deepest_point, mask_to_box

MONITOR_SEED_OFFSET = 50_000
"""Offset inside the held-out split of the monitoring images (the benchmark uses 0..n-1)."""


def _iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """IoU over the last two dims of bool tensors (..., S, S)."""
    inter = (pred & gt).flatten(-2).sum(-1).float()
    union = (pred | gt).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@torch.no_grad()
def quick_eval(model: torch.nn.Module, image_size: int, n_images: int) -> dict[str, float]:
    """mIoU of single-point and box prompts on ``n_images`` held-out images.

    Returns
    -------
    dict
        ``point_top`` (top predicted IoU of the 3 multimask outputs, centre click),
        ``point_best`` (oracle best of 3), ``box_single`` (token 0), ``box_top``; means over
        all instances.
    """
    was_training = model.training
    model.eval()
    scores: dict[str, list[float]] = {
        "point_top": [],
        "point_best": [],
        "box_single": [],
        "box_top": [],
    }
    try:
        for sample in make_split("heldout", n_images, MONITOR_SEED_OFFSET, image_size):
            k = len(sample.masks)
            coords = np.zeros((2 * k, 2, 2), np.float32)
            labels = np.zeros((2 * k, 2), np.float32)
            for i, m in enumerate(sample.masks):
                x, y, _ = deepest_point(m)
                coords[i, 0] = (x, y)
                labels[i] = (1.0, PAD_LABEL)
                coords[k + i] = mask_to_box(m).reshape(2, 2)
                labels[k + i] = BOX_LABELS
            img = torch.from_numpy(sample.image.copy()).permute(2, 0, 1)[None].float()
            emb = model.encode_image(img)
            low, iou = model.forward_prompts(
                emb, torch.from_numpy(coords), torch.from_numpy(labels)
            )
            up = (
                F.interpolate(low, (image_size, image_size), mode="bilinear", align_corners=False)
                > 0
            )
            gt = torch.from_numpy(sample.masks)
            gt2 = torch.cat([gt, gt])[:, None]
            ious = _iou(up, gt2)  # (2K, 4)
            top = iou[:, 1:].argmax(1) + 1
            rows = torch.arange(2 * k)
            scores["point_top"] += ious[rows, top][:k].tolist()
            scores["point_best"] += ious[:k, 1:].max(1).values.tolist()
            scores["box_single"] += ious[k:, 0].tolist()
            scores["box_top"] += ious[rows, top][k:].tolist()
    finally:
        model.train(was_training)
    return {key: float(np.mean(v)) for key, v in scores.items()}
