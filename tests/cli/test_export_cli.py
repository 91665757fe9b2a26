"""``tinysam-export`` through ``main(argv)``: a real export and the error paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.extras import need

torch = need("torch", "the exporter tests need the [export] extra")

from tinysam_export.cli import EXIT_ERROR, build_parser, config_from_args, main
from tinysam_export.config import SUPPORTED, ExportConfig, Precision, Target

pytestmark = pytest.mark.export


def _one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("tinysam-export: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_flags_map_onto_export_config(tmp_path: Path) -> None:
    argv = ["--out", str(tmp_path / "b"), "--checkpoint", "m.pth", "--image-size", "512"]
    argv += ["--target", "onnx", "--no-verify", "--force", "--threads", "3"]
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    assert config == ExportConfig(
        out=tmp_path / "b",
        checkpoint=Path("m.pth"),
        targets=(Target.ONNX,),
        image_size=512,
        verify=False,
        force=True,
        threads=3,
    )
    assert config.combinations == ((Target.ONNX, Precision.FP32),)  # ONNX's default precision
    defaults = config_from_args(build_parser().parse_args(["--out", "x"]))
    assert defaults == ExportConfig(out=Path("x"))
    assert defaults.verify and defaults.checkpoint is None


def test_target_all_flag(tmp_path: Path) -> None:
    argv = ["--out", str(tmp_path / "b"), "--target", "all", "--precision", "fp32"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.targets == tuple(SUPPORTED)
    assert config.combinations == tuple((t, Precision.FP32) for t in SUPPORTED)


def test_export_smoke_no_verify(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    argv = ["--target", "onnx", "--precision", "fp32", "--checkpoint", str(tiny_checkpoint)]
    argv += ["--out", str(out), "--image-size", "256", "--threads", "2", "--no-verify"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    for n, stage in enumerate(["load checkpoint", "build graphs", "convert"], 1):
        assert re.search(rf"\[{n}/\d+\] {stage} \.\.\. \d+\.\d s", captured.err), captured.err
    assert re.search(r"\[\d/\d+\] verify \.\.\. \d+\.\d s  SKIPPED", captured.err)
    assert "WARNING: --no-verify" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verification"]["executed"] is False
    assert {a["file"] for a in manifest["artifacts"]} == {
        "onnx/encoder.fp32.onnx",
        "onnx/decoder.fp32.onnx",
    }
    # A second run into the same folder is refused without --force.
    assert main([*argv, "--quiet"]) == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, "already exists", "--force")


def test_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    code = main(["--checkpoint", str(tmp_path / "nope.pth"), "--out", str(out), "--quiet"])
    assert code == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, "nope.pth", "does not exist")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.pth"
    bogus.write_text("these are not weights\n")
    out = tmp_path / "b"
    assert main(["--checkpoint", str(bogus), "--out", str(out), "--quiet"]) == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, "notes.pth")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pth"]


def test_checkpoint_of_another_architecture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SAM ViT-B-like state dict: image encoder keys the vit_t layout does not have."""
    other = tmp_path / "sam_vit_b.pth"
    torch.save(
        {
            "image_encoder.pos_embed": torch.zeros(1, 64, 64, 768),
            "image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16),
            "image_encoder.blocks.0.attn.qkv.weight": torch.zeros(2304, 768),
        },
        other,
    )
    out = tmp_path / "b"
    assert main(["--checkpoint", str(other), "--out", str(out), "--quiet"]) == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, "sam_vit_b.pth")
    assert not out.exists()


def _first_unsupported() -> tuple[str, str]:
    for target in Target:
        for precision in Precision:
            if precision not in SUPPORTED.get(target, ()):
                return target.value, precision.value
    raise AssertionError("SUPPORTED lists every combination")


_T, _P = _first_unsupported()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--target", _T, "--precision", _P], f"'{_T}'"),
        (["--image-size", "100"], "multiple of 16"),
        (["--threads", "0"], "--threads"),
        (["--model", "vit_h"], "unknown model 'vit_h'"),
    ],
)
def test_bad_options(
    extra: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--checkpoint", "x.pth", "--out", str(tmp_path / "b"), "--quiet", *extra]
    assert main(argv) == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, needle)


def test_no_embedded_model_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinysam_export import stages

    monkeypatch.setattr(stages, "EMBEDDED_CHECKPOINT", tmp_path / "absent.pth")
    assert main(["--out", str(tmp_path / "b"), "--quiet"]) == EXIT_ERROR
    _one_error_line(capsys.readouterr().err, "no embedded demo model", "--checkpoint")


def test_usage_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    assert main(["--help"]) == 0
