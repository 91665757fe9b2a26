"""Fixtures of the unit tests: small fake bundles and numpy fake graph sessions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.manifest import Artifact, Manifest, write_manifest
from tinysam_mobile.spec import GraphName, GraphSpec, ModelGeometry, decoder_spec, encoder_spec


def _make_fake_bundle(root: Path, image_size: int = 64) -> Manifest:
    """Write two small non-graph files + manifest.json into ``root``; return the manifest."""
    (root / "onnx").mkdir(parents=True, exist_ok=True)
    arts = []
    for g in GraphName:
        rel = f"onnx/{g}.fp32.onnx"
        (root / rel).write_bytes(f"not really a {g} graph ".encode() * 50)
        arts.append(Artifact.from_file(root, rel, g, "onnx", "fp32"))
    m = Manifest(ModelGeometry(image_size), tuple(arts), tools={"onnx": "x"})
    write_manifest(root, m)
    return m


@pytest.fixture
def make_fake_bundle() -> Callable[..., Manifest]:
    """``make_fake_bundle(root, image_size=64) -> Manifest`` (files are not real graphs)."""
    return _make_fake_bundle


class FakeEncoder:
    """Encoder stand-in: embedding channel c = mean of image channel c % 3, per patch."""

    def __init__(self, geometry: ModelGeometry) -> None:
        self.spec: GraphSpec = encoder_spec(geometry)
        self.geometry = geometry
        self.calls: list[np.ndarray] = []

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tinysam_mobile.session import validate_inputs

        validate_inputs(self.spec, inputs)
        x = inputs["image"]
        self.calls.append(x)
        eh, ew = self.geometry.embedding_hw
        s = self.geometry.image_size // eh
        pooled = x.reshape(1, 3, eh, s, ew, s).mean(axis=(3, 5))
        emb = np.repeat(pooled, 256 // 3 + 1, axis=1)[:, :256]
        return {"image_embeddings": emb.astype(np.float32)}


class FakeDecoder:
    """Decoder stand-in with predictable outputs.

    Token t's logits are ``radius_t - distance`` (in low-res pixels) to the first prompt point,
    with radii (2, 3, 5, 8) low-res pixels, plus 100 * mask_input * has_mask_input; IoU per
    token is ``iou`` (token order). Records every call's inputs.
    """

    radii = (2.0, 3.0, 5.0, 8.0)

    def __init__(
        self, geometry: ModelGeometry, iou: tuple[float, ...] = (0.5, 0.6, 0.9, 0.7)
    ) -> None:
        self.spec: GraphSpec = decoder_spec(geometry)
        self.geometry = geometry
        self.iou = np.asarray(iou, np.float32)
        self.calls: list[dict[str, np.ndarray]] = []

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tinysam_mobile.session import validate_inputs

        validate_inputs(self.spec, inputs)
        self.calls.append(inputs)
        coords = inputs["point_coords"]
        b = coords.shape[0]
        lh, lw = self.geometry.low_res_hw
        scale = lh / self.geometry.image_size
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32) + 0.5
        out = np.empty((b, 4, lh, lw), np.float32)
        for i in range(b):
            cx, cy = coords[i, 0] * scale
            dist = np.hypot(xx - cx, yy - cy)
            for t, r in enumerate(self.radii):
                out[i, t] = r - dist
            out[i] += 100.0 * inputs["mask_input"][i, 0] * inputs["has_mask_input"][i]
        return {"low_res_masks": out, "iou_predictions": np.tile(self.iou, (b, 1))}


@pytest.fixture
def geometry() -> ModelGeometry:
    """A small geometry: 64x64 encoder input, 4x4 embedding, 16x16 low-res masks."""
    return ModelGeometry(64)


@pytest.fixture
def fake_sessions(geometry: ModelGeometry) -> tuple[FakeEncoder, FakeDecoder]:
    """(encoder, decoder) numpy fakes for ``geometry``."""
    return FakeEncoder(geometry), FakeDecoder(geometry)
