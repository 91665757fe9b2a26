"""Stages of the TinyViT image encoder (the ``vit_t`` backbone of MobileSAM / TinySAM).

Tokens flow between the attention stages as (B, H*W, C) float tensors, row-major over the
(H, W) grid; the resolution of each stage is fixed when the model is built (it follows from
``image_size``).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F

from .common import Conv2dBN, DropPath


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 conv+BN layers with GELU between: (B, 3, S, S) -> (B, C, S/4, S/4)."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            Conv2dBN(in_chans, embed_dim // 2, 3, 2, 1),
            nn.GELU(),
            Conv2dBN(embed_dim // 2, embed_dim, 3, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` (B, 3, S, S); returns (B, embed_dim, S/4, S/4)."""
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual block (1x1 expand, 3x3 depthwise, 1x1 project) on NCHW maps."""

    def __init__(self, chans: int, expand_ratio: float, drop_path: float) -> None:
        super().__init__()
        hidden = int(chans * expand_ratio)
        self.conv1 = Conv2dBN(chans, hidden, 1)
        self.act1 = nn.GELU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act2 = nn.GELU()
        self.conv3 = Conv2dBN(hidden, chans, 1, bn_weight_init=0.0)
        self.act3 = nn.GELU()
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (B, C, H, W); returns the same shape."""
        y = self.act1(self.conv1(x))
        y = self.act2(self.conv2(y))
        y = self.conv3(y)
        return self.act3(x + self.drop_path(y))


class PatchMerging(nn.Module):
    """1x1 conv, 3x3 depthwise conv (stride 2 or 1), 1x1 conv; outputs tokens (B, H'*W', C').

    MobileSAM / TinySAM keep the resolution of the last stage: the merge into that stage uses
    stride 1 (the official code keys this on the output width; here it is an argument).

    Parameters
    ----------
    input_hw
        Grid of the incoming tokens (used when they arrive as (B, H*W, C)).
    dim, out_dim
        Channels in and out.
    stride
        Stride of the depthwise conv (2 halves the grid, 1 keeps it).
    """

    def __init__(self, input_hw: tuple[int, int], dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.input_hw = input_hw
        self.conv1 = Conv2dBN(dim, out_dim, 1, 1, 0)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim, 1, 1, 0)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Merge ``x`` (B, C, H, W) or (B, H*W, C); returns tokens (B, H'*W', out_dim)."""
        if x.ndim == 3:
            h, w = self.input_hw
            x = x.transpose(1, 2).reshape(x.shape[0], -1, h, w)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class ConvLayer(nn.Module):
    """First TinyViT stage: MBConv blocks then an optional patch merge."""

    def __init__(
        self,
        dim: int,
        depth: int,
        drop_path: list[float],
        downsample: PatchMerging | None,
        conv_expand_ratio: float,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            MBConv(dim, conv_expand_ratio, drop_path[i]) for i in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (B, C, H, W); returns tokens (B, H'*W', C') or the map if no merge."""
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)


class Mlp(nn.Module):
    """Pre-norm feed-forward block of a TinyViT block (keys ``norm``, ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (..., dim); returns the same shape."""
        x = self.drop(self.act(self.fc1(self.norm(x))))
        return self.drop(self.fc2(x))


def relative_offset_index(window: int) -> tuple[torch.Tensor, int]:
    """Index of the |dy|, |dx| offset of every pair of positions in a ``window`` x ``window`` grid.

    Returns
    -------
    index
        (window**2, window**2) int64 into the table of distinct offsets, numbered in
        order of first appearance when scanning pairs row-major (the TinyViT convention the
        checkpoints' ``attention_biases`` columns follow).
    num_offsets
        Number of distinct offsets (``window**2`` for a square window).
    """
    points = list(itertools.product(range(window), range(window)))
    table: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            idxs.append(table.setdefault(off, len(table)))
    n = len(points)
    return torch.tensor(idxs, dtype=torch.long).view(n, n), len(table)


class Attention(nn.Module):
    """Multi-head self-attention within one window, with a learned relative-position bias.

    The bias for every pair of positions is gathered from ``attention_biases`` (num_heads,
    num_offsets) on each call. The official code caches the gathered table (``ab``) when the
    module switches to eval mode, which goes stale if weights are loaded afterwards; gathering
    each call costs a few microseconds and cannot go stale.

    Parameters
    ----------
    dim
        Token channels.
    num_heads
        Heads; ``dim`` must be divisible by it.
    window
        Side of the square window (tokens per call: ``window**2``).
    """

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        idx, num_offsets = relative_offset_index(window)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, num_offsets))
        self.register_buffer("attention_bias_idxs", idx, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend within ``x`` (B, N, dim), N = window**2; returns (B, N, dim)."""
        b, n, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, 3 * self.head_dim)
        q, k, v = qkv.permute(0, 2, 1, 3).split(self.head_dim, dim=3)  # (B, heads, N, d) each
        bias = self.attention_biases[:, self.attention_bias_idxs]  # (heads, N, N)
        attn = (q @ k.transpose(-2, -1)) * self.scale + bias
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, -1)
        return self.proj(out)


class TinyViTBlock(nn.Module):
    """Window attention, residual, 3x3 depthwise conv+BN, residual MLP.

    Parameters
    ----------
    dim
        Token channels.
    input_hw
        Token grid (H, W); grids not divisible by the window are zero-padded bottom/right for
        attention and cropped back.
    num_heads, window_size, mlp_ratio, drop, drop_path, local_conv_size
        As in TinyViT.
    """

    def __init__(
        self,
        dim: int,
        input_hw: tuple[int, int],
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        drop: float,
        drop_path: float,
        local_conv_size: int,
    ) -> None:
        super().__init__()
        self.input_hw = input_hw
        self.window_size = window_size
        self.attn = Attention(dim, num_heads, window_size)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.local_conv = Conv2dBN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)
        self.drop_path = DropPath(drop_path)

    def _window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention over non-overlapping windows of ``x`` (B, H*W, C); returns the same shape."""
        h, w = self.input_hw
        ws = self.window_size
        b, length, c = x.shape
        if h == ws and w == ws:
            return self.attn(x)
        x = x.view(b, h, w, c)
        pad_b = (ws - h % ws) % ws
        pad_r = (ws - w % ws) % ws
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        ph, pw = h + pad_b, w + pad_r
        nh, nw = ph // ws, pw // ws
        x = x.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
        x = self.attn(x)
        x = x.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
        if pad_b or pad_r:
            x = x[:, :h, :w]
        return x.reshape(b, length, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to tokens ``x`` (B, H*W, C); returns the same shape."""
        h, w = self.input_hw
        b, length, c = x.shape
        if length != h * w:
            raise ValueError(f"expected {h}x{w}={h * w} tokens, got {length}")
        x = x + self.drop_path(self._window_attention(x))
        x = self.local_conv(x.transpose(1, 2).reshape(b, c, h, w))
        x = x.view(b, c, length).transpose(1, 2)
        return x + self.drop_path(self.mlp(x))


class BasicLayer(nn.Module):
    """One attention stage of TinyViT: ``depth`` blocks then an optional patch merge."""

    def __init__(
        self,
        dim: int,
        input_hw: tuple[int, int],
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        drop: float,
        drop_path: list[float],
        local_conv_size: int,
        downsample: PatchMerging | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(
                dim,
                input_hw,
                num_heads,
                window_size,
                mlp_ratio,
                drop,
                drop_path[i],
                local_conv_size,
            )
            for i in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to tokens ``x`` (B, H*W, C); returns tokens of the next stage."""
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)
