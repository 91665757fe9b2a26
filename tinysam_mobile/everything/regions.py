"""Small-region cleanup (SAM's ``min_mask_region_area``) with a numpy connected-components pass.

SAM uses OpenCV's ``connectedComponentsWithStats`` (8-connectivity); the runtime depends on
numpy only, so :func:`label_components` labels runs of set pixels row by row and merges runs of
adjacent rows that touch (including diagonally) with a vectorised union-find.
"""

from __future__ import annotations

import numpy as np


def label_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a 2-D bool mask.

    Parameters
    ----------
    mask
        bool ``(H, W)``.

    Returns
    -------
    (labels, sizes)
        int32 ``(H, W)`` with 0 for unset pixels and 1..n for the components, numbered in
        raster order of their first pixel; int64 ``(n,)`` pixel counts of components 1..n.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {m.shape}")
    h, w = m.shape
    labels = np.zeros((h, w), dtype=np.int32)
    if not m.any():
        return labels, np.zeros(0, dtype=np.int64)
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    d = np.diff(padded, axis=1)  # (H, W + 1): +1 where a run starts, -1 after it ends
    rs, cs = np.nonzero(d == 1)  # raster order: row, then column
    re, ce = np.nonzero(d == -1)
    assert np.array_equal(rs, re)
    starts, ends = cs, ce - 1  # inclusive columns
    n = rs.size
    # For every run in row r + 1, the runs of row r it touches form a contiguous range.
    key_start = rs.astype(np.int64) * (w + 2) + starts
    key_end = rs.astype(np.int64) * (w + 2) + ends
    lo = np.searchsorted(key_end, (rs - 1).astype(np.int64) * (w + 2) + starts - 1, side="left")
    hi = np.searchsorted(key_start, (rs - 1).astype(np.int64) * (w + 2) + ends + 1, side="right")
    counts = np.maximum(hi - lo, 0)
    child = np.repeat(np.arange(n), counts)
    parent = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    parent = parent + np.repeat(lo, counts)
    root = np.arange(n)
    while True:  # min-label propagation with pointer jumping
        if child.size:
            lo_lab = np.minimum(root[child], root[parent])
            for nodes in (child, parent, root[child], root[parent]):  # hook nodes and roots
                np.minimum.at(root, nodes, lo_lab)
        jumped = root[root]
        while not np.array_equal(jumped, root):
            root = jumped
            jumped = root[root]
        if child.size == 0 or np.array_equal(root[child], root[parent]):
            break
    uniq, comp = np.unique(root, return_inverse=True)
    lengths = ends - starts + 1
    sizes = np.bincount(comp, weights=lengths, minlength=uniq.size).astype(np.int64)
    run_label = (comp + 1).astype(np.int32)
    flat = labels.reshape(-1)
    pix = np.repeat(rs.astype(np.int64) * w + starts, lengths)
    pix += np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    flat[pix] = np.repeat(run_label, lengths)
    return labels, sizes


def remove_small_regions(mask: np.ndarray, area_thresh: int, mode: str) -> tuple[np.ndarray, bool]:
    """Fill small holes or drop small islands (SAM's ``remove_small_regions``).

    Parameters
    ----------
    mask
        bool ``(H, W)``.
    area_thresh
        Regions with fewer pixels than this are changed.
    mode
        ``"holes"``: 8-connected components of the unset pixels smaller than the threshold are
        set. ``"islands"``: components of the set pixels smaller than the threshold are unset; if
        all are small, the largest is kept.

    Returns
    -------
    (mask, changed)
        New bool ``(H, W)`` mask and whether anything changed.
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    m = np.asarray(mask, dtype=bool)
    holes = mode == "holes"
    labels, sizes = label_components(~m if holes else m)
    small = np.flatnonzero(sizes < area_thresh) + 1
    if small.size == 0:
        return m.copy(), False
    if holes:
        return m | np.isin(labels, small), True
    big = np.flatnonzero(sizes >= area_thresh) + 1
    if big.size == 0:
        big = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(labels, big), True
