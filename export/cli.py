"""``tinysam-export``: export a TinySAM / MobileSAM checkpoint into a verified bundle.

Examples::

    tinysam-export --target onnx --checkpoint tinysam_42.3.pth --out bundles/tinysam
    tinysam-export --target all --checkpoint tinysam_42.3.pth --out bundles/tinysam-all

The options are derived from the fields of :class:`tinysam_export.config.ExportConfig` (their
``metadata``); ``--quiet`` is the only option of the command itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import typing
from dataclasses import MISSING, fields
from enum import Enum
from pathlib import Path
from typing import Any

from tinysam_export import __version__
from tinysam_export.config import ExportConfig
from tinysam_export.progress import NullProgress, StreamProgress

EXIT_ERROR = 2
"""Exit status for a clear, expected failure (bad checkpoint, failed parity, bad option)."""

PROG = "tinysam-export"


class _QuietProgress(NullProgress):
    """``--quiet``: no stage lines, but safety warnings still reach stderr."""

    def warning(self, message: str) -> None:
        """Print the warning."""
        sys.stderr.write(f"WARNING: {message}\n")


def _field_kind(hint: Any) -> tuple[Any, bool]:
    """(scalar type, repeated) of an ``ExportConfig`` field type, ``Optional`` removed."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return args[0], True
    if args and typing.get_origin(hint) is not None:  # X | None
        return args[0], False
    return hint, False


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one option per ``ExportConfig`` field that declares a ``flag``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a TinySAM / MobileSAM vit_t checkpoint to verified mobile graphs "
        "plus manifest.json.",
    )
    hints = typing.get_type_hints(ExportConfig)
    for f in fields(ExportConfig):
        flag = f.metadata.get("flag")
        if flag is None:
            continue
        help_text = f.metadata.get("help", "")
        kind, repeated = _field_kind(hints[f.name])
        required = f.default is MISSING and f.default_factory is MISSING
        if kind is bool:
            action = "store_false" if flag.startswith("--no-") else "store_true"
            parser.add_argument(flag, dest=f.name, action=action, help=help_text)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            choices = [m.value for m in kind] + list(f.metadata.get("extra_choices", ()))
            default = ", ".join(m.value for m in f.default) if repeated else f.default
            parser.add_argument(
                flag,
                dest=f.name,
                choices=choices,
                action="append" if repeated else "store",
                default=None,
                help=f"{help_text} (default: {default})" if default else help_text,
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                type=kind if kind in (int, Path) else str,
                required=required,
                default=None,
                metavar=f.name.upper(),
                help=help_text,
            )
    parser.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def config_from_args(args: argparse.Namespace) -> ExportConfig:
    """Build the config from parsed arguments (unset options keep the dataclass defaults)."""
    values: dict[str, Any] = {}
    for f in fields(ExportConfig):
        if "flag" not in f.metadata:
            continue
        value = getattr(args, f.name)
        if value is None:
            continue
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return ExportConfig(**values)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 success, 2 error).

    Expected failures (unusable checkpoint, unsupported target, failed parity check, existing
    output folder) print one line on stderr without a traceback.
    """
    from tinysam_mobile.errors import TinySamError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    progress = _QuietProgress() if args.quiet else StreamProgress(sys.stderr)
    try:
        config = config_from_args(args)
        from tinysam_export.pipeline import run_export

        # stdout carries only the bundle path; what converters print is dropped (their errors
        # arrive as exceptions, and the stages report progress on stderr).
        with contextlib.redirect_stdout(io.StringIO()):
            result = run_export(config, progress)
    except TinySamError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; nothing was written\n")
        return 130
    if not args.quiet:
        total = sum(result.stage_seconds.values())
        sys.stderr.write(
            f"wrote {result.out} ({len(result.manifest.artifacts)} artifacts, {total:.1f} s)\n"
        )
    print(result.out)
    return 0
