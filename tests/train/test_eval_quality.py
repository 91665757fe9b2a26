"""``benchmarks/eval_quality.py``: the resolution ceiling and the command end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY_IMAGE_SIZE

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_quality.py"


@pytest.fixture(scope="module")
def eval_quality():
    spec = importlib.util.spec_from_file_location("eval_quality", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ceiling_is_exact_for_masks_on_the_low_res_grid(eval_quality) -> None:
    masks = np.zeros((3, 64, 64), bool)
    masks[0, :, :32] = True  # a half plane with its edge on the grid: representable exactly
    masks[1, 8:24, 12:40] = True  # grid-aligned box: only the corner pixels are rounded off
    masks[2, 30, 30] = True  # one pixel: below half of a low-res cell, lost
    half, box, dot = eval_quality.low_res_ceiling(masks, 64)
    assert half == 1.0 and dot == 0.0
    assert 1.0 - 4 / masks[1].sum() <= box < 1.0


def test_ceiling_of_a_non_square_image_is_below_one_for_a_thin_bar(eval_quality) -> None:
    masks = np.zeros((1, 48, 96), bool)
    masks[0, 10:12, 5:90] = True  # 2 px thick: half of a 4 px cell after the resize to 64
    (iou,) = eval_quality.low_res_ceiling(masks, 64)
    assert 0.0 <= iou < 1.0


@pytest.mark.export
def test_command_writes_every_metric(eval_quality, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    rc = eval_quality.main(
        [
            "--checkpoint", str(tiny_checkpoint), "--image-size", str(TINY_IMAGE_SIZE),
            "--heldout", "2", "--everything-limit", "1", "--points-per-side", "4",
            "--threads", "1", "--out-json", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.read_text())
    keys = set(result["metrics"])
    for key in ("point_top", "point_best", "box", "box_top", "clicks_1", "clicks_3", "clicks_5",
                "ceiling_low_res", "everything_grid_r50", "everything_hierarchical_r75"):  # fmt: skip
        assert key in keys, key
    assert all(0.0 <= v <= 1.0 for v in result["metrics"].values())
    assert result["n_images"] == 2 and result["n_images_everything"] == 1
    # random weights: far below what the resolution allows
    assert result["metrics"]["point_top"] < result["metrics"]["ceiling_low_res"]


@pytest.mark.parametrize(
    ("counts", "steps", "missing"),
    [(None, 5, []), ([2, 3, 4, 5, 6], 4, ["clicks_5"]), ([2, 3, 4], 2, ["clicks_3", "clicks_5"])],
)
def test_click_curve_stops_at_the_decoders_point_counts(
    eval_quality, counts: list[int] | None, steps: int, missing: list[str]
) -> None:
    """A TFLite decoder has one signature per point count: the corrective-click curve stops
    where 1 + s clicks + 1 padding point no longer fit, and says which metrics were not measured."""

    class Decoder:
        point_counts = counts

    class FakePredictor:
        decoder = Decoder()

    assert eval_quality.max_click_steps(FakePredictor()) == steps
    skipped = eval_quality.not_measured(FakePredictor())
    assert sorted(skipped) == missing
    assert all(f"at most {max(counts)} points" in why for why in skipped.values())
