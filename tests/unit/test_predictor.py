"""Predictor logic over numpy fake sessions (see conftest.FakeEncoder / FakeDecoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.errors import BundleError, ImageError, ManifestError, PromptError, StateError
from tinysam_mobile.postprocess import threshold, upscale_logits
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.spec import ModelGeometry

H, W = 40, 80  # resized to (32, 64) at image_size 64: scale 0.8 on both axes


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


@pytest.fixture
def predictor(fake_sessions, geometry: ModelGeometry, image: np.ndarray) -> Predictor:
    p = Predictor(*fake_sessions, geometry=geometry)
    p.set_image(image)
    return p


def test_state_errors(fake_sessions, geometry: ModelGeometry) -> None:
    p = Predictor(*fake_sessions, geometry=geometry)
    assert not p.is_image_set
    with pytest.raises(StateError, match="set_image"):
        p.predict([[1, 1]], [1])
    with pytest.raises(StateError):
        p.get_image_embedding()
    with pytest.raises(StateError):
        p.decode(np.zeros((1, 2, 2)), np.zeros((1, 2)))
    with pytest.raises(StateError):
        _ = p.original_hw


def test_set_image_encodes_once(predictor: Predictor, fake_sessions) -> None:
    enc, dec = fake_sessions
    assert len(enc.calls) == 1
    x = enc.calls[0]
    assert x.shape == (1, 3, 64, 64)
    assert x.dtype == np.float32
    assert predictor.is_image_set
    assert predictor.original_hw == (H, W)
    assert predictor.resized_hw == (32, 64)
    assert predictor.get_image_embedding().shape == (1, 256, 4, 4)
    for _ in range(3):
        predictor.predict([[10, 10]], [1])
    assert len(enc.calls) == 1
    assert len(dec.calls) == 3


def test_point_prompt_multimask(predictor: Predictor, fake_sessions) -> None:
    _, dec = fake_sessions
    masks, iou, low = predictor.predict(np.array([[50.0, 20.0]]), np.array([1]))
    call = dec.calls[-1]
    np.testing.assert_allclose(call["point_coords"], [[[40.0, 16.0], [0.0, 0.0]]], rtol=1e-6)
    np.testing.assert_array_equal(call["point_labels"], [[1.0, -1.0]])
    np.testing.assert_array_equal(call["has_mask_input"], [0.0])
    assert masks.shape == (3, H, W)
    assert masks.dtype == bool
    np.testing.assert_allclose(iou, dec.iou[1:])
    assert iou.dtype == np.float32
    assert low.shape == (3, 16, 16)
    assert low.dtype == np.float32
    # tokens 1..3 have radii 3, 5, 8 low-res pixels: nested masks, all containing the point
    areas = masks.sum(axis=(1, 2))
    assert areas[0] < areas[1] < areas[2]
    assert masks[:, 20, 50].all()
    assert not masks[:, 0, 0].any()
    # the low-res radius r maps to r * 4 model px / 0.8 = 5r image px
    assert masks[1, 20, 50 + 20] and not masks[1, 20, 50 + 29]  # token 2: r = 5 -> 25 px
    assert masks[1, 20, 50 - 20] and not masks[1, 20, 50 - 30]


def test_single_mask_and_logits(predictor: Predictor, fake_sessions) -> None:
    _, dec = fake_sessions
    masks, iou, low = predictor.predict([[50, 20]], [1], multimask_output=False)
    assert masks.shape == (1, H, W)
    np.testing.assert_allclose(iou, dec.iou[:1])
    logits, _, low2 = predictor.predict([[50, 20]], [1], multimask_output=False, return_logits=True)
    assert logits.dtype == np.float32
    np.testing.assert_array_equal(threshold(logits), masks)
    np.testing.assert_array_equal(low, low2)
    np.testing.assert_allclose(logits, upscale_logits(low, (32, 64), (H, W), 64))


def test_box_and_mask_input(predictor: Predictor, fake_sessions) -> None:
    _, dec = fake_sessions
    _, iou, low = predictor.predict(box=[10, 5, 60, 35])
    call = dec.calls[-1]
    np.testing.assert_array_equal(call["point_labels"], [[2.0, 3.0]])
    np.testing.assert_allclose(call["point_coords"], [[[8.0, 4.0], [48.0, 28.0]]], rtol=1e-6)
    best = low[int(np.argmax(iou))]
    predictor.predict(box=[10, 5, 60, 35], mask_input=best)
    call = dec.calls[-1]
    np.testing.assert_array_equal(call["has_mask_input"], [1.0])
    np.testing.assert_array_equal(call["mask_input"][0, 0], best)


def test_bad_prompts_do_not_reach_decoder(predictor: Predictor, fake_sessions) -> None:
    _, dec = fake_sessions
    with pytest.raises(PromptError, match="outside"):
        predictor.predict([[W + 1, 0]], [1])
    with pytest.raises(PromptError, match="mask_input"):
        predictor.predict([[1, 1]], [1], mask_input=np.zeros((32, 32)))
    assert dec.calls == []


def test_decode_batch(predictor: Predictor) -> None:
    coords = np.random.default_rng(1).uniform(0, 60, (5, 2, 2))
    labels = np.tile([1.0, -1.0], (5, 1))
    low, iou = predictor.decode(coords, labels)
    assert low.shape == (5, 4, 16, 16)
    assert iou.shape == (5, 4)
    low_m, _ = predictor.decode(coords, labels, mask_input=np.zeros((5, 1, 16, 16)))
    assert low_m.shape == (5, 4, 16, 16)
    with pytest.raises(PromptError, match=r"\(B, N, 2\)"):
        predictor.decode(np.zeros((5, 2)), labels)
    with pytest.raises(PromptError, match="point_labels"):
        predictor.decode(coords, np.zeros((5, 3)))
    with pytest.raises(PromptError, match="mask_input"):
        predictor.decode(coords, labels, mask_input=np.zeros((4, 1, 16, 16)))
    with pytest.raises(PromptError, match="has_mask_input"):
        predictor.decode(coords, labels, has_mask_input=np.zeros(3))


def test_reset_and_bad_image(predictor: Predictor) -> None:
    with pytest.raises(ImageError):
        predictor.set_image(np.zeros((0, 3, 3), np.uint8))
    assert predictor.original_hw == (H, W)  # failed set_image keeps the previous image
    predictor.reset_image()
    assert not predictor.is_image_set
    with pytest.raises(StateError):
        predictor.predict([[1, 1]], [1])


def test_set_image_embedding(fake_sessions, geometry: ModelGeometry) -> None:
    p = Predictor(*fake_sessions, geometry=geometry)
    p.set_image_embedding(np.ones((1, 256, 4, 4), np.float32), (100, 50))
    assert p.resized_hw == (64, 32)
    masks, _, _ = p.predict([[25, 50]], [1])
    assert masks.shape == (3, 100, 50)
    with pytest.raises(ValueError, match="embeddings"):
        p.set_image_embedding(np.ones((1, 256, 8, 8), np.float32), (100, 50))


def test_from_bundle_integrity_errors(tmp_path: Path, make_fake_bundle) -> None:
    with pytest.raises(ManifestError):
        Predictor.from_bundle(tmp_path / "missing")
    m = make_fake_bundle(tmp_path)
    with pytest.raises(BundleError, match=r"precision='int8'.*has: encoder/onnx/fp32"):
        Predictor.from_bundle(tmp_path, precision="int8")
    enc = tmp_path / m.artifact("onnx", "fp32", "encoder").file
    enc.write_bytes(enc.read_bytes()[:-1])
    with pytest.raises(BundleError, match=r"encoder.fp32.onnx is truncated"):
        Predictor.from_bundle(tmp_path)
    enc.unlink()
    with pytest.raises(BundleError, match=r"encoder.fp32.onnx is missing"):
        Predictor.from_bundle(tmp_path)


def test_sessions_with_other_tensor_names_are_refused(
    fake_sessions, geometry: ModelGeometry
) -> None:
    from dataclasses import replace

    from tinysam_mobile.spec import TensorSpec

    enc, dec = fake_sessions
    enc.spec = replace(enc.spec, inputs=(TensorSpec("pixels", enc.spec.inputs[0].shape),))
    with pytest.raises(BundleError, match=r"encoder session has inputs \['pixels'\]"):
        Predictor(enc, dec, geometry=geometry)
