"""Write a whole ``golden/`` folder and verify one (see ``docs/GOLDEN.md``)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.errors import BundleError
from tinysam_mobile.image_io import load_image
from tinysam_mobile.spec import MASK_THRESHOLD, PIXEL_MEAN, SCHEMA_VERSION, ModelGeometry

from . import cases as case_mod
from . import everything as every_mod
from .arrays import (
    FLOAT_ATOL_SCALE,
    FLOAT_RTOL,
    MASK_MISMATCH_FRACTION,
    ArrayWriter,
    read_json,
    write_json,
)
from .pieces import check_pieces, write_pieces

CREATED_BY = "tinysam_mobile.golden 0.1.0"

FIRST_IMAGE_CASES = case_mod.CASES
"""The first image gets every prompt case."""

OTHER_IMAGE_CASES: tuple[str, ...] = ("point", "box_point")
"""Further images get these (each prompt stores 4 low-res maps: 1 MiB at image size 1024)."""

MAX_EXTRA_PIXELS = 640 * 640
"""User images larger than this are refused (the golden folder stores their raw pixels)."""


def synthetic_images() -> dict[str, np.ndarray]:
    """Two small images the project makes itself: landscape and portrait, uint8 (H, W, 3).

    Smooth gradients with a disc, a rectangle and a ring, so the prompts of
    :func:`~tinysam_mobile.golden.cases.case_prompt` land on and off objects.
    """
    out = {}
    for name, (h, w) in (("synth_landscape", (90, 136)), ("synth_portrait", (120, 72))):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([40 + 80 * xx / w, 60 + 60 * yy / h, 120 - 50 * xx / w], axis=-1)
        disc = (yy - 0.5 * h) ** 2 + (xx - 0.5 * w) ** 2 < (0.18 * min(h, w)) ** 2
        img[disc] = (220, 60, 40)
        rect = (yy > 0.62 * h) & (yy < 0.8 * h) & (xx > 0.62 * w) & (xx < 0.85 * w)
        img[rect] = (30, 170, 90)
        r = np.sqrt((yy - 0.2 * h) ** 2 + (xx - 0.22 * w) ** 2)
        img[(r > 0.06 * min(h, w)) & (r < 0.1 * min(h, w))] = (250, 240, 60)
        out[name] = img.round().clip(0, 255).astype(np.uint8)
    return out


def write_golden(
    predictor: Any,
    out_dir: str | Path,
    images: Sequence[str | Path] = (),
    graphs_used: dict[str, str] | None = None,
    everything_points_per_side: int = every_mod.POINTS_PER_SIDE,
    max_file_bytes: int = 1 << 20,
) -> Path:
    """Write the golden vectors of a predictor into ``out_dir`` (replaced if it exists).

    Parameters
    ----------
    predictor
        A :class:`~tinysam_mobile.predictor.Predictor` (any sessions): the graphs whose raw
        outputs are recorded.
    out_dir
        Folder to create (``DIR/golden``).
    images
        Extra image files (e.g. ``../shared/images/dog.jpg``) after the two synthetic images.
    graphs_used
        ``{"target": ..., "precision": ...}`` recorded in ``index.json``.
    everything_points_per_side
        Grid of the everything-mode vectors (small keeps the folder small).
    max_file_bytes
        Larger encoder inputs / resized images are stored as digests.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    w = ArrayWriter(out, max_file_bytes)
    geometry = ModelGeometry(predictor.image_size)
    pixel_mean = getattr(predictor, "pixel_mean", PIXEL_MEAN)
    index: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_by": CREATED_BY,
        "model": {
            "image_size": geometry.image_size,
            "embedding_hw": list(geometry.embedding_hw),
            "low_res_hw": list(geometry.low_res_hw),
            "mask_threshold": MASK_THRESHOLD,
            "pixel_mean": list(pixel_mean),
        },
        "graphs_used": graphs_used or {},
        "tolerances": {
            "float_rtol": FLOAT_RTOL,
            "float_atol_scale": FLOAT_ATOL_SCALE,
            "mask_mismatch_fraction": MASK_MISMATCH_FRACTION,
        },
        "pieces": "pieces.json",
        "images": [],
        "cases": [],
        "everything": [],
    }
    write_json(out / "pieces.json", write_pieces(w))

    all_images = dict(synthetic_images())
    for path in images:
        rgb = load_image(path)
        if rgb.shape[0] * rgb.shape[1] > MAX_EXTRA_PIXELS:
            raise BundleError(
                f"golden image {path} is {rgb.shape[1]}x{rgb.shape[0]}; at most "
                f"{MAX_EXTRA_PIXELS} pixels are stored (its raw RGB goes into the folder)"
            )
        all_images[Path(path).stem.replace(" ", "_")] = rgb

    for k, (image_id, rgb) in enumerate(all_images.items()):
        image_doc = case_mod.write_image(w, image_id, rgb, geometry.image_size, pixel_mean)
        write_json(out / f"image__{image_id}.json", image_doc)
        index["images"].append(f"image__{image_id}.json")
        predictor.set_image(rgb)
        raw_point = None
        for case in FIRST_IMAGE_CASES if k == 0 else OTHER_IMAGE_CASES:
            doc, raw = case_mod.write_case(
                w, predictor, image_doc, case, geometry.low_res_hw, raw_point
            )
            if case == "point":
                raw_point = raw
            write_json(out / f"case__{doc['id']}.json", doc)
            index["cases"].append(f"case__{doc['id']}.json")
        if k == 0:
            runs = every_mod.write_everything(w, predictor, image_id, everything_points_per_side)
            for name, edoc in runs:
                write_json(out / name, edoc)
                index["everything"].append(name)

    index["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    write_json(out / "index.json", index)
    return out


def verify_golden(golden_dir: str | Path) -> list[str]:
    """Re-derive every stored output of a golden folder from its stored inputs.

    Returns
    -------
    list[str]
        One message per mismatch (file, field, position, values); empty when all match.

    Raises
    ------
    BundleError
        Missing or malformed files, or an unknown ``schema_version``.
    """
    root = Path(golden_dir)
    index = read_json(root / "index.json")
    if index.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"{root / 'index.json'}: schema_version {index.get('schema_version')!r}, "
            f"this runtime reads {SCHEMA_VERSION}"
        )
    fails = check_pieces(root, read_json(root / index["pieces"]))
    images = {}
    for name in index["images"]:
        doc = read_json(root / name)
        images[doc["id"]] = doc
        fails += case_mod.check_image(root, doc)
    docs = [read_json(root / name) for name in index["cases"]]
    by_id = {d["id"]: d for d in docs}
    for doc in docs:
        fails += case_mod.check_case(root, doc, images[doc["image"]], by_id)
    for name in index["everything"]:
        doc = read_json(root / name)
        fails += every_mod.check_everything(root, doc, images[doc["image"]])
    return fails
