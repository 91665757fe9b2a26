"""Point grids of everything mode and the points a coverage map leaves uncovered."""

from __future__ import annotations

import numpy as np


def make_grid(points_per_side: int) -> np.ndarray:
    """Normalized ``n x n`` grid of point prompts (SAM's ``build_point_grid``).

    Parameters
    ----------
    points_per_side
        ``n >= 1``.

    Returns
    -------
    np.ndarray
        float64 ``(n * n, 2)`` (x, y) in [0, 1]: the centres of an ``n x n`` tiling, i.e.
        ``linspace(1 / (2n), 1 - 1 / (2n), n)`` on each axis, x varying fastest (row-major over
        y, then x).
    """
    n = int(points_per_side)
    if n < 1:
        raise ValueError(f"points_per_side must be >= 1, got {points_per_side}")
    offset = 1.0 / (2 * n)
    side = np.linspace(offset, 1.0 - offset, n)
    xs = np.tile(side[None, :], (n, 1))
    ys = np.tile(side[:, None], (1, n))
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def grid_to_image(points_normalized: np.ndarray, original_hw: tuple[int, int]) -> np.ndarray:
    """Scale a normalized grid to image pixels.

    Parameters
    ----------
    points_normalized
        float ``(P, 2)`` (x, y) in [0, 1].
    original_hw
        (H, W) of the image.

    Returns
    -------
    np.ndarray
        float64 ``(P, 2)`` ``points_xy_image`` = (x * W, y * H).
    """
    pts = np.asarray(points_normalized, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {pts.shape}")
    h, w = (int(v) for v in original_hw)
    return pts * np.array([w, h], dtype=np.float64)


def remaining_points(points_xy_image: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Points not covered by a coverage map (the second hierarchical pass).

    A point (x, y) is covered iff ``covered[y_i, x_i]`` with ``x_i = floor(x)``,
    ``y_i = floor(y)`` clipped into the map, i.e. the map is indexed row (y) first like every
    image here.

    How this differs from the official TinySAM script (``hierarchical_generate``): the script
    transposes its coverage map and indexes it ``[x, y]`` with loop variables whose names
    (``sx``, ``sy``) are swapped relative to the axes they move, and instead of the full grid it
    generates, around every coarse point, neighbours at one and two strides of
    ``H // points_per_side`` / ``W // points_per_side`` pixels, so some candidate points are
    produced twice and they sit half a dense cell away from the full grid; it also overwrites
    its own ``point_grids`` between the two passes. Here the candidates are exactly the
    ``points_per_side ** 2`` full-grid points, each at most once, in grid order, and nothing is
    mutated.

    Parameters
    ----------
    points_xy_image
        float ``(P, 2)`` (x, y) in image pixels.
    covered
        bool ``(H, W)`` coverage map in the image frame.

    Returns
    -------
    np.ndarray
        float64 ``(M, 2)`` the uncovered points, in their input order.
    """
    pts = np.asarray(points_xy_image, dtype=np.float64)
    cov = np.asarray(covered, dtype=bool)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_xy_image must have shape (P, 2), got {pts.shape}")
    if cov.ndim != 2 or 0 in cov.shape:
        raise ValueError(f"covered must be a non-empty (H, W) map, got shape {cov.shape}")
    h, w = cov.shape
    xi = np.clip(np.floor(pts[:, 0]).astype(np.int64), 0, w - 1)
    yi = np.clip(np.floor(pts[:, 1]).astype(np.int64), 0, h - 1)
    return pts[~cov[yi, xi]]
