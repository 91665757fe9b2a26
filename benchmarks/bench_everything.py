"""Grid vs hierarchical everything mode on a set of images, in one run.

For every image the encoder runs once; then grid mode and hierarchical mode decode from the same
embedding, and the script reports per mode: decoder prompts, decoder calls, wall seconds
(everything mode only, encoder excluded), masks found; and the agreement of the two mask sets
(for each grid mask, the best IoU among the hierarchical masks: mean and the share above 0.5),
plus the ratios grid / hierarchical of prompts and seconds.

A random-weight model produces no mask whose logits exceed ``high_score_thresh``, so the first
hierarchical pass covers nothing and the second pass prompts the whole grid: the script detects
that (zero high-confidence coarse masks) and says so instead of reporting a speed-up.

``--compare-stability`` also measures the low-res stability shortcut against SAM's order
(stability on logits upscaled to the original image): per mask score differences on a sample of
decoder outputs, the filter decisions that flip, and the final masks of grid mode both ways.

Usage::

    python benchmarks/bench_everything.py --bundle DIR [--images DIR] [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.everything import EverythingConfig, generate_everything
from tinysam_mobile.everything.passes import valid_low_res_hw
from tinysam_mobile.image_io import load_image
from tinysam_mobile.masks import rle_to_mask, stability_score
from tinysam_mobile.postprocess import resize_bilinear, upscale_logits
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.transforms import resized_hw

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def best_iou_per_mask(ref_rles: list[dict], other_rles: list[dict]) -> np.ndarray:
    """For each mask of ``ref_rles``, the best IoU with any mask of ``other_rles`` (float64)."""
    if not ref_rles:
        return np.zeros(0)
    if not other_rles:
        return np.zeros(len(ref_rles))
    other = np.stack([rle_to_mask(r).ravel() for r in other_rles]).astype(np.float32)
    other_area = other.sum(axis=1)
    best = np.zeros(len(ref_rles))
    for i, r in enumerate(ref_rles):
        m = rle_to_mask(r).ravel().astype(np.float32)
        inter = other @ m
        union = other_area + m.sum() - inter
        best[i] = float(np.max(np.where(union > 0, inter / np.maximum(union, 1), 0.0)))
    return best


def _mode_summary(res: Any) -> dict[str, Any]:
    return {
        "prompts": res.stats["prompts"],
        "decoder_calls": res.stats["decoder_calls"],
        "seconds": res.stats["seconds"],
        "masks": len(res.rles),
        "passes": res.stats["passes"],
    }


def stability_shortcut(predictor: Predictor, cfg: EverythingConfig, sample: int) -> dict[str, Any]:
    """Low-res vs image-frame stability on sampled decoder outputs and on grid-mode results."""
    hw, rhw, size = predictor.original_hw, predictor.resized_hw, predictor.image_size
    diffs: list[np.ndarray] = []
    flips = 0
    seen = 0
    thr = cfg.stability_score_thresh

    def trace(event: str, data: dict[str, Any]) -> None:
        nonlocal flips, seen
        if seen >= sample:
            return
        low = data["low_res_masks"][:, 1:].reshape(-1, *data["low_res_masks"].shape[2:])
        low = low[: sample - seen]
        vh, vw = valid_low_res_hw(rhw, size, low.shape[-2:])
        s_low = stability_score(low[:, :vh, :vw], 0.0, cfg.stability_score_offset)
        s_img = np.concatenate(
            [
                stability_score(
                    upscale_logits(low[i : i + 8], rhw, hw, size), 0.0, cfg.stability_score_offset
                )
                for i in range(0, low.shape[0], 8)
            ]
        )
        diffs.append(np.abs(s_low - s_img))
        flips += int(np.sum((s_low >= thr) != (s_img >= thr)))
        seen += low.shape[0]

    t0 = time.perf_counter()
    generate_everything(
        predictor, None, EverythingConfig(mode="grid", points_per_side=cfg.points_per_side), trace
    )
    d = np.concatenate(diffs) if diffs else np.zeros(0)
    out: dict[str, Any] = {
        "sampled_masks": int(d.size),
        "abs_diff_mean": float(d.mean()) if d.size else None,
        "abs_diff_p99": float(np.quantile(d, 0.99)) if d.size else None,
        "abs_diff_max": float(d.max()) if d.size else None,
        "threshold_flips": flips,
        "sample_seconds": time.perf_counter() - t0,
    }
    runs = {}
    for frame in ("low_res", "image"):
        c = EverythingConfig(
            mode="grid", points_per_side=cfg.points_per_side, stability_frame=frame
        )
        runs[frame] = generate_everything(predictor, None, c)
    a, b = runs["image"], runs["low_res"]
    agree = best_iou_per_mask(list(a.rles), list(b.rles))
    out.update(
        {
            "grid_masks_image_frame": len(a.rles),
            "grid_masks_low_res": len(b.rles),
            "after_stability_image_frame": a.stats["passes"][0]["after_stability"],
            "after_stability_low_res": b.stats["passes"][0]["after_stability"],
            "final_agreement_mean": float(agree.mean()) if agree.size else None,
            "final_exact_matches": int(np.sum(agree > 0.999)),
            "seconds_image_frame": a.stats["seconds"],
            "seconds_low_res": b.stats["seconds"],
        }
    )
    return out


def synthetic_stability_study(
    n_masks: int, sizes_hw: list[tuple[int, int]], seed: int = 0
) -> list[dict[str, Any]]:
    """Low-res vs image-frame stability on synthetic SAM-like logits (no model needed).

    Each mask is a union of 1-4 random ellipses in the 256x256 low-res frame with logits
    ``slope * (1 - normalized radius) * 10`` (slope 4..30) plus smooth noise (a 16x16 Gaussian
    field upscaled), i.e. sharp and soft edges, flat and bumpy interiors.
    """
    rng = np.random.default_rng(seed)
    low = 256
    yy, xx = np.mgrid[:low, :low].astype(np.float32)
    logits = np.empty((n_masks, low, low), np.float32)
    for i in range(n_masks):
        f = np.full((low, low), -1e9, np.float32)
        for _ in range(int(rng.integers(1, 5))):
            cx, cy = rng.uniform(0, low, 2)
            ax, ay = rng.uniform(3, 80, 2)
            f = np.maximum(f, 1 - np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2))
        noise = rng.normal(0, rng.uniform(0.5, 4), (1, 16, 16)).astype(np.float32)
        logits[i] = rng.uniform(4, 30) * f * 10 + resize_bilinear(noise, (low, low))[0]
    rows = []
    for hw in sizes_hw:
        rhw = resized_hw(hw, 1024)
        vh, vw = valid_low_res_hw(rhw, 1024, (low, low))
        s_low = stability_score(logits[:, :vh, :vw], 0.0, 1.0)
        s_img = np.concatenate(
            [
                stability_score(upscale_logits(logits[i : i + 8], rhw, hw, 1024), 0.0, 1.0)
                for i in range(0, n_masks, 8)
            ]
        )
        ok = s_img > 0
        d = np.abs(s_low - s_img)[ok]
        rows.append(
            {
                "image_hw": list(hw),
                "masks": int(ok.sum()),
                "abs_diff_mean": float(d.mean()),
                "abs_diff_p99": float(np.quantile(d, 0.99)),
                "abs_diff_max": float(d.max()),
                "flips_at_0_95": int(np.sum((s_low >= 0.95) != (s_img >= 0.95))),
                "pass_image_frame": int(np.sum(s_img >= 0.95)),
                "pass_low_res": int(np.sum(s_low >= 0.95)),
                "in_prefilter_band": int(np.sum((s_low >= 0.90) & (s_low < 0.95))),
                "prefilter_misses": int(np.sum((s_low < 0.90) & (s_img >= 0.95))),
            }
        )
    return rows


def bench_image(
    predictor: Predictor, path: Path, points_per_side: int, compare_stability: bool, sample: int
) -> dict[str, Any]:
    """Both modes on one image (one encoder run)."""
    image = load_image(path)
    t0 = time.perf_counter()
    predictor.set_image(image)
    enc = time.perf_counter() - t0
    grid = generate_everything(
        predictor, None, EverythingConfig(mode="grid", points_per_side=points_per_side)
    )
    hier = generate_everything(
        predictor, None, EverythingConfig(mode="hierarchical", points_per_side=points_per_side)
    )
    best = best_iou_per_mask(list(grid.rles), list(hier.rles))
    high = int(hier.stats.get("high_confidence_masks", 0))
    row: dict[str, Any] = {
        "image": path.name,
        "image_hw": list(image.shape[:2]),
        "encoder_seconds": enc,
        "grid": _mode_summary(grid),
        "hierarchical": _mode_summary(hier),
        "high_confidence_coarse_masks": high,
        "covered_fraction": hier.stats.get("covered_fraction", 0.0),
        "agreement": {
            "grid_masks": int(best.size),
            "mean_best_iou": float(best.mean()) if best.size else None,
            "share_above_0_5": float(np.mean(best > 0.5)) if best.size else None,
        },
        "prompt_ratio": grid.stats["prompts"] / max(1, hier.stats["prompts"]),
        "time_ratio": grid.stats["seconds"] / max(1e-9, hier.stats["seconds"]),
    }
    if high == 0:
        row["note"] = (
            "no coarse mask exceeded high_score_thresh: the hierarchical pass covered nothing "
            "and skipped no prompt (the model has no confident masks, like a random-weight or undertrained one); the ratios are not a speed-up"
        )
    if compare_stability:
        row["stability_shortcut"] = stability_shortcut(
            predictor, EverythingConfig(points_per_side=points_per_side), sample
        )
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=None, help="required unless --synthetic-*")
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--target", default="onnx")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--max-images", type=int, default=0, help="0: all")
    ap.add_argument("--compare-stability", action="store_true")
    ap.add_argument("--stability-sample", type=int, default=384, help="masks sampled")
    ap.add_argument(
        "--synthetic-stability",
        type=int,
        default=0,
        metavar="N",
        help="only run the low-res stability study on N synthetic masks (no model)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.synthetic_stability:
        rows = synthetic_stability_study(
            args.synthetic_stability, [(770, 769), (534, 800), (3000, 4000)]
        )
        for row in rows:
            print(json.dumps(row))
        if args.out is not None:
            args.out.write_text(json.dumps({"synthetic_stability": rows}, indent=1) + "\n")
        return 0
    if args.bundle is None:
        ap.error("--bundle is required")
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.max_images:
        images = images[: args.max_images]
    if not images:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    predictor = Predictor.from_bundle(args.bundle, args.target, args.precision, args.threads)
    rows = []
    for path in images:
        row = bench_image(
            predictor, path, args.points_per_side, args.compare_stability, args.stability_sample
        )
        rows.append(row)
        g, h, a = row["grid"], row["hierarchical"], row["agreement"]
        print(
            f"{path.name:20s} grid {g['prompts']:5d} prompts {g['seconds']:7.2f} s {g['masks']:4d} "
            f"masks | hier {h['prompts']:5d} prompts {h['seconds']:7.2f} s {h['masks']:4d} masks | "
            f"prompts x{row['prompt_ratio']:.2f} time x{row['time_ratio']:.2f} | "
            f"agreement {a['mean_best_iou']} share>0.5 {a['share_above_0_5']}"
        )
        if "note" in row:
            print(f"  note: {row['note']}")
    meaningful = [r for r in rows if r["high_confidence_coarse_masks"] > 0]
    summary = {
        "images": len(rows),
        "images_with_high_confidence_masks": len(meaningful),
        "prompt_ratio_mean": float(np.mean([r["prompt_ratio"] for r in meaningful]))
        if meaningful
        else None,
        "time_ratio_mean": float(np.mean([r["time_ratio"] for r in meaningful]))
        if meaningful
        else None,
    }
    if not meaningful:
        summary["note"] = (
            "no image produced a high-confidence coarse mask: this model gives no speed-up "
            "measurement (it needs a model with confident masks)"
        )
    print(json.dumps(summary))
    if args.out is not None:
        doc = {
            "benchmark": "everything",
            "bundle": str(args.bundle),
            "target": args.target,
            "precision": args.precision,
            "points_per_side": args.points_per_side,
            "host": {"machine": platform.machine(), "python": platform.python_version()},
            "summary": summary,
            "images": rows,
        }
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
