package dev.tinysam.pipeline

/**
 * Mask utilities: stability score, boxes, box NMS and run-length encodings; mirrors
 * `tinysam_mobile/masks.py` (`stability_score`, `mask_to_box`, `box_area`, `box_iou`,
 * `box_nms`, `is_box_near_crop_edge`, `mask_to_rle`, `rle_to_mask`, `coco_rle_encode`,
 * `coco_rle_decode`, `area_from_rle`).
 *
 * Boxes are XYXY with inclusive pixel indices, area `(x1 - x0) * (y1 - y0)` (SAM's convention).
 * Run lengths run over the mask in column-major order and start with a run of zeros.
 */
object Masks {
    /** An uncompressed run-length encoding; `counts[0]` counts zeros. */
    data class Rle(val size: Hw, val counts: IntArray)

    /** A COCO compressed RLE, byte-equal to pycocotools' `mask.encode`. */
    data class CocoRle(val size: Hw, val counts: String)

    /**
     * Stability of each binary mask under a shift of the logit cutoff:
     * `count(logits > thr + offset) / count(logits > thr - offset)`, 0 where the denominator is 0.
     * The cutoffs are summed in float64 and compared in float32 (numpy compares a float32 array
     * with a Python float in float32).
     *
     * @param logits float32 (..., H, W).
     * @return float32 (...).
     */
    fun stabilityScore(logits: FloatTensor, maskThreshold: Double, offset: Double): FloatArray {
        require(logits.rank >= 2) { "logits must have shape (..., H, W), got ${logits.shape.contentToString()}" }
        val hi = (maskThreshold + offset).toFloat()
        val lo = (maskThreshold - offset).toFloat()
        val plane = logits.shape[logits.rank - 1] * logits.shape[logits.rank - 2]
        val n = if (plane == 0) 0 else logits.size / plane
        return FloatArray(n) { p ->
            var inter = 0L
            var union = 0L
            for (i in p * plane until (p + 1) * plane) {
                val v = logits.data[i]
                if (v > hi) inter++
                if (v > lo) union++
            }
            if (union > 0) (inter.toDouble() / union.toDouble()).toFloat() else 0f
        }
    }

    /**
     * Tight XYXY boxes (inclusive max indices) around boolean masks; zeros for an empty mask.
     *
     * @param masks bool (..., H, W).
     * @return int (..., 4) flattened.
     */
    fun maskToBox(masks: BoolTensor): IntArray {
        require(masks.shape.size >= 2) { "masks must have shape (..., H, W), got ${masks.shape.contentToString()}" }
        val h = masks.shape[masks.shape.size - 2]
        val w = masks.shape[masks.shape.size - 1]
        val plane = h * w
        val n = masks.shape.copyOfRange(0, masks.shape.size - 2).fold(1) { a, d -> a * d }
        val out = IntArray(n * 4)
        if (plane == 0) return out
        for (p in 0 until n) {
            var x0 = w
            var y0 = h
            var x1 = -1
            var y1 = -1
            val base = p * plane
            for (y in 0 until h) {
                for (x in 0 until w) {
                    if (masks.data[base + y * w + x]) {
                        if (x < x0) x0 = x
                        if (x > x1) x1 = x
                        if (y < y0) y0 = y
                        y1 = y
                    }
                }
            }
            if (x1 >= 0) {
                out[p * 4] = x0
                out[p * 4 + 1] = y0
                out[p * 4 + 2] = x1
                out[p * 4 + 3] = y1
            }
        }
        return out
    }

    /** Area `(x1 - x0) * (y1 - y0)` of XYXY box [i] of flat (N*4) boxes, float64. */
    fun boxArea(boxes: DoubleArray, i: Int): Double =
        (boxes[i * 4 + 2] - boxes[i * 4]) * (boxes[i * 4 + 3] - boxes[i * 4 + 1])

    /** IoU of boxes [i] of [a] and [j] of [b] (flat XYXY, float64); 0/0 gives NaN. */
    fun boxIou(a: DoubleArray, i: Int, b: DoubleArray, j: Int): Double {
        val ltx = maxOf(a[i * 4], b[j * 4])
        val lty = maxOf(a[i * 4 + 1], b[j * 4 + 1])
        val rbx = minOf(a[i * 4 + 2], b[j * 4 + 2])
        val rby = minOf(a[i * 4 + 3], b[j * 4 + 3])
        val inter = maxOf(rbx - ltx, 0.0) * maxOf(rby - lty, 0.0)
        val union = boxArea(a, i) + boxArea(b, j) - inter
        return inter / union
    }

    /**
     * Greedy non-maximum suppression (torchvision `nms`): boxes visited in descending score
     * (stable, equal scores keep index order); a box is dropped when its IoU with an already kept
     * box is `> iouThreshold`.
     *
     * @param boxesXyxy flat (N*4), float64.
     * @param scores (N,), float64.
     * @return kept indices, highest score first.
     */
    fun boxNms(boxesXyxy: DoubleArray, scores: DoubleArray, iouThreshold: Double): IntArray {
        require(boxesXyxy.size == scores.size * 4) {
            "expected boxes (N, 4) and scores (N,), got ${boxesXyxy.size} box values and ${scores.size} scores"
        }
        // Stable descending sort: sortedWith is stable; compare -s like numpy's argsort(-s).
        val order = scores.indices.sortedWith { x, y -> (-scores[x]).compareTo(-scores[y]) }
        val suppressed = BooleanArray(order.size)
        val keep = ArrayList<Int>()
        for (i in order.indices) {
            if (suppressed[i]) continue
            keep += order[i]
            for (j in i + 1 until order.size) {
                // NaN > t is false, as in numpy.
                if (boxIou(boxesXyxy, order[i], boxesXyxy, order[j]) > iouThreshold) suppressed[j] = true
            }
        }
        return keep.toIntArray()
    }

    /**
     * Whether boxes (flat N*4, crop frame) touch an edge of [cropBox] that is not an edge of
     * [origBox] (both XYXY), within [atol] pixels (SAM). All false for a whole-image crop.
     */
    fun isBoxNearCropEdge(boxesXyxy: DoubleArray, cropBox: DoubleArray, origBox: DoubleArray, atol: Double = 20.0): BooleanArray {
        require(boxesXyxy.size % 4 == 0 && cropBox.size == 4 && origBox.size == 4) { "boxes must be XYXY" }
        val offset = doubleArrayOf(cropBox[0], cropBox[1], cropBox[0], cropBox[1])
        return BooleanArray(boxesXyxy.size / 4) { i ->
            (0 until 4).any { k ->
                val v = boxesXyxy[i * 4 + k] + offset[k]
                kotlin.math.abs(v - cropBox[k]) <= atol && !(kotlin.math.abs(v - origBox[k]) <= atol)
            }
        }
    }

    /** Run lengths of a 2-D mask (H, W) in column-major order, starting with a zero run. */
    private fun runs(mask: BooleanArray, h: Int, w: Int): IntArray {
        require(mask.size == h * w) { "mask has ${mask.size} values, expected $h * $w" }
        val n = h * w
        if (n == 0) return intArrayOf(0)
        val counts = ArrayList<Int>()
        var current = false
        var run = 0
        for (x in 0 until w) {
            for (y in 0 until h) {
                val v = mask[y * w + x]
                if (v != current) {
                    counts += run
                    run = 0
                    current = v
                }
                run++
            }
        }
        counts += run
        return counts.toIntArray()
    }

    private fun runsToMask(counts: IntArray, h: Int, w: Int): BooleanArray {
        require(counts.all { it >= 0 }) { "RLE counts must be non-negative" }
        val total = counts.fold(0L) { a, c -> a + c }
        require(total == h.toLong() * w) { "RLE counts sum to $total, expected h * w = ${h * w}" }
        val out = BooleanArray(h * w)
        var pos = 0
        counts.forEachIndexed { i, c ->
            if (i % 2 == 1) {
                for (k in pos until pos + c) out[(k % h) * w + k / h] = true
            }
            pos += c
        }
        return out
    }

    /** Uncompressed RLE of a 2-D mask (SAM's `mask_to_rle_pytorch` for one mask). */
    fun maskToRle(mask: BooleanArray, hw: Hw): Rle = Rle(hw, runs(mask, hw.height, hw.width))

    /** Decode an uncompressed RLE to a row-major (h, w) mask. */
    fun rleToMask(rle: Rle): BooleanArray = runsToMask(rle.counts, rle.size.height, rle.size.width)

    /** Number of set pixels of an uncompressed RLE. */
    fun areaFromRle(rle: Rle): Long = rle.counts.withIndex().filter { it.index % 2 == 1 }.sumOf { it.value.toLong() }

    /** Number of set pixels of a COCO RLE. */
    fun areaFromRle(rle: CocoRle): Long = areaFromRle(Rle(rle.size, decodeCounts(rle.counts)))

    /**
     * COCO's compact string for run lengths (pycocotools `rleToString`): from index 3 on each
     * value is replaced by its difference to the value two places earlier, then written as
     * little-endian 5-bit groups, one character (`48 + group`) per group, 0x20 set on every group
     * but the last; the last group's bit 0x10 is the sign.
     */
    internal fun encodeCounts(counts: IntArray): String {
        val sb = StringBuilder()
        for (i in counts.indices) {
            var x = counts[i].toLong()
            if (i > 2) x -= counts[i - 2].toLong()
            var more = true
            while (more) {
                var c = (x and 0x1f).toInt()
                x = x shr 5
                more = if (c and 0x10 != 0) x != -1L else x != 0L
                if (more) c = c or 0x20
                sb.append((c + 48).toChar())
            }
        }
        return sb.toString()
    }

    /** Inverse of [encodeCounts] (pycocotools `rleFrString`). */
    internal fun decodeCounts(s: String): IntArray {
        val out = ArrayList<Long>()
        var p = 0
        while (p < s.length) {
            var x = 0L
            var k = 0
            var more = true
            while (more) {
                if (p >= s.length) throw IllegalArgumentException("COCO RLE counts string ends in the middle of a value")
                val c = s[p].code - 48
                if (c < 0 || c > 63) throw IllegalArgumentException("COCO RLE counts string holds characters outside '0'..'o'")
                x = x or ((c and 0x1f).toLong() shl (5 * k))
                more = c and 0x20 != 0
                p++
                k++
                if (!more && (c and 0x10) != 0) x = x or (-1L shl (5 * k))
            }
            if (out.size > 2) x += out[out.size - 2]
            out += x
        }
        return IntArray(out.size) { out[it].toInt() }
    }

    /** COCO compressed RLE of a row-major (h, w) mask, byte-equal to pycocotools. */
    fun cocoRleEncode(mask: BooleanArray, hw: Hw): CocoRle = CocoRle(hw, encodeCounts(runs(mask, hw.height, hw.width)))

    /** Decode a COCO RLE to a row-major (h, w) mask. */
    fun cocoRleDecode(rle: CocoRle): BooleanArray = runsToMask(decodeCounts(rle.counts), rle.size.height, rle.size.width)
}
