"""One everything-mode pass: single-point prompts -> decoder batches -> filters -> kept masks.

The order of work is chosen so that only masks that survive are ever upscaled:

1. the decoder runs once per ``points_per_batch`` prompts (each prompt is one positive point
   plus SAM's padding point), returning tokens 0..3; tokens 1..3 are used (multimask);
2. predicted-IoU filter (no pixels involved);
3. stability filter, where the config says (``stability_frame``):

   - ``"low_res"`` (default): on the low-res logits cropped to the part of the square that
     holds the image (``ceil(h * rh / S)`` rows, ``ceil(w * rw / S)`` columns); rejected masks
     are never upscaled. This is a shortcut: SAM scores the logits upscaled to the image.
   - ``"image"``: SAM's order, on the logits upscaled to the original image, for every mask
     that passed the IoU filter.
   - ``"prefilter"``: the low-res score rejects masks below ``thresh - margin`` without
     upscaling them; the others are upscaled anyway and get SAM's image-frame score and
     decision (same results as ``"image"`` unless a low-res score is more than ``margin``
     below its image-frame score, which was never observed).

4. the survivors are upscaled to the original image in chunks bounded to ~128 MiB of float32,
   thresholded to bool, boxed, checked against the crop edge (the crop is the whole image, so
   SAM's rule keeps everything) and stored as run-length encodings; float logits of a chunk are
   dropped before the next one, so memory stays bounded on 12-megapixel images.

Measured effect of the low-res stability shortcut (``python benchmarks/bench_everything.py
--synthetic-stability 300``: SAM-like synthetic logits, sharp and soft edges, images 770x769,
534x800 and 4000x3000): the score is a ratio of two pixel counts and bilinear upscaling keeps
that ratio up to boundary pixels, so the two scores differ by 0.0014-0.0018 on average (99th
percentile 0.010-0.016, max 0.025); about 1-2 % of the masks (3-5 of 300) land on the other side
of the 0.95 threshold, in both directions, so the kept sets differ by about as much; after box
NMS most of those are duplicates of kept masks. ``"prefilter"`` removes the difference for the
cost of upscaling the masks whose low-res score lies in [thresh - margin, thresh) (about 1 in 8
of the IoU survivors on that data). ``--compare-stability`` measures the same on a real model.

Flat mask index: the masks of a pass are numbered ``prompt_index * 3 + (token - 1)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tinysam_mobile.masks import (
    is_box_near_crop_edge,
    mask_to_box,
    rle_counts,
    rle_to_mask,
    stability_score,
)
from tinysam_mobile.postprocess import select_masks, upscale_logits
from tinysam_mobile.spec import MASK_THRESHOLD, PAD_LABEL
from tinysam_mobile.transforms import coords_image_to_model

from .config import EverythingConfig

Trace = Callable[[str, dict[str, Any]], None]
"""Optional observer ``trace(event, data)``; see :func:`run_pass` for the events."""

TOKENS_PER_PROMPT = 3
"""Multimask output: decoder tokens 1..3 per prompt."""

_CHUNK_FLOATS = 1 << 25  # floats of upscaled logits held at once (128 MiB of float32)


class DecoderPredictor(Protocol):
    """What everything mode needs from :class:`tinysam_mobile.predictor.Predictor`."""

    @property
    def original_hw(self) -> tuple[int, int]: ...

    @property
    def resized_hw(self) -> tuple[int, int]: ...

    @property
    def image_size(self) -> int: ...

    def decode(
        self, point_coords: np.ndarray, point_labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class PassStats:
    """Counters of one pass: prompts sent, decoder calls, masks after each filter, seconds."""

    name: str
    prompts: int
    decoder_calls: int
    masks: int
    after_iou: int
    after_stability: int
    after_edge: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class PassResult:
    """Masks kept by one pass, all in the image frame.

    Attributes
    ----------
    name
        ``"grid"``, ``"coarse"`` or ``"dense"``.
    points_xy_image
        float64 ``(P, 2)`` the prompts of the pass.
    kept_after_iou, kept_after_stability, kept
        int64 flat mask indices (``prompt * 3 + token - 1``) surviving the IoU filter, then
        also the stability filter, then also the crop-edge filter.
    iou_preds, stability
        float32 ``(K,)`` of the kept masks.
    boxes_xyxy
        int64 ``(K, 4)`` XYXY boxes of the kept masks (image pixels, inclusive).
    point_coords
        float64 ``(K, 2)`` the prompt of each kept mask.
    rles
        uncompressed RLEs (``{"size": [H, W], "counts": int64 array}``) of the kept masks.
    high_rles
        RLEs of ``logits > high_score_thresh`` of the kept masks (coarse pass only, else empty).
    stats
        :class:`PassStats`.
    """

    name: str
    points_xy_image: np.ndarray
    kept_after_iou: np.ndarray
    kept_after_stability: np.ndarray
    kept: np.ndarray
    iou_preds: np.ndarray
    stability: np.ndarray
    boxes_xyxy: np.ndarray
    point_coords: np.ndarray
    rles: tuple[dict[str, Any], ...]
    high_rles: tuple[dict[str, Any], ...]
    stats: PassStats


def point_prompts(
    points_xy_image: np.ndarray, original_hw: tuple[int, int], image_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs for single positive-point prompts (one prompt per point).

    Parameters
    ----------
    points_xy_image
        float ``(B, 2)`` image frame.
    original_hw, image_size
        Image (H, W) and encoder input side.

    Returns
    -------
    (point_coords, point_labels)
        float32 ``(B, 2, 2)`` model frame: the point then SAM's padding point (0, 0); float32
        ``(B, 2)`` labels ``[1, -1]``.
    """
    pts = np.asarray(points_xy_image, dtype=np.float64).reshape(-1, 2)
    model = coords_image_to_model(pts, original_hw, image_size)
    coords = np.zeros((pts.shape[0], 2, 2), dtype=np.float32)
    coords[:, 0] = model
    labels = np.empty((pts.shape[0], 2), dtype=np.float32)
    labels[:, 0] = 1.0
    labels[:, 1] = PAD_LABEL
    return coords, labels


def valid_low_res_hw(
    resized_hw: tuple[int, int], image_size: int, low_res_hw: tuple[int, int]
) -> tuple[int, int]:
    """Rows and columns of the low-res logits that cover the image (not the padding)."""
    return (
        min(low_res_hw[0], math.ceil(low_res_hw[0] * resized_hw[0] / image_size)),
        min(low_res_hw[1], math.ceil(low_res_hw[1] * resized_hw[1] / image_size)),
    )


def quality_filter(scores: np.ndarray, threshold: float, *, strict: bool) -> np.ndarray:
    """Indices of ``scores`` passing a threshold (``>`` if strict, else ``>=``; off if <= 0).

    SAM keeps ``iou > pred_iou_thresh`` (strict) and ``stability >= stability_score_thresh``.
    """
    s = np.asarray(scores)
    if threshold <= 0.0:
        return np.arange(s.shape[0], dtype=np.int64)
    ok = s > threshold if strict else s >= threshold
    return np.flatnonzero(ok).astype(np.int64)


def upscale_in_chunks(
    low_res: np.ndarray, resized_hw: tuple[int, int], original_hw: tuple[int, int], image_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, logits (k, H, W) float32)`` chunks of upscaled logits, bounded memory."""
    h, w = original_hw
    step = max(1, _CHUNK_FLOATS // max(1, h * w))
    for start in range(0, low_res.shape[0], step):
        yield (
            start,
            upscale_logits(low_res[start : start + step], resized_hw, original_hw, image_size),
        )


def union_high_confidence(
    high_masks: np.ndarray | Sequence[dict[str, Any]], original_hw: tuple[int, int]
) -> np.ndarray:
    """OR of high-confidence masks: the covered area of the first hierarchical pass.

    The union is taken in the image frame, on the kept coarse masks' upscaled logits
    ``> high_score_thresh`` (as the official script does), so it equals the straightforward
    order of operations exactly; a pass stores these masks as ``PassResult.high_rles``.

    Parameters
    ----------
    high_masks
        bool ``(K, H, W)`` or a sequence of uncompressed RLEs of size ``[H, W]``.
    original_hw
        (H, W) of the image.

    Returns
    -------
    np.ndarray
        bool ``(H, W)``; all False when there are no masks.
    """
    h, w = (int(v) for v in original_hw)
    covered = np.zeros((h, w), dtype=bool)
    if isinstance(high_masks, np.ndarray):
        if high_masks.ndim != 3 or high_masks.shape[1:] != (h, w):
            raise ValueError(f"high_masks must be (K, {h}, {w}), got {high_masks.shape}")
        return covered | np.any(high_masks, axis=0) if high_masks.shape[0] else covered
    for rle in high_masks:
        if list(rle["size"]) != [h, w]:
            raise ValueError(f"RLE of size {rle['size']} does not match the image {[h, w]}")
        covered |= rle_to_mask(rle)
    return covered


@dataclass
class _Acc:
    """Mutable accumulator private to :func:`run_pass`."""

    after_iou: list[np.ndarray] = field(default_factory=list)
    after_stab: list[np.ndarray] = field(default_factory=list)
    kept: list[np.ndarray] = field(default_factory=list)
    iou: list[np.ndarray] = field(default_factory=list)
    stab: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    rles: list[dict[str, Any]] = field(default_factory=list)
    high_rles: list[dict[str, Any]] = field(default_factory=list)


def _rle(mask: np.ndarray) -> dict[str, Any]:
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": rle_counts(mask)}


def _cat(parts: list[np.ndarray], dtype: type, shape: tuple[int, ...] = (0,)) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype=dtype)


def run_pass(
    predictor: DecoderPredictor,
    points_xy_image: np.ndarray,
    config: EverythingConfig,
    *,
    name: str,
    keep_high_confidence: bool = False,
    trace: Trace | None = None,
) -> PassResult:
    """Prompt every point, filter the masks, and keep the survivors (see the module docstring).

    Parameters
    ----------
    predictor
        A predictor whose image is set (``decode``, ``original_hw``, ``resized_hw``,
        ``image_size``).
    points_xy_image
        float ``(P, 2)`` image frame; may be empty.
    config
        Thresholds, batch size and ``stability_frame``.
    name
        Pass name recorded in the result and in trace events.
    keep_high_confidence
        Also store ``logits > config.high_score_thresh`` of each kept mask (``high_rles``).
    trace
        Called as ``trace("decoder_batch", {...})`` after every decoder call with ``pass``,
        ``batch`` (index), ``start`` (first prompt index), ``points_xy_image`` ``(B, 2)``,
        ``point_coords`` ``(B, 2, 2)``, ``point_labels`` ``(B, 2)``, ``low_res_masks``
        ``(B, 4, h, w)`` and ``iou_predictions`` ``(B, 4)`` (the raw graph outputs).

    Returns
    -------
    PassResult
    """
    t0 = time.perf_counter()
    pts = np.asarray(points_xy_image, dtype=np.float64).reshape(-1, 2)
    hw = tuple(int(v) for v in predictor.original_hw)
    rhw = tuple(int(v) for v in predictor.resized_hw)
    size = int(predictor.image_size)
    crop_box = np.array([0, 0, hw[1], hw[0]])
    thr = float(getattr(predictor, "mask_threshold", MASK_THRESHOLD))
    acc = _Acc()
    calls = 0
    for b, start in enumerate(range(0, pts.shape[0], config.points_per_batch)):
        batch_pts = pts[start : start + config.points_per_batch]
        coords, labels = point_prompts(batch_pts, hw, size)
        low_all, iou_all = predictor.decode(coords, labels)
        calls += 1
        if trace is not None:
            trace(
                "decoder_batch",
                {
                    "pass": name,
                    "batch": b,
                    "start": start,
                    "points_xy_image": batch_pts,
                    "point_coords": coords,
                    "point_labels": labels,
                    "low_res_masks": low_all,
                    "iou_predictions": iou_all,
                },
            )
        low, iou = select_masks(low_all, iou_all, multimask_output=True)
        low = low.reshape(-1, *low.shape[2:])  # (B*3, h, w)
        iou = iou.reshape(-1).astype(np.float32)
        base = start * TOKENS_PER_PROMPT
        idx = quality_filter(iou, config.pred_iou_thresh, strict=True)
        acc.after_iou.append(idx + base)
        exact = config.stability_frame != "low_res"  # final score on upscaled logits
        if config.stability_frame != "image":
            vh, vw = valid_low_res_hw(rhw, size, low.shape[-2:])
            stab = stability_score(low[idx, :vh, :vw], thr, config.stability_score_offset)
            cut = config.stability_score_thresh - (config.stability_prefilter_margin * exact)
            sel = quality_filter(stab, cut, strict=False)
            idx, stab = idx[sel], stab[sel]
        else:
            stab = np.zeros(idx.shape, dtype=np.float32)
        if not exact:
            acc.after_stab.append(idx + base)
        survivors: list[int] = []
        for c0, logits in upscale_in_chunks(low[idx], rhw, hw, size):
            if exact:
                stab[c0 : c0 + logits.shape[0]] = stability_score(
                    logits, thr, config.stability_score_offset
                )
            for j in range(logits.shape[0]):
                k = c0 + j
                if exact and stab[k] < config.stability_score_thresh:
                    continue
                mask = logits[j] > thr
                survivors.append(k)
                acc.boxes.append(mask_to_box(mask)[None])
                acc.rles.append(_rle(mask))
                if keep_high_confidence:
                    acc.high_rles.append(_rle(logits[j] > config.high_score_thresh))
            del logits
        surv = np.asarray(survivors, dtype=np.int64)
        if exact:
            acc.after_stab.append(idx[surv] + base)
        n_before = len(acc.rles) - surv.size
        boxes = np.concatenate(acc.boxes[n_before:]) if surv.size else np.zeros((0, 4), np.int64)
        near = is_box_near_crop_edge(boxes, crop_box, crop_box)
        if near.any():  # never for a whole-image crop; kept for SAM's semantics
            keep_pos = np.flatnonzero(~near)
            acc.boxes[n_before:] = [acc.boxes[n_before + p] for p in keep_pos]
            acc.rles[n_before:] = [acc.rles[n_before + p] for p in keep_pos]
            if keep_high_confidence:
                acc.high_rles[n_before:] = [acc.high_rles[n_before + p] for p in keep_pos]
            surv = surv[keep_pos]
        acc.kept.append(idx[surv] + base)
        acc.iou.append(iou[idx[surv]])
        acc.stab.append(stab[surv])
    kept = _cat(acc.kept, np.int64)
    stats = PassStats(
        name=name,
        prompts=int(pts.shape[0]),
        decoder_calls=calls,
        masks=int(pts.shape[0]) * TOKENS_PER_PROMPT,
        after_iou=int(sum(a.size for a in acc.after_iou)),
        after_stability=int(sum(a.size for a in acc.after_stab)),
        after_edge=int(kept.size),
        seconds=time.perf_counter() - t0,
    )
    return PassResult(
        name=name,
        points_xy_image=pts,
        kept_after_iou=_cat(acc.after_iou, np.int64),
        kept_after_stability=_cat(acc.after_stab, np.int64),
        kept=kept,
        iou_preds=_cat(acc.iou, np.float32),
        stability=_cat(acc.stab, np.float32),
        boxes_xyxy=_cat(acc.boxes, np.int64, (0, 4)).reshape(-1, 4),
        point_coords=pts[kept // TOKENS_PER_PROMPT] if kept.size else np.zeros((0, 2)),
        rles=tuple(acc.rles),
        high_rles=tuple(acc.high_rles),
        stats=stats,
    )
