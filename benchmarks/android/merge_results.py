"""Merge host (``bench_runtime.py``) and phone (``run_on_device.sh``) benchmark JSON files.

Prints one Markdown table (platform, device, backend, precision, threads, stage, batch, median and
p90 ms) and, with ``--plot``, writes a bar chart of the median latency per stage.

Usage::

    python benchmarks/android/merge_results.py HOST.json PHONE.json [...] [--plot out.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HOST_SCHEMA = "tinysam-bench-runtime/1"
PHONE_SCHEMA = "tinysam-bench-phone/1"


def rows_of(doc: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """Flatten one result file into table rows.

    Raises
    ------
    ValueError
        If the file has neither schema.
    """
    schema = doc.get("schema")
    if schema == HOST_SCHEMA:
        machine = doc.get("machine", {})
        return [
            {
                "platform": "host",
                "device": f"{machine.get('processor', '?')} {machine.get('platform', '')}".strip(),
                "backend": r["backend"],
                "precision": "fp32",
                "threads": doc.get("threads"),
                "stage": r["graph"],
                "batch": r.get("batch", 1),
                "median_ms": r["median_ms"],
                "p90_ms": r.get("p90_ms"),
            }
            for r in doc["results"]
        ]
    if schema == PHONE_SCHEMA:
        dev = doc["device"]
        return [
            {
                "platform": f"{doc['platform']} {doc['os']['version']}",
                "device": f"{dev['manufacturer']} {dev['model']} ({dev['soc']})",
                "backend": f"{doc['backend']}-{doc['accelerator']}",
                "precision": doc["precision"],
                "threads": doc["threads"],
                "stage": r["stage"],
                "batch": r.get("batch", r.get("points_per_batch", 1)),
                "median_ms": r["median_ms"],
                "p90_ms": r.get("p90_ms"),
            }
            for r in doc["results"]
        ]
    raise ValueError(
        f"{source}: unknown schema {schema!r} (expected {HOST_SCHEMA} or {PHONE_SCHEMA})"
    )


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows, sorted by stage, then platform and backend."""
    cols = ["platform", "device", "backend", "precision", "threads", "stage", "batch"]
    head = "| " + " | ".join([*cols, "median ms", "p90 ms"]) + " |"
    sep = "|" + "---|" * (len(cols) + 2)
    body = []
    for r in sorted(rows, key=lambda r: (r["stage"], r["platform"], r["backend"], r["precision"])):
        p90 = "-" if r["p90_ms"] is None else f"{r['p90_ms']:.1f}"
        body.append(
            "| " + " | ".join([*(str(r[c]) for c in cols), f"{r['median_ms']:.1f}", p90]) + " |"
        )
    return "\n".join([head, sep, *body])


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    """Grouped bars: median ms per stage (groups) and configuration (bars), log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = sorted({(r["stage"], r["batch"]) for r in rows})
    configs = sorted({(r["platform"], r["backend"], r["precision"]) for r in rows})
    width = 0.8 / max(1, len(configs))
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(stages)), 4))
    for k, cfg in enumerate(configs):
        vals = [
            next(
                (
                    r["median_ms"]
                    for r in rows
                    if (r["stage"], r["batch"]) == s
                    and (r["platform"], r["backend"], r["precision"]) == cfg
                ),
                0.0,
            )
            for s in stages
        ]
        ax.bar([i + k * width for i in range(len(stages))], vals, width, label=" / ".join(cfg))
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(stages))], [f"{s} (b={b})" for s, b in stages]
    )
    ax.set_yscale("log")
    ax.set_ylabel("median latency (ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=150)


def main(argv: list[str] | None = None) -> int:
    """Merge the files given on the command line; return the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", type=Path, nargs="+", help="host and phone result JSON files")
    ap.add_argument("--plot", type=Path, help="write a bar chart (PNG) here")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for f in args.files:
        try:
            rows += rows_of(json.loads(f.read_text()), str(f))
        except (OSError, json.JSONDecodeError, KeyError, ValueError) as e:
            print(f"error: {f}: {e}", file=sys.stderr)
            return 2
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
