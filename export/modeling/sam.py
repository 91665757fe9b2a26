"""The promptable segmentation model: image encoder + prompt encoder + mask decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder


class Sam(nn.Module):
    """SAM-style model (``vit_t``: TinySAM / MobileSAM) with the official sub-module interfaces.

    ``pixel_mean`` / ``pixel_std`` are buffers (3, 1, 1) float32 that are not saved in the
    state dict (the official checkpoints do not contain them).

    Besides the official sub-modules, it offers the calls the exporter and the trainer share:

    - :meth:`encode_image`: padded 0..255 image -> embeddings (normalises inside);
    - :meth:`forward_prompts`: embeddings + already-padded points (labels 1/0/2/3/-1) + an
      optional previous mask gated by ``has_mask_input`` -> all four tokens' logits and IoU.
      This is the decoder-graph contract of ``tinysam_mobile.spec.decoder_spec``;
    - :meth:`forward`: both in one call (training).

    Parameters
    ----------
    image_encoder
        Normalised (N, 3, S, S) -> (N, C, S/16, S/16); must have ``img_size``.
    prompt_encoder, mask_decoder
        The SAM prompt encoder and mask decoder.
    pixel_mean, pixel_std
        RGB normalisation on the 0..255 scale.
    """

    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(
        self,
        image_encoder: nn.Module,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.register_buffer(
            "pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1), False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1), False
        )

    @property
    def image_size(self) -> int:
        """Side ``S`` of the square encoder input."""
        return int(self.image_encoder.img_size)

    @property
    def device(self) -> torch.device:
        """Device of the model's buffers."""
        return self.pixel_mean.device

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``(images - pixel_mean) / pixel_std`` for (N, 3, H, W) float RGB on 0..255."""
        return (images - self.pixel_mean) / self.pixel_std

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Image embeddings.

        Parameters
        ----------
        images
            (N, 3, S, S) float32 RGB on 0..255, resized so the longest side is ``S`` and
            padded bottom/right with ``pixel_mean`` (which normalises to 0, the official
            zero padding).

        Returns
        -------
        torch.Tensor
            (N, 256, S/16, S/16) float32.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, S, S), got {tuple(images.shape)}")
        return self.image_encoder(self.normalize(images))

    def forward_prompts(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor | None = None,
        has_mask_input: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode B prompts against one image embedding (or one embedding per prompt).

        Points are used exactly as given (no padding point is added): the caller encodes a
        box as two corners labelled 2 and 3 and pads a prompt without a box with one point
        (0, 0) labelled -1, as ``tinysam_mobile.prompts.encode_prompt`` does. This equals the
        official ``PromptEncoder.forward`` with ``points`` / ``boxes``.

        Parameters
        ----------
        image_embeddings
            (1, C, h, w) float32 (shared) or (B, C, h, w).
        point_coords
            (B, N, 2) float32, (x, y) pixels in the model frame.
        point_labels
            (B, N) float32: 1, 0, 2, 3 or -1.
        mask_input
            (B, 1, 4h, 4w) float32 low-res logits of a previous prediction, or None.
        has_mask_input
            (B,) float32, 1.0 where ``mask_input`` is used and 0.0 where the no-mask
            embedding is used instead; None means all ones when ``mask_input`` is given.

        Returns
        -------
        low_res_masks
            (B, 4, 4h, 4w) float32 logits; token 0 is the single-mask output, 1..3 the
            multimask outputs.
        iou_predictions
            (B, 4) float32.
        """
        b = point_coords.shape[0]
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels, pad=False)
        no_mask = self.prompt_encoder.no_mask_dense(b)
        if mask_input is None:
            dense = no_mask
        else:
            mask_embed = self.prompt_encoder.embed_masks(mask_input)
            if has_mask_input is None:
                dense = mask_embed
            else:
                gate = has_mask_input.to(mask_embed.dtype).reshape(-1, 1, 1, 1)
                dense = gate * mask_embed + (1.0 - gate) * no_mask
        return self.mask_decoder.predict_masks(
            image_embeddings, self.prompt_encoder.get_dense_pe(), sparse, dense
        )

    def forward(
        self,
        images: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor | None = None,
        has_mask_input: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode_image` then :meth:`forward_prompts`.

        ``images`` is (1, 3, S, S) (shared by all B prompts) or (B, 3, S, S); the other
        arguments and the returns are as in :meth:`forward_prompts`.
        """
        return self.forward_prompts(
            self.encode_image(images), point_coords, point_labels, mask_input, has_mask_input
        )
