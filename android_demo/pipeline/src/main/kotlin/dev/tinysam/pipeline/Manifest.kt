package dev.tinysam.pipeline

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import java.io.File
import java.io.InputStream
import java.security.MessageDigest

/** The two exported graphs; mirrors `spec.GraphName`. The string is the manifest's key. */
enum class GraphName(val key: String) {
    ENCODER("encoder"),
    DECODER("decoder"),
    ;

    companion object {
        fun of(key: String): GraphName =
            entries.firstOrNull { it.key == key } ?: throw ManifestException("unknown graph name '$key'")
    }
}

/** Runtime targets a bundle can hold; Android runs [ONNX] (as `.ort`/`.onnx`) and [TFLITE]. */
enum class Target(val key: String) {
    ONNX("onnx"),
    TFLITE("tflite"),
    COREML("coreml"),
    ;

    companion object {
        fun of(key: String): Target =
            entries.firstOrNull { it.key == key } ?: throw ManifestException("unknown target '$key'")
    }
}

/** Weight precisions of an artifact. */
enum class Precision(val key: String) {
    FP32("fp32"),
    FP16("fp16"),
    INT8("int8"),
    ;

    companion object {
        fun of(key: String): Precision =
            entries.firstOrNull { it.key == key } ?: throw ManifestException("unknown precision '$key'")
    }
}

/**
 * Name, shape and dtype of one graph input or output; mirrors `spec.TensorSpec`. A dimension is
 * an `Int` (fixed) or a `String` naming a symbolic dimension (`"num_prompts"`).
 */
data class TensorSpec(val name: String, val shape: List<Any>, val dtype: String = "float32") {
    /** Whether [actual] fits this spec: same rank, equal fixed dimensions. */
    fun matches(actual: IntArray): Boolean =
        actual.size == shape.size && shape.indices.all { i -> shape[i] !is Int || shape[i] == actual[i] }
}

/** Inputs and outputs of one graph in call order; mirrors `spec.GraphSpec`. */
data class GraphSpec(val name: GraphName, val inputs: List<TensorSpec>, val outputs: List<TensorSpec>) {
    val inputNames: List<String> get() = inputs.map { it.name }
    val outputNames: List<String> get() = outputs.map { it.name }
}

/** One graph file of a bundle; mirrors `manifest.Artifact`. */
data class Artifact(
    val graph: GraphName,
    val target: Target,
    val precision: Precision,
    val file: String,
    val sha256: String,
    val sizeBytes: Long,
)

/**
 * Parsed `manifest.json` (schema version [SCHEMA_VERSION]); mirrors `tinysam_mobile/manifest.py`
 * (`Manifest.from_json`, `Manifest.artifact`, `load_manifest`, `verify_artifact`). Names of
 * graphs, inputs and outputs are read from here and never retyped in the app.
 */
data class Manifest(
    val schemaVersion: Int,
    val modelName: String,
    val imageSize: Int,
    val embeddingHw: Hw,
    val lowResHw: Hw,
    val maskThreshold: Float,
    val pixelMean: FloatArray,
    val pixelStd: FloatArray,
    val graphs: Map<GraphName, GraphSpec>,
    val artifacts: List<Artifact>,
) {
    /** The artifact for (target, precision, graph); [BundleException] listing what exists. */
    fun artifact(target: Target, precision: Precision, graph: GraphName): Artifact =
        artifacts.firstOrNull { it.target == target && it.precision == precision && it.graph == graph }
            ?: throw BundleException(
                "bundle has no ${graph.key} artifact for target='${target.key}' precision='${precision.key}'; " +
                    "it has: " + (artifacts.joinToString { "${it.graph.key}/${it.target.key}/${it.precision.key}" }.ifEmpty { "none" }),
            )

    /** (target, precision) pairs for which both graphs are present, in the manifest's order. */
    fun availableVariants(): List<Pair<Target, Precision>> =
        artifacts.map { it.target to it.precision }.distinct().filter { (t, p) ->
            GraphName.entries.all { g -> artifacts.any { it.target == t && it.precision == p && it.graph == g } }
        }

    /**
     * The [availableVariants] of [targets], ordered by target (in the order given) and then by
     * precision in [MOBILE_DEFAULT_ORDER]: what a backend/precision menu lists.
     */
    fun variantsFor(targets: List<Target>): List<Pair<Target, Precision>> =
        availableVariants().filter { it.first in targets }
            .sortedWith(compareBy({ targets.indexOf(it.first) }, { MOBILE_DEFAULT_ORDER.indexOf(it.second) }))

    /**
     * The variant an app opens first: the first precision of [MOBILE_DEFAULT_ORDER] that one of
     * [targets] has (int8, the exporter's default for mobile targets), on the first such target;
     * null when the bundle has no variant of [targets].
     */
    fun defaultVariant(targets: List<Target>): Pair<Target, Precision>? =
        variantsFor(targets).minByOrNull { MOBILE_DEFAULT_ORDER.indexOf(it.second) }

    companion object {
        const val SCHEMA_VERSION = 1
        const val MANIFEST_NAME = "manifest.json"
        const val PATCH_STRIDE = 16
        const val LOW_RES_UPSCALE = 4

        /**
         * Precisions in the order a phone app prefers them; mirrors
         * `tinysam_export.config.MOBILE_DEFAULT_ORDER` (mobile targets are exported as int8 by default).
         */
        val MOBILE_DEFAULT_ORDER: List<Precision> = listOf(Precision.INT8, Precision.FP16, Precision.FP32)

        /** Parse manifest text; [ManifestException] naming the missing or bad key. */
        fun parse(text: String): Manifest {
            val d = try {
                JSONObject(text)
            } catch (e: JSONException) {
                throw ManifestException("manifest is not valid JSON: ${e.message}", e)
            }
            return fromJson(d)
        }

        fun fromJson(d: JSONObject): Manifest {
            require(d, listOf("schema_version"), "manifest")
            val version = d.getInt("schema_version")
            if (version != SCHEMA_VERSION) {
                throw ManifestException(
                    "unsupported manifest schema_version $version; this app reads version $SCHEMA_VERSION",
                )
            }
            require(d, listOf("model", "preprocess", "graphs", "artifacts"), "manifest")
            val model = d.getJSONObject("model")
            val pre = d.getJSONObject("preprocess")
            require(model, listOf("image_size"), "model")
            require(pre, listOf("pixel_mean"), "preprocess")
            val s = model.getInt("image_size")
            if (s <= 0 || s % PATCH_STRIDE != 0) {
                throw ManifestException("model.image_size is invalid: must be a positive multiple of $PATCH_STRIDE, got $s")
            }
            val emb = Hw(s / PATCH_STRIDE, s / PATCH_STRIDE)
            val low = Hw(emb.height * LOW_RES_UPSCALE, emb.width * LOW_RES_UPSCALE)
            for ((key, want) in listOf("embedding_hw" to emb, "low_res_hw" to low)) {
                if (model.has(key)) {
                    val got = hw(model.getJSONArray(key), "model.$key")
                    if (got != want) throw ManifestException("model.$key is $got but image_size $s implies $want")
                }
            }
            val graphsJson = d.getJSONObject("graphs")
            val graphs = GraphName.entries.associateWith { g ->
                if (!graphsJson.has(g.key)) throw ManifestException("manifest 'graphs' lacks ${g.key}")
                val gj = graphsJson.getJSONObject(g.key)
                GraphSpec(g, tensors(gj.getJSONArray("inputs")), tensors(gj.getJSONArray("outputs")))
            }
            val arts = d.getJSONArray("artifacts")
            val artifacts = (0 until arts.length()).map { artifactFromJson(arts.getJSONObject(it)) }
            return Manifest(
                schemaVersion = version,
                modelName = model.optString("name", "vit_t"),
                imageSize = s,
                embeddingHw = emb,
                lowResHw = low,
                maskThreshold = if (model.has("mask_threshold")) model.getDouble("mask_threshold").toFloat() else 0f,
                pixelMean = triple(pre.getJSONArray("pixel_mean"), "preprocess.pixel_mean"),
                pixelStd = if (pre.has("pixel_std")) triple(pre.getJSONArray("pixel_std"), "preprocess.pixel_std") else floatArrayOf(58.395f, 57.12f, 57.375f),
                graphs = graphs,
                artifacts = artifacts,
            )
        }

        /** Read `bundleDir/manifest.json`. */
        fun load(bundleDir: File): Manifest {
            if (!bundleDir.isDirectory) throw ManifestException("bundle folder $bundleDir does not exist")
            val f = File(bundleDir, MANIFEST_NAME)
            if (!f.isFile) throw ManifestException("$f is missing: $bundleDir is not a tinysam bundle")
            return try {
                parse(f.readText())
            } catch (e: ManifestException) {
                throw ManifestException("$f: ${e.message}", e)
            }
        }

        /** Read a manifest from a stream (an Android asset). */
        fun load(stream: InputStream): Manifest = parse(stream.bufferedReader().use { it.readText() })

        private fun artifactFromJson(a: JSONObject): Artifact {
            require(a, listOf("graph", "target", "precision", "file", "sha256", "size_bytes"), "artifact")
            return Artifact(
                GraphName.of(a.getString("graph")),
                Target.of(a.getString("target")),
                Precision.of(a.getString("precision")),
                a.getString("file"),
                a.getString("sha256"),
                a.getLong("size_bytes"),
            )
        }

        private fun tensors(arr: JSONArray): List<TensorSpec> = (0 until arr.length()).map { i ->
            val t = arr.getJSONObject(i)
            require(t, listOf("name", "shape"), "tensor spec")
            val shape = t.getJSONArray("shape")
            TensorSpec(
                t.getString("name"),
                (0 until shape.length()).map { k -> shape.get(k).let { if (it is Number) it.toInt() else it.toString() } },
                t.optString("dtype", "float32"),
            )
        }

        private fun hw(arr: JSONArray, where: String): Hw {
            if (arr.length() != 2) throw ManifestException("$where must be [h, w], got $arr")
            return Hw(arr.getInt(0), arr.getInt(1))
        }

        private fun triple(arr: JSONArray, where: String): FloatArray {
            if (arr.length() != 3) throw ManifestException("$where must be three numbers, got $arr")
            return FloatArray(3) { arr.getDouble(it).toFloat() }
        }

        private fun require(d: JSONObject, keys: List<String>, where: String) {
            val missing = keys.filter { !d.has(it) }
            if (missing.isNotEmpty()) throw ManifestException("$where is missing required key(s): ${missing.joinToString()}")
        }

        /** Hex sha256 of a file, read in chunks. */
        fun sha256File(file: File): String {
            val md = MessageDigest.getInstance("SHA-256")
            file.inputStream().use { s ->
                val buf = ByteArray(1 shl 20)
                while (true) {
                    val n = s.read(buf)
                    if (n < 0) break
                    md.update(buf, 0, n)
                }
            }
            return md.digest().joinToString("") { "%02x".format(it) }
        }

        /**
         * Hex sha256 and total size of a file or of a folder such as a `.mlpackage`; mirrors
         * `manifest.sha256_tree`. A folder hashes, for every regular file below it sorted by its
         * `/`-separated relative path (compared as UTF-8 bytes, as Python compares code points),
         * the line `"<relpath>\u0000<size>\u0000<sha256 of the file>\n"`.
         */
        fun sha256Tree(path: File): Pair<String, Long> {
            if (path.isFile) return sha256File(path) to path.length()
            val files = path.walkTopDown().filter { it.isFile }
                .map { it.relativeTo(path).invariantSeparatorsPath to it }
                .sortedWith { a, b -> compareUtf8(a.first, b.first) }
                .toList()
            val md = MessageDigest.getInstance("SHA-256")
            var total = 0L
            for ((rel, f) in files) {
                total += f.length()
                md.update("$rel\u0000${f.length()}\u0000${sha256File(f)}\n".toByteArray(Charsets.UTF_8))
            }
            return md.digest().joinToString("") { "%02x".format(it) } to total
        }

        private fun compareUtf8(a: String, b: String): Int {
            val x = a.toByteArray(Charsets.UTF_8)
            val y = b.toByteArray(Charsets.UTF_8)
            for (i in 0 until minOf(x.size, y.size)) {
                val c = (x[i].toInt() and 0xFF) - (y[i].toInt() and 0xFF)
                if (c != 0) return c
            }
            return x.size - y.size
        }

        /**
         * Check that an artifact's file (or folder: a CoreML `.mlpackage`) exists with the recorded
         * size and sha256 ([sha256Tree]); mirrors `manifest.verify_artifact`.
         */
        fun verifyArtifact(bundleDir: File, artifact: Artifact): File {
            val f = File(bundleDir, artifact.file)
            if (!f.isFile && !f.isDirectory) throw BundleException("artifact file $f does not exist")
            val (sha, size) = sha256Tree(f)
            if (size != artifact.sizeBytes) {
                throw BundleException("artifact file $f has $size bytes, manifest says ${artifact.sizeBytes}")
            }
            if (sha != artifact.sha256) throw BundleException("artifact file $f has sha256 $sha, manifest says ${artifact.sha256}")
            return f
        }
    }
}
