package dev.tinysam.pipeline

import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory

/**
 * [TfliteSignatureSession] (the interpreter-independent part of `dev.tinysam.runtime.TfliteGraphSession`)
 * against the shared case table `tflite_signature_cases.json` (test resources), which
 * `tests/mobile/test_tflite_signature_cases.py` checks against the Python reference
 * `tinysam_mobile.backends.tflite.TfliteSession`: the signature of every call, the prompts it
 * holds (padding repeats the last one), the refused point counts and their message, the files
 * refused on load. The interpreter is a fake whose outputs depend on each prompt alone, so a
 * chunked run must equal one call on the whole batch. Needs no golden folder.
 */
class TfliteSignaturesTest {
    private val doc: JSONObject by lazy {
        val stream = javaClass.getResourceAsStream("/$CASES")
            ?: throw AssertionError("test resource $CASES is not on the classpath (android_demo/pipeline/src/test/resources)")
        JSONObject(stream.bufferedReader().use { it.readText() })
    }
    private val specs: Map<GraphName, GraphSpec> by lazy { Manifest.fromJson(doc.getJSONObject("manifest")).graphs }
    private val fileName: String get() = doc.getString("file")

    /** One recorded call: the signature and the prompt index of every row it got. */
    private data class Call(val signature: String, val rows: List<Int>)

    /** Static shape of a spec tensor in signature [name]: `p{B}_n{N}` binds the symbolic dims, else 1. */
    private fun staticShape(t: TensorSpec, name: String): IntArray {
        val m = TfliteSignatures.DECODER_SIGNATURE.matchEntire(name)
        val b = m?.groupValues?.get(1)?.toInt() ?: 1
        val n = m?.groupValues?.get(2)?.toInt() ?: 1
        val points = specs.getValue(GraphName.DECODER).inputs[1].shape[1]
        return t.shape.map { d -> if (d is Int) d else if (d == points) n else b }.toIntArray()
    }

    private fun io(spec: GraphSpec, name: String): SignatureIo = SignatureIo(
        spec.inputs.associate { it.name to SignatureTensor(staticShape(it, name)) },
        spec.outputs.associate { it.name to SignatureTensor(staticShape(it, name)) },
    )

    /** The case's signatures: a name (the io of the case's graph) or `{name, io}`. */
    private fun signatures(case: JSONObject): Map<String, SignatureIo> {
        val graph = GraphName.of(case.getString("graph"))
        val arr = case.getJSONArray("signatures")
        return (0 until arr.length()).associate { i ->
            val e = arr.get(i)
            if (e is JSONObject) e.getString("name") to io(specs.getValue(GraphName.of(e.getString("io"))), e.getString("name"))
            else e.toString() to io(specs.getValue(graph), e.toString())
        }
    }

    /** Outputs that depend on each prompt's rows alone (the same formula as the Python test). */
    private fun fakeOutputs(spec: GraphSpec, feeds: Map<String, FloatTensor>): Map<String, FloatTensor> {
        if (spec.name == GraphName.ENCODER) {
            val image = feeds.getValue(spec.inputNames[0])
            val mean = image.data.map { it.toDouble() }.average().toFloat()
            val out = spec.outputs[0]
            val shape = out.shape.map { it as Int }.toIntArray()
            return mapOf(out.name to FloatTensor(shape, FloatArray(shape.fold(1) { a, d -> a * d }) { mean }))
        }
        val coords = feeds.getValue("point_coords")
        val labels = feeds.getValue("point_labels")
        val mask = feeds.getValue("mask_input")
        val has = feeds.getValue("has_mask_input")
        val b = coords.shape[0]
        val n = coords.shape[1]
        val low = spec.outputs.first { it.name == "low_res_masks" }.shape
        val tokens = low[1] as Int
        val lh = low[2] as Int
        val lw = low[3] as Int
        val masks = FloatArray(b * tokens * lh * lw)
        val iou = FloatArray(b * tokens)
        for (i in 0 until b) {
            var per = has.data[i]
            var xs = 0f
            for (k in 0 until n) {
                per += coords.data[(i * n + k) * 2] + coords.data[(i * n + k) * 2 + 1]
                xs += coords.data[(i * n + k) * 2]
            }
            for (k in 0 until n) per += 0.5f * labels.data[i * n + k]
            for (t in 0 until tokens) {
                for (p in 0 until lh * lw) {
                    masks[((i * tokens + t) * lh * lw) + p] = per + t + p * 0.01f + mask.data[i * lh * lw + p]
                }
                iou[i * tokens + t] = xs * 0.1f + t
            }
        }
        return mapOf(
            "low_res_masks" to FloatTensor(intArrayOf(b, tokens, lh, lw), masks),
            "iou_predictions" to FloatTensor(intArrayOf(b, tokens), iou),
        )
    }

    private fun session(spec: GraphSpec, sigs: Map<String, SignatureIo>, log: MutableList<Call>): TfliteSignatureSession =
        TfliteSignatureSession(spec, sigs, fileName) { name, arrays ->
            val feeds = spec.inputNames.zip(arrays).toMap()
            for ((t, x) in spec.inputs.zip(arrays)) {
                assertArrayEquals(sigs.getValue(name).inputs.getValue(t.name).shape, x.shape, "$name ${t.name}")
            }
            val rows = feeds["point_coords"]?.let { c -> (0 until c.shape[0]).map { c.data[it * c.shape[1] * 2].toInt() } } ?: listOf(0)
            log += Call(name, rows)
            val out = fakeOutputs(spec, feeds)
            spec.outputNames.map { out.getValue(it) }
        }

    /** Prompt i has x = i on every point, so the rows a call got can be read back. */
    private fun inputs(spec: GraphSpec, b: Int, n: Int): Map<String, FloatTensor> {
        val rnd = java.util.Random((b * 100 + n).toLong())
        val points = specs.getValue(GraphName.DECODER).inputs[1].shape[1]
        val out = spec.inputs.associate { t ->
            val shape = t.shape.map { d -> if (d is Int) d else if (d == points) n else b }.toIntArray()
            t.name to FloatTensor(shape, FloatArray(shape.fold(1) { a, d -> a * d }) { rnd.nextFloat() })
        }.toMutableMap()
        if (spec.name == GraphName.DECODER) {
            val c = out.getValue("point_coords")
            for (i in 0 until b) for (k in 0 until n) c.data[(i * n + k) * 2] = i.toFloat()
            out["point_labels"] = FloatTensor(intArrayOf(b, n), FloatArray(b * n) { 1f })
        }
        return out
    }

    @TestFactory
    fun sharedCasesAgreeWithThePythonRuntime(): List<DynamicTest> {
        val cases = doc.getJSONArray("cases")
        assertTrue(cases.length() >= 10, "only ${cases.length()} cases in $CASES")
        return (0 until cases.length()).map { cases.getJSONObject(it) }.map { case ->
            DynamicTest.dynamicTest(case.getString("name")) { checkCase(case) }
        }
    }

    private fun checkCase(case: JSONObject) {
        val spec = specs.getValue(GraphName.of(case.getString("graph")))
        val log = ArrayList<Call>()
        if (case.has("load_error")) {
            val e = assertThrows(BundleException::class.java) { session(spec, signatures(case), log) }
            assertTrue(e.message!!.contains(case.getString("load_error")), e.message)
            return
        }
        val s = session(spec, signatures(case), log)
        val feeds = inputs(spec, case.getInt("num_prompts"), case.getInt("num_points"))
        if (case.has("error")) {
            val e = assertThrows(GraphInputException::class.java) { s.run(feeds) }
            assertTrue(e.message!!.contains(case.getString("error")), e.message)
            assertTrue(e.message!!.startsWith(fileName), e.message)
            assertEquals(emptyList<Call>(), log)
            return
        }
        val got = s.run(feeds)
        val calls: JSONArray = case.getJSONArray("calls")
        val expected = (0 until calls.length()).map { calls.getJSONArray(it) }.map { c ->
            val start = c.getInt(1)
            val real = c.getInt(2)
            Call(c.getString(0), (0 until c.getInt(3)).map { r -> start + minOf(r, real - 1) })
        }
        assertEquals(expected, log)
        if (spec.name == GraphName.DECODER) {
            val plan = s.plan(case.getInt("num_prompts"), case.getInt("num_points"))
            assertEquals(expected.map { it.signature }, plan.map { it.signature })
        }
        val want = fakeOutputs(spec, feeds) // one call on the whole batch
        for (name in spec.outputNames) {
            assertArrayEquals(want.getValue(name).shape, got.getValue(name).shape, name)
            assertArrayEquals(want.getValue(name).data, got.getValue(name).data, name)
        }
    }

    @Test
    fun exportedTableNamesAndPointCounts() {
        val decoder = specs.getValue(GraphName.DECODER)
        val names = listOf(1 to 2, 1 to 3, 1 to 4, 1 to 5, 1 to 6, 16 to 2).map { (b, n) -> TfliteSignatures.signatureName(b, n) }
        assertEquals(listOf("p1_n2", "p1_n3", "p1_n4", "p1_n5", "p1_n6", "p16_n2"), names)
        val s = session(decoder, names.associateWith { io(decoder, it) }, ArrayList())
        assertEquals(listOf(2, 3, 4, 5, 6), s.pointCounts)
        assertEquals(listOf(16, 1), s.batchSizes(2))
        assertEquals(listOf(1), s.batchSizes(6))
        assertEquals(emptyList<Int>(), s.batchSizes(7))
        assertEquals(names, s.runners)
        assertEquals("p16_n2", s.shapes[16 to 2])
    }

    @Test
    fun staticShapesAndDtypesAreCheckedOnLoad() {
        val decoder = specs.getValue(GraphName.DECODER)
        // A signature named p4_n2 whose tensors take one prompt.
        val wrongBatch = mapOf("p4_n2" to io(decoder, "p1_n2"))
        val e = assertThrows(BundleException::class.java) { session(decoder, wrongBatch, ArrayList()) }
        assertTrue(e.message!!.contains("signature 'p4_n2'") && e.message!!.contains("4 prompts of 2 points"), e.message)
        // Prompt counts that disagree between tensors of one signature.
        val good = io(decoder, "p1_n2")
        val mixed = SignatureIo(good.inputs + ("has_mask_input" to SignatureTensor(intArrayOf(3))), good.outputs)
        val m = assertThrows(BundleException::class.java) { session(decoder, mapOf("p1_n2" to mixed), ArrayList()) }
        assertTrue(m.message!!.contains("has_mask_input"), m.message)
        // A fixed dimension that differs from the spec (another image size).
        val emb = decoder.inputs[0]
        val other = SignatureIo(good.inputs + (emb.name to SignatureTensor(intArrayOf(1, 256, 8, 8))), good.outputs)
        val f = assertThrows(BundleException::class.java) { session(decoder, mapOf("p1_n2" to other), ArrayList()) }
        assertTrue(f.message!!.contains("'${emb.name}' has shape [1, 256, 8, 8]"), f.message)
        // Full-integer models with int8 inputs are refused (the exporter's int8 keeps float32 I/O).
        val int8 = SignatureIo(good.inputs + ("point_labels" to SignatureTensor(intArrayOf(1, 2), "int8")), good.outputs)
        val d = assertThrows(BundleException::class.java) { session(decoder, mapOf("p1_n2" to int8), ArrayList()) }
        assertTrue(d.message!!.contains("dtype int8"), d.message)
    }

    @Test
    fun badInputsAreRefusedBeforeAnyCall() {
        val decoder = specs.getValue(GraphName.DECODER)
        val log = ArrayList<Call>()
        val s = session(decoder, mapOf("p1_n2" to io(decoder, "p1_n2")), log)
        val feeds = inputs(decoder, 2, 2).toMutableMap()
        feeds["has_mask_input"] = FloatTensor(3)
        assertThrows(GraphInputException::class.java) { s.run(feeds) }
        assertThrows(GraphInputException::class.java) { s.run(inputs(decoder, 0, 2)) }
        assertEquals(emptyList<Call>(), log)
    }

    @Test
    fun rowsPadsWithTheLastRow() {
        val x = FloatTensor(intArrayOf(3, 2), floatArrayOf(0f, 1f, 2f, 3f, 4f, 5f))
        val r = TfliteSignatureSession.rows(x, 1, 2, 4)
        assertArrayEquals(intArrayOf(4, 2), r.shape)
        assertArrayEquals(floatArrayOf(2f, 3f, 4f, 5f, 4f, 5f, 4f, 5f), r.data)
        val c = TfliteSignatureSession.concatRows(listOf(TfliteSignatureSession.rows(x, 0, 1, 1), TfliteSignatureSession.rows(x, 2, 1, 1)))
        assertArrayEquals(floatArrayOf(0f, 1f, 4f, 5f), c.data)
    }

    companion object {
        const val CASES = "tflite_signature_cases.json"
    }
}
