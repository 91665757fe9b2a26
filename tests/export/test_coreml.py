"""CoreML target: conversion, package checks, the export patches, and the pipeline on CoreML.

On Linux CoreML cannot execute a model: these tests check what can be checked without it and
print that the numerics were not executed. On macOS the pipeline's verify stage runs the real
packages through the runtime and the same test checks that it did.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from tests.extras import need

need("coremltools", "the CoreML target needs the [coreml] extra")

import torch

from tinysam_export.config import ExportConfig, Precision, Target
from tinysam_export.errors import ExportError, VerificationError
from tinysam_export.graphs import build_graphs, example_inputs
from tinysam_export.patches import PE_AXIS_TABLE, ExpandDecoderGraph, patch_for_coreml
from tinysam_export.pipeline import run_export
from tinysam_export.targets import ConvertOptions, coreml, coreml_verify
from tinysam_mobile.errors import BundleError, MissingDependencyError
from tinysam_mobile.manifest import load_manifest, verify_artifact
from tinysam_mobile.spec import GraphName

pytestmark = [pytest.mark.export, pytest.mark.coreml]

IMAGE_SIZE = 128


@pytest.fixture(scope="module")
def sam() -> torch.nn.Module:
    from tinysam_export.modeling.build import build_sam

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=IMAGE_SIZE).eval()
    # Like a trained model: no zero-initialised batch-norm scale (a conv fused with one is all
    # zeros, which coremltools leaves unquantised) and non-zero attention biases.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
        for name, param in model.named_parameters():
            if name.endswith("attention_biases"):
                param.normal_()
    return model


@pytest.fixture(scope="module")
def graphs(sam: torch.nn.Module) -> dict:
    return build_graphs(sam)


@pytest.fixture(scope="module")
def int8_packages(graphs: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("coreml")
    opts = ConvertOptions(precision=Precision.INT8)
    return {g: coreml.convert(graphs[g], graphs[g].spec, out, opts) for g in GraphName}


@pytest.fixture(scope="module")
def fp32_bundle(sam: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinysam_export.checkpoint import save_state_dict

    tmp = tmp_path_factory.mktemp("coreml_bundle")
    ckpt = save_state_dict(sam, tmp / "tiny.pth")
    config = ExportConfig(
        out=tmp / "bundle",
        checkpoint=ckpt,
        targets=(Target.COREML,),
        precisions=(Precision.FP32,),
        image_size=IMAGE_SIZE,
        threads=2,
        max_verify_images=0,
        golden=False,
    )
    return run_export(config).out


def _spec_pb(path: Path):
    import coremltools as ct

    return ct.utils.load_spec(str(path))


def test_repeat_interleave_patch_equals_original_decoder(graphs: dict) -> None:
    original = graphs[GraphName.DECODER]
    patched = patch_for_coreml(original)
    assert isinstance(patched, ExpandDecoderGraph)
    for b, n in ((1, 2), (5, 3)):
        ex = example_inputs(original.spec, num_prompts=b, num_points=n, seed=b)
        args = [ex[k] for k in original.spec.input_names]
        with torch.no_grad():
            want = original(*args)
            got = patched(*args)
        for w, g in zip(want, got, strict=True):
            assert g.shape == w.shape
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    traced = torch.jit.trace(patched, tuple(args), check_trace=False)
    kinds = {node.kind() for node in traced.inlined_graph.nodes()}
    assert "aten::repeat_interleave" not in kinds
    # the trace (what coremltools converts) keeps num_prompts / num_points free
    ex = example_inputs(original.spec, num_prompts=3, num_points=6, seed=7)
    args = [ex[k] for k in original.spec.input_names]
    with torch.no_grad():
        for w, g in zip(original(*args), traced(*args), strict=True):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("graph", list(GraphName))
def test_int8_package_matches_spec(int8_packages: dict, graphs: dict, graph: GraphName) -> None:
    spec = graphs[graph].spec
    figures = coreml.check_package(int8_packages[graph], spec, Precision.INT8)
    assert figures["inputs_checked"] == spec.input_names
    assert figures["int8_weight_ops"], "no int8 weight ops in an int8 package"
    assert figures["weights"] == "int8"
    assert coreml.package_metadata(int8_packages[graph])[coreml.WEIGHTS_KEY] == "int8"
    desc = _spec_pb(int8_packages[graph]).description
    assert [f.name for f in desc.input] == spec.input_names
    assert [f.name for f in desc.output] == spec.output_names
    assert desc.metadata.author == coreml.AUTHOR
    assert desc.metadata.shortDescription and desc.metadata.license
    docs = {f.name: f.shortDescription for f in [*desc.input, *desc.output]}
    for t in (*spec.inputs, *spec.outputs):
        assert docs[t.name].startswith(t.doc or t.name)
    if graph is GraphName.DECODER:
        ranges = {
            f.name: [
                (r.lowerBound, r.upperBound) for r in f.type.multiArrayType.shapeRange.sizeRanges
            ]
            for f in desc.input
        }
        assert ranges["point_coords"][:2] == [(1, 64), (1, 16)]
        assert ranges["has_mask_input"] == [(1, 64)]


def test_check_package_rejects_the_wrong_spec(int8_packages: dict, graphs: dict) -> None:
    with pytest.raises(ExportError, match="inputs are"):
        coreml.check_package(
            int8_packages[GraphName.ENCODER], graphs[GraphName.DECODER].spec, Precision.INT8
        )
    with pytest.raises(ExportError, match="int8 weight ops"):
        coreml.check_package(
            int8_packages[GraphName.ENCODER], graphs[GraphName.ENCODER].spec, Precision.FP16
        )


def test_fp16_numerics_recorded(int8_packages: dict, capsys: pytest.CaptureFixture) -> None:
    meta = coreml.package_metadata(int8_packages[GraphName.ENCODER])
    check = json.loads(meta[coreml.FP16_CHECK_KEY])
    rounded = check["fp16_rounded_weights"]
    assert rounded["executed"]
    assert 0.99 < rounded["min_cosine"] <= 1.0
    assert 0.0 < rounded["max_relative_error"] < 0.05  # rounding changes the output, a little
    assert isinstance(check["holds"], bool)
    with capsys.disabled():
        print(f"\n[coreml] fp16 encoder check (PyTorch): {json.dumps(check)}")


def _on_int8_grid(w: torch.Tensor, axis: int) -> bool:
    """Whether every slice of ``w`` along ``axis`` is a multiple of its own max / 127."""
    rows = w.detach().movedim(axis, 0).reshape(w.shape[axis], -1)
    steps = rows / (rows.abs().amax(dim=1, keepdim=True) / 127.0)
    return bool(torch.allclose(steps, steps.round(), atol=2e-2))


def test_simulated_int8_weights_are_per_channel_int8(graphs: dict) -> None:
    limit = coreml.INT8_WEIGHT_THRESHOLD
    enc = graphs[GraphName.ENCODER]
    sim = coreml_verify.simulated_weights(enc, Precision.INT8)
    name, w = next((n, p) for n, p in sim.named_parameters() if p.numel() > limit)
    assert _on_int8_grid(w, 0), name
    assert not torch.equal(w, dict(enc.named_parameters())[name])
    # conv_transpose weights (in, out, kh, kw) get one scale per *output* channel, as coremltools
    dec = coreml_verify.simulated_weights(graphs[GraphName.DECODER], Precision.INT8)
    up = dec.mask_decoder.output_upscaling[0]
    assert isinstance(up, torch.nn.ConvTranspose2d) and up.weight.numel() > limit
    assert _on_int8_grid(up.weight, 1)


def _consts(path: Path) -> list[tuple[str, str, tuple[int, ...]]]:
    """(op type, output name, shape) of every const / constexpr op of a package."""
    out = []
    for fn in _spec_pb(path).mlProgram.functions.values():
        for block in fn.block_specializations.values():
            for op in block.operations:
                if op.type == "const" or op.type.startswith("constexpr_"):
                    dims = op.outputs[0].type.tensorType.dimensions
                    shape = tuple(int(d.constant.size) for d in dims)
                    out.append((op.type, op.outputs[0].name, shape))
    return out


@pytest.mark.parametrize("graph", list(GraphName))
def test_int8_packages_store_weights_only(
    int8_packages: dict, graphs: dict, graph: GraphName
) -> None:
    """Every int8 constant is a layer weight that the PyTorch simulation rounds (same shapes),
    and no precomputed table is stored: the attention-bias tables and the dense positional
    encoding are computed in the graph. The one large float constant is the decoder's
    positional-encoding axis table, kept float16."""
    consts = _consts(int8_packages[graph])
    limit = coreml.INT8_WEIGHT_THRESHOLD
    stored = sorted(shape for t, _, shape in consts if t in coreml.INT8_WEIGHT_OPS)
    patched = patch_for_coreml(graphs[graph])
    simulated = sorted(tuple(p.shape) for p in patched.parameters() if p.numel() > limit)
    assert stored == simulated
    large_float = [(n, s) for t, n, s in consts if t == "const" and math.prod(s) > limit]
    if graph is GraphName.DECODER:
        (name, shape), *rest = large_float
        side = graphs[graph].geometry.embedding_hw[0]
        assert name.startswith(PE_AXIS_TABLE) and shape == (4, side, 128) and not rest
    else:
        assert large_float == []


def test_convert_refuses_weights_other_than_the_precision(graphs: dict, tmp_path: Path) -> None:
    dec = graphs[GraphName.DECODER]
    for precision, weights in ((Precision.FP32, Precision.FP16), (Precision.FP16, Precision.INT8)):
        with pytest.raises(ExportError, match="cannot hold"):
            coreml.convert(dec, dec.spec, tmp_path, ConvertOptions(precision), weights=weights)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_int8_pipeline_falls_back_per_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The demo model exported to CoreML int8, its decoder's int8 check forced to fail: the
    encoder keeps int8 weights (real gate), the decoder float16 weights, and the manifest and the
    packages say which and why."""
    from tinysam_export.quantize import coreml_int8

    real_check = coreml_int8.check_int8_graph

    def decoder_rejected(graphs: dict, graph: GraphName, *args: object) -> dict:
        if graph is GraphName.DECODER:
            raise VerificationError("parity check failed for the decoder graph (forced by test)")
        return real_check(graphs, graph, *args)

    monkeypatch.setattr(coreml_int8, "check_int8_graph", decoder_rejected)
    config = ExportConfig(
        out=tmp_path / "bundle",
        targets=(Target.COREML,),
        precisions=(Precision.INT8,),
        threads=2,
        max_verify_images=0,
        golden=False,
    )
    out = run_export(config).out
    manifest = load_manifest(out)
    enc = manifest.artifact("coreml", "int8", GraphName.ENCODER)
    dec = manifest.artifact("coreml", "int8", GraphName.DECODER)
    q_enc, q_dec = enc.quantization, dec.quantization
    assert q_enc["method"] == "weight_only" and q_enc["weight_type"] == "int8"
    assert q_enc["check"]["mask_iou"] >= 0.95 and q_enc["check"]["mean_mask_iou"] >= 0.98
    assert q_enc["check"]["coreml_numerics_executed"] is False
    assert (
        enc.parity["structure"]["weights"] == "int8" and enc.parity["structure"]["int8_weight_ops"]
    )
    assert q_dec["method"] == "fp16_weights" and q_dec["weight_type"] == "float16"
    assert "forced by test" in q_dec["rejected"]["why"]
    assert q_dec["rejected"]["recipe"]["weight_type"] == "int8"
    assert dec.parity["structure"]["weights"] == "fp16"
    assert dec.parity["structure"]["int8_weight_ops"] == []
    assert coreml.package_metadata(out / dec.file)[coreml.WEIGHTS_KEY] == "fp16"
    simulated = dec.parity["simulated_in_pytorch"]["masks"]
    assert simulated["mask_iou"] >= 0.95 and simulated["mean_mask_iou"] >= 0.98
    assert manifest.verification["thresholds"]["coreml/int8"]["coreml_numerics_executed"] is False
    with capsys.disabled():
        print(
            f"\n[coreml int8, demo model] encoder {enc.size_bytes} B int8 "
            f"(check IoU min {q_enc['check']['mask_iou']:.4f}), decoder {dec.size_bytes} B "
            f"fp16 fallback; end-to-end masks (simulated): {json.dumps(simulated)}"
        )


def test_pipeline_bundle_manifest_and_folder_sha256(fp32_bundle: Path) -> None:
    manifest = load_manifest(fp32_bundle)
    arts = {a.graph: a for a in manifest.artifacts}
    assert set(arts) == set(GraphName)
    for g, art in arts.items():
        assert art.target == "coreml" and art.file == f"coreml/{g}.fp32.mlpackage"
        path = verify_artifact(fp32_bundle, art)
        assert path.is_dir()
        assert art.size_bytes == sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        assert art.parity["structure"]["int8_weight_ops"] == []
    weights = next((fp32_bundle / arts[GraphName.DECODER].file).rglob("weight.bin"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="modified"):
        verify_artifact(fp32_bundle, arts[GraphName.DECODER])


def test_numerics_statement(fp32_bundle: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = load_manifest(fp32_bundle)
    if sys.platform == "darwin":
        assert manifest.verification.get("coreml_numerics_executed", True) is True
        return
    assert manifest.verification["coreml_numerics_executed"] is False
    for art in manifest.artifacts:
        assert art.parity["coreml_numerics_executed"] is False
        assert art.parity["checked"]
    with capsys.disabled():
        print(
            f"\n[coreml] CoreML numerics NOT executed on {sys.platform}: "
            + "; ".join(manifest.artifacts[0].parity["checked"])
        )
    with pytest.raises(MissingDependencyError, match="only on macOS"):
        from tinysam_mobile.session import open_session

        open_session(fp32_bundle, manifest.artifact("coreml", "fp32", GraphName.ENCODER))


def test_int8_pair_check_keeps_the_weaker_graph_at_fp16(
    graphs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both graphs pass their int8 check alone, the pair does not: the graph with the lower
    mean mask IoU keeps float16 weights, and the pair is checked again before converting."""
    from tinysam_export.quantize import coreml_int8

    seen: list[dict] = []

    def fake_check(graphs: dict, weights: dict, geometry: object, images: object, label: str):  # type: ignore[no-untyped-def]
        seen.append(dict(weights))
        if "both graphs" in label and all(w is Precision.INT8 for w in weights.values()):
            raise VerificationError(f"{label}: mean mask IoU 0.975 is below 0.98")
        mean = 0.985 if weights[GraphName.ENCODER] is Precision.INT8 else 0.995
        return {"mask_iou": 0.96, "mean_mask_iou": mean}

    converted: dict = {}

    def fake_convert(graph, spec, out_dir, opts, weights=None):  # type: ignore[no-untyped-def]
        converted[spec.name] = weights
        return Path(out_dir) / f"{spec.name}.int8.mlpackage"

    monkeypatch.setattr(coreml_int8, "_check", fake_check)
    monkeypatch.setattr(coreml, "convert", fake_convert)
    made = coreml_int8.quantize_coreml_int8(graphs, tmp_path, graphs[GraphName.ENCODER].geometry)
    assert converted == {GraphName.ENCODER: Precision.FP16, GraphName.DECODER: Precision.INT8}
    q_enc = made[GraphName.ENCODER].quantization
    q_dec = made[GraphName.DECODER].quantization
    assert q_enc["method"] == "fp16_weights" and "not together" in q_enc["rejected"]["why"]
    assert q_dec["method"] == "weight_only" and q_dec["pair_check"]["mean_mask_iou"] == 0.995
    assert len(seen) == 4  # encoder alone, decoder alone, the pair twice
