"""The full-size model against the official TinySAM outputs in ../shared/reference.

One encoder forward per image (module-scoped fixtures); the decoder runs per prompt case,
through :meth:`Sam.forward_prompts` (the exporter's contract) and through the official
``PromptEncoder.forward`` / ``MaskDecoder.forward`` interface.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tinysam_export.checkpoint import UNUSED_PREFIXES, load_model, load_state_dict
from tinysam_export.modeling.sam import Sam
from tinysam_mobile.image_io import load_image
from tinysam_mobile.prompts import encode_prompt
from tinysam_mobile.transforms import (
    boxes_image_to_model,
    coords_image_to_model,
    preprocess,
    resized_hw,
)

pytestmark = pytest.mark.checkpoint

IMAGES = ("picture1", "dog")
CASES = ("point", "points_neg", "box", "box_point")
REL_TOL = 1e-3  # max abs error <= REL_TOL * abs max of the reference
MASK_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def model(reference_dir: Path) -> Sam:
    torch.set_num_threads(2)
    return load_model(reference_dir / "reference_vit_t.pth")


class ImageCase:
    """One reference image: its npz, prompts, and our embedding (computed once)."""

    def __init__(self, name: str, reference_dir: Path, images_dir: Path, model: Sam) -> None:
        self.name = name
        self.ref = np.load(reference_dir / f"{name}.npz")
        self.prompts = json.loads((reference_dir / f"{name}.prompts.json").read_text())
        image = load_image(images_dir / f"{name}.jpg")
        self.original_hw = image.shape[:2]
        assert tuple(self.ref["image_hw"]) == self.original_hw
        self.x = torch.from_numpy(preprocess(image, model.image_size))
        with torch.no_grad():
            self.embeddings = model.encode_image(self.x)


@pytest.fixture(scope="module", params=IMAGES)
def image_case(request, reference_dir: Path, images_dir: Path, model: Sam) -> ImageCase:
    return ImageCase(request.param, reference_dir, images_dir, model)


def _rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _decode_project(model: Sam, case: ImageCase, prompt: dict, mask: np.ndarray | None):
    """Through the runtime's prompt encoding and Sam.forward_prompts (all four tokens)."""
    coords, labels = encode_prompt(
        case.original_hw,
        model.image_size,
        prompt["point_coords"],
        prompt["point_labels"],
        prompt["box"],
    )
    mask_t = None if mask is None else torch.from_numpy(mask.reshape(1, 1, *mask.shape))
    has = None if mask is None else torch.ones(1)
    with torch.no_grad():
        low, iou = model.forward_prompts(
            case.embeddings, torch.from_numpy(coords), torch.from_numpy(labels), mask_t, has
        )
    return low[0].numpy(), iou[0].numpy()


def _decode_official(model: Sam, case: ImageCase, prompt: dict, mask: np.ndarray | None):
    """Through the official PromptEncoder.forward(points, boxes, masks) + MaskDecoder."""
    points = boxes = None
    if prompt["point_coords"] is not None:
        xy = coords_image_to_model(np.asarray(prompt["point_coords"]), case.original_hw, 1024)
        points = (
            torch.as_tensor(xy, dtype=torch.float32)[None],
            torch.as_tensor(prompt["point_labels"], dtype=torch.float32)[None],
        )
    if prompt["box"] is not None:
        box = boxes_image_to_model(np.asarray(prompt["box"]), case.original_hw, 1024)
        boxes = torch.as_tensor(box, dtype=torch.float32).reshape(1, 4)
    masks = None if mask is None else torch.from_numpy(mask.reshape(1, 1, *mask.shape))
    with torch.no_grad():
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        pe = model.prompt_encoder.get_dense_pe()
        multi = model.mask_decoder(case.embeddings, pe, sparse, dense, multimask_output=True)
        single = model.mask_decoder(case.embeddings, pe, sparse, dense, multimask_output=False)
    low = torch.cat([single[0], multi[0]], dim=1)[0].numpy()
    iou = torch.cat([single[1], multi[1]], dim=1)[0].numpy()
    return low, iou


def _full_size_masks(low_res: np.ndarray, original_hw: tuple[int, int], size: int) -> np.ndarray:
    """The official postprocessing: bilinear to SxS, crop to the resized size, to original."""
    h, w = resized_hw(original_hw, size)
    x = torch.from_numpy(low_res)[None]
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)[..., :h, :w]
    x = F.interpolate(x, original_hw, mode="bilinear", align_corners=False)
    return (x[0] > 0.0).numpy()


def test_checkpoint_layout_is_fully_accounted_for(reference_dir: Path, model: Sam) -> None:
    spec = json.loads((reference_dir / "vit_t_state_dict_spec.json").read_text())
    assert len(spec) == 439
    state = load_state_dict(reference_dir / "reference_vit_t.pth")
    assert {k: list(v.shape) for k, v in state.items()} == {k: v["shape"] for k, v in spec.items()}
    ours = model.state_dict()
    dropped = {k for k in spec if k.startswith(UNUSED_PREFIXES)}
    assert dropped == {
        "image_encoder.norm_head.weight",
        "image_encoder.norm_head.bias",
        "image_encoder.head.weight",
        "image_encoder.head.bias",
    }
    assert set(ours) | dropped == set(spec)
    assert not set(ours) & dropped
    for k, v in ours.items():
        assert list(v.shape) == spec[k]["shape"], k
        assert torch.equal(v, state[k]), k
    assert "pixel_mean" not in ours and "pixel_std" not in ours
    assert not model.training


def test_embeddings(image_case: ImageCase) -> None:
    err = _rel_err(image_case.embeddings.numpy(), image_case.ref["embeddings"])
    print(f"{image_case.name} embeddings rel max err {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("path", ["forward_prompts", "official"])
@pytest.mark.parametrize("case", CASES)
def test_decoder_against_reference(image_case: ImageCase, model: Sam, case: str, path: str) -> None:
    ref = image_case.ref
    prompt = image_case.prompts[case]
    decode = _decode_project if path == "forward_prompts" else _decode_official

    low4, iou4 = decode(model, image_case, prompt, None)
    errs = {
        "all4_logits": _rel_err(low4, ref[f"{case}__all4_low_res_logits"]),
        "all4_iou": _rel_err(iou4, ref[f"{case}__all4_iou"]),
        "logits": _rel_err(low4[1:], ref[f"{case}__low_res_logits"]),
        "iou": _rel_err(iou4[1:], ref[f"{case}__iou"]),
    }
    masks = _full_size_masks(low4[1:], image_case.original_hw, model.image_size)
    agreement = {"masks": float((masks == ref[f"{case}__masks"]).mean())}

    # refine with the reference's own best low-res mask, as the official second call did
    best = ref[f"{case}__low_res_logits"][int(np.argmax(ref[f"{case}__iou"]))]
    rlow4, riou4 = decode(model, image_case, prompt, best.astype(np.float32))
    errs |= {
        "refine_logits": _rel_err(rlow4[1:], ref[f"{case}__refine_low_res_logits"]),
        "refine_iou": _rel_err(riou4[1:], ref[f"{case}__refine_iou"]),
    }
    rmasks = _full_size_masks(rlow4[1:], image_case.original_hw, model.image_size)
    agreement["refine_masks"] = float((rmasks == ref[f"{case}__refine_masks"]).mean())

    print(f"{image_case.name}/{case}/{path}: " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    print(f"{image_case.name}/{case}/{path}: mask agreement {agreement}")
    assert max(errs.values()) <= REL_TOL, errs
    assert min(agreement.values()) >= MASK_AGREEMENT, agreement
