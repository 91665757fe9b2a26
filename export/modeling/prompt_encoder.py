"""SAM prompt encoder: points, boxes and a previous mask -> sparse and dense embeddings."""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d, PositionEmbeddingRandom


class PromptEncoder(nn.Module):
    """Encodes prompts for the mask decoder (official SAM interface and checkpoint keys).

    Point labels: 1 foreground, 0 background, 2 / 3 top-left / bottom-right box corner,
    -1 padding ("not a point"; its coordinates are ignored). Coordinates are (x, y) pixels in
    the model frame (the resized, padded ``input_image_size`` image).

    Parameters
    ----------
    embed_dim
        Channels of every prompt embedding.
    image_embedding_size
        (H, W) of the image embedding grid.
    input_image_size
        (H, W) of the padded encoder input.
    mask_in_chans
        Hidden channels of the mask downscaling convs.
    activation
        Activation of the mask downscaling.
    """

    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = tuple(input_image_size)
        self.image_embedding_size = tuple(image_embedding_size)
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.num_point_embeddings = 4  # negative, positive, box corner 1, box corner 2
        self.point_embeddings = nn.ModuleList(
            nn.Embedding(1, embed_dim) for _ in range(self.num_point_embeddings)
        )
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the embedding grid: (1, embed_dim, H, W) float32."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def embed_points(
        self, points_xy_model: torch.Tensor, labels: torch.Tensor, pad: bool
    ) -> torch.Tensor:
        """Embed labelled points.

        Parameters
        ----------
        points_xy_model
            (B, N, 2) float, (x, y) pixels in the model frame.
        labels
            (B, N) float or int: 1, 0, 2, 3 or -1 (see the class docstring).
        pad
            Append one "not a point" (label -1), as SAM does for prompts without a box.

        Notes
        -----
        Labels 2 and 3 get the box-corner embeddings, so two corners passed as points equal
        :meth:`embed_boxes` (the official ``_embed_points`` leaves 2 / 3 without an embedding
        and only reaches them through its box path). Labels outside {-1, 0, 1, 2, 3} get the
        positional encoding alone.

        Returns
        -------
        torch.Tensor
            (B, N + pad, embed_dim) float32.
        """
        points = points_xy_model.to(torch.float32) + 0.5  # pixel centres
        if pad:
            b = points.shape[0]
            points = torch.cat([points, points.new_zeros((b, 1, 2))], dim=1)
            labels = torch.cat([labels, -labels.new_ones((b, 1))], dim=1)
        pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
        labels = labels.unsqueeze(-1)
        is_pad = labels == -1
        out = torch.where(is_pad, self.not_a_point_embed.weight, pe)
        for i, emb in enumerate(self.point_embeddings):
            out = out + (labels == i).to(out.dtype) * emb.weight
        return out

    def embed_boxes(self, boxes_xyxy_model: torch.Tensor) -> torch.Tensor:
        """Embed boxes (B, 4) float XYXY model frame as two corners; returns (B, 2, embed_dim)."""
        corners = boxes_xyxy_model.to(torch.float32).reshape(-1, 2, 2) + 0.5
        pe = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        corner_embed = torch.cat(
            [self.point_embeddings[2].weight, self.point_embeddings[3].weight], dim=0
        )  # (2, C)
        return pe + corner_embed

    def embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Embed mask logits (B, 1, 4H, 4W) float; returns (B, embed_dim, H, W)."""
        if tuple(masks.shape[-2:]) != self.mask_input_size:
            raise ValueError(
                f"mask input must be {self.mask_input_size[0]}x{self.mask_input_size[1]}, "
                f"got {tuple(masks.shape[-2:])}"
            )
        return self.mask_downscaling(masks)

    def no_mask_dense(self, batch: int) -> torch.Tensor:
        """Dense embedding used when there is no mask input: (batch, embed_dim, H, W)."""
        h, w = self.image_embedding_size
        return self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, h, w)

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed prompts (official SAM semantics).

        Parameters
        ----------
        points
            ``(coords (B, N, 2), labels (B, N))`` in the model frame, or None. Without
            ``boxes`` a padding point is appended.
        boxes
            (B, 4) XYXY in the model frame, or None.
        masks
            (B, 1, 4H, 4W) low-res mask logits, or None.

        Returns
        -------
        sparse
            (B, N_tokens, embed_dim) float32: point tokens then box corners.
        dense
            (B, embed_dim, H, W) float32.
        """
        if points is not None:
            bs = points[0].shape[0]
        elif boxes is not None:
            bs = boxes.shape[0]
        elif masks is not None:
            bs = masks.shape[0]
        else:
            bs = 1
        device = self.point_embeddings[0].weight.device
        parts = [torch.empty((bs, 0, self.embed_dim), device=device)]
        if points is not None:
            coords, labels = points
            parts.append(self.embed_points(coords, labels, pad=boxes is None))
        if boxes is not None:
            parts.append(self.embed_boxes(boxes))
        sparse = torch.cat(parts, dim=1)
        dense = self.embed_masks(masks) if masks is not None else self.no_mask_dense(bs)
        return sparse, dense
