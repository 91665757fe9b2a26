"""Golden test vectors shared by the Python, Kotlin and Swift pipelines (``docs/GOLDEN.md``).

``write_golden(predictor, out_dir)`` records what the runtime computes, with the runtime's own
functions; ``verify_golden(golden_dir)`` re-derives every stored output from the stored inputs.
``python -m tinysam_mobile.golden --bundle DIR`` writes ``DIR/golden`` for a bundle.
"""

from __future__ import annotations

from .arrays import check_array, load_array
from .writer import synthetic_images, verify_golden, write_golden

__all__ = ["check_array", "load_array", "synthetic_images", "verify_golden", "write_golden"]
