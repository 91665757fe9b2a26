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
import sys
from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.golden.writer import verify_golden, write_golden
from tinysam_mobile.manifest import Manifest, write_manifest
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.spec import ModelGeometry, decoder_spec, encoder_spec

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


SYNTHETIC_SIZE = 256
"""Encoder input side of the synthetic-decoder vectors (same geometry as ``tiny_bundle``)."""


class SyntheticEncoder:
    """Encoder session: a deterministic embedding (only its shape matters to the decoder)."""

    def __init__(self, geometry: ModelGeometry) -> None:
        self.spec = encoder_spec(geometry)
        self.geometry = geometry

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """float32 (1, 256, h, w) embedding from a strided sample of the image."""
        eh, ew = self.geometry.embedding_hw
        x = inputs["image"][
            0, :, :: self.geometry.image_size // eh, :: self.geometry.image_size // ew
        ]
        emb = np.zeros((1, 256, eh, ew), np.float32)
        emb[0, :3] = x / 255.0
        return {"image_embeddings": emb}


class SyntheticDecoder:
    """Decoder session: token t of a prompt is a disc of radius ~10 + 12 t model pixels around
    the mean positive point, with ripples so the stability scores spread, and IoU in [0.5, 1]."""

    def __init__(self, geometry: ModelGeometry) -> None:
        self.spec = decoder_spec(geometry)
        self.geometry = geometry

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """(B, 4, h, w) logits and (B, 4) IoU, deterministic functions of the prompts."""
        coords, labels = inputs["point_coords"], inputs["point_labels"]
        s = self.geometry.image_size
        lh, lw = self.geometry.low_res_hw
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        b = coords.shape[0]
        low = np.zeros((b, 4, lh, lw), np.float32)
        iou = np.zeros((b, 4), np.float32)
        for i in range(b):
            pos = coords[i][labels[i] == 1]
            px, py = pos.mean(axis=0) if len(pos) else (s / 2, s / 2)
            dist = np.sqrt((xx * s / lw - px) ** 2 + (yy * s / lh - py) ** 2)
            for t in range(4):
                r = 10 + 12 * t + 5 * np.sin(px * 0.1 + t)
                ripple = 2 * np.sin(xx * 0.3 + t)
                low[i, t] = (r - dist) * (0.5 + 0.3 * t) + ripple + 0.1 * inputs["mask_input"][i, 0]
                iou[i, t] = 0.5 + 0.5 * abs(np.sin(px * 0.37 + py * 0.11 + t))
        return {"low_res_masks": low, "iou_predictions": iou}


@pytest.fixture(scope="module")
def synthetic_golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``BUNDLE/golden`` (and ``BUNDLE/manifest.json``) written from the synthetic sessions."""
    bundle = tmp_path_factory.mktemp("synthetic_bundle")
    geometry = ModelGeometry(SYNTHETIC_SIZE)
    write_manifest(bundle, Manifest(geometry))
    predictor = Predictor(SyntheticEncoder(geometry), SyntheticDecoder(geometry), geometry)
    golden = write_golden(predictor, bundle / "golden", graphs_used={"target": "synthetic"})
    assert verify_golden(golden) == []
    return golden


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
    golden = _golden_dir(tiny_bundle)
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
