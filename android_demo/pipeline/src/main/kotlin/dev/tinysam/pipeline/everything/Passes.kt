package dev.tinysam.pipeline.everything

import dev.tinysam.pipeline.BoolTensor
import dev.tinysam.pipeline.FloatTensor
import dev.tinysam.pipeline.Hw
import dev.tinysam.pipeline.Masks
import dev.tinysam.pipeline.PointLabel
import dev.tinysam.pipeline.Postprocess
import dev.tinysam.pipeline.Transforms
import kotlin.math.ceil

/** Raw outputs of one decoder call: `low_res_masks` (B, 4, h, w) and `iou_predictions` (B, 4). */
class DecoderOutput(val lowResMasks: FloatTensor, val iouPredictions: FloatTensor)

/**
 * What everything mode needs from a predictor whose image is set; mirrors the Python
 * `DecoderPredictor` protocol. [decode] takes model-frame `point_coords` (B, N, 2) and
 * `point_labels` (B, N).
 */
interface DecoderPredictor {
    val originalHw: Hw
    val resizedHw: Hw
    val imageSize: Int
    val maskThreshold: Float

    fun decode(pointCoords: FloatTensor, pointLabels: FloatTensor): DecoderOutput
}

/** One decoder batch as seen by a trace observer (the Python `trace("decoder_batch", ...)`). */
class DecoderBatch(
    val pass: String,
    val batch: Int,
    val start: Int,
    val totalPrompts: Int,
    val pointCoords: FloatTensor,
    val pointLabels: FloatTensor,
    val output: DecoderOutput,
)

/** Counters of one pass. */
data class PassStats(
    val name: String,
    val prompts: Int,
    val decoderCalls: Int,
    val masks: Int,
    val afterIou: Int,
    val afterStability: Int,
    val afterEdge: Int,
    val seconds: Double,
)

/**
 * Masks kept by one pass, image frame. Flat mask index = `prompt * 3 + (token - 1)`.
 *
 * @property pointsXyImage flat (P*2) float64 prompts of the pass.
 * @property boxesXyxy flat (K*4) inclusive XYXY boxes of the kept masks.
 * @property rles uncompressed RLEs of the kept masks; [highRles] of `logits > highScoreThresh`
 *   (coarse pass only).
 */
class PassResult(
    val name: String,
    val pointsXyImage: DoubleArray,
    val keptAfterIou: IntArray,
    val keptAfterStability: IntArray,
    val kept: IntArray,
    val iouPreds: FloatArray,
    val stability: FloatArray,
    val boxesXyxy: IntArray,
    val rles: List<Masks.Rle>,
    val highRles: List<Masks.Rle>,
    val stats: PassStats,
) {
    /** (x, y) image-frame prompt of each kept mask, flat (K*2). */
    val pointCoords: DoubleArray
        get() = DoubleArray(kept.size * 2) { i -> pointsXyImage[(kept[i / 2] / TOKENS_PER_PROMPT) * 2 + i % 2] }

    companion object {
        const val TOKENS_PER_PROMPT = 3
    }
}

/**
 * One everything-mode pass; mirrors `everything/passes.py` (`point_prompts`, `valid_low_res_hw`,
 * `quality_filter`, `union_high_confidence`, `run_pass`):
 *
 * 1. the decoder runs once per `pointsPerBatch` prompts (one positive point plus the padding
 *    point each); tokens 1..3 are used;
 * 2. predicted-IoU filter;
 * 3. stability filter, on the low-res logits cropped to the image area ([StabilityFrame.LOW_RES]),
 *    on the upscaled logits ([StabilityFrame.IMAGE]), or both ([StabilityFrame.PREFILTER]);
 * 4. survivors are upscaled to the image, thresholded, boxed, checked against the crop edge (the
 *    crop is the whole image, so everything is kept) and stored as RLEs.
 *
 * Thresholds are compared in float32, as numpy compares a float32 array with a Python float.
 */
object Passes {
    /** Decoder inputs for single positive-point prompts: (B, 2, 2) coords, (B, 2) labels `[1, -1]`. */
    fun pointPrompts(pointsXyImage: DoubleArray, originalHw: Hw, imageSize: Int): Pair<FloatTensor, FloatTensor> {
        val b = pointsXyImage.size / 2
        val model = Transforms.coordsImageToModel(pointsXyImage, originalHw, imageSize)
        val coords = FloatArray(b * 4)
        val labels = FloatArray(b * 2)
        for (i in 0 until b) {
            coords[i * 4] = model[i * 2].toFloat()
            coords[i * 4 + 1] = model[i * 2 + 1].toFloat()
            labels[i * 2] = PointLabel.FOREGROUND.value
            labels[i * 2 + 1] = PointLabel.PADDING.value
        }
        return FloatTensor(intArrayOf(b, 2, 2), coords) to FloatTensor(intArrayOf(b, 2), labels)
    }

    /** Rows and columns of the low-res logits that cover the image (not the padding). */
    fun validLowResHw(resizedHw: Hw, imageSize: Int, lowResHw: Hw): Hw = Hw(
        minOf(lowResHw.height, ceil(lowResHw.height.toDouble() * resizedHw.height / imageSize).toInt()),
        minOf(lowResHw.width, ceil(lowResHw.width.toDouble() * resizedHw.width / imageSize).toInt()),
    )

    /** Indices passing a threshold (`>` if [strict], else `>=`; all when threshold <= 0). */
    fun qualityFilter(scores: FloatArray, threshold: Double, strict: Boolean): IntArray {
        if (threshold <= 0.0) return IntArray(scores.size) { it }
        val t = threshold.toFloat()
        return scores.indices.filter { if (strict) scores[it] > t else scores[it] >= t }.toIntArray()
    }

    /** OR of high-confidence masks (uncompressed RLEs of size [originalHw]): row-major (H, W). */
    fun unionHighConfidence(highRles: List<Masks.Rle>, originalHw: Hw): BooleanArray {
        val covered = BooleanArray(originalHw.height * originalHw.width)
        for (rle in highRles) {
            require(rle.size == originalHw) { "RLE of size ${rle.size} does not match the image $originalHw" }
            val m = Masks.rleToMask(rle)
            for (i in covered.indices) if (m[i]) covered[i] = true
        }
        return covered
    }

    private fun slicePlanes(x: FloatTensor, idx: IntArray, vh: Int, vw: Int): FloatTensor {
        val h = x.shape[1]
        val w = x.shape[2]
        val out = FloatArray(idx.size * vh * vw)
        idx.forEachIndexed { k, i ->
            for (y in 0 until vh) System.arraycopy(x.data, (i * h + y) * w, out, (k * vh + y) * vw, vw)
        }
        return FloatTensor(intArrayOf(idx.size, vh, vw), out)
    }

    /**
     * Prompt every point, filter the masks and keep the survivors.
     *
     * @param pointsXyImage flat (P*2) float64 image frame; may be empty.
     * @param keepHighConfidence also store `logits > highScoreThresh` of each kept mask.
     * @param trace called after every decoder call (progress, golden replay checks).
     */
    fun runPass(
        predictor: DecoderPredictor,
        pointsXyImage: DoubleArray,
        config: EverythingConfig,
        name: String,
        keepHighConfidence: Boolean = false,
        trace: ((DecoderBatch) -> Unit)? = null,
    ): PassResult {
        val t0 = System.nanoTime()
        val hw = predictor.originalHw
        val rhw = predictor.resizedHw
        val size = predictor.imageSize
        val thr = predictor.maskThreshold
        val nPts = pointsXyImage.size / 2
        val crop = doubleArrayOf(0.0, 0.0, hw.width.toDouble(), hw.height.toDouble())
        val afterIou = ArrayList<Int>()
        val afterStab = ArrayList<Int>()
        val kept = ArrayList<Int>()
        val keptIou = ArrayList<Float>()
        val keptStab = ArrayList<Float>()
        val boxes = ArrayList<Int>()
        val rles = ArrayList<Masks.Rle>()
        val highRles = ArrayList<Masks.Rle>()
        val high = config.highScoreThresh.toFloat()
        var calls = 0
        var start = 0
        while (start < nPts) {
            val end = minOf(nPts, start + config.pointsPerBatch)
            val batchPts = pointsXyImage.copyOfRange(start * 2, end * 2)
            val (coords, labels) = pointPrompts(batchPts, hw, size)
            val out = predictor.decode(coords, labels)
            trace?.invoke(DecoderBatch(name, calls, start, nPts, coords, labels, out))
            calls++
            val (sel, selIou) = Postprocess.selectMasks(out.lowResMasks, out.iouPredictions, multimaskOutput = true)
            val lh = sel.shape[2]
            val lw = sel.shape[3]
            val low = sel.reshape(sel.shape[0] * sel.shape[1], lh, lw)
            val iou = selIou.data
            val base = start * PassResult.TOKENS_PER_PROMPT
            var idx = qualityFilter(iou, config.predIouThresh, strict = true)
            idx.forEach { afterIou += it + base }
            // Stability: low-res score (final for LOW_RES, a prefilter for PREFILTER), then the
            // image-frame score on the upscaled survivors (IMAGE, PREFILTER).
            val exact = config.stabilityFrame != StabilityFrame.LOW_RES
            var stab: FloatArray
            if (config.stabilityFrame != StabilityFrame.IMAGE) {
                val v = validLowResHw(rhw, size, Hw(lh, lw))
                stab = Masks.stabilityScore(slicePlanes(low, idx, v.height, v.width), thr.toDouble(), config.stabilityScoreOffset)
                val cut = config.stabilityScoreThresh - if (exact) config.stabilityPrefilterMargin else 0.0
                val keep = qualityFilter(stab, cut, strict = false)
                idx = IntArray(keep.size) { idx[keep[it]] }
                stab = FloatArray(keep.size) { stab[keep[it]] }
            } else {
                stab = FloatArray(idx.size)
            }
            if (!exact) idx.forEach { afterStab += it + base }
            // Upscale the survivors one at a time (bounded memory on large photos).
            val survivors = ArrayList<Int>()
            val batchBoxes = ArrayList<IntArray>()
            val batchRles = ArrayList<Masks.Rle>()
            val batchHigh = ArrayList<Masks.Rle>()
            val stabThresh = config.stabilityScoreThresh.toFloat()
            for (k in idx.indices) {
                val logits = Postprocess.upscaleLogits(slicePlanes(low, intArrayOf(idx[k]), lh, lw), rhw, hw, size)
                if (exact) {
                    stab[k] = Masks.stabilityScore(logits, thr.toDouble(), config.stabilityScoreOffset)[0]
                    if (stab[k] < stabThresh) continue
                }
                val mask = BooleanArray(logits.size) { logits.data[it] > thr }
                survivors += k
                batchBoxes += Masks.maskToBox(BoolTensor(intArrayOf(hw.height, hw.width), mask))
                batchRles += Masks.maskToRle(mask, hw)
                if (keepHighConfidence) batchHigh += Masks.maskToRle(BooleanArray(logits.size) { logits.data[it] > high }, hw)
            }
            if (exact) survivors.forEach { afterStab += idx[it] + base }
            val flatBoxes = DoubleArray(batchBoxes.size * 4) { batchBoxes[it / 4][it % 4].toDouble() }
            val near = Masks.isBoxNearCropEdge(flatBoxes, crop, crop)
            for (p in survivors.indices) {
                if (near[p]) continue // never for a whole-image crop; kept for SAM's semantics
                val k = survivors[p]
                kept += idx[k] + base
                keptIou += iou[idx[k]]
                keptStab += stab[k]
                batchBoxes[p].forEach { boxes += it }
                rles += batchRles[p]
                if (keepHighConfidence) highRles += batchHigh[p]
            }
            start = end
        }
        val stats = PassStats(
            name, nPts, calls, nPts * PassResult.TOKENS_PER_PROMPT, afterIou.size, afterStab.size, kept.size,
            (System.nanoTime() - t0) / 1e9,
        )
        return PassResult(
            name, pointsXyImage, afterIou.toIntArray(), afterStab.toIntArray(), kept.toIntArray(),
            keptIou.toFloatArray(), keptStab.toFloatArray(), boxes.toIntArray(), rles, highRles, stats,
        )
    }
}
