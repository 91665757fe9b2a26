"""The Android demo's Kotlin pipeline, compiled and tested on the JVM against fresh golden vectors.

Three golden folders are written with the Python golden writer, so the Kotlin tests check what the
Python runtime computes today:

- ``tiny_bundle/golden``: the ``tiny_bundle`` export (random-weight ``vit_t`` at image size 256,
  ONNX fp32) — real graphs, real decoder outputs; its everything-mode ``tuned`` and ``regions``
  runs keep final records whatever the model (``docs/GOLDEN.md``);
- ``demo_bundle/golden``: the embedded demo model exported the same way (image size 128), whose
  tuned everything run has active IoU and stability filters;
- a folder from :class:`SyntheticDecoder`, whose masks are discs around the prompts with
  IoU scores spread over [0.5, 1], so even the ``official`` run (SAM's thresholds) keeps masks.

``scripts/test_android_pipeline.sh`` installs the toolchain (``scripts/setup_kotlin.sh``), compiles
``android_demo/pipeline`` with kotlinc, runs its JUnit 5 tests and type-checks the platform glue
against stubs; this test fails when any of that fails, when no test ran, or when an
everything-mode run that must keep records returns none. With ``pytest -s`` it prints the
script's report: what was compiled and tested, only type-checked against stubs, not checked.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.mobile.conftest import everything_docs, golden_dir

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_android_pipeline.sh"
MIN_TESTS_PER_FOLDER = 60
"""JUnit tests (dynamic ones included) of one golden folder; fewer means tests were lost."""

pytestmark = [pytest.mark.mobile, pytest.mark.export, pytest.mark.slow]


def test_synthetic_vectors_exercise_everything_mode(synthetic_golden: Path) -> None:
    """The synthetic folder keeps and drops masks at every everything-mode step of the tuned
    runs, and keeps records even with SAM's thresholds (the official run)."""
    docs = everything_docs(synthetic_golden)
    assert [d["run"] for d in docs] == ["official", "tuned", "regions"]
    assert docs[0]["final"]["count"] > 0
    for doc in docs[1:]:
        for key in ("coarse", "dense"):
            p = doc[key]
            masks = 3 * sum(b["point_coords"]["shape"][0] for b in p["batches"])
            assert 0 < len(p["kept"]) <= len(p["kept_after_stability"]), (doc["run"], key)
            assert len(p["kept_after_stability"]) < len(p["kept_after_iou"]) < masks, key
        assert 0 < doc["final"]["count"] == len(doc["final"]["records"])
    tuned = docs[1]["merged"]
    assert 0 < len(tuned["kept"]) < tuned["boxes"]["shape"][0]


@pytest.mark.parametrize("bundle", ["tiny_bundle", "demo_bundle"])
def test_exported_vectors_keep_final_records(bundle: str, request: pytest.FixtureRequest) -> None:
    """A real export's everything vectors hold final records (the tuned and regions runs) and the
    regions run's small-region cleanup, whatever the model's quality."""
    docs = {d["run"]: d for d in everything_docs(golden_dir(request.getfixturevalue(bundle)))}
    assert set(docs) == {"official", "tuned", "regions"}
    for run in ("tuned", "regions"):
        assert docs[run]["require_records"] and docs[run]["final"]["count"] > 0, run
        assert docs[run]["coarse"]["kept"] and docs[run]["dense"]["kept"], run
    regions = docs["regions"]
    assert regions["config"]["min_mask_region_area"] > 0
    assert regions["small_regions"]["input_count"] == docs["tuned"]["final"]["count"]
    assert len(regions["small_regions"]["kept"]) == regions["final"]["count"]


def test_demo_model_vectors_exercise_the_filters(demo_bundle: Path) -> None:
    """On the trained demo model the tuned IoU and stability filters are active and drop masks
    (on random weights they may be off: negative IoU predictions, flat logits)."""
    tuned = {d["run"]: d for d in everything_docs(golden_dir(demo_bundle))}["tuned"]
    cfg = tuned["config"]
    assert cfg["pred_iou_thresh"] > 0 and cfg["stability_score_thresh"] > 0, cfg
    dense = tuned["dense"]
    masks = 3 * sum(b["point_coords"]["shape"][0] for b in dense["batches"])
    assert 0 < len(dense["kept_after_stability"]) < len(dense["kept_after_iou"]) < masks


def _checked_runs(out: str) -> list[tuple[str, str, int]]:
    rows = re.findall(r"EVERYTHING-CHECKED (\S+): run (\w+), .* final (\d+)", out)
    return [(name, run, int(final)) for name, run, final in rows]


def test_kotlin_pipeline_matches_golden_vectors(
    tiny_bundle: Path, demo_bundle: Path, synthetic_golden: Path
) -> None:
    """Every Kotlin JUnit test passes on the golden vectors of two fresh exports (random
    weights, the demo model) and of the synthetic decoder, and the everything-mode replays
    returned the stored final records."""
    folders = [golden_dir(tiny_bundle), golden_dir(demo_bundle), synthetic_golden]
    proc = subprocess.run(
        ["bash", str(SCRIPT), *map(str, folders)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    summary = out[out.rfind("== summary") :] if "== summary" in out else out[-4000:]
    counts = re.findall(r"^(\d+) passed, (\d+) failed$", out, flags=re.MULTILINE)
    assert counts, f"no test summary from {SCRIPT.name}:\n{out[-6000:]}"
    passed, failed = (int(v) for v in counts[-1])
    assert failed == 0, f"{failed} Kotlin tests failed:\n{out[-12000:]}"
    minimum = MIN_TESTS_PER_FOLDER * len(folders)
    assert passed >= minimum, f"only {passed} Kotlin tests ran (< {minimum}):\n{summary}"
    assert proc.returncode == 0, f"{SCRIPT.name} exited {proc.returncode}:\n{summary}"
    assert "compiled+tested :pipeline" in summary
    # The LiteRT signature choice and prompt chunking (shared cases with the Python runtime).
    assert "compiled+tested :pipeline TfliteSignatureSession" in summary, summary
    runs = _checked_runs(out)
    expected = sum(len(json.loads((f / "index.json").read_text())["everything"]) for f in folders)
    assert len(runs) == expected, f"{len(runs)} everything replays ran, expected {expected}"
    assert all(final > 0 for _, run, final in runs if run != "official"), runs
    print(summary)  # shown with `pytest -s`: what was compiled, type-checked, not checked
    for name, run, final in runs:
        print(f"everything replay {name} ({run}): {final} final records matched")
