"""tinysam_export: turns a TinySAM / MobileSAM checkpoint into verified mobile graphs."""

from __future__ import annotations

__version__ = "0.1.0"
