"""Promptable losses: correct ordering, best-of-multimask selection, IoU regression."""

from __future__ import annotations

import torch

from tinysam_export.train.losses import (
    binary_iou,
    dice_loss,
    downsample_target,
    promptable_loss,
    sigmoid_focal_loss,
)


def _target() -> torch.Tensor:
    t = torch.zeros(1, 16, 16)
    t[0, 4:12, 4:12] = 1.0
    return t


def test_downsample_target_is_area_fraction() -> None:
    gt = torch.zeros(1, 8, 8, dtype=torch.bool)
    gt[0, :4, :2] = True
    low = downsample_target(gt, (2, 2))
    assert torch.allclose(low, torch.tensor([[[0.5, 0.0], [0.0, 0.0]]]))


def test_focal_and_dice_prefer_the_right_mask() -> None:
    t = _target()
    good = (t * 2 - 1) * 10
    bad = -good
    assert sigmoid_focal_loss(good, t) < sigmoid_focal_loss(bad, t)
    assert dice_loss(good, t) < 0.01 < 0.99 < dice_loss(bad, t)


def test_ambiguous_prompts_use_best_multimask_token() -> None:
    t = _target()
    good = (t * 2 - 1) * 10
    # token 2 is right, the rest wrong
    masks = torch.stack([-good[0], -good[0], good[0], -good[0]])[None]
    iou_pred = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    amb = promptable_loss(masks, iou_pred, t, torch.tensor([True]))
    unamb = promptable_loss(masks, iou_pred, t, torch.tensor([False]))
    # the ambiguous prompt is satisfied by token 2; the unambiguous one also pays for token 0
    assert amb.total < 0.2 < unamb.total
    assert amb.chosen.tolist() == [2] and unamb.chosen.tolist() == [0]
    assert amb.parts["iou"] == 1.0


def test_iou_head_target_is_real_iou() -> None:
    t = _target()
    logits = torch.full((1, 4, 16, 16), -10.0)
    logits[0, :, 4:12, 4:8] = 10.0  # half of the object: IoU 0.5
    real = binary_iou(logits, t[:, None].expand(-1, 4, -1, -1))
    assert torch.allclose(real, torch.full((1, 4), 0.5))
    right = promptable_loss(logits, torch.full((1, 4), 0.5), t, torch.tensor([True]))
    wrong = promptable_loss(logits, torch.full((1, 4), 1.0), t, torch.tensor([True]))
    assert right.parts["iou_mse"] == 0.0
    assert abs(wrong.parts["iou_mse"] - 0.25) < 1e-6


def test_loss_has_gradient() -> None:
    logits = torch.zeros(2, 4, 16, 16, requires_grad=True)
    iou = torch.full((2, 4), 0.5, requires_grad=True)
    out = promptable_loss(logits, iou, _target().expand(2, -1, -1), torch.tensor([True, False]))
    out.total.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert iou.grad is not None and iou.grad.abs().sum() > 0
