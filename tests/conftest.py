"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.extras import need

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _need_shared(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{path} is missing; CI always has ../shared next to the checkout")
    pytest.skip(f"{path} is not here (outside CI this test needs ../shared next to the checkout)")
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` next to the checkout (fails under CI when missing)."""
    return _need_shared(SHARED)


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """``../shared/reference``: the official-layout checkpoint and official outputs."""
    return _need_shared(shared_dir / "reference")


@pytest.fixture(scope="session")
def images_dir(shared_dir: Path) -> Path:
    """``../shared/images``."""
    return _need_shared(shared_dir / "images")


# -- exporter fixtures (torch is imported lazily so numpy-only test runs never need it) --------

TINY_IMAGE_SIZE = 256
"""Encoder input side of the random-weight test model (16x16 embeddings, 64x64 low-res masks)."""


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random-weight ``vit_t`` saved in the official checkpoint layout (.pth)."""
    torch = need("torch", "the exporter tests need the [export] extra")
    from tinysam_export.checkpoint import save_state_dict
    from tinysam_export.modeling.build import build_sam

    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=TINY_IMAGE_SIZE)
    return save_state_dict(model, tmp_path_factory.mktemp("tiny_ckpt") / "tiny_vit_t.pth")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_checkpoint`` exported with ``run_export`` to ONNX fp32 (image size 256), verified
    on the built-in synthetic images; returns the bundle folder. Mark users ``export``."""
    from tinysam_export.config import ExportConfig
    from tinysam_export.pipeline import run_export

    out = tmp_path_factory.mktemp("tiny_bundle") / "bundle"
    config = ExportConfig(
        out=out,
        checkpoint=tiny_checkpoint,
        image_size=TINY_IMAGE_SIZE,
        threads=2,
        max_verify_images=0,
    )
    return run_export(config).out


@pytest.fixture(scope="session")
def reference_bundle(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-size reference checkpoint exported once per session at 1024 (ONNX fp32),
    verified on the synthetic images, without golden vectors. Mark users ``checkpoint`` and
    ``slow``."""
    need("torch", "the exporter tests need the [export] extra")
    from tinysam_export.config import ExportConfig
    from tinysam_export.pipeline import run_export

    out = tmp_path_factory.mktemp("reference_bundle") / "bundle"
    config = ExportConfig(
        out=out,
        checkpoint=reference_dir / "reference_vit_t.pth",
        image_size=1024,
        threads=2,
        max_verify_images=0,
        golden=False,
    )
    return run_export(config).out
