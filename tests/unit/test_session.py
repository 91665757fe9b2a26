"""Graph sessions: input validation, ONNX Runtime signature checks, open_session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.extras import need
from tinysam_mobile.errors import BundleError
from tinysam_mobile.manifest import Artifact, Manifest, write_manifest
from tinysam_mobile.session import (
    GraphInputError,
    GraphSession,
    OrtSession,
    open_session,
    validate_inputs,
)
from tinysam_mobile.spec import GraphName, ModelGeometry, decoder_spec, encoder_spec

GEOM = ModelGeometry(32)  # 2x2 embedding, 8x8 low-res


def _decoder_inputs(b: int = 2, n: int = 3) -> dict[str, np.ndarray]:
    return {
        "image_embeddings": np.zeros((1, 256, 2, 2), np.float32),
        "point_coords": np.zeros((b, n, 2), np.float32),
        "point_labels": np.zeros((b, n), np.float32),
        "mask_input": np.zeros((b, 1, 8, 8), np.float32),
        "has_mask_input": np.zeros((b,), np.float32),
    }


def test_validate_ok_binds_symbolic_dims() -> None:
    assert validate_inputs(decoder_spec(GEOM), _decoder_inputs(2, 3)) == {
        "num_prompts": 2,
        "num_points": 3,
    }


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.pop("mask_input"), r"missing \['mask_input'\]"),
        (lambda d: d.update(extra=np.zeros(1)), r"unexpected \['extra'\]"),
        (
            lambda d: d.update(point_labels=np.zeros((2, 3), np.float64)),
            "'point_labels' must be float32, got float64",
        ),
        (
            lambda d: d.update(point_coords=np.zeros((2, 3), np.float32)),
            "'point_coords' must have rank 3",
        ),
        (
            lambda d: d.update(image_embeddings=np.zeros((1, 256, 3, 2), np.float32)),
            "'image_embeddings' dim 2 must be 2",
        ),
        (
            lambda d: d.update(has_mask_input=np.zeros((3,), np.float32)),
            r"'has_mask_input' dim 0 \(num_prompts\) is 3 but 'point_coords' has num_prompts = 2",
        ),
        (lambda d: d.update(point_labels=np.zeros((2, 4), np.float32)), "num_points"),
        (lambda d: d.update(point_labels=[[0.0]]), "numpy array"),
    ],
)
def test_validate_errors(change, match: str) -> None:
    d = _decoder_inputs()
    change(d)
    with pytest.raises(GraphInputError, match=match):
        validate_inputs(decoder_spec(GEOM), d)


# -- ONNX Runtime ----------------------------------------------------------------------------


def _patch_conv_onnx(path: Path, image_size: int, input_name: str = "image") -> np.ndarray:
    """Write an 'encoder' (one 16x16 stride-16 conv to 256 channels); return its weights."""
    onnx = need("onnx", "building a test graph needs the onnx package")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, 3, 16, 16)).astype(np.float32) * 0.01
    e = image_size // 16
    graph = helper.make_graph(
        [helper.make_node("Conv", [input_name, "w"], ["image_embeddings"], strides=[16, 16])],
        "enc",
        [
            helper.make_tensor_value_info(
                input_name, TensorProto.FLOAT, [1, 3, image_size, image_size]
            )
        ],
        [helper.make_tensor_value_info("image_embeddings", TensorProto.FLOAT, [1, 256, e, e])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w


def test_ort_session_runs_and_sets_threads(tmp_path: Path) -> None:
    p = tmp_path / "enc.onnx"
    w = _patch_conv_onnx(p, 32)
    sess = OrtSession(p, encoder_spec(GEOM), threads=1)
    assert isinstance(sess, GraphSession)
    assert sess._session.get_session_options().intra_op_num_threads == 1
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    out = sess.run({"image": x})["image_embeddings"]
    assert out.shape == (1, 256, 2, 2)
    patches = x.reshape(3, 2, 16, 2, 16).transpose(1, 3, 0, 2, 4)  # (ey, ex, 3, 16, 16)
    want = np.einsum("yxcij,kcij->kyx", patches.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(out[0], want, rtol=1e-4, atol=1e-3)
    with pytest.raises(GraphInputError, match="float32"):
        sess.run({"image": x.astype(np.float64)})


def test_ort_session_refuses_mismatched_dims(tmp_path: Path) -> None:
    p = tmp_path / "enc.onnx"
    _patch_conv_onnx(p, 32)
    with pytest.raises(
        BundleError, match="input 'image' dim 2 is 32 in the model but 64 in the manifest"
    ):
        OrtSession(p, encoder_spec(ModelGeometry(64)))


def test_ort_session_refuses_mismatched_names(tmp_path: Path) -> None:
    p = tmp_path / "enc.onnx"
    _patch_conv_onnx(p, 32, input_name="pixels")
    with pytest.raises(BundleError, match=r"inputs are \['pixels'\] in the model but \['image'\]"):
        OrtSession(p, encoder_spec(GEOM))


def test_ort_session_bad_threads(tmp_path: Path) -> None:
    p = tmp_path / "enc.onnx"
    _patch_conv_onnx(p, 32)
    with pytest.raises(ValueError, match="threads"):
        OrtSession(p, encoder_spec(GEOM), threads=0)


def _bundle_with(tmp_path: Path, target: str = "onnx", garbage: bool = False) -> Artifact:
    (tmp_path / "onnx").mkdir()
    p = tmp_path / "onnx" / "encoder.fp32.onnx"
    if garbage:
        p.write_bytes(b"definitely not protobuf" * 10)
    else:
        _patch_conv_onnx(p, 32)
    art = Artifact.from_file(tmp_path, "onnx/encoder.fp32.onnx", GraphName.ENCODER, target, "fp32")
    write_manifest(tmp_path, Manifest(GEOM, (art,)))
    return art


def test_open_session_reads_spec_from_manifest(tmp_path: Path) -> None:
    art = _bundle_with(tmp_path)
    sess = open_session(tmp_path, art, threads=1)
    assert sess.spec == encoder_spec(GEOM)
    out = sess.run({"image": np.zeros((1, 3, 32, 32), np.float32)})
    assert out["image_embeddings"].shape == (1, 256, 2, 2)


def test_open_session_unknown_target(tmp_path: Path) -> None:
    art = _bundle_with(tmp_path, target="tensorrt")
    with pytest.raises(BundleError, match=r"target 'tensorrt' .* not supported"):
        open_session(tmp_path, art)


def test_open_session_unloadable_file(tmp_path: Path) -> None:
    art = _bundle_with(tmp_path, garbage=True)
    with pytest.raises(BundleError, match="ONNX Runtime could not load"):
        open_session(tmp_path, art)


def test_open_session_tampered_file(tmp_path: Path) -> None:
    art = _bundle_with(tmp_path)
    p = tmp_path / art.file
    data = bytearray(p.read_bytes())
    data[-1] ^= 1
    p.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="was modified"):
        open_session(tmp_path, art)
