package dev.tinysam.pipeline

/** Point label values of the decoder graph; mirrors `spec.BOX_LABELS` / `spec.PAD_LABEL`. */
enum class PointLabel(val value: Float) {
    BACKGROUND(0f),
    FOREGROUND(1f),
    BOX_TOP_LEFT(2f),
    BOX_BOTTOM_RIGHT(3f),
    PADDING(-1f),
}

/** A user point in original-image pixels. Only [PointLabel.FOREGROUND]/[PointLabel.BACKGROUND]. */
data class PromptPoint(val x: Double, val y: Double, val label: PointLabel)

/** An XYXY box in original-image pixels. */
data class PromptBox(val x0: Double, val y0: Double, val x1: Double, val y1: Double)

/**
 * A prompt encoded as the decoder graph's point inputs for one prompt (B = 1).
 *
 * @property pointCoords float32 (1, M, 2) model frame, flattened.
 * @property pointLabels float32 (1, M).
 */
class EncodedPrompt(val pointCoords: FloatTensor, val pointLabels: FloatTensor) {
    val numPoints: Int get() = pointLabels.shape[1]
}

/**
 * Prompt validation and encoding into the decoder graph's inputs; mirrors
 * `tinysam_mobile/prompts.py` (`validate_points`, `validate_box`, `encode_prompt`,
 * `prepare_mask_input`).
 *
 * Points come first, in the model frame; a box becomes its two corners labelled 2 and 3,
 * appended after the points; a prompt without a box gets one padding point (0, 0) labelled -1.
 * Coordinates must lie in the closed range `[0, W] x [0, H]` of original-image pixels.
 */
object Prompts {
    private fun checkInside(x: Double, y: Double, originalHw: Hw, what: String, i: Int) {
        if (x.isNaN() || y.isNaN() || x.isInfinite() || y.isInfinite()) {
            throw PromptException("$what $i contains NaN or infinite values: ($x, $y)")
        }
        val h = originalHw.height
        val w = originalHw.width
        if (!(x >= 0.0 && x <= w && y >= 0.0 && y <= h)) {
            throw PromptException(
                "$what $i at (x=$x, y=$y) lies outside the ${w}x$h image " +
                    "(allowed: 0 <= x <= $w, 0 <= y <= $h)",
            )
        }
    }

    /** Check user points: labels 0/1 only, every point inside the image. */
    fun validatePoints(points: List<PromptPoint>, originalHw: Hw) {
        points.forEachIndexed { i, p ->
            if (p.label != PointLabel.FOREGROUND && p.label != PointLabel.BACKGROUND) {
                throw PromptException(
                    "point label ${p.label} at index $i is not 0 (background) or 1 (foreground)",
                )
            }
            checkInside(p.x, p.y, originalHw, "point", i)
        }
    }

    /** Check an XYXY box: x1 >= x0, y1 >= y0, both corners inside the image. */
    fun validateBox(box: PromptBox, originalHw: Hw) {
        val values = doubleArrayOf(box.x0, box.y0, box.x1, box.y1)
        if (values.any { it.isNaN() || it.isInfinite() }) {
            throw PromptException("box contains NaN or infinite values: $box")
        }
        if (box.x1 < box.x0 || box.y1 < box.y0) {
            throw PromptException("box $box has x1 < x0 or y1 < y0 (expected x0, y0, x1, y1)")
        }
        checkInside(box.x0, box.y0, originalHw, "box corner", 0)
        checkInside(box.x1, box.y1, originalHw, "box corner", 1)
    }

    /**
     * Validate a prompt and encode it as the decoder graph's `point_coords` / `point_labels`.
     *
     * @return float32 (1, M, 2) model-frame coordinates and (1, M) labels.
     */
    fun encodePrompt(
        originalHw: Hw,
        imageSize: Int,
        points: List<PromptPoint> = emptyList(),
        box: PromptBox? = null,
    ): EncodedPrompt {
        validatePoints(points, originalHw)
        if (box != null) validateBox(box, originalHw)
        if (points.isEmpty() && box == null) {
            throw PromptException("empty prompt: give points and/or a box")
        }
        val xy = ArrayList<Double>()
        val labels = ArrayList<Float>()
        for (p in points) {
            xy += p.x
            xy += p.y
            labels += p.label.value
        }
        if (box != null) {
            xy += listOf(box.x0, box.y0, box.x1, box.y1)
            labels += PointLabel.BOX_TOP_LEFT.value
            labels += PointLabel.BOX_BOTTOM_RIGHT.value
        }
        val model = Transforms.coordsImageToModel(xy.toDoubleArray(), originalHw, imageSize)
        val coords = ArrayList<Float>(model.size + 2)
        model.forEach { coords += it.toFloat() }
        if (box == null) {
            coords += 0f
            coords += 0f
            labels += PointLabel.PADDING.value
        }
        val m = labels.size
        return EncodedPrompt(
            FloatTensor(intArrayOf(1, m, 2), coords.toFloatArray()),
            FloatTensor(intArrayOf(1, m), labels.toFloatArray()),
        )
    }

    /**
     * Shape a previous prediction's low-res logits as the decoder's mask input.
     *
     * @param maskInput float32 logits with h * w values (any of (h, w), (1, h, w), (1, 1, h, w)),
     *   or null.
     * @return float32 (1, 1, h, w) (zeros when null) and (1,) has_mask (1.0 when given).
     */
    fun prepareMaskInput(maskInput: FloatTensor?, lowResHw: Hw): Pair<FloatTensor, FloatTensor> {
        val h = lowResHw.height
        val w = lowResHw.width
        if (maskInput == null) return FloatTensor(1, 1, h, w) to FloatTensor(1)
        val ok = maskInput.shape.contentEquals(intArrayOf(h, w)) ||
            maskInput.shape.contentEquals(intArrayOf(1, h, w)) ||
            maskInput.shape.contentEquals(intArrayOf(1, 1, h, w))
        if (!ok) {
            throw PromptException(
                "mask_input must have shape ($h, $w), (1, $h, $w) or (1, 1, $h, $w) " +
                    "(one low-res logit map of a previous predict), got ${maskInput.shape.contentToString()}",
            )
        }
        if (maskInput.data.any { it.isNaN() || it.isInfinite() }) {
            throw PromptException("mask_input contains NaN or infinite values")
        }
        return FloatTensor(intArrayOf(1, 1, h, w), maskInput.data.copyOf()) to
            FloatTensor(intArrayOf(1), floatArrayOf(1f))
    }
}
