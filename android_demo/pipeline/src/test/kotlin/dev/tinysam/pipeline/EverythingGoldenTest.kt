package dev.tinysam.pipeline

import dev.tinysam.pipeline.everything.DecoderOutput
import dev.tinysam.pipeline.everything.DecoderPredictor
import dev.tinysam.pipeline.everything.EverythingConfig
import dev.tinysam.pipeline.everything.EverythingMode
import dev.tinysam.pipeline.everything.EverythingResult
import dev.tinysam.pipeline.everything.Grid
import dev.tinysam.pipeline.everything.Hierarchical
import dev.tinysam.pipeline.everything.PassResult
import dev.tinysam.pipeline.everything.Passes
import dev.tinysam.pipeline.everything.StabilityFrame
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory

/**
 * Hierarchical everything mode (`everything__<img>__<run>.json`: the `official`, `tuned` and
 * `regions` runs): each run is replayed on the stored raw decoder outputs, and every intermediate
 * result is compared: decoder inputs of each batch, kept indices after each filter, IoU,
 * stability, boxes, RLEs, coverage map, second-pass points, the merged NMS input and result, the
 * small-region cleanup, and the final SAM-style records (mask RLE, area, box, predicted IoU,
 * stability score, point, crop box) of the composed [Hierarchical.generateEverything].
 * A run marked `require_records` must have final records (the test fails on an empty one).
 */
class EverythingGoldenTest {
    private val g get() = Golden.instance

    /** Replays stored decoder outputs in call order and records the inputs it was given. */
    private class ReplayPredictor(
        override val originalHw: Hw,
        override val resizedHw: Hw,
        override val imageSize: Int,
        override val maskThreshold: Float,
        private val outputs: List<DecoderOutput>,
    ) : DecoderPredictor {
        val calls = ArrayList<Pair<FloatTensor, FloatTensor>>()

        override fun decode(pointCoords: FloatTensor, pointLabels: FloatTensor): DecoderOutput {
            check(calls.size < outputs.size) { "more decoder calls than the ${outputs.size} stored" }
            calls += pointCoords to pointLabels
            return outputs[calls.size - 1]
        }
    }

    private fun config(c: JSONObject) = EverythingConfig(
        mode = EverythingMode.entries.first { it.key == c.getString("mode") },
        pointsPerSide = c.getInt("points_per_side"),
        pointsPerBatch = c.getInt("points_per_batch"),
        predIouThresh = c.getDouble("pred_iou_thresh"),
        stabilityScoreThresh = c.getDouble("stability_score_thresh"),
        stabilityScoreOffset = c.getDouble("stability_score_offset"),
        highScoreThresh = c.getDouble("high_score_thresh"),
        boxNmsThresh = c.getDouble("box_nms_thresh"),
        minMaskRegionArea = c.getInt("min_mask_region_area"),
        stabilityFrame = StabilityFrame.entries.first { it.key == c.getString("stability_frame") },
        stabilityPrefilterMargin = c.optDouble("stability_prefilter_margin", 0.05),
    )

    private fun batches(pass: JSONObject): List<JSONObject> = pass.getJSONArray("batches").let { a -> (0 until a.length()).map { a.getJSONObject(it) } }

    private fun coco(rle: Masks.Rle): String = Masks.cocoRleEncode(Masks.rleToMask(rle), rle.size).counts

    private fun checkPass(where: String, res: PassResult, d: JSONObject) {
        g.assertFloats("$where.points", FloatArray(res.pointsXyImage.size) { res.pointsXyImage[it].toFloat() }, d.getJSONObject("points_xy_image"))
        g.assertInts("$where.kept_after_iou", res.keptAfterIou, Golden.ints(d.getJSONArray("kept_after_iou")))
        g.assertInts("$where.kept_after_stability", res.keptAfterStability, Golden.ints(d.getJSONArray("kept_after_stability")))
        g.assertInts("$where.kept", res.kept, Golden.ints(d.getJSONArray("kept")))
        g.assertFloats("$where.iou_preds", res.iouPreds, d.getJSONObject("iou_preds"))
        g.assertFloats("$where.stability", res.stability, d.getJSONObject("stability"))
        g.assertInts("$where.boxes", res.boxesXyxy, g.int32(d.getJSONObject("boxes_xyxy")))
        val rles = d.getJSONArray("rles")
        assertEquals(rles.length(), res.rles.size, "$where.rles count")
        res.rles.forEachIndexed { i, rle -> assertEquals(rles.getJSONObject(i).getString("counts"), coco(rle), "$where.rles[$i]") }
    }

    /** The composed run's records against `final.records` (SAM's automatic-mask-generator keys). */
    private fun checkRecords(where: String, full: EverythingResult, final: JSONObject) {
        val records = final.getJSONArray("records")
        assertEquals(final.getInt("count"), records.length(), "$where final.count")
        assertEquals(records.length(), full.rles.size, "$where: record count (generateEverything)")
        val hw = full.originalHw
        val n = records.length()
        val iou = FloatArray(n)
        val stab = FloatArray(n)
        val points = FloatArray(2 * n)
        for (i in 0 until n) {
            val r = records.getJSONObject(i)
            val seg = r.getJSONObject("segmentation")
            assertEquals(listOf(hw.height, hw.width), Golden.ints(seg.getJSONArray("size")).toList(), "$where records[$i].segmentation.size")
            assertEquals(seg.getString("counts"), coco(full.rles[i]), "$where records[$i].segmentation")
            assertEquals(r.getLong("area"), full.areas[i], "$where records[$i].area")
            val b = IntArray(4) { full.boxesXyxy[i * 4 + it] }
            g.assertInts("$where records[$i].bbox (XYWH)", intArrayOf(b[0], b[1], b[2] - b[0], b[3] - b[1]), Golden.ints(r.getJSONArray("bbox")))
            g.assertInts("$where records[$i].crop_box", intArrayOf(0, 0, hw.width, hw.height), Golden.ints(r.getJSONArray("crop_box")))
            iou[i] = r.getDouble("predicted_iou").toFloat()
            stab[i] = r.getDouble("stability_score").toFloat()
            val p = r.getJSONArray("point_coords").getJSONArray(0)
            points[2 * i] = p.getDouble(0).toFloat()
            points[2 * i + 1] = p.getDouble(1).toFloat()
        }
        g.assertFloats("$where records.predicted_iou", full.iouPreds, iou)
        g.assertFloats("$where records.stability_score", full.stability, stab)
        g.assertFloats("$where records.point_coords", FloatArray(full.pointCoords.size) { full.pointCoords[it].toFloat() }, points)
    }

    @TestFactory
    fun everything(): List<DynamicTest> {
        val names = g.list("everything")
        assertTrue(names.isNotEmpty(), "index.json lists no everything-mode vectors")
        return names.map { rel -> DynamicTest.dynamicTest(rel) { replay(rel) } }
    }

    private fun replay(rel: String) {
        val doc = g.json(rel)
        val run = doc.getString("run")
        val image = g.json("image__${doc.getString("image")}.json")
        val hw = Golden.ints(image.getJSONArray("original_hw")).let { Hw(it[0], it[1]) }
        val rhw = Golden.ints(image.getJSONArray("resized_hw")).let { Hw(it[0], it[1]) }
        val cfg = config(doc.getJSONObject("config"))
        val coarseB = batches(doc.getJSONObject("coarse"))
        val denseB = batches(doc.getJSONObject("dense"))
        val all = coarseB + denseB
        fun replayer() = ReplayPredictor(
            hw, rhw, image.getInt("image_size"), g.maskThreshold,
            all.map { DecoderOutput(g.floats(it.getJSONObject("low_res_masks")), g.floats(it.getJSONObject("iou_predictions"))) },
        )
        val replay = replayer()

        // Steps: make_grid -> coarse_pass -> union_high_confidence -> remaining_points -> dense_pass -> merge_nms
        val coarse = Hierarchical.coarsePass(replay, Grid.gridPointsXyImage(cfg.coarsePointsPerSide, hw), cfg)
        assertEquals(coarseB.size, replay.calls.size, "$rel coarse decoder calls")
        val covered = Passes.unionHighConfidence(coarse.highRles, hw)
        g.assertMask("$rel coverage", covered, g.bits(doc.getJSONObject("coverage")))
        val densePts = Grid.remainingPoints(Grid.gridPointsXyImage(cfg.pointsPerSide, hw), covered, hw)
        g.assertFloats("$rel dense_points", FloatArray(densePts.size) { densePts[it].toFloat() }, doc.getJSONObject("dense_points_xy_image"))
        val dense = Hierarchical.densePass(replay, densePts, cfg)
        assertEquals(all.size, replay.calls.size, "$rel decoder calls")
        replay.calls.forEachIndexed { i, (coords, labels) ->
            g.assertFloats("$rel batch$i.point_coords", coords.data, all[i].getJSONObject("point_coords"))
            g.assertFloats("$rel batch$i.point_labels", labels.data, all[i].getJSONObject("point_labels"))
        }
        checkPass("$rel coarse", coarse, doc.getJSONObject("coarse"))
        checkPass("$rel dense", dense, doc.getJSONObject("dense"))

        val merged = Hierarchical.mergeNms(listOf(coarse, dense), cfg.boxNmsThresh)
        val m = doc.getJSONObject("merged")
        g.assertInts("$rel merged.boxes", merged.boxesXyxy, g.int32(m.getJSONObject("boxes")))
        g.assertFloats("$rel merged.scores", merged.scores, m.getJSONObject("scores"))
        g.assertInts("$rel merged.kept", merged.kept, Golden.ints(m.getJSONArray("kept")))

        // SAM's small-region cleanup on the NMS-ordered masks (runs with min_mask_region_area > 0).
        val sr = doc.optJSONObject("small_regions")
        assertEquals(cfg.minMaskRegionArea > 0, sr != null, "$rel small_regions present iff min_mask_region_area > 0")
        if (sr != null) {
            assertEquals(cfg.minMaskRegionArea, sr.getInt("min_mask_region_area"), "$rel small_regions.min_mask_region_area")
            val allRles = coarse.rles + dense.rles
            val rles = merged.kept.map { allRles[it] }
            val boxes = IntArray(rles.size * 4) { merged.boxesXyxy[merged.kept[it / 4] * 4 + it % 4] }
            assertEquals(sr.getInt("input_count"), rles.size, "$rel small_regions.input_count")
            val (kept, _, _) = Hierarchical.postprocessSmallRegions(rles, boxes, cfg.minMaskRegionArea, cfg.boxNmsThresh)
            g.assertInts("$rel small_regions.kept", kept, Golden.ints(sr.getJSONArray("kept")))
        }

        // The composed entry point: final records.
        val full = Hierarchical.generateEverything(replayer(), cfg)
        val final = doc.getJSONObject("final")
        if (doc.getBoolean("require_records")) {
            assertTrue(final.getInt("count") > 0, "$rel: the writer must record final masks for the '$run' run")
            assertTrue(full.rles.isNotEmpty(), "$rel: generateEverything returned no mask")
        }
        checkRecords(rel, full, final)
        println("EVERYTHING-CHECKED $rel: run $run, coarse kept ${coarse.kept.size}, dense kept ${dense.kept.size}, final ${full.rles.size}")
    }
}
