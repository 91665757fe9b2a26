"""Parity gate: exported graphs against the PyTorch model, through the runtime pipeline.

Both sides run in ``tinysam_mobile.Predictor`` (the same preprocessing, prompt encoding, mask
selection and upscaling), the reference with :class:`tinysam_export.reference.TorchSession`,
the candidate with the exported graphs, so a difference can only come from the conversion.

Cases per image: a single point, points with a negative, a box, box + point (each with
``multimask_output`` True and False), a refining call with ``mask_input``, and a batch of 16
single-point prompts through ``Predictor.decode``. Images: a few synthetic ones drawn here with
numpy (always available) plus, when present, images from ``../shared/images``.

The figures (worst case per graph and output) go into the manifest.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_export.errors import VerificationError
from tinysam_mobile.image_io import load_image
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.session import GraphSession
from tinysam_mobile.spec import ModelGeometry

SQNR_CAP_DB = 300.0
"""SQNR reported for identical arrays (JSON has no infinity)."""

SHARED_IMAGES_ENV = "TINYSAM_SHARED_IMAGES"
"""Environment variable naming a folder of extra verification images."""

_DEFAULT_SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


@dataclass(frozen=True)
class Thresholds:
    """Parity limits for one precision.

    Parameters
    ----------
    max_rel_error
        ``max |candidate - reference| / max |reference|`` allowed on the image embeddings and on
        the low-res mask logits.
    max_mask_mismatch
        Fraction of pixels allowed to differ between thresholded full-size masks.
    """

    max_rel_error: float
    max_mask_mismatch: float

    def to_json(self) -> dict[str, float]:
        """Manifest form."""
        return asdict(self)


FP32_THRESHOLDS = Thresholds(max_rel_error=1e-4, max_mask_mismatch=1e-3)
"""Limits for float32 artifacts: conversion may only reorder float arithmetic."""


# -- metrics ------------------------------------------------------------------------------


def _pair(candidate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if c.shape != r.shape:
        raise ValueError(f"shape mismatch: candidate {c.shape} vs reference {r.shape}")
    return c, r


def max_abs_error(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute elementwise difference."""
    c, r = _pair(candidate, reference)
    return float(np.max(np.abs(c - r))) if c.size else 0.0


def relative_error(candidate: np.ndarray, reference: np.ndarray) -> float:
    """:func:`max_abs_error` divided by the reference's largest absolute value."""
    scale = float(np.max(np.abs(np.asarray(reference, dtype=np.float64)), initial=0.0))
    err = max_abs_error(candidate, reference)
    return err / scale if scale > 0 else (0.0 if err == 0 else math.inf)


def cosine(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Cosine similarity of the flattened arrays (1.0 when both are zero)."""
    c, r = _pair(candidate, reference)
    nc, nr = float(np.linalg.norm(c)), float(np.linalg.norm(r))
    if nc == 0 or nr == 0:
        return 1.0 if nc == nr else 0.0
    return float(np.dot(c.ravel(), r.ravel()) / (nc * nr))


def sqnr_db(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-quantisation-noise ratio in dB, capped at :data:`SQNR_CAP_DB`."""
    c, r = _pair(candidate, reference)
    noise = float(np.sum((c - r) ** 2))
    signal = float(np.sum(r**2))
    if noise == 0:
        return SQNR_CAP_DB
    if signal == 0:
        return -SQNR_CAP_DB
    return float(min(10.0 * math.log10(signal / noise), SQNR_CAP_DB))


def mask_iou(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    c = np.asarray(candidate, dtype=bool)
    r = np.asarray(reference, dtype=bool)
    if c.shape != r.shape:
        raise ValueError(f"shape mismatch: candidate {c.shape} vs reference {r.shape}")
    union = int(np.count_nonzero(c | r))
    return 1.0 if union == 0 else int(np.count_nonzero(c & r)) / union


def mask_mismatch(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of pixels where two boolean masks differ."""
    c = np.asarray(candidate, dtype=bool)
    r = np.asarray(reference, dtype=bool)
    if c.shape != r.shape:
        raise ValueError(f"shape mismatch: candidate {c.shape} vs reference {r.shape}")
    return float(np.count_nonzero(c != r)) / max(c.size, 1)


def tensor_metrics(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """All float metrics of one output, as stored in the manifest."""
    return {
        "max_abs_error": max_abs_error(candidate, reference),
        "relative_error": relative_error(candidate, reference),
        "reference_abs_max": float(np.max(np.abs(reference), initial=0.0)),
        "cosine": cosine(candidate, reference),
        "sqnr_db": sqnr_db(candidate, reference),
    }


# -- cases --------------------------------------------------------------------------------


def synthetic_images() -> list[tuple[str, np.ndarray]]:
    """Deterministic test images (uint8 HxWx3 RGB) with distinct shapes, non-square sizes."""
    out = []
    for name, (h, w) in (("synthetic_landscape", (240, 360)), ("synthetic_portrait", (300, 200))):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([xx / w * 160 + 40, yy / h * 120 + 60, (xx + yy) / (h + w) * 90 + 30], -1)
        disk = (xx - 0.35 * w) ** 2 + (yy - 0.45 * h) ** 2 < (0.18 * min(h, w)) ** 2
        img[disk] = (220, 40, 40)
        rect = (xx > 0.55 * w) & (xx < 0.85 * w) & (yy > 0.2 * h) & (yy < 0.6 * h)
        img[rect] = (30, 50, 200)
        tri = (yy > 0.65 * h) & (yy < 0.95 * h) & (np.abs(xx - 0.6 * w) < (yy - 0.65 * h) * 0.8)
        img[tri] = (250, 230, 60)
        img[(xx.astype(int) // 12 + yy.astype(int) // 12) % 2 == 0] *= 0.92  # texture
        out.append((name, np.clip(img, 0, 255).astype(np.uint8)))
    return out


def shared_images(limit: int, folder: Path | None = None) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` images from ``folder`` (default ``$TINYSAM_SHARED_IMAGES`` or
    ``../shared/images``), sorted by name; empty when the folder is absent."""
    if limit <= 0:
        return []
    if folder is None:
        env = os.environ.get(SHARED_IMAGES_ENV)
        folder = Path(env) if env else _DEFAULT_SHARED_IMAGES
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return [(p.stem, load_image(p)) for p in files[:limit]]


def prompt_cases(image_hw: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """The four interactive prompt cases in image pixels, placed relative to the image size."""
    h, w = image_hw
    return {
        "point": {"point_coords": [[0.35 * w, 0.45 * h]], "point_labels": [1]},
        "points_neg": {
            "point_coords": [[0.3 * w, 0.6 * h], [0.7 * w, 0.4 * h], [0.5 * w, 0.5 * h]],
            "point_labels": [1, 1, 0],
        },
        "box": {"box": [0.1 * w, 0.2 * h, 0.6 * w, 0.85 * h]},
        "box_point": {
            "point_coords": [[0.4 * w, 0.5 * h]],
            "point_labels": [1],
            "box": [0.05 * w, 0.1 * h, 0.9 * w, 0.95 * h],
        },
    }


def batch_points_model(
    geometry: ModelGeometry, resized_hw: tuple[int, int], n: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` single-point prompts on a grid inside the resized image, padded like the runtime.

    Returns float32 (n, 2, 2) model-frame coords (point + (0, 0) pad) and (n, 2) labels.
    """
    side = math.ceil(math.sqrt(n))
    rh, rw = resized_hw
    ys, xs = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side)
    pts = np.stack([xs.ravel() * rw, ys.ravel() * rh], -1)[:n]
    coords = np.concatenate([pts[:, None, :], np.zeros((n, 1, 2))], axis=1).astype(np.float32)
    labels = np.tile(np.array([[1.0, -1.0]], np.float32), (n, 1))
    return coords, labels


# -- the gate -----------------------------------------------------------------------------


class _Memo:
    """A ``GraphSession`` that remembers its last few results by input content.

    ``predict(multimask_output=True)`` and ``predict(multimask_output=False)`` of the same
    prompt feed the decoder identical inputs; the wrapper runs it once (the eager PyTorch
    decoder at 1024 is the slowest part of verification).
    """

    def __init__(self, inner: GraphSession, size: int = 4) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.size = size
        self._cache: dict[bytes, dict[str, np.ndarray]] = {}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run ``inner`` unless these exact inputs were just run."""
        digest = hashlib.sha1()
        for name in sorted(inputs):
            a = np.ascontiguousarray(inputs[name])
            digest.update(f"{name}{a.dtype}{a.shape}".encode())
            digest.update(a.tobytes())
        key = digest.digest()
        if key not in self._cache:
            if len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = self.inner.run(inputs)
        return {k: v.copy() for k, v in self._cache[key].items()}


class _Worst:
    """Keeps the worst figures per (graph, output) and the case that produced them."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, dict[str, Any]]] = {}

    def add(self, graph: str, output: str, case: str, metrics: dict[str, float]) -> None:
        slot = self.figures.setdefault(graph, {}).setdefault(output, {})
        for key, value in metrics.items():
            higher_is_worse = key in {"max_abs_error", "relative_error", "mask_mismatch"}
            if key == "reference_abs_max":
                continue
            old = slot.get(key)
            if old is None or (value > old if higher_is_worse else value < old):
                slot[key] = value
                if key in {"relative_error", "mask_mismatch"}:
                    slot["worst_case"] = case


def _check(label: str, graph: str, case: str, what: str, value: float, limit: float) -> None:
    if not value <= limit:
        raise VerificationError(
            f"parity check failed for {label} {graph} graph, case {case!r}: {what} = {value:.3g} "
            f"exceeds the limit {limit:.3g}"
        )


def verify_graphs(
    reference: tuple[GraphSession, GraphSession],
    candidate: tuple[GraphSession, GraphSession],
    geometry: ModelGeometry,
    images: Sequence[tuple[str, np.ndarray]],
    thresholds: Thresholds = FP32_THRESHOLDS,
    label: str = "onnx/fp32",
) -> dict[str, Any]:
    """Run the reference and candidate graphs through ``Predictor`` and compare.

    Parameters
    ----------
    reference, candidate
        (encoder, decoder) sessions: PyTorch (``TorchSession``) and exported.
    geometry
        Model geometry shared by both.
    images
        (name, uint8 HxWx3 RGB) pairs.
    thresholds
        Limits; the first violation raises.
    label
        ``target/precision`` for messages.

    Returns
    -------
    dict
        ``{"encoder": {"image_embeddings": metrics}, "decoder": {"low_res_logits": ...,
        "iou_predictions": ..., "masks": ...}}`` with the worst figure over all cases, plus
        ``"cases"``: the case names run.

    Raises
    ------
    VerificationError
        Naming the target, graph, case and the figure beyond its limit.
    """
    if not images:
        raise VerificationError("verification needs at least one image")
    ref = Predictor(*(_Memo(s) for s in reference), geometry)
    cand = Predictor(*(_Memo(s) for s in candidate), geometry)
    worst = _Worst()
    cases: list[str] = []
    limit_rel, limit_mask = thresholds.max_rel_error, thresholds.max_mask_mismatch

    def compare_logits(case: str, c_low: np.ndarray, r_low: np.ndarray) -> None:
        m = tensor_metrics(c_low, r_low)
        worst.add("decoder", "low_res_logits", case, m)
        _check(
            label, "decoder", case, "low-res logits relative error", m["relative_error"], limit_rel
        )

    for image_name, image in images:
        ref.set_image(image)
        cand.set_image(image)
        case = f"{image_name}/embeddings"
        cases.append(case)
        m = tensor_metrics(cand.get_image_embedding(), ref.get_image_embedding())
        worst.add("encoder", "image_embeddings", case, m)
        _check(label, "encoder", case, "embedding relative error", m["relative_error"], limit_rel)

        for prompt_name, prompt in prompt_cases(ref.original_hw).items():
            for multimask in (True, False):
                case = f"{image_name}/{prompt_name}/{'multi' if multimask else 'single'}"
                cases.append(case)
                r_masks, r_iou, r_low = ref.predict(**prompt, multimask_output=multimask)
                c_masks, c_iou, c_low = cand.predict(**prompt, multimask_output=multimask)
                compare_logits(case, c_low, r_low)
                worst.add("decoder", "iou_predictions", case, tensor_metrics(c_iou, r_iou))
                mism = mask_mismatch(c_masks, r_masks)
                worst.add(
                    "decoder",
                    "masks",
                    case,
                    {"mask_iou": mask_iou(c_masks, r_masks), "mask_mismatch": mism},
                )
                _check(label, "decoder", case, "mask pixel mismatch", mism, limit_mask)
                if multimask:
                    # Refine: both sides get the same previous logits (the reference's best).
                    best = r_low[int(np.argmax(r_iou))]
                    case = f"{image_name}/{prompt_name}/refine"
                    cases.append(case)
                    _, _, r_ref = ref.predict(**prompt, mask_input=best)
                    _, _, c_ref = cand.predict(**prompt, mask_input=best)
                    compare_logits(case, c_ref, r_ref)

        case = f"{image_name}/batch16"
        cases.append(case)
        coords, labels = batch_points_model(geometry, ref.resized_hw)
        r_low, r_iou = ref.decode(coords, labels)
        c_low, c_iou = cand.decode(coords, labels)
        compare_logits(case, c_low, r_low)
        worst.add("decoder", "iou_predictions", case, tensor_metrics(c_iou, r_iou))

    return {**worst.figures, "cases": cases}
