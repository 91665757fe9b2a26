"""Encoder and decoder latency: PyTorch eager vs ONNX Runtime (fp32), side by side, one run.

Both backends run the same graphs (``tinysam_export.graphs``) on the same inputs with the same
thread count: PyTorch through ``tinysam_export.reference.TorchSession``, ONNX through the
runtime's ``OrtSession``. Reported per row: median and p90 of ``--runs`` timed runs after
``--warmup`` untimed ones; the decoder is timed for one prompt and for a batch of ``--batch``
single-point prompts (also per prompt); ratios are PyTorch / ONNX (above 1: ONNX is faster).

Without ``--bundle`` the checkpoint is exported first (``run_export`` without verification,
into a temporary folder); with ``--bundle`` its manifest must name the same checkpoint sha256.

Usage::

    python benchmarks/bench_runtime.py [--checkpoint PATH] [--bundle DIR] [--threads 2]
        [--runs 10] [--warmup 2] [--batch 64] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinysam_export.checkpoint import load_model
from tinysam_export.config import ExportConfig
from tinysam_export.graphs import build_graphs
from tinysam_export.pipeline import run_export
from tinysam_export.reference import TorchSession
from tinysam_mobile.manifest import load_manifest, sha256_file
from tinysam_mobile.session import GraphSession, OrtSession
from tinysam_mobile.spec import GraphName
from tinysam_mobile.transforms import preprocess, resized_hw

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_CHECKPOINT = SHARED / "reference" / "reference_vit_t.pth"
SCHEMA = "tinysam-bench-runtime/1"


def time_runs(fn: Callable[[], object], runs: int, warmup: int) -> dict[str, float]:
    """Median / p90 / min wall milliseconds of ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, round(0.9 * (len(times) - 1)))],
        "min_ms": times[0],
        "runs": runs,
    }


def _image(image_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A preprocessed encoder input: ``picture1.jpg`` when present, else a synthetic image."""
    path = SHARED / "images" / "picture1.jpg"
    if path.is_file():
        from tinysam_mobile.image_io import load_image

        rgb = load_image(path)
    else:
        rgb = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    return preprocess(rgb, image_size), resized_hw(hw, image_size)


def decoder_inputs(embeddings: np.ndarray, rhw: tuple[int, int], batch: int) -> dict[str, Any]:
    """``batch`` single-point prompts (point + padding point) spread over the resized image."""
    rng = np.random.default_rng(batch)
    pts = rng.uniform(0, 1, (batch, 1, 2)) * np.array([rhw[1], rhw[0]])
    coords = np.concatenate([pts, np.zeros((batch, 1, 2))], axis=1).astype(np.float32)
    labels = np.tile(np.array([[1.0, -1.0]], np.float32), (batch, 1))
    low = embeddings.shape[-1] * 4
    return {
        "image_embeddings": embeddings,
        "point_coords": coords,
        "point_labels": labels,
        "mask_input": np.zeros((batch, 1, low, low), np.float32),
        "has_mask_input": np.zeros((batch,), np.float32),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure everything; returns the JSON document."""
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint
    sam = load_model(checkpoint, "vit_t", args.image_size)
    graphs = build_graphs(sam)
    with tempfile.TemporaryDirectory(prefix="tinysam-bench-") as tmp:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(tmp) / "bundle"
            config = ExportConfig(
                out=bundle,
                checkpoint=checkpoint,
                image_size=args.image_size,
                verify=False,
                golden=False,
                threads=args.threads,
            )
            run_export(config)
        manifest = load_manifest(bundle)
        if (manifest.checkpoint or {}).get("sha256") != sha256_file(checkpoint):
            raise SystemExit(f"bundle {bundle} was not exported from {checkpoint}")
        sessions: dict[str, dict[GraphName, GraphSession]] = {
            "pytorch-eager": {},
            "onnxruntime": {},
        }
        for g in GraphName:
            spec = manifest.graphs[g]
            sessions["pytorch-eager"][g] = TorchSession(graphs[g], spec)
            path = bundle / manifest.artifact("onnx", "fp32", g).file
            sessions["onnxruntime"][g] = OrtSession(path, spec, threads=args.threads)

        image, rhw = _image(manifest.geometry.image_size)
        embeddings = sessions["onnxruntime"][GraphName.ENCODER].run({"image": image})
        emb = embeddings["image_embeddings"]
        rows: list[dict[str, Any]] = []
        for backend, by_graph in sessions.items():
            enc, dec = by_graph[GraphName.ENCODER], by_graph[GraphName.DECODER]
            stats = time_runs(lambda enc=enc: enc.run({"image": image}), args.runs, args.warmup)
            rows.append({"graph": "encoder", "backend": backend, "batch": 1, **stats})
            for batch in (1, args.batch):
                feeds = decoder_inputs(emb, rhw, batch)
                stats = time_runs(lambda dec=dec, f=feeds: dec.run(f), args.runs, args.warmup)
                per = stats["median_ms"] / batch
                rows.append(
                    {
                        "graph": "decoder",
                        "backend": backend,
                        "batch": batch,
                        **stats,
                        "per_prompt_ms": per,
                    }
                )

    def median(graph: str, backend: str, batch: int) -> float:
        return next(
            r["median_ms"]
            for r in rows
            if (r["graph"], r["backend"], r["batch"]) == (graph, backend, batch)
        )

    ratios = {
        f"{graph}_b{batch}_pytorch_over_onnx": median(graph, "pytorch-eager", batch)
        / median(graph, "onnxruntime", batch)
        for graph, batch in (("encoder", 1), ("decoder", 1), ("decoder", args.batch))
    }
    return {
        "schema": SCHEMA,
        "checkpoint": {"file": Path(checkpoint).name, "sha256": sha256_file(checkpoint)},
        "image_size": manifest.geometry.image_size,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "tools": manifest.tools,
        "results": rows,
        "ratios": ratios,
    }


def format_table(doc: dict[str, Any]) -> str:
    """Human-readable table of a result document."""
    lines = [
        f"tinysam runtime benchmark: image size {doc['image_size']}, {doc['threads']} thread(s), "
        f"median of {doc['runs']} runs after {doc['warmup']} warm-up",
        f"{'graph':<8} {'backend':<14} {'batch':>5} {'median ms':>10} {'p90 ms':>9} {'per prompt ms':>14}",
    ]
    for r in doc["results"]:
        per = f"{r['per_prompt_ms']:.2f}" if "per_prompt_ms" in r else "-"
        lines.append(
            f"{r['graph']:<8} {r['backend']:<14} {r['batch']:>5} {r['median_ms']:>10.1f} {r['p90_ms']:>9.1f} {per:>14}"
        )
    lines.append("ratios (PyTorch eager / ONNX Runtime; > 1 means ONNX is faster):")
    lines += [f"  {k}: {v:.2f}" for k, v in doc["ratios"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--bundle", type=Path, default=None, help="exported bundle of --checkpoint")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64, help="prompts in the batched decoder run")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.error(f"checkpoint {args.checkpoint} does not exist (pass --checkpoint)")
    if args.runs < 1 or args.warmup < 0 or args.threads < 1 or args.batch < 1:
        parser.error("--runs, --threads and --batch must be >= 1 and --warmup >= 0")
    doc = run(args)
    print(format_table(doc))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
