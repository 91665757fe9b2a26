"""Large precomputed tables rebuilt inside the exported graphs, so no graph file stores them.

Two tables of the model are pure functions of small parameters but large once expanded, and
every exporter folds them into constants of the graph file (ONNX's and onnxslim's constant
folding, coremltools' ``const_elimination``):

- TinyViT's attention-bias tables ``attention_biases[:, attention_bias_idxs]`` (heads, N, N),
  gathered from a (heads, N) parameter with an (N, N) int64 index. At image size 1024: six
  (5, 196, 196) and four (4 or 10, 49, 49) tables, 4.9 MB as float32 (1.4 MB as int8).
- The decoder's dense positional encoding ``PromptEncoder.get_dense_pe()`` (1, 256, h, w),
  sin / cos of the embedding grid times the (2, 128) Gaussian frequency matrix: 4.2 MB as
  float32 at 1024 (1 MB as int8).

The graph wrappers (:mod:`tinysam_export.graphs`) compute them in the graph instead, from
inputs that no exporter can fold: :func:`runtime_zero` is an exact zero that depends on the
*value* of a graph input (``v < v`` is false for every float, NaN and inf included), and it is
added to the small index vectors the tables are built from. The graphs keep only the small
parameters (a (heads, N) bias table, the (2, 128) matrix) and a few vectors of length N or h.

Cost at run time: one gather of heads x N x N per attention window size and call, and for the
positional encoding 2 x h x 128 sines / cosines plus four (h, w, 128) products (the
angle-sum identity below), not 256 x h x w sines.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn


def runtime_zero(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A one-element zero of ``dtype`` that depends on the value of ``x``.

    ``v < v`` is false for every value of ``v`` (NaN and inf included), so the result is
    always exactly zero, but an exporter cannot evaluate it without running the graph: the
    tables computed from it stay computations instead of becoming constants.

    Parameters
    ----------
    x
        Any tensor the graph receives at run time (an input or an activation).
    dtype
        dtype of the result.

    Returns
    -------
    torch.Tensor
        (1,) zero of ``dtype``.
    """
    v = x.reshape(-1)[:1]
    return torch.lt(v, v).to(dtype)


def offset_index(num_tokens: int, zero: torch.Tensor) -> torch.Tensor:
    """TinyViT's relative-offset index of a square window, computed from ``zero``.

    For tokens ``i = r * W + c`` of a W x W window, the index of the pair (i, j) is
    ``|r_i - r_j| * W + |c_i - c_j|``: offsets numbered in order of first appearance when
    scanning pairs row-major (:func:`tinysam_export.modeling.tiny_vit_blocks.relative_offset_index`;
    the first row of pairs already meets every offset, in that order).

    Parameters
    ----------
    num_tokens
        ``N = W * W``.
    zero
        (1,) zero from :func:`runtime_zero` (any dtype; the index is computed in float32).

    Returns
    -------
    torch.Tensor
        (N, N) int64.
    """
    window = math.isqrt(num_tokens)
    if window * window != num_tokens:
        raise ValueError(f"attention window of {num_tokens} tokens is not square")
    # float32 arithmetic (exact for these small integers): TFLite has no integer ``Abs``
    pos = torch.arange(num_tokens, dtype=torch.int64)
    zero = zero.to(torch.float32)
    rows = (pos // window).to(torch.float32) + zero
    cols = (pos % window).to(torch.float32) + zero
    dr = (rows[:, None] - rows[None, :]).abs()
    dc = (cols[:, None] - cols[None, :]).abs()
    return (dr * window + dc).to(torch.int64)


def attention_index_sizes(encoder: nn.Module) -> dict[str, int]:
    """Buffer name -> window tokens N of every ``attention_bias_idxs`` buffer in ``encoder``.

    Raises
    ------
    ValueError
        A buffer that :func:`offset_index` does not reproduce (the rewrite would change the
        model's numerics).
    """
    sizes: dict[str, int] = {}
    for name, buf in encoder.named_buffers():
        if not name.endswith("attention_bias_idxs"):
            continue
        n = int(buf.shape[0])
        expected = offset_index(n, torch.zeros(1, dtype=torch.int64))
        if tuple(buf.shape) != (n, n) or not torch.equal(buf.cpu(), expected):
            raise ValueError(f"{name} is not TinyViT's |dy| * W + |dx| offset index")
        sizes[name] = n
    return sizes


@contextlib.contextmanager
def supplied_buffers(module: nn.Module, values: dict[str, torch.Tensor]) -> Iterator[None]:
    """Within the block, the named buffers of ``module`` are ``values`` (restored on exit).

    What ``torch.func.functional_call`` does, which refuses to run under ``torch.jit.trace``
    (the CoreML target traces). The values equal the buffers they stand in for, so a forward
    running meanwhile elsewhere computes the same.
    """
    saved: list[tuple[dict[str, torch.Tensor | None], str, torch.Tensor | None]] = []
    try:
        for name, value in values.items():
            owner_name, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_name)
            if leaf not in owner._buffers:
                raise KeyError(f"{name} is not a buffer of {type(module).__name__}")
            saved.append((owner._buffers, leaf, owner._buffers[leaf]))
            owner._buffers[leaf] = value
        yield
    finally:
        for buffers, leaf, old in reversed(saved):
            buffers[leaf] = old


def axis_encodings(
    gaussian: torch.Tensor, size_hw: tuple[int, int], zero: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Sines and cosines of the dense positional encoding along each axis, from ``zero``.

    ``PositionEmbeddingRandom`` encodes the grid centre (x, y) in [0, 1] as
    ``sin / cos(2 pi ((2x - 1) g_x + (2y - 1) g_y))`` with ``g = gaussian`` (2, F); the angle
    is a sum of an x part and a y part, each a product (no ``MatMul``, so no INT8 pass
    quantises the frequencies).

    Parameters
    ----------
    gaussian
        (2, F) float32 frequency matrix (``positional_encoding_gaussian_matrix``).
    size_hw
        (h, w) of the embedding grid.
    zero
        (1,) float32 zero from :func:`runtime_zero`.

    Returns
    -------
    tuple of torch.Tensor
        ``sin_x``, ``cos_x`` (w, F) and ``sin_y``, ``cos_y`` (h, F), float32.
    """
    h, w = size_hw
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w + zero
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h + zero
    angle_x = (2.0 * math.pi) * ((2.0 * xs - 1.0)[:, None] * gaussian[0][None, :])
    angle_y = (2.0 * math.pi) * ((2.0 * ys - 1.0)[:, None] * gaussian[1][None, :])
    return angle_x.sin(), angle_x.cos(), angle_y.sin(), angle_y.cos()


def dense_pe_from_axes(
    sin_x: torch.Tensor, cos_x: torch.Tensor, sin_y: torch.Tensor, cos_y: torch.Tensor
) -> torch.Tensor:
    """The dense positional encoding from per-axis sines / cosines (angle-sum identity).

    ``sin(a + b) = sin a cos b + cos a sin b`` and ``cos(a + b) = cos a cos b - sin a sin b``
    with ``a`` the x part and ``b`` the y part of the angle.

    Parameters
    ----------
    sin_x, cos_x
        (w, F) float.
    sin_y, cos_y
        (h, F) float.

    Returns
    -------
    torch.Tensor
        (1, 2F, h, w) float32: channels ``0..F-1`` sines, ``F..2F-1`` cosines, as
        ``PromptEncoder.get_dense_pe()``.
    """
    sx, cx = sin_x[None, :, :], cos_x[None, :, :]  # (1, w, F)
    sy, cy = sin_y[:, None, :], cos_y[:, None, :]  # (h, 1, F)
    sin = sx * cy + cx * sy
    cos = cx * cy - sx * sy
    return torch.cat([sin, cos], dim=-1).permute(2, 0, 1).unsqueeze(0)
