"""Loading images into the uint8 (H, W, 3) RGB arrays the pipeline works on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

ImageLike = str | Path | Image.Image | np.ndarray
"""What :func:`load_image` accepts."""


def load_image(image: ImageLike) -> np.ndarray:
    """Load an image as uint8 (H, W, 3) RGB.

    Parameters
    ----------
    image
        A file path, a PIL image or a numpy array.

        - Files and PIL images: the EXIF orientation is applied (so coordinates refer to the
          image as viewers show it). Grayscale (``1``, ``L``, ``I``) is replicated to RGB;
          ``RGBA``, ``LA``, ``PA`` and palette images are converted to RGB and the alpha
          channel is **dropped** (not composited); 16-bit images (``I;16*``) are scaled to
          8 bits by keeping the high byte; CMYK / YCbCr are converted to RGB. Float images
          (mode ``F``) are refused.
        - Arrays: (H, W) or (H, W, 1) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA (alpha
          dropped); dtype uint8, or uint16 (scaled with ``>> 8``). Float arrays are refused,
          because their scale (0..1 or 0..255) is ambiguous: convert them to uint8 first.

    Returns
    -------
    np.ndarray
        uint8 (H, W, 3), C-contiguous, RGB, H and W > 0.

    Raises
    ------
    ImageError
        Missing, empty, unreadable, corrupt or truncated file; zero-size image; unsupported
        mode, dtype or shape.
    """
    if isinstance(image, str | Path):
        return _from_pil(_open(Path(image)), str(image))
    if isinstance(image, Image.Image):
        return _from_pil(image, "PIL image")
    if isinstance(image, np.ndarray):
        return _from_array(image)
    raise ImageError(
        f"unsupported image type {type(image).__name__}; pass a path, a PIL image or an array"
    )


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageError(f"image file {path} does not exist")
    if not path.is_file():
        raise ImageError(f"image path {path} is not a file")
    if path.stat().st_size == 0:
        raise ImageError(f"image file {path} is empty (0 bytes)")
    try:
        img = Image.open(path)
        img.load()
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not a readable image (unknown or corrupt format)") from None
    except PermissionError:
        raise ImageError(f"{path} cannot be read (permission denied)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path} could not be decoded (corrupt or truncated): {e}") from None
    return img


def _from_pil(img: Image.Image, name: str) -> np.ndarray:
    try:
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{name}: could not apply EXIF orientation: {e}") from None
    if img.width == 0 or img.height == 0:
        raise ImageError(f"{name} has zero size ({img.width}x{img.height})")
    mode = img.mode
    if mode == "RGB":
        arr = np.asarray(img)
    elif mode.startswith("I;16") or mode == "I":
        # 16-bit grayscale: keep the high byte; "I" (32-bit) is clipped to 16 bits first.
        raw = np.asarray(img).astype(np.int64)
        gray = (np.clip(raw, 0, 65535) >> 8).astype(np.uint8)
        arr = np.repeat(gray[:, :, None], 3, axis=2)
    elif mode == "F":
        raise ImageError(f"{name} is a floating-point image (mode F); convert it to 8-bit first")
    else:
        # 1, L, P, PA, RGBA, LA, CMYK, YCbCr, ...: PIL's conversion (alpha is dropped).
        try:
            arr = np.asarray(img.convert("RGB"))
        except (ValueError, OSError) as e:
            raise ImageError(f"{name} has unsupported mode {mode!r}: {e}") from None
    return _finish(arr)


def _from_array(a: np.ndarray) -> np.ndarray:
    if a.ndim not in (2, 3):
        raise ImageError(f"image array must be (H, W) or (H, W, C), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageError(f"image array has zero size: shape {a.shape}")
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        raise ImageError(f"image array must have 1, 3 or 4 channels, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        raise ImageError(
            f"float image arrays ({a.dtype}) are ambiguous (0..1 or 0..255?); convert to uint8, "
            "e.g. (x * 255).round().astype(np.uint8)"
        )
    elif a.dtype != np.uint8:
        raise ImageError(f"image array dtype must be uint8 or uint16, got {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return _finish(a)


def _finish(arr: Any) -> np.ndarray:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:  # pragma: no cover - guarded above
        raise ImageError(f"internal: expected (H, W, 3), got {arr.shape}")
    return arr
