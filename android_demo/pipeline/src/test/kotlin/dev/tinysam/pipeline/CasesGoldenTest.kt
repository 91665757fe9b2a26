package dev.tinysam.pipeline

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory

/**
 * Golden images (`image__*.json`) and prompt cases (`case__*.json`): preprocessing, prompt
 * encoding, and postprocessing of the stored raw decoder outputs, step by step.
 */
class CasesGoldenTest {
    private val g get() = Golden.instance

    private fun imageDoc(id: String): JSONObject = g.json("image__$id.json")

    private fun hw(o: JSONObject, key: String): Hw = Golden.ints(o.getJSONArray(key)).let { Hw(it[0], it[1]) }

    @Test
    fun goldenFolderHasEveryKindOfVector() {
        assertTrue(g.list("images").isNotEmpty(), "index.json lists no images")
        assertTrue(g.list("cases").isNotEmpty(), "index.json lists no cases")
        assertTrue(g.list("everything").isNotEmpty(), "index.json lists no everything vectors")
    }

    @TestFactory
    fun images(): List<DynamicTest> = g.list("images").map { rel ->
        DynamicTest.dynamicTest(rel) {
            val doc = g.json(rel)
            val rgbRef = g.ref(doc.getJSONObject("rgb"))
            val image = ImageU8(rgbRef.shape[0], rgbRef.shape[1], g.uint8(doc.getJSONObject("rgb")))
            val s = doc.getInt("image_size")
            assertEquals(hw(doc, "original_hw"), image.hw, "$rel original_hw")
            // Step: resized_hw
            assertEquals(hw(doc, "resized_hw"), Transforms.resizedHw(image.hw, s), "$rel resized_hw")
            // Step: resize_image (PIL bilinear, integers exact)
            val resized = Transforms.resizeImage(image, s)
            g.assertUint8("$rel resized_rgb", resized.data, doc.getJSONObject("resized_rgb"))
            // Step: preprocess (pad with the mean, NCHW float32; exact)
            val mean = doc.getJSONArray("pixel_mean").let { a -> FloatArray(3) { a.getDouble(it).toFloat() } }
            val input = Transforms.preprocess(image, s, mean)
            assertTrue(input.shape.contentEquals(intArrayOf(1, 3, s, s)))
            val ref = g.ref(doc.getJSONObject("encoder_input"))
            if (ref.isDigest) {
                assertEquals(ref.json.getString("sha256"), Golden.sha256Floats(input.data), "$rel encoder_input sha256 (exact)")
            }
            g.assertFloats("$rel encoder_input", input.data, doc.getJSONObject("encoder_input"))
        }
    }

    /** Best multimask low-res logits (h, w) of prompt 0 of a case's raw outputs (`refine`). */
    private fun bestMultimaskLogits(case: JSONObject): FloatTensor {
        val outs = case.getJSONObject("decoder_outputs")
        val (sel, iou) = Postprocess.selectMasks(g.floats(outs.getJSONObject("low_res_masks")), g.floats(outs.getJSONObject("iou_predictions")), true)
        val best = Postprocess.bestIndex(iou)[0]
        val h = sel.shape[2]
        val w = sel.shape[3]
        return FloatTensor(intArrayOf(h, w), sel.data.copyOfRange(best * h * w, (best + 1) * h * w))
    }

    private fun points(prompt: JSONObject): List<PromptPoint> {
        if (prompt.isNull("point_coords")) return emptyList()
        val c = prompt.getJSONArray("point_coords")
        val l = prompt.getJSONArray("point_labels")
        return (0 until c.length()).map { i ->
            val xy = c.getJSONArray(i)
            PromptPoint(xy.getDouble(0), xy.getDouble(1), if (l.getInt(i) == 1) PointLabel.FOREGROUND else PointLabel.BACKGROUND)
        }
    }

    private fun box(prompt: JSONObject): PromptBox? {
        if (prompt.isNull("box")) return null
        val b = Golden.doubles(prompt.getJSONArray("box"))
        return PromptBox(b[0], b[1], b[2], b[3])
    }

    @TestFactory
    fun cases(): List<DynamicTest> = g.list("cases").map { rel ->
        DynamicTest.dynamicTest(rel) {
            val doc = g.json(rel)
            val image = imageDoc(doc.getString("image"))
            val hw = hw(image, "original_hw")
            val rhw = hw(image, "resized_hw")
            val s = image.getInt("image_size")
            val prompt = doc.getJSONObject("prompt")
            val outs = doc.getJSONObject("decoder_outputs")
            val lowRes = g.floats(outs.getJSONObject("low_res_masks"))
            val iou = g.floats(outs.getJSONObject("iou_predictions"))
            val lowResHw = Hw(lowRes.shape[2], lowRes.shape[3])

            // Step: encode_prompt (one prompt, or one per point for a batched case)
            val pts = points(prompt)
            val encoded = if (prompt.optBoolean("batched", false)) {
                pts.map { Prompts.encodePrompt(hw, s, listOf(it)) }
            } else {
                listOf(Prompts.encodePrompt(hw, s, pts, box(prompt)))
            }
            val coords = encoded.flatMap { it.pointCoords.data.asList() }.toFloatArray()
            val labels = encoded.flatMap { it.pointLabels.data.asList() }.toFloatArray()
            val inputs = doc.getJSONObject("decoder_inputs")
            assertTrue(g.ref(inputs.getJSONObject("point_coords")).shape.contentEquals(intArrayOf(encoded.size, encoded[0].numPoints, 2)), "$rel point_coords shape")
            g.assertFloats("$rel decoder_inputs.point_coords", coords, inputs.getJSONObject("point_coords"))
            g.assertFloats("$rel decoder_inputs.point_labels", labels, inputs.getJSONObject("point_labels"))

            // Step: prepare_mask_input (refine feeds the best multimask logits of `point`)
            val from = if (prompt.isNull("mask_input_from")) null else prompt.getString("mask_input_from")
            val previous = from?.let { bestMultimaskLogits(g.json("case__${doc.getString("image")}__$it.json")) }
            val (mask, hasMask) = Prompts.prepareMaskInput(previous, lowResHw)
            val b = encoded.size
            g.assertFloats("$rel decoder_inputs.mask_input", FloatArray(b * mask.size) { mask.data[it % mask.size] }, inputs.getJSONObject("mask_input"))
            g.assertFloats("$rel decoder_inputs.has_mask_input", FloatArray(b) { hasMask.data[0] }, inputs.getJSONObject("has_mask_input"))

            for ((key, multi) in listOf("multimask" to true, "single" to false)) {
                val st = doc.getJSONObject(key)
                val where = "$rel $key"
                // Step: select_masks
                val (sel, selIou) = Postprocess.selectMasks(lowRes, iou, multi)
                g.assertInts("$where token_indices", Postprocess.MaskOutput.of(multi).tokens.toList().toIntArray(), Golden.ints(st.getJSONArray("token_indices")))
                g.assertFloats("$where iou", selIou.data, st.getJSONObject("iou"))
                g.assertInts("$where best_index", Postprocess.bestIndex(selIou), Golden.ints(st.getJSONArray("best_index")))
                // Step: upscale_logits, threshold
                val logits = Postprocess.upscaleLogits(sel, rhw, hw, s)
                val binary = Postprocess.threshold(logits, g.maskThreshold)
                g.assertMask("$where masks", binary.data, g.bits(st.getJSONObject("masks")))
                val samples = st.getJSONObject("logit_samples")
                val idx = samples.getJSONArray("index")
                val got = FloatArray(idx.length()) { k ->
                    val pos = Golden.ints(idx.getJSONArray(k))
                    var flat = 0
                    for (d in pos.indices) flat = flat * logits.shape[d] + pos[d]
                    logits.data[flat]
                }
                g.assertFloats("$where logit_samples", got, Golden.doubles(samples.getJSONArray("values")).let { v -> FloatArray(v.size) { v[it].toFloat() } })
                // Step: mask_to_box, stability_score, areas
                g.assertInts("$where boxes", Masks.maskToBox(binary), g.int32(st.getJSONObject("boxes")))
                g.assertFloats("$where stability_scores", Masks.stabilityScore(logits, g.maskThreshold.toDouble(), st.getDouble("stability_offset")), st.getJSONObject("stability_scores"))
                val plane = hw.height * hw.width
                val areas = IntArray(binary.data.size / plane) { p -> (p * plane until (p + 1) * plane).count { binary.data[it] } }
                val storedAreas = st.getJSONArray("areas").let { a -> (0 until a.length()).flatMap { i -> Golden.ints(a.getJSONArray(i)).asList() } }
                g.assertInts("$where areas", areas, storedAreas.toIntArray())
            }
        }
    }
}
