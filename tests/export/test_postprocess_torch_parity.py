"""``postprocess.resize_bilinear`` / ``upscale_logits`` against torch's F.interpolate."""

from __future__ import annotations

import numpy as np
import pytest

from tests.extras import need

torch = need("torch", "parity with torch needs the [export] extra")
F = torch.nn.functional

from tinysam_mobile.postprocess import resize_bilinear, upscale_logits
from tinysam_mobile.transforms import resized_hw

pytestmark = pytest.mark.export


def _torch_resize(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(x))
    lead = t.shape[:-2]
    t = t.reshape(1, -1, *t.shape[-2:])
    with torch.no_grad():
        y = F.interpolate(t, size=out_hw, mode="bilinear", align_corners=False, antialias=False)
    return y.reshape(*lead, *out_hw).numpy()


@pytest.mark.parametrize(
    ("shape", "out_hw"),
    [
        ((3, 256, 256), (1024, 1024)),
        ((2, 1, 17, 9), (40, 23)),  # odd sizes, different factor per axis
        ((4, 33, 47), (12, 8)),  # downscale
        ((1, 1, 5), (7, 3)),  # degenerate height
        ((6, 64, 64), (64, 200)),  # one axis unchanged
    ],
)
def test_resize_bilinear_matches_torch(shape: tuple[int, ...], out_hw: tuple[int, int]) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(sum(shape) + sum(out_hw))
    x = (rng.standard_normal(shape) * 20).astype(np.float32)
    ours = resize_bilinear(x, out_hw)
    ref = _torch_resize(x, out_hw)
    assert ours.shape == ref.shape
    scale = float(np.abs(x).max())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=scale * 4e-7)


@pytest.mark.parametrize("hw", [(534, 800), (770, 769), (300, 1024)])
def test_upscale_logits_matches_official_pipeline(hw: tuple[int, int]) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(hw[0])
    low = (rng.standard_normal((3, 256, 256)) * 10).astype(np.float32)
    rh, rw = resized_hw(hw, 1024)
    ref = _torch_resize(_torch_resize(low, (1024, 1024))[..., :rh, :rw], hw)
    ours = upscale_logits(low, None, hw, 1024)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=float(np.abs(low).max()) * 1e-6)
    assert float(((ours > 0) == (ref > 0)).mean()) > 0.99999
