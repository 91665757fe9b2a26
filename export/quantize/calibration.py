"""Calibration data for the INT8 pass: images, encoder feeds, and realistic decoder prompts.

Images come from ``--calibration-dir`` or, when none is given, from a small built-in set the
project draws itself (:func:`builtin_images`): no download, deterministic, varied aspect ratios,
flat regions, edges, textures and noise, so activation ranges are not those of one photo.

The decoder is calibrated on what it sees in use: the real encoder's embeddings of each
calibration image and the prompt kinds of the runtime (single points, batches of grid points,
positive + negative points, boxes, box + point, and a refinement with the previous low-res
logits as ``mask_input``), encoded by the runtime's own ``encode_prompt``.

Feeds are produced one at a time (``CalibrationDataReader.get_next``), so memory is bounded by
one image's tensors, not by the number of images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader
from PIL import Image, ImageDraw, ImageFilter

from tinysam_export.errors import ExportError
from tinysam_mobile.image_io import load_image
from tinysam_mobile.prompts import encode_prompt, prepare_mask_input
from tinysam_mobile.spec import PIXEL_MEAN, ModelGeometry
from tinysam_mobile.transforms import preprocess

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""Files of a calibration folder that are read."""

DEFAULT_NUM_BUILTIN = 8
"""Images in the built-in set."""

MAX_CALIBRATION_IMAGES = 32
"""At most this many images of a folder are used (sorted by name), to bound calibration time."""


def builtin_images(n: int = DEFAULT_NUM_BUILTIN, seed: int = 20240) -> list[np.ndarray]:
    """``n`` synthetic RGB scenes, uint8 (H, W, 3), sizes 360..640 px, various aspect ratios.

    Each is a smooth two-colour gradient with random filled ellipses, rectangles and polygons,
    some blurred, a striped texture patch, and mild Gaussian noise.
    """
    rng = np.random.default_rng(seed)
    sizes = [(480, 640), (640, 480), (512, 512), (360, 640), (640, 400), (450, 600)]
    out = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0.0, 1.0, w)[None, :, None] * np.linspace(0.3, 1.0, h)[:, None, None]
        img = Image.fromarray((c0 * (1 - t) + c1 * t).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(4, 10))):
            color = tuple(int(v) for v in rng.integers(0, 256, 3))
            x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
            x1, y1 = x0 + rng.uniform(20, w * 0.5), y0 + rng.uniform(20, h * 0.5)
            kind = rng.integers(0, 3)
            if kind == 0:
                draw.ellipse((x0, y0, x1, y1), fill=color)
            elif kind == 1:
                draw.rectangle((x0, y0, x1, y1), fill=color)
            else:
                pts = [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(5)]
                draw.polygon(pts, fill=color)
        if i % 2:
            img = img.filter(ImageFilter.GaussianBlur(radius=1.5))
        arr = np.asarray(img).astype(np.float32)
        ty, tx = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        stripes = 60 * np.sin(np.arange(w // 3) * 0.8)[None, :, None]
        arr[ty : ty + h // 4, tx : tx + w // 3] += stripes
        arr += rng.normal(0, 4, arr.shape)
        out.append(arr.clip(0, 255).astype(np.uint8))
    return out


def load_calibration_images(
    directory: Path | None, max_images: int = MAX_CALIBRATION_IMAGES
) -> tuple[list[np.ndarray], str]:
    """Images of ``directory`` (sorted, at most ``max_images``) or the built-in set.

    Returns
    -------
    (images, source)
        uint8 (H, W, 3) RGB images and a description for the manifest
        (``"builtin:8"`` or ``"dir:<name>:<count>"``).

    Raises
    ------
    ExportError
        The folder does not exist or holds no readable image.
    """
    if directory is None:
        images = builtin_images()
        return images, f"builtin:{len(images)}"
    directory = Path(directory)
    if not directory.is_dir():
        raise ExportError(f"--calibration-dir {directory} is not a folder")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ExportError(
            f"--calibration-dir {directory} holds no image ({', '.join(IMAGE_SUFFIXES)})"
        )
    images = [load_image(p) for p in files[:max_images]]
    return images, f"dir:{directory.name}:{len(images)}"


class EncoderFeeds(CalibrationDataReader):
    """Encoder calibration feeds ``{"image": float32 (1, 3, S, S)}``, one image at a time."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        geometry: ModelGeometry,
        input_name: str,
        pixel_mean: Sequence[float] = PIXEL_MEAN,
    ) -> None:
        self._images = list(images)
        self._geometry = geometry
        self._name = input_name
        self._mean = pixel_mean
        self._it = self._feeds()

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        for img in self._images:
            yield {self._name: preprocess(img, self._geometry.image_size, self._mean)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Next feed, or ``None`` when done."""
        return next(self._it, None)

    def rewind(self) -> None:
        """Start again from the first image."""
        self._it = self._feeds()


def prompt_set(original_hw: tuple[int, int], rng: np.random.Generator) -> list[dict]:
    """Realistic prompts for one image (image frame), as keyword arguments of ``encode_prompt``.

    A batch of 16 single grid points is returned under ``"batch"`` (everything mode).
    """
    h, w = original_hw

    def pt() -> list[float]:
        return [float(rng.uniform(0.05, 0.95) * w), float(rng.uniform(0.05, 0.95) * h)]

    x0, y0 = rng.uniform(0.0, 0.5) * w, rng.uniform(0.0, 0.5) * h
    box = [x0, y0, x0 + rng.uniform(0.2, 0.5) * w, y0 + rng.uniform(0.2, 0.5) * h]
    return [
        {"point_coords": [pt()], "point_labels": [1]},
        {"point_coords": [pt(), pt(), pt()], "point_labels": [1, 1, 0]},
        {"box": box},
        {
            "point_coords": [[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]],
            "point_labels": [1],
            "box": box,
        },
        {"batch": [pt() for _ in range(16)]},
    ]


class DecoderFeeds(CalibrationDataReader):
    """Decoder calibration feeds built from real embeddings and realistic prompts.

    Parameters
    ----------
    embeddings
        float32 (1, 256, h, w) of each calibration image, from the float encoder.
    original_hws
        (H, W) of each image.
    geometry
        Model geometry.
    input_names
        Decoder input names in spec order (``image_embeddings``, ``point_coords``,
        ``point_labels``, ``mask_input``, ``has_mask_input``).
    refine
        Optional callable ``(feed) -> (low_res_masks (B, 4, h, w), iou (B, 4))`` (the float
        decoder); when given, a refinement feed follows the first prompt of each image, with the
        best multimask logits (highest predicted IoU) as ``mask_input``.
    """

    def __init__(
        self,
        embeddings: Sequence[np.ndarray],
        original_hws: Sequence[tuple[int, int]],
        geometry: ModelGeometry,
        input_names: Sequence[str],
        refine=None,
        seed: int = 7,
    ) -> None:
        self._emb = list(embeddings)
        self._hws = list(original_hws)
        self._geometry = geometry
        self._names = list(input_names)
        self._refine = refine
        self._seed = seed
        self._it = self._feeds()

    def _feed(self, emb, coords, labels, mask=None, has=None) -> dict[str, np.ndarray]:
        b = coords.shape[0]
        lh, lw = self._geometry.low_res_hw
        if mask is None:
            mask = np.zeros((b, 1, lh, lw), np.float32)
            has = np.zeros((b,), np.float32)
        values = [emb, coords, labels, mask, has]
        return dict(zip(self._names, values, strict=True))

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self._seed)
        s = self._geometry.image_size
        for emb, hw in zip(self._emb, self._hws, strict=True):
            for k, p in enumerate(prompt_set(hw, rng)):
                if "batch" in p:
                    enc = [encode_prompt(hw, s, [xy], [1]) for xy in p["batch"]]
                    coords = np.concatenate([c for c, _ in enc])
                    labels = np.concatenate([lab for _, lab in enc])
                else:
                    coords, labels = encode_prompt(hw, s, **p)
                feed = self._feed(emb, coords, labels)
                yield feed
                if k == 0 and self._refine is not None:
                    low, iou = self._refine(feed)
                    best = low[0, 1 + int(np.argmax(iou[0, 1:]))]
                    mask, has = prepare_mask_input(best, self._geometry.low_res_hw)
                    yield self._feed(emb, coords, labels, mask, has)

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Next feed, or ``None`` when done."""
        return next(self._it, None)

    def rewind(self) -> None:
        """Start again."""
        self._it = self._feeds()
