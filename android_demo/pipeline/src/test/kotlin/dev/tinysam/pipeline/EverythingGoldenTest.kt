package dev.tinysam.pipeline

import dev.tinysam.pipeline.everything.DecoderOutput
import dev.tinysam.pipeline.everything.DecoderPredictor
import dev.tinysam.pipeline.everything.EverythingConfig
import dev.tinysam.pipeline.everything.EverythingMode
import dev.tinysam.pipeline.everything.Grid
import dev.tinysam.pipeline.everything.Hierarchical
import dev.tinysam.pipeline.everything.Passes
import dev.tinysam.pipeline.everything.PassResult
import dev.tinysam.pipeline.everything.StabilityFrame
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory

/**
 * Hierarchical everything mode (`everything__*.json`): the passes are replayed on the stored raw
 * decoder outputs, and every intermediate result is compared: decoder inputs of each batch, kept
 * indices after each filter, IoU, stability, boxes, RLEs, coverage map, second-pass points, the
 * merged NMS input and result, and the final COCO RLEs.
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

    private fun checkPass(where: String, res: PassResult, d: JSONObject, hw: Hw) {
        g.assertFloats("$where.points", FloatArray(res.pointsXyImage.size) { res.pointsXyImage[it].toFloat() }, d.getJSONObject("points_xy_image"))
        for (k in listOf("kept_after_iou", "kept_after_stability", "kept")) {
            val got = when (k) {
                "kept_after_iou" -> res.keptAfterIou
                "kept_after_stability" -> res.keptAfterStability
                else -> res.kept
            }
            g.assertInts("$where.$k", got, Golden.ints(d.getJSONArray(k)))
        }
        g.assertFloats("$where.iou_preds", res.iouPreds, d.getJSONObject("iou_preds"))
        g.assertFloats("$where.stability", res.stability, d.getJSONObject("stability"))
        g.assertInts("$where.boxes", res.boxesXyxy, g.int32(d.getJSONObject("boxes_xyxy")))
        val rles = d.getJSONArray("rles")
        assertEquals(rles.length(), res.rles.size, "$where.rles count")
        res.rles.forEachIndexed { i, rle ->
            val coco = Masks.cocoRleEncode(Masks.rleToMask(rle), hw)
            assertEquals(rles.getJSONObject(i).getString("counts"), coco.counts, "$where.rles[$i]")
        }
    }

    @TestFactory
    fun everything(): List<DynamicTest> = g.list("everything").map { rel ->
        DynamicTest.dynamicTest(rel) {
            val doc = g.json(rel)
            val image = g.json("image__${doc.getString("image")}.json")
            val hw = Golden.ints(image.getJSONArray("original_hw")).let { Hw(it[0], it[1]) }
            val rhw = Golden.ints(image.getJSONArray("resized_hw")).let { Hw(it[0], it[1]) }
            val cfg = config(doc.getJSONObject("config"))
            val coarseB = batches(doc.getJSONObject("coarse"))
            val denseB = batches(doc.getJSONObject("dense"))
            val all = coarseB + denseB
            val replay = ReplayPredictor(
                hw, rhw, image.getInt("image_size"), g.maskThreshold,
                all.map { DecoderOutput(g.floats(it.getJSONObject("low_res_masks")), g.floats(it.getJSONObject("iou_predictions"))) },
            )

            // Steps: make_grid -> coarse_pass -> union_high_confidence -> remaining_points -> dense_pass -> merge_nms
            val coarsePts = Grid.gridPointsXyImage(cfg.coarsePointsPerSide, hw)
            val coarse = Hierarchical.coarsePass(replay, coarsePts, cfg)
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
            checkPass("$rel coarse", coarse, doc.getJSONObject("coarse"), hw)
            checkPass("$rel dense", dense, doc.getJSONObject("dense"), hw)

            val merged = Hierarchical.mergeNms(listOf(coarse, dense), cfg.boxNmsThresh)
            val m = doc.getJSONObject("merged")
            g.assertInts("$rel merged.boxes", merged.boxesXyxy, g.int32(m.getJSONObject("boxes")))
            g.assertFloats("$rel merged.scores", merged.scores, m.getJSONObject("scores"))
            g.assertInts("$rel merged.kept", merged.kept, Golden.ints(m.getJSONArray("kept")))
            val allRles = coarse.rles + dense.rles
            val finals = doc.getJSONObject("final").getJSONArray("rles")
            assertEquals(finals.length(), merged.kept.size, "$rel final count")
            merged.kept.forEachIndexed { i, k ->
                val coco = Masks.cocoRleEncode(Masks.rleToMask(allRles[k]), hw)
                assertEquals(finals.getJSONObject(i).getString("counts"), coco.counts, "$rel final.rles[$i]")
                assertEquals(Golden.ints(finals.getJSONObject(i).getJSONArray("size")).toList(), listOf(hw.height, hw.width))
            }

            // The composed entry point gives the same final masks as the steps.
            val again = ReplayPredictor(replay.originalHw, rhw, replay.imageSize, g.maskThreshold, all.map { DecoderOutput(g.floats(it.getJSONObject("low_res_masks")), g.floats(it.getJSONObject("iou_predictions"))) })
            val full = Hierarchical.generateEverything(again, cfg)
            assertEquals(merged.kept.size, full.rles.size, "$rel generateEverything mask count")
            full.rles.forEachIndexed { i, rle ->
                assertEquals(finals.getJSONObject(i).getString("counts"), Masks.cocoRleEncode(Masks.rleToMask(rle), hw).counts, "$rel generateEverything[$i]")
            }
            assertTrue(full.areas.all { it >= 0 })
        }
    }
}
