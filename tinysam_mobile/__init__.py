"""tinysam-mobile runtime: run exported TinySAM / MobileSAM graphs with numpy + ONNX Runtime.

Importing this package never imports torch.
"""

from __future__ import annotations

__version__ = "0.1.0"
