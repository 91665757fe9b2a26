package dev.tinysam.pipeline

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.nio.file.Files

/**
 * What the app's backend/precision menu offers (read from the manifest, int8 first as the
 * exporter's mobile default) and the verification of folder artifacts (CoreML `.mlpackage`s of a
 * `--target all` bundle) against `manifest.sha256_tree`. Needs no golden folder.
 */
class ManifestVariantsTest {
    private val base: Manifest by lazy {
        val stream = javaClass.getResourceAsStream("/${TfliteSignaturesTest.CASES}")
            ?: throw AssertionError("test resource ${TfliteSignaturesTest.CASES} is not on the classpath")
        Manifest.fromJson(JSONObject(stream.bufferedReader().use { it.readText() }).getJSONObject("manifest"))
    }

    private fun art(t: Target, p: Precision, g: GraphName) = Artifact(g, t, p, "${t.key}/${g.key}.${p.key}", "0", 0)

    /** The artifacts of `tinysam-export --target all`, in the order the exporter lists them. */
    private val all = listOf(
        Target.ONNX to Precision.FP32, Target.TFLITE to Precision.INT8,
        Target.ONNX to Precision.INT8, Target.COREML to Precision.INT8,
    ).flatMap { (t, p) -> GraphName.entries.map { art(t, p, it) } }

    private val android = listOf(Target.ONNX, Target.TFLITE)

    @Test
    fun targetAllBundleOffersEveryAndroidPairInt8First() {
        val m = base.copy(artifacts = all)
        assertEquals(
            listOf(Target.ONNX to Precision.INT8, Target.ONNX to Precision.FP32, Target.TFLITE to Precision.INT8),
            m.variantsFor(android),
        )
        assertEquals(Target.ONNX to Precision.INT8, m.defaultVariant(android))
        assertEquals(listOf(Target.COREML to Precision.INT8), m.variantsFor(listOf(Target.COREML)))
    }

    @Test
    fun defaultFollowsWhatTheBundleHas() {
        // --target onnx (fp32 only): fp32 is opened, nothing is assumed.
        val onnx = base.copy(artifacts = GraphName.entries.map { art(Target.ONNX, Precision.FP32, it) })
        assertEquals(Target.ONNX to Precision.FP32, onnx.defaultVariant(android))
        // --target tflite (int8 by default) next to onnx fp32: the int8 pair wins on its target.
        val mixed = base.copy(artifacts = onnx.artifacts + GraphName.entries.map { art(Target.TFLITE, Precision.INT8, it) })
        assertEquals(Target.TFLITE to Precision.INT8, mixed.defaultVariant(android))
        // A pair with one graph only is not offered; a CoreML-only bundle has nothing for Android.
        val half = base.copy(artifacts = listOf(art(Target.TFLITE, Precision.FP32, GraphName.DECODER)) + onnx.artifacts)
        assertEquals(listOf(Target.ONNX to Precision.FP32), half.variantsFor(android))
        val coreml = base.copy(artifacts = GraphName.entries.map { art(Target.COREML, Precision.INT8, it) })
        assertNull(coreml.defaultVariant(android))
        assertEquals(listOf(Precision.INT8, Precision.FP16, Precision.FP32), Manifest.MOBILE_DEFAULT_ORDER)
    }

    @Test
    fun folderArtifactsHashLikeSha256Tree() {
        val dir = Files.createTempDirectory("tinysam-tree").toFile()
        try {
            // The digest and size `tinysam_mobile.manifest.sha256_tree` gives for this folder.
            val pkg = File(dir, "coreml/decoder.int8.mlpackage")
            File(pkg, "Data/com.apple.CoreML/weights").mkdirs()
            File(pkg, "Manifest.json").writeText("{\"x\": 1}\n")
            File(pkg, "Data/com.apple.CoreML/weights/weight.bin").writeText("abc")
            File(pkg, "Data/com.apple.CoreML/model.mlmodel").writeText("zz")
            val expected = "a7620f60dbd31b1623ff89725752c51c93b0348eaffaf9c2e125e3f756aa17dc"
            assertEquals(expected to 14L, Manifest.sha256Tree(pkg))
            val a = Artifact(GraphName.DECODER, Target.COREML, Precision.INT8, "coreml/decoder.int8.mlpackage", expected, 14)
            assertEquals(pkg, Manifest.verifyArtifact(dir, a))
            File(pkg, "Data/com.apple.CoreML/weights/weight.bin").writeText("abd")
            val e = assertThrows(BundleException::class.java) { Manifest.verifyArtifact(dir, a) }
            assertTrue(e.message!!.contains("sha256"), e.message)
            val missing = assertThrows(BundleException::class.java) { Manifest.verifyArtifact(dir, a.copy(file = "coreml/encoder.int8.mlpackage")) }
            assertTrue(missing.message!!.contains("does not exist"), missing.message)
        } finally {
            dir.deleteRecursively()
        }
    }
}
