"""``tinysam everything``: every mask of an image as JSON (COCO RLE) and an overlay PNG."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.atomic import write_text_atomic
from tinysam_mobile.cli import CliError, _positive_int, add_bundle_args

from .config import MODES, STABILITY_FRAMES, EverythingConfig


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``everything`` subcommand on the ``tinysam`` parser."""
    p = subparsers.add_parser(
        "everything",
        help="segment everything in an image (grid or hierarchical)",
        description="Find every mask of IMAGE with point-grid prompts; write masks as JSON "
        "(COCO RLE) and/or an overlay PNG with one colour per mask.",
    )
    p.add_argument("image", type=Path, help="input image")
    add_bundle_args(p)
    p.add_argument("--mode", choices=MODES, default="hierarchical", help="default hierarchical")
    p.add_argument("--points-per-side", type=_positive_int, default=32, help="full grid side (32)")
    p.add_argument("--points-per-batch", type=_positive_int, default=64, help="prompts per call")
    defaults = EverythingConfig()
    for flag, typ in (
        ("--pred-iou-thresh", float),
        ("--stability-score-thresh", float),
        ("--high-score-thresh", float),
        ("--box-nms-thresh", float),
        ("--min-mask-region-area", int),
    ):
        dest = flag[2:].replace("-", "_")
        p.add_argument(flag, type=typ, default=getattr(defaults, dest), help="default %(default)s")
    p.add_argument(
        "--stability-frame",
        choices=STABILITY_FRAMES,
        default=defaults.stability_frame,
        help="where the stability score is computed (default %(default)s)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON file for records and stats")
    p.add_argument("--overlay", type=Path, default=None, help="PNG with every mask coloured")
    return p


def _write_json_atomic(doc: dict[str, Any], path: Path) -> None:
    write_text_atomic(path, json.dumps(doc) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run ``tinysam everything``; returns the exit status."""
    from tinysam_mobile.image_io import load_image
    from tinysam_mobile.masks import coco_rle_decode
    from tinysam_mobile.overlay import draw_overlay, save_png_atomic
    from tinysam_mobile.predictor import Predictor

    from .generator import MaskGenerator

    if args.out is None and args.overlay is None:
        raise CliError("give --out masks.json and/or --overlay OUT.png")
    if args.out is not None and not args.out.parent.is_dir():
        raise CliError(f"folder of --out {args.out} does not exist")
    if args.overlay is not None:
        if args.overlay.suffix.lower() != ".png":
            raise CliError(f"--overlay {args.overlay} must end in .png")
        if not args.overlay.parent.is_dir():
            raise CliError(f"folder of --overlay {args.overlay} does not exist")
    try:
        config = EverythingConfig(
            mode=args.mode,
            points_per_side=args.points_per_side,
            points_per_batch=args.points_per_batch,
            pred_iou_thresh=args.pred_iou_thresh,
            stability_score_thresh=args.stability_score_thresh,
            high_score_thresh=args.high_score_thresh,
            box_nms_thresh=args.box_nms_thresh,
            min_mask_region_area=args.min_mask_region_area,
            stability_frame=args.stability_frame,
            output_mode="coco_rle",
        )
    except (TypeError, ValueError) as e:
        raise CliError(str(e)) from None
    image = load_image(args.image)
    predictor = Predictor.from_bundle(args.bundle, args.target, args.precision, args.threads)
    fields = {k: v for k, v in config.to_json().items() if k != "mode"}
    generator = MaskGenerator(predictor, mode=config.mode, **fields)
    t0 = time.perf_counter()
    records = generator.generate(image)
    seconds = time.perf_counter() - t0
    stats = generator.last_stats or {}
    if args.out is not None:
        doc = {
            "image": str(args.image),
            "image_hw": list(image.shape[:2]),
            "config": generator.config.to_json(),
            "stats": stats,
            "masks": records,
        }
        _write_json_atomic(doc, args.out)
    if args.overlay is not None:
        by_area = sorted(records, key=lambda r: -r["area"])  # small masks drawn last, on top
        masks = (coco_rle_decode(r["segmentation"]) for r in by_area)
        pts = np.array([r["point_coords"][0] for r in by_area]).reshape(-1, 2)
        save_png_atomic(draw_overlay(image, masks, pts if len(pts) else None), args.overlay)
    print(
        f"{args.mode}: {len(records)} masks from {stats.get('prompts', 0)} prompts "
        f"({stats.get('decoder_calls', 0)} decoder calls) in {seconds:.2f} s"
    )
    for out in (args.out, args.overlay):
        if out is not None:
            print(f"wrote {out}")
    return 0
