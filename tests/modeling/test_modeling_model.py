"""The model's structure and behaviour with random weights (small image sizes, no checkpoint)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from tinysam_export.graphs import EncoderGraph
from tinysam_export.modeling.build import MODEL_REGISTRY, build_sam
from tinysam_export.modeling.sam import Sam

SIZE = 64
GRID = SIZE // 16


@pytest.fixture(scope="module")
def small() -> Sam:
    """A 64x64-input model: every window is padded, and forwards are cheap."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=SIZE)
    _perturb(model)
    return model.eval()


def _perturb(model: Sam) -> None:
    """Make every tensor matter (BN statistics, attention biases, zero-initialised scales)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=g) * 0.05
            if name.endswith("running_var"):
                t.copy_(1.0 + noise.abs())
            else:
                t.add_(noise)


def _image(size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((1, 3, size, size), generator=g) * 255.0


def _prompts(b: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """B prompts of 3 points each, covering labels 1, 0, 2, 3 and -1."""
    g = torch.Generator().manual_seed(seed)
    coords = torch.rand((b, 3, 2), generator=g) * size
    table = torch.tensor([[1.0, 0.0, -1.0], [1.0, 2.0, 3.0], [0.0, 1.0, -1.0], [2.0, 3.0, 1.0]])
    labels = table[torch.arange(b) % len(table)]
    return coords, labels


def test_registry_and_errors() -> None:
    assert set(MODEL_REGISTRY) == {"vit_t"}
    with pytest.raises(ValueError, match="unknown model 'vit_b'"):
        build_sam("vit_b")
    with pytest.raises(ValueError, match="multiple of 16"):
        build_sam("vit_t", image_size=1000)


@pytest.mark.parametrize(("size", "grid"), [(256, 16), (512, 32)])
def test_image_size_sets_every_grid(size: int, grid: int) -> None:
    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=size).eval()
    assert model.image_size == size
    assert model.prompt_encoder.image_embedding_size == (grid, grid)
    assert model.prompt_encoder.get_dense_pe().shape == (1, 256, grid, grid)
    if size == 256:  # the 512 encoder forward is covered by the checkpoint tests' load test
        with torch.no_grad():
            emb = model.encode_image(_image(size))
        assert emb.shape == (1, 256, grid, grid)
        assert torch.isfinite(emb).all()
    emb = torch.randn(1, 256, grid, grid)
    coords, labels = _prompts(3, size)
    with torch.no_grad():
        low, iou = model.forward_prompts(emb, coords, labels)
    assert low.shape == (3, 4, 4 * grid, 4 * grid)
    assert iou.shape == (3, 4)


def test_state_dict_has_no_pixel_stats(small: Sam) -> None:
    names = set(small.state_dict())
    assert "pixel_mean" not in names and "pixel_std" not in names
    assert not any(".ab" in n or n.endswith("attention_bias_idxs") for n in names)
    assert small.pixel_mean.flatten().tolist() == pytest.approx([123.675, 116.28, 103.53])


def test_load_order_does_not_matter(small: Sam) -> None:
    """The official TinyViT caches its bias table on eval(); loading afterwards went stale."""
    x = _image(SIZE, seed=3)
    with torch.no_grad():
        expected = small.encode_image(x)
    late = build_sam("vit_t", image_size=SIZE)
    late.eval()  # switch to eval (where the official code builds its cache) ...
    with torch.no_grad():
        late.encode_image(x)  # ... and run once with the random weights
    late.load_state_dict(small.state_dict())  # then load
    with torch.no_grad():
        got = late.encode_image(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    late.train()
    late.eval()
    with torch.no_grad():
        torch.testing.assert_close(late.encode_image(x), expected, rtol=0, atol=0)


def test_batched_prompts_share_one_embedding(small: Sam) -> None:
    emb = torch.randn(1, 256, GRID, GRID)
    coords, labels = _prompts(4, SIZE, seed=5)
    mask = torch.randn(4, 1, 4 * GRID, 4 * GRID)
    has = torch.tensor([1.0, 0.0, 1.0, 0.0])
    with torch.no_grad():
        low, iou = small.forward_prompts(emb, coords, labels, mask, has)
        for i in range(4):
            li, ii = small.forward_prompts(
                emb, coords[i : i + 1], labels[i : i + 1], mask[i : i + 1], has[i : i + 1]
            )
            torch.testing.assert_close(low[i : i + 1], li, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(iou[i : i + 1], ii, rtol=1e-4, atol=1e-4)
        # one embedding per prompt gives the same as the shared one
        low_b, _ = small.forward_prompts(emb.expand(4, -1, -1, -1), coords, labels, mask, has)
        torch.testing.assert_close(low_b, low, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="expected 1"):
        small.forward_prompts(torch.randn(2, 256, GRID, GRID), coords, labels)


def test_has_mask_input_gates_the_mask(small: Sam) -> None:
    emb = torch.randn(1, 256, GRID, GRID)
    coords, labels = _prompts(2, SIZE, seed=7)
    mask = torch.randn(2, 1, 4 * GRID, 4 * GRID) * 5
    with torch.no_grad():
        without = small.forward_prompts(emb, coords, labels)
        off = small.forward_prompts(emb, coords, labels, mask, torch.zeros(2))
        on = small.forward_prompts(emb, coords, labels, mask, torch.ones(2))
        given = small.forward_prompts(emb, coords, labels, mask)
    torch.testing.assert_close(off, without)
    torch.testing.assert_close(on, given)
    assert not torch.allclose(on[0], without[0], atol=1e-3)


def test_forward_prompts_equals_official_prompt_path(small: Sam) -> None:
    """Padded point lists (box = corners 2/3, pad point -1) equal PromptEncoder.forward."""
    emb = torch.randn(1, 256, GRID, GRID)
    pe = small.prompt_encoder.get_dense_pe()
    pts = torch.tensor([[[30.0, 40.0], [50.5, 7.25]]])
    lbl = torch.tensor([[1.0, 0.0]])
    box = torch.tensor([[10.0, 20.0, 60.0, 45.0]])
    with torch.no_grad():
        # points only: the official path appends the padding point itself
        sparse, dense = small.prompt_encoder(points=(pts, lbl), boxes=None, masks=None)
        want = small.mask_decoder.predict_masks(emb, pe, sparse, dense)
        padded = torch.cat([pts, torch.zeros(1, 1, 2)], dim=1)
        got = small.forward_prompts(emb, padded, torch.cat([lbl, -torch.ones(1, 1)], dim=1))
        torch.testing.assert_close(got, want)
        # points + box
        sparse, dense = small.prompt_encoder(points=(pts, lbl), boxes=box, masks=None)
        want = small.mask_decoder.predict_masks(emb, pe, sparse, dense)
        coords = torch.cat([pts, box.view(1, 2, 2)], dim=1)
        labels = torch.cat([lbl, torch.tensor([[2.0, 3.0]])], dim=1)
        torch.testing.assert_close(small.forward_prompts(emb, coords, labels), want)
        # official multimask_output slicing
        multi = small.mask_decoder(emb, pe, sparse, dense, multimask_output=True)
        single = small.mask_decoder(emb, pe, sparse, dense, multimask_output=False)
    assert multi[0].shape == (1, 3, 4 * GRID, 4 * GRID) and single[0].shape == (
        1,
        1,
        4 * GRID,
        4 * GRID,
    )
    torch.testing.assert_close(torch.cat([single[0], multi[0]], 1), want[0])


def test_training_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=SIZE)
    _perturb(model)
    model.train()
    coords, labels = _prompts(4, SIZE, seed=9)
    mask = torch.randn(4, 1, 4 * GRID, 4 * GRID)
    has = torch.tensor([1.0, 0.0, 1.0, 0.0])
    low, iou = model(_image(SIZE, seed=1), coords, labels, mask, has)
    (low.square().mean() + iou.square().mean()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert no_grad == []
    # BatchNorm statistics were updated in train mode, and eval gives deterministic outputs
    model.eval()
    x = _image(SIZE, seed=2)
    with torch.no_grad():
        a = model.encode_image(x)
        b = model.encode_image(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_encoder_graph_normalises_like_the_model(small: Sam) -> None:
    """EncoderGraph, Sam.encode_image and the official normalise-then-zero-pad agree."""
    x = _image(SIZE, seed=4)
    x[..., 40:, :] = small.pixel_mean  # mean padding normalises to exactly zero
    normed = F.pad(small.normalize(x[..., :40, :]), (0, 0, 0, SIZE - 40))  # official order
    with torch.no_grad():
        want = small.encode_image(x)
        got = EncoderGraph(small)(x)
        official = small.image_encoder(normed)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(official, want, rtol=0, atol=0)
