"""TinyViT image encoder with the SAM neck (MobileSAM / TinySAM ``vit_t``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .common import LayerNorm2d
from .tiny_vit_blocks import BasicLayer, ConvLayer, PatchEmbed, PatchMerging


def stage_resolutions(image_size: int, num_stages: int) -> list[tuple[int, int]]:
    """Token grid of every stage for a square ``image_size`` input.

    The patch embedding divides the side by 4; every patch merge halves it except the merge
    into the last stage, which keeps it (stride 1), so the output grid is ``image_size / 16``
    for four stages.
    """
    side = image_size // 4
    out = []
    for i in range(num_stages):
        out.append((side, side))
        if i < num_stages - 2:
            side //= 2
    return out


class TinyViT(nn.Module):
    """TinyViT backbone + SAM neck: normalised image (B, 3, S, S) -> embeddings (B, 256, S/16, S/16).

    The classification head of the original TinyViT (``norm_head``, ``head``) is not part of
    this module: the segmentation model never uses it. The official checkpoints carry it; the
    loader drops those keys and :func:`tinysam_export.checkpoint.save_state_dict` writes
    placeholders of :attr:`head_shapes` so the saved file keeps the official layout.

    Parameters
    ----------
    img_size
        Side ``S`` of the square input; must be a multiple of 16. Nothing learned depends on
        it (attention biases depend on the window size), so weights trained at 1024 load
        into any size.
    in_chans
        Input channels.
    embed_dims, depths, num_heads, window_sizes
        Per-stage channels, block counts, heads and attention windows.
    mlp_ratio
        Hidden/input width of the MLP in attention blocks.
    drop_rate, drop_path_rate
        Dropout in the MLPs and the maximum stochastic-depth rate (linear over blocks).
    mbconv_expand_ratio
        Expansion of the MBConv blocks of the first stage.
    local_conv_size
        Kernel of the depthwise conv inside each attention block.
    out_chans
        Channels of the neck output (the SAM embedding width).
    head_classes
        Output width of the unused classification head, for :attr:`head_shapes`.
    """

    def __init__(
        self,
        img_size: int,
        in_chans: int,
        embed_dims: Sequence[int],
        depths: Sequence[int],
        num_heads: Sequence[int],
        window_sizes: Sequence[int],
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        mbconv_expand_ratio: float = 4.0,
        local_conv_size: int = 3,
        out_chans: int = 256,
        head_classes: int = 1000,
    ) -> None:
        super().__init__()
        n = len(depths)
        if not (len(embed_dims) == len(num_heads) == len(window_sizes) == n) or n < 2:
            raise ValueError(
                "embed_dims, depths, num_heads and window_sizes need one entry per stage"
            )
        if img_size <= 0 or img_size % 16:
            raise ValueError(f"img_size must be a positive multiple of 16, got {img_size}")
        self.img_size = img_size
        self.embed_dims = tuple(embed_dims)
        self.head_classes = head_classes
        resolutions = stage_resolutions(img_size, n)
        self.output_hw = resolutions[-1]

        self.patch_embed = PatchEmbed(in_chans, embed_dims[0])
        total = sum(depths)
        dpr = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]

        self.layers = nn.ModuleList()
        for i in range(n):
            rates = dpr[sum(depths[:i]) : sum(depths[: i + 1])]
            downsample = None
            if i < n - 1:
                stride = 2 if resolutions[i + 1][0] < resolutions[i][0] else 1
                downsample = PatchMerging(resolutions[i], embed_dims[i], embed_dims[i + 1], stride)
            if i == 0:
                layer: nn.Module = ConvLayer(
                    embed_dims[0], depths[0], rates, downsample, mbconv_expand_ratio
                )
            else:
                layer = BasicLayer(
                    embed_dims[i],
                    resolutions[i],
                    depths[i],
                    num_heads[i],
                    window_sizes[i],
                    mlp_ratio,
                    drop_rate,
                    rates,
                    local_conv_size,
                    downsample,
                )
            self.layers.append(layer)

        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )
        self.apply(_init_weights)

    @property
    def head_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the official checkpoints' unused classification head, keyed relative to
        this module (``norm_head.weight`` ...)."""
        c = self.embed_dims[-1]
        return {
            "norm_head.weight": (c,),
            "norm_head.bias": (c,),
            "head.weight": (self.head_classes, c),
            "head.bias": (self.head_classes,),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``x`` (B, 3, S, S) float32, already normalised; returns (B, out_chans, S/16, S/16)."""
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(
                f"expected input of {self.img_size}x{self.img_size}, got {tuple(x.shape[-2:])}"
            )
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        h, w = self.output_hw
        x = x.transpose(1, 2).reshape(x.shape[0], -1, h, w)  # tokens -> (B, C, H, W)
        return self.neck(x)


def _init_weights(m: nn.Module) -> None:
    """TinyViT initialisation: truncated-normal linear weights, unit LayerNorm."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
