"""Model registry: the only place the architecture constants live.

``vit_t`` is the TinyViT-5M image encoder with the SAM neck, prompt encoder and mask decoder,
the architecture of TinySAM (``tinysam_42.3.pth``) and MobileSAM (``mobile_sam.pt``).
"""

from __future__ import annotations

from collections.abc import Callable

from tinysam_mobile.spec import (
    DEFAULT_IMAGE_SIZE,
    EMBED_DIM,
    PIXEL_MEAN,
    PIXEL_STD,
    ModelGeometry,
)

from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder
from .sam import Sam
from .tiny_vit import TinyViT
from .transformer import TwoWayTransformer


def _sam_heads(image_encoder: TinyViT, geometry: ModelGeometry) -> Sam:
    """Attach SAM's prompt encoder and mask decoder (shared by every registry entry)."""
    s = geometry.image_size
    return Sam(
        image_encoder=image_encoder,
        prompt_encoder=PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=geometry.embedding_hw,
            input_image_size=(s, s),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            transformer_dim=EMBED_DIM,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=EMBED_DIM, num_heads=8, mlp_dim=2048
            ),
            num_multimask_outputs=3,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )


def build_vit_t(image_size: int = DEFAULT_IMAGE_SIZE) -> Sam:
    """TinySAM / MobileSAM ``vit_t`` with random weights, in train mode (call ``.eval()``)."""
    geometry = ModelGeometry(image_size)
    encoder = TinyViT(
        img_size=geometry.image_size,
        in_chans=3,
        embed_dims=[64, 128, 160, 320],
        depths=[2, 2, 6, 2],
        num_heads=[2, 4, 5, 10],
        window_sizes=[7, 7, 14, 7],
        mlp_ratio=4.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        out_chans=EMBED_DIM,
        head_classes=1000,
    )
    return _sam_heads(encoder, geometry)


MODEL_REGISTRY: dict[str, Callable[[int], Sam]] = {"vit_t": build_vit_t}
"""Model name -> builder taking ``image_size``."""


def build_sam(name: str = "vit_t", image_size: int = DEFAULT_IMAGE_SIZE) -> Sam:
    """Build a model with random weights.

    Parameters
    ----------
    name
        A key of :data:`MODEL_REGISTRY`.
    image_size
        Side of the square encoder input; a positive multiple of 16 (embedding grid
        ``image_size / 16``).

    Returns
    -------
    Sam
        In train mode, float32, on the CPU.
    """
    try:
        builder = MODEL_REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; available: {', '.join(sorted(MODEL_REGISTRY))}"
        ) from None
    return builder(image_size)
