"""Parity gate of reduced-precision graphs (INT8, FP16) against the float32 PyTorch model.

Thresholds (issue 3, item 6): the selected mask of every case (the reference's best multimask
token: TinySAM's answer) has IoU >= 0.95 with the float mask, and the mean over all cases is
>= 0.98. Token 0 (SAM's single-mask output) is measured and recorded, not gated. Relative logit errors are recorded, not gated:
quantisation moves logits far from zero by more than any useful absolute tolerance while the
masks stay the same.

Attribution: every case is decoded twice, once end to end (candidate encoder + candidate decoder)
and once with the float embeddings fed to the candidate decoder. A failure is blamed on the
decoder graph when the decoder alone already fails, else on the encoder graph; the message names
the target/precision, the graph, the case and the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinysam_export.errors import VerificationError
from tinysam_export.verify import (
    batch_points_model,
    cosine,
    mask_iou,
    prompt_cases,
    sqnr_db,
)
from tinysam_mobile.postprocess import threshold, upscale_logits
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.prompts import encode_prompt, prepare_mask_input
from tinysam_mobile.session import GraphSession
from tinysam_mobile.spec import ModelGeometry


@dataclass(frozen=True)
class MaskThresholds:
    """Mask-IoU limits of a reduced-precision artifact against float32."""

    min_mask_iou: float = 0.95
    min_mean_mask_iou: float = 0.98

    def to_json(self) -> dict[str, float]:
        """Manifest form."""
        return asdict(self)


LOW_PRECISION_THRESHOLDS = MaskThresholds()
"""Limits for INT8 and FP16 artifacts."""


class _Figures:
    def __init__(self) -> None:
        self.emb_cos: list[float] = []
        self.emb_sqnr: list[float] = []
        self.logit_cos: list[float] = []
        self.logit_sqnr: list[float] = []
        self.ious: list[tuple[str, float, float]] = []  # case, end-to-end, decoder-only
        self.single: list[float] = []  # token 0 (single-mask output), not gated

    def to_json(self, cases: list[str]) -> dict[str, Any]:
        e2e = np.array([i for _, i, _ in self.ious])
        dec = np.array([d for _, _, d in self.ious])
        worst = self.ious[int(np.argmin(e2e))][0]
        return {
            "encoder": {
                "image_embeddings": {
                    "cosine": min(self.emb_cos),
                    "sqnr_db": min(self.emb_sqnr),
                }
            },
            "decoder": {
                "low_res_logits": {
                    "cosine": min(self.logit_cos),
                    "sqnr_db": min(self.logit_sqnr),
                },
                "masks": {
                    "mask_iou": float(e2e.min()),
                    "mean_mask_iou": float(e2e.mean()),
                    "worst_case": worst,
                    "decoder_only_mask_iou": float(dec.min()),
                    "decoder_only_mean_mask_iou": float(dec.mean()),
                    "single_mask_iou_min": min(self.single),
                    "single_mask_iou_mean": float(np.mean(self.single)),
                },
            },
            "cases": cases,
        }


def _selected_masks(pred: Predictor, low: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Upscaled, thresholded masks of the tokens ``index`` (B,) of low-res logits (B, C, h, w)."""
    sel = low[np.arange(low.shape[0]), index]
    up = upscale_logits(sel, pred.resized_hw, pred.original_hw, pred.image_size)
    return threshold(up, pred.mask_threshold)


def _min_iou(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Smallest mask IoU over the prompts of (B, H, W) boolean masks."""
    return min(mask_iou(c, r) for c, r in zip(candidate, reference, strict=True))


def verify_low_precision(
    reference: tuple[GraphSession, GraphSession],
    candidate: tuple[GraphSession, GraphSession],
    geometry: ModelGeometry,
    images: Sequence[tuple[str, np.ndarray]],
    label: str,
    limits: MaskThresholds = LOW_PRECISION_THRESHOLDS,
) -> dict[str, Any]:
    """Compare candidate graphs with the float32 reference through the runtime ``Predictor``.

    Parameters
    ----------
    reference, candidate
        (encoder, decoder) sessions: float32 PyTorch and the reduced-precision export.
    geometry
        Model geometry.
    images
        (name, uint8 HxWx3 RGB) pairs.
    label
        ``target/precision`` for messages.
    limits
        Mask-IoU limits.

    Returns
    -------
    dict
        Worst figures per graph (``encoder.image_embeddings``: cosine, SQNR;
        ``decoder.low_res_logits``: cosine, SQNR; ``decoder.masks``: min and mean mask IoU,
        end to end and decoder only) and ``cases``.

    Raises
    ------
    VerificationError
        A case below ``min_mask_iou`` or a mean below ``min_mean_mask_iou``.
    """
    if not images:
        raise VerificationError("verification needs at least one image")
    ref = Predictor(*reference, geometry)
    cand = Predictor(*candidate, geometry)
    mixed = Predictor(reference[0], candidate[1], geometry)  # float embeddings, candidate decoder
    figs = _Figures()
    cases: list[str] = []

    def run_case(case: str, decode_args: tuple) -> None:
        r_low, r_iou = ref.decode(*decode_args)
        c_low, _c_iou = cand.decode(*decode_args)
        m_low, _ = mixed.decode(*decode_args)
        figs.logit_cos.append(cosine(c_low, r_low))
        figs.logit_sqnr.append(sqnr_db(c_low, r_low))
        # gated: the selected mask (the reference's best multimask token, what TinySAM returns
        # and an app shows); token 0 (SAM's single-mask output) is recorded, not gated: on weak
        # checkpoints it is often a few-pixel mask whose IoU says nothing about the graph
        best = 1 + np.argmax(r_iou[:, 1:], axis=1)
        r_m = _selected_masks(ref, r_low, best)
        iou_e2e = _min_iou(_selected_masks(cand, c_low, best), r_m)
        iou_dec = _min_iou(_selected_masks(mixed, m_low, best), r_m)
        token0 = np.zeros(len(r_iou), np.int64)
        figs.single.append(
            _min_iou(_selected_masks(cand, c_low, token0), _selected_masks(ref, r_low, token0))
        )
        cases.append(case)
        figs.ious.append((case, iou_e2e, iou_dec))
        if iou_e2e < limits.min_mask_iou:
            graph = "decoder" if iou_dec < limits.min_mask_iou else "encoder"
            raise VerificationError(
                f"parity check failed for {label} {graph} graph, case {case!r}: mask IoU against "
                f"float32 = {iou_e2e:.4f} (decoder alone {iou_dec:.4f}) is below "
                f"{limits.min_mask_iou}"
            )

    for image_name, image in images:
        ref.set_image(image)
        cand.set_image(image)
        mixed.set_image_embedding(ref.get_image_embedding(), ref.original_hw)
        figs.emb_cos.append(cosine(cand.get_image_embedding(), ref.get_image_embedding()))
        figs.emb_sqnr.append(sqnr_db(cand.get_image_embedding(), ref.get_image_embedding()))
        hw = ref.original_hw
        for prompt_name, prompt in prompt_cases(hw).items():
            coords, labels = encode_prompt(hw, geometry.image_size, **prompt)
            run_case(f"{image_name}/{prompt_name}", (coords, labels))
            r_low, r_iou = ref.decode(coords, labels)
            prev = r_low[0, 1 + int(np.argmax(r_iou[0, 1:]))]
            mask, has = prepare_mask_input(prev, geometry.low_res_hw)
            run_case(f"{image_name}/{prompt_name}/refine", (coords, labels, mask, has))
        coords, labels = batch_points_model(geometry, ref.resized_hw)
        run_case(f"{image_name}/batch16", (coords, labels))

    out = figs.to_json(cases)
    mean = out["decoder"]["masks"]["mean_mask_iou"]
    if mean < limits.min_mean_mask_iou:
        dec_mean = out["decoder"]["masks"]["decoder_only_mean_mask_iou"]
        graph = "decoder" if dec_mean < limits.min_mean_mask_iou else "encoder"
        raise VerificationError(
            f"parity check failed for {label} {graph} graph: mean mask IoU against float32 over "
            f"{len(cases)} cases = {mean:.4f} (decoder alone {dec_mean:.4f}) is below "
            f"{limits.min_mean_mask_iou}; worst case {out['decoder']['masks']['worst_case']!r}"
        )
    return out


def settle_pair(
    graphs: Sequence[Any],
    record: Callable[[Any], dict[str, Any]],
    first_choice: Callable[[Any], bool],
    check_pair: Callable[[], dict[str, Any]],
    fall_back: Callable[[Any, str], None],
) -> None:
    """Check two reduced-precision graphs together, as the verify stage will gate them.

    Each graph may pass its own check (the other graph float) and the pair still fail. While
    ``check_pair`` raises, the graph still on its first choice with the lowest
    ``record(g)["check"]["mean_mask_iou"]`` is given to ``fall_back(g, why)``; then the pair is
    checked again. Every record gets ``pair_check``: the pair's figures with ``passed: true``, or
    ``passed: false`` and the gate's message when nothing is left to fall back (the verify stage
    then has the last word).

    Parameters
    ----------
    graphs
        The two graph names.
    record
        The current manifest record of a graph (``fall_back`` may replace it).
    first_choice
        Whether a graph is still on its first-choice recipe (and so can fall back).
    check_pair
        Gate figures of both graphs as they are now (raises ``VerificationError``).
    fall_back
        Switch a graph to its fallback recipe, recording ``why``.
    """
    order = sorted(
        (g for g in graphs if first_choice(g)),
        key=lambda g: record(g)["check"]["mean_mask_iou"],
    )
    for fallback in [*order, None]:
        try:
            figures = {"passed": True, **check_pair()}
        except VerificationError as exc:
            if fallback is not None:
                fall_back(
                    fallback, f"passed alone, but not together with the other int8 graph: {exc}"
                )
                continue
            figures = {"passed": False, "why": str(exc)}
        for g in graphs:
            record(g)["pair_check"] = figures
        return
