"""Size, latency and accuracy of every exported target x precision on this host, in one run.

For a bundle (exported first when ``--bundle`` is not given, with fp32 and int8), every
encoder/decoder pair of the manifest that this host can run is timed through the runtime's
sessions with the same inputs and thread count, next to PyTorch eager on the same graphs:

- size of encoder + decoder (MB) and the ratio to the fp32 ONNX pair;
- encoder latency (one image) and decoder latency (one prompt, and a batch of ``--batch``);
- the ratio PyTorch eager / backend (above 1: faster than eager);
- the accuracy figures the export recorded in the manifest (mask IoU / cosine / SQNR).

The ORT-format files (``onnx/ort/*.ort``, for ONNX Runtime Mobile) are timed too. Targets whose
runtime is not installed here (CoreML off macOS, TFLite without ``ai-edge-litert``) are listed
with the reason. Writes JSON (``--json``) and a bar chart (``--png``, needs matplotlib).

Usage::

    python benchmarks/bench_targets.py [--checkpoint PATH] [--bundle DIR] [--threads 2]
        [--runs 5] [--warmup 1] [--batch 16] [--json targets.json] [--png targets.png]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from bench_runtime import DEFAULT_CHECKPOINT, _image, decoder_inputs, time_runs

from tinysam_export.checkpoint import load_model
from tinysam_export.config import ExportConfig
from tinysam_export.graphs import build_graphs
from tinysam_export.pipeline import run_export
from tinysam_export.reference import TorchSession
from tinysam_mobile.errors import TinySamError
from tinysam_mobile.manifest import Manifest, load_manifest, sha256_file
from tinysam_mobile.session import GraphSession, OrtSession, open_session
from tinysam_mobile.spec import GraphName

SCHEMA = "tinysam-bench-targets/1"


def _sessions(
    bundle: Path, manifest: Manifest, threads: int
) -> tuple[dict[str, dict[GraphName, GraphSession]], dict[str, dict[str, Any]], dict[str, str]]:
    """Sessions per ``target/precision`` label, their sizes and accuracy, and skipped labels."""
    sessions: dict[str, dict[GraphName, GraphSession]] = {}
    info: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    pairs = sorted({(a.target, a.precision) for a in manifest.artifacts})
    for target, precision in pairs:
        label = f"{target}/{precision}"
        try:
            arts = {g: manifest.artifact(target, precision, g) for g in GraphName}
            sessions[label] = {g: open_session(bundle, arts[g], threads) for g in GraphName}
        except TinySamError as exc:
            skipped[label] = str(exc)
            continue
        info[label] = {
            "size_mb": sum(a.size_bytes for a in arts.values()) / 1e6,
            "files": [a.file for a in arts.values()],
            "accuracy": {g.value: arts[g].parity for g in GraphName},
            "quantization": {g.value: arts[g].quantization for g in GraphName},
        }
        ort_files = {
            g: bundle / "onnx" / "ort" / (Path(arts[g].file).stem + ".ort") for g in GraphName
        }
        if target == "onnx" and all(p.is_file() for p in ort_files.values()):
            ort_label = f"ort-mobile/{precision}"
            sessions[ort_label] = {
                g: OrtSession(ort_files[g], manifest.graphs[g], threads) for g in GraphName
            }
            info[ort_label] = {
                "size_mb": sum(p.stat().st_size for p in ort_files.values()) / 1e6,
                "files": [p.relative_to(bundle).as_posix() for p in ort_files.values()],
                "accuracy": info[label]["accuracy"],
            }
    return sessions, info, skipped


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure everything; returns the JSON document."""
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="tinysam-bench-") as tmp:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(tmp) / "bundle"
            run_export(
                ExportConfig(
                    out=bundle,
                    checkpoint=args.checkpoint,
                    image_size=args.image_size,
                    precisions=("fp32", "int8"),
                    golden=False,
                    threads=args.threads,
                    max_verify_images=0,
                )
            )
        manifest = load_manifest(bundle)
        if (manifest.checkpoint or {}).get("sha256") != sha256_file(args.checkpoint):
            raise SystemExit(f"bundle {bundle} was not exported from {args.checkpoint}")
        graphs = build_graphs(load_model(args.checkpoint, "vit_t", manifest.geometry.image_size))
        sessions, info, skipped = _sessions(bundle, manifest, args.threads)
        sessions = {
            "pytorch-eager/fp32": {
                g: TorchSession(graphs[g], manifest.graphs[g]) for g in GraphName
            },
            **sessions,
        }
        info["pytorch-eager/fp32"] = {"size_mb": None, "files": [], "accuracy": None}
        image, rhw = _image(manifest.geometry.image_size)
        ref_enc = sessions["pytorch-eager/fp32"][GraphName.ENCODER]
        emb = ref_enc.run({"image": image})["image_embeddings"]
        rows = []
        for label, by_graph in sessions.items():
            enc, dec = by_graph[GraphName.ENCODER], by_graph[GraphName.DECODER]
            row: dict[str, Any] = {"label": label, **info[label]}
            row["encoder"] = time_runs(
                lambda e=enc: e.run({"image": image}), args.runs, args.warmup
            )
            for batch in (1, args.batch):
                feeds = decoder_inputs(emb, rhw, batch)
                row[f"decoder_b{batch}"] = time_runs(
                    lambda d=dec, f=feeds: d.run(f), args.runs, args.warmup
                )
            rows.append(row)
            print(f"timed {label}", file=sys.stderr, flush=True)
    eager = rows[0]
    fp32_size = next((r["size_mb"] for r in rows if r["label"] == "onnx/fp32"), None)
    for r in rows:
        r["speedup_vs_eager"] = {
            k: eager[k]["median_ms"] / r[k]["median_ms"]
            for k in ("encoder", "decoder_b1", f"decoder_b{args.batch}")
        }
        if fp32_size and r["size_mb"]:
            r["size_vs_onnx_fp32"] = r["size_mb"] / fp32_size
    return {
        "schema": SCHEMA,
        "checkpoint": {"file": Path(args.checkpoint).name, "sha256": sha256_file(args.checkpoint)},
        "image_size": manifest.geometry.image_size,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "batch": args.batch,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "tools": manifest.tools,
        "results": rows,
        "skipped": skipped,
    }


def _iou(row: dict[str, Any]) -> str:
    acc = row.get("accuracy") or {}
    dec = acc.get("decoder") or {}
    masks = dec.get("masks") or {}
    if "mean_mask_iou" in masks:
        return f"mask IoU min {masks['mask_iou']:.3f} mean {masks['mean_mask_iou']:.3f}"
    rel = (dec.get("low_res_logits") or {}).get("relative_error")
    iou = f", mask IoU min {masks['mask_iou']:.4f}" if "mask_iou" in masks else ""
    return f"logit rel err {rel:.1e}{iou}" if rel is not None else "-"


def format_table(doc: dict[str, Any]) -> str:
    """Human-readable table of a result document."""
    b = doc["batch"]
    lines = [
        f"tinysam targets: image size {doc['image_size']}, {doc['threads']} thread(s), median of "
        f"{doc['runs']} runs",
        f"{'target':<20} {'MB':>6} {'enc ms':>8} {'x eager':>7} {'dec ms':>7} "
        f"{f'dec b{b} ms':>10} {'x eager':>7}  accuracy vs PyTorch / fp32",
    ]
    for r in doc["results"]:
        size = f"{r['size_mb']:.2f}" if r["size_mb"] else "-"
        s = r["speedup_vs_eager"]
        lines.append(
            f"{r['label']:<20} {size:>6} {r['encoder']['median_ms']:>8.1f} {s['encoder']:>7.2f} "
            f"{r['decoder_b1']['median_ms']:>7.1f} {r[f'decoder_b{b}']['median_ms']:>10.1f} "
            f"{s[f'decoder_b{b}']:>7.2f}  {_iou(r)}"
        )
    lines += [f"skipped {k}: {v}" for k, v in doc["skipped"].items()]
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: Path) -> None:
    """Bar chart: size and encoder / decoder latency per target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["results"]
    labels = [r["label"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("size (MB)", [r["size_mb"] or 0 for r in rows]),
        ("encoder median (ms)", [r["encoder"]["median_ms"] for r in rows]),
        (
            f"decoder batch {doc['batch']} (ms)",
            [r[f"decoder_b{doc['batch']}"]["median_ms"] for r in rows],
        ),
    )
    for ax, (title, values) in zip(axes, panels, strict=True):
        ax.bar(range(len(values)), values, color="tab:blue")
        ax.set_xticks(range(len(values)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_title(title)
    fig.suptitle(f"tinysam targets, image size {doc['image_size']}, {doc['threads']} thread(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    doc = run(args)
    print(format_table(doc))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    if args.png:
        plot(doc, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
