"""The export wrappers compute exactly what the model's own (official-interface) path computes."""

from __future__ import annotations

import pytest

from tests.extras import need

torch = need("torch", "the exporter tests need the [export] extra")

from tinysam_export.graphs import DecoderGraph, EncoderGraph, build_graphs, example_inputs
from tinysam_export.modeling.build import build_sam
from tinysam_export.runtime_tables import (
    axis_encodings,
    dense_pe_from_axes,
    offset_index,
    runtime_zero,
    supplied_buffers,
)
from tinysam_mobile.spec import PIXEL_MEAN, GraphName, ModelGeometry, graph_specs

pytestmark = pytest.mark.export

SIZE = 256
TOL = 1e-5


@pytest.fixture(scope="module")
def sam() -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_sam("vit_t", image_size=SIZE).eval()
    # Non-trivial prompt-encoder embeddings so every label path matters, and attention biases
    # (zero at init) so a wrong bias index would change the embeddings.
    with torch.no_grad():
        for emb in [*model.prompt_encoder.point_embeddings, model.prompt_encoder.not_a_point_embed]:
            emb.weight.normal_()
        model.prompt_encoder.no_mask_embed.weight.normal_()
        for name, param in model.image_encoder.named_parameters():
            if name.endswith("attention_biases"):
                param.normal_()
    return model


@pytest.fixture(scope="module")
def embeddings(sam: torch.nn.Module) -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        return sam.image_encoder(torch.randn(1, 3, SIZE, SIZE, generator=gen))


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    scale = float(b.abs().max())
    assert a.shape == b.shape
    assert float((a - b).abs().max()) <= TOL * max(scale, 1.0)


def test_specs_come_from_spec_module(sam: torch.nn.Module) -> None:
    graphs = build_graphs(sam)
    specs = graph_specs(ModelGeometry(SIZE))
    assert graphs[GraphName.ENCODER].spec == specs[GraphName.ENCODER]
    assert graphs[GraphName.DECODER].spec == specs[GraphName.DECODER]


def test_encoder_mean_padding_equals_official_zero_padding(sam: torch.nn.Module) -> None:
    """Official: normalise, then pad with zeros. Graph: pad with the mean, normalise inside."""
    gen = torch.Generator().manual_seed(3)
    h, w = SIZE, 170  # a resized portrait image
    content = torch.rand(1, 3, h, w, generator=gen) * 255
    mean = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    mean_padded = mean.expand(1, 3, SIZE, SIZE).clone()
    mean_padded[..., :h, :w] = content
    zero_padded = torch.zeros(1, 3, SIZE, SIZE)
    zero_padded[..., :h, :w] = (content - sam.pixel_mean) / sam.pixel_std
    with torch.no_grad():
        _close(EncoderGraph(sam)(mean_padded), sam.image_encoder(zero_padded))


def _official(
    sam: torch.nn.Module,
    embeddings: torch.Tensor,
    points: tuple[torch.Tensor, torch.Tensor] | None,
    boxes: torch.Tensor | None,
    masks: torch.Tensor | None,
    multimask: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    sparse, dense = sam.prompt_encoder(points, boxes, masks)
    return sam.mask_decoder(
        embeddings, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask_output=multimask
    )


def _graph(
    sam: torch.nn.Module,
    embeddings: torch.Tensor,
    coords: torch.Tensor,
    labels: torch.Tensor,
    masks: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    b = coords.shape[0]
    low = SIZE // 4
    mask_input = masks if masks is not None else torch.zeros(b, 1, low, low)
    has = torch.full((b,), 1.0 if masks is not None else 0.0)
    return DecoderGraph(sam)(embeddings, coords, labels, mask_input, has)


@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("case", ["points", "box", "box_points"])
def test_decoder_equals_prompt_encoder_plus_mask_decoder(
    sam: torch.nn.Module, embeddings: torch.Tensor, case: str, with_mask: bool
) -> None:
    gen = torch.Generator().manual_seed(4)
    b = 3
    pts = torch.rand(b, 2, 2, generator=gen) * (SIZE - 1)
    lab = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    box = torch.tensor([[10.0, 20.0, 200.0, 180.0], [0.0, 0.0, 255.0, 255.0], [50, 60, 70, 90]])
    masks = torch.randn(b, 1, SIZE // 4, SIZE // 4, generator=gen) if with_mask else None
    if case == "points":
        points, boxes = (pts, lab), None
        coords = torch.cat([pts, torch.zeros(b, 1, 2)], dim=1)  # runtime appends the pad point
        labels = torch.cat([lab, -torch.ones(b, 1)], dim=1)
    elif case == "box":
        points, boxes = None, box
        coords, labels = box.reshape(b, 2, 2), torch.tensor([[2.0, 3.0]]).expand(b, 2)
    else:
        points, boxes = (pts, lab), box
        coords = torch.cat([pts, box.reshape(b, 2, 2)], dim=1)
        labels = torch.cat([lab, torch.tensor([[2.0, 3.0]]).expand(b, 2)], dim=1)
    with torch.no_grad():
        low_res, iou = _graph(sam, embeddings, coords, labels, masks)
        assert low_res.shape == (b, 4, SIZE // 4, SIZE // 4) and iou.shape == (b, 4)
        multi = _official(sam, embeddings, points, boxes, masks, multimask=True)
        single = _official(sam, embeddings, points, boxes, masks, multimask=False)
    _close(low_res[:, 1:], multi[0])
    _close(iou[:, 1:], multi[1])
    _close(low_res[:, :1], single[0])
    _close(iou[:, :1], single[1])


def test_mixed_has_mask_batch_equals_separate_calls(
    sam: torch.nn.Module, embeddings: torch.Tensor
) -> None:
    """One batch may mix refining and first calls; each row equals its own call."""
    gen = torch.Generator().manual_seed(5)
    ex = example_inputs(DecoderGraph(sam).spec, num_prompts=4, num_points=3, seed=6)
    ex["image_embeddings"] = embeddings
    ex["has_mask_input"] = torch.tensor([1.0, 0.0, 1.0, 0.0])
    ex["mask_input"] = torch.randn(4, 1, SIZE // 4, SIZE // 4, generator=gen)
    graph = DecoderGraph(sam)
    names = graph.spec.input_names
    with torch.no_grad():
        batch = graph(*[ex[n] for n in names])
        for i in range(4):
            row = {n: (ex[n] if n == "image_embeddings" else ex[n][i : i + 1]) for n in names}
            if ex["has_mask_input"][i] == 0:
                row["mask_input"] = torch.zeros_like(row["mask_input"])  # must not matter
            one = graph(*[row[n] for n in names])
            _close(batch[0][i : i + 1], one[0])
            _close(batch[1][i : i + 1], one[1])


def test_padding_point_coordinates_are_ignored(
    sam: torch.nn.Module, embeddings: torch.Tensor
) -> None:
    coords = torch.tensor([[[100.0, 80.0], [0.0, 0.0]]])
    moved = torch.tensor([[[100.0, 80.0], [123.0, 45.0]]])
    labels = torch.tensor([[1.0, -1.0]])
    with torch.no_grad():
        a = _graph(sam, embeddings, coords, labels, None)
        b = _graph(sam, embeddings, moved, labels, None)
        c = _graph(sam, embeddings, coords, torch.tensor([[1.0, 1.0]]), None)
    _close(a[0], b[0])
    assert float((a[0] - c[0]).abs().max()) > 1e-3  # the label really decides


def test_decoder_rejects_wrong_mask_size(sam: torch.nn.Module, embeddings: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="mask input"):
        DecoderGraph(sam)(
            embeddings,
            torch.zeros(1, 2, 2),
            torch.tensor([[1.0, -1.0]]),
            torch.zeros(1, 1, 32, 32),
            torch.ones(1),
        )


# -- tables computed in the graph instead of stored (tinysam_export.runtime_tables) -------------


@pytest.mark.parametrize("size_hw", [(64, 64), (16, 16), (6, 10)])
def test_in_graph_dense_pe_equals_get_dense_pe(size_hw: tuple[int, int]) -> None:
    """Per-axis sines / cosines + the angle-sum identity reproduce ``get_dense_pe`` (1e-5);
    (64, 64) is the 1024 grid, (6, 10) catches a swapped x / y."""
    from tinysam_export.modeling.common import PositionEmbeddingRandom

    torch.manual_seed(3)
    layer = PositionEmbeddingRandom(128)
    zero = runtime_zero(torch.randn(5), torch.float32)
    got = dense_pe_from_axes(
        *axis_encodings(layer.positional_encoding_gaussian_matrix, size_hw, zero)
    )
    want = layer(size_hw).unsqueeze(0)
    assert got.shape == want.shape == (1, 256, *size_hw)
    assert float((got - want).abs().max()) <= 1e-5


def test_decoder_graph_dense_pe_is_the_models(
    sam: torch.nn.Module, embeddings: torch.Tensor
) -> None:
    with torch.no_grad():
        got = DecoderGraph(sam).dense_pe(embeddings)
    want = sam.prompt_encoder.get_dense_pe()
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-5


def test_runtime_zero_is_zero_for_every_value() -> None:
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), 3.0])
    for v in (x, x[1:], x[2:], x[3:], torch.tensor([[7]])):
        z = runtime_zero(v, torch.int64)
        assert z.shape == (1,) and z.dtype == torch.int64 and int(z) == 0
    assert float(runtime_zero(x, torch.float32)) == 0.0


@pytest.mark.parametrize("window", [1, 2, 5, 7, 14])
def test_offset_index_equals_tinyvit_index(window: int) -> None:
    from tinysam_export.modeling.tiny_vit_blocks import relative_offset_index

    want, num_offsets = relative_offset_index(window)
    got = offset_index(window * window, torch.zeros(1, dtype=torch.int64))
    assert torch.equal(got, want)
    assert int(got.max()) == num_offsets - 1


def test_encoder_supplies_every_attention_index(sam: torch.nn.Module) -> None:
    from tinysam_export.modeling.tiny_vit_blocks import Attention

    graph = EncoderGraph(sam)
    attention = [n for n, m in sam.image_encoder.named_modules() if isinstance(m, Attention)]
    assert sorted(graph.bias_index_sizes) == sorted(f"{n}.attention_bias_idxs" for n in attention)
    before = {n: b for n, b in sam.image_encoder.named_buffers()}
    with torch.no_grad():
        graph(torch.rand(1, 3, SIZE, SIZE) * 255)
    after = dict(sam.image_encoder.named_buffers())
    assert all(after[n] is b for n, b in before.items())  # the model's buffers are restored


def test_supplied_buffers_refuses_unknown_names(sam: torch.nn.Module) -> None:
    values = {"layers.1.blocks.0.attn.qkv": torch.zeros(1)}  # a module, not a buffer
    with pytest.raises(KeyError, match="not a buffer"), supplied_buffers(sam.image_encoder, values):
        pass
