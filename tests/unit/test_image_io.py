"""load_image: accepted inputs, conversions and every bad-input case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.errors import ImageError
from tinysam_mobile.image_io import load_image


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)


def test_rgb_file_roundtrip(tmp_path: Path, rgb: np.ndarray) -> None:
    p = tmp_path / "a.png"
    Image.fromarray(rgb).save(p)
    for src in (p, str(p), Image.open(p), rgb):
        out = load_image(src)
        assert out.dtype == np.uint8
        assert out.shape == (7, 11, 3)
        np.testing.assert_array_equal(out, rgb)


def test_grayscale_to_rgb(tmp_path: Path) -> None:
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    p = tmp_path / "g.png"
    Image.fromarray(g).save(p)
    for src in (p, g, g[:, :, None]):
        out = load_image(src)
        assert out.shape == (3, 4, 3)
        for c in range(3):
            np.testing.assert_array_equal(out[:, :, c], g)


def test_rgba_and_la_drop_alpha(tmp_path: Path, rgb: np.ndarray) -> None:
    alpha = np.zeros(rgb.shape[:2], np.uint8)  # fully transparent: colours must survive
    rgba = np.dstack([rgb, alpha])
    p = tmp_path / "a.png"
    Image.fromarray(rgba).save(p)
    np.testing.assert_array_equal(load_image(p), rgb)
    np.testing.assert_array_equal(load_image(rgba), rgb)
    la = Image.fromarray(rgb[:, :, 0]).convert("LA")
    out = load_image(la)
    np.testing.assert_array_equal(out[:, :, 2], rgb[:, :, 0])


def test_palette_to_rgb(rgb: np.ndarray) -> None:
    pal = Image.fromarray(rgb).quantize(colors=8)
    out = load_image(pal)
    np.testing.assert_array_equal(out, np.asarray(pal.convert("RGB")))


def test_16bit_scaled_to_8bit(tmp_path: Path) -> None:
    a = np.array([[0, 255, 256, 65535], [4096, 32768, 511, 1000]], dtype=np.uint16)
    p = tmp_path / "d.png"
    Image.fromarray(a).save(p)
    want = (a // 256).astype(np.uint8)
    for src in (p, a):
        out = load_image(src)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out[:, :, 1], want)
    rgb16 = np.stack([a, a // 2, a // 4], axis=-1)
    np.testing.assert_array_equal(load_image(rgb16)[:, :, 2], (a // 4) >> 8)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = Image.fromarray(np.zeros((2, 5, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    p = tmp_path / "r.jpg"
    img.save(p, exif=exif)
    assert load_image(p).shape == (5, 2, 3)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "e.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)


def test_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "t.png"
    p.write_text("hello, not a picture")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(p)


def test_truncated_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    p = tmp_path / "full.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p)
    data = p.read_bytes()
    q = tmp_path / "cut.png"
    q.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(q)


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0), (0, 0, 3)])
def test_zero_size_array(shape: tuple[int, ...]) -> None:
    with pytest.raises(ImageError, match="zero size"):
        load_image(np.zeros(shape, np.uint8))


def test_zero_size_pil() -> None:
    with pytest.raises(ImageError, match="zero size"):
        load_image(Image.new("RGB", (0, 4)))


def test_float_array_refused() -> None:
    with pytest.raises(ImageError, match="float"):
        load_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageError, match="floating-point"):
        load_image(Image.fromarray(np.zeros((4, 4), np.float32)))


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.zeros((4, 4, 2), np.uint8), "channels"),
        (np.zeros((4,), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.int32), "dtype"),
        (np.zeros((4, 4, 3), bool), "dtype"),
    ],
)
def test_bad_arrays(arr: np.ndarray, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        load_image(arr)


def test_bad_type() -> None:
    with pytest.raises(ImageError, match="unsupported image type"):
        load_image(42)  # type: ignore[arg-type]
