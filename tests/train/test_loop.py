"""Training loop: seeds stay in the train split, click insertion, schedule, smoke run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from tinysam_export.train.data import split_of
from tinysam_export.train.loop import (
    TrainConfig,
    add_clicks,
    initial_prompts,
    lr_at,
    step_sample_seeds,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_training_seeds_never_leave_train_split() -> None:
    cfg = TrainConfig(batch_size=8, seed=3)
    seeds = [s for step in (0, 1, 10**6) for s in step_sample_seeds(cfg, step)]
    assert {split_of(s) for s in seeds} == {"train"}
    assert len(set(seeds)) == len(seeds)


def test_lr_schedule_warmup_then_cosine() -> None:
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_frac=0.1)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.05)


def test_initial_prompts_match_their_masks() -> None:
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 32, 32), bool)
    masks[0, 2:10, 2:10] = True
    masks[1, 15:30, 3:8] = True
    masks[2, 20:25, 20:30] = True
    cfg = TrainConfig(prompts_per_image=5, box_fraction=0.5)
    picked, coords, labels, ambiguous = initial_prompts(masks, rng, cfg)
    assert coords.shape == (5, 2, 2) and labels.shape == (5, 2)
    for i, m in enumerate(picked):
        if ambiguous[i]:
            x, y = coords[i, 0].astype(int)
            assert masks[m][y, x] and labels[i].tolist() == [1.0, -1.0]
        else:
            assert labels[i].tolist() == [2.0, 3.0]
    assert ambiguous.any() or (~ambiguous).any()


def test_add_clicks_keeps_box_corners_and_pad_last() -> None:
    rng = np.random.default_rng(0)
    gt = np.zeros((2, 16, 16), bool)
    gt[:, 4:12, 4:12] = True
    pred = np.zeros_like(gt)  # everything missed -> positive clicks
    coords = np.array([[[5, 5], [0, 0]], [[4, 4], [11, 11]]], np.float32)
    labels = np.array([[1, -1], [2, 3]], np.float32)
    c, lab = add_clicks(coords, labels, pred, gt, rng)
    assert lab[0].tolist() == [1, 1, -1]
    assert lab[1].tolist() == [1, 2, 3]
    assert c[1, 1:].tolist() == [[4, 4], [11, 11]]
    for i in range(2):
        x, y = c[i, 1 if i == 0 else 0].astype(int)
        assert gt[i, y, x] and not pred[i, y, x]
    # a perfect prediction gets a padding point instead of a click
    _c2, lab2 = add_clicks(coords, labels, gt, gt, rng)
    assert lab2[0].tolist() == [1, -1, -1] and lab2[1].tolist() == [-1, 2, 3]


@pytest.mark.export
def test_two_step_smoke_run_writes_loadable_checkpoint(tmp_path) -> None:
    import torch

    from tinysam_export.checkpoint import load_model
    from tinysam_export.train.cli import main

    rc = main(
        [
            "run",
            "--image-size",
            "64",
            "--steps",
            "2",
            "--batch-size",
            "1",
            "--prompts-per-image",
            "2",
            "--click-iters",
            "1",
            "--eval-images",
            "1",
            "--eval-every",
            "2",
            "--log-every",
            "1",
            "--threads",
            "1",
            "--out-dir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in lines if "loss" in e] == [1, 2]
    assert all(np.isfinite(e["loss"]) for e in lines if "loss" in e)
    assert any("eval" in e for e in lines)
    model = load_model(tmp_path / "final.pth", "vit_t", 64)
    state = torch.load(tmp_path / "final.pth", weights_only=True)
    spec_path = SHARED / "reference" / "vit_t_state_dict_spec.json"
    if spec_path.is_file():  # the official layout, key for key, with the same shapes
        spec = json.loads(spec_path.read_text())
        assert list(state) == list(spec)
        assert all(list(state[k].shape) == spec[k]["shape"] for k in spec)
    assert model.image_size == 64
    # pack to fp16 and load back
    out = tmp_path / "demo.pth"
    assert (
        main(
            [
                "pack",
                "--checkpoint",
                str(tmp_path / "final.pth"),
                "--run-dir",
                str(tmp_path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    half = torch.load(out, weights_only=True)
    assert all(v.dtype == torch.float16 for v in half.values() if v.is_floating_point())
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["image_size"] == 64 and meta["storage_dtype"] == "float16"
    back = load_model(out, "vit_t", 64)
    for (k, a), b in zip(model.state_dict().items(), back.state_dict().values(), strict=True):
        if a.is_floating_point():
            assert b.dtype == torch.float32, k
            assert torch.allclose(a, b, atol=1e-2 * (1 + float(a.abs().max()))), k
        else:
            assert torch.equal(a, b), k
