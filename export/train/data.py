"""Procedural training and evaluation data: images with instance masks, made from a seed.

Every sample is a pure function of one integer *sample seed*: the same seed gives the same bytes
on any machine (numpy's PCG64 stream plus PIL drawing, no global state). Each split owns a
disjoint range of sample seeds (:data:`SPLIT_SEED_RANGES`); training draws only from the
``train`` range, and :func:`split_of` lets callers assert where a seed belongs.

An image holds 3 to 10 objects (ellipses, polygons, stars, rings, thin bars, blobs with holes)
over a textured, noisy background. Objects are painted in order, so later objects occlude
earlier ones; the instance masks are what stays visible, therefore they never overlap. Objects
whose visible part is tiny are dropped from the masks (their pixels stay in the image, like
unlabeled clutter).

Folder layout written by :func:`write_split` (and read by :func:`read_folder`)::

    DIR/images/000000.png        RGB uint8
    DIR/masks/000000.png         instance map: 0 = unlabeled, k = instance k (8 or 16 bit)
    DIR/split.json               split name, seeds, image size, generator version
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

GENERATOR_VERSION = 2
"""Bumped whenever the generator's output for a given seed changes."""

SPLIT_SEED_RANGES: dict[str, tuple[int, int]] = {
    "train": (0, 1_000_000_000),
    "heldout": (1_000_000_000, 1_100_000_000),
    "test": (1_100_000_000, 1_200_000_000),
}
"""Half-open ranges of sample seeds owned by each split; they never overlap."""

R_MIN, R_MAX = 0.08, 0.35
"""Object radius range as a fraction of the image side (log-uniform)."""

N_OBJECTS = (3, 10)
"""Inclusive range of objects painted per image (some end up hidden by later ones)."""

MIN_VISIBLE_FRACTION = 1 / 500
"""Instances whose visible part covers less of the image are not labelled (their pixels stay)."""

SHAPE_KINDS = ("ellipse", "polygon", "star", "ring", "bar", "blob")
"""Object kinds the generator draws."""


@dataclass(frozen=True)
class Sample:
    """One generated image with its instance masks.

    Attributes
    ----------
    image
        uint8 array of shape (H, W, 3), RGB.
    masks
        bool array of shape (K, H, W), one visible (post-occlusion) mask per instance; masks
        are pairwise disjoint and each is non-empty.
    seed
        The sample seed it was made from (``-1`` for images read from a user folder).
    """

    image: np.ndarray
    masks: np.ndarray
    seed: int = -1


def split_of(sample_seed: int) -> str:
    """Name of the split that owns ``sample_seed``.

    Raises
    ------
    ValueError
        When the seed lies in no split's range.
    """
    for name, (lo, hi) in SPLIT_SEED_RANGES.items():
        if lo <= sample_seed < hi:
            return name
    raise ValueError(f"sample seed {sample_seed} lies in no split range {SPLIT_SEED_RANGES}")


def split_seeds(name: str, n: int, seed: int = 0) -> list[int]:
    """Sample seeds of the ``n`` images of split ``name`` with offset ``seed``.

    Parameters
    ----------
    name
        ``"train"``, ``"heldout"`` or ``"test"``.
    n
        Number of images.
    seed
        Offset inside the split's range, so ``seed=0`` and ``seed=10_000`` give different
        images of the same split.
    """
    if name not in SPLIT_SEED_RANGES:
        raise ValueError(f"unknown split {name!r}; expected one of {sorted(SPLIT_SEED_RANGES)}")
    if n < 0 or seed < 0:
        raise ValueError(f"n and seed must be >= 0, got n={n}, seed={seed}")
    lo, hi = SPLIT_SEED_RANGES[name]
    if lo + seed + n > hi:
        raise ValueError(f"split {name!r} has only {hi - lo} seeds; seed={seed} + n={n} overflows")
    return [lo + seed + i for i in range(n)]


# ----------------------------------------------------------------------------- textures


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int) -> np.ndarray:
    """Low-frequency noise in [0, 1], float32 of shape (size, size, channels)."""
    small = (rng.random((cells, cells, channels)) * 255).astype(np.uint8)
    mode = "RGB" if channels == 3 else "L"
    img = Image.fromarray(small if channels == 3 else small[..., 0], mode)
    big = np.asarray(img.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255.0
    return big.reshape(size, size, channels)


def _texture(rng: np.random.Generator, size: int, base: np.ndarray) -> np.ndarray:
    """A textured colour field around ``base`` (3,), float32 (size, size, 3) on 0..255."""
    kind = rng.integers(0, 5)
    out = np.broadcast_to(base, (size, size, 3)).astype(np.float32)
    amp = float(rng.uniform(5, 60))
    if kind == 1:  # smooth colour noise
        cells = int(rng.integers(2, 12))
        out = out + (_smooth_noise(rng, size, cells, 3) - 0.5) * 2 * amp
    elif kind == 2:  # stripes
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(4, size / 4)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        phase = (xx * np.cos(theta) + yy * np.sin(theta)) * (2 * np.pi / period)
        out = out + (np.sin(phase) * amp)[..., None] * rng.uniform(0.3, 1.0, 3)
    elif kind == 3:  # checker
        cell = int(rng.integers(4, max(5, size // 6)))
        yy, xx = np.mgrid[0:size, 0:size]
        chk = ((yy // cell + xx // cell) % 2).astype(np.float32) - 0.5
        out = out + (chk * amp)[..., None]
    elif kind == 4:  # linear gradient
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        g = xx * np.cos(theta) + yy * np.sin(theta)
        out = out + ((g - g.mean()) * 2 * amp)[..., None] * rng.uniform(0.5, 1.0, 3)
    noise_sigma = float(rng.choice([0.0, 2.0, 6.0, 12.0]))
    if noise_sigma > 0:
        out = out + rng.normal(0, noise_sigma, (size, size, 1)).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- shapes


def _rotate(xy: np.ndarray, theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return xy @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _poly_mask(size: int, polys: list[np.ndarray], holes: list[np.ndarray]) -> np.ndarray:
    """Rasterise filled polygons minus hole polygons; bool (size, size)."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for p in polys:
        draw.polygon([tuple(v) for v in p.tolist()], fill=255)
    for p in holes:
        draw.polygon([tuple(v) for v in p.tolist()], fill=0)
    return np.asarray(img) > 127


def _ellipse_pts(rx: float, ry: float, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)


def _shape_mask(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """Mask of one object of ``kind`` at a random position, scale and rotation."""
    r = size * float(np.exp(rng.uniform(np.log(R_MIN), np.log(R_MAX))))
    center = rng.uniform(0.05 * size, 0.95 * size, 2)
    theta = float(rng.uniform(0, 2 * np.pi))
    aspect = float(rng.uniform(0.45, 1.0))
    holes: list[np.ndarray] = []
    if kind == "ellipse":
        pts = _ellipse_pts(r, r * aspect)
    elif kind == "polygon":
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.6, 1.0, n)
        pts = np.stack([rad * np.cos(ang), rad * np.sin(ang) * aspect], axis=1)
    elif kind == "star":
        n = int(rng.integers(4, 9))
        ang = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.35, 0.6))
        pts = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
    elif kind == "ring":
        pts = _ellipse_pts(r, r * aspect)
        k = float(rng.uniform(0.4, 0.7))
        holes.append(_ellipse_pts(r * k, r * aspect * k))
    elif kind == "bar":
        w = max(2.0, r * float(rng.uniform(0.06, 0.2)))
        pts = np.array([[-r, -w], [r, -w], [r, w], [-r, w]], dtype=np.float64) * [1.3, 1.0]
    else:  # blob with holes
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        rad = np.ones_like(t)
        for k in range(2, 6):
            rad += rng.uniform(0, 0.35 / k * 2) * np.sin(k * t + rng.uniform(0, 2 * np.pi))
        rad = r * np.clip(rad, 0.35, None) / rad.max()
        pts = np.stack([rad * np.cos(t), rad * np.sin(t) * aspect], axis=1)
        for _ in range(int(rng.integers(1, 3))):
            hc = rng.uniform(-0.3, 0.3, 2) * r
            hr = r * float(rng.uniform(0.1, 0.22))
            holes.append(_ellipse_pts(hr, hr * rng.uniform(0.6, 1.0), 24) + hc)
    polys = [_rotate(pts, theta) + center]
    return _poly_mask(size, polys, [_rotate(h, theta) + center for h in holes])


def _colour(rng: np.random.Generator, avoid: np.ndarray | None) -> np.ndarray:
    """A random RGB colour (3,) float, usually not too close to ``avoid``."""
    for _ in range(8):
        c = rng.uniform(0, 255, 3)
        if avoid is None or np.abs(c - avoid).max() > rng.uniform(25, 60):
            return c
    return c


# ----------------------------------------------------------------------------- samples


def make_sample(seed: int, image_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Generate one image and its instance masks from ``seed``.

    Parameters
    ----------
    seed
        Sample seed (any non-negative int; see :data:`SPLIT_SEED_RANGES` for which split owns
        it).
    image_size
        Side of the square image in pixels (>= 32).

    Returns
    -------
    image
        uint8 array (image_size, image_size, 3), RGB.
    masks
        bool array (K, image_size, image_size), K >= 1 visible instance masks, disjoint.
    """
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32, got {image_size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    size = image_size
    rng = np.random.default_rng([GENERATOR_VERSION, seed])
    bg_base = rng.uniform(0, 255, 3)
    canvas = _texture(rng, size, bg_base)
    shapes: list[np.ndarray] = []
    n_obj = int(rng.integers(N_OBJECTS[0], N_OBJECTS[1] + 1))
    for _ in range(n_obj):
        kind = SHAPE_KINDS[int(rng.integers(0, len(SHAPE_KINDS)))]
        m = _shape_mask(rng, size, kind)
        if not m.any():
            continue
        under = canvas[m].mean(axis=0)
        fill = _texture(rng, size, _colour(rng, under))
        canvas[m] = fill[m]
        if rng.random() < 0.3:  # darker or lighter outline
            edge = m & ~_erode(m)
            canvas[edge] = canvas[edge] * float(rng.uniform(0.3, 1.6))
        shapes.append(m)
    if rng.random() < 0.2:
        canvas = canvas.mean(axis=2, keepdims=True).repeat(3, axis=2)
    contrast = float(rng.uniform(0.6, 1.2))
    canvas = (canvas - canvas.mean()) * contrast + canvas.mean()
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        radius = float(rng.uniform(0.4, 1.0))
        image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
    min_area = max(12, int(size * size * MIN_VISIBLE_FRACTION))
    masks = [m for m in occlude(shapes) if m.sum() >= min_area] if shapes else []
    if not masks:  # every object was hidden; fall back to one rectangle
        m = np.zeros((size, size), dtype=bool)
        m[size // 4 : size // 2, size // 4 : size // 2] = True
        image[m] = 255 - image[m]
        masks = [m]
    return np.ascontiguousarray(image), np.stack(masks)


def occlude(shapes: list[np.ndarray]) -> np.ndarray:
    """Visible masks of shapes painted in order (later shapes cover earlier ones).

    Parameters
    ----------
    shapes
        Non-empty list of bool (H, W) full shape masks, in painting order.

    Returns
    -------
    numpy.ndarray
        bool (K, H, W): mask k is shape k minus every later shape (possibly empty).
    """
    covered = np.zeros(shapes[0].shape, dtype=bool)
    visible = []
    for m in reversed(shapes):
        visible.append(m & ~covered)
        covered |= m
    return np.stack(visible[::-1])


def _erode(mask: np.ndarray) -> np.ndarray:
    """4-neighbour binary erosion with the image border counted as background."""
    out = mask.copy()
    out[1:, :] &= mask[:-1, :]
    out[:-1, :] &= mask[1:, :]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[0, :] = out[-1, :] = False
    out[:, 0] = out[:, -1] = False
    return out


def make_split(name: str, n: int, seed: int = 0, image_size: int = 256) -> Iterator[Sample]:
    """Yield the ``n`` samples of split ``name`` (see :func:`split_seeds`)."""
    for s in split_seeds(name, n, seed):
        image, masks = make_sample(s, image_size)
        yield Sample(image, masks, s)


# ----------------------------------------------------------------------------- folders


def instance_map(masks: np.ndarray) -> np.ndarray:
    """Disjoint bool masks (K, H, W) -> instance map (H, W), 0 = unlabeled, k = mask k-1."""
    if masks.ndim != 3:
        raise ValueError(f"masks must be (K, H, W), got shape {masks.shape}")
    if (masks.sum(axis=0) > 1).any():
        raise ValueError("masks overlap; an instance map needs disjoint masks")
    out = np.zeros(masks.shape[1:], dtype=np.uint16)
    for k, m in enumerate(masks, start=1):
        out[m] = k
    return out


def write_split(
    out_dir: str | Path, name: str, n: int, seed: int = 0, image_size: int = 256
) -> Path:
    """Write split ``name`` as PNG images + PNG instance maps under ``out_dir``."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    seeds = []
    for i, sample in enumerate(make_split(name, n, seed, image_size)):
        stem = f"{i:06d}"
        Image.fromarray(sample.image).save(out / "images" / f"{stem}.png")
        imap = instance_map(sample.masks)
        mode_arr = imap.astype(np.uint8) if imap.max() < 256 else imap
        Image.fromarray(mode_arr).save(out / "masks" / f"{stem}.png")
        seeds.append(sample.seed)
    meta = {
        "split": name,
        "n": n,
        "seed_offset": seed,
        "sample_seeds": [seeds[0], seeds[-1]] if seeds else [],
        "image_size": image_size,
        "generator_version": GENERATOR_VERSION,
    }
    (out / "split.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _coco_masks(ann_path: Path, image_dir: Path) -> Iterator[Sample]:
    """Samples of a COCO instances JSON (polygon or RLE segmentations)."""
    from tinysam_mobile.image_io import load_image
    from tinysam_mobile.masks import coco_rle_decode, rle_to_coco

    coco = json.loads(ann_path.read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in coco.get("annotations", []):
        if not ann.get("iscrowd", 0):
            by_image.setdefault(ann["image_id"], []).append(ann)
    for info in sorted(coco.get("images", []), key=lambda d: d["id"]):
        image = load_image(image_dir / info["file_name"])
        h, w = image.shape[:2]
        masks = []
        for ann in by_image.get(info["id"], []):
            seg = ann["segmentation"]
            if isinstance(seg, list):  # polygons
                img = Image.new("L", (w, h), 0)
                draw = ImageDraw.Draw(img)
                for poly in seg:
                    draw.polygon([float(v) for v in poly], fill=255)
                m = np.asarray(img) > 127
            else:
                rle = seg if isinstance(seg["counts"], str | bytes) else rle_to_coco(seg)
                m = coco_rle_decode(rle)
            if m.shape != (h, w):
                raise ValueError(
                    f"{ann_path}: annotation {ann.get('id')} is {m.shape}, image {info['file_name']}"
                    f" is {(h, w)}"
                )
            if m.any():
                masks.append(m)
        if masks:
            yield Sample(image, np.stack(masks))


def read_folder(folder: str | Path, limit: int | None = None) -> Iterator[Sample]:
    """Read images with instance masks from a folder.

    Two layouts are accepted:

    - ``images/NAME.(png|jpg|...)`` + ``masks/NAME.png`` instance maps (0 unlabeled, k > 0 one
      instance each; 8- or 16-bit), as written by :func:`write_split`;
    - ``images/`` + a COCO instances JSON (``annotations.json`` or any single ``*.json`` at the
      top level other than ``split.json``), polygon or RLE segmentations; crowd regions are
      skipped.

    Images without any instance are skipped. Yields :class:`Sample` with ``seed == -1``.
    """
    from tinysam_mobile.image_io import load_image

    root = Path(folder)
    image_dir = root / "images"
    if not image_dir.is_dir():
        raise FileNotFoundError(f"{root} has no images/ folder")
    jsons = [p for p in root.glob("*.json") if p.name != "split.json"]
    count = 0
    if not (root / "masks").is_dir():
        if len(jsons) != 1:
            raise FileNotFoundError(
                f"{root} has no masks/ folder and {len(jsons)} COCO JSON files (need exactly one)"
            )
        for sample in _coco_masks(jsons[0], image_dir):
            yield sample
            count += 1
            if limit is not None and count >= limit:
                return
        return
    for path in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES):
        mask_path = root / "masks" / f"{path.stem}.png"
        if not mask_path.is_file():
            raise FileNotFoundError(f"no instance map {mask_path} for image {path}")
        image = load_image(path)
        imap = np.asarray(Image.open(mask_path)).astype(np.int64)
        if imap.ndim != 2 or imap.shape != image.shape[:2]:
            raise ValueError(
                f"{mask_path} must be a single-channel instance map of shape {image.shape[:2]},"
                f" got {imap.shape}"
            )
        ids = [int(k) for k in np.unique(imap) if k > 0]
        if not ids:
            continue
        yield Sample(image, np.stack([imap == k for k in ids]))
        count += 1
        if limit is not None and count >= limit:
            return
