"""The embedded demo model: a ``vit_t`` trained by ``tinysam-train`` on procedural data.

``demo_vit_t.pth`` is a float16 state dict in the official ``vit_t`` layout (load it with
``tinysam_export.checkpoint.load_model``, which casts to float32); ``demo_vit_t.json`` records
the image size it was trained at, the seed, the exact training command, the training time and
the held-out evaluation figures. See ``docs/TRAINING.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO_CHECKPOINT = Path(__file__).with_name("demo_vit_t.pth")
"""Path of the embedded demo checkpoint (float16, official ``vit_t`` layout)."""

DEMO_INFO = Path(__file__).with_name("demo_vit_t.json")
"""Path of its description (image size, seed, command, training time, evaluation)."""


def demo_info() -> dict[str, Any]:
    """The demo model's description (``demo_vit_t.json``) as a dict.

    Raises
    ------
    FileNotFoundError
        When the package was installed without its assets.
    """
    if not DEMO_INFO.is_file():
        raise FileNotFoundError(f"{DEMO_INFO} is missing; the package was installed without assets")
    return json.loads(DEMO_INFO.read_text())


def demo_image_size() -> int:
    """Encoder input size the demo model was trained at (from ``demo_vit_t.json``)."""
    return int(demo_info()["image_size"])
