"""Model-free golden vectors (``pieces.json``): resize, coordinates, logits, mask utilities.

Every input is generated from a fixed seed; every output is computed by the runtime function the
pipeline uses, so a port that reproduces these reproduces the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile import masks, postprocess, transforms
from tinysam_mobile.everything.regions import label_components, remove_small_regions
from tinysam_mobile.spec import MASK_THRESHOLD

from .arrays import ArrayWriter, check_array, compare, load_array

RESIZE_CASES: tuple[tuple[tuple[int, int], int], ...] = (
    ((7, 5), 16),  # upscale, portrait
    ((9, 13), 32),  # upscale, landscape
    ((37, 23), 20),  # downscale: PIL widens the filter support
    ((64, 48), 24),  # downscale by 2.67
    ((30, 30), 30),  # identity size
    ((21, 50), 17),  # strong downscale, rounding of the short side
)
"""(original_hw, image_size) pairs of the PIL resize vectors."""

RESIZED_HW_CASES: tuple[tuple[tuple[int, int], int], ...] = (
    ((769, 770), 1024),
    ((800, 534), 1024),
    ((534, 800), 1024),
    ((1, 1000), 1024),
    ((333, 1000), 1024),
    ((480, 640), 256),
    ((3, 2), 256),
)
"""(original_hw, image_size) pairs of the ``resized_hw`` vectors (rounding edge cases)."""

BILINEAR_CASES: tuple[tuple[tuple[int, int, int], tuple[int, int]], ...] = (
    ((2, 5, 7), (9, 13)),
    ((1, 8, 8), (32, 32)),
    ((3, 16, 12), (5, 7)),
    ((1, 6, 6), (6, 6)),
)
"""(input shape (C, h, w), out_hw) of the ``resize_bilinear`` vectors."""

UPSCALE_CASES: tuple[tuple[int, tuple[int, int], int], ...] = (
    (16, (50, 37), 64),
    (16, (23, 61), 64),
)
"""(low_res side, original_hw, image_size) of the ``upscale_logits`` vectors."""

STABILITY_OFFSET = 1.0
"""Offset used by the stability-score vectors (SAM's default)."""

NMS_IOU = 0.7
"""IoU threshold used by the NMS vectors (SAM's default)."""


REGION_MODES: tuple[str, ...] = ("holes", "islands")
"""Modes of SAM's ``remove_small_regions``."""


def _region_masks() -> list[tuple[np.ndarray, int]]:
    """(bool mask, area threshold) cases of the small-region vectors.

    A hand-drawn mask (holes of 1 and 4 pixels, islands touching only diagonally, which are one
    8-connected component, unset pixels touching only diagonally), a random mask, a mask whose
    islands are all small (the largest is kept; two tie, the first in raster order wins), an
    empty and a full mask.
    """
    a = np.zeros((12, 16), dtype=bool)
    a[1:8, 1:9] = True
    a[3, 3] = False  # 1-pixel hole
    a[4:6, 5:7] = False  # 2x2 hole
    a[9, 2] = a[10, 3] = a[11, 4] = True  # diagonal chain: one island of 3
    a[10, 12] = True  # single-pixel island
    a[1:6, 11:15] = True
    a[2, 12] = a[3, 13] = False  # unset pixels touching diagonally: one hole of 2
    rand = _rng("regions").random((15, 19)) > 0.55
    small = np.zeros((9, 11), dtype=bool)
    small[1:3, 1:3] = True  # 4 pixels
    small[5:7, 6:8] = True  # 4 pixels (tie)
    small[8, 0] = True
    return [
        (a, 3),
        (rand, 4),
        (small, 10),
        (np.zeros((6, 7), dtype=bool), 5),
        (np.ones((5, 4), dtype=bool), 21),
    ]


def _rng(tag: str) -> np.random.Generator:
    return np.random.default_rng(sum(ord(c) * (i + 1) for i, c in enumerate(tag)))


def _blob_masks(rng: np.random.Generator, n: int, hw: tuple[int, int]) -> np.ndarray:
    """``n`` bool masks (n, H, W): random rectangles and discs, one empty, one full."""
    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((n, h, w), dtype=bool)
    for i in range(n):
        if i == 0:
            continue  # empty mask: box of zeros
        if i == 1:
            out[i] = True
            continue
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(1.5, max(h, w) / 2)
        out[i] = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        if i % 2:
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            out[i, y0 : y0 + 3, x0 : x0 + 5] ^= True
    return out


def write_pieces(w: ArrayWriter) -> dict[str, Any]:
    """Compute the model-free vectors and return the content of ``pieces.json``."""
    out: dict[str, Any] = {}

    out["resize_image"] = []
    for k, (hw, size) in enumerate(RESIZE_CASES):
        img = _rng(f"resize{k}").integers(0, 256, (*hw, 3), dtype=np.uint8)
        res = transforms.resize_image(img, size)
        out["resize_image"].append(
            {
                "input": w.put(f"pieces__resize{k}__in", img, "uint8"),
                "image_size": size,
                "resized_hw": list(res.shape[:2]),
                "output": w.put(f"pieces__resize{k}__out", res, "uint8"),
            }
        )

    out["resized_hw"] = [
        {"original_hw": list(hw), "image_size": s, "resized_hw": list(transforms.resized_hw(hw, s))}
        for hw, s in RESIZED_HW_CASES
    ]

    out["coords"] = []
    for k, (hw, size) in enumerate(RESIZED_HW_CASES[:4]):
        rng = _rng(f"coords{k}")
        pts = np.stack([rng.uniform(0, hw[1], 5), rng.uniform(0, hw[0], 5)], axis=1)
        boxes = np.concatenate([pts[:2], pts[2:4]], axis=1)
        out["coords"].append(
            {
                "original_hw": list(hw),
                "image_size": size,
                "points_xy_image": w.put(f"pieces__coords{k}__pts", pts, "float32"),
                "points_xy_model": w.put(
                    f"pieces__coords{k}__pts_model",
                    transforms.coords_image_to_model(pts.astype(np.float32), hw, size),
                    "float32",
                ),
                "boxes_xyxy_image": w.put(f"pieces__coords{k}__boxes", boxes, "float32"),
                "boxes_xyxy_model": w.put(
                    f"pieces__coords{k}__boxes_model",
                    transforms.boxes_image_to_model(boxes.astype(np.float32), hw, size),
                    "float32",
                ),
            }
        )

    out["resize_bilinear"] = []
    for k, (shape, out_hw) in enumerate(BILINEAR_CASES):
        x = _rng(f"bilinear{k}").normal(0, 5, shape).astype(np.float32)
        out["resize_bilinear"].append(
            {
                "input": w.put(f"pieces__bilinear{k}__in", x, "float32"),
                "out_hw": list(out_hw),
                "output": w.put(
                    f"pieces__bilinear{k}__out", postprocess.resize_bilinear(x, out_hw), "float32"
                ),
            }
        )

    out["upscale_logits"] = []
    for k, (side, hw, size) in enumerate(UPSCALE_CASES):
        low = _rng(f"upscale{k}").normal(0, 5, (2, side, side)).astype(np.float32)
        rhw = transforms.resized_hw(hw, size)
        up = postprocess.upscale_logits(low, rhw, hw, size)
        out["upscale_logits"].append(
            {
                "low_res": w.put(f"pieces__upscale{k}__in", low, "float32"),
                "resized_hw": list(rhw),
                "original_hw": list(hw),
                "image_size": size,
                "output": w.put(f"pieces__upscale{k}__out", up, "float32"),
            }
        )

    logits = _rng("stability").normal(0, 3, (6, 12, 10)).astype(np.float32)
    out["stability_score"] = {
        "logits": w.put("pieces__stability__logits", logits, "float32"),
        "mask_threshold": MASK_THRESHOLD,
        "offset": STABILITY_OFFSET,
        "output": w.put(
            "pieces__stability__out",
            masks.stability_score(logits, MASK_THRESHOLD, STABILITY_OFFSET),
            "float32",
        ),
    }

    blobs = _blob_masks(_rng("box"), 6, (11, 17))
    out["mask_to_box"] = {
        "masks": w.put("pieces__mask_to_box__masks", blobs, "bits"),
        "boxes": w.put("pieces__mask_to_box__boxes", masks.mask_to_box(blobs), "int32"),
    }

    rng = _rng("nms")
    xy = rng.uniform(0, 40, (12, 2))
    wh = rng.uniform(3, 20, (12, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).round().astype(np.int32)
    boxes[5] = boxes[2]  # exact duplicate
    scores = rng.uniform(0.5, 1.0, 12).astype(np.float32)
    scores[7] = scores[3]  # tie: index order decides
    out["box_nms"] = {
        "boxes": w.put("pieces__nms__boxes", boxes, "int32"),
        "scores": w.put("pieces__nms__scores", scores, "float32"),
        "iou_threshold": NMS_IOU,
        "kept": masks.box_nms(boxes, scores, NMS_IOU).tolist(),
    }

    out["small_regions"] = []
    for k, (m, area) in enumerate(_region_masks()):
        labels, sizes = label_components(m)
        case: dict[str, Any] = {
            "mask": w.put(f"pieces__regions{k}__mask", m, "bits"),
            "area_thresh": area,
            "labels": w.put(f"pieces__regions{k}__labels", labels, "int32"),
            "sizes": sizes.tolist(),
        }
        for mode in REGION_MODES:
            res, changed = remove_small_regions(m, area, mode)
            case[mode] = {
                "mask": w.put(f"pieces__regions{k}__{mode}", res, "bits"),
                "changed": changed,
            }
        out["small_regions"].append(case)

    rle_masks = _blob_masks(_rng("rle"), 4, (9, 14))
    out["rle"] = [
        {
            "mask": w.put(f"pieces__rle{k}__mask", m, "bits"),
            "uncompressed": masks.mask_to_rle(m),
            "coco": masks.coco_rle_encode(m),
        }
        for k, m in enumerate(rle_masks)
    ]
    return out


def check_pieces(root: Path, p: dict[str, Any]) -> list[str]:
    """Recompute every piece from its stored inputs; return failure messages."""
    fails: list[str] = []
    for k, c in enumerate(p["resize_image"]):
        img = load_array(root, c["input"])
        fails += check_array(
            root,
            f"pieces.resize_image[{k}]",
            transforms.resize_image(img, c["image_size"]),
            c["output"],
        )
    for k, c in enumerate(p["resized_hw"]):
        got = list(transforms.resized_hw(tuple(c["original_hw"]), c["image_size"]))
        if got != c["resized_hw"]:
            fails.append(f"pieces.resized_hw[{k}]: {got} != stored {c['resized_hw']}")
    for k, c in enumerate(p["coords"]):
        hw, s = tuple(c["original_hw"]), c["image_size"]
        pts = load_array(root, c["points_xy_image"])
        boxes = load_array(root, c["boxes_xyxy_image"])
        fails += check_array(
            root,
            f"pieces.coords[{k}].points",
            transforms.coords_image_to_model(pts, hw, s),
            c["points_xy_model"],
        )
        fails += check_array(
            root,
            f"pieces.coords[{k}].boxes",
            transforms.boxes_image_to_model(boxes, hw, s),
            c["boxes_xyxy_model"],
        )
    for k, c in enumerate(p["resize_bilinear"]):
        x = load_array(root, c["input"])
        fails += check_array(
            root,
            f"pieces.resize_bilinear[{k}]",
            postprocess.resize_bilinear(x, tuple(c["out_hw"])),
            c["output"],
        )
    for k, c in enumerate(p["upscale_logits"]):
        low = load_array(root, c["low_res"])
        up = postprocess.upscale_logits(
            low, tuple(c["resized_hw"]), tuple(c["original_hw"]), c["image_size"]
        )
        fails += check_array(root, f"pieces.upscale_logits[{k}]", up, c["output"])
    st = p["stability_score"]
    fails += check_array(
        root,
        "pieces.stability_score",
        masks.stability_score(load_array(root, st["logits"]), st["mask_threshold"], st["offset"]),
        st["output"],
    )
    mb = p["mask_to_box"]
    fails += check_array(
        root, "pieces.mask_to_box", masks.mask_to_box(load_array(root, mb["masks"])), mb["boxes"]
    )
    nms = p["box_nms"]
    kept = masks.box_nms(
        load_array(root, nms["boxes"]), load_array(root, nms["scores"]), nms["iou_threshold"]
    )
    fails += compare("pieces.box_nms", kept, np.asarray(nms["kept"]), "int32")
    for k, c in enumerate(p["small_regions"]):
        m = load_array(root, c["mask"])
        labels, sizes = label_components(m)
        fails += check_array(root, f"pieces.small_regions[{k}].labels", labels, c["labels"])
        fails += compare(
            f"pieces.small_regions[{k}].sizes", sizes, np.asarray(c["sizes"], np.int64), "int32"
        )
        for mode in REGION_MODES:
            res, changed = remove_small_regions(m, c["area_thresh"], mode)
            fails += check_array(root, f"pieces.small_regions[{k}].{mode}", res, c[mode]["mask"])
            if changed != c[mode]["changed"]:
                fails.append(f"pieces.small_regions[{k}].{mode}.changed: {changed}")
    for k, c in enumerate(p["rle"]):
        m = load_array(root, c["mask"])
        if masks.mask_to_rle(m) != c["uncompressed"]:
            fails.append(f"pieces.rle[{k}].uncompressed differs")
        if masks.coco_rle_encode(m) != c["coco"]:
            fails.append(f"pieces.rle[{k}].coco differs")
    return fails
