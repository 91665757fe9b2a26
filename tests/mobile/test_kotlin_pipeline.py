"""The Android demo's Kotlin pipeline, compiled and tested on the JVM against fresh golden vectors.

The golden folder is regenerated from the ``tiny_bundle`` export (random-weight ``vit_t`` at
image size 256, ONNX fp32) so the Kotlin tests check what the Python runtime computes today.
``scripts/test_android_pipeline.sh`` installs the toolchain (``scripts/setup_kotlin.sh``), compiles
``android_demo/pipeline`` with kotlinc, runs its JUnit 5 tests and type-checks the platform glue
against stubs; this test fails when any of that fails or when no test ran.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_android_pipeline.sh"

pytestmark = [pytest.mark.mobile, pytest.mark.export, pytest.mark.slow]


def _golden_dir(bundle: Path) -> Path:
    """``bundle/golden``, written by the export or, if the export did not, by the golden writer."""
    golden = bundle / "golden"
    if not (golden / "index.json").is_file():
        proc = subprocess.run(
            [sys.executable, "-m", "tinysam_mobile.golden", "--bundle", str(bundle)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, f"golden writer failed:\n{proc.stdout}\n{proc.stderr}"
    assert (golden / "index.json").is_file(), f"no golden vectors in {golden}"
    return golden


def test_kotlin_pipeline_matches_golden_vectors(tiny_bundle: Path) -> None:
    """Every Kotlin JUnit test passes on the golden vectors of a fresh export."""
    golden = _golden_dir(tiny_bundle)
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(golden)],
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
    assert passed >= 30, f"only {passed} Kotlin tests ran:\n{summary}"
    assert proc.returncode == 0, f"{SCRIPT.name} exited {proc.returncode}:\n{summary}"
    assert "compiled+tested :pipeline" in summary
