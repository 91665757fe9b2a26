"""Every runnable (target, precision) of a bundle against the official implementation's outputs.

For the reference checkpoint's bundle (``tinysam-export --target all --checkpoint
../shared/reference/reference_vit_t.pth --out bundle-ref``), runs each ONNX / TFLite pair through
``tinysam_mobile.Predictor`` on the images and prompts of ``../shared/reference/*.npz`` and
prints the embedding cosine and the IoU of the selected mask (the official top-IoU multimask
output) against the official masks. CoreML pairs run only on macOS and are skipped elsewhere.

Usage::

    python benchmarks/eval_reference.py --bundle bundle-ref [--reference ../shared/reference]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tinysam_mobile.manifest import load_manifest
from tinysam_mobile.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
CASES = ("point", "points_neg", "box", "box_point")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    names = sorted(p.name.removesuffix(".npz") for p in args.reference.glob("*.npz"))
    if not names:
        print(f"no official outputs (*.npz) in {args.reference}", file=sys.stderr)
        return 2
    pairs = sorted({(a.target, a.precision) for a in load_manifest(args.bundle).artifacts})
    for target, precision in pairs:
        if target == "coreml" and sys.platform != "darwin":
            print(f"{target}/{precision}: skipped (CoreML runs only on macOS)")
            continue
        predictor = Predictor.from_bundle(args.bundle, target, precision, threads=args.threads)
        ious, cosines = [], []
        for name in names:
            ref = np.load(args.reference / f"{name}.npz")
            prompts = json.loads((args.reference / f"{name}.prompts.json").read_text())
            predictor.set_image(args.images / f"{name}.jpg")
            emb, want_emb = predictor.get_image_embedding().ravel(), ref["embeddings"].ravel()
            cosines.append(float(emb @ want_emb / np.linalg.norm(emb) / np.linalg.norm(want_emb)))
            for case in CASES:
                prompt = {k: prompts[case][k] for k in ("point_coords", "point_labels", "box")}
                masks, _, _ = predictor.predict(**prompt, multimask_output=True)
                best = int(np.argmax(ref[f"{case}__iou"]))
                got, want = masks[best], ref[f"{case}__masks"][best]
                ious.append(
                    np.logical_and(got, want).sum() / max(np.logical_or(got, want).sum(), 1)
                )
        print(
            f"{target}/{precision}: embedding cosine min {min(cosines):.6f}; selected-mask IoU vs "
            f"official over {len(ious)} cases: min {min(ious):.4f} mean {np.mean(ious):.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
