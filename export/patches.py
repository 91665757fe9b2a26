"""Named, export-only rewrites for converters that cannot take the model code as written.

The model in ``tinysam_export.modeling`` follows the official implementation and is never
changed for a converter. When a converter rejects an op, the rewrite lives here as a wrapper
with the same inputs, outputs and numerics, and a test proves the equivalence in PyTorch
(``tests/export/test_coreml.py``).

Rewrites:

- :class:`ExpandDecoderGraph` (``repeat_interleave -> expand``): ``MaskDecoder.predict_masks``
  repeats the dense positional encoding (batch 1) over the ``B`` prompts with
  ``torch.repeat_interleave(image_pe, B, dim=0)``; coremltools 9 has no conversion for
  ``repeat_interleave`` with a traced repeat count. For a batch-1 tensor along dim 0 it is the
  same as ``expand(B, ...)``, a broadcast view that every converter supports and that keeps
  ``num_prompts`` a free dimension.
- :func:`coreml_int_of_shape` (converter-side, scoped): with torch 2.13 the traced
  ``b, n, c = x.shape`` of the decoder attention yields length-1 arrays, and coremltools 9's
  ``aten::Int`` conversion calls ``int()`` on them, which numpy 2 refuses ("only 0-dimensional
  arrays can be converted"). While converting, ``aten::Int`` of a constant with one element is
  converted to that scalar; everything else goes to coremltools' own conversion.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from tinysam_export.graphs import DecoderGraph

PATCHES: dict[str, str] = {
    "decoder.repeat_interleave_to_expand": (
        "MaskDecoder.predict_masks: repeat_interleave(image_pe, B, dim=0) -> "
        "image_pe.expand(B, ...) (coremltools cannot convert repeat_interleave)"
    ),
}
"""Name -> one-line description of every rewrite, recorded in the manifest by the targets."""


def predict_masks_expand(
    mask_decoder: nn.Module,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``MaskDecoder.predict_masks`` with every batch repeat written as ``expand``.

    Parameters
    ----------
    mask_decoder
        The model's ``MaskDecoder`` (its submodules and weights are used as they are).
    image_embeddings
        float32 (1 or B, 256, h, w).
    image_pe
        float32 (1, 256, h, w), dense positional encoding.
    sparse_prompt_embeddings
        float32 (B, N, 256).
    dense_prompt_embeddings
        float32 (B, 256, h, w).

    Returns
    -------
    tuple of torch.Tensor
        ``masks`` float32 (B, 4, 4h, 4w), token 0 first, and ``iou_pred`` float32 (B, 4).
    """
    md = mask_decoder
    b = sparse_prompt_embeddings.shape[0]
    output_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
    tokens = torch.cat([output_tokens.unsqueeze(0).expand(b, -1, -1), sparse_prompt_embeddings], 1)
    src = image_embeddings.expand(b, -1, -1, -1) + dense_prompt_embeddings
    pos_src = image_pe.expand(b, -1, -1, -1)
    _, c, h, w = src.shape
    hs, src = md.transformer(src, pos_src, tokens)
    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1 : 1 + md.num_mask_tokens, :]
    upscaled = md.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
    hyper_in = torch.stack(
        [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(md.output_hypernetworks_mlps)],
        dim=1,
    )
    hu, wu = upscaled.shape[-2:]
    masks = (hyper_in @ upscaled.flatten(2)).reshape(b, -1, hu, wu)
    return masks, md.iou_prediction_head(iou_token_out)


class ExpandDecoderGraph(DecoderGraph):
    """:class:`~tinysam_export.graphs.DecoderGraph` without ``repeat_interleave``.

    Same inputs, outputs, weights and numerics as ``DecoderGraph``; only the batch repeat of
    the positional encoding (and of the image embedding) is an ``expand``. Built from an
    existing ``DecoderGraph`` so the export pipeline's wrapper is reused as is.
    """

    def __init__(self, graph: DecoderGraph) -> None:
        nn.Module.__init__(self)
        self.prompt_encoder = graph.prompt_encoder
        self.mask_decoder = graph.mask_decoder
        self.geometry = graph.geometry

    def decode_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`DecoderGraph.decode_masks`, through :func:`predict_masks_expand`."""
        return predict_masks_expand(self.mask_decoder, image_embeddings, image_pe, sparse, dense)


def patch_for_coreml(graph: nn.Module) -> nn.Module:
    """Return ``graph`` with the CoreML rewrites applied (the encoder needs none)."""
    if isinstance(graph, DecoderGraph) and not isinstance(graph, ExpandDecoderGraph):
        return ExpandDecoderGraph(graph).eval()
    return graph


@contextlib.contextmanager
def coreml_int_of_shape() -> Iterator[None]:
    """Within the block, coremltools converts ``aten::Int`` of a one-element constant array.

    Restores coremltools' own ``int`` conversion on exit.
    """
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.torch.ops import _get_inputs
    from coremltools.converters.mil.frontend.torch.torch_op_registry import (
        _TORCH_OPS_REGISTRY as registry,
    )

    original = registry.get_func("int")

    def _int(context: Any, node: Any) -> None:
        x = _get_inputs(context, node, expected=1)[0]
        val = x.val if x.can_be_folded_to_const() else None
        if isinstance(val, np.ndarray) and val.size == 1:
            context.add(mb.const(val=np.int32(val.reshape(())), name=node.name), node.name)
            return
        original(context, node)

    registry.set_func_by_name(_int, "int")
    try:
        yield
    finally:
        registry.set_func_by_name(original, "int")
