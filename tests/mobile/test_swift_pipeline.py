"""The iOS demo's Swift package (TinySAMKit), built and tested on Linux against fresh golden vectors.

Three golden folders are written by the Python golden writer, so the XCTest suite checks what the
Python runtime computes today:

- ``tiny_bundle/golden``: the ``tiny_bundle`` export (random-weight ``vit_t`` at image size 256,
  ONNX fp32): real graphs and decoder outputs; its everything-mode ``tuned`` and ``regions``
  runs keep final records whatever the model (``docs/GOLDEN.md``);
- ``demo_bundle/golden``: the embedded demo model exported the same way (image size 128);
- a folder from the synthetic encoder/decoder sessions of ``tests/mobile/conftest.py`` (discs
  around the prompts, spread IoU scores), whose everything-mode runs keep and drop masks at
  every step, even with SAM's thresholds.

``scripts/test_ios_pipeline.sh`` installs Swift 6 into a cached Debian trixie chroot
(``scripts/setup_swift.sh``, needs root), runs ``swift build`` and ``swift test`` there,
``swiftc -parse`` on the SwiftUI app, a text check of the Xcode project and ``copy_bundle.sh``
on two fake bundles; this test fails when
any of that fails, when fewer XCTests ran than the suite defines, or when an everything-mode run
that must keep records returns none. With ``pytest -s`` it prints the script's report: which
parts were compiled and tested, which only parsed or text-checked, which not checked at all
(CoreML code is compiled out on Linux).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.mobile.conftest import golden_dir

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_ios_pipeline.sh"
TESTS = ROOT / "ios_demo" / "Tests" / "TinySAMKitTests"


def _defined_tests() -> int:
    """XCTest methods the suite defines; fewer executed means tests were lost."""
    return sum(
        len(re.findall(r"^\s*func test\w+\(", p.read_text(), flags=re.MULTILINE))
        for p in TESTS.glob("*.swift")
    )


pytestmark = [pytest.mark.mobile, pytest.mark.export, pytest.mark.slow]


def _require_root() -> None:
    """The chroot needs root: fail under CI, skip with the reason elsewhere."""
    if os.geteuid() != 0:
        msg = "the Swift toolchain runs in a chroot (scripts/setup_swift.sh), which needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def _run(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
        cwd=ROOT,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _check(rc: int, out: str) -> str:
    """Assert a script run passed every XCTest and every everything replay; return its report."""
    report = out[out.rfind("=== iOS pipeline report") :] if "iOS pipeline report" in out else ""
    counts = re.findall(r"Executed (\d+) tests?, with (\d+) failures?", out)
    assert counts, f"no XCTest summary from {SCRIPT.name}:\n{out[-8000:]}"
    executed, failures = (int(v) for v in counts[-1])
    assert failures == 0, f"{failures} Swift tests failed:\n{out[-12000:]}"
    defined = _defined_tests()
    assert executed >= defined, f"{executed} of {defined} Swift tests ran:\n{report or out[-4000:]}"
    assert rc == 0, f"{SCRIPT.name} exited {rc}:\n{report or out[-8000:]}"
    assert "build: PASS" in report and "test: PASS" in report, report
    assert "parse: PASS" in report, f"the SwiftUI app does not parse:\n{out[-4000:]}"
    assert "local TinySAMKit package: PASS" in report, f"Xcode project check failed:\n{report}"
    assert "without one: PASS" in report, f"copy_bundle.sh check failed:\n{report}"
    return report


def _checked_runs(out: str) -> list[tuple[str, str, int, int, int]]:
    rows = re.findall(
        r"^EVERYTHING-CHECKED (\S+): run (\w+), coarse kept (\d+), dense kept (\d+), final (\d+)",
        out,
        flags=re.MULTILINE,
    )
    return [(n, run, int(c), int(d), int(f)) for n, run, c, d, f in rows]


def _check_runs(out: str, golden: Path) -> list[tuple[str, str, int, int, int]]:
    """Every everything run of the folder was replayed; the tuned ones returned records."""
    runs = _checked_runs(out)
    expected = len(json.loads((golden / "index.json").read_text())["everything"])
    assert len(runs) == expected, f"{len(runs)} everything replays ran, expected {expected}"
    tuned = [r for r in runs if r[1] != "official"]
    assert tuned and all(c > 0 and d > 0 and f > 0 for _, _, c, d, f in tuned), runs
    return runs


def _print(report: str, runs: list[tuple[str, str, int, int, int]]) -> None:
    print(report)  # shown with `pytest -s`: what was compiled, parsed, not checked
    for name, run, c, d, f in runs:
        print(f"everything replay {name} ({run}): coarse {c}, dense {d}, {f} final records matched")


def test_swift_pipeline_matches_golden_vectors(tiny_bundle: Path) -> None:
    """Every XCTest of TinySAMKitTests passes on the golden vectors of a fresh export, including
    the final records of its everything-mode runs."""
    _require_root()
    golden = golden_dir(tiny_bundle)
    rc, out = _run("--golden", str(golden), "--manifest", str(tiny_bundle / "manifest.json"))
    report = _check(rc, out)
    _print(report, _check_runs(out, golden))


def test_swift_pipeline_matches_demo_model_vectors(demo_bundle: Path) -> None:
    """The same on a fresh export of the embedded demo model (a trained model)."""
    _require_root()
    golden = golden_dir(demo_bundle)
    rc, out = _run("--golden", str(golden), "--manifest", str(demo_bundle / "manifest.json"))
    report = _check(rc, out)
    _print(report, _check_runs(out, golden))


def test_swift_everything_mode_on_synthetic_vectors(synthetic_golden: Path) -> None:
    """Every XCTest passes on the synthetic vectors, whose every everything run keeps masks."""
    _require_root()
    manifest = synthetic_golden.parent / "manifest.json"
    rc, out = _run("--golden", str(synthetic_golden), "--manifest", str(manifest))
    report = _check(rc, out)
    runs = _check_runs(out, synthetic_golden)
    assert all(f > 0 for *_, f in runs), runs
    _print(report, runs)


def test_missing_golden_folder_fails_clearly(tmp_path: Path) -> None:
    """Without golden vectors the script fails and says how to make them (never a silent pass)."""
    rc, out = _run("--golden", str(tmp_path / "nowhere"))
    assert rc == 2, out
    assert "no golden folder" in out and "tinysam_mobile.golden" in out, out
