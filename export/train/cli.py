"""``tinysam-train``: procedural data, promptable training, training curves.

Subcommands::

    tinysam-train demo --out-dir runs/demo [--pack PATH]   # the embedded model's recipe
    tinysam-train run --out-dir runs/demo [--steps N --image-size S --seed 0 ...]
    tinysam-train make-data --split heldout --n 200 --image-size 128 --out DIR
    tinysam-train plot --log runs/a/log.jsonl [runs/b/log.jsonl] --out docs/training_curve.png
    tinysam-train pack --checkpoint runs/demo/final.pth --run-dir runs/demo \
        --out export/assets/demo_vit_t.pth

``main(argv=None) -> int`` returns a process exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from .data import SPLIT_SEED_RANGES, write_split


def _add_run(sub: argparse._SubParsersAction) -> None:
    from .loop import TrainConfig

    p = sub.add_parser("run", help="train a model from scratch on procedural data")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=type(f.default), default=f.default, help=f"(default {f.default})")


def _cmd_run(args: argparse.Namespace) -> int:
    from .loop import TrainConfig, train

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    result = train(cfg, progress=lambda s: print(s, flush=True))
    print(
        json.dumps(
            {
                "final_checkpoint": str(result.final_checkpoint),
                "log": str(result.log_path),
                "seconds": round(result.seconds, 1),
                "last_eval": result.last_eval,
            }
        )
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .recipe import demo_phase_configs, phase_records, run_demo_recipe

    results = run_demo_recipe(args.out_dir, progress=lambda s: print(s, flush=True))
    last = results[-1]
    phases = phase_records(results, demo_phase_configs(args.out_dir))
    extra = Path(args.out_dir) / "recipe_record.json"
    total = round(sum(p["train_seconds"] for p in phases), 1)
    extra.write_text(json.dumps({"training": {"phases": phases, "total_seconds": total}}, indent=2))
    pack = argparse.Namespace(
        checkpoint=str(last.final_checkpoint),
        run_dir=str(last.log_path.parent),
        out=args.pack,
        meta_extra=str(extra),
    )
    rc = _cmd_pack(pack)
    plot = argparse.Namespace(
        log=[str(r.log_path) for r in results], out=str(Path(args.out_dir) / "training_curve.png")
    )
    return rc or _cmd_plot(plot)


def _cmd_make_data(args: argparse.Namespace) -> int:
    out = write_split(args.out, args.split, args.n, args.seed, args.image_size)
    print(f"wrote {args.n} {args.split} images to {out}")
    return 0


def read_log(path: str | Path) -> tuple[list[dict], list[dict]]:
    """Split a training ``log.jsonl`` into (loss entries, eval entries)."""
    losses, evals = [], []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        (evals if "eval" in entry else losses).append(entry)
    return losses, evals


def _cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses, evals, bounds = [], [], []
    for path in args.log:  # later logs continue earlier ones (a run started with --init-from)
        offset = losses[-1]["step"] if losses else 0
        more_losses, more_evals = read_log(path)
        if not more_losses:
            print(f"error: {path} has no loss entries", file=sys.stderr)
            return 2
        if offset:
            bounds.append(offset)
        losses += [{**e, "step": e["step"] + offset} for e in more_losses]
        evals += [{**e, "step": e["step"] + offset} for e in more_evals]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot([e["step"] for e in losses], [e["loss"] for e in losses], label="total")
    ax1.plot([e["step"] for e in losses], [e["dice"] for e in losses], label="dice (best token)")
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.set_title("training loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    if evals:
        for key in evals[0]["eval"]:
            ax2.plot([e["step"] for e in evals], [e["eval"][key] for e in evals], "o-", label=key)
    for ax in (ax1, ax2):
        for b in bounds:
            ax.axvline(b, color="gray", ls="--", lw=0.8)
    ax2.set_xlabel("step")
    ax2.set_ylabel("mIoU (held-out monitor images)")
    ax2.set_ylim(0, 1)
    ax2.set_title("held-out mIoU")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    import torch

    from tinysam_export.checkpoint import load_model, save_state_dict

    run_dir = Path(args.run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    model = load_model(args.checkpoint, cfg["model"], cfg["image_size"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_state_dict(model, out, dtype=torch.float16)
    losses, evals = read_log(run_dir / "log.jsonl")
    meta = {
        "model": cfg["model"],
        "image_size": cfg["image_size"],
        "seed": cfg["seed"],
        "train_config": cfg,
        "storage_dtype": "float16",
        "train_seconds": losses[-1]["elapsed_s"] if losses else None,
        "final_loss": losses[-1]["loss"] if losses else None,
        "monitor_eval": evals[-1]["eval"] if evals else None,
    }
    if args.meta_extra:
        meta.update(json.loads(Path(args.meta_extra).read_text()))
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tinysam-train``."""
    parser = argparse.ArgumentParser(prog="tinysam-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    p = sub.add_parser(
        "demo", help="train the embedded demo model: every phase of its recipe, then pack + plot"
    )
    p.add_argument("--out-dir", default="runs/demo", help="one sub-folder per phase")
    p.add_argument(
        "--pack", default="runs/demo/demo_vit_t.pth", help="where to write the fp16 checkpoint"
    )
    p = sub.add_parser("make-data", help="write a split as PNG images + PNG instance maps")
    p.add_argument("--split", choices=sorted(SPLIT_SEED_RANGES), default="heldout")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="offset inside the split's seed range")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--out", required=True)
    p = sub.add_parser("plot", help="plot loss and held-out mIoU from log.jsonl files")
    p.add_argument("--log", required=True, nargs="+", help="one or more logs, in order")
    p.add_argument("--out", required=True)
    p = sub.add_parser("pack", help="store a trained checkpoint as fp16 + a JSON description")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--run-dir", required=True, help="the run's folder (config.json, log.jsonl)")
    p.add_argument("--out", required=True)
    p.add_argument("--meta-extra", help="JSON file merged into the description")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tinysam-train``."""
    args = build_parser().parse_args(argv)
    handlers = {
        "run": _cmd_run,
        "demo": _cmd_demo,
        "make-data": _cmd_make_data,
        "plot": _cmd_plot,
        "pack": _cmd_pack,
    }
    try:
        return handlers[args.command](args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
