package dev.tinysam.pipeline.everything

import dev.tinysam.pipeline.Hw
import kotlin.math.floor

/**
 * Point grids of everything mode and the points a coverage map leaves uncovered; mirrors
 * `everything/grid.py` (`make_grid`, `grid_to_image`, `remaining_points`).
 */
object Grid {
    /**
     * Normalized n x n grid (SAM's `build_point_grid`): the centres of an n x n tiling,
     * `linspace(1/(2n), 1 - 1/(2n), n)` per axis, x varying fastest.
     *
     * @return flat (n*n*2) float64 (x, y) pairs in [0, 1].
     */
    fun makeGrid(pointsPerSide: Int): DoubleArray {
        val n = pointsPerSide
        require(n >= 1) { "points_per_side must be >= 1, got $pointsPerSide" }
        val side = linspace(1.0 / (2 * n), 1.0 - 1.0 / (2 * n), n)
        val out = DoubleArray(n * n * 2)
        for (iy in 0 until n) {
            for (ix in 0 until n) {
                out[(iy * n + ix) * 2] = side[ix]
                out[(iy * n + ix) * 2 + 1] = side[iy]
            }
        }
        return out
    }

    /** numpy's `linspace(start, stop, num)` (endpoint included): `i * step + start`, last = stop. */
    internal fun linspace(start: Double, stop: Double, num: Int): DoubleArray {
        val div = num - 1
        val delta = stop - start
        val out = DoubleArray(num)
        if (div > 0) {
            val step = delta / div
            for (i in 0 until num) out[i] = if (step == 0.0) i.toDouble() / div * delta + start else i * step + start
            out[num - 1] = stop
        } else if (num == 1) {
            out[0] = start
        }
        return out
    }

    /** Scale a normalized grid to image pixels: (x * W, y * H), float64. */
    fun gridToImage(pointsNormalized: DoubleArray, originalHw: Hw): DoubleArray {
        require(pointsNormalized.size % 2 == 0) { "points must have shape (P, 2)" }
        return DoubleArray(pointsNormalized.size) { i ->
            pointsNormalized[i] * if (i % 2 == 0) originalHw.width.toDouble() else originalHw.height.toDouble()
        }
    }

    /** Full-image grid in image pixels: `gridToImage(makeGrid(n), hw)`. */
    fun gridPointsXyImage(pointsPerSide: Int, originalHw: Hw): DoubleArray =
        gridToImage(makeGrid(pointsPerSide), originalHw)

    /**
     * Points not covered by a coverage map (the second hierarchical pass). A point (x, y) is
     * covered iff `covered[yi * W + xi]`, `xi = floor(x)`, `yi = floor(y)` clipped into the map:
     * the map is indexed row (y) first. (The official TinySAM script transposes its map and swaps
     * x and y; this implements the intended semantics, as the Python runtime does.)
     *
     * @param pointsXyImage flat (P*2) float64 image frame.
     * @param covered row-major (H, W) coverage map.
     * @return flat (M*2) uncovered points in input order.
     */
    fun remainingPoints(pointsXyImage: DoubleArray, covered: BooleanArray, coveredHw: Hw): DoubleArray {
        require(pointsXyImage.size % 2 == 0) { "points_xy_image must have shape (P, 2)" }
        val h = coveredHw.height
        val w = coveredHw.width
        require(h > 0 && w > 0 && covered.size == h * w) { "covered must be a non-empty (H, W) map, got $coveredHw" }
        val out = ArrayList<Double>()
        for (p in 0 until pointsXyImage.size / 2) {
            val x = pointsXyImage[p * 2]
            val y = pointsXyImage[p * 2 + 1]
            val xi = floor(x).toLong().coerceIn(0L, (w - 1).toLong()).toInt()
            val yi = floor(y).toLong().coerceIn(0L, (h - 1).toLong()).toInt()
            if (!covered[yi * w + xi]) {
                out += x
                out += y
            }
        }
        return out.toDoubleArray()
    }
}
