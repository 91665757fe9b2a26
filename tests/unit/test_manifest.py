"""manifest.json: round trip, loading errors, artifact lookup and integrity checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tinysam_mobile.errors import BundleError, ManifestError
from tinysam_mobile.manifest import (
    Artifact,
    Manifest,
    load_manifest,
    sha256_file,
    verify_artifact,
    write_manifest,
)
from tinysam_mobile.spec import SCHEMA_VERSION, GraphName, ModelGeometry, graph_specs


def test_sha256_file(tmp_path: Path, make_fake_bundle) -> None:
    p = tmp_path / "f.bin"
    data = bytes(range(256)) * 10_000
    p.write_bytes(data)
    assert sha256_file(p, chunk_size=4096) == hashlib.sha256(data).hexdigest()


def test_roundtrip_and_schema_fields(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path, image_size=64)
    loaded = load_manifest(tmp_path)
    assert loaded == m
    assert loaded.geometry.image_size == 64
    assert loaded.graphs == graph_specs(ModelGeometry(64))
    d = json.loads((tmp_path / "manifest.json").read_text())
    assert d["schema_version"] == SCHEMA_VERSION
    assert d["model"]["embedding_hw"] == [4, 4]
    assert d["model"]["low_res_hw"] == [16, 16]
    assert d["preprocess"]["normalization"] == "in_encoder_graph"
    assert d["prompt"]["box_labels"] == [2.0, 3.0]
    assert d["graphs"]["decoder"]["inputs"][1]["shape"] == ["num_prompts", "num_points", 2]
    assert {a["graph"] for a in d["artifacts"]} == {"encoder", "decoder"}
    assert Manifest.from_json(m.to_json()) == m


def test_artifact_lookup(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path)
    a = m.artifact("onnx", "fp32", GraphName.DECODER)
    assert a.file == "onnx/decoder.fp32.onnx"
    assert m.artifact("onnx", "fp32", "encoder").graph == GraphName.ENCODER
    with pytest.raises(
        BundleError, match=r"target='tflite'.*has: encoder/onnx/fp32, decoder/onnx/fp32"
    ):
        m.artifact("tflite", "fp32", "encoder")
    with pytest.raises(BundleError, match="precision='int8'"):
        m.artifact("onnx", "int8", "decoder")


def test_missing_bundle_and_manifest(tmp_path: Path, make_fake_bundle) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        load_manifest(tmp_path / "nope")
    with pytest.raises(ManifestError, match=r"manifest.json is missing"):
        load_manifest(tmp_path)


def test_invalid_json(tmp_path: Path, make_fake_bundle) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path)


def _edit(tmp_path: Path, make_fake_bundle, fn) -> None:
    make_fake_bundle(tmp_path)
    p = tmp_path / "manifest.json"
    d = json.loads(p.read_text())
    fn(d)
    p.write_text(json.dumps(d))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(schema_version=99), "unsupported manifest schema_version 99"),
        (lambda d: d.pop("schema_version"), "missing required key.*schema_version"),
        (lambda d: d.pop("graphs"), "missing required key.*graphs"),
        (lambda d: d.pop("artifacts"), "missing required key.*artifacts"),
        (lambda d: d["model"].pop("image_size"), "model is missing.*image_size"),
        (lambda d: d["model"].update(image_size=100), "image_size is invalid"),
        (lambda d: d["model"].update(low_res_hw=[8, 8]), "low_res_hw"),
        (lambda d: d["graphs"].pop("decoder"), "lacks decoder"),
        (lambda d: d["graphs"]["encoder"].pop("inputs"), "graphs' is malformed"),
        (lambda d: d["artifacts"][0].pop("sha256"), "artifact is missing.*sha256"),
        (lambda d: d["artifacts"][0].update(graph="other"), "unknown graph"),
        (lambda d: d["preprocess"].update(pixel_mean=[1, 2]), "pixel_mean must be three"),
    ],
)
def test_bad_manifest(tmp_path: Path, make_fake_bundle, edit, match: str) -> None:
    _edit(tmp_path, make_fake_bundle, edit)
    with pytest.raises(ManifestError, match=match):
        load_manifest(tmp_path)


def test_manifest_not_object(tmp_path: Path, make_fake_bundle) -> None:
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ManifestError, match="JSON object"):
        load_manifest(tmp_path)


def test_verify_artifact_ok(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path)
    for a in m.artifacts:
        assert verify_artifact(tmp_path, a) == (tmp_path / a.file).resolve()


def test_verify_missing(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path)
    a = m.artifact("onnx", "fp32", "encoder")
    (tmp_path / a.file).unlink()
    with pytest.raises(BundleError, match=r"onnx/encoder.fp32.onnx is missing"):
        verify_artifact(tmp_path, a)


def test_verify_truncated(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path)
    a = m.artifact("onnx", "fp32", "decoder")
    p = tmp_path / a.file
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(
        BundleError,
        match=rf"decoder.fp32.onnx is truncated.*{a.size_bytes} bytes, found {a.size_bytes - 10}",
    ):
        verify_artifact(tmp_path, a)


def test_verify_tampered(tmp_path: Path, make_fake_bundle) -> None:
    m = make_fake_bundle(tmp_path)
    a = m.artifact("onnx", "fp32", "decoder")
    p = tmp_path / a.file
    data = bytearray(p.read_bytes())
    data[5] ^= 0xFF  # same size, different content
    p.write_bytes(bytes(data))
    with pytest.raises(
        BundleError, match=rf"was modified: sha256 expected {a.sha256}, actual [0-9a-f]{{64}}"
    ):
        verify_artifact(tmp_path, a)


def test_artifact_from_file_missing(tmp_path: Path, make_fake_bundle) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        Artifact.from_file(tmp_path, "x.onnx", "encoder", "onnx", "fp32")


def test_write_manifest_to_file_path_is_atomic(tmp_path: Path, make_fake_bundle) -> None:
    m = Manifest(ModelGeometry(32))
    out = write_manifest(tmp_path / "m.json", m)
    assert out == tmp_path / "m.json"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temp file left behind
    assert Manifest.from_json(json.loads(out.read_text())) == m
