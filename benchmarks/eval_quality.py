"""Segmentation quality of a checkpoint or an exported bundle on images with instance masks.

Runs the runtime pipeline (``tinysam_mobile.Predictor``: resize, padding, prompt encoding,
mask selection, upscaling; ``tinysam_mobile.everything.MaskGenerator``) over either

- a PyTorch checkpoint, through ``tinysam_export.reference.TorchSession`` wrappers of the
  exporter's graphs (the same graphs the bundles are converted from), or
- an exported bundle (``Predictor.from_bundle(DIR, target, precision)``: ONNX / TFLite, FP32 /
  FP16 / INT8),

so a quantised bundle and its float checkpoint are measured by identical code.

Data: the project's held-out split (generated on the fly, ``--heldout N --seed S``) or a
folder written by ``tinysam-train make-data`` / a user's folder (``images/`` + ``masks/`` PNG
instance maps, or ``images/`` + a COCO JSON), see ``tinysam_export.train.data.read_folder``.

Metrics (mean IoU over all instances, image frame):

- ``point_best`` / ``point_top``: one positive click at the deepest point of the instance;
  best of the three multimask outputs (oracle) / the one with the top predicted IoU;
- ``box`` (single-mask token 0) and ``box_top`` (top predicted IoU of the multimask outputs):
  the instance's tight box;
- ``clicks_1``, ``clicks_3``, ``clicks_5``: after 1, 3, 5 *corrective* clicks following the
  first positive click; each goes to the deepest pixel of the larger error region (positive on
  a miss, negative on a false positive), with the previous low-res logits fed back as
  ``mask_input`` and the single-mask output (SAM's interactive protocol);
- ``ceiling_low_res``: not a model figure but the bound the decoder's output resolution puts on
  all of the above: each ground-truth mask is brought into the model frame (resize + pad),
  average-pooled to the low-res grid (``S/4``), and turned back into a mask by the runtime's own
  upscaling and threshold. No model whose low-res logits are upscaled this way can do much
  better on average;
- ``everything_grid_r50`` / ``_r75`` and ``everything_hierarchical_r50`` / ``_r75``: share of
  instances matched by some everything-mode mask at IoU >= 0.5 / 0.75.

Example::

    python benchmarks/eval_quality.py --checkpoint export/assets/demo_vit_t.pth \\
        --heldout 200 --out-json /tmp/eval.json --plot /tmp/eval.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_export.train.data import Sample, make_split, read_folder
from tinysam_export.train.prompts import center_corrective_click, deepest_point, mask_iou
from tinysam_mobile.postprocess import resize_bilinear, select_masks, threshold, upscale_logits
from tinysam_mobile.prompts import encode_prompt
from tinysam_mobile.transforms import resized_hw

CLICK_STEPS = (1, 3, 5)


def torch_predictor(checkpoint: str | Path, image_size: int, threads: int | None = None) -> Any:
    """A runtime ``Predictor`` over the PyTorch graphs of ``checkpoint`` (needs torch)."""
    import torch

    from tinysam_export.checkpoint import load_model
    from tinysam_export.graphs import DecoderGraph, EncoderGraph
    from tinysam_export.reference import TorchSession
    from tinysam_mobile.predictor import Predictor
    from tinysam_mobile.spec import ModelGeometry

    if threads:
        torch.set_num_threads(threads)
    sam = load_model(checkpoint, "vit_t", image_size)
    enc, dec = EncoderGraph(sam).eval(), DecoderGraph(sam).eval()
    return Predictor(
        TorchSession(enc, enc.spec), TorchSession(dec, dec.spec), ModelGeometry(image_size)
    )


def checkpoint_image_size(checkpoint: str | Path) -> int | None:
    """Image size recorded next to a checkpoint (``X.json`` or the run's ``config.json``)."""
    p = Path(checkpoint)
    for meta in (p.with_suffix(".json"), p.parent / "config.json"):
        if meta.is_file():
            size = json.loads(meta.read_text()).get("image_size")
            if size:
                return int(size)
    return None


def _decode_prompts(
    predictor: Any,
    prompts: list[dict],
    multimask: bool,
    mask_inputs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a list of prompts (same number of points each) in one batched call.

    Returns masks (B, C, H, W) bool, iou (B, C) and low-res logits (B, C, h, w).
    """
    hw = predictor.original_hw
    enc = [
        encode_prompt(hw, predictor.image_size, p.get("points"), p.get("labels"), p.get("box"))
        for p in prompts
    ]
    coords = np.concatenate([c for c, _ in enc])
    labels = np.concatenate([lab for _, lab in enc])
    low, iou = predictor.decode(coords, labels, mask_inputs)
    low, iou = select_masks(low, iou, multimask)
    logits = upscale_logits(low, resized_hw(hw, predictor.image_size), hw, predictor.image_size)
    return threshold(logits, predictor.mask_threshold), iou, low


def max_click_steps(predictor: Any) -> int:
    """How many corrective clicks the predictor's decoder can take (``max(CLICK_STEPS)`` at most).

    A decoder with a fixed set of point counts (TFLite: one signature per count, exposed as
    ``point_counts``) takes 1 + s clicks + 1 padding point after ``s`` corrective clicks.
    """
    counts = getattr(predictor.decoder, "point_counts", None)
    if not counts:
        return max(CLICK_STEPS)
    return max(0, min(max(CLICK_STEPS), max(counts) - 2))


def not_measured(predictor: Any) -> dict[str, str]:
    """Metrics this predictor cannot produce, with the reason (empty for ONNX / PyTorch)."""
    steps = max_click_steps(predictor)
    counts = getattr(predictor.decoder, "point_counts", None)
    return {
        f"clicks_{c}": f"the decoder takes at most {max(counts)} points (padding included)"
        for c in CLICK_STEPS
        if c > steps
    }


def low_res_ceiling(masks: np.ndarray, image_size: int) -> list[float]:
    """Per-instance IoU of ground truth passed through the decoder's low-res grid and back.

    ``masks`` (K, H, W) bool in the image frame. The masks are resized into the model frame and
    padded to ``S x S`` (as the image is), average-pooled by 4 (the low-res logits' grid), made
    into logits ``p - 0.5`` and upscaled + thresholded exactly as the runtime upscales logits.
    """
    hw = masks.shape[1:]
    rh, rw = resized_hw(hw, image_size)
    square = np.zeros((len(masks), image_size, image_size), np.float32)
    square[:, :rh, :rw] = resize_bilinear(masks.astype(np.float32), (rh, rw))
    q = image_size // 4
    pooled = square.reshape(len(masks), q, 4, q, 4).mean(axis=(2, 4))
    back = threshold(upscale_logits(pooled - 0.5, (rh, rw), hw, image_size))
    return [mask_iou(back[i], masks[i]) for i in range(len(masks))]


def eval_prompts(predictor: Any, sample: Sample) -> dict[str, list[float]]:
    """Per-instance IoUs of the interactive metrics for one image."""
    predictor.set_image(sample.image)
    gts = sample.masks
    k = len(gts)
    out: dict[str, list[float]] = {}
    centres = [deepest_point(m)[:2] for m in gts]
    point_prompts = [{"points": [c], "labels": [1]} for c in centres]
    masks, iou, low = _decode_prompts(predictor, point_prompts, multimask=True)
    per = np.array([[mask_iou(masks[i, j], gts[i]) for j in range(3)] for i in range(k)])
    top = iou.argmax(axis=1)
    out["point_best"] = per.max(axis=1).tolist()
    out["point_top"] = per[np.arange(k), top].tolist()

    boxes = []
    for m in gts:
        ys, xs = np.nonzero(m)
        boxes.append({"box": [xs.min(), ys.min(), xs.max(), ys.max()]})
    bmasks, _, _ = _decode_prompts(predictor, boxes, multimask=False)
    out["box"] = [mask_iou(bmasks[i, 0], gts[i]) for i in range(k)]
    bmulti, biou, _ = _decode_prompts(predictor, boxes, multimask=True)
    btop = biou.argmax(axis=1)
    out["box_top"] = [mask_iou(bmulti[i, btop[i]], gts[i]) for i in range(k)]

    # corrective clicks: start from the top-IoU answer to the first click
    pts = [[list(c)] for c in centres]
    labs = [[1] for _ in centres]
    pred = masks[np.arange(k), top]
    prev_low = low[np.arange(k), top][:, None]
    for step in range(1, max_click_steps(predictor) + 1):
        for i in range(k):
            click = center_corrective_click(pred[i], gts[i])
            if click is None:  # already exact: repeat the last click (changes nothing)
                pts[i].append(pts[i][-1])
                labs[i].append(labs[i][-1])
            else:
                pts[i].append([click.x, click.y])
                labs[i].append(click.label)
        prompts = [{"points": pts[i], "labels": labs[i]} for i in range(k)]
        cmasks, _, clow = _decode_prompts(predictor, prompts, False, prev_low)
        pred = cmasks[:, 0]
        prev_low = clow[:, :1]
        if step in CLICK_STEPS:
            out[f"clicks_{step}"] = [mask_iou(pred[i], gts[i]) for i in range(k)]
    out["ceiling_low_res"] = low_res_ceiling(gts, predictor.image_size)
    return out


def everything_recall(
    predictor: Any,
    sample: Sample,
    mode: str,
    points_per_side: int,
    thresholds: Iterable[float] = (0.5, 0.75),
) -> dict[str, list[float]]:
    """Per-instance 0/1 matches of everything-mode masks at each IoU threshold."""
    from tinysam_mobile.everything import MaskGenerator

    gen = MaskGenerator(predictor, mode=mode, points_per_side=points_per_side)
    records = gen.generate(sample.image)
    best = np.zeros(len(sample.masks))
    if records:
        pred = np.stack([r["segmentation"] for r in records])
        for i, gt in enumerate(sample.masks):
            inter = (pred & gt).reshape(len(pred), -1).sum(1)
            union = (pred | gt).reshape(len(pred), -1).sum(1)
            best[i] = (inter / np.maximum(union, 1)).max()
    return {
        f"everything_{mode}_r{int(t * 100)}": (best >= t).astype(float).tolist() for t in thresholds
    }


def evaluate(
    predictor: Any,
    samples: Iterable[Sample],
    everything: int | None,
    points_per_side: int,
    progress: Any = None,
) -> dict[str, Any]:
    """Run every metric over ``samples``; returns means, counts and timing.

    ``everything``: run everything mode on the first this many images (None: all, 0: none).
    """
    per: dict[str, list[float]] = {}
    n_images = 0
    start = time.monotonic()
    for sample in samples:
        parts = eval_prompts(predictor, sample)
        if everything is None or n_images < everything:
            for mode in ("grid", "hierarchical"):
                parts.update(everything_recall(predictor, sample, mode, points_per_side))
        for key, vals in parts.items():
            per.setdefault(key, []).extend(vals)
        n_images += 1
        if progress and n_images % 20 == 0:
            progress(f"{n_images} images, {time.monotonic() - start:.0f} s")
    if n_images == 0:
        raise ValueError("no images with instances to evaluate")
    return {
        "metrics": {k: float(np.mean(v)) for k, v in per.items()},
        "not_measured": not_measured(predictor),
        "n_images": n_images,
        "n_instances": len(per["point_top"]),
        "n_images_everything": n_images if everything is None else min(n_images, everything),
        "seconds": time.monotonic() - start,
    }


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Bar chart of the metrics plus the corrective-click curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result["metrics"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    keys = [k for k in m if not k.startswith("clicks_")]
    ax1.barh(keys, [m[k] for k in keys], color="tab:blue")
    ax1.set_xlim(0, 1)
    ax1.set_xlabel("mIoU / recall")
    for i, k in enumerate(keys):
        ax1.text(min(m[k] + 0.01, 0.9), i, f"{m[k]:.3f}", va="center")
    steps = [c for c in CLICK_STEPS if f"clicks_{c}" in m]
    xs = [0, *steps]
    ys = [m["point_top"]] + [m[f"clicks_{c}"] for c in steps]
    ax2.plot(xs, ys, "o-")
    ax2.set_xlabel("corrective clicks after the first positive click")
    ax2.set_ylabel("mIoU")
    ax2.set_ylim(0, 1)
    ax2.grid(alpha=0.3)
    fig.suptitle(result.get("source", ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="PyTorch checkpoint (official vit_t layout)")
    src.add_argument("--bundle", help="exported bundle folder")
    ap.add_argument(
        "--image-size",
        type=int,
        help="encoder input size of --checkpoint (default: from X.json / config.json next to it)",
    )
    ap.add_argument("--target", default="onnx")
    ap.add_argument("--precision", default="fp32")
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="folder with images/ + masks/ or a COCO JSON")
    data.add_argument("--heldout", type=int, metavar="N", help="N generated held-out images")
    ap.add_argument("--seed", type=int, default=0, help="offset inside the held-out split")
    ap.add_argument(
        "--data-image-size",
        type=int,
        default=None,
        help="size of generated images (default: the model's image size)",
    )
    ap.add_argument("--limit", type=int, help="evaluate at most this many images of --data")
    ap.add_argument(
        "--everything-limit",
        type=int,
        default=None,
        metavar="N",
        help="run everything mode on the first N images only (0: skip it)",
    )
    ap.add_argument("--points-per-side", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out-json")
    ap.add_argument("--plot")
    args = ap.parse_args(argv)

    if args.checkpoint:
        size = args.image_size or checkpoint_image_size(args.checkpoint)
        if size is None:
            ap.error("--image-size is needed: no X.json / config.json next to the checkpoint")
        predictor = torch_predictor(args.checkpoint, size, args.threads)
        source = f"checkpoint {args.checkpoint} (PyTorch, image size {size})"
    else:
        from tinysam_mobile.predictor import Predictor

        predictor = Predictor.from_bundle(args.bundle, args.target, args.precision, args.threads)
        source = f"bundle {args.bundle} ({args.target} {args.precision})"
    if args.data:
        samples: Iterable[Sample] = read_folder(args.data, args.limit)
        data_desc = f"folder {args.data}"
    else:
        size = args.data_image_size or predictor.image_size
        samples = make_split("heldout", args.heldout, args.seed, size)
        data_desc = f"heldout n={args.heldout} seed={args.seed} image_size={size}"
    result = evaluate(
        predictor,
        samples,
        args.everything_limit,
        args.points_per_side,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    result.update(source=source, data=data_desc, points_per_side=args.points_per_side)
    print(
        f"{source}\n{data_desc}: {result['n_images']} images, "
        f"{result['n_instances']} instances, {result['seconds']:.0f} s"
    )
    for key, val in result["metrics"].items():
        print(f"  {key:<28} {val:.4f}")
    for key, why in result["not_measured"].items():
        print(f"  {key:<28} not measured: {why}")
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
