"""``tinysam-train demo``: the recorded recipe of the embedded model, replayable in one command."""

from __future__ import annotations

import itertools
import json
import shlex
from dataclasses import asdict
from pathlib import Path

import pytest

from tinysam_export.assets import DEMO_INFO
from tinysam_export.train import recipe
from tinysam_export.train.cli import main


def test_phases_chain_their_checkpoints(tmp_path: Path) -> None:
    configs = recipe.demo_phase_configs(tmp_path)
    assert len(configs) == len(recipe.DEMO_PHASES)
    assert configs[0].init_from == ""
    for prev, cur in itertools.pairwise(configs):
        assert cur.init_from == str(Path(prev.out_dir) / "final.pth")
    assert len({c.out_dir for c in configs}) == len(configs)
    assert len({c.seed for c in configs}) == len(configs), "each phase must draw new images"


def _recorded_flags(command: str) -> dict[str, str]:
    words = shlex.split(command)
    return {w[2:].replace("-", "_"): words[i + 1] for i, w in enumerate(words) if w[:2] == "--"}


def test_recipe_matches_the_packaged_models_record() -> None:
    """The phases in recipe.py are exactly the commands recorded next to the demo checkpoint."""
    phases = json.loads(DEMO_INFO.read_text())["training"]["phases"]
    configs = recipe.demo_phase_configs("runs/demo")
    assert len(phases) == len(configs)
    for phase, cfg in zip(phases, configs, strict=True):
        flags = _recorded_flags(phase["command"])
        for key, value in asdict(cfg).items():
            if key in ("out_dir", "init_from") or key not in flags:
                continue
            assert type(value)(flags[key]) == value, (key, flags[key], value)


def test_demo_command_runs_phases_packs_and_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = {"steps": 1, "eval_every": 1, "checkpoint_every": 1, "warmup_steps": 0}
    monkeypatch.setattr(
        recipe,
        "DEMO_BASE",
        recipe.DEMO_BASE.__class__(
            image_size=64, batch_size=1, prompts_per_image=2, eval_images=1, log_every=1
        ),
    )
    monkeypatch.setattr(
        recipe, "DEMO_PHASES", ({**tiny, "seed": 0}, {**tiny, "seed": 1, "click_iters": 2})
    )
    packed = tmp_path / "demo.pth"
    assert main(["demo", "--out-dir", str(tmp_path / "runs"), "--pack", str(packed)]) == 0
    assert (tmp_path / "runs" / "phase_b" / "final.pth").is_file()
    assert packed.is_file() and packed.with_suffix(".json").is_file()
    assert (tmp_path / "runs" / "training_curve.png").is_file()

    from tinysam_export.checkpoint import load_model

    load_model(packed, "vit_t", 64)
