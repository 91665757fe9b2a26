"""Shared pieces of the Kotlin and Swift pipeline wrappers: golden folders to test against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.extras import need
from tinysam_mobile.golden.writer import verify_golden, write_golden
from tinysam_mobile.manifest import Manifest, write_manifest
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.spec import ModelGeometry, decoder_spec, encoder_spec, graph_specs


def golden_dir(bundle: Path) -> Path:
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


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo model (``export/assets``, the checkpoint ``tinysam-export`` uses by
    default, at its own image size) exported to ONNX fp32 with its golden vectors: a trained,
    if weak, model whose everything-mode vectors keep masks with active IoU and stability
    filters. Mark users ``export``."""
    need("torch", "the exporter tests need the [export] extra")
    from tinysam_export.config import ExportConfig
    from tinysam_export.pipeline import run_export

    out = tmp_path_factory.mktemp("demo_bundle") / "bundle"
    return run_export(ExportConfig(out=out, threads=2, max_verify_images=0)).out


def everything_docs(golden: Path) -> list[dict[str, Any]]:
    """The everything-mode documents of a golden folder, in ``index.json`` order."""
    index = json.loads((golden / "index.json").read_text())
    return [json.loads((golden / name).read_text()) for name in index["everything"]]


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


@pytest.fixture(scope="session")
def synthetic_golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``BUNDLE/golden`` and ``BUNDLE/manifest.json`` (graphs, no artifacts) written from the
    synthetic sessions: vectors in which every everything-mode step keeps masks."""
    bundle = tmp_path_factory.mktemp("synthetic_bundle")
    geometry = ModelGeometry(SYNTHETIC_SIZE)
    write_manifest(bundle, Manifest(geometry, graphs=graph_specs(geometry)))
    predictor = Predictor(SyntheticEncoder(geometry), SyntheticDecoder(geometry), geometry)
    golden = write_golden(predictor, bundle / "golden", graphs_used={"target": "synthetic"})
    assert verify_golden(golden) == []
    return golden
