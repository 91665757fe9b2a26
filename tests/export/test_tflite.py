"""TFLite target: litert-torch conversion, dynamic-range INT8, and the runtime's TfliteSession."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("litert_torch", reason="the TFLite converter needs the [tflite-export] extra")
pytest.importorskip("ai_edge_litert", reason="the TFLite runtime needs the [tflite] extra")

import torch

from tinysam_export.config import Precision
from tinysam_export.graphs import build_graphs, example_inputs
from tinysam_export.targets import ConvertOptions, tflite
from tinysam_mobile.backends.tflite import TfliteSession
from tinysam_mobile.manifest import Artifact
from tinysam_mobile.session import GraphInputError, open_session
from tinysam_mobile.spec import GraphName

pytestmark = [pytest.mark.export, pytest.mark.tflite, pytest.mark.slow]

SIGNATURES = ((1, 2), (1, 3), (4, 2))
"""A reduced signature table: conversion time grows with every signature."""


@pytest.fixture(scope="module")
def converted(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tinysam_export.checkpoint import load_model

    torch.set_num_threads(2)
    graphs = build_graphs(load_model(tiny_checkpoint, image_size=256).eval())
    out = tmp_path_factory.mktemp("tflite")
    mp = pytest.MonkeyPatch()
    mp.setattr(tflite, "DECODER_SIGNATURES", SIGNATURES)
    files = {}
    try:
        for prec in (Precision.FP32, Precision.INT8):
            for g in (GraphName.ENCODER, GraphName.DECODER):
                opts = ConvertOptions(precision=prec)
                files[(prec, g)] = tflite.convert(graphs[g], graphs[g].spec, out, opts)
    finally:
        mp.undo()
    return {"graphs": graphs, "files": files, "dir": out}


def _reference(graph: torch.nn.Module, feeds: dict[str, torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        out = graph(*[feeds[k] for k in graph.spec.input_names])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("graph", [GraphName.ENCODER, GraphName.DECODER])
def test_fp32_matches_torch_and_chunks_batches(converted: dict, graph: GraphName) -> None:
    g = converted["graphs"][graph]
    session = TfliteSession(converted["files"][(Precision.FP32, graph)], g.spec, threads=2)
    ex = example_inputs(g.spec, num_prompts=6, num_points=2)  # 6 = 4 + 1 + 1 signatures
    got = session.run({k: v.numpy() for k, v in ex.items()})
    for name, ref in zip(g.spec.output_names, _reference(g, ex), strict=True):
        assert got[name].shape == ref.shape
        assert _rel(got[name], ref) < 1e-4


def test_int8_is_smaller_and_close(converted: dict) -> None:
    g = converted["graphs"][GraphName.DECODER]
    f32 = converted["files"][(Precision.FP32, GraphName.DECODER)]
    i8 = converted["files"][(Precision.INT8, GraphName.DECODER)]
    assert i8.stat().st_size < 0.35 * f32.stat().st_size
    ex = example_inputs(g.spec, num_prompts=1, num_points=3)
    got = TfliteSession(i8, g.spec).run({k: v.numpy() for k, v in ex.items()})
    ref = _reference(g, ex)[0]
    cos = float(
        np.sum(got["low_res_masks"] * ref)
        / np.linalg.norm(got["low_res_masks"])
        / np.linalg.norm(ref)
    )
    assert cos > 0.99


def test_unsupported_point_count_is_named(converted: dict) -> None:
    g = converted["graphs"][GraphName.DECODER]
    session = TfliteSession(converted["files"][(Precision.FP32, GraphName.DECODER)], g.spec)
    ex = example_inputs(g.spec, num_prompts=1, num_points=5)
    with pytest.raises(GraphInputError, match=r"no decoder signature for 5 points.*\[2, 3\]"):
        session.run({k: v.numpy() for k, v in ex.items()})


def test_open_session_dispatches_tflite(converted: dict) -> None:
    path = converted["files"][(Precision.FP32, GraphName.ENCODER)]
    art = Artifact.from_file(converted["dir"], path.name, GraphName.ENCODER, "tflite", "fp32")
    session = open_session(
        converted["dir"], art, 1, spec=converted["graphs"][GraphName.ENCODER].spec
    )
    assert isinstance(session, TfliteSession)
