"""The demo model's training recipe: the one definition ``tinysam-train demo`` runs.

The embedded demo model (``tinysam_export/assets/demo_vit_t.pth``) is trained in two phases on
a 2-core CPU with one thread; each later phase starts from the previous phase's ``final.pth`` and draws
new training images (its own seed). ``run_demo_recipe`` replays them in order from one command,
then packs the result as float16 and plots the curves, so a retrain needs no copy-pasting.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import asdict, fields, replace
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
    eval_images=8,
)
"""Settings shared by every phase (one thread: on a busy 2-core machine two were 5-10x slower)."""

DEMO_PHASES: tuple[dict, ...] = (
    # A: from scratch at 128 px (8x8 tokens: cheap steps, leaves the "all background" plateau early)
    {"image_size": 128, "steps": 800, "click_iters": 1, "lr": 4e-4, "warmup_steps": 20,
     "seed": 10, "eval_every": 200, "checkpoint_every": 200},
    # B: 192 px (12x12 tokens, the shipped size), more prompts, two corrective iterations
    {"image_size": 192, "steps": 600, "prompts_per_image": 12, "click_iters": 2, "lr": 3e-4,
     "warmup_steps": 20, "seed": 11, "eval_every": 200, "checkpoint_every": 200},
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


def run_command(cfg: TrainConfig) -> str:
    """The ``tinysam-train run`` command line that reproduces ``cfg`` (every field spelled out)."""
    words = ["tinysam-train", "run"]
    values = asdict(cfg)
    for f in fields(TrainConfig):
        if f.name == "init_from" and not values[f.name]:
            continue
        words += ["--" + f.name.replace("_", "-"), str(values[f.name])]
    return shlex.join(words)


def phase_records(results: list[TrainResult], configs: list[TrainConfig]) -> list[dict]:
    """What the packaged model's JSON records per phase: command, steps, time, loss, monitor."""
    from .cli import read_log

    records = []
    for cfg, result in zip(configs, results, strict=True):
        losses, _ = read_log(result.log_path)
        records.append(
            {
                "command": run_command(cfg),
                "image_size": cfg.image_size,
                "steps": cfg.steps,
                "train_seconds": round(result.seconds, 1),
                "final_loss": losses[-1]["loss"] if losses else None,
                "monitor_eval": result.last_eval,
            }
        )
    return records
