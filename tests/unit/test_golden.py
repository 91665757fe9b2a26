"""Golden vectors: written with the runtime's functions, re-derived from their stored inputs.

The unit tests drive a :class:`Predictor` with small numpy graph sessions (no model), so they
run in a second; ``test_bundle_golden`` does the same with the exported tiny bundle's graphs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.errors import BundleError
from tinysam_mobile.golden import load_array, verify_golden, write_golden
from tinysam_mobile.golden.arrays import array_bytes, check_array
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.spec import EMBED_DIM, ModelGeometry, decoder_spec, encoder_spec

GEOMETRY = ModelGeometry(64)  # embedding 4x4, low-res 16x16


class FakeEncoder:
    """Average-pools the image to the embedding grid and projects it to 256 channels."""

    def __init__(self, geometry: ModelGeometry) -> None:
        self.spec = encoder_spec(geometry)
        self.eh = geometry.embedding_hw[0]
        self.proj = np.random.default_rng(0).normal(0, 0.01, (EMBED_DIM, 3)).astype(np.float32)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["image"][0]
        s = x.shape[-1] // self.eh
        pooled = x.reshape(3, self.eh, s, self.eh, s).mean(axis=(2, 4))
        emb = np.einsum("kc,chw->khw", self.proj, pooled)[None]
        return {"image_embeddings": emb.astype(np.float32)}


class FakeDecoder:
    """Blob logits around positive points, holes at negative ones, plus the mask input."""

    def __init__(self, geometry: ModelGeometry) -> None:
        self.spec = decoder_spec(geometry)
        self.size = geometry.image_size
        self.lh = geometry.low_res_hw[0]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        coords, labels = inputs["point_coords"], inputs["point_labels"]
        emb = inputs["image_embeddings"]
        b = coords.shape[0]
        g = (np.arange(self.lh, dtype=np.float32) + 0.5) * (self.size / self.lh)
        yy, xx = np.meshgrid(g, g, indexing="ij")
        out = np.full((b, 4, self.lh, self.lh), -6.0, np.float32)
        for i in range(b):
            for (x, y), lab in zip(coords[i], labels[i], strict=True):
                d = np.sqrt((xx - x) ** 2 + (yy - y) ** 2) / self.size
                for t in range(4):
                    bump = 16.0 * (0.15 + 0.07 * t - d)
                    if lab in (1.0, 2.0, 3.0):
                        out[i, t] = np.maximum(out[i, t], bump)
                    elif lab == 0.0:
                        out[i, t] -= np.clip(bump, 0, None)
            out[i] += inputs["has_mask_input"][i] * 0.1 * inputs["mask_input"][i]
        out += 50.0 * emb.mean()
        iou = 1.0 / (1.0 + np.exp(-out.mean(axis=(2, 3)) / 4.0))
        return {"low_res_masks": out, "iou_predictions": iou.astype(np.float32)}


def fake_predictor() -> Predictor:
    return Predictor(FakeEncoder(GEOMETRY), FakeDecoder(GEOMETRY), GEOMETRY)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("g") / "golden"
    return write_golden(fake_predictor(), out, graphs_used={"target": "fake"})


def test_golden_verifies(golden: Path) -> None:
    assert verify_golden(golden) == []


def test_index_lists_everything(golden: Path) -> None:
    index = json.loads((golden / "index.json").read_text())
    assert index["schema_version"] == 1
    cases = {json.loads((golden / c).read_text())["case"] for c in index["cases"]}
    assert cases == {"point", "points_neg", "box", "box_point", "refine", "batch"}
    assert len(index["images"]) == 2
    runs = [json.loads((golden / e).read_text())["run"] for e in index["everything"]]
    assert runs == ["official", "tuned", "regions"]
    assert index["bytes"] < 20e6


def test_decoder_inputs_follow_the_prompt_encoding(golden: Path) -> None:
    doc = json.loads((golden / "case__synth_landscape__box_point.json").read_text())
    labels = load_array(golden, doc["decoder_inputs"]["point_labels"])
    np.testing.assert_array_equal(labels, [[1.0, 2.0, 3.0]])
    coords = load_array(golden, doc["decoder_inputs"]["point_coords"])
    h, w = 90, 136
    scale = 64 / max(h, w)
    x, y = doc["prompt"]["point_coords"][0]
    np.testing.assert_allclose(coords[0, 0], [x * round(w * scale) / w, y * round(h * scale) / h])
    refine = json.loads((golden / "case__synth_landscape__refine.json").read_text())
    assert load_array(golden, refine["decoder_inputs"]["has_mask_input"]).tolist() == [1.0]


def _run(golden: Path, run: str) -> dict:
    return json.loads((golden / f"everything__synth_landscape__{run}.json").read_text())


def test_everything_vectors_exercise_every_filter(golden: Path) -> None:
    doc = _run(golden, "tuned")
    coarse, dense = doc["coarse"], doc["dense"]
    total = sum(3 * len(load_array(golden, b["point_coords"])) for b in dense["batches"])
    assert 0 < len(dense["kept"]) < total
    assert len(coarse["kept"]) > 0
    assert len(coarse["batches"]) >= 1 and len(dense["batches"]) >= 2
    merged = load_array(golden, doc["merged"]["scores"])
    assert 0 < doc["final"]["count"] == len(doc["merged"]["kept"]) < len(merged)
    assert doc["require_records"] and doc["small_regions"] is None
    record = doc["final"]["records"][0]
    assert set(record) == {
        "segmentation",
        "area",
        "bbox",
        "predicted_iou",
        "point_coords",
        "stability_score",
        "crop_box",
    }


def test_official_run_uses_sams_thresholds(golden: Path) -> None:
    cfg = _run(golden, "official")["config"]
    assert (cfg["pred_iou_thresh"], cfg["stability_score_thresh"]) == (0.88, 0.95)
    assert (cfg["high_score_thresh"], cfg["min_mask_region_area"]) == (8.5, 0)
    assert cfg["points_per_side"] == _run(golden, "tuned")["config"]["points_per_side"]


def test_regions_run_cleans_the_tuned_masks(golden: Path) -> None:
    tuned, regions = _run(golden, "tuned"), _run(golden, "regions")
    area = regions["config"]["min_mask_region_area"]
    assert area > 0 and regions["small_regions"]["min_mask_region_area"] == area
    assert regions["small_regions"]["input_count"] == tuned["final"]["count"]
    # the same decoder calls, stored once
    files = [b["low_res_masks"]["file"] for r in (tuned, regions) for b in r["dense"]["batches"]]
    assert len(set(files)) == len(files) // 2


def test_small_region_pieces_are_8_connected(golden: Path) -> None:
    case = json.loads((golden / "pieces.json").read_text())["small_regions"][0]
    labels = load_array(golden, case["labels"])
    chain = {int(labels[9, 2]), int(labels[10, 3]), int(labels[11, 4])}
    assert len(chain) == 1 and 0 not in chain  # diagonal neighbours: one component
    assert case["holes"]["changed"] and case["islands"]["changed"]


class ConstantDecoder(FakeDecoder):
    """A model with nothing to offer: every logit -1 (empty masks), every IoU the same."""

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        b = inputs["point_coords"].shape[0]
        return {
            "low_res_masks": np.full((b, 4, self.lh, self.lh), -1.0, np.float32),
            "iou_predictions": np.full((b, 4), -0.25, np.float32),
        }


def test_tuned_run_keeps_records_whatever_the_model(tmp_path: Path) -> None:
    """Constant outputs (no threshold can separate anything, negative IoU): the tuned run
    turns its filters off and still records final masks."""
    predictor = Predictor(FakeEncoder(GEOMETRY), ConstantDecoder(GEOMETRY), GEOMETRY)
    out = write_golden(predictor, tmp_path / "golden")
    assert verify_golden(out) == []
    tuned = _run(out, "tuned")
    assert tuned["config"]["pred_iou_thresh"] == tuned["config"]["stability_score_thresh"] == 0
    assert tuned["final"]["count"] > 0 and _run(out, "regions")["final"]["count"] > 0
    assert _run(out, "official")["final"]["count"] == 0


def test_empty_records_are_reported(golden: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    path = copy / "everything__synth_landscape__tuned.json"
    doc = json.loads(path.read_text())
    doc["final"] = {"count": 0, "records": []}
    path.write_text(json.dumps(doc))
    fails = verify_golden(copy)
    assert any("no records, but this run must keep some" in f for f in fails)
    assert any("0 records, stored" in f or "records, stored 0" in f for f in fails)


@pytest.mark.parametrize("strict", [True, False])
def test_cut_separates_neighbouring_float32_values(strict: bool) -> None:
    from tinysam_mobile.golden.everything import _cut

    a = np.float32(0.5)
    b = np.nextafter(a, np.float32(1))  # no float32 strictly between: the cut is a or b
    values = np.array([0.1, 0.2, a, b, 0.9], np.float32)
    t = np.float32(_cut(values, 0.6, must_keep=0.9, strict=strict))
    kept = values > t if strict else values >= t
    assert kept.tolist() == [False, False, False, True, True]
    assert _cut(np.full(4, 0.7, np.float32), 0.5, 0.7, strict=True) == 0.0  # nothing to cut
    assert _cut(np.array([-2, -1, 3], np.float32), 0.3, 3, strict=True) == 0.0  # cut <= 0: off


@pytest.mark.parametrize(
    ("json_name", "path"),
    [
        ("case__synth_landscape__point.json", ("multimask", "boxes")),
        ("case__synth_portrait__box_point.json", ("single", "stability_scores")),
        ("case__synth_landscape__batch.json", ("decoder_inputs", "point_coords")),
        ("pieces.json", ("stability_score", "output")),
    ],
)
def test_a_corrupted_value_is_reported(golden: Path, tmp_path: Path, json_name, path) -> None:
    import shutil

    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    doc = json.loads((copy / json_name).read_text())
    ref = doc[path[0]][path[1]]
    arr = load_array(copy, ref)
    arr.reshape(-1)[-1] += 3
    (copy / ref["file"]).write_bytes(array_bytes(arr, ref["dtype"]))
    fails = verify_golden(copy)
    assert fails and any(json_name.removesuffix(".json").split("__", 1)[-1] in f for f in fails)


def test_pil_resize_vector_is_not_nearest_neighbour(golden: Path) -> None:
    pieces = json.loads((golden / "pieces.json").read_text())
    down = pieces["resize_image"][2]  # 37x23 -> 20: PIL's antialiased bilinear
    img = load_array(golden, down["input"])
    out = load_array(golden, down["output"])
    h, w = out.shape[:2]
    nearest = img[(np.arange(h) * img.shape[0] // h)][:, (np.arange(w) * img.shape[1] // w)]
    assert not np.array_equal(out, nearest)


def test_digest_reference_checks_bytes(tmp_path: Path) -> None:
    from tinysam_mobile.golden.arrays import ArrayWriter

    w = ArrayWriter(tmp_path, max_file_bytes=16)
    a = np.arange(40, dtype=np.float32).reshape(5, 8)
    ref = w.put("a", a, "float32", digest_ok=True)
    assert "sha256" in ref and "file" not in ref
    assert check_array(tmp_path, "a", a, ref) == []
    b = a.copy()
    b[2, 3] += 1e-3
    assert check_array(tmp_path, "a", b, ref)


def test_bits_round_trip_and_truncated_file(tmp_path: Path) -> None:
    from tinysam_mobile.golden.arrays import ArrayWriter

    m = np.random.default_rng(1).random((3, 5, 7)) > 0.5
    ref = ArrayWriter(tmp_path).put("m", m, "bits")
    np.testing.assert_array_equal(load_array(tmp_path, ref), m)
    (tmp_path / ref["file"]).write_bytes(b"\x00")
    with pytest.raises(BundleError, match="bytes, expected"):
        load_array(tmp_path, ref)


def test_wrong_schema_version_is_refused(golden: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    index = json.loads((copy / "index.json").read_text())
    index["schema_version"] = 99
    (copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(BundleError, match="schema_version 99"):
        verify_golden(copy)


@pytest.mark.export
def test_bundle_golden(tiny_bundle: Path) -> None:
    """The exporter wrote DIR/golden from the bundle's own ONNX graphs, and it verifies."""
    from tinysam_mobile.golden.__main__ import main

    golden = tiny_bundle / "golden"
    index = json.loads((golden / "index.json").read_text())
    assert index["graphs_used"] == {"target": "onnx", "precision": "fp32"}
    assert index["model"]["image_size"] == 256
    assert verify_golden(golden) == []
    assert main(["--bundle", str(tiny_bundle), "--check-only"]) == 0
    doc = json.loads((golden / "case__synth_landscape__batch.json").read_text())
    low = load_array(golden, doc["decoder_outputs"]["low_res_masks"])
    assert low.shape == (3, 4, 64, 64) and np.isfinite(low).all()
