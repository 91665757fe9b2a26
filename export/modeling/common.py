"""Small building blocks shared by the image encoder, the prompt encoder and the mask decoder.

Parameter names follow the official TinySAM / MobileSAM ``vit_t`` checkpoint layout (for
example :class:`Conv2dBN` keeps its children as ``c`` and ``bn``), so that the checkpoints load
with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channel axis of an NCHW tensor.

    Parameters
    ----------
    num_channels
        ``C`` of the input.
    eps
        Added to the variance before the square root.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (B, C, H, W) float over C; returns the same shape."""
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        var = centred.pow(2).mean(1, keepdim=True)
        x = centred / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLPBlock(nn.Module):
    """Two linear layers with an activation in between (the transformer's feed-forward block).

    Parameters
    ----------
    embedding_dim
        Input and output features.
    mlp_dim
        Hidden features.
    act
        Activation class, instantiated once.
    """

    def __init__(self, embedding_dim: int, mlp_dim: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (..., embedding_dim); returns the same shape."""
        return self.lin2(self.act(self.lin1(x)))


class MLP(nn.Module):
    """A stack of ``num_layers`` linear layers with ReLU between them (not after the last).

    Used by the mask decoder's hypernetworks and IoU head (keys ``layers.<i>.weight``).

    Parameters
    ----------
    input_dim, hidden_dim, output_dim
        Feature sizes of the first input, the hidden layers and the output.
    num_layers
        Number of linear layers (>= 1).
    sigmoid_output
        Apply a sigmoid to the output.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims_in, dims_out, strict=True))
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (..., input_dim); returns (..., output_dim)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = F.relu(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class Conv2dBN(nn.Sequential):
    """A bias-free ``Conv2d`` (child ``c``) followed by ``BatchNorm2d`` (child ``bn``).

    Parameters
    ----------
    in_chans, out_chans
        Channels in and out.
    kernel_size, stride, padding, groups
        As for :class:`torch.nn.Conv2d`.
    bn_weight_init
        Initial BatchNorm scale (0 makes a residual branch start as the identity).
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.add_module(
            "c",
            nn.Conv2d(in_chans, out_chans, kernel_size, stride, padding, groups=groups, bias=False),
        )
        bn = nn.BatchNorm2d(out_chans)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.zeros_(bn.bias)
        self.add_module("bn", bn)


class DropPath(nn.Module):
    """Stochastic depth: zero a residual branch per sample with probability ``drop_prob``.

    Identity in eval mode and when ``drop_prob`` is 0 (the ``vit_t`` default).
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (B, ...); returns the same shape."""
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        """Show the drop probability in ``repr``."""
        return f"drop_prob={self.drop_prob}"


class PositionEmbeddingRandom(nn.Module):
    """Positional encoding with random Gaussian spatial frequencies (SAM).

    The frequency matrix is a persistent buffer
    (``positional_encoding_gaussian_matrix``, (2, num_pos_feats) float32), so it comes from
    the checkpoint.

    Parameters
    ----------
    num_pos_feats
        Frequencies; the encoding has ``2 * num_pos_feats`` channels (sin and cos).
    scale
        Standard deviation of the initial frequencies (values <= 0 mean 1).
    """

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.register_buffer(
            "positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats))
        )

    def _encode(self, coords_unit: torch.Tensor) -> torch.Tensor:
        """Encode (..., 2) float coordinates in [0, 1] (x, y); returns (..., 2 * num_pos_feats)."""
        proj = (2.0 * coords_unit - 1.0) @ self.positional_encoding_gaussian_matrix
        proj = (2.0 * math.pi) * proj
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)

    def forward(self, size_hw: tuple[int, int]) -> torch.Tensor:
        """Encode the centres of an ``size_hw`` grid; returns (2 * num_pos_feats, H, W) float32."""
        h, w = size_hw
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        grid = torch.stack(
            [xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)], dim=-1
        )  # (H, W, 2) as (x, y)
        return self._encode(grid).permute(2, 0, 1)

    def forward_with_coords(
        self, coords_xy: torch.Tensor, image_size_hw: tuple[int, int]
    ) -> torch.Tensor:
        """Encode pixel coordinates.

        Parameters
        ----------
        coords_xy
            (..., 2) float, (x, y) in pixels of the ``image_size_hw`` frame.
        image_size_hw
            (height, width) of that frame.

        Returns
        -------
        torch.Tensor
            (..., 2 * num_pos_feats) float32.
        """
        h, w = image_size_hw
        size_xy = torch.tensor([float(w), float(h)], device=coords_xy.device)
        return self._encode(coords_xy.to(torch.float32) / size_xy)
