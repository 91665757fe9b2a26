"""The runtime never imports torch (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "tinysam_mobile",
    "tinysam_mobile.image_io",
    "tinysam_mobile.transforms",
    "tinysam_mobile.prompts",
    "tinysam_mobile.postprocess",
    "tinysam_mobile.manifest",
    "tinysam_mobile.session",
    "tinysam_mobile.predictor",
    "tinysam_mobile.overlay",
    "tinysam_mobile.cli",
]


def test_runtime_imports_without_torch() -> None:
    code = (
        "import sys, importlib\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "import tinysam_mobile as t\n"
        "t.Predictor, t.load_manifest\n"
        "from tinysam_mobile.cli import build_parser\n"
        "build_parser()\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
