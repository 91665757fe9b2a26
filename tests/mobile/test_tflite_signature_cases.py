"""The shared TFLite signature cases, run through the Python runtime's ``TfliteSession``.

``android_demo/pipeline/src/test/resources/tflite_signature_cases.json`` lists how a decoder file
with named static signatures (``p{B}_n{N}``, ``tinysam_export.targets.tflite``) is picked and a
batch of prompts split: which signature each call uses, which prompts it holds, how the last
chunk is padded, which point counts are refused with which message, and which files are refused
on load. The Kotlin port (``dev.tinysam.pipeline.TfliteSignatureSession``, JUnit
``TfliteSignaturesTest``, run by ``scripts/test_android_pipeline.sh``) is checked against the same
file, so this test pins the file to the Python reference: both implementations must agree with
it. The interpreter is a fake (``ai_edge_litert`` is not needed): each call records the prompts it
got (the x coordinate of a prompt's points is the prompt's index) and answers with outputs that
depend on each prompt alone, so a chunked run must equal the unchunked answer.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinysam_mobile.errors import BundleError
from tinysam_mobile.manifest import Manifest
from tinysam_mobile.session import GraphInputError
from tinysam_mobile.spec import GraphName, ModelGeometry, graph_specs

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "android_demo/pipeline/src/test/resources/tflite_signature_cases.json"
DOC = json.loads(CASES.read_text())
DECODER_NAME = re.compile(r"^p(\d+)_n(\d+)$")


def _specs() -> dict[GraphName, Any]:
    return Manifest.from_json(DOC["manifest"]).graphs


def test_case_file_uses_the_current_specs() -> None:
    """The specs in the case file are today's (``graph_specs``) at the file's image size."""
    manifest = Manifest.from_json(DOC["manifest"])
    assert manifest.graphs == graph_specs(ModelGeometry(manifest.geometry.image_size))


def _static_shape(spec_shape: tuple, name: str) -> tuple[int, ...]:
    m = DECODER_NAME.match(name)
    b, n = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
    dims = {"num_prompts": b, "num_points": n}
    return tuple(dims[d] if isinstance(d, str) else d for d in spec_shape)


def fake_outputs(spec: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs that depend on each prompt's rows alone (and on the image for the encoder)."""
    if spec.name is GraphName.ENCODER:
        (out,) = spec.outputs
        value = float(feeds["image"].mean())
        return {out.name: np.full(out.shape, value, np.float32)}
    coords, labels = feeds["point_coords"], feeds["point_labels"]
    mask, has = feeds["mask_input"], feeds["has_mask_input"]
    b = coords.shape[0]
    low_spec = next(t for t in spec.outputs if t.name == "low_res_masks")
    tokens, lh, lw = low_spec.shape[1:]
    ramp = np.arange(lh * lw, dtype=np.float32).reshape(lh, lw) * 0.01
    per = coords.reshape(b, -1).sum(1) + 0.5 * labels.sum(1) + has
    low = (
        per[:, None, None, None]
        + np.arange(tokens, dtype=np.float32)[None, :, None, None]
        + ramp
        + mask
    )
    iou = coords[:, :, 0].sum(1)[:, None] * 0.1 + np.arange(tokens, dtype=np.float32)
    return {"low_res_masks": low.astype(np.float32), "iou_predictions": iou.astype(np.float32)}


def _fake_litert(case: dict, specs: dict, log: list) -> types.ModuleType:
    """An ``ai_edge_litert.interpreter`` module whose Interpreter has the case's signatures."""
    graph = GraphName(case["graph"])
    sigs = {}
    for entry in case["signatures"]:
        name, io = (
            (entry, graph) if isinstance(entry, str) else (entry["name"], GraphName(entry["io"]))
        )
        sigs[name] = specs[io]

    class Interpreter:
        def __init__(self, model_path: str, num_threads: int | None = None) -> None:
            self.model_path = model_path

        def get_signature_list(self) -> dict:
            return {
                n: {"inputs": list(s.input_names), "outputs": list(s.output_names)}
                for n, s in sigs.items()
            }

        def get_signature_runner(self, name: str) -> Any:
            spec = sigs[name]

            def run(**feeds: np.ndarray) -> dict[str, np.ndarray]:
                for t in spec.inputs:
                    assert feeds[t.name].shape == _static_shape(t.shape, name), (name, t.name)
                    assert feeds[t.name].dtype == np.float32
                rows = (
                    [int(x) for x in feeds["point_coords"][:, 0, 0]]
                    if "point_coords" in feeds
                    else [0]
                )
                log.append((name, rows))
                return fake_outputs(spec, feeds)

            return run

    module = types.ModuleType("ai_edge_litert.interpreter")
    module.Interpreter = Interpreter  # type: ignore[attr-defined]
    return module


def case_inputs(spec: Any, b: int, n: int) -> dict[str, np.ndarray]:
    """Inputs of a case: prompt i has x = i on every point, so a call's prompts can be read back."""
    rng = np.random.default_rng(b * 100 + n)
    if spec.name is GraphName.ENCODER:
        (t,) = spec.inputs
        return {t.name: rng.uniform(0, 255, t.shape).astype(np.float32)}
    out = {}
    for t in spec.inputs:
        shape = tuple(b if d == "num_prompts" else n if d == "num_points" else d for d in t.shape)
        out[t.name] = rng.uniform(0, 1, shape).astype(np.float32)
    out["point_coords"][:, :, 0] = np.arange(b, dtype=np.float32)[:, None]
    out["point_labels"] = np.ones((b, n), np.float32)
    return out


def expected_rows(call: list) -> list[int]:
    _, start, real, size = call
    return [start + min(r, real - 1) for r in range(size)]


@pytest.mark.parametrize("case", DOC["cases"], ids=[c["name"] for c in DOC["cases"]])
def test_python_tflite_session_follows_the_case(
    case: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    specs = _specs()
    log: list = []
    monkeypatch.setitem(sys.modules, "ai_edge_litert", types.ModuleType("ai_edge_litert"))
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", _fake_litert(case, specs, log))
    from tinysam_mobile.backends.tflite import TfliteSession

    spec = specs[GraphName(case["graph"])]
    path = tmp_path / DOC["file"]
    if "load_error" in case:
        with pytest.raises(BundleError, match=re.escape(case["load_error"])):
            TfliteSession(path, spec)
        return
    session = TfliteSession(path, spec)
    feeds = case_inputs(spec, case["num_prompts"], case["num_points"])
    if "error" in case:
        with pytest.raises(GraphInputError, match=re.escape(case["error"])):
            session.run(feeds)
        assert log == []
        return
    got = session.run(feeds)
    assert [(name, rows) for name, rows in log] == [(c[0], expected_rows(c)) for c in case["calls"]]
    want = fake_outputs(spec, feeds)  # one call on the whole batch
    for name in spec.output_names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
