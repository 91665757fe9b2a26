package dev.tinysam.pipeline

import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.fail
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest
import kotlin.math.abs

/**
 * Reader of a golden folder (`docs/GOLDEN.md`) and the shared tolerances.
 *
 * The folder comes from the system property `tinysam.goldenDir` or the environment variable
 * `TINYSAM_GOLDEN_DIR`. Without one the tests FAIL (never skip): parity that was not checked
 * must not look like parity that passed.
 *
 * Tolerances (read from `index.json`, the same for pytest, JUnit and XCTest): integers exact;
 * float32 `|a - e| <= rtol * |e| + atolScale * max(1, max |stored array|)` with rtol = 1e-5 and
 * atolScale = 1e-5 (the absolute floor covers values near zero); binary masks may differ in at
 * most a fraction 1e-4 of their pixels (a logit within float rounding of the threshold).
 */
class Golden private constructor(val root: File) {
    val index: JSONObject = json("index.json")
    private val tol = index.getJSONObject("tolerances")
    val rtol: Double = tol.getDouble("float_rtol")
    val atolScale: Double = tol.getDouble("float_atol_scale")
    val maskMismatchFraction: Double = tol.getDouble("mask_mismatch_fraction")
    val imageSize: Int = index.getJSONObject("model").getInt("image_size")
    val maskThreshold: Float = index.getJSONObject("model").getDouble("mask_threshold").toFloat()

    fun json(rel: String): JSONObject {
        val f = File(root, rel)
        if (!f.isFile) fail<Unit>("golden file is missing: $f")
        return JSONObject(f.readText())
    }

    fun list(key: String): List<String> = index.getJSONArray(key).let { a -> (0 until a.length()).map { a.getString(it) } }

    /** A stored array: shape, dtype and (for file/fill references) its values. */
    class Ref(val dtype: String, val shape: IntArray, val json: JSONObject) {
        val size: Int get() = shape.fold(1) { a, d -> a * d }
        val isDigest: Boolean get() = json.has("sha256")
    }

    fun ref(o: JSONObject): Ref = Ref(o.getString("dtype"), ints(o.getJSONArray("shape")), o)

    private fun bytes(r: Ref): ByteArray {
        if (r.isDigest) fail<Unit>("array is stored as a digest, not readable: ${r.json}")
        val f = File(root, r.json.getString("file"))
        if (!f.isFile) fail<Unit>("golden array file is missing: $f")
        return f.readBytes()
    }

    fun floats(o: JSONObject): FloatTensor {
        val r = ref(o)
        assertEquals("float32", r.dtype, "dtype of $o")
        if (r.json.has("fill")) return FloatTensor(r.shape, FloatArray(r.size) { r.json.getDouble("fill").toFloat() })
        val b = bytes(r)
        assertEquals(r.size * 4, b.size, "bytes of ${r.json}")
        val fb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        return FloatTensor(r.shape, FloatArray(r.size) { fb.get(it) })
    }

    fun int32(o: JSONObject): IntArray {
        val r = ref(o)
        assertEquals("int32", r.dtype, "dtype of $o")
        val b = bytes(r)
        val ib = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer()
        return IntArray(r.size) { ib.get(it) }
    }

    fun uint8(o: JSONObject): ByteArray {
        val r = ref(o)
        assertEquals("uint8", r.dtype, "dtype of $o")
        return bytes(r).also { assertEquals(r.size, it.size, "bytes of ${r.json}") }
    }

    fun bits(o: JSONObject): BooleanArray {
        val r = ref(o)
        assertEquals("bits", r.dtype, "dtype of $o")
        val b = bytes(r)
        assertEquals((r.size + 7) / 8, b.size, "bytes of ${r.json}")
        return BooleanArray(r.size) { i -> (b[i / 8].toInt() shr (7 - i % 8)) and 1 == 1 }
    }

    /** Compare floats with the golden rule; [what] names the field in the failure. */
    fun assertFloats(what: String, actual: FloatArray, expected: FloatArray) {
        assertEquals(expected.size, actual.size, "$what: size")
        val scale = maxOf(1.0, expected.maxOfOrNull { abs(it.toDouble()) } ?: 0.0)
        var bad = 0
        var first = -1
        for (i in expected.indices) {
            val e = expected[i].toDouble()
            val a = actual[i].toDouble()
            if (!(abs(a - e) <= rtol * abs(e) + atolScale * scale)) {
                bad++
                if (first < 0) first = i
            }
        }
        if (bad > 0) fail<Unit>("$what: $bad of ${expected.size} values off tolerance, first at $first: ${actual[first]} vs stored ${expected[first]}")
    }

    fun assertFloats(what: String, actual: FloatArray, stored: JSONObject) {
        val r = ref(stored)
        if (r.isDigest) {
            assertEquals(r.json.getString("sha256"), sha256Floats(actual), "$what: sha256 of the float32 bytes")
            assertSamples(what, r, { i -> actual[i].toDouble() }, isFloat = true)
        } else {
            assertFloats(what, actual, floats(stored).data)
        }
    }

    fun assertInts(what: String, actual: IntArray, expected: IntArray) {
        assertEquals(expected.size, actual.size, "$what: size")
        val i = expected.indices.firstOrNull { expected[it] != actual[it] }
        if (i != null) fail<Unit>("$what: integer values differ, first at $i: ${actual[i]} vs stored ${expected[i]}")
    }

    fun assertUint8(what: String, actual: ByteArray, stored: JSONObject) {
        val r = ref(stored)
        if (r.isDigest) {
            assertEquals(r.json.getString("sha256"), sha256(actual), "$what: sha256")
            assertSamples(what, r, { i -> (actual[i].toInt() and 0xFF).toDouble() }, isFloat = false)
        } else {
            val e = uint8(stored)
            assertEquals(e.size, actual.size, "$what: size")
            val i = e.indices.firstOrNull { e[it] != actual[it] }
            if (i != null) fail<Unit>("$what: bytes differ, first at $i: ${actual[i].toInt() and 0xFF} vs stored ${e[i].toInt() and 0xFF}")
        }
    }

    fun assertMask(what: String, actual: BooleanArray, expected: BooleanArray) {
        assertEquals(expected.size, actual.size, "$what: size")
        val diff = expected.indices.count { expected[it] != actual[it] }
        if (diff > maskMismatchFraction * maxOf(expected.size, 1)) fail<Unit>("$what: $diff of ${expected.size} mask pixels differ")
    }

    private fun assertSamples(what: String, r: Ref, value: (Int) -> Double, isFloat: Boolean) {
        val s = r.json.getJSONObject("samples")
        val idx = s.getJSONArray("index")
        val vals = s.getJSONArray("values")
        val got = FloatArray(idx.length())
        val want = FloatArray(idx.length())
        for (k in 0 until idx.length()) {
            val pos = ints(idx.getJSONArray(k))
            var flat = 0
            for (d in pos.indices) flat = flat * r.shape[d] + pos[d]
            got[k] = value(flat).toFloat()
            want[k] = vals.getDouble(k).toFloat()
        }
        if (isFloat) assertFloats("$what samples", got, want) else assertInts("$what samples", IntArray(got.size) { got[it].toInt() }, IntArray(want.size) { want[it].toInt() })
    }

    companion object {
        const val PROPERTY = "tinysam.goldenDir"
        const val ENV = "TINYSAM_GOLDEN_DIR"

        /** The golden folder, or a test failure explaining how to make one. */
        val instance: Golden by lazy {
            val path = System.getProperty(PROPERTY) ?: System.getenv(ENV)
            if (path.isNullOrEmpty()) {
                fail<Unit>(
                    "no golden folder: set -D$PROPERTY=DIR or $ENV=DIR to a folder written by " +
                        "`python -m tinysam_mobile.golden --bundle BUNDLE` (scripts/test_android_pipeline.sh does this)",
                )
            }
            val dir = File(path!!)
            if (!File(dir, "index.json").isFile) fail<Unit>("golden folder $dir has no index.json")
            Golden(dir)
        }

        fun ints(a: JSONArray): IntArray = IntArray(a.length()) { a.getInt(it) }

        fun doubles(a: JSONArray): DoubleArray = DoubleArray(a.length()) { a.getDouble(it) }

        fun sha256(b: ByteArray): String = MessageDigest.getInstance("SHA-256").digest(b).joinToString("") { "%02x".format(it) }

        fun sha256Floats(f: FloatArray): String {
            val bb = ByteBuffer.allocate(f.size * 4).order(ByteOrder.LITTLE_ENDIAN)
            bb.asFloatBuffer().put(f)
            return sha256(bb.array())
        }
    }
}
