"""Golden vectors of images and interactive prompt cases (``image__*.json``, ``case__*.json``).

The writer runs a :class:`~tinysam_mobile.predictor.Predictor` (any graph sessions) on an image
and stores the decoder's inputs and raw outputs with the postprocessing results, so a port can
check its prompt encoding and postprocessing without running a graph. The checker re-derives
the inputs from the user prompt and the results from the stored raw outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from tinysam_mobile import masks, postprocess, prompts, transforms
from tinysam_mobile.spec import MASK_THRESHOLD, PIXEL_MEAN

from .arrays import ArrayWriter, check_array, compare, load_array, sample_positions

CASES: tuple[str, ...] = ("point", "points_neg", "box", "box_point", "refine", "batch")
"""Every prompt case, in writing order (``refine`` needs ``point`` first)."""

STABILITY_OFFSET = 1.0
"""Offset of the stored stability scores (SAM's default), on the upscaled logits."""

LOGIT_SAMPLES = 32
"""Upscaled-logit values sampled per selection."""


class DecodingPredictor(Protocol):
    """What the golden writer needs from a predictor (``tinysam_mobile.predictor.Predictor``)."""

    image_size: int

    def set_image(self, image: Any) -> None:
        """Encode an image."""
        ...

    def decode(
        self,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray | None = None,
        has_mask_input: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the decoder graph on model-frame prompts."""
        ...


def case_prompt(case: str, original_hw: tuple[int, int]) -> dict[str, Any]:
    """The user prompt of ``case`` for an image of ``original_hw``, image frame.

    Positions are fixed fractions of the image size, so every image gets comparable prompts.
    """
    h, w = original_hw

    def pt(fx: float, fy: float) -> list[float]:
        return [round(fx * w, 2), round(fy * h, 2)]

    box = [*pt(0.2, 0.25), *pt(0.75, 0.8)]
    table: dict[str, dict[str, Any]] = {
        "point": {"point_coords": [pt(0.5, 0.5)], "point_labels": [1]},
        "points_neg": {
            "point_coords": [pt(0.42, 0.45), pt(0.6, 0.55), pt(0.12, 0.15)],
            "point_labels": [1, 1, 0],
        },
        "box": {"box": box},
        "box_point": {"point_coords": [pt(0.5, 0.5)], "point_labels": [1], "box": box},
        "refine": {
            "point_coords": [pt(0.5, 0.5)],
            "point_labels": [1],
            "mask_input_from": "point",
        },
        "batch": {
            "point_coords": [pt(0.25, 0.25), pt(0.5, 0.5), pt(0.75, 0.7)],
            "point_labels": [1, 1, 1],
            "batched": True,
        },
    }
    if case not in table:
        raise ValueError(f"unknown golden case {case!r} (known: {', '.join(CASES)})")
    base = {"point_coords": None, "point_labels": None, "box": None, "mask_input_from": None}
    return base | table[case]


def encode_case(
    prompt: dict[str, Any],
    original_hw: tuple[int, int],
    image_size: int,
    low_res_hw: tuple[int, int],
    previous_best_logits: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The decoder inputs of a case prompt, built with the runtime's prompt encoding.

    Returns
    -------
    dict
        ``point_coords`` float32 (B, N, 2) model frame, ``point_labels`` float32 (B, N),
        ``mask_input`` float32 (B, 1, h, w), ``has_mask_input`` float32 (B,).
    """
    if prompt.get("batched"):
        encoded = [
            prompts.encode_prompt(original_hw, image_size, [xy], [lab])
            for xy, lab in zip(prompt["point_coords"], prompt["point_labels"], strict=True)
        ]
        coords = np.concatenate([c for c, _ in encoded])
        labels = np.concatenate([lab for _, lab in encoded])
    else:
        coords, labels = prompts.encode_prompt(
            original_hw, image_size, prompt["point_coords"], prompt["point_labels"], prompt["box"]
        )
    mask, has_mask = prompts.prepare_mask_input(previous_best_logits, low_res_hw)
    b = coords.shape[0]
    return {
        "point_coords": coords,
        "point_labels": labels,
        "mask_input": np.repeat(mask, b, axis=0),
        "has_mask_input": np.repeat(has_mask, b, axis=0),
    }


def postprocess_case(
    low_res_masks: np.ndarray,
    iou: np.ndarray,
    multimask_output: bool,
    resized_hw: tuple[int, int],
    original_hw: tuple[int, int],
    image_size: int,
) -> dict[str, np.ndarray]:
    """Selection and postprocessing of raw decoder outputs, with the runtime's functions.

    Returns
    -------
    dict
        ``iou`` (B, C), ``best_index`` (B,), ``logits`` float32 (B, C, H, W) image frame,
        ``masks`` bool (B, C, H, W), ``boxes`` int (B, C, 4) XYXY image frame,
        ``stability_scores`` (B, C), ``areas`` (B, C).
    """
    sel, sel_iou = postprocess.select_masks(low_res_masks, iou, multimask_output)
    logits = postprocess.upscale_logits(sel, resized_hw, original_hw, image_size)
    binary = postprocess.threshold(logits, MASK_THRESHOLD)
    return {
        "iou": sel_iou,
        "best_index": np.argmax(sel_iou, axis=1),
        "logits": logits,
        "masks": binary,
        "boxes": masks.mask_to_box(binary),
        "stability_scores": masks.stability_score(logits, MASK_THRESHOLD, STABILITY_OFFSET),
        "areas": binary.sum(axis=(-2, -1)),
    }


def write_image(
    w: ArrayWriter, image_id: str, rgb: np.ndarray, image_size: int, pixel_mean: Sequence[float]
) -> dict[str, Any]:
    """Content of ``image__<id>.json``: sizes, pixels, resized pixels and encoder input."""
    hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    return {
        "id": image_id,
        "original_hw": list(hw),
        "resized_hw": list(transforms.resized_hw(hw, image_size)),
        "image_size": image_size,
        "pixel_mean": list(pixel_mean),
        "rgb": w.put(f"{image_id}__rgb", rgb, "uint8"),
        "resized_rgb": w.put(
            f"{image_id}__resized_rgb", transforms.resize_image(rgb, image_size), "uint8", True
        ),
        "encoder_input": w.put(
            f"{image_id}__encoder_input",
            transforms.preprocess(rgb, image_size, pixel_mean),
            "float32",
            True,
        ),
    }


def check_image(root: Path, doc: dict[str, Any]) -> list[str]:
    """Re-derive sizes, resized pixels and encoder input from the stored RGB pixels."""
    name = f"image__{doc['id']}"
    rgb = load_array(root, doc["rgb"])
    s = doc["image_size"]
    fails: list[str] = []
    rhw = list(transforms.resized_hw(rgb.shape[:2], s))
    if rhw != doc["resized_hw"] or list(rgb.shape[:2]) != doc["original_hw"]:
        fails.append(f"{name}: sizes {rgb.shape[:2]}, {rhw} != stored {doc['original_hw']}, ...")
    fails += check_array(
        root, f"{name}.resized_rgb", transforms.resize_image(rgb, s), doc["resized_rgb"]
    )
    fails += check_array(
        root,
        f"{name}.encoder_input",
        transforms.preprocess(rgb, s, doc.get("pixel_mean", PIXEL_MEAN)),
        doc["encoder_input"],
    )
    return fails


def _selection_doc(w: ArrayWriter, stem: str, r: dict[str, np.ndarray], tokens: list[int]) -> dict:
    logits = r["logits"]
    idx = sample_positions(logits.shape, LOGIT_SAMPLES, seed=len(stem))
    png = []
    for b in range(r["masks"].shape[0]):
        for c in range(r["masks"].shape[1]):
            rel = f"png/{stem}__{b}_{c}.png"
            (w.root / "png").mkdir(parents=True, exist_ok=True)
            Image.fromarray(r["masks"][b, c].astype(np.uint8) * 255).save(w.root / rel)
            png.append(rel)
    return {
        "token_indices": tokens,
        "iou": w.put(f"{stem}__iou", r["iou"], "float32"),
        "best_index": r["best_index"].tolist(),
        "masks": w.put(f"{stem}__masks", r["masks"], "bits"),
        "logit_samples": {
            "index": idx.tolist(),
            "values": [float(logits[tuple(i)]) for i in idx],
        },
        "boxes": w.put(f"{stem}__boxes", r["boxes"], "int32"),
        "stability_scores": w.put(f"{stem}__stability", r["stability_scores"], "float32"),
        "stability_offset": STABILITY_OFFSET,
        "areas": r["areas"].tolist(),
        "png": png,
    }


def write_case(
    w: ArrayWriter,
    predictor: DecodingPredictor,
    image_doc: dict[str, Any],
    case: str,
    low_res_hw: tuple[int, int],
    previous: dict[str, np.ndarray] | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run one prompt case on the predictor's current image.

    Parameters
    ----------
    previous
        Raw outputs of the ``point`` case (``low_res_masks``, ``iou``), needed by ``refine``.

    Returns
    -------
    (doc, raw)
        The content of ``case__<img>__<case>.json`` and the raw decoder outputs.
    """
    hw = tuple(image_doc["original_hw"])
    rhw = tuple(image_doc["resized_hw"])
    s = image_doc["image_size"]
    prompt = case_prompt(case, hw)
    best = _best_multimask_logits(previous) if prompt["mask_input_from"] else None
    inputs = encode_case(prompt, hw, s, low_res_hw, best)
    low_res, iou = predictor.decode(
        inputs["point_coords"],
        inputs["point_labels"],
        inputs["mask_input"],
        inputs["has_mask_input"],
    )
    stem = f"{image_doc['id']}__{case}"
    mask_ref = (
        w.put(f"{stem}__mask_input", inputs["mask_input"], "float32")
        if best is not None
        else ArrayWriter.fill(0.0, "float32", inputs["mask_input"].shape)
    )
    doc = {
        "id": stem,
        "image": image_doc["id"],
        "case": case,
        "prompt": prompt,
        "decoder_inputs": {
            "point_coords": w.put(f"{stem}__point_coords", inputs["point_coords"], "float32"),
            "point_labels": w.put(f"{stem}__point_labels", inputs["point_labels"], "float32"),
            "mask_input": mask_ref,
            "has_mask_input": w.put(f"{stem}__has_mask", inputs["has_mask_input"], "float32"),
        },
        "decoder_outputs": {
            "low_res_masks": w.put(f"{stem}__low_res_masks", low_res, "float32"),
            "iou_predictions": w.put(f"{stem}__iou_predictions", iou, "float32"),
        },
    }
    for key, multi, tokens in (("multimask", True, [1, 2, 3]), ("single", False, [0])):
        r = postprocess_case(low_res, iou, multi, rhw, hw, s)
        doc[key] = _selection_doc(w, f"{stem}__{key}", r, tokens)
    return doc, {"low_res_masks": low_res, "iou": iou}


def _best_multimask_logits(raw: dict[str, np.ndarray] | None) -> np.ndarray:
    """Low-res logits (h, w) of the best multimask token of prompt 0 (what ``refine`` feeds)."""
    if raw is None:
        raise ValueError("the refine case needs the raw outputs of the point case first")
    sel, sel_iou = postprocess.select_masks(raw["low_res_masks"], raw["iou"], True)
    return sel[0, int(np.argmax(sel_iou[0]))]


def check_case(root: Path, doc: dict[str, Any], image: dict[str, Any], by_id: dict) -> list[str]:
    """Re-derive a case's decoder inputs from its prompt and its results from its raw outputs."""
    name = f"case__{doc['id']}"
    hw, rhw, s = tuple(image["original_hw"]), tuple(image["resized_hw"]), image["image_size"]
    outs = doc["decoder_outputs"]
    low_res = load_array(root, outs["low_res_masks"])
    iou = load_array(root, outs["iou_predictions"])
    best = None
    src = doc["prompt"]["mask_input_from"]
    if src is not None:
        prev = by_id[f"{doc['image']}__{src}"]["decoder_outputs"]
        best = _best_multimask_logits(
            {
                "low_res_masks": load_array(root, prev["low_res_masks"]),
                "iou": load_array(root, prev["iou_predictions"]),
            }
        )
    inputs = encode_case(doc["prompt"], hw, s, low_res.shape[-2:], best)
    fails: list[str] = []
    for key, ref in doc["decoder_inputs"].items():
        fails += check_array(root, f"{name}.decoder_inputs.{key}", inputs[key], ref)
    for key, multi in (("multimask", True), ("single", False)):
        r = postprocess_case(low_res, iou, multi, rhw, hw, s)
        st = doc[key]
        where = f"{name}.{key}"
        fails += check_array(root, f"{where}.iou", r["iou"], st["iou"])
        fails += compare(
            f"{where}.best_index", r["best_index"], np.asarray(st["best_index"]), "int32"
        )
        fails += check_array(root, f"{where}.masks", r["masks"], st["masks"])
        fails += check_array(root, f"{where}.boxes", r["boxes"], st["boxes"])
        fails += check_array(
            root, f"{where}.stability", r["stability_scores"], st["stability_scores"]
        )
        fails += compare(f"{where}.areas", r["areas"], np.asarray(st["areas"]), "int32")
        idx = np.asarray(st["logit_samples"]["index"], dtype=np.int64)
        got = np.asarray([r["logits"][tuple(i)] for i in idx])
        fails += compare(
            f"{where}.logit_samples", got, np.asarray(st["logit_samples"]["values"]), "float32"
        )
    return fails
