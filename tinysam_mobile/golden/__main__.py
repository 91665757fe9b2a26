"""``python -m tinysam_mobile.golden --bundle DIR [--out DIR/golden]``: write (or check) vectors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinysam_mobile.errors import TinySamError
from tinysam_mobile.predictor import Predictor

from .writer import verify_golden, write_golden


def main(argv: list[str] | None = None) -> int:
    """Write the golden vectors of a bundle's graphs, then verify them; return the exit code."""
    ap = argparse.ArgumentParser(prog="python -m tinysam_mobile.golden", description=__doc__)
    ap.add_argument("--bundle", type=Path, required=True, help="bundle folder (manifest.json)")
    ap.add_argument("--out", type=Path, help="output folder (default: BUNDLE/golden)")
    ap.add_argument("--target", default="onnx", help="graphs that produce the raw outputs")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--image", type=Path, action="append", default=[], help="extra image")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--check-only", action="store_true", help="only verify an existing folder")
    args = ap.parse_args(argv)
    out = args.out or args.bundle / "golden"
    try:
        if not args.check_only:
            predictor = Predictor.from_bundle(
                args.bundle, args.target, args.precision, args.threads
            )
            write_golden(
                predictor,
                out,
                images=args.image,
                graphs_used={"target": args.target, "precision": args.precision},
            )
        fails = verify_golden(out)
    except TinySamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f in fails:
        print(f"MISMATCH {f}", file=sys.stderr)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"golden vectors in {out}: {total / 1e6:.2f} MB, {len(fails)} mismatches")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
