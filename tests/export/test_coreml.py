"""CoreML target: conversion, package checks, the export patches, and the pipeline on CoreML.

On Linux CoreML cannot execute a model: these tests check what can be checked without it and
print that the numerics were not executed. On macOS the pipeline's verify stage runs the real
packages through the runtime and the same test checks that it did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("coremltools", reason="the CoreML target needs the [coreml] extra")

import torch

from tinysam_export.config import ExportConfig, Precision, Target
from tinysam_export.errors import ExportError
from tinysam_export.graphs import build_graphs, example_inputs
from tinysam_export.patches import ExpandDecoderGraph, patch_for_coreml
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
    return build_sam("vit_t", image_size=IMAGE_SIZE).eval()


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
    import json

    meta = coreml.package_metadata(int8_packages[GraphName.ENCODER])
    check = json.loads(meta[coreml.FP16_CHECK_KEY])
    rounded = check["fp16_rounded_weights"]
    assert rounded["executed"]
    assert 0.99 < rounded["min_cosine"] <= 1.0
    assert 0.0 < rounded["max_relative_error"] < 0.05  # rounding changes the output, a little
    assert isinstance(check["holds"], bool)
    with capsys.disabled():
        print(f"\n[coreml] fp16 encoder check (PyTorch): {json.dumps(check)}")


def test_simulated_int8_weights_are_per_channel_int8(graphs: dict) -> None:
    enc = graphs[GraphName.ENCODER]
    sim = coreml_verify.simulated_weights(enc, Precision.INT8)
    name, w = next(
        (n, p) for n, p in sim.named_parameters() if n.endswith("weight") and p.numel() >= 2048
    )
    row = w.detach().reshape(w.shape[0], -1)[0]
    steps = row / (row.abs().max() / 127.0)
    assert torch.allclose(steps, steps.round(), atol=2e-2), name  # on the int8 grid
    assert not torch.equal(w, dict(enc.named_parameters())[name])


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
