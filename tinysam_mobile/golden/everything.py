"""Golden vectors of hierarchical everything mode (``everything__<img>__<run>.json``).

Each run calls the runtime's own :func:`~tinysam_mobile.everything.generate_everything` on a
small grid (batches of 3 prompts, so flat mask indices cross batch boundaries) and records every
decoder batch, so the checker (and a port) can replay the run from the stored raw outputs and
must reproduce every kept index, the coverage map, the second-pass points, the NMS result, the
small-region cleanup and the final SAM-style records.

Three runs per image, on the same grid:

``official``
    TinySAM's thresholds (predicted IoU > 0.88, stability >= 0.95, high-confidence logit 8.5,
    box NMS 0.7, no small-region cleanup). An untrained or random-weight model keeps nothing
    here, so these vectors may hold no final record (``require_records`` false); a real
    checkpoint's vectors do.
``tuned``
    Thresholds chosen from the model's own outputs, so that the vectors exercise the whole path
    whatever the model (``require_records`` true; the writer fails if it keeps nothing). A probe
    decodes the coarse and the full grid once with every filter off; then

    - ``pred_iou_thresh`` drops about 30 % of the probe's masks but never the best mask of the
      coarse grid or of the full grid;
    - ``stability_score_thresh`` drops about 20 % of the masks that pass the IoU filter, again
      never the most stable survivor of either grid;
    - ``high_score_thresh`` is the quantile of the coarse logits whose coverage leaves closest
      to half of the full grid for the dense pass, among those that leave at least one point
      whose masks pass both filters (the largest candidate covers nothing, so one always does).

    Each threshold sits between two neighbouring distinct float32 values of the data (their
    float32 midpoint when one exists), so float32 comparisons in every port decide alike; a
    threshold that would be <= 0 is 0 (the filter is off, as in SAM). Should the recorded run
    still keep nothing (decoder outputs that differ between batchings), the filters are turned
    off and nothing is covered, which keeps every mask before NMS.
``regions``
    The ``tuned`` run with SAM's small-region cleanup; ``min_mask_region_area`` is set so that
    about half of the ``tuned`` final masks with a hole or a secondary island change (see
    :func:`_region_area`). Its decoder calls are those of ``tuned`` (the bytes are stored once).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from tinysam_mobile.errors import BundleError
from tinysam_mobile.everything.config import EverythingConfig
from tinysam_mobile.everything.generator import records_from_result
from tinysam_mobile.everything.grid import grid_to_image, make_grid, remaining_points
from tinysam_mobile.everything.hierarchical import (
    EverythingResult,
    generate_everything,
    postprocess_small_regions,
)
from tinysam_mobile.everything.passes import (
    TOKENS_PER_PROMPT,
    PassResult,
    quality_filter,
    run_pass,
    union_high_confidence,
)
from tinysam_mobile.everything.regions import label_components
from tinysam_mobile.masks import coco_rle_encode, rle_to_mask
from tinysam_mobile.spec import MASK_THRESHOLD, ModelGeometry

from .arrays import ArrayWriter, check_array, compare, load_array

POINTS_PER_SIDE = 0
"""0: choose the largest grid (8, 4 or 2 points per side) whose raw outputs fit the budget."""

BUDGET_BYTES = 12 << 20
"""Bytes of raw decoder outputs the everything vectors may store (all runs together)."""

POINTS_PER_BATCH = 3
"""Small batches so that batch offsets in the flat mask indices are exercised."""

RUNS: tuple[str, ...] = ("official", "tuned", "regions")
"""The recorded runs, in the order ``index.json`` lists them."""

IOU_DROP = 0.3
"""Fraction of the probe's masks the tuned IoU filter aims to drop."""

STABILITY_DROP = 0.2
"""Fraction of the IoU survivors the tuned stability filter aims to drop."""

HIGH_QUANTILES: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995)
"""Quantiles of the coarse logits tried as the tuned ``high_score_thresh``."""


def _points_per_side(low_res_hw: tuple[int, int]) -> int:
    """Largest grid whose coarse pass plus two dense passes (official, tuned) fit the budget."""
    per_prompt = 4 * low_res_hw[0] * low_res_hw[1] * 4
    for n in (8, 4, 2):
        if (max(1, n // 4) ** 2 + 2 * n * n) * per_prompt <= BUDGET_BYTES:
            return n
    return 2


class _Recorder:
    """Predictor wrapper that records (or replays) every decoder call.

    Recording, identical calls are decoded once (``cache`` is shared by the runs of one image),
    so runs that ask for the same batch store the same bytes.
    """

    def __init__(
        self,
        predictor: Any,
        replay: list[dict[str, np.ndarray]] | None = None,
        cache: dict[bytes, tuple[np.ndarray, np.ndarray]] | None = None,
    ):
        self.p = predictor
        self.calls: list[dict[str, np.ndarray]] = []
        self.replay = replay
        self.cache = {} if cache is None else cache
        self.original_hw = tuple(int(v) for v in predictor.original_hw)
        self.resized_hw = tuple(int(v) for v in predictor.resized_hw)
        self.image_size = int(predictor.image_size)
        self.mask_threshold = float(getattr(predictor, "mask_threshold", MASK_THRESHOLD))

    def decode(
        self, point_coords: np.ndarray, point_labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode (or replay the next stored call) and record the call."""
        if self.replay is not None:
            if len(self.calls) >= len(self.replay):
                raise BundleError(f"more than the {len(self.replay)} stored decoder calls")
            stored = self.replay[len(self.calls)]
            self.calls.append({"point_coords": point_coords, "point_labels": point_labels})
            return stored["low_res_masks"], stored["iou_predictions"]
        key = point_coords.shape, point_coords.tobytes(), point_labels.tobytes()
        if key not in self.cache:
            self.cache[key] = self.p.decode(point_coords, point_labels)
        low, iou = self.cache[key]
        self.calls.append(
            {
                "point_coords": point_coords,
                "point_labels": point_labels,
                "low_res_masks": low,
                "iou_predictions": iou,
            }
        )
        return low, iou

    def fresh(self) -> _Recorder:
        """A recorder over the same predictor and cache with no calls recorded."""
        return _Recorder(self.p, cache=self.cache)


def _cut(values: np.ndarray, drop: float, must_keep: float, *, strict: bool) -> float:
    """A threshold dropping about ``drop`` of ``values`` that keeps every value >= ``must_keep``.

    The threshold lies between two neighbouring distinct float32 values ``a < b`` (``b <=
    must_keep``): their float32 midpoint when one exists, else ``a`` for a strict filter
    (``> a`` keeps ``b``) or ``b`` for ``>=``. 0.0 (filter off) when there is no such pair or
    the threshold would be <= 0.
    """
    v = np.sort(np.asarray(values, dtype=np.float32).reshape(-1))
    u = np.unique(v)
    pairs = np.flatnonzero(u[1:] <= np.float32(must_keep))
    if pairs.size == 0:
        return 0.0
    dropped = np.searchsorted(v, u[pairs], side="right") / v.size
    i = int(pairs[np.argmin(np.abs(dropped - drop))])
    a, b = u[i], u[i + 1]
    mid = np.float32((float(a) + float(b)) / 2)
    t = mid if a < mid < b else (a if strict else b)
    return float(t) if t > 0 else 0.0


def _probe(rec: _Recorder, points: np.ndarray, logits: list[np.ndarray] | None) -> PassResult:
    """One pass with every filter off: IoU and stability of every mask, in flat order."""
    cfg = EverythingConfig(
        points_per_batch=POINTS_PER_BATCH, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )

    def keep_logits(event: str, data: dict[str, Any]) -> None:
        if logits is not None:
            logits.append(data["low_res_masks"][:, 1:])

    return run_pass(rec, points, cfg, name="probe", trace=keep_logits)


def _survivors(p: PassResult, cfg: EverythingConfig) -> np.ndarray:
    """Flat indices of a probe's masks passing ``cfg``'s IoU and stability filters."""
    i = quality_filter(p.iou_preds, cfg.pred_iou_thresh, strict=True)
    return i[quality_filter(p.stability[i], cfg.stability_score_thresh, strict=False)]


def _tuned_config(rec: _Recorder, n: int) -> EverythingConfig:
    """Thresholds from the data (see the module docstring)."""
    hw = rec.original_hw
    base = EverythingConfig(points_per_side=n, points_per_batch=POINTS_PER_BATCH)
    coarse_pts = grid_to_image(make_grid(base.coarse_points_per_side), hw)
    full_pts = grid_to_image(make_grid(n), hw)
    coarse_logits: list[np.ndarray] = []
    coarse = _probe(rec, coarse_pts, coarse_logits)
    full = _probe(rec, full_pts, None)
    iou_keep = min(float(coarse.iou_preds.max()), float(full.iou_preds.max()))
    t_iou = _cut(
        np.concatenate([coarse.iou_preds, full.iou_preds]), IOU_DROP, iou_keep, strict=True
    )
    cfg = dataclasses.replace(base, pred_iou_thresh=t_iou, stability_score_thresh=0.0)
    stab = [p.stability[_survivors(p, cfg)] for p in (coarse, full)]
    stab_keep = min(float(s.max()) for s in stab)
    t_stab = _cut(np.concatenate(stab), STABILITY_DROP, stab_keep, strict=False)
    cfg = dataclasses.replace(cfg, stability_score_thresh=t_stab)

    good = set((_survivors(full, cfg) // TOKENS_PER_PROMPT).tolist())  # full-grid prompts
    index = {tuple(p): i for i, p in enumerate(full_pts.tolist())}
    low = np.concatenate(coarse_logits)
    candidates = sorted({float(np.quantile(low, q)) for q in HIGH_QUANTILES})
    candidates.append(float(low.max()) + 1.0)  # covers nothing: the dense pass gets every point
    best: tuple[float, float] | None = None
    for t in candidates:
        trial = dataclasses.replace(cfg, high_score_thresh=t)
        res = run_pass(rec, coarse_pts, trial, name="trial", keep_high_confidence=True)
        left = remaining_points(full_pts, union_high_confidence(res.high_rles, hw))
        if not good.intersection(index[tuple(p)] for p in left.tolist()):
            continue
        score = abs(left.shape[0] / full_pts.shape[0] - 0.5)
        if best is None or score < best[1]:
            best = (t, score)
    assert best is not None  # the last candidate leaves the whole grid
    return dataclasses.replace(cfg, high_score_thresh=best[0])


def _fallback_config(rec: _Recorder, cfg: EverythingConfig) -> EverythingConfig:
    """Filters off and nothing covered: every mask reaches NMS, so some record survives."""
    probe: list[np.ndarray] = []
    _probe(rec, grid_to_image(make_grid(cfg.coarse_points_per_side), rec.original_hw), probe)
    high = float(np.concatenate(probe).max()) + 1.0
    return dataclasses.replace(
        cfg, pred_iou_thresh=0.0, stability_score_thresh=0.0, high_score_thresh=high
    )


def _nms_order(result: EverythingResult) -> tuple[list[dict[str, Any]], np.ndarray]:
    """RLEs and boxes of the masks box NMS kept, in its order (the cleanup's input)."""
    all_rles = [r for p in result.passes for r in p.rles]
    order = result.merge.kept
    return [all_rles[i] for i in order], result.merge.boxes_xyxy[order]


def _small_regions_kept(result: EverythingResult, cfg: EverythingConfig) -> list[int]:
    """Indices (into the NMS-ordered masks) the small-region cleanup kept, in its NMS order."""
    rles, boxes = _nms_order(result)
    if not rles:
        return []
    kept, _, _ = postprocess_small_regions(
        rles, boxes, cfg.min_mask_region_area, cfg.box_nms_thresh
    )
    return kept.tolist()


def _region_area(result: EverythingResult) -> int:
    """``min_mask_region_area`` for the ``regions`` run, from the ``tuned`` final masks.

    A hole or island that is not the largest of its kind in its mask changes pixels when the
    cleanup removes it. The area is one more than the median, over the masks that have such
    regions, of their smallest one, so about half of those masks change. When no mask has one
    (single blobs), it is one more than the smallest region of any kind: the cleanup then marks
    a mask changed without changing its pixels, which still reorders the NMS.
    """
    smallest_minor: list[int] = []
    every: list[int] = []
    for rle in result.rles:
        mask = rle_to_mask(rle)
        minor = []
        for m in (mask, ~mask):
            sizes = np.sort(label_components(m)[1])
            every += sizes.tolist()
            minor += sizes[:-1].tolist()
        if minor:
            smallest_minor.append(min(minor))
    if smallest_minor:
        return int(np.median(smallest_minor)) + 1
    return min(every) + 1


def _records(result: EverythingResult) -> list[dict[str, Any]]:
    return records_from_result(result, "coco_rle")


def _pass_doc(w: ArrayWriter, stem: str, res: PassResult, calls: list[dict]) -> dict[str, Any]:
    batches = [
        {k: w.put(f"{stem}__b{i}__{k}", v, "float32", dedupe=True) for k, v in call.items()}
        for i, call in enumerate(calls)
    ]
    return {
        "points_xy_image": w.put(f"{stem}__points", res.points_xy_image, "float32"),
        "batches": batches,
        "kept_after_iou": res.kept_after_iou.tolist(),
        "kept_after_stability": res.kept_after_stability.tolist(),
        "kept": res.kept.tolist(),
        "iou_preds": w.put(f"{stem}__iou", res.iou_preds, "float32"),
        "stability": w.put(f"{stem}__stability", res.stability, "float32"),
        "boxes_xyxy": w.put(f"{stem}__boxes", res.boxes_xyxy, "int32"),
        "rles": [coco_rle_encode(rle_to_mask(r)) for r in res.rles],
    }


def _run_doc(
    w: ArrayWriter,
    image_id: str,
    run: str,
    rec: _Recorder,
    cfg: EverythingConfig,
    result: EverythingResult,
) -> dict[str, Any]:
    stem = f"{image_id}__everything_{run}"
    nc = result.passes[0].stats.decoder_calls
    coarse, dense = result.passes
    records = _records(result)
    return {
        "image": image_id,
        "run": run,
        "require_records": run != "official",
        "config": dataclasses.asdict(cfg),
        "coarse": _pass_doc(w, f"{stem}__coarse", coarse, rec.calls[:nc]),
        "coverage": w.put(f"{stem}__coverage", result.coverage, "bits"),
        "dense_points_xy_image": w.put(
            f"{stem}__dense_points", result.dense_points_xy_image, "float32"
        ),
        "dense": _pass_doc(w, f"{stem}__dense", dense, rec.calls[nc:]),
        "merged": {
            "boxes": w.put(f"{stem}__merged_boxes", result.merge.boxes_xyxy, "int32"),
            "scores": w.put(f"{stem}__merged_scores", result.merge.scores, "float32"),
            "nms_iou_threshold": cfg.box_nms_thresh,
            "kept": result.merge.kept.tolist(),
        },
        "small_regions": (
            {
                "min_mask_region_area": cfg.min_mask_region_area,
                "input_count": int(result.merge.kept.size),
                "kept": _small_regions_kept(result, cfg),
            }
            if cfg.min_mask_region_area > 0
            else None
        ),
        "final": {"count": len(records), "records": records},
    }


def _generate(rec: _Recorder, cfg: EverythingConfig) -> EverythingResult:
    return generate_everything(rec, None, cfg)


def write_everything(
    w: ArrayWriter, predictor: Any, image_id: str, points_per_side: int = POINTS_PER_SIDE
) -> list[tuple[str, dict[str, Any]]]:
    """Record the three runs on the predictor's current image.

    Returns
    -------
    list of (file name, document)
        ``everything__<img>__<run>.json`` for ``official``, ``tuned``, ``regions``.

    Raises
    ------
    BundleError
        If a run that must keep records keeps none (never expected: see the module docstring).
    """
    low_res_hw = ModelGeometry(int(predictor.image_size)).low_res_hw
    n = points_per_side or _points_per_side(low_res_hw)
    root = _Recorder(predictor)
    cfgs: dict[str, EverythingConfig] = {
        "official": EverythingConfig(points_per_side=n, points_per_batch=POINTS_PER_BATCH)
    }
    tuned = _tuned_config(root, n)
    rec = root.fresh()
    result = _generate(rec, tuned)
    if not (result.passes[0].kept.size and result.passes[1].kept.size and result.rles):
        tuned = _fallback_config(root, tuned)
        rec = root.fresh()
        result = _generate(rec, tuned)
    cfgs["tuned"] = tuned
    cfgs["regions"] = dataclasses.replace(tuned, min_mask_region_area=_region_area(result))
    out = []
    for run in RUNS:
        rec = root.fresh()
        result = _generate(rec, cfgs[run])
        doc = _run_doc(w, image_id, run, rec, cfgs[run], result)
        if doc["require_records"] and doc["final"]["count"] == 0:
            raise BundleError(f"everything golden run {run!r} on {image_id} kept no mask")
        out.append((f"everything__{image_id}__{run}.json", doc))
    return out


class _Image:
    def __init__(self, image: dict[str, Any]):
        self.original_hw = tuple(image["original_hw"])
        self.resized_hw = tuple(image["resized_hw"])
        self.image_size = image["image_size"]


def _check_records(name: str, got: list[dict], want: list[dict]) -> list[str]:
    """Exact segmentation, area, bbox, crop box; float tolerance on scores and points."""
    if len(got) != len(want):
        return [f"{name}.final: {len(got)} records, stored {len(want)}"]
    fails = []
    for i, (g, s) in enumerate(zip(got, want, strict=True)):
        for k in ("segmentation", "area", "bbox", "crop_box"):
            if g[k] != s[k]:
                fails.append(f"{name}.final.records[{i}].{k} differs")
    for k in ("predicted_iou", "stability_score", "point_coords"):
        a = np.asarray([g[k] for g in got], dtype=np.float64)
        e = np.asarray([s[k] for s in want], dtype=np.float64)
        fails += compare(f"{name}.final.records.{k}", a, e, "float32")
    return fails


def check_everything(root: Path, doc: dict[str, Any], image: dict[str, Any]) -> list[str]:
    """Replay a run on the stored decoder outputs and compare every intermediate result."""
    name = f"everything__{doc['image']}__{doc['run']}"
    batches = doc["coarse"]["batches"] + doc["dense"]["batches"]
    replay = [{k: load_array(root, v) for k, v in b.items()} for b in batches]
    rec = _Recorder(_Image(image), replay=replay)
    cfg = EverythingConfig(**doc["config"])
    r = _generate(rec, cfg)
    fails: list[str] = []
    if len(rec.calls) != len(batches):
        fails.append(f"{name}: {len(rec.calls)} decoder calls, stored {len(batches)}")
    for i, (call, stored) in enumerate(zip(rec.calls, replay, strict=False)):
        for k in ("point_coords", "point_labels"):
            fails += compare(f"{name}.batch{i}.{k}", call[k], stored[k], "float32")
    for key, res in zip(("coarse", "dense"), r.passes, strict=True):
        d = doc[key]
        where = f"{name}.{key}"
        fails += check_array(root, f"{where}.points", res.points_xy_image, d["points_xy_image"])
        for k in ("kept_after_iou", "kept_after_stability", "kept"):
            fails += compare(f"{where}.{k}", getattr(res, k), np.asarray(d[k]), "int32")
        fails += check_array(root, f"{where}.iou_preds", res.iou_preds, d["iou_preds"])
        fails += check_array(root, f"{where}.stability", res.stability, d["stability"])
        fails += check_array(root, f"{where}.boxes", res.boxes_xyxy, d["boxes_xyxy"])
        if [coco_rle_encode(rle_to_mask(x)) for x in res.rles] != d["rles"]:
            fails.append(f"{where}.rles differ")
    fails += check_array(root, f"{name}.coverage", r.coverage, doc["coverage"])
    fails += check_array(
        root, f"{name}.dense_points", r.dense_points_xy_image, doc["dense_points_xy_image"]
    )
    m = doc["merged"]
    fails += check_array(root, f"{name}.merged.boxes", r.merge.boxes_xyxy, m["boxes"])
    fails += check_array(root, f"{name}.merged.scores", r.merge.scores, m["scores"])
    fails += compare(f"{name}.merged.kept", r.merge.kept, np.asarray(m["kept"]), "int32")
    sr = doc["small_regions"]
    if (sr is None) != (cfg.min_mask_region_area <= 0):
        fails.append(f"{name}.small_regions does not match min_mask_region_area")
    elif sr is not None:
        fails += compare(
            f"{name}.small_regions.kept",
            np.asarray(_small_regions_kept(r, cfg)),
            np.asarray(sr["kept"]),
            "int32",
        )
    final = doc["final"]
    if final["count"] != len(final["records"]):
        fails.append(f"{name}.final.count {final['count']} != {len(final['records'])} records")
    if doc["require_records"] and not final["records"]:
        fails.append(f"{name}.final: no records, but this run must keep some")
    fails += _check_records(name, _records(r), final["records"])
    return fails
