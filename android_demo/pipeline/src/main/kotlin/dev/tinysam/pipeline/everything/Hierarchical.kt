package dev.tinysam.pipeline.everything

import dev.tinysam.pipeline.BoolTensor
import dev.tinysam.pipeline.Hw
import dev.tinysam.pipeline.Masks

/** Masks of all passes concatenated (pass order) and the indices box NMS kept, best first. */
class MergeResult(val boxesXyxy: IntArray, val scores: FloatArray, val kept: IntArray)

/**
 * Final masks (NMS order) plus every intermediate result of a run.
 *
 * @property coverage row-major (H, W) union of high-confidence coarse masks (hierarchical only).
 * @property densePointsXyImage flat (P2*2) points of the second pass (hierarchical only).
 */
class EverythingResult(
    val originalHw: Hw,
    val passes: List<PassResult>,
    val coverage: BooleanArray?,
    val densePointsXyImage: DoubleArray?,
    val merge: MergeResult,
    val rles: List<Masks.Rle>,
    val boxesXyxy: IntArray,
    val iouPreds: FloatArray,
    val stability: FloatArray,
    val pointCoords: DoubleArray,
    val areas: LongArray,
    val seconds: Double,
)

/**
 * Grid and hierarchical everything mode as pure steps over a frozen [EverythingConfig]; mirrors
 * `everything/hierarchical.py`: `make_grid -> coarse_pass -> union_high_confidence ->
 * remaining_points -> dense_pass -> merge_nms` (and SAM's small-region cleanup).
 */
object Hierarchical {
    /** First hierarchical pass; also keeps each mask's `logits > highScoreThresh`. */
    fun coarsePass(p: DecoderPredictor, pointsXyImage: DoubleArray, config: EverythingConfig, trace: ((DecoderBatch) -> Unit)? = null): PassResult =
        Passes.runPass(p, pointsXyImage, config, "coarse", keepHighConfidence = true, trace = trace)

    /** Second hierarchical pass over the uncovered points of the full grid. */
    fun densePass(p: DecoderPredictor, pointsXyImage: DoubleArray, config: EverythingConfig, trace: ((DecoderBatch) -> Unit)? = null): PassResult =
        Passes.runPass(p, pointsXyImage, config, "dense", trace = trace)

    /** Concatenate the kept masks of the passes (pass order) and run box NMS scored by IoU. */
    fun mergeNms(passes: List<PassResult>, iouThreshold: Double): MergeResult {
        val boxes = passes.flatMap { it.boxesXyxy.asList() }.toIntArray()
        val scores = passes.flatMap { it.iouPreds.asList() }.toFloatArray()
        val kept = Masks.boxNms(
            DoubleArray(boxes.size) { boxes[it].toDouble() },
            DoubleArray(scores.size) { scores[it].toDouble() },
            iouThreshold,
        )
        return MergeResult(boxes, scores, kept)
    }

    /**
     * SAM's small-region cleanup: fill holes, drop islands, re-run NMS preferring unchanged masks.
     *
     * @return kept indices into [rles] in NMS order, their new RLEs and boxes (flat K*4).
     */
    fun postprocessSmallRegions(
        rles: List<Masks.Rle>,
        boxesXyxy: IntArray,
        minArea: Int,
        nmsThresh: Double,
    ): Triple<IntArray, List<Masks.Rle>, IntArray> {
        val newBoxes = boxesXyxy.copyOf()
        val scores = DoubleArray(rles.size)
        val newRles = rles.mapIndexed { i, rle ->
            var mask = Masks.rleToMask(rle)
            val (m1, holes) = Regions.removeSmallRegions(mask, rle.size, minArea, Regions.Mode.HOLES)
            val (m2, islands) = Regions.removeSmallRegions(m1, rle.size, minArea, Regions.Mode.ISLANDS)
            mask = m2
            val changed = holes || islands
            scores[i] = if (changed) 0.0 else 1.0
            if (changed) {
                Masks.maskToBox(BoolTensor(intArrayOf(rle.size.height, rle.size.width), mask)).copyInto(newBoxes, i * 4)
                Masks.maskToRle(mask, rle.size)
            } else {
                rle
            }
        }
        val kept = Masks.boxNms(DoubleArray(newBoxes.size) { newBoxes[it].toDouble() }, scores, nmsThresh)
        val keptBoxes = IntArray(kept.size * 4) { newBoxes[kept[it / 4] * 4 + it % 4] }
        return Triple(kept, kept.map { newRles[it] }, keptBoxes)
    }

    /**
     * Segment everything on the predictor's current image.
     *
     * @param trace observer of every decoder batch (the app's progress bar).
     * @return final masks in NMS order (highest predicted IoU first) and every intermediate result.
     */
    fun generateEverything(
        predictor: DecoderPredictor,
        config: EverythingConfig,
        trace: ((DecoderBatch) -> Unit)? = null,
    ): EverythingResult {
        val t0 = System.nanoTime()
        val hw = predictor.originalHw
        val fullGrid = Grid.gridPointsXyImage(config.pointsPerSide, hw)
        var coverage: BooleanArray? = null
        var densePoints: DoubleArray? = null
        val passes = if (config.mode == EverythingMode.GRID) {
            listOf(Passes.runPass(predictor, fullGrid, config, "grid", trace = trace))
        } else {
            val coarse = coarsePass(predictor, Grid.gridPointsXyImage(config.coarsePointsPerSide, hw), config, trace)
            val covered = Passes.unionHighConfidence(coarse.highRles, hw)
            val dense = Grid.remainingPoints(fullGrid, covered, hw)
            coverage = covered
            densePoints = dense
            listOf(coarse, densePass(predictor, dense, config, trace))
        }
        val merge = mergeNms(passes, config.boxNmsThresh)
        val allRles = passes.flatMap { it.rles }
        val iou = passes.flatMap { it.iouPreds.asList() }
        val stab = passes.flatMap { it.stability.asList() }
        val points = passes.flatMap { it.pointCoords.asList() }
        var order = merge.kept
        var rles = order.map { allRles[it] }
        var boxes = IntArray(order.size * 4) { merge.boxesXyxy[order[it / 4] * 4 + it % 4] }
        if (config.minMaskRegionArea > 0 && order.isNotEmpty()) {
            val (kept2, r2, b2) = postprocessSmallRegions(rles, boxes, config.minMaskRegionArea, config.boxNmsThresh)
            order = IntArray(kept2.size) { order[kept2[it]] }
            rles = r2
            boxes = b2
        }
        return EverythingResult(
            originalHw = hw,
            passes = passes,
            coverage = coverage,
            densePointsXyImage = densePoints,
            merge = merge,
            rles = rles,
            boxesXyxy = boxes,
            iouPreds = FloatArray(order.size) { iou[order[it]] },
            stability = FloatArray(order.size) { stab[order[it]] },
            pointCoords = DoubleArray(order.size * 2) { points[order[it / 2] * 2 + it % 2] },
            areas = LongArray(rles.size) { Masks.areaFromRle(rles[it]) },
            seconds = (System.nanoTime() - t0) / 1e9,
        )
    }
}
