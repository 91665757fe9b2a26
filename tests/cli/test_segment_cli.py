"""``tinysam segment``: argument parsing, error paths and end-to-end runs on ONNX bundles.

``synthetic_bundle`` is a hand-built ONNX bundle (image size 64) whose decoder draws discs of
known radii around the first prompt point, so the outputs are predictable; ``tiny_bundle``
(tests/conftest.py) is the real random-weight model exported by the exporter.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.extras import need
from tinysam_mobile.cli import build_parser, main, parse_box, parse_point
from tinysam_mobile.manifest import Artifact, Manifest, write_manifest
from tinysam_mobile.spec import GraphName, ModelGeometry

GEOM = ModelGeometry(64)  # 4x4 embedding, 16x16 low-res masks
IOU = (0.5, 0.6, 0.9, 0.7)  # per token; tokens 1..3 -> best multimask index is 1
RADII = (2.0, 3.0, 5.0, 8.0)  # low-res pixels per token
H, W = 40, 80  # resized to 32x64: 1 low-res pixel = 4 model px = 5 image px


def _build_synthetic_bundle(root: Path) -> Path:
    onnx = need("onnx", "building the synthetic bundle needs onnx")
    from onnx import TensorProto, helper, numpy_helper

    s, (eh, ew), (lh, lw) = GEOM.image_size, GEOM.embedding_hw, GEOM.low_res_hw
    f = TensorProto.FLOAT

    def save(graph: onnx.GraphProto, path: Path) -> None:
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))

    w = np.random.default_rng(0).standard_normal((256, 3, 16, 16)).astype(np.float32) * 1e-3
    enc = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["image_embeddings"], strides=[16, 16])],
        "encoder",
        [helper.make_tensor_value_info("image", f, [1, 3, s, s])],
        [helper.make_tensor_value_info("image_embeddings", f, [1, 256, eh, ew])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32) + 0.5
    consts = {
        "grid": np.stack([xx, yy], -1)[None, None],  # (1, 1, lh, lw, 2)
        "scale": np.float32(lh / s),
        "radii": np.asarray(RADII, np.float32).reshape(1, 4, 1, 1),
        "iou": np.asarray([IOU], np.float32),
        "hundred": np.float32(100.0),
        "zero": np.float32(0.0),
        "starts": np.array([0], np.int64),
        "ends": np.array([1], np.int64),
        "axis1": np.array([1], np.int64),
        "axis_last": np.array([-1], np.int64),
        "shape_pt": np.array([-1, 1, 1, 1, 2], np.int64),
        "shape_has": np.array([-1, 1, 1, 1], np.int64),
    }
    n = helper.make_node
    nodes = [
        n("Slice", ["point_coords", "starts", "ends", "axis1"], ["p0"]),
        n("Mul", ["p0", "scale"], ["p0s"]),
        n("Reshape", ["p0s", "shape_pt"], ["p0r"]),
        n("Sub", ["grid", "p0r"], ["diff"]),
        n("Mul", ["diff", "diff"], ["sq"]),
        n("ReduceSum", ["sq", "axis_last"], ["d2"], keepdims=0),
        n("Sqrt", ["d2"], ["dist"]),
        n("Sub", ["radii", "dist"], ["disc"]),
        n("Reshape", ["has_mask_input", "shape_has"], ["has4"]),
        n("Mul", ["mask_input", "has4"], ["m"]),
        n("Mul", ["m", "hundred"], ["m100"]),
        # keep every input in use: add 0 * (sum of embeddings + sum of labels)
        n("ReduceSum", ["image_embeddings"], ["esum"], keepdims=0),
        n("ReduceSum", ["point_labels"], ["lsum"], keepdims=0),
        n("Add", ["esum", "lsum"], ["sum0"]),
        n("Mul", ["sum0", "zero"], ["nil"]),
        n("Add", ["disc", "m100"], ["lm"]),
        n("Add", ["lm", "nil"], ["low_res_masks"]),
        n("ReduceSum", ["p0", "axis_last"], ["psum"], keepdims=0),  # (B, 1)
        n("Mul", ["psum", "zero"], ["pz"]),
        n("Add", ["iou", "pz"], ["iou_predictions"]),
    ]
    dec = helper.make_graph(
        nodes,
        "decoder",
        [
            helper.make_tensor_value_info("image_embeddings", f, [1, 256, eh, ew]),
            helper.make_tensor_value_info("point_coords", f, ["num_prompts", "num_points", 2]),
            helper.make_tensor_value_info("point_labels", f, ["num_prompts", "num_points"]),
            helper.make_tensor_value_info("mask_input", f, ["num_prompts", 1, lh, lw]),
            helper.make_tensor_value_info("has_mask_input", f, ["num_prompts"]),
        ],
        [
            helper.make_tensor_value_info("low_res_masks", f, ["num_prompts", 4, lh, lw]),
            helper.make_tensor_value_info("iou_predictions", f, ["num_prompts", 4]),
        ],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()],
    )
    (root / "onnx").mkdir(parents=True)
    save(enc, root / "onnx" / "encoder.fp32.onnx")
    save(dec, root / "onnx" / "decoder.fp32.onnx")
    arts = tuple(
        Artifact.from_file(root, f"onnx/{g}.fp32.onnx", g, "onnx", "fp32") for g in GraphName
    )
    write_manifest(root, Manifest(GEOM, arts))
    return root


@pytest.fixture(scope="module")
def synthetic_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_synthetic_bundle(tmp_path_factory.mktemp("synthetic_bundle"))


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = tmp_path / "img.png"
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(p)
    return p


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -- parsing -------------------------------------------------------------------------------


def test_parse_point_and_box() -> None:
    assert parse_point("10,20") == (10.0, 20.0, 1)
    assert parse_point("1.5,2,0") == (1.5, 2.0, 0)
    assert parse_box("1,2,3,4") == (1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["segment", "x.png", "--bundle", "b", "--point", "1", "--out", "o.png"],
        ["segment", "x.png", "--bundle", "b", "--point", "1,2,5", "--out", "o.png"],
        ["segment", "x.png", "--bundle", "b", "--point", "a,b", "--out", "o.png"],
        ["segment", "x.png", "--bundle", "b", "--box", "1,2,3", "--out", "o.png"],
        [
            "segment",
            "x.png",
            "--bundle",
            "b",
            "--point",
            "1,2",
            "--mask-index",
            "3",
            "--out",
            "o.png",
        ],
        ["segment", "x.png", "--bundle", "b", "--point", "1,2", "--threads", "0", "--out", "o.png"],
        ["segment", "x.png", "--point", "1,2", "--out", "o.png"],  # no --bundle
        ["segment", "x.png", "--bundle", "b", "--point", "1,2"],  # no --out
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "--help"]) == 0
    assert "--mask-index" in capsys.readouterr().out
    assert "segment" in build_parser().format_help()


# -- error paths (one line on stderr, exit 2, nothing written) ----------------------------------


def _assert_clean_error(rc: int, err: str, match: str, folder: Path) -> None:
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tinysam: error: ")
    assert match in lines[0]
    assert not list(folder.glob("out*")), "nothing may be written on error"


def test_missing_image(tmp_path: Path, synthetic_bundle: Path, capsys) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        tmp_path / "no.png",
        "--bundle",
        synthetic_bundle,
        "--point",
        "1,1",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "does not exist", tmp_path)


def test_corrupt_image(tmp_path: Path, synthetic_bundle: Path, capsys) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    rc, _, err = _run(
        capsys,
        "segment",
        bad,
        "--bundle",
        synthetic_bundle,
        "--point",
        "1,1",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "bad.jpg", tmp_path)


def test_point_outside_image(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "10,10",
        "--point",
        f"{W + 5},3,0",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "point 1 at (x=85, y=3) lies outside the 80x40 image", tmp_path)


def test_inverted_box(tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--box",
        "30,5,10,20",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "x1 < x0", tmp_path)


def test_no_prompt(tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys) -> None:
    rc, _, err = _run(
        capsys, "segment", image_path, "--bundle", synthetic_bundle, "--out", tmp_path / "out.png"
    )
    _assert_clean_error(rc, err, "--point", tmp_path)


def test_single_mask_index_out_of_range(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "5,5",
        "--single-mask",
        "--mask-index",
        "2",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "--single-mask", tmp_path)


def test_out_folder_missing(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "5,5",
        "--out",
        tmp_path / "nope" / "out.png",
    )
    _assert_clean_error(rc, err, "does not exist", tmp_path)
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "5,5",
        "--out",
        tmp_path / "out.jpg",
    )
    _assert_clean_error(rc, err, "must end in .png", tmp_path)


def test_missing_bundle(tmp_path: Path, image_path: Path, capsys) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        tmp_path / "nob",
        "--point",
        "5,5",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "bundle folder", tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "tamper", "delete"])
def test_damaged_bundle(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, damage: str, capsys
) -> None:
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(synthetic_bundle, bundle)
    f = bundle / "onnx" / "decoder.fp32.onnx"
    data = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(data[:-100])
    elif damage == "tamper":
        f.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        f.unlink()
    want = {"truncate": "is truncated", "tamper": "was modified", "delete": "is missing"}[damage]
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        bundle,
        "--point",
        "5,5",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, f"onnx/decoder.fp32.onnx {want}", tmp_path)


def test_unknown_precision(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "5,5",
        "--precision",
        "int8",
        "--out",
        tmp_path / "out.png",
    )
    _assert_clean_error(rc, err, "has: encoder/onnx/fp32", tmp_path)


# -- end to end ----------------------------------------------------------------------------


def _read_mask(p: Path) -> np.ndarray:
    im = Image.open(p)
    assert im.mode == "L"
    a = np.asarray(im)
    assert set(np.unique(a)) <= {0, 255}
    return a == 255


def test_segment_point_writes_overlay_and_best_mask(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    out = tmp_path / "out.png"
    rc, stdout, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--point",
        "50,20",
        "--threads",
        "1",
        "--out",
        out,
    )
    assert rc == 0, err
    assert "mask 1: iou=0.9000" in stdout  # tokens 1..3 have IoU 0.6, 0.9, 0.7
    overlay = Image.open(out)
    assert overlay.size == (W, H)
    assert overlay.mode == "RGB"
    mask = _read_mask(tmp_path / "out.mask.png")
    assert mask.shape == (H, W)
    # best = token 2, radius 5 low-res px = 25 image px around (50, 20)
    assert mask[20, 50] and mask[20, 30] and not mask[20, 20] and not mask[0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png", "out.mask.png", "out.png"]
    original = np.asarray(Image.open(image_path))
    changed = np.any(np.asarray(overlay) != original, axis=-1)
    assert changed[mask].mean() > 0.9  # tinted where the mask is
    assert not changed[~mask].any()  # the point marker lies inside the mask


def test_segment_mask_index_single_mask_and_mask_out(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    areas = {}
    for flags in (["--mask-index", "0"], ["--mask-index", "2"], ["--single-mask"]):
        mask_out = tmp_path / f"m{flags[-1]}.png"
        rc, _, err = _run(
            capsys,
            "segment",
            image_path,
            "--bundle",
            synthetic_bundle,
            "--point",
            "50,20",
            *flags,
            "--out",
            tmp_path / "out.png",
            "--mask-out",
            mask_out,
        )
        assert rc == 0, err
        areas[flags[-1]] = int(_read_mask(mask_out).sum())
    assert areas["--single-mask"] < areas["0"] < areas["2"]  # radii 2 < 3 < 8


def test_segment_box_prompt(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path, capsys
) -> None:
    rc, _, err = _run(
        capsys,
        "segment",
        image_path,
        "--bundle",
        synthetic_bundle,
        "--box",
        "10,5,70,35",
        "--point",
        "40,20,1",
        "--out",
        tmp_path / "o.png",
    )
    assert rc == 0, err
    assert _read_mask(tmp_path / "o.mask.png")[20, 40]


def test_console_script_subprocess(
    tmp_path: Path, image_path: Path, synthetic_bundle: Path
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "tinysam_mobile.cli",
        "segment",
        str(image_path),
        "--bundle",
        str(synthetic_bundle),
        "--point",
        f"{W * 2},1",
        "--out",
        str(tmp_path / "o.png"),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert r.stderr.startswith("tinysam: error: point 0")
    assert "Traceback" not in r.stderr


# -- the exported random-weight model (tiny_bundle) and the reference checkpoint -------------


@pytest.fixture
def scene_path(tmp_path: Path) -> Path:
    """A 240x320 picture: noisy background with a bright rectangle."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 80, (240, 320, 3), dtype=np.uint8)
    img[60:180, 100:260] = (230, 200, 40)
    p = tmp_path / "scene.png"
    Image.fromarray(img).save(p)
    return p


@pytest.mark.export
def test_segment_tiny_bundle_matches_api(
    tmp_path: Path, scene_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinysam_mobile.predictor import Predictor

    for flags, mask_index in (([], None), (["--single-mask"], 0), (["--mask-index", "2"], 2)):
        out = tmp_path / "out.png"
        rc, stdout, err = _run(
            capsys, "segment", scene_path, "--bundle", tiny_bundle, "--point", "180,120",
            "--point", "20,20,0", "--box", "90,50,270,190", *flags, "--out", out,
        )  # fmt: skip
        assert rc == 0, err
        assert Image.open(out).size == (320, 240)
        mask = _read_mask(tmp_path / "out.mask.png")
        # the API on the same bundle gives the same mask and IoU
        p = Predictor.from_bundle(tiny_bundle, threads=1)
        p.set_image(scene_path)
        masks, iou, _ = p.predict(
            [[180, 120], [20, 20]],
            [1, 0],
            [90, 50, 270, 190],
            multimask_output="--single-mask" not in flags,
        )
        idx = int(np.argmax(iou)) if mask_index is None else mask_index
        np.testing.assert_array_equal(mask, masks[idx])
        assert f"mask {idx}: iou={iou[idx]:.4f}" in stdout


@pytest.mark.export
def test_segment_tiny_bundle_tampered_copy(
    tmp_path: Path, scene_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    bundle = tmp_path / "copy"
    shutil.copytree(tiny_bundle, bundle)
    enc = next((bundle / "onnx").glob("encoder*.onnx"))
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 0x55
    enc.write_bytes(bytes(data))
    rc, _, err = _run(
        capsys, "segment", scene_path, "--bundle", bundle, "--point", "5,5", "--out",
        tmp_path / "out.png",
    )  # fmt: skip
    _assert_clean_error(rc, err, "was modified", tmp_path)


@pytest.mark.export
@pytest.mark.checkpoint
@pytest.mark.slow
def test_segment_reference_bundle_matches_official(
    tmp_path: Path,
    reference_bundle: Path,
    reference_dir: Path,
    images_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command on the exported reference checkpoint reproduces the official masks."""
    import json

    ref = np.load(reference_dir / "dog.npz")
    prompts = json.loads((reference_dir / "dog.prompts.json").read_text())
    for case in ("point", "box_point"):
        pr = prompts[case]
        args: list[str] = []
        for (x, y), lab in zip(pr["point_coords"] or [], pr["point_labels"] or [], strict=True):
            args += ["--point", f"{x!r},{y!r},{int(lab)}"]
        if pr["box"]:
            args += ["--box", ",".join(repr(v) for v in pr["box"])]
        out = tmp_path / f"{case}.png"
        rc, stdout, err = _run(
            capsys, "segment", images_dir / "dog.jpg", "--bundle", reference_bundle, *args,
            "--threads", "2", "--out", out,
        )  # fmt: skip
        assert rc == 0, err
        best = int(np.argmax(ref[f"{case}__iou"]))
        found = re.search(r"mask (\d): iou=([0-9.]+)", stdout)
        assert found, stdout
        assert int(found.group(1)) == best
        assert abs(float(found.group(2)) - float(ref[f"{case}__iou"][best])) < 1e-3
        mask = _read_mask(tmp_path / f"{case}.mask.png")
        agree = float((mask == ref[f"{case}__masks"][best]).mean())
        assert agree >= 0.999, f"{case}: {agree:.5f} of pixels agree with the official mask"
