"""Export configuration (targets, default precisions, ``--target all``), the up-front converter
check, and the golden-vector stage of a bundle without ONNX graphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.extras import need

need("torch", "the exporter tests need the [export] extra")

from tinysam_export import pipeline, stages, targets
from tinysam_export.cli import EXIT_ERROR, main
from tinysam_export.config import (
    ALL_TARGETS,
    SUPPORTED,
    UNSUPPORTED_REASONS,
    ExportConfig,
    Precision,
    Target,
    default_precisions,
)
from tinysam_export.errors import ExportError
from tinysam_mobile.errors import MissingDependencyError

pytestmark = pytest.mark.export

MOBILE = [t for t in SUPPORTED if t is not Target.ONNX]


def test_onnx_defaults_to_fp32_and_mobile_targets_to_int8(tmp_path: Path) -> None:
    config = ExportConfig(out=tmp_path / "b", targets=(Target.ONNX, *MOBILE))
    assert config.precisions == ()
    assert config.combinations[0] == (Target.ONNX, Precision.FP32)
    for target in MOBILE:
        want = Precision.INT8 if Precision.INT8 in SUPPORTED[target] else None
        got = [p for t, p in config.combinations if t is target]
        assert len(got) == 1 and (want is None or got == [want]), (target, got)


def test_mobile_default_falls_back_while_int8_is_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SUPPORTED, Target.TFLITE, frozenset({Precision.FP32}))
    assert default_precisions(Target.TFLITE) == (Precision.FP32,)
    monkeypatch.setitem(SUPPORTED, Target.TFLITE, frozenset({Precision.FP32, Precision.FP16}))
    assert default_precisions(Target.TFLITE) == (Precision.FP16,)


def test_target_all_is_every_target_at_its_defaults_plus_onnx_int8(tmp_path: Path) -> None:
    config = ExportConfig(out=tmp_path / "b", targets=(ALL_TARGETS,))
    assert config.targets == tuple(SUPPORTED)
    pairs = set(config.combinations)
    assert {(Target.ONNX, Precision.FP32), (Target.ONNX, Precision.INT8)} <= pairs
    for target in MOBILE:
        assert {p for t, p in pairs if t is target} == set(default_precisions(target))
    assert all(p in SUPPORTED[t] for t, p in pairs)
    assert len(config.combinations) == len(pairs)  # no repeats

    fp32 = ExportConfig(out=tmp_path / "b", targets=(ALL_TARGETS, "onnx"), precisions=("fp32",))
    assert fp32.combinations == tuple((t, Precision.FP32) for t in SUPPORTED)


def test_unsupported_pair_under_all_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, precision = next(iter(UNSUPPORTED_REASONS))
    with pytest.raises(
        ExportError, match=f"'{target.value}'.*{UNSUPPORTED_REASONS[(target, precision)][:20]}"
    ):
        ExportConfig(out=tmp_path / "b", targets=(target,), precisions=(precision,))
    monkeypatch.setitem(SUPPORTED, Target.TFLITE, frozenset({Precision.FP32}))
    with pytest.raises(ExportError, match="'int8' is not supported for target 'tflite'"):
        ExportConfig(out=tmp_path / "b", targets=(ALL_TARGETS,), precisions=("int8",))


def test_unknown_target_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"unknown target 'tpu' \(known: .*all\)"):
        ExportConfig(out=tmp_path / "b", targets=("tpu",))


def test_missing_converter_is_named_before_any_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    need = {
        **targets.TARGET_REQUIREMENTS,
        Target.TFLITE: (("tinysam_no_such_mod", "tflite-export"),),
    }
    monkeypatch.setattr(targets, "TARGET_REQUIREMENTS", need)

    def never(*args: object) -> None:
        raise AssertionError("a stage ran although a converter is missing")

    monkeypatch.setattr(pipeline, "stage_load", never)
    out = tmp_path / "b"
    with pytest.raises(MissingDependencyError, match=r"tflite needs tinysam_no_such_mod: pip"):
        pipeline.run_export(ExportConfig(out=out, targets=(ALL_TARGETS,)))
    assert main(["--target", "all", "--out", str(out), "--quiet"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'tinysam-mobile[tflite-export]'" in err[0], err
    assert list(tmp_path.iterdir()) == []
    targets.check_requirements([Target.ONNX])  # installed modules pass


@pytest.mark.slow
def test_golden_vectors_of_a_bundle_without_onnx_graphs(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A bundle with only mobile graphs (here a placeholder file) still gets golden vectors,
    recorded from float32 ONNX graphs converted for them and not shipped."""
    from tinysam_mobile.golden.writer import verify_golden

    config = ExportConfig(
        out=tmp_path / "out", checkpoint=tiny_checkpoint, image_size=256, threads=2
    )
    loaded = stages.stage_load(config)
    graphs = stages.stage_build_graphs(loaded)
    bundle = tmp_path / "bundle"
    (bundle / "tflite").mkdir(parents=True)
    (bundle / "tflite" / "encoder.int8.tflite").write_bytes(b"placeholder")
    (bundle / "tflite" / "decoder.int8.tflite").write_bytes(b"placeholder")
    files = {(Target.TFLITE, Precision.INT8, g): f"tflite/{g}.int8.tflite" for g in graphs.graphs}
    manifest = stages.stage_write_manifest(
        config,
        loaded,
        stages.ConvertResult(files, {}),
        stages.VerifyResult({"executed": False, "reason": "test"}, {}),
        bundle,
    )
    assert not stages.has_golden_source(manifest)
    summary = stages.stage_golden(config, loaded, graphs, bundle, manifest)
    assert "not shipped" in summary
    index = json.loads((bundle / "golden" / "index.json").read_text())
    assert index["graphs_used"] == {"target": "onnx", "precision": "fp32"}
    assert verify_golden(bundle / "golden") == []
    assert sorted(p.name for p in bundle.iterdir()) == ["golden", "manifest.json", "tflite"]
