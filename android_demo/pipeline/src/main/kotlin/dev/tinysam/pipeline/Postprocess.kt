package dev.tinysam.pipeline

/**
 * Mask post-processing: token selection, bilinear upscaling to the image, thresholding; mirrors
 * `tinysam_mobile/postprocess.py` (`resize_bilinear`, `upscale_logits`, `select_masks`,
 * `threshold`).
 *
 * [resizeBilinear] reproduces `torch.nn.functional.interpolate(mode="bilinear",
 * align_corners=False, antialias=False)` in float32 exactly as the Python runtime computes it:
 * half-pixel centres, source index clamped at 0, neighbour clamped at the last row/column,
 * width interpolated first, then height. Every operation is a float32 operation (the JVM rounds
 * each `Float` product and sum, like numpy's float32 ufuncs), so results agree to the last bit
 * in practice.
 */
object Postprocess {
    /** Lower/upper neighbour and float32 weight of the upper neighbour for each output index. */
    internal class AxisWeights(val i0: IntArray, val i1: IntArray, val l1: FloatArray)

    internal fun axisWeights(inSize: Int, outSize: Int): AxisWeights {
        val scale = inSize.toFloat() / outSize.toFloat()
        val i0 = IntArray(outSize)
        val i1 = IntArray(outSize)
        val l1 = FloatArray(outSize)
        for (d in 0 until outSize) {
            val src = maxOf(scale * (d.toFloat() + 0.5f) - 0.5f, 0f)
            val lo = minOf(src.toInt(), inSize - 1)
            i0[d] = lo
            i1[d] = minOf(lo + 1, inSize - 1)
            l1[d] = src - lo.toFloat()
        }
        return AxisWeights(i0, i1, l1)
    }

    /**
     * Bilinear resize of the last two axes.
     *
     * @param x float32 (..., h, w).
     * @param outHw (H, W) of the output, both > 0.
     * @return float32 (..., H, W).
     */
    fun resizeBilinear(x: FloatTensor, outHw: Hw): FloatTensor {
        require(x.rank >= 2 && x.shape[x.rank - 1] > 0 && x.shape[x.rank - 2] > 0) {
            "resizeBilinear needs (..., h, w) with h, w > 0, got ${x.shape.contentToString()}"
        }
        require(outHw.height > 0 && outHw.width > 0) { "output size must be positive, got $outHw" }
        val inH = x.shape[x.rank - 2]
        val inW = x.shape[x.rank - 1]
        val outH = outHw.height
        val outW = outHw.width
        val lead = x.shape.copyOfRange(0, x.rank - 2)
        val outShape = lead + intArrayOf(outH, outW)
        if (inH == outH && inW == outW) return FloatTensor(outShape, x.data.copyOf())
        val planes = lead.fold(1) { a, d -> a * d }
        val wx = axisWeights(inW, outW)
        val wy = axisWeights(inH, outH)
        val out = FloatArray(planes * outH * outW)
        val tmp = FloatArray(inH * outW)
        for (p in 0 until planes) {
            val src = p * inH * inW
            // Width first: (h, W).
            for (y in 0 until inH) {
                val row = src + y * inW
                for (j in 0 until outW) {
                    val l = wx.l1[j]
                    var t = x.data[row + wx.i0[j]] * (1f - l)
                    t += x.data[row + wx.i1[j]] * l
                    tmp[y * outW + j] = t
                }
            }
            // Then height: (H, W).
            val dst = p * outH * outW
            for (i in 0 until outH) {
                val l = wy.l1[i]
                val r0 = wy.i0[i] * outW
                val r1 = wy.i1[i] * outW
                for (j in 0 until outW) {
                    var v = tmp[r0 + j] * (1f - l)
                    v += tmp[r1 + j] * l
                    out[dst + i * outW + j] = v
                }
            }
        }
        return FloatTensor(outShape, out)
    }

    /** Crop the last two axes of (..., h, w) to the top-left (rh, rw). */
    internal fun cropTopLeft(x: FloatTensor, rh: Int, rw: Int): FloatTensor {
        val h = x.shape[x.rank - 2]
        val w = x.shape[x.rank - 1]
        require(rh in 1..h && rw in 1..w) { "cannot crop ($h, $w) to ($rh, $rw)" }
        val lead = x.shape.copyOfRange(0, x.rank - 2)
        val planes = lead.fold(1) { a, d -> a * d }
        val out = FloatArray(planes * rh * rw)
        for (p in 0 until planes) {
            for (y in 0 until rh) {
                System.arraycopy(x.data, p * h * w + y * w, out, (p * rh + y) * rw, rw)
            }
        }
        return FloatTensor(lead + intArrayOf(rh, rw), out)
    }

    /**
     * Upscale low-res mask logits to the original image, as the official predictor does:
     * resize to S x S, crop to the resized image, resize to [originalHw].
     *
     * @param lowRes float32 (..., h, w) logits, model frame.
     * @param resized (h, w) of the resized image inside the padded square; null computes it.
     * @return float32 (..., H, W) logits in the image frame.
     */
    fun upscaleLogits(lowRes: FloatTensor, resized: Hw?, originalHw: Hw, imageSize: Int): FloatTensor {
        val r = resized ?: Transforms.resizedHw(originalHw, imageSize)
        val square = resizeBilinear(lowRes, Hw(imageSize, imageSize))
        val cropped = cropTopLeft(square, r.height, r.width)
        return resizeBilinear(cropped, originalHw)
    }

    /** Which decoder tokens a prediction returns. */
    enum class MaskOutput(val tokens: IntRange) {
        /** TinySAM's / SAM's three masks: tokens 1..3. */
        MULTIMASK(1..3),

        /** SAM's single-mask answer: token 0. */
        SINGLE(0..0),
        ;

        companion object {
            fun of(multimaskOutput: Boolean): MaskOutput = if (multimaskOutput) MULTIMASK else SINGLE
        }
    }

    /**
     * Pick the decoder tokens to return.
     *
     * @param lowResMasks float32 (B, 4, h, w) logits of all four mask tokens.
     * @param iou float32 (B, 4) predicted IoU of each token.
     * @return (B, C, h, w) and (B, C), C = 3 ([MaskOutput.MULTIMASK]) or 1.
     */
    fun selectMasks(lowResMasks: FloatTensor, iou: FloatTensor, multimaskOutput: Boolean): Pair<FloatTensor, FloatTensor> {
        require(lowResMasks.rank == 4 && lowResMasks.shape[1] == 4) {
            "low_res_masks must be (B, 4, h, w), got ${lowResMasks.shape.contentToString()}"
        }
        val b = lowResMasks.shape[0]
        val h = lowResMasks.shape[2]
        val w = lowResMasks.shape[3]
        require(iou.shape.contentEquals(intArrayOf(b, 4))) {
            "iou must be ($b, 4), got ${iou.shape.contentToString()}"
        }
        val tokens = MaskOutput.of(multimaskOutput).tokens
        val c = tokens.count()
        val masks = FloatArray(b * c * h * w)
        val scores = FloatArray(b * c)
        for (i in 0 until b) {
            tokens.forEachIndexed { k, t ->
                System.arraycopy(lowResMasks.data, (i * 4 + t) * h * w, masks, (i * c + k) * h * w, h * w)
                scores[i * c + k] = iou.data[i * 4 + t]
            }
        }
        return FloatTensor(intArrayOf(b, c, h, w), masks) to FloatTensor(intArrayOf(b, c), scores)
    }

    /** Binary masks: `logits > maskThreshold` (same shape). */
    fun threshold(logits: FloatTensor, maskThreshold: Float): BoolTensor =
        BoolTensor(logits.shape.copyOf(), BooleanArray(logits.size) { logits.data[it] > maskThreshold })

    /** Index of the highest score in each row of (B, C) scores, first on ties (numpy argmax). */
    fun bestIndex(iou: FloatTensor): IntArray {
        require(iou.rank == 2) { "iou must be (B, C), got ${iou.shape.contentToString()}" }
        val c = iou.shape[1]
        return IntArray(iou.shape[0]) { b ->
            var best = 0
            for (k in 1 until c) if (iou.data[b * c + k] > iou.data[b * c + best]) best = k
            best
        }
    }
}
