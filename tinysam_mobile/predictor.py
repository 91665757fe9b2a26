"""``Predictor``: SamPredictor semantics over two graph sessions (encoder + prompt decoder).

``set_image`` runs the encoder once per image; ``predict`` answers any number of prompts from
the cached embedding. ``decode`` is the lower-level batched call everything mode uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BundleError, PromptError, StateError
from .image_io import ImageLike, load_image
from .manifest import load_manifest
from .postprocess import select_masks, threshold, upscale_logits
from .prompts import encode_prompt, prepare_mask_input
from .session import GraphSession, open_session
from .spec import MASK_THRESHOLD, PIXEL_MEAN, GraphName, ModelGeometry, decoder_spec, encoder_spec
from .transforms import preprocess, resized_hw


class Predictor:
    """Interactive segmentation with an image embedding computed once per image.

    Parameters
    ----------
    encoder, decoder
        Any :class:`~tinysam_mobile.session.GraphSession` (ONNX Runtime, a torch wrapper, a fake).
    geometry
        Encoder input size and derived sizes.
    pixel_mean
        Padding value of the encoder input (0..255 RGB).
    mask_threshold
        Logit threshold for binary masks.
    """

    def __init__(
        self,
        encoder: GraphSession,
        decoder: GraphSession,
        geometry: ModelGeometry | None = None,
        pixel_mean: Sequence[float] = PIXEL_MEAN,
        mask_threshold: float = MASK_THRESHOLD,
    ) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.geometry = geometry or ModelGeometry()
        self.pixel_mean = tuple(float(v) for v in pixel_mean)
        self.mask_threshold = float(mask_threshold)
        # Tensor names come from spec.py (written to the manifest), never retyped here.
        (self._enc_in,) = encoder_spec(self.geometry).input_names
        (self._enc_out,) = encoder_spec(self.geometry).output_names
        self._dec_in = decoder_spec(self.geometry).input_names
        self._dec_out = decoder_spec(self.geometry).output_names
        for what, session, want in (
            ("encoder", encoder, encoder_spec(self.geometry)),
            ("decoder", decoder, decoder_spec(self.geometry)),
        ):
            spec = getattr(session, "spec", None)
            if spec is not None and (
                spec.input_names != want.input_names or spec.output_names != want.output_names
            ):
                raise BundleError(
                    f"{what} session has inputs {spec.input_names} / outputs "
                    f"{spec.output_names}; the predictor needs {want.input_names} / "
                    f"{want.output_names}"
                )
        self.reset_image()

    @classmethod
    def from_bundle(
        cls,
        bundle_dir: str | Path,
        target: str = "onnx",
        precision: str = "fp32",
        threads: int | None = None,
    ) -> Predictor:
        """Open a bundle: read the manifest, verify both artifacts (sha256) and their signatures.

        Raises
        ------
        ManifestError, BundleError, MissingDependencyError
            Missing/invalid manifest, missing/truncated/tampered file, graph not matching the
            manifest, no artifact for ``(target, precision)``, runtime not installed.
        """
        manifest = load_manifest(bundle_dir)
        sessions = {}
        for g in (GraphName.ENCODER, GraphName.DECODER):
            art = manifest.artifact(target, precision, g)
            sessions[g] = open_session(bundle_dir, art, threads, spec=manifest.graphs[g])
        return cls(
            sessions[GraphName.ENCODER],
            sessions[GraphName.DECODER],
            manifest.geometry,
            manifest.pixel_mean,
            manifest.mask_threshold,
        )

    # -- image ---------------------------------------------------------------------------

    @property
    def image_size(self) -> int:
        """Side ``S`` of the square encoder input."""
        return self.geometry.image_size

    @property
    def is_image_set(self) -> bool:
        """Whether an image embedding is cached."""
        return self._embeddings is not None

    @property
    def original_hw(self) -> tuple[int, int]:
        """(H, W) of the current image."""
        self._require_image()
        assert self._original_hw is not None
        return self._original_hw

    @property
    def resized_hw(self) -> tuple[int, int]:
        """(h, w) of the current image resized into the model frame."""
        return resized_hw(self.original_hw, self.image_size)

    def set_image(self, image: ImageLike) -> None:
        """Load, preprocess and encode an image; caches its embedding.

        Parameters
        ----------
        image
            Path, PIL image or array, see :func:`~tinysam_mobile.image_io.load_image`.
        """
        rgb = load_image(image)
        x = preprocess(rgb, self.image_size, self.pixel_mean)
        out = self.encoder.run({self._enc_in: x})
        self._embeddings = np.asarray(out[self._enc_out], dtype=np.float32)
        self._original_hw = (int(rgb.shape[0]), int(rgb.shape[1]))

    def set_image_embedding(self, embeddings: np.ndarray, original_hw: tuple[int, int]) -> None:
        """Use a precomputed embedding (float32 (1, 256, h, w)) for an image of ``original_hw``."""
        emb = np.asarray(embeddings, dtype=np.float32)
        want = (1, *encoder_spec(self.geometry).outputs[0].shape[1:])
        if emb.shape != want:
            raise ValueError(f"embeddings must have shape {want}, got {emb.shape}")
        resized_hw(original_hw, self.image_size)  # validates the size
        self._embeddings = emb
        self._original_hw = (int(original_hw[0]), int(original_hw[1]))

    def get_image_embedding(self) -> np.ndarray:
        """The cached embedding, float32 (1, 256, h, w) (64x64 for image_size 1024)."""
        self._require_image()
        assert self._embeddings is not None
        return self._embeddings

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self._embeddings: np.ndarray | None = None
        self._original_hw: tuple[int, int] | None = None

    def _require_image(self) -> None:
        if self._embeddings is None:
            raise StateError("no image is set: call set_image(image) before predicting")

    # -- prompts -------------------------------------------------------------------------

    def predict(
        self,
        point_coords: Any = None,
        point_labels: Any = None,
        box: Any = None,
        mask_input: Any = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment the current image from one prompt (SamPredictor semantics).

        Parameters
        ----------
        point_coords
            (N, 2) x, y in original-image pixels, or ``None``.
        point_labels
            (N,) 1 foreground / 0 background, or ``None``.
        box
            (4,) x0, y0, x1, y1 in original-image pixels, or ``None``.
        mask_input
            Low-res logits of a previous call, (h, w) / (1, h, w) / (1, 1, h, w), or ``None``.
        multimask_output
            True: the three multimask tokens (1..3); False: the single-mask token 0.
        return_logits
            Return float32 logits instead of bool masks.

        Returns
        -------
        (masks, iou, low_res_logits)
            (C, H, W) bool (float32 if ``return_logits``) in the image frame, float32 (C,)
            predicted IoU, float32 (C, h, w) low-res logits (model frame); C = 3 or 1.
        """
        self._require_image()
        h, w = self.original_hw
        coords, labels = encode_prompt((h, w), self.image_size, point_coords, point_labels, box)
        mask, has_mask = prepare_mask_input(mask_input, self.geometry.low_res_hw)
        low_res, iou = self.decode(coords, labels, mask, has_mask)
        low_res, iou = select_masks(low_res, iou, multimask_output)
        low_res, iou = low_res[0], iou[0]
        logits = upscale_logits(low_res, self.resized_hw, (h, w), self.image_size)
        masks = logits if return_logits else threshold(logits, self.mask_threshold)
        return masks, iou.astype(np.float32), low_res.astype(np.float32)

    def decode(
        self,
        point_coords_model: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray | None = None,
        has_mask_input: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the decoder on a batch of already-encoded prompts.

        Parameters
        ----------
        point_coords_model
            float (B, N, 2) x, y in the model frame (padding/box corners included).
        point_labels
            float (B, N) labels (1, 0, 2, 3, -1).
        mask_input
            float (B, 1, h, w) low-res logits, or ``None`` (zeros).
        has_mask_input
            float (B,), 1.0 where ``mask_input`` is used; ``None``: 1.0 if ``mask_input`` is
            given, else 0.0.

        Returns
        -------
        (low_res_masks, iou)
            float32 (B, 4, h, w) logits of all four tokens and float32 (B, 4).
        """
        emb = self.get_image_embedding()
        coords = np.asarray(point_coords_model, dtype=np.float32)
        labels = np.asarray(point_labels, dtype=np.float32)
        if coords.ndim != 3 or coords.shape[2] != 2:
            raise PromptError(f"point_coords_model must be (B, N, 2), got {coords.shape}")
        if labels.shape != coords.shape[:2]:
            raise PromptError(
                f"point_labels must be (B, N) = {coords.shape[:2]}, got {labels.shape}"
            )
        b = coords.shape[0]
        lh, lw = self.geometry.low_res_hw
        if mask_input is None:
            mask = np.zeros((b, 1, lh, lw), np.float32)
            has = np.zeros((b,), np.float32) if has_mask_input is None else has_mask_input
        else:
            mask = np.asarray(mask_input, dtype=np.float32)
            if mask.shape != (b, 1, lh, lw):
                raise PromptError(f"mask_input must be {(b, 1, lh, lw)}, got {mask.shape}")
            has = np.ones((b,), np.float32) if has_mask_input is None else has_mask_input
        has = np.asarray(has, dtype=np.float32)
        if has.shape != (b,):
            raise PromptError(f"has_mask_input must be ({b},), got {has.shape}")
        names = self._dec_in
        out = self.decoder.run(dict(zip(names, (emb, coords, labels, mask, has), strict=True)))
        low_res = np.asarray(out[self._dec_out[0]], dtype=np.float32)
        iou = np.asarray(out[self._dec_out[1]], dtype=np.float32)
        return low_res, iou
