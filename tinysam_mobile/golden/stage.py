"""The exporter's "golden vectors" stage: ``DIR/golden`` from the bundle's own graphs."""

from __future__ import annotations

from pathlib import Path

from tinysam_mobile.errors import BundleError
from tinysam_mobile.golden.writer import verify_golden, write_golden
from tinysam_mobile.manifest import Manifest
from tinysam_mobile.predictor import Predictor

PREFERENCE: tuple[tuple[str, str], ...] = (("onnx", "fp32"), ("onnx", "int8"))
"""Which graphs record the raw outputs, best first (float ONNX: the reference runtime)."""


def stage_golden(bundle: Path, manifest: Manifest) -> str:
    """Write ``bundle / "golden"`` and check it; return a one-line summary.

    Raises
    ------
    BundleError
        No ONNX artifact pair to run, or the written vectors do not verify.
    """
    pairs = {(a.target, a.precision) for a in manifest.artifacts}
    choice = next((p for p in PREFERENCE if p in pairs), None)
    if choice is None:
        raise BundleError(
            f"golden vectors need an ONNX encoder/decoder pair; bundle has {sorted(pairs)}"
        )
    predictor = Predictor.from_bundle(bundle, *choice)
    out = write_golden(
        predictor, bundle / "golden", graphs_used={"target": choice[0], "precision": choice[1]}
    )
    fails = verify_golden(out)
    if fails:
        raise BundleError(f"golden vectors do not verify: {fails[0]} (+{len(fails) - 1} more)")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return f"golden/ ({size / 1e6:.1f} MB, from {choice[0]}/{choice[1]})"
