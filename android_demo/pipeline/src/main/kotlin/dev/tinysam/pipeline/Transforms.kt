package dev.tinysam.pipeline

import kotlin.math.abs
import kotlin.math.ceil

/**
 * Image preprocessing and coordinate transforms; mirrors `tinysam_mobile/transforms.py` step by
 * step (`resized_hw`, `resize_image`, `preprocess`, `coords_image_to_model`,
 * `boxes_image_to_model`, `coords_model_to_image`).
 *
 * Frames: `*XyImage` are pixel coordinates (x, y) of the original image; `*XyModel` are
 * coordinates in the resized image, the `imageSize` frame the decoder graph is fed.
 */
object Transforms {
    /**
     * Size of the image after resizing its longest side to [imageSize]:
     * `scale = imageSize / max(h, w)` (float64), each side `int(side * scale + 0.5)`, as the
     * official predictor does.
     */
    fun resizedHw(originalHw: Hw, imageSize: Int): Hw {
        if (originalHw.height <= 0 || originalHw.width <= 0) {
            throw ImageException("image has zero size $originalHw")
        }
        require(imageSize > 0) { "imageSize must be positive, got $imageSize" }
        val scale = imageSize * 1.0 / maxOf(originalHw.height, originalHw.width)
        val h = (originalHw.height * scale + 0.5).toInt()
        val w = (originalHw.width * scale + 0.5).toInt()
        return Hw(h, w)
    }

    /**
     * Resize so the longest side is [imageSize], bit-exact with PIL's
     * `Image.resize((w, h), Image.BILINEAR)` (see [PilBilinear]).
     */
    fun resizeImage(image: ImageU8, imageSize: Int): ImageU8 {
        val out = resizedHw(image.hw, imageSize)
        return PilBilinear.resize(image, out.height, out.width)
    }

    /**
     * The encoder graph's `image` input: resize, pad bottom/right with [pixelMean], NCHW.
     *
     * @return float32 (1, 3, S, S) on the 0..255 scale, S = [imageSize]; normalisation by the
     *   mean/std happens inside the encoder graph.
     */
    fun preprocess(image: ImageU8, imageSize: Int, pixelMean: FloatArray): FloatTensor {
        require(pixelMean.size == 3) { "pixelMean needs 3 values, got ${pixelMean.size}" }
        val resized = resizeImage(image, imageSize)
        return padToSquare(resized, imageSize, pixelMean)
    }

    /** Pad an already resized image bottom/right to (1, 3, S, S) float32 with [pixelMean]. */
    fun padToSquare(resized: ImageU8, imageSize: Int, pixelMean: FloatArray): FloatTensor {
        if (resized.height > imageSize || resized.width > imageSize) {
            throw ImageException("image ${resized.hw} is larger than imageSize $imageSize")
        }
        val s = imageSize
        val out = FloatTensor(1, 3, s, s)
        val plane = s * s
        for (c in 0 until 3) {
            out.data.fill(pixelMean[c], c * plane, (c + 1) * plane)
            for (y in 0 until resized.height) {
                val row = c * plane + y * s
                for (x in 0 until resized.width) out.data[row + x] = resized[y, x, c].toFloat()
            }
        }
        return out
    }

    /** (sx, sy) = (new_w / old_w, new_h / old_h), float64. */
    private fun scales(originalHw: Hw, imageSize: Int): DoubleArray {
        val resized = resizedHw(originalHw, imageSize)
        return doubleArrayOf(
            resized.width.toDouble() / originalHw.width,
            resized.height.toDouble() / originalHw.height,
        )
    }

    /**
     * Map (x, y) points from the original image to the model frame.
     *
     * @param pointsXyImage flat (N*2) x, y pairs in original-image pixels.
     * @return flat (N*2) float64 pairs: x times `new_w / old_w`, y times `new_h / old_h`.
     */
    fun coordsImageToModel(pointsXyImage: DoubleArray, originalHw: Hw, imageSize: Int): DoubleArray {
        checkPairs(pointsXyImage.size, 2, "points")
        val (sx, sy) = scales(originalHw, imageSize).let { it[0] to it[1] }
        return DoubleArray(pointsXyImage.size) { i -> pointsXyImage[i] * if (i % 2 == 0) sx else sy }
    }

    /** Inverse of [coordsImageToModel]: model-frame (x, y) pairs to float64 image pixels. */
    fun coordsModelToImage(pointsXyModel: DoubleArray, originalHw: Hw, imageSize: Int): DoubleArray {
        checkPairs(pointsXyModel.size, 2, "points")
        val (sx, sy) = scales(originalHw, imageSize).let { it[0] to it[1] }
        return DoubleArray(pointsXyModel.size) { i -> pointsXyModel[i] / if (i % 2 == 0) sx else sy }
    }

    /** Flat (N*4) XYXY boxes from the image frame to the model frame (float64). */
    fun boxesImageToModel(boxesXyxyImage: DoubleArray, originalHw: Hw, imageSize: Int): DoubleArray {
        checkPairs(boxesXyxyImage.size, 4, "boxes")
        return coordsImageToModel(boxesXyxyImage, originalHw, imageSize)
    }

    /** Inverse of [boxesImageToModel] (float64). */
    fun boxesModelToImage(boxesXyxyModel: DoubleArray, originalHw: Hw, imageSize: Int): DoubleArray {
        checkPairs(boxesXyxyModel.size, 4, "boxes")
        return coordsModelToImage(boxesXyxyModel, originalHw, imageSize)
    }

    private fun checkPairs(size: Int, n: Int, what: String) {
        require(size % n == 0) { "$what must have shape (..., $n), got $size values" }
    }
}

/**
 * PIL's bilinear resampling for 8-bit RGB (Pillow `libImaging/Resample.c`), reproduced so the
 * encoder sees the same integers as the Python runtime:
 *
 * - separable: a horizontal pass into an 8-bit temporary image, then a vertical pass;
 * - triangle filter of support 1, widened by the downscale factor (antialiasing);
 * - per output pixel, weights normalised to sum 1, then turned into fixed point with
 *   [PRECISION_BITS] = 22 fractional bits (rounded half away from zero);
 * - accumulation starts at 0.5 in fixed point (rounding), result shifted and clipped to 0..255.
 */
internal object PilBilinear {
    const val PRECISION_BITS = 32 - 8 - 2

    /** Bounds (first index, count) and fixed-point weights of every output index. */
    class Coeffs(val kSize: Int, val bounds: IntArray, val weights: IntArray)

    private fun triangle(x: Double): Double {
        val a = abs(x)
        return if (a < 1.0) 1.0 - a else 0.0
    }

    fun coeffs(inSize: Int, outSize: Int): Coeffs {
        val scale = inSize.toDouble() / outSize
        val filterScale = if (scale < 1.0) 1.0 else scale
        val support = 1.0 * filterScale
        val kSize = ceil(support).toInt() * 2 + 1
        val bounds = IntArray(outSize * 2)
        val pre = DoubleArray(outSize * kSize)
        val ss = 1.0 / filterScale
        for (xx in 0 until outSize) {
            val center = (xx + 0.5) * scale
            var xmin = (center - support + 0.5).toInt()
            if (xmin < 0) xmin = 0
            var xmax = (center + support + 0.5).toInt()
            if (xmax > inSize) xmax = inSize
            xmax -= xmin
            var ww = 0.0
            for (x in 0 until xmax) {
                val w = triangle((x + xmin - center + 0.5) * ss)
                pre[xx * kSize + x] = w
                ww += w
            }
            if (ww != 0.0) for (x in 0 until xmax) pre[xx * kSize + x] /= ww
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = xmax
        }
        val one = (1 shl PRECISION_BITS).toDouble()
        val weights = IntArray(pre.size) { i ->
            val v = pre[i]
            if (v < 0) (-0.5 + v * one).toInt() else (0.5 + v * one).toInt()
        }
        return Coeffs(kSize, bounds, weights)
    }

    private fun clip8(acc: Int): Int {
        val v = acc shr PRECISION_BITS
        return if (v < 0) 0 else if (v > 255) 255 else v
    }

    fun resize(image: ImageU8, outH: Int, outW: Int): ImageU8 {
        if (outH <= 0 || outW <= 0) throw ImageException("cannot resize to ($outH, $outW)")
        if (outH == image.height && outW == image.width) return ImageU8(outH, outW, image.data.copyOf())
        var current = image
        if (outW != image.width) current = horizontal(current, coeffs(image.width, outW), outW)
        if (outH != image.height) current = vertical(current, coeffs(image.height, outH), outH)
        return current
    }

    private fun horizontal(src: ImageU8, k: Coeffs, outW: Int): ImageU8 {
        val out = ByteArray(src.height * outW * 3)
        val half = 1 shl (PRECISION_BITS - 1)
        for (y in 0 until src.height) {
            for (xx in 0 until outW) {
                val xmin = k.bounds[xx * 2]
                val n = k.bounds[xx * 2 + 1]
                val base = xx * k.kSize
                for (c in 0 until 3) {
                    var acc = half
                    for (x in 0 until n) acc += src[y, x + xmin, c] * k.weights[base + x]
                    out[(y * outW + xx) * 3 + c] = clip8(acc).toByte()
                }
            }
        }
        return ImageU8(src.height, outW, out)
    }

    private fun vertical(src: ImageU8, k: Coeffs, outH: Int): ImageU8 {
        val out = ByteArray(outH * src.width * 3)
        val half = 1 shl (PRECISION_BITS - 1)
        for (yy in 0 until outH) {
            val ymin = k.bounds[yy * 2]
            val n = k.bounds[yy * 2 + 1]
            val base = yy * k.kSize
            for (x in 0 until src.width) {
                for (c in 0 until 3) {
                    var acc = half
                    for (y in 0 until n) acc += src[y + ymin, x, c] * k.weights[base + y]
                    out[(yy * src.width + x) * 3 + c] = clip8(acc).toByte()
                }
            }
        }
        return ImageU8(outH, src.width, out)
    }
}
