"""The reference checkpoint exported at 1024 reproduces the official outputs through the runtime.

``../shared/reference/*.npz`` were produced by the official TinySAM implementation; here the
exported ONNX fp32 bundle runs in ``Predictor.from_bundle`` (no torch at run time) and must give
the same embeddings, low-res logits of all four tokens, IoU predictions, full-size masks and
refined logits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.predictor import Predictor

pytestmark = [pytest.mark.checkpoint, pytest.mark.slow, pytest.mark.export]

CASES = ("point", "points_neg", "box", "box_point")
REL_TOL = 1e-3
MASK_AGREEMENT = 0.999


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = float(np.abs(want).max())
    err = float(np.abs(got.astype(np.float64) - want).max())
    assert err <= REL_TOL * scale, f"{what}: max abs err {err:.3g} > {REL_TOL} x {scale:.3g}"


def _agree(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    agreement = float(np.mean(got == want))
    assert agreement >= MASK_AGREEMENT, f"{what}: only {agreement:.5f} of pixels agree"


@pytest.fixture(scope="module")
def predictor(reference_bundle: Path) -> Predictor:
    return Predictor.from_bundle(reference_bundle, threads=2)


@pytest.mark.parametrize("image", ["picture1", "dog"])
def test_reference_outputs_reproduced(
    predictor: Predictor, reference_dir: Path, images_dir: Path, image: str
) -> None:
    ref = np.load(reference_dir / f"{image}.npz")
    prompts = json.loads((reference_dir / f"{image}.prompts.json").read_text())
    predictor.set_image(images_dir / f"{image}.jpg")
    assert predictor.original_hw == tuple(int(v) for v in ref["image_hw"])
    _close(predictor.get_image_embedding(), ref["embeddings"], f"{image} embeddings")

    for case in CASES:
        prompt = {k: prompts[case][k] for k in ("point_coords", "point_labels", "box")}
        key = f"{case}__"
        masks, iou, low = predictor.predict(**prompt, multimask_output=True)
        _close(low, ref[key + "low_res_logits"], f"{image}/{case} low-res logits")
        _close(iou, ref[key + "iou"], f"{image}/{case} iou")
        _agree(masks, ref[key + "masks"], f"{image}/{case} masks")

        # All four tokens: token 0 through multimask_output=False, 1..3 through True.
        _, iou0, low0 = predictor.predict(**prompt, multimask_output=False)
        all4 = np.concatenate([low0, low])
        _close(all4, ref[key + "all4_low_res_logits"], f"{image}/{case} all-4 logits")
        _close(np.concatenate([iou0, iou]), ref[key + "all4_iou"], f"{image}/{case} all-4 iou")

        # Refine with the best mask of the first call (the official first call's logits).
        best = ref[key + "low_res_logits"][int(np.argmax(ref[key + "iou"]))]
        r_masks, r_iou, r_low = predictor.predict(**prompt, mask_input=best)
        _close(r_low, ref[key + "refine_low_res_logits"], f"{image}/{case} refine logits")
        _close(r_iou, ref[key + "refine_iou"], f"{image}/{case} refine iou")
        _agree(r_masks, ref[key + "refine_masks"], f"{image}/{case} refine masks")


def test_reference_bundle_manifest(reference_bundle: Path, reference_dir: Path) -> None:
    from tinysam_mobile.manifest import load_manifest, sha256_file

    manifest = load_manifest(reference_bundle)
    assert manifest.geometry.image_size == 1024
    assert manifest.checkpoint["sha256"] == sha256_file(reference_dir / "reference_vit_t.pth")
    for graph in ("encoder", "decoder"):
        parity = manifest.artifact("onnx", "fp32", graph).parity
        assert parity and all(
            v["relative_error"] <= 1e-4 for v in parity.values() if "relative_error" in v
        )


@pytest.mark.parametrize("graph", ["encoder", "decoder"])
def test_reference_graphs_store_no_precomputed_tables(reference_bundle: Path, graph: str) -> None:
    """At 1024 the attention-bias tables (4.9 MB) and the dense positional encoding (4.2 MB)
    are computed in the graphs: every float initializer of >= 4096 elements is a layer weight
    (and the outputs above still match the official implementation)."""
    import onnx

    model = onnx.load(str(reference_bundle / "onnx" / f"{graph}.fp32.onnx"))
    weight_ops = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
    weights = {n.input[1] for n in model.graph.node if n.op_type in weight_ops}
    tables = [
        (t.name, list(t.dims))
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT
        and np.prod(t.dims) >= 4096
        and t.name not in weights
    ]
    assert tables == []
