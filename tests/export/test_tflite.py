"""TFLite target through the pipeline: litert-torch conversion, int8 weights, the runtime's
TfliteSession, the parity check on the exported files and ``Predictor.from_bundle``.

One export of the random-weight model at image size 256 (fp32 + int8) with a reduced decoder
signature table: conversion time grows with every signature. The table still covers every
point count the parity check uses (2, 3, 4) and splits its batch of 16 prompts into chunks of 4.
The export runs without its verify stage: the fp32 files are checked here with the same
function (``verify_graphs``); the int8 gate (mask IoU >= 0.95 on every case) is not applied to
a random-weight model, whose masks hover around any threshold (as in ``test_int8.py``); its
masks must agree with fp32 on average instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.extras import need

need("litert_torch", "the TFLite converter needs the [tflite-export] extra")
need("ai_edge_litert", "the TFLite runtime needs the [tflite] extra")

import torch

from tinysam_export.config import ExportConfig, Precision, Target
from tinysam_export.graphs import build_graphs, example_inputs
from tinysam_export.targets import tflite
from tinysam_mobile.backends.tflite import TfliteSession
from tinysam_mobile.errors import BundleError
from tinysam_mobile.manifest import load_manifest
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.session import GraphInputError
from tinysam_mobile.spec import GraphName

pytestmark = [pytest.mark.export, pytest.mark.tflite, pytest.mark.slow]

SIZE = 256
SIGNATURES = ((1, 2), (1, 3), (1, 4), (4, 2))
"""Reduced decoder signatures: the verify stage's point counts, batches of 4."""


@pytest.fixture(scope="module")
def bundle(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinysam_export.pipeline import run_export

    config = ExportConfig(
        out=tmp_path_factory.mktemp("tflite") / "bundle",
        checkpoint=tiny_checkpoint,
        image_size=SIZE,
        targets=(Target.TFLITE,),
        precisions=(Precision.FP32, Precision.INT8),
        threads=2,
        verify=False,
        golden=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tflite, "DECODER_SIGNATURES", SIGNATURES)
        return run_export(config).out


@pytest.fixture(scope="module")
def graphs(tiny_checkpoint: Path) -> dict[GraphName, torch.nn.Module]:
    from tinysam_export.checkpoint import load_model

    return build_graphs(load_model(tiny_checkpoint, image_size=SIZE).eval())


def _file(bundle: Path, precision: str, graph: GraphName) -> Path:
    return bundle / load_manifest(bundle).artifact("tflite", precision, graph).file


def _reference(graph: torch.nn.Module, feeds: dict[str, torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        out = graph(*[feeds[k] for k in graph.spec.input_names])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_manifest_lists_both_precisions_with_the_int8_recipe(bundle: Path) -> None:
    raw = json.loads((bundle / "manifest.json").read_text())
    arts = {(a["precision"], a["graph"]): a for a in raw["artifacts"] if a["target"] == "tflite"}
    assert set(arts) == {(p, g) for p in ("fp32", "int8") for g in ("encoder", "decoder")}
    for g in ("encoder", "decoder"):
        assert arts[("fp32", g)]["quantization"] is None
        assert arts[("int8", g)]["quantization"]["recipe"] == tflite.INT8_RECIPE
        assert arts[("int8", g)]["size_bytes"] < 0.4 * arts[("fp32", g)]["size_bytes"]
    assert "litert-torch" in raw["tools"] and "ai-edge-litert" in raw["tools"]


def test_fp32_files_pass_the_parity_check(bundle: Path, graphs: dict) -> None:
    """The verify stage's own check (every prompt case, refinement, a batch of 16) on the files."""
    from tinysam_export.reference import TorchSession
    from tinysam_export.verify import FP32_THRESHOLDS, synthetic_images, verify_graphs

    ref = tuple(TorchSession(graphs[g], graphs[g].spec) for g in GraphName)
    cand = tuple(TfliteSession(_file(bundle, "fp32", g), graphs[g].spec, 2) for g in GraphName)
    geometry = graphs[GraphName.ENCODER].geometry
    figures = verify_graphs(ref, cand, geometry, synthetic_images()[:1], FP32_THRESHOLDS, "tflite")
    assert any(case.endswith("batch16") for case in figures["cases"])
    assert figures["decoder"]["low_res_logits"]["relative_error"] <= 1e-4


def test_int8_masks_agree_with_fp32(bundle: Path) -> None:
    from tinysam_export.verify import mask_iou, prompt_cases, synthetic_images

    fp32 = Predictor.from_bundle(bundle, target="tflite", precision="fp32", threads=2)
    int8 = Predictor.from_bundle(bundle, target="tflite", precision="int8", threads=2)
    assert isinstance(int8.decoder, TfliteSession)
    ious = []
    for _, image in synthetic_images():
        fp32.set_image(image)
        int8.set_image(image)
        for case in prompt_cases(image.shape[:2]).values():
            m32, iou32, _ = fp32.predict(**case)
            m8, _, _ = int8.predict(**case)
            best = int(np.argmax(iou32))
            ious.append(mask_iou(m8[best], m32[best]))
    assert float(np.mean(ious)) >= 0.9, ious


def test_signatures_carry_the_spec_names(bundle: Path, graphs: dict) -> None:
    from ai_edge_litert.interpreter import Interpreter

    for graph, names in (
        (GraphName.ENCODER, {tflite.ENCODER_SIGNATURE}),
        (GraphName.DECODER, {tflite.signature_name(b, n) for b, n in SIGNATURES}),
    ):
        spec = graphs[graph].spec
        sigs = Interpreter(str(_file(bundle, "int8", graph))).get_signature_list()
        assert set(sigs) == names
        for sig in sigs.values():
            assert sorted(sig["inputs"]) == sorted(spec.input_names)
            assert sorted(sig["outputs"]) == sorted(spec.output_names)


@pytest.mark.parametrize("graph", [GraphName.ENCODER, GraphName.DECODER])
def test_fp32_matches_torch_and_chunks_batches(
    bundle: Path, graphs: dict, graph: GraphName
) -> None:
    g = graphs[graph]
    session = TfliteSession(_file(bundle, "fp32", graph), g.spec, threads=2)
    ex = example_inputs(g.spec, num_prompts=6, num_points=2)  # 6 = 4 + 1 + 1 (padded)
    got = session.run({k: v.numpy() for k, v in ex.items()})
    for name, ref in zip(g.spec.output_names, _reference(g, ex), strict=True):
        assert got[name].shape == ref.shape
        assert _rel(got[name], ref) < 1e-4


def test_int8_is_smaller_and_close(bundle: Path, graphs: dict) -> None:
    g = graphs[GraphName.DECODER]
    f32, i8 = (_file(bundle, p, GraphName.DECODER) for p in ("fp32", "int8"))
    assert i8.stat().st_size < 0.4 * f32.stat().st_size
    ex = example_inputs(g.spec, num_prompts=1, num_points=3)
    got = TfliteSession(i8, g.spec).run({k: v.numpy() for k, v in ex.items()})["low_res_masks"]
    ref = _reference(g, ex)[0]
    assert float(np.sum(got * ref) / np.linalg.norm(got) / np.linalg.norm(ref)) > 0.99


def test_unsupported_point_count_is_named(bundle: Path, graphs: dict) -> None:
    spec = graphs[GraphName.DECODER].spec
    session = TfliteSession(_file(bundle, "fp32", GraphName.DECODER), spec)
    ex = example_inputs(spec, num_prompts=1, num_points=5)
    with pytest.raises(GraphInputError, match=r"no decoder signature for 5 points.*\[2, 3, 4\]"):
        session.run({k: v.numpy() for k, v in ex.items()})


def test_file_of_another_graph_is_refused(bundle: Path, graphs: dict) -> None:
    with pytest.raises(BundleError, match=r"signature 'serving_default' has inputs \['image'\]"):
        TfliteSession(_file(bundle, "fp32", GraphName.ENCODER), graphs[GraphName.DECODER].spec)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_files_carry_no_tensor_names(bundle: Path, precision: str) -> None:
    """Tensor names are stripped (size); the int8 files were still quantised from the fp32 ones
    of the same run, which had been stripped first, and both still run (tests above)."""
    from ai_edge_litert.tools import flatbuffer_utils

    for graph in GraphName:
        model = flatbuffer_utils.read_model(str(_file(bundle, precision, graph)))
        names = [t.name for sg in model.subgraphs for t in sg.tensors]
        assert names and all(n is None for n in names), (graph, names[:3])
        assert model.signatureDefs and all(s.signatureKey for s in model.signatureDefs)


def test_files_are_compact_and_run_like_the_plain_serialisation(
    bundle: Path, graphs: dict, tmp_path: Path
) -> None:
    """Tables repeated across the decoder's signatures (int8 quantisation parameters above all)
    are stored once: the same model written by the plain object-API writer is larger, reads
    back to the same content, and gives bit-identical outputs on every signature."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.tools import flatbuffer_utils

    from tinysam_export.targets.tflite_compact import _content_key

    compact = _file(bundle, "int8", GraphName.DECODER)
    plain = tmp_path / "plain.tflite"
    flatbuffer_utils.write_model(flatbuffer_utils.read_model(str(compact)), str(plain))
    saved = plain.stat().st_size - compact.stat().st_size
    quant = [
        t.quantization.scale.size * 12
        for sg in flatbuffer_utils.read_model(str(compact)).subgraphs
        for t in sg.tensors
        if t.quantization is not None and t.quantization.scale is not None
    ]
    # the zero points alone (8 of the 12 bytes per channel) are all shared except one per size
    assert saved > 0.5 * sum(quant) > 0, (saved, sum(quant))
    assert _content_key(flatbuffer_utils.read_model(str(compact))) == _content_key(
        flatbuffer_utils.read_model(str(plain))
    )
    a, b = Interpreter(model_path=str(compact)), Interpreter(model_path=str(plain))
    rng = np.random.default_rng(0)
    signatures = a.get_signature_list()
    assert len(signatures) == len(SIGNATURES)
    for key in signatures:
        ra, rb = a.get_signature_runner(key), b.get_signature_runner(key)
        feeds = {}
        for name, detail in ra.get_input_details().items():
            if name == "point_labels":
                x = rng.integers(-1, 4, size=detail["shape"])
            else:
                x = rng.standard_normal(detail["shape"]) * (100 if name == "point_coords" else 1)
            feeds[name] = x.astype(detail["dtype"])
        out_a, out_b = ra(**feeds), rb(**feeds)
        assert sorted(out_a) == sorted(out_b) == sorted(graphs[GraphName.DECODER].spec.output_names)
        for name in out_a:
            np.testing.assert_array_equal(out_a[name], out_b[name], err_msg=f"{key}/{name}")
