"""The Android demo's Kotlin pipeline, compiled and tested on the JVM against fresh golden vectors.

Two golden folders are written with the Python golden writer, so the Kotlin tests check what the
Python runtime computes today:

- ``tiny_bundle/golden``: the ``tiny_bundle`` export (random-weight ``vit_t`` at image size 256,
  ONNX fp32) — real graphs, real decoder outputs;
- a folder from :class:`SyntheticDecoder`, whose masks are discs around the prompts with
  IoU scores spread over [0.5, 1]: a random-weight decoder makes everything mode keep almost
  nothing, this one makes every filter, the coverage map and NMS keep some masks and drop others.
``scripts/test_android_pipeline.sh`` installs the toolchain (``scripts/setup_kotlin.sh``), compiles
``android_demo/pipeline`` with kotlinc, runs its JUnit 5 tests and type-checks the platform glue
against stubs; this test fails when any of that fails or when no test ran.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.mobile.conftest import golden_dir

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_android_pipeline.sh"

pytestmark = [pytest.mark.mobile, pytest.mark.export, pytest.mark.slow]


def test_synthetic_vectors_exercise_everything_mode(synthetic_golden: Path) -> None:
    """The synthetic folder keeps and drops masks at every everything-mode step (else the
    Kotlin everything tests would compare empty lists)."""
    index = json.loads((synthetic_golden / "index.json").read_text())
    doc = json.loads((synthetic_golden / index["everything"][0]).read_text())
    for key in ("coarse", "dense"):
        p = doc[key]
        masks = 3 * sum(b["point_coords"]["shape"][0] for b in p["batches"])
        assert 0 < len(p["kept"]) <= len(p["kept_after_stability"]), key
        assert len(p["kept_after_stability"]) < len(p["kept_after_iou"]) < masks, key
    merged = doc["merged"]
    assert 0 < len(merged["kept"]) < merged["boxes"]["shape"][0]
    assert doc["final"]["count"] == len(merged["kept"])


def test_kotlin_pipeline_matches_golden_vectors(tiny_bundle: Path, synthetic_golden: Path) -> None:
    """Every Kotlin JUnit test passes on the golden vectors of a fresh export and of the
    synthetic decoder."""
    golden = golden_dir(tiny_bundle)
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(golden), str(synthetic_golden)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    summary = out[out.rfind("== summary") :] if "== summary" in out else out[-4000:]
    counts = re.findall(r"^(\d+) passed, (\d+) failed$", out, flags=re.MULTILINE)
    assert counts, f"no test summary from {SCRIPT.name}:\n{out[-6000:]}"
    passed, failed = (int(v) for v in counts[-1])
    assert failed == 0, f"{failed} Kotlin tests failed:\n{out[-12000:]}"
    assert passed >= 60, f"only {passed} Kotlin tests ran (two golden folders):\n{summary}"
    assert proc.returncode == 0, f"{SCRIPT.name} exited {proc.returncode}:\n{summary}"
    assert "compiled+tested :pipeline" in summary
    print(summary)  # shown with `pytest -s`: what was compiled, type-checked, not checked
