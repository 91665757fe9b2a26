"""ONNX export: graph structure, dynamic prompts against torch, the manifest, atomic writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.extras import need

torch = need("torch", "the exporter tests need the [export] extra")
onnx = need("onnx", "the exporter tests need the [export] extra")

from tinysam_export import pipeline, stages, verify_stage
from tinysam_export.checkpoint import load_model
from tinysam_export.config import SUPPORTED, ExportConfig, Precision, Target, check_supported
from tinysam_export.errors import ExportError, VerificationError
from tinysam_export.graphs import build_graphs, example_inputs
from tinysam_export.reference import TorchSession
from tinysam_export.targets import load_target
from tinysam_mobile.manifest import load_manifest, sha256_file
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.session import OrtSession
from tinysam_mobile.spec import GraphName, ModelGeometry, graph_specs

pytestmark = pytest.mark.export

SIZE = 256


@pytest.fixture(scope="module")
def torch_graphs(tiny_checkpoint: Path) -> dict[GraphName, torch.nn.Module]:
    return build_graphs(load_model(tiny_checkpoint, "vit_t", SIZE))


def _onnx_path(bundle: Path, graph: str) -> Path:
    return bundle / "onnx" / f"{graph}.fp32.onnx"


def test_bundle_holds_single_file_onnx_graphs(tiny_bundle: Path) -> None:
    graphs = sorted(p.relative_to(tiny_bundle).as_posix() for p in tiny_bundle.glob("onnx/*.onnx"))
    assert graphs == ["onnx/decoder.fp32.onnx", "onnx/encoder.fp32.onnx"]
    assert (tiny_bundle / "manifest.json").is_file()
    assert not list(tiny_bundle.rglob("*.data"))  # no external-data side files
    for path in graphs:
        model = onnx.load(tiny_bundle / path, load_external_data=False)
        assert not any(
            onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer
        )
    assert not list(tiny_bundle.parent.glob(".bundle.tmp-*"))  # temp folder removed


def test_bundle_is_readable_like_any_output(tiny_bundle: Path) -> None:
    """The bundle is assembled in a private temporary folder; once in place, its folders and
    files have the permissions ``mkdir`` / ``open`` give under the umask (not 0700 / 0600)."""
    import os
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    for path in [tiny_bundle, *tiny_bundle.rglob("*")]:
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == want, path


@pytest.mark.parametrize("graph", ["encoder", "decoder"])
def test_onnx_graph_structure(tiny_bundle: Path, graph: str) -> None:
    model = onnx.load(_onnx_path(tiny_bundle, graph))
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}
    assert opset.get("", opset.get("ai.onnx", 0)) >= 17
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}  # no com.microsoft fusions
    spec = graph_specs(ModelGeometry(SIZE))[GraphName(graph)]
    for values, specs in ((model.graph.input, spec.inputs), (model.graph.output, spec.outputs)):
        got = [
            (v.name, tuple(d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim))
            for v in values
        ]
        assert got == [(t.name, tuple(t.shape)) for t in specs]
    if graph == "encoder":  # fixed shapes only
        assert not any(isinstance(d, str) for t in spec.inputs for d in t.shape)


WEIGHT_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
"""ONNX ops whose second input is a layer weight."""

TABLE_ELEMENTS = 4096
"""Float initializers this large must be layer weights (the bias tables / PE are larger)."""


def large_non_weight_initializers(model: onnx.ModelProto) -> list[tuple[str, tuple]]:
    """Float initializers of >= ``TABLE_ELEMENTS`` elements that do not feed a weight input."""
    weights = {n.input[1] for n in model.graph.node if n.op_type in WEIGHT_OPS and len(n.input) > 1}
    out = []
    for t in model.graph.initializer:
        n = int(np.prod(t.dims)) if t.dims else 1
        if t.data_type == onnx.TensorProto.FLOAT and n >= TABLE_ELEMENTS and t.name not in weights:
            out.append((t.name, tuple(t.dims)))
    return out


@pytest.mark.parametrize("graph", ["encoder", "decoder"])
def test_graphs_store_no_precomputed_tables(tiny_bundle: Path, graph: str) -> None:
    """The attention-bias tables (heads, N, N) and the dense positional encoding (1, 256, h, w)
    are computed in the graph (tinysam_export.runtime_tables), not stored: every large float
    initializer is a layer weight."""
    model = onnx.load(_onnx_path(tiny_bundle, graph))
    assert large_non_weight_initializers(model) == []
    ops = {n.op_type for n in model.graph.node}
    if graph == "decoder":  # the encoding's sines / cosines run in the graph
        assert {"Sin", "Cos"} <= ops
    else:  # the bias tables are gathered in the graph
        assert ops & {"Gather", "GatherND"}


@pytest.mark.parametrize(("num_prompts", "num_points"), [(1, 1), (5, 3), (2, 7)])
def test_decoder_dynamic_prompts_match_torch(
    tiny_bundle: Path,
    torch_graphs: dict[GraphName, torch.nn.Module],
    num_prompts: int,
    num_points: int,
) -> None:
    graph = torch_graphs[GraphName.DECODER]
    spec = graph.spec
    ort_session = OrtSession(_onnx_path(tiny_bundle, "decoder"), spec, threads=2)
    inputs = example_inputs(spec, num_prompts, num_points, seed=num_prompts * 10 + num_points)
    feeds = {k: v.numpy() for k, v in inputs.items()}
    got = ort_session.run(feeds)
    want = TorchSession(graph, spec).run(feeds)
    for name in spec.output_names:
        assert got[name].shape == want[name].shape
        scale = float(np.abs(want[name]).max())
        assert float(np.abs(got[name] - want[name]).max()) <= 1e-4 * scale, name


def test_encoder_matches_torch(tiny_bundle: Path, torch_graphs: dict) -> None:
    graph = torch_graphs[GraphName.ENCODER]
    feeds = {k: v.numpy() for k, v in example_inputs(graph.spec, seed=7).items()}
    got = OrtSession(_onnx_path(tiny_bundle, "encoder"), graph.spec, threads=2).run(feeds)
    want = TorchSession(graph, graph.spec).run(feeds)
    err = np.abs(got["image_embeddings"] - want["image_embeddings"]).max()
    assert err <= 1e-4 * np.abs(want["image_embeddings"]).max()


def test_manifest_content(tiny_bundle: Path, tiny_checkpoint: Path) -> None:
    manifest = load_manifest(tiny_bundle)
    raw = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest.geometry == ModelGeometry(SIZE)
    assert manifest.graphs == graph_specs(ModelGeometry(SIZE))
    assert raw["model"]["checkpoint"] == {
        "file": tiny_checkpoint.name,
        "sha256": sha256_file(tiny_checkpoint),
    }
    assert raw["model"]["embedding_hw"] == [16, 16] and raw["model"]["low_res_hw"] == [64, 64]
    assert raw["preprocess"]["pad"]["value"] == "pixel_mean"
    assert raw["preprocess"]["normalization"] == "in_encoder_graph"
    decoder_inputs = {t["name"]: t["shape"] for t in raw["graphs"]["decoder"]["inputs"]}
    assert decoder_inputs["point_coords"] == ["num_prompts", "num_points", 2]
    for tool in ("torch", "onnx", "onnxruntime", "onnxslim"):
        assert raw["tools"][tool]
    for graph in ("encoder", "decoder"):
        art = manifest.artifact("onnx", "fp32", graph)
        path = tiny_bundle / art.file
        assert art.file == f"onnx/{graph}.fp32.onnx"
        assert art.sha256 == sha256_file(path) and art.size_bytes == path.stat().st_size
        assert art.parity, "parity figures must be recorded"
    verification = raw["verification"]
    assert verification["executed"] is True
    assert verification["thresholds"]["onnx/fp32"]["max_rel_error"] == 1e-4
    enc = manifest.artifact("onnx", "fp32", "encoder").parity["image_embeddings"]
    dec = manifest.artifact("onnx", "fp32", "decoder").parity
    assert enc["relative_error"] <= 1e-4 and enc["cosine"] > 0.9999
    assert dec["low_res_logits"]["relative_error"] <= 1e-4
    assert dec["masks"]["mask_mismatch"] <= 1e-3
    assert any(c.endswith("/refine") for c in verification["cases"])
    assert any(c.endswith("/batch16") for c in verification["cases"])


def test_bundle_runs_in_runtime_predictor(tiny_bundle: Path, torch_graphs: dict) -> None:
    predictor = Predictor.from_bundle(tiny_bundle, threads=2)
    reference = Predictor(
        *(TorchSession(torch_graphs[g], torch_graphs[g].spec) for g in GraphName),
        ModelGeometry(SIZE),
    )
    image = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
    for p in (predictor, reference):
        p.set_image(image)
    got = predictor.predict(box=[10, 10, 100, 70], multimask_output=False)
    want = reference.predict(box=[10, 10, 100, 70], multimask_output=False)
    assert got[0].shape == (1, 90, 130)
    np.testing.assert_allclose(got[2], want[2], atol=1e-4 * np.abs(want[2]).max())


def _unsupported_pairs() -> list[tuple[Target, Precision]]:
    return [(t, p) for t in Target for p in Precision if p not in SUPPORTED.get(t, ())]


def test_unsupported_combinations_are_refused(tmp_path: Path) -> None:
    assert Precision.FP32 in SUPPORTED[Target.ONNX]
    check_supported(Target.ONNX, Precision.FP32)
    pairs = _unsupported_pairs()
    assert pairs, "the table lists every combination; nothing left to refuse"
    for target, precision in pairs:
        with pytest.raises(ExportError, match=f"'{target.value}'"):
            ExportConfig(out=tmp_path / "x", targets=(target,), precisions=(precision,))
    assert load_target(Target.ONNX).SUFFIX == ".onnx"


class _FakeTarget:
    """Stands in for the ONNX converter in the atomic-write tests (the real conversion is
    covered by ``tiny_bundle``); writes a small placeholder file per graph."""

    SUFFIX = ".onnx"

    @staticmethod
    def convert(graph: object, spec: object, out_dir: Path, opts: object) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{spec.name}.fp32.onnx"
        path.write_bytes(b"not a real graph")
        return path

    @staticmethod
    def tool_versions() -> dict[str, str]:
        return {"fake": "0"}


def _use_fake_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake the convert stage and skip the INT8 / .ort stage (nothing to quantise)."""
    from tinysam_export.quantize.stage import QuantizeResult

    monkeypatch.setattr(stages, "load_target", lambda target: _FakeTarget)
    monkeypatch.setattr(pipeline, "stage_quantize", lambda *args, **kwargs: QuantizeResult())


def test_failed_verification_leaves_nothing(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_fake_conversion(monkeypatch)
    monkeypatch.setattr(verify_stage, "open_session", lambda *args, **kwargs: None)

    def fail(*args: object, **kwargs: object) -> dict:
        raise VerificationError("injected: decoder graph, case 'x': relative error 1 > 1e-4")

    monkeypatch.setattr(verify_stage, "verify_graphs", fail)
    out = tmp_path / "bundle"
    config = ExportConfig(out=out, checkpoint=tiny_checkpoint, image_size=SIZE, threads=2)
    with pytest.raises(VerificationError, match="injected"):
        pipeline.run_export(config)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # temp folder removed too


def test_failure_keeps_existing_bundle_with_force(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_fake_conversion(monkeypatch)
    monkeypatch.setattr(verify_stage, "verify_graphs", _raise_verification)
    monkeypatch.setattr(verify_stage, "open_session", lambda *args, **kwargs: None)
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    config = ExportConfig(out=out, checkpoint=tiny_checkpoint, image_size=SIZE, force=True)
    with pytest.raises(VerificationError):
        pipeline.run_export(config)
    assert (out / "manifest.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def _raise_verification(*args: object, **kwargs: object) -> dict:
    raise VerificationError("injected")


def test_existing_out_refused_without_force_and_replaced_with_force(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_fake_conversion(monkeypatch)
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "old.txt").write_text("previous export")
    config = ExportConfig(out=out, checkpoint=tiny_checkpoint, image_size=SIZE, verify=False)
    with pytest.raises(ExportError, match="already exists"):
        pipeline.run_export(config)
    assert (out / "old.txt").exists()

    forced = ExportConfig(
        out=out,
        checkpoint=tiny_checkpoint,
        image_size=SIZE,
        verify=False,
        golden=False,  # golden vectors need real graphs; this test fakes the conversion
        force=True,
        threads=2,
    )
    pipeline.run_export(forced)
    assert not (out / "old.txt").exists()
    raw = json.loads((out / "manifest.json").read_text())
    assert raw["verification"] == {"executed": False, "reason": "--no-verify"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # old copy deleted


def test_parity_metrics_by_hand() -> None:
    from tinysam_export import verify

    ref = np.array([1.0, 1.0, -2.0])
    cand = np.array([1.1, 0.9, -2.0])
    assert verify.max_abs_error(cand, ref) == pytest.approx(0.1)
    assert verify.relative_error(cand, ref) == pytest.approx(0.05)
    assert verify.sqnr_db(cand, ref) == pytest.approx(10 * np.log10(6.0 / 0.02))
    assert verify.sqnr_db(ref, ref) == verify.SQNR_CAP_DB
    assert verify.cosine(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert verify.cosine(np.array([2.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[0, 1, 1, 0]], bool)
    assert verify.mask_iou(a, b) == pytest.approx(1 / 3)
    assert verify.mask_mismatch(a, b) == pytest.approx(0.5)
    assert verify.mask_iou(np.zeros(4, bool), np.zeros(4, bool)) == 1.0
    with pytest.raises(ValueError, match="shape mismatch"):
        verify.max_abs_error(np.zeros(3), np.zeros(4))


def test_verification_error_names_graph_case_and_figure(
    torch_graphs: dict[GraphName, torch.nn.Module],
) -> None:
    """A decoder that is slightly off must be caught and reported precisely."""
    from tinysam_export.verify import FP32_THRESHOLDS, synthetic_images, verify_graphs

    class Skewed:
        def __init__(self, inner: TorchSession) -> None:
            self.inner, self.spec = inner, inner.spec

        def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            out = self.inner.run(inputs)
            return {k: v * (1 + 1e-3) if k == "low_res_masks" else v for k, v in out.items()}

    ref = tuple(TorchSession(torch_graphs[g], torch_graphs[g].spec) for g in GraphName)
    bad = (ref[0], Skewed(ref[1]))
    images = synthetic_images()[:1]
    with pytest.raises(
        VerificationError,
        match=r"onnx/fp32 decoder graph, case 'synthetic_\w+/point/multi'.*logits",
    ):
        verify_graphs(ref, bad, ModelGeometry(SIZE), images, FP32_THRESHOLDS, "onnx/fp32")
