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
- :class:`AxisTableDecoderGraph` (``dense positional encoding from float64 tables``): the
  graphs compute the dense positional encoding at run time from per-axis sines and cosines
  (``tinysam_export.runtime_tables``). CoreML computes them in float16, where the angles
  ``2 pi (2x - 1) g`` reach 2 pi |g| ~ 22 rad and lose ~0.01 (encoding error 0.013 at 1024 with
  the reference checkpoint, against 2.4e-4 for the float16-stored table); here the per-axis
  sines and cosines are one (4, n, F) table computed in float64 at export and stored in
  float16 (kept out of int8 weight quantisation): encoding error 1.1e-3 in float16, 64 KB.
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
from tinysam_export.runtime_tables import axis_encodings

PATCHES: dict[str, str] = {
    "decoder.repeat_interleave_to_expand": (
        "MaskDecoder.predict_masks: repeat_interleave(image_pe, B, dim=0) -> "
        "image_pe.expand(B, ...) (coremltools cannot convert repeat_interleave)"
    ),
    "decoder.dense_pe_axis_table": (
        "DecoderGraph.axis_encodings: per-axis sines/cosines of the dense positional encoding "
        "from a float64-computed (4, n, F) table instead of float16 sin/cos in the graph"
    ),
}

PE_AXIS_TABLE = "dense_pe_axis_table"
"""Buffer name of :class:`AxisTableDecoderGraph`'s table (also the CoreML const's name)."""
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


class AxisTableDecoderGraph(ExpandDecoderGraph):
    """:class:`ExpandDecoderGraph` whose dense-encoding sines / cosines come from a table.

    The table :data:`PE_AXIS_TABLE` (4, n, F) float32 holds ``sin_x``, ``cos_x``, ``sin_y``,
    ``cos_y`` of :func:`tinysam_export.runtime_tables.axis_encodings`, evaluated in float64 from
    the model's frequency matrix when the wrapper is built; the graph adds the run-time zero
    and combines them exactly as :class:`~tinysam_export.graphs.DecoderGraph` does, so the full
    (1, 256, h, w) encoding is still never stored. Square embedding grids only (``h == w``).
    """

    def __init__(self, graph: DecoderGraph) -> None:
        super().__init__(graph)
        h, w = self.geometry.embedding_hw
        if h != w:
            raise ValueError(f"embedding grid {h}x{w} is not square")
        gaussian = self.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        with torch.no_grad():
            parts = axis_encodings(gaussian.double(), (h, w), torch.zeros(1, dtype=torch.float64))
        self.register_buffer(PE_AXIS_TABLE, torch.stack(parts).float(), persistent=False)

    def axis_encodings(self, zero: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The table's four (n, F) slices, each plus ``zero`` (so nothing is folded)."""
        return tuple((getattr(self, PE_AXIS_TABLE) + zero).unbind(0))


def patch_for_coreml(graph: nn.Module) -> nn.Module:
    """Return ``graph`` with the CoreML rewrites applied (the encoder needs none)."""
    if isinstance(graph, DecoderGraph) and not isinstance(graph, ExpandDecoderGraph):
        return AxisTableDecoderGraph(graph).eval()
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
