"""The ``tinysam`` command: ``segment`` (prompted masks) and ``everything`` (all masks).

Errors of the SDK (:class:`~tinysam_mobile.errors.TinySamError`) are printed as one line on
stderr with exit status 2, without a traceback. Output files are written atomically.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from .errors import TinySamError

PROG = "tinysam"


class CliError(TinySamError):
    """A command-line argument is invalid (reported like any SDK error, exit status 2)."""


def parse_point(text: str) -> tuple[float, float, int]:
    """Parse ``X,Y`` or ``X,Y,LABEL`` (label 1 foreground, default; 0 background)."""
    parts = text.split(",")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"point {text!r} must be X,Y or X,Y,LABEL")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"point {text!r}: X and Y must be numbers") from None
    label = 1
    if len(parts) == 3:
        if parts[2].strip() not in ("0", "1"):
            raise argparse.ArgumentTypeError(
                f"point {text!r}: LABEL must be 1 (foreground) or 0 (background)"
            )
        label = int(parts[2])
    return x, y, label


def parse_box(text: str) -> tuple[float, float, float, float]:
    """Parse ``X0,Y0,X1,Y1`` (image pixels)."""
    parts = text.split(",")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"box {text!r} must be X0,Y0,X1,Y1")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"box {text!r}: values must be numbers") from None
    return x0, y0, x1, y1


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def add_bundle_args(p: argparse.ArgumentParser) -> None:
    """Options shared by the subcommands that open a bundle."""
    p.add_argument("--bundle", required=True, type=Path, help="bundle folder (manifest.json)")
    p.add_argument("--target", default="onnx", help="graph target in the bundle (default onnx)")
    p.add_argument("--precision", default="fp32", help="fp32, fp16 or int8 (default fp32)")
    p.add_argument("--threads", type=_positive_int, default=None, help="intra-op threads")


def add_segment_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``segment`` subcommand."""
    p = subparsers.add_parser(
        "segment",
        help="segment an image from points and/or a box",
        description="Segment IMAGE from point/box prompts; write an overlay PNG and a mask PNG.",
    )
    p.add_argument("image", type=Path, help="input image")
    add_bundle_args(p)
    p.add_argument(
        "--point",
        action="append",
        type=parse_point,
        default=[],
        metavar="X,Y[,LABEL]",
        help="prompt point in image pixels; LABEL 1 foreground (default) or 0 background; repeat",
    )
    p.add_argument("--box", type=parse_box, default=None, metavar="X0,Y0,X1,Y1")
    p.add_argument(
        "--mask-index",
        default="best",
        choices=["best", "0", "1", "2"],
        help="which of the returned masks to write (default: best predicted IoU)",
    )
    p.add_argument(
        "--single-mask",
        action="store_true",
        help="use the single-mask output (token 0) instead of the three multimask outputs",
    )
    p.add_argument("--out", required=True, type=Path, help="overlay PNG to write")
    p.add_argument(
        "--mask-out", type=Path, default=None, help="mask PNG (default: OUT stem + .mask.png)"
    )
    return p


def _everything_cli() -> ModuleType | None:
    """The ``everything`` subcommand module, or ``None`` when it is not part of this install."""
    try:
        everything_cli = importlib.import_module("tinysam_mobile.everything.cli")
    except ModuleNotFoundError as e:
        if e.name in ("tinysam_mobile.everything", "tinysam_mobile.everything.cli"):
            return None
        raise
    return everything_cli


def build_parser() -> argparse.ArgumentParser:
    """The ``tinysam`` argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog=PROG, description="TinySAM / MobileSAM runtime")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_segment_parser(sub)
    ev = _everything_cli()
    if ev is not None:
        ev.add_parser(sub)
    return parser


def _check_out_path(path: Path, what: str) -> None:
    if path.suffix.lower() != ".png":
        raise CliError(f"{what} {path} must end in .png")
    if not path.parent.is_dir():
        raise CliError(f"folder of {what} {path} does not exist")


def run_segment(args: argparse.Namespace) -> int:
    """Run ``tinysam segment``; returns the exit status."""
    from .image_io import load_image
    from .overlay import draw_overlay, mask_to_image, save_png_atomic
    from .predictor import Predictor

    out: Path = args.out
    mask_out: Path = args.mask_out or out.with_name(out.stem + ".mask.png")
    _check_out_path(out, "--out")
    _check_out_path(mask_out, "--mask-out")
    if out.resolve() == mask_out.resolve():
        raise CliError("--out and --mask-out must be different files")
    if not args.point and args.box is None:
        raise CliError("give at least one --point X,Y[,LABEL] or a --box X0,Y0,X1,Y1")
    if args.single_mask and args.mask_index not in ("best", "0"):
        raise CliError(
            f"--single-mask returns one mask; --mask-index {args.mask_index} is out of range"
        )

    image = load_image(args.image)
    predictor = Predictor.from_bundle(args.bundle, args.target, args.precision, args.threads)
    predictor.set_image(image)
    coords = labels = None
    if args.point:
        coords = np.array([p[:2] for p in args.point], dtype=np.float64)
        labels = np.array([p[2] for p in args.point], dtype=np.int64)
    masks, iou, _ = predictor.predict(
        coords, labels, args.box, multimask_output=not args.single_mask
    )
    index = int(np.argmax(iou)) if args.mask_index == "best" else int(args.mask_index)
    mask = masks[index]
    overlay = draw_overlay(image, mask[None], coords, labels, args.box)
    save_png_atomic(overlay, out)
    save_png_atomic(mask_to_image(mask), mask_out)
    scores = " ".join(f"{v:.4f}" for v in iou)
    print(f"mask {index}: iou={iou[index]:.4f} area={int(mask.sum())} px (all iou: {scores})")
    print(f"wrote {out} and {mask_out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinysam``; returns the exit status (0 ok, 2 usage or input error)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, already printed)
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        if args.command == "segment":
            return run_segment(args)
        ev = _everything_cli()
        if args.command == "everything" and ev is not None:
            return int(ev.run(args))
        raise CliError(f"unknown command {args.command!r}")  # pragma: no cover - argparse guards
    except TinySamError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
