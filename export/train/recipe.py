"""The demo model's training recipe: the one definition ``tinysam-train demo`` runs.

The embedded demo model (``tinysam_export/assets/demo_vit_t.pth``) was trained in three phases on
a shared 2-core CPU; each later phase starts from the previous phase's ``final.pth`` and draws
new training images (its own seed). ``run_demo_recipe`` replays them in order from one command,
then packs the result as float16 and plots the curves, so a retrain needs no copy-pasting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .loop import TrainConfig, TrainResult, train

DEMO_BASE = TrainConfig(
    model="vit_t",
    image_size=128,
    batch_size=4,
    prompts_per_image=8,
    box_fraction=0.5,
    weight_decay=0.01,
    min_lr_frac=0.05,
    grad_clip=1.0,
    threads=1,
    log_every=10,
    eval_images=12,
)
"""Settings shared by every phase (one thread: on a busy 2-core machine two were 5-10x slower)."""

DEMO_PHASES: tuple[dict, ...] = (
    # A: from scratch
    {"steps": 480, "click_iters": 1, "lr": 4e-4, "warmup_steps": 20, "seed": 0,
     "eval_every": 80, "checkpoint_every": 80},
    # B: warm restart on new images
    {"steps": 240, "click_iters": 1, "lr": 3e-4, "warmup_steps": 10, "seed": 1,
     "eval_every": 60, "checkpoint_every": 60},
    # C: two corrective-click iterations per prompt
    {"steps": 400, "click_iters": 2, "lr": 3e-4, "warmup_steps": 10, "seed": 2,
     "eval_every": 100, "checkpoint_every": 100},
)  # fmt: skip
"""Per-phase overrides of :data:`DEMO_BASE`, in order."""


def demo_phase_configs(out_dir: str | Path) -> list[TrainConfig]:
    """The phases as full configs writing to ``out_dir/phase_a``, ``phase_b``, ...

    Phase k > 0 starts from phase k-1's ``final.pth``.
    """
    out = Path(out_dir)
    configs: list[TrainConfig] = []
    for k, overrides in enumerate(DEMO_PHASES):
        init = str(Path(configs[-1].out_dir) / "final.pth") if configs else ""
        run_dir = out / f"phase_{chr(ord('a') + k)}"
        configs.append(replace(DEMO_BASE, **overrides, out_dir=str(run_dir), init_from=init))
    return configs


def run_demo_recipe(
    out_dir: str | Path, progress: Callable[[str], None] = print
) -> list[TrainResult]:
    """Train every phase in order; returns one result per phase."""
    results = []
    for cfg in demo_phase_configs(out_dir):
        progress(f"== phase {Path(cfg.out_dir).name}: {cfg.steps} steps, seed {cfg.seed}")
        results.append(train(cfg, progress=progress))
    return results
