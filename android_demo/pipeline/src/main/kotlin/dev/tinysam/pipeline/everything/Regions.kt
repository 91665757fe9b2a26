package dev.tinysam.pipeline.everything

import dev.tinysam.pipeline.Hw

/**
 * Small-region cleanup (SAM's `min_mask_region_area`); mirrors `everything/regions.py`
 * (`label_components`, `remove_small_regions`). Components are 8-connected, numbered 1..n in
 * raster order of their first pixel (as OpenCV and the Python runtime number them).
 */
object Regions {
    /** What [removeSmallRegions] changes. */
    enum class Mode { HOLES, ISLANDS }

    /**
     * 8-connected components of a row-major (H, W) mask.
     *
     * @return labels (0 unset, 1..n) and the pixel count of each component 1..n.
     */
    fun labelComponents(mask: BooleanArray, hw: Hw): Pair<IntArray, IntArray> {
        val h = hw.height
        val w = hw.width
        require(mask.size == h * w) { "mask has ${mask.size} values, expected $h * $w" }
        val labels = IntArray(h * w)
        val sizes = ArrayList<Int>()
        val stack = IntArray(h * w)
        for (start in 0 until h * w) {
            if (!mask[start] || labels[start] != 0) continue
            val label = sizes.size + 1
            var top = 0
            stack[top++] = start
            labels[start] = label
            var count = 0
            while (top > 0) {
                val p = stack[--top]
                count++
                val y = p / w
                val x = p % w
                for (dy in -1..1) {
                    val ny = y + dy
                    if (ny < 0 || ny >= h) continue
                    for (dx in -1..1) {
                        val nx = x + dx
                        if (nx < 0 || nx >= w) continue
                        val q = ny * w + nx
                        if (mask[q] && labels[q] == 0) {
                            labels[q] = label
                            stack[top++] = q
                        }
                    }
                }
            }
            sizes += count
        }
        return labels to sizes.toIntArray()
    }

    /**
     * Fill holes ([Mode.HOLES]: components of unset pixels smaller than [areaThresh] are set) or
     * drop islands ([Mode.ISLANDS]: smaller components are unset; if all are small, the largest
     * is kept).
     *
     * @return the new mask and whether anything changed.
     */
    fun removeSmallRegions(mask: BooleanArray, hw: Hw, areaThresh: Int, mode: Mode): Pair<BooleanArray, Boolean> {
        val holes = mode == Mode.HOLES
        val (labels, sizes) = labelComponents(if (holes) BooleanArray(mask.size) { !mask[it] } else mask, hw)
        val small = sizes.indices.filter { sizes[it] < areaThresh }.map { it + 1 }.toSet()
        if (small.isEmpty()) return mask.copyOf() to false
        if (holes) return BooleanArray(mask.size) { mask[it] || labels[it] in small } to true
        var big = sizes.indices.filter { sizes[it] >= areaThresh }.map { it + 1 }.toSet()
        if (big.isEmpty()) {
            var best = 0
            for (i in sizes.indices) if (sizes[i] > sizes[best]) best = i
            big = setOf(best + 1)
        }
        return BooleanArray(mask.size) { labels[it] in big } to true
    }
}
