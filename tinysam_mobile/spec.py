"""The one place for graph names, tensor specs and preprocessing constants.

Everything that fixes an interface between the exporter, the runtime, the golden vectors and
the Kotlin / Swift ports is defined here and written into ``manifest.json``. Other code (and
the mobile ports, through the manifest) reads names from here; nobody retypes them.

Coordinate frames used across the project:

- ``*_xy_image``: pixel coordinates (x, y) in the original image.
- ``*_xy_model``: coordinates (x, y) in the resized image, i.e. the ``image_size`` frame the
  decoder graph is fed (the image is resized so its longest side is ``image_size`` and padded
  bottom/right).
- ``*_hw``: (height, width) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_IMAGE_SIZE = 1024
"""Side of the square encoder input of the official checkpoints."""

PIXEL_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
"""Per-channel RGB mean on the 0..255 scale (SAM / TinySAM)."""

PIXEL_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)
"""Per-channel RGB std on the 0..255 scale (SAM / TinySAM)."""

PATCH_STRIDE = 16
"""Image size / embedding size."""

EMBED_DIM = 256
"""Channels of the image embedding and of prompt tokens."""

LOW_RES_UPSCALE = 4
"""Low-res mask logits are this many times larger than the embedding grid."""

NUM_MASK_TOKENS = 4
"""Mask tokens the decoder graph outputs: token 0 (single mask) then the three multimask."""

MASK_THRESHOLD = 0.0
"""Logit threshold that turns mask logits into a binary mask."""

PAD_LABEL = -1.0
"""Label of the padding point added to prompts that have no box."""

BOX_LABELS = (2.0, 3.0)
"""Labels of the top-left and bottom-right box corners."""

SCHEMA_VERSION = 1
"""Version of ``manifest.json`` and of the golden-vector layout."""


class GraphName(StrEnum):
    """The two exported graphs."""

    ENCODER = "encoder"
    DECODER = "decoder"


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one graph input or output.

    A shape entry is an ``int`` for a fixed dimension or a ``str`` naming a symbolic
    dimension (``"num_prompts"``, ``"num_points"``).
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    doc: str = ""

    def to_json(self) -> dict:
        """Return the manifest form of this spec."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "doc": self.doc}

    @classmethod
    def from_json(cls, d: dict) -> TensorSpec:
        """Inverse of :meth:`to_json`."""
        return cls(d["name"], tuple(d["shape"]), d.get("dtype", "float32"), d.get("doc", ""))


@dataclass(frozen=True)
class GraphSpec:
    """Inputs and outputs of one graph, in call order."""

    name: GraphName
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...] = field(default_factory=tuple)

    @property
    def input_names(self) -> list[str]:
        """Names of the inputs in call order."""
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Names of the outputs in call order."""
        return [t.name for t in self.outputs]

    def to_json(self) -> dict:
        """Return the manifest form of this spec."""
        return {
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
        }

    @classmethod
    def from_json(cls, name: str, d: dict) -> GraphSpec:
        """Inverse of :meth:`to_json`."""
        return cls(
            GraphName(name),
            tuple(TensorSpec.from_json(t) for t in d["inputs"]),
            tuple(TensorSpec.from_json(t) for t in d["outputs"]),
        )


@dataclass(frozen=True)
class ModelGeometry:
    """Sizes derived from the encoder input size.

    Parameters
    ----------
    image_size
        Side ``S`` of the square encoder input (1024 for the official checkpoints).
    """

    image_size: int = DEFAULT_IMAGE_SIZE

    def __post_init__(self) -> None:
        if self.image_size <= 0 or self.image_size % PATCH_STRIDE:
            raise ValueError(
                f"image_size must be a positive multiple of {PATCH_STRIDE}, got {self.image_size}"
            )

    @property
    def embedding_hw(self) -> tuple[int, int]:
        """Height and width of the image embedding grid (64x64 for 1024)."""
        s = self.image_size // PATCH_STRIDE
        return (s, s)

    @property
    def low_res_hw(self) -> tuple[int, int]:
        """Height and width of the low-res mask logits and of ``mask_input`` (256x256 for 1024)."""
        h, w = self.embedding_hw
        return (h * LOW_RES_UPSCALE, w * LOW_RES_UPSCALE)


def encoder_spec(geometry: ModelGeometry) -> GraphSpec:
    """Spec of the encoder graph.

    The encoder takes the resized, mean-padded RGB image on the 0..255 scale and normalises it
    inside the graph, so the runtime never needs the std.
    """
    s = geometry.image_size
    eh, ew = geometry.embedding_hw
    return GraphSpec(
        GraphName.ENCODER,
        inputs=(
            TensorSpec(
                "image",
                (1, 3, s, s),
                doc="RGB float32 on 0..255, resized longest side to image_size, padded "
                "bottom/right with pixel_mean; NCHW",
            ),
        ),
        outputs=(TensorSpec("image_embeddings", (1, EMBED_DIM, eh, ew)),),
    )


def decoder_spec(geometry: ModelGeometry) -> GraphSpec:
    """Spec of the prompt-encoder + mask-decoder graph.

    ``num_prompts`` prompts are decoded per call against one image embedding; every prompt has
    ``num_points`` points (padded with label -1). Coordinates are in the model frame.
    """
    eh, ew = geometry.embedding_hw
    lh, lw = geometry.low_res_hw
    return GraphSpec(
        GraphName.DECODER,
        inputs=(
            TensorSpec("image_embeddings", (1, EMBED_DIM, eh, ew)),
            TensorSpec(
                "point_coords",
                ("num_prompts", "num_points", 2),
                doc="x, y in the model frame (resized image, pixels)",
            ),
            TensorSpec(
                "point_labels",
                ("num_prompts", "num_points"),
                doc="1 positive, 0 negative, 2/3 box corners, -1 padding",
            ),
            TensorSpec(
                "mask_input",
                ("num_prompts", 1, lh, lw),
                doc="low-res logits of a previous prediction",
            ),
            TensorSpec(
                "has_mask_input", ("num_prompts",), doc="1.0 where mask_input is used, else 0.0"
            ),
        ),
        outputs=(
            TensorSpec(
                "low_res_masks",
                ("num_prompts", NUM_MASK_TOKENS, lh, lw),
                doc="mask logits of all four tokens; token 0 is the single-mask output",
            ),
            TensorSpec("iou_predictions", ("num_prompts", NUM_MASK_TOKENS)),
        ),
    )


def graph_specs(geometry: ModelGeometry) -> dict[GraphName, GraphSpec]:
    """Both graph specs keyed by graph name."""
    return {GraphName.ENCODER: encoder_spec(geometry), GraphName.DECODER: decoder_spec(geometry)}
