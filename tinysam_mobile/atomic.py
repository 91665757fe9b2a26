"""Writing outputs without ever leaving a half-written file: the one implementation.

Every file the SDK writes for a user (manifests, overlays, mask JSON, checkpoints) goes to a
temporary name in the destination folder and is renamed into place only when complete; on any
error the temporary file is removed. ``tempfile`` creates its files (0600) and folders (0700)
private; before the rename they get the permissions an ordinary ``open()`` / ``mkdir`` would
have given them under the process umask, so the results are readable like any other output.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: str | Path) -> None:
    """Give the file or folder at ``path`` the permissions ``open`` / ``mkdir`` would have."""
    path = Path(path)
    base = 0o777 if path.is_dir() else 0o666
    os.chmod(path, base & ~_umask())


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    Raises
    ------
    OSError
        When the folder does not exist or is not writable (nothing is left behind).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns ``path``."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
