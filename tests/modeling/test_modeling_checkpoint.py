"""Checkpoint loading and saving: every failure mode gets a clear CheckpointError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tinysam_export.checkpoint import load_model, load_state_dict, save_state_dict
from tinysam_export.errors import CheckpointError
from tinysam_export.modeling.build import build_sam
from tinysam_export.modeling.sam import Sam


@pytest.fixture(scope="module")
def small_model() -> Sam:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = build_sam("vit_t", image_size=64)
    with torch.no_grad():  # make the zero-initialised tensors non-trivial
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model.eval()


@pytest.fixture(scope="module")
def saved(small_model: Sam, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_state_dict(small_model, tmp_path_factory.mktemp("ckpt") / "vit_t.pth")


def _assert_same_weights(a: Sam, b: Sam) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_round_trip_official_layout(small_model: Sam, saved: Path) -> None:
    state = load_state_dict(saved)
    assert len(state) == len(small_model.state_dict()) + 4  # + TinyViT's unused head
    assert state["image_encoder.head.weight"].shape == (1000, 320)
    keys = list(state)
    assert keys.index("image_encoder.head.bias") < keys.index("image_encoder.neck.0.weight")
    loaded = load_model(saved, image_size=64)
    assert not loaded.training
    _assert_same_weights(loaded, small_model)


def test_saved_layout_matches_the_official_spec(saved: Path, reference_dir: Path) -> None:
    spec = json.loads((reference_dir / "vit_t_state_dict_spec.json").read_text())
    state = torch.load(saved, map_location="cpu", weights_only=True)
    assert {k: (list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()} == {
        k: (v["shape"], v["dtype"]) for k, v in spec.items()
    }


def test_fp16_checkpoint_loads_as_float32(small_model: Sam, tmp_path: Path) -> None:
    path = save_state_dict(small_model, tmp_path / "half.pth", dtype=torch.float16)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["mask_decoder.iou_token.weight"].dtype == torch.float16
    assert raw["image_encoder.patch_embed.seq.0.bn.num_batches_tracked"].dtype == torch.int64
    assert path.stat().st_size < 0.6 * (10.2e6 * 4)
    state = load_state_dict(path)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    loaded = load_model(path, image_size=64)
    want = small_model.state_dict()
    for k, v in loaded.state_dict().items():
        expected = want[k].half().float() if want[k].is_floating_point() else want[k]
        assert torch.equal(v, expected), k


@pytest.mark.parametrize("nesting", [["model"], ["state_dict"], ["model", "state_dict"]])
def test_nested_state_dicts(small_model: Sam, saved: Path, tmp_path: Path, nesting) -> None:
    obj: dict = load_state_dict(saved)
    for key in reversed(nesting):
        obj = {key: obj, "epoch": 3}
    torch.save(obj, tmp_path / "nested.pth")
    _assert_same_weights(load_model(tmp_path / "nested.pth", image_size=64), small_model)


def test_ddp_prefix_is_removed(small_model: Sam, saved: Path, tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in load_state_dict(saved).items()}
    torch.save({"model": state}, tmp_path / "ddp.pth")
    _assert_same_weights(load_model(tmp_path / "ddp.pth", image_size=64), small_model)


def test_image_size_differs_from_training_size(saved: Path) -> None:
    """No tensor depends on the image size: a checkpoint loads at 256, 512 and 1024."""
    for size in (256, 512, 1024):
        model = load_model(saved, image_size=size)
        assert model.image_size == size
        assert model.prompt_encoder.image_embedding_size == (size // 16, size // 16)


@pytest.mark.checkpoint
def test_reference_checkpoint_loads_at_512(reference_dir: Path) -> None:
    model = load_model(reference_dir / "reference_vit_t.pth", image_size=512)
    with torch.no_grad():
        emb = model.encode_image(torch.full((1, 3, 512, 512), 100.0))
    assert emb.shape == (1, 256, 32, 32)
    assert torch.isfinite(emb).all()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nothere\.pth does not exist"):
        load_state_dict(tmp_path / "nothere.pth")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match=r"notes\.pth is not a PyTorch checkpoint.*text"):
        load_model(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pth is not a PyTorch checkpoint.*empty"):
        load_state_dict(path)


def test_jpeg(tmp_path: Path, images_dir: Path) -> None:
    path = tmp_path / "photo.pth"
    shutil.copy(images_dir / "dog.jpg", path)
    with pytest.raises(CheckpointError, match=r"photo\.pth is not a PyTorch checkpoint.*JPEG"):
        load_model(path)


def test_pickled_whole_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), path)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    msg = str(info.value)
    assert "whole_model.pth" in msg
    assert "pickled" in msg and "execute code" in msg and "state_dict" in msg
    assert "torch.nn.modules.container.Sequential" in msg


def test_dict_without_tensors(tmp_path: Path) -> None:
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 5, "optimizer": {"lr": 0.1}, "model": {"note": "empty"}}, path)
    with pytest.raises(CheckpointError, match=r"meta\.pth holds a dict without tensors"):
        load_state_dict(path)


def test_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match=r"tensor\.pth holds a Tensor, not a state dict"):
        load_state_dict(path)


def test_sam_vit_b_like_checkpoint(tmp_path: Path) -> None:
    state = {
        "image_encoder.pos_embed": torch.zeros(1, 64, 64, 768),
        "image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16),
        "image_encoder.blocks.0.attn.qkv.weight": torch.zeros(2304, 768),
        "image_encoder.neck.0.weight": torch.zeros(256, 768, 1, 1),
        "prompt_encoder.no_mask_embed.weight": torch.zeros(1, 256),
    }
    path = tmp_path / "sam_vit_b.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_model(path, image_size=64)
    msg = str(info.value)
    assert "sam_vit_b.pth does not match the 'vit_t' architecture" in msg
    assert "SAM ViT (vit_b/vit_l/vit_h)" in msg
    assert "missing keys: image_encoder.patch_embed.seq.0.c.weight" in msg
    assert "unexpected keys: image_encoder.pos_embed" in msg
    assert (
        "image_encoder.neck.0.weight: checkpoint (256, 768, 1, 1) vs model (256, 320, 1, 1)" in msg
    )


def test_truncated_checkpoint(saved: Path, tmp_path: Path) -> None:
    state = load_state_dict(saved)
    dropped = [k for k in state if k.startswith("mask_decoder.")]
    for k in dropped:
        del state[k]
    torch.save(state, tmp_path / "truncated.pth")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "truncated.pth", image_size=64)
    msg = str(info.value)
    assert f"{len(dropped)} missing keys: {dropped[0]}" in msg
    assert f"(and {len(dropped) - 5} more)" in msg
    assert "unexpected" not in msg


def test_unknown_model_name(saved: Path) -> None:
    with pytest.raises(ValueError, match="unknown model 'vit_h'"):
        load_model(saved, name="vit_h")
