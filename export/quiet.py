"""Keeping what converters, quantisers and interpreters print off the console."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Drop what converters, quantisers and interpreters print (errors arrive as exceptions).

    Python output (progress bars) and C++ logs written straight to file descriptors 1 and 2
    (litert-torch's absl / TF INFO lines, the TFLite interpreter's XNNPACK notice) both go to a
    scratch file for the duration of the block; the pipeline reports its own progress.
    Warnings are the caller's to filter (``warnings.catch_warnings``).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    contextlib.redirect_stderr(io.StringIO()),
                ):
                    yield
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)
