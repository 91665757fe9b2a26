"""SAM mask decoder: image embedding + prompt tokens -> mask logits and predicted IoU."""

from __future__ import annotations

import torch
from torch import nn

from .common import MLP, LayerNorm2d


class MaskDecoder(nn.Module):
    """Predicts masks from an image embedding and prompt embeddings (official SAM keys).

    Parameters
    ----------
    transformer_dim
        Channels of the image embedding and of the tokens.
    transformer
        The :class:`~tinysam_export.modeling.transformer.TwoWayTransformer`.
    num_multimask_outputs
        Masks predicted for ambiguous prompts; one more token gives the single-mask output.
    activation
        Activation of the output upscaling.
    iou_head_depth, iou_head_hidden_dim
        Layers and width of the IoU prediction MLP.
    """

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict masks (official SAM interface).

        Parameters
        ----------
        image_embeddings
            (1, C, H, W) float32, broadcast over the B prompts, or (B, C, H, W) one per prompt.
        image_pe
            (1, C, H, W) positional encoding (``PromptEncoder.get_dense_pe()``).
        sparse_prompt_embeddings
            (B, N, C) point / box tokens.
        dense_prompt_embeddings
            (B, C, H, W) mask embedding (or the no-mask embedding).
        multimask_output
            True: the three multimask outputs (tokens 1..3, what TinySAM's predictor always
            returns); False: token 0, SAM's single-mask output.

        Returns
        -------
        masks
            (B, 3 or 1, 4H, 4W) float32 low-res mask logits.
        iou_pred
            (B, 3 or 1) float32 predicted IoU.
        """
        masks, iou_pred = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
        )
        sl = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, sl], iou_pred[:, sl]

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All mask tokens: returns masks (B, 4, 4H, 4W) and iou_pred (B, 4), token 0 first.

        Inputs as in :meth:`forward`. A single image embedding is repeated over the prompts
        with ``repeat_interleave``, as in the official code.
        """
        b = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(b, -1, -1)
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)

        if image_embeddings.shape[0] == 1:
            src = torch.repeat_interleave(image_embeddings, b, dim=0)
        elif image_embeddings.shape[0] == b:
            src = image_embeddings
        else:
            raise ValueError(
                f"image_embeddings has batch {image_embeddings.shape[0]}; expected 1 "
                f"(shared by all prompts) or {b} (one per prompt)"
            )
        src = src + dense_prompt_embeddings
        pos_src = torch.repeat_interleave(image_pe, b, dim=0)
        _, c, h, w = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]

        upscaled = self.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )  # (B, num_mask_tokens, C/8)
        _, cu, hu, wu = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(b, cu, hu * wu)).reshape(b, -1, hu, wu)
        iou_pred = self.iou_prediction_head(iou_token_out)
        return masks, iou_pred
