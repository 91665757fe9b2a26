"""``python -m tinysam_export``: same as the ``tinysam-export`` command."""

from __future__ import annotations

from tinysam_export.cli import main

raise SystemExit(main())
