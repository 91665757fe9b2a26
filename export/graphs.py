"""The two exported graphs as ``nn.Module`` wrappers around a loaded ``Sam``.

The model code in ``tinysam_export.modeling`` knows nothing about export; every rewrite that
exists only to give a clean, static, control-flow-free graph lives here, and its docstring says
why. Input and output names, shapes and order come from ``tinysam_mobile.spec``.
"""

from __future__ import annotations

import torch
from torch import nn

from tinysam_export.runtime_tables import (
    attention_index_sizes,
    axis_encodings,
    dense_pe_from_axes,
    offset_index,
    runtime_zero,
    supplied_buffers,
)
from tinysam_mobile.spec import (
    NUM_MASK_TOKENS,
    PAD_LABEL,
    PATCH_STRIDE,
    PIXEL_MEAN,
    PIXEL_STD,
    GraphName,
    GraphSpec,
    ModelGeometry,
    decoder_spec,
    encoder_spec,
)


def _check_model_constants(sam: nn.Module) -> None:
    """Refuse a model whose normalisation constants differ from the ones the manifest records."""
    for attr, expected in (("pixel_mean", PIXEL_MEAN), ("pixel_std", PIXEL_STD)):
        value = getattr(sam, attr, None)
        if value is None:
            continue
        got = torch.as_tensor(value, dtype=torch.float32).flatten()
        if not torch.allclose(got, torch.tensor(expected), atol=1e-4):
            raise ValueError(f"model {attr} {got.tolist()} differs from spec {list(expected)}")


def model_geometry(sam: nn.Module) -> ModelGeometry:
    """The :class:`ModelGeometry` of ``sam``, read from its image encoder's input size."""
    size = sam.image_encoder.img_size
    return ModelGeometry(int(size))


class EncoderGraph(nn.Module):
    """Image encoder with the normalisation folded in.

    Inputs / outputs follow :func:`tinysam_mobile.spec.encoder_spec`: ``image`` float32
    (1, 3, S, S), RGB on 0..255, resized and padded bottom/right with the pixel mean ->
    ``image_embeddings`` float32 (1, 256, S/16, S/16).

    Export-only rewrite: the official ``Sam.preprocess`` normalises and then pads with zeros;
    the runtime instead pads with the mean *before* this graph, and the graph computes
    ``(x - mean) / std``. The padded area becomes exactly zero either way, so the graph needs no
    knowledge of the original image size (no dynamic shapes, no control flow), and apps never
    need the std.

    Export-only rewrite (size): TinyViT's attention-bias index buffers are supplied at run time
    (:func:`tinysam_export.runtime_tables.offset_index`, one per window size, equal to the
    buffers; :func:`~tinysam_export.runtime_tables.supplied_buffers`), so the model's own
    attention code gathers its (heads, N, N) bias tables in the graph and no exporter folds
    them into constants.
    """

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        _check_model_constants(sam)
        self.image_encoder = sam.image_encoder
        self.geometry = model_geometry(sam)
        self.register_buffer("mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1), persistent=False)
        self.bias_index_sizes = attention_index_sizes(self.image_encoder)

    @property
    def spec(self) -> GraphSpec:
        """Spec of this graph (from ``tinysam_mobile.spec``)."""
        return encoder_spec(self.geometry)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Encode one preprocessed image.

        Parameters
        ----------
        image
            float32 (1, 3, S, S), RGB 0..255, mean-padded.

        Returns
        -------
        torch.Tensor
            ``image_embeddings`` float32 (1, 256, S/16, S/16).
        """
        x = (image - self.mean) / self.std
        if not self.bias_index_sizes:
            return self.image_encoder(x)
        zero = runtime_zero(image, torch.float32)
        by_size = {n: offset_index(n, zero) for n in sorted(set(self.bias_index_sizes.values()))}
        indices = {name: by_size[n] for name, n in self.bias_index_sizes.items()}
        with supplied_buffers(self.image_encoder, indices):
            return self.image_encoder(x)


class DecoderGraph(nn.Module):
    """Prompt encoder + mask decoder for a batch of prompts against one image embedding.

    Inputs / outputs follow :func:`tinysam_mobile.spec.decoder_spec`:

    - ``image_embeddings`` float32 (1, 256, h, w);
    - ``point_coords`` float32 (B, N, 2), x/y in the model frame (resized image pixels);
    - ``point_labels`` float32 (B, N): 1 positive, 0 negative, 2/3 box corners, -1 padding;
    - ``mask_input`` float32 (B, 1, 4h, 4w), low-res logits of a previous prediction;
    - ``has_mask_input`` float32 (B,), 1.0 where ``mask_input`` is used;
    - outputs ``low_res_masks`` float32 (B, 4, 4h, 4w) (all four tokens, token 0 first) and
      ``iou_predictions`` float32 (B, 4).

    Export-only rewrites (why they exist):

    - Points and boxes arrive as one padded point list: a box is two corners labelled 2 and 3
      and prompts without a box already carry the padding point (label -1) that
      ``tinysam_mobile.prompts.encode_prompt`` appends. The graph therefore calls the model's
      branch-free per-label embedding (``PromptEncoder.embed_points``, ``pad=False``) once
      (label -1: ``not_a_point_embed`` and no positional encoding), instead of
      ``PromptEncoder.forward`` with its ``if boxes is None`` branches and data-dependent
      concatenations.
    - The dense prompt embedding is ``has * mask_downscaling(mask_input) + (1 - has) *
      no_mask_embed`` instead of a Python branch on ``masks is None``, so one graph serves both
      the first and the refining call.
    - All four mask tokens are returned (``MaskDecoder.predict_masks``), so the runtime selects
      single- or multi-mask output; the model's own ``forward`` slices by a Python flag.
    - The single image embedding is broadcast over the B prompts with ``expand`` before it
      reaches the decoder, so the decoder takes its "one embedding per prompt" path and
      ``num_prompts`` stays a clean symbolic dimension instead of a repeat count.
    - Size: the dense positional encoding (1, 256, h, w) is computed in the graph
      (:meth:`dense_pe`) instead of being folded into a 4 MB constant: per-axis sines and
      cosines from the (2, 128) frequency matrix, combined with the angle-sum identity
      (:mod:`tinysam_export.runtime_tables`; equal to ``get_dense_pe()`` within 1e-5).
    """

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        self.geometry = model_geometry(sam)
        if int(self.mask_decoder.num_mask_tokens) != NUM_MASK_TOKENS:
            raise ValueError(
                f"mask decoder has {self.mask_decoder.num_mask_tokens} mask tokens, "
                f"spec expects {NUM_MASK_TOKENS}"
            )

    @property
    def spec(self) -> GraphSpec:
        """Spec of this graph (from ``tinysam_mobile.spec``)."""
        return decoder_spec(self.geometry)

    def embed_mask(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
        """Dense prompt embeddings (B, 256, h, w): the downscaled mask or ``no_mask_embed``."""
        pe = self.prompt_encoder
        has = has_mask_input.view(-1, 1, 1, 1)
        no_mask = pe.no_mask_embed.weight.reshape(1, -1, 1, 1)
        return has * pe.embed_masks(mask_input) + (1.0 - has) * no_mask

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode B prompts; see the class docstring for shapes and frames."""
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels, pad=False)
        dense = self.embed_mask(mask_input, has_mask_input)
        image_pe = self.dense_pe(image_embeddings)
        return self.decode_masks(image_embeddings, image_pe, sparse, dense)

    def axis_encodings(self, zero: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``sin_x``, ``cos_x`` (w, F), ``sin_y``, ``cos_y`` (h, F) of the dense encoding.

        Computed from the frequency matrix and ``zero`` ((1,) float32, a run-time zero);
        target patches (``tinysam_export.patches``) override only this step.
        """
        gaussian = self.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        return axis_encodings(gaussian, self.geometry.embedding_hw, zero)

    def dense_pe(self, image_embeddings: torch.Tensor) -> torch.Tensor:
        """``PromptEncoder.get_dense_pe()`` (1, 256, h, w) float32, computed in the graph.

        The run-time zero comes from ``image_embeddings``, so no exporter folds the encoding.
        """
        zero = runtime_zero(image_embeddings, torch.float32)
        return dense_pe_from_axes(*self.axis_encodings(zero))

    def decode_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All four tokens' logits (B, 4, 4h, 4w) and IoU (B, 4) for B prompt embeddings.

        The one image embedding (1, 256, h, w) is broadcast over the B prompts here; target
        patches (``tinysam_export.patches``) override only this step.
        """
        src = image_embeddings.expand(sparse.shape[0], -1, -1, -1)
        return self.mask_decoder.predict_masks(src, image_pe, sparse, dense)


def build_graphs(sam: nn.Module) -> dict[GraphName, nn.Module]:
    """Both export graphs of ``sam`` in eval mode, keyed by graph name."""
    sam.eval()
    graphs: dict[GraphName, nn.Module] = {
        GraphName.ENCODER: EncoderGraph(sam).eval(),
        GraphName.DECODER: DecoderGraph(sam).eval(),
    }
    return graphs


def example_inputs(
    spec: GraphSpec, num_prompts: int = 2, num_points: int = 3, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random inputs matching ``spec`` (symbolic dims set to the given sizes), for tracing.

    Images are on 0..255, coordinates inside the model frame, labels a mix of every label value
    so no branch of the label arithmetic is constant-folded away.
    """
    gen = torch.Generator().manual_seed(seed)
    sizes = {"num_prompts": num_prompts, "num_points": num_points}
    out: dict[str, torch.Tensor] = {}
    for t in spec.inputs:
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in t.shape)
        if t.name == "image":
            out[t.name] = torch.rand(shape, generator=gen) * 255.0
        elif t.name == "point_coords":
            size = int(spec.inputs[0].shape[-1]) * PATCH_STRIDE
            out[t.name] = torch.rand(shape, generator=gen) * (size - 1)
        elif t.name == "point_labels":
            values = torch.tensor([1.0, 0.0, 2.0, 3.0, PAD_LABEL])
            idx = torch.arange(shape[0] * shape[1]).reshape(shape) % len(values)
            out[t.name] = values[idx]
        elif t.name == "has_mask_input":
            out[t.name] = (torch.arange(shape[0]) % 2).to(torch.float32)
        else:
            out[t.name] = torch.randn(shape, generator=gen)
    return out
