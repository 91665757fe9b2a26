package dev.tinysam.pipeline

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.io.File

/**
 * The composed [Predictor] (setImage -> predict) on the golden cases, with graph sessions that
 * check what they are fed against the stored encoder/decoder inputs and answer with the stored
 * raw outputs. Also the manifest of the bundle the golden folder belongs to (`<golden>/..`).
 */
class PredictorGoldenTest {
    private val g get() = Golden.instance

    private val manifest: Manifest by lazy {
        val f = File(g.root.absoluteFile.parentFile, Manifest.MANIFEST_NAME)
        assertTrue(f.isFile, "no manifest.json next to the golden folder ($f): the golden folder must be BUNDLE/golden")
        Manifest.load(f.parentFile)
    }

    @Test
    fun manifestMatchesTheGoldenVectors() {
        assertEquals(g.imageSize, manifest.imageSize)
        assertEquals(g.maskThreshold, manifest.maskThreshold)
        val model = g.index.getJSONObject("model")
        assertEquals(Golden.ints(model.getJSONArray("low_res_hw")).toList(), listOf(manifest.lowResHw.height, manifest.lowResHw.width))
        val mean = model.getJSONArray("pixel_mean")
        for (i in 0 until 3) assertEquals(mean.getDouble(i).toFloat(), manifest.pixelMean[i])
        // Every artifact listed is present with its size and sha256.
        for (a in manifest.artifacts) Manifest.verifyArtifact(File(g.root.absoluteFile.parentFile, ""), a)
    }

    private inner class ReplaySession(override val spec: GraphSpec, val answer: (Map<String, FloatTensor>) -> Map<String, FloatTensor>) : GraphSession {
        override fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> {
            Sessions.validateInputs(spec, inputs)
            return answer(inputs)
        }
    }

    @TestFactory
    fun predictOnEveryCase(): List<DynamicTest> = g.list("cases").filter { !g.json(it).getJSONObject("prompt").optBoolean("batched", false) }.map { rel ->
        DynamicTest.dynamicTest(rel) {
            val doc = g.json(rel)
            val imageDoc = g.json("image__${doc.getString("image")}.json")
            val rgb = g.ref(imageDoc.getJSONObject("rgb"))
            val image = ImageU8(rgb.shape[0], rgb.shape[1], g.uint8(imageDoc.getJSONObject("rgb")))
            val encSpec = manifest.graphs.getValue(GraphName.ENCODER)
            val decSpec = manifest.graphs.getValue(GraphName.DECODER)
            val embShape = encSpec.outputs[0].shape.map { it as Int }.toIntArray()
            val encoder = ReplaySession(encSpec) { inputs ->
                g.assertFloats("$rel encoder input", inputs.getValue(encSpec.inputNames[0]).data, imageDoc.getJSONObject("encoder_input"))
                mapOf(encSpec.outputNames[0] to FloatTensor(*embShape))
            }
            val stored = doc.getJSONObject("decoder_inputs")
            val outs = doc.getJSONObject("decoder_outputs")
            val decoder = ReplaySession(decSpec) { inputs ->
                for ((k, name) in decSpec.inputNames.drop(1).withIndex()) {
                    val key = listOf("point_coords", "point_labels", "mask_input", "has_mask_input")[k]
                    g.assertFloats("$rel decoder $name", inputs.getValue(name).data, stored.getJSONObject(key))
                }
                mapOf(
                    decSpec.outputNames[0] to g.floats(outs.getJSONObject("low_res_masks")),
                    decSpec.outputNames[1] to g.floats(outs.getJSONObject("iou_predictions")),
                )
            }
            val p = Predictor(encoder, decoder, manifest)
            assertThrows(IllegalStateException::class.java) { p.predict(listOf(PromptPoint(1.0, 1.0, PointLabel.FOREGROUND))) }
            p.setImage(image)
            val prompt = doc.getJSONObject("prompt")
            val pts = if (prompt.isNull("point_coords")) emptyList() else {
                val c = prompt.getJSONArray("point_coords")
                val l = prompt.getJSONArray("point_labels")
                (0 until c.length()).map { PromptPoint(c.getJSONArray(it).getDouble(0), c.getJSONArray(it).getDouble(1), if (l.getInt(it) == 1) PointLabel.FOREGROUND else PointLabel.BACKGROUND) }
            }
            val box = if (prompt.isNull("box")) null else Golden.doubles(prompt.getJSONArray("box")).let { PromptBox(it[0], it[1], it[2], it[3]) }
            val maskInput = if (prompt.isNull("mask_input_from")) null else {
                val src = g.json("case__${doc.getString("image")}__${prompt.getString("mask_input_from")}.json").getJSONObject("decoder_outputs")
                // What an app does: feed back the best multimask low-res logits of the previous call.
                val prev = Predictor(encoder, ReplaySession(decSpec) { _ ->
                    mapOf(decSpec.outputNames[0] to g.floats(src.getJSONObject("low_res_masks")), decSpec.outputNames[1] to g.floats(src.getJSONObject("iou_predictions")))
                }, manifest)
                prev.setImage(image)
                val r = prev.predict(pts, box)
                val lh = r.lowResLogits.shape[1]
                val lw = r.lowResLogits.shape[2]
                FloatTensor(intArrayOf(lh, lw), r.lowResLogits.data.copyOfRange(r.bestIndex * lh * lw, (r.bestIndex + 1) * lh * lw))
            }
            for ((key, multi) in listOf("multimask" to true, "single" to false)) {
                val r = p.predict(pts, box, maskInput, multi)
                val st = doc.getJSONObject(key)
                g.assertFloats("$rel $key iou", r.iou, st.getJSONObject("iou"))
                assertEquals(st.getJSONArray("best_index").getInt(0), r.bestIndex, "$rel $key best_index")
                g.assertMask("$rel $key masks", r.masks.data, g.bits(st.getJSONObject("masks")))
            }
        }
    }
}
