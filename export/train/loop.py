"""Promptable segmentation training (SAM-style) of a ``vit_t`` model on procedural data.

One step:

1. ``batch_size`` images are generated from sample seeds of the ``train`` split only
   (:func:`tinysam_export.train.data.split_of` is asserted) and encoded in one encoder
   forward pass (with gradient).
2. Per image, ``prompts_per_image`` instances are drawn; each gets a positive point (uniform
   over the mask, or from its interior) or a jittered box.
3. The decoder is run on all prompts of the image at once; then ``click_iters`` corrective
   iterations add one click sampled from the error region of the previous prediction, with the
   previous low-res logits fed back as ``mask_input`` (detached, as in SAM).
4. The loss of every decoder call (:func:`tinysam_export.train.losses.promptable_loss`) plus any
   :class:`LossHook` terms is back-propagated once; AdamW with warmup + cosine schedule and
   gradient clipping.

Extension point: a teacher (TinySAM's full-stage distillation) plugs in as a
:class:`LossHook` that receives the :class:`StepRecord` of a step (images, student embeddings,
every decoder call's prompts and outputs) and returns extra loss terms. None is built here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from tinysam_mobile.spec import BOX_LABELS, PAD_LABEL

from .data import SPLIT_SEED_RANGES, make_sample, split_of
from .evaluate import quick_eval
from .losses import downsample_target, promptable_loss
from .prompts import jitter_box, mask_to_box, sample_corrective_click, sample_positive_point


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (written next to the checkpoints)."""

    model: str = "vit_t"
    image_size: int = 256
    steps: int = 1000
    batch_size: int = 4
    prompts_per_image: int = 8
    click_iters: int = 1
    box_fraction: float = 0.5
    lr: float = 6e-4
    weight_decay: float = 0.01
    warmup_steps: int = 50
    min_lr_frac: float = 0.02
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    log_every: int = 10
    eval_every: int = 100
    eval_images: int = 16
    checkpoint_every: int = 200
    out_dir: str = "runs/train"
    init_from: str = ""
    """Checkpoint (official layout) to start from instead of random weights ("" = scratch)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "prompts_per_image", "threads", "eval_images"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.click_iters < 0:
            raise ValueError(f"click_iters must be >= 0, got {self.click_iters}")
        if not 0.0 <= self.box_fraction <= 1.0:
            raise ValueError(f"box_fraction must be in [0, 1], got {self.box_fraction}")


@dataclass
class DecodeRecord:
    """One decoder call of a step (for loss hooks).

    ``point_coords`` (K, N, 2) model frame, ``point_labels`` (K, N), ``mask_input``
    (K, 1, h, w) or None, ``low_res_masks`` (K, 4, h, w), ``iou_predictions`` (K, 4),
    ``target_low`` (K, h, w), ``image_index`` (K,) int index of each prompt's image in the
    step's batch.
    """

    image_index: np.ndarray
    point_coords: torch.Tensor
    point_labels: torch.Tensor
    mask_input: torch.Tensor | None
    low_res_masks: torch.Tensor
    iou_predictions: torch.Tensor
    target_low: torch.Tensor


@dataclass
class StepRecord:
    """What a :class:`LossHook` sees: ``images`` (B, 3, S, S) 0..255, ``embeddings``
    (B, 256, S/16, S/16) with gradient, and every decoder call."""

    step: int
    images: torch.Tensor
    embeddings: torch.Tensor
    decodes: list[DecodeRecord] = field(default_factory=list)


class LossHook(Protocol):
    """Extra loss terms, e.g. a teacher's embedding / token / mask distillation."""

    def __call__(self, record: StepRecord) -> dict[str, torch.Tensor]:
        """Return named scalar losses (with gradient) to add to the step's loss."""
        ...


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warmup, then cosine to ``min_lr_frac``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    t = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def step_sample_seeds(cfg: TrainConfig, step: int) -> list[int]:
    """Sample seeds of the images of ``step``; all lie in the ``train`` split."""
    lo, hi = SPLIT_SEED_RANGES["train"]
    base = cfg.seed * 50_000_000 + step * cfg.batch_size
    seeds = [lo + (base + j) % (hi - lo) for j in range(cfg.batch_size)]
    for s in seeds:
        if split_of(s) != "train":  # guards the held-out split against any config change
            raise AssertionError(f"training sample seed {s} is outside the train split")
    return seeds


def initial_prompts(
    masks: np.ndarray, rng: np.random.Generator, cfg: TrainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw instances and their first prompts.

    Returns
    -------
    picked
        (K,) int indices into ``masks``.
    coords
        (K, 2, 2) float32 model-frame points: ``[point, pad]`` or ``[corner0, corner1]``.
    labels
        (K, 2) float32: ``[1, -1]`` or ``[2, 3]``.
    ambiguous
        (K,) bool, True for single-point prompts.
    """
    n, k = len(masks), cfg.prompts_per_image
    picked = rng.permutation(n)[:k] if n >= k else rng.integers(0, n, k)
    coords = np.zeros((k, 2, 2), np.float32)
    labels = np.zeros((k, 2), np.float32)
    ambiguous = np.zeros(k, bool)
    hw = masks.shape[1:]
    for i, m in enumerate(picked):
        if rng.random() < cfg.box_fraction:
            coords[i] = jitter_box(mask_to_box(masks[m]), rng, hw).reshape(2, 2)
            labels[i] = BOX_LABELS
        else:
            interior = 0.5 if rng.random() < 0.5 else 0.0
            coords[i, 0] = sample_positive_point(masks[m], rng, interior)
            labels[i] = (1.0, PAD_LABEL)
            ambiguous[i] = True
    return picked, coords, labels, ambiguous


def add_clicks(
    coords: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    gt: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Insert one corrective click per prompt before the trailing pad / box corners.

    ``coords`` (K, N, 2), ``labels`` (K, N), ``pred`` and ``gt`` (K, S, S) bool. A prompt whose
    prediction is already exact gets a padding point instead, keeping N equal for all prompts.
    """
    k = len(coords)
    new_c = np.zeros((k, 1, 2), np.float32)
    new_l = np.full((k, 1), PAD_LABEL, np.float32)
    for i in range(k):
        click = sample_corrective_click(pred[i], gt[i], rng)
        if click is not None:
            new_c[i, 0] = (click.x, click.y)
            new_l[i, 0] = click.label
    # the last two entries are [pad] + previous clicks or the box corners; keep them last
    has_box = labels[:, -1] == BOX_LABELS[1]
    tail = np.where(has_box, 2, 1)
    out_c = np.zeros((k, coords.shape[1] + 1, 2), np.float32)
    out_l = np.zeros((k, coords.shape[1] + 1), np.float32)
    for i in range(k):
        cut = coords.shape[1] - tail[i]
        out_c[i] = np.concatenate([coords[i, :cut], new_c[i], coords[i, cut:]])
        out_l[i] = np.concatenate([labels[i, :cut], new_l[i], labels[i, cut:]])
    return out_c, out_l


def _upscale_to_model(logits: torch.Tensor, size: int) -> np.ndarray:
    """(K, h, w) low-res logits -> (K, S, S) bool masks (bilinear, align_corners=False)."""
    up = F.interpolate(logits[:, None], (size, size), mode="bilinear", align_corners=False)
    return (up[:, 0] > 0).numpy()


def train_step(
    model: torch.nn.Module,
    cfg: TrainConfig,
    step: int,
    hooks: Sequence[LossHook] = (),
) -> tuple[torch.Tensor, dict[str, float]]:
    """Forward one training step and return (loss with gradient, logged scalars).

    The prompts of all images are decoded together (one decoder call per iteration, each
    prompt against its own image's embedding), which on a CPU costs far less per prompt than
    one call per image.
    """
    rng = np.random.default_rng([cfg.seed, step, 7])
    samples = [make_sample(s, cfg.image_size) for s in step_sample_seeds(cfg, step)]
    images = torch.from_numpy(np.stack([s[0] for s in samples])).permute(0, 3, 1, 2).float()
    embeddings = model.encode_image(images)
    low_hw = model.prompt_encoder.mask_input_size
    record = StepRecord(step, images, embeddings)
    parts = [initial_prompts(masks, rng, cfg) for _, masks in samples]
    image_index = np.concatenate([np.full(len(p[0]), b) for b, p in enumerate(parts)])
    gt = np.concatenate([samples[b][1][p[0]] for b, p in enumerate(parts)])
    coords = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    ambiguous = torch.from_numpy(np.concatenate([p[3] for p in parts]))
    target = downsample_target(torch.from_numpy(gt), low_hw)
    per_prompt_emb = embeddings[torch.from_numpy(image_index)]
    losses: list[torch.Tensor] = []
    sums: dict[str, float] = {}
    mask_input = None
    for it in range(cfg.click_iters + 1):
        pc, pl = torch.from_numpy(coords), torch.from_numpy(labels)
        low, iou = model.forward_prompts(per_prompt_emb, pc, pl, mask_input)
        amb = ambiguous if it == 0 else torch.zeros_like(ambiguous)
        out = promptable_loss(low, iou, target, amb)
        losses.append(out.total)
        record.decodes.append(DecodeRecord(image_index, pc, pl, mask_input, low, iou, target))
        for key, v in out.parts.items():
            sums[key] = sums.get(key, 0.0) + v
        if it == cfg.click_iters:
            break
        with torch.no_grad():
            chosen = low[torch.arange(len(low)), out.chosen].detach()
            pred = _upscale_to_model(chosen, cfg.image_size)
        coords, labels = add_clicks(coords, labels, pred, gt, rng)
        mask_input = chosen[:, None]
    loss = torch.stack(losses).mean()
    logged = {k: v / len(losses) for k, v in sums.items()}
    for hook in hooks:
        for name, term in hook(record).items():
            loss = loss + term
            logged[name] = float(term.detach())
    logged["loss"] = float(loss.detach())
    return loss, logged


@dataclass
class TrainResult:
    """Where a run left its outputs and how long it took."""

    final_checkpoint: Path
    log_path: Path
    seconds: float
    last_eval: dict[str, float]


def train(
    cfg: TrainConfig,
    hooks: Sequence[LossHook] = (),
    progress: Callable[[str], None] = print,
) -> TrainResult:
    """Run a full training and write checkpoints (official layout) and a JSON-lines log.

    Outputs under ``cfg.out_dir``: ``config.json``, ``log.jsonl`` (one line per logged step
    and per evaluation), ``step_XXXXXX.pth`` every ``checkpoint_every`` steps and ``final.pth``
    (float32 state dicts in the official ``vit_t`` layout).
    """
    from tinysam_export.checkpoint import load_model, save_state_dict
    from tinysam_export.modeling.build import build_sam

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    log_path = out / "log.jsonl"
    log_path.write_text("")
    if cfg.init_from:
        model = load_model(cfg.init_from, cfg.model, cfg.image_size)
    else:
        model = build_sam(cfg.model, cfg.image_size)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "bias" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "bias" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay}],
        lr=cfg.lr,
        weight_decay=0.0,
    )
    start = time.monotonic()
    last_eval: dict[str, float] = {}
    window: list[dict[str, float]] = []

    def log(entry: dict) -> None:
        with log_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    for step in range(cfg.steps):
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        loss, logged = train_step(model, cfg, step, hooks)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        opt.step()
        logged["grad_norm"] = gnorm
        window.append(logged)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
            entry = {"step": done, "lr": lr, "elapsed_s": time.monotonic() - start, **mean}
            log(entry)
            progress(json.dumps({k: float(f"{v:.4g}") for k, v in entry.items()}))
            window = []
        if done % cfg.eval_every == 0 or done == cfg.steps:
            last_eval = quick_eval(model, cfg.image_size, cfg.eval_images)
            log({"step": done, "elapsed_s": time.monotonic() - start, "eval": last_eval})
            progress(f"eval step {done}: {json.dumps(last_eval)}")
        if done % cfg.checkpoint_every == 0 and done != cfg.steps:
            save_state_dict(model, out / f"step_{done:06d}.pth")
    final = out / "final.pth"
    save_state_dict(model, final)
    return TrainResult(final, log_path, time.monotonic() - start, last_eval)
