"""Losses of promptable segmentation training (SAM recipe), computed at the low-res mask size.

The ground truth is average-pooled from the model frame (``S x S``) down to the decoder's
low-res grid (``S/4 x S/4``), giving a soft target per low-res cell. Computing the loss there is
16 times cheaper than upsampling the logits to ``S``, and it supervises exactly the tensor that
the runtime upsamples bilinearly.

Per prompt and mask token ``t``: ``seg_t = focal_weight * focal_t + dice_weight * dice_t``.

- Ambiguous prompts (a single positive point) are supervised on the best of the three multimask
  tokens (``min over t in 1..3``), as SAM does.
- Unambiguous prompts (a box, or several points) are supervised on the single-mask token 0 and,
  additionally, on the best multimask token, so that TinySAM's default selection (three
  multimask outputs, the app takes the top predicted IoU) also works for boxes and clicks.
- The IoU head of every token regresses the real IoU of that token's binarised low-res mask
  against the binarised target (mean squared error, target detached).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (SAM: focal 20, dice 1, IoU MSE 1)."""

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0


def downsample_target(gt_masks: torch.Tensor, low_res_hw: tuple[int, int]) -> torch.Tensor:
    """Average-pool bool/float masks (K, S, S) to soft targets (K, h, w) float32 in [0, 1]."""
    if gt_masks.ndim != 3:
        raise ValueError(f"gt_masks must be (K, S, S), got {tuple(gt_masks.shape)}")
    return F.adaptive_avg_pool2d(gt_masks[:, None].float(), low_res_hw)[:, 0]


def sigmoid_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss averaged over the last two (spatial) dims: (..., h, w) -> (...)."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * loss).mean(dim=(-2, -1))


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft dice loss over the spatial dims: (..., h, w) -> (...)."""
    p = torch.sigmoid(logits).flatten(-2)
    t = target.flatten(-2)
    num = 2 * (p * t).sum(-1) + eps
    den = p.sum(-1) + t.sum(-1) + eps
    return 1 - num / den


def binary_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of ``logits > 0`` against ``target > 0.5`` over the spatial dims (no gradient)."""
    with torch.no_grad():
        pred = (logits > 0).flatten(-2)
        gt = (target > 0.5).flatten(-2)
        inter = (pred & gt).sum(-1).float()
        union = (pred | gt).sum(-1).float()
        return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@dataclass
class LossOutput:
    """Result of :func:`promptable_loss`.

    Attributes
    ----------
    total
        Scalar loss (mean over prompts).
    parts
        Detached scalars ``focal``, ``dice``, ``iou_mse``, ``iou`` (mean real IoU of the chosen
        tokens) for logging.
    chosen
        (K,) int64 index of the token fed back as ``mask_input`` in the next iteration: the
        top predicted IoU among the supervised tokens.
    """

    total: torch.Tensor
    parts: dict[str, float]
    chosen: torch.Tensor


def promptable_loss(
    low_res_masks: torch.Tensor,
    iou_predictions: torch.Tensor,
    target_low: torch.Tensor,
    ambiguous: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> LossOutput:
    """Loss of one decoder call over K prompts.

    Parameters
    ----------
    low_res_masks
        (K, 4, h, w) float32 logits, token 0 first.
    iou_predictions
        (K, 4) float32.
    target_low
        (K, h, w) float32 soft targets from :func:`downsample_target`.
    ambiguous
        (K,) bool: True for single-point prompts (multimask supervision only).
    weights
        Loss weights.
    """
    k, t, h, w = low_res_masks.shape
    if t != 4 or target_low.shape != (k, h, w) or iou_predictions.shape != (k, 4):
        raise ValueError(
            f"shape mismatch: masks {tuple(low_res_masks.shape)}, iou "
            f"{tuple(iou_predictions.shape)}, target {tuple(target_low.shape)}"
        )
    tgt = target_low[:, None].expand(-1, 4, -1, -1)
    focal = sigmoid_focal_loss(low_res_masks, tgt)  # (K, 4)
    dice = dice_loss(low_res_masks, tgt)  # (K, 4)
    seg = weights.focal * focal + weights.dice * dice
    best_multi = seg[:, 1:].argmin(dim=1) + 1  # (K,)
    rows = torch.arange(k)
    seg_multi = seg[rows, best_multi]
    seg_total = torch.where(ambiguous, seg_multi, seg_multi + seg[:, 0])
    real_iou = binary_iou(low_res_masks, tgt)  # (K, 4)
    iou_mse = ((iou_predictions - real_iou) ** 2).mean(dim=1)
    total = (seg_total + weights.iou * iou_mse).mean()

    with torch.no_grad():
        top_multi = iou_predictions[:, 1:].argmax(dim=1) + 1
        chosen = torch.where(ambiguous, top_multi, torch.zeros_like(top_multi))
        parts = {
            "focal": float(focal[rows, best_multi].mean()),
            "dice": float(dice[rows, best_multi].mean()),
            "iou_mse": float(iou_mse.mean()),
            "iou": float(real_iou[rows, chosen].mean()),
        }
    return LossOutput(total, parts, chosen)
