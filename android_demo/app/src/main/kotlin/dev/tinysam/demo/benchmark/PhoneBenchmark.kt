package dev.tinysam.demo.benchmark

import android.os.Build
import dev.tinysam.pipeline.GraphName
import dev.tinysam.pipeline.ImageU8
import dev.tinysam.pipeline.PointLabel
import dev.tinysam.pipeline.PromptPoint
import dev.tinysam.pipeline.everything.EverythingConfig
import dev.tinysam.pipeline.everything.Hierarchical
import dev.tinysam.runtime.BundleLoader
import dev.tinysam.runtime.BundleSource
import dev.tinysam.runtime.SessionOptions
import org.json.JSONArray
import org.json.JSONObject

/**
 * On-phone latency benchmark: encoder (`setImage`), decoder (one point prompt, `predict`) and
 * hierarchical everything mode, each run [warmup] times untimed, then [runs] times timed.
 * Writes the phone benchmark JSON documented in `benchmarks/README_phone.md`
 * (schema `tinysam-bench-phone/1`).
 */
class PhoneBenchmark(
    private val source: BundleSource,
    private val runs: Int = 10,
    private val warmup: Int = 2,
    private val everythingRuns: Int = 3,
    private val everythingConfig: EverythingConfig = EverythingConfig(),
) {
    init {
        require(runs >= 1 && warmup >= 0 && everythingRuns >= 1) { "runs >= 1, warmup >= 0, everythingRuns >= 1" }
    }

    /** A deterministic test photo (gradients and shapes), [height] x [width] RGB. */
    fun syntheticImage(height: Int = 768, width: Int = 1024): ImageU8 {
        val data = ByteArray(height * width * 3)
        for (y in 0 until height) {
            for (x in 0 until width) {
                val inDisc = (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < (height / 5) * (height / 5)
                val i = (y * width + x) * 3
                data[i] = (if (inDisc) 220 else 40 + 160 * x / width).toByte()
                data[i + 1] = (if (inDisc) 60 else 60 + 120 * y / height).toByte()
                data[i + 2] = (if (inDisc) 40 else 170 - 100 * x / width).toByte()
            }
        }
        return ImageU8(height, width, data)
    }

    /** Median, p90, min and mean of timings in ms; p90 as the host benchmark defines it. */
    fun stats(timesMs: List<Double>): JSONObject {
        val s = timesMs.sorted()
        // bench_runtime.py: times[min(n - 1, round(0.9 * (n - 1)))], round half to even.
        val p90 = s[minOf(s.size - 1, Math.rint(0.9 * (s.size - 1)).toInt())]
        val median = if (s.size % 2 == 1) s[s.size / 2] else (s[s.size / 2 - 1] + s[s.size / 2]) / 2
        return JSONObject()
            .put("median_ms", median)
            .put("p90_ms", p90)
            .put("min_ms", s.first())
            .put("mean_ms", s.average())
            .put("runs", s.size)
    }

    private inline fun time(n: Int, skip: Int, block: () -> Unit): List<Double> {
        val out = ArrayList<Double>()
        repeat(skip + n) { i ->
            val t0 = System.nanoTime()
            block()
            if (i >= skip) out += (System.nanoTime() - t0) / 1e6
        }
        return out
    }

    /** Run the three stages with [options]; returns the JSON document. */
    fun run(options: SessionOptions, image: ImageU8 = syntheticImage()): JSONObject {
        val (predictor, sizes) = BundleLoader.openPredictor(source, options)
        predictor.use { p ->
            val encoder = time(runs, warmup) { p.setImage(image) }
            val point = listOf(PromptPoint(image.width / 2.0, image.height / 2.0, PointLabel.FOREGROUND))
            val decoder = time(runs, warmup) { p.predict(point) }
            var masks = 0
            val everything = time(everythingRuns, minOf(warmup, 1)) { masks = Hierarchical.generateEverything(p, everythingConfig).rles.size }
            val results = JSONArray()
                .put(stats(encoder).put("stage", "encoder").put("graph", "encoder").put("batch", 1))
                .put(stats(decoder).put("stage", "decoder").put("graph", "decoder").put("batch", 1))
                .put(
                    stats(everything).put("stage", "everything").put("mode", everythingConfig.mode.key)
                        .put("points_per_side", everythingConfig.pointsPerSide)
                        .put("points_per_batch", everythingConfig.pointsPerBatch).put("masks", masks),
                )
            return JSONObject()
                .put("schema", SCHEMA)
                .put("platform", "android")
                .put(
                    "device",
                    JSONObject().put("manufacturer", Build.MANUFACTURER).put("model", Build.MODEL)
                        .put("soc", if (Build.VERSION.SDK_INT >= 31) Build.SOC_MODEL else "unknown")
                        .put("abi", Build.SUPPORTED_ABIS.firstOrNull() ?: "unknown"),
                )
                .put("os", JSONObject().put("name", "Android").put("version", Build.VERSION.RELEASE).put("sdk", Build.VERSION.SDK_INT))
                .put("backend", options.backend.name.lowercase())
                .put("target", options.backend.target.key)
                .put("precision", options.precision.key)
                .put("accelerator", options.accelerator.name.lowercase())
                .put("threads", options.threads)
                .put("image_size", p.imageSize)
                .put("image_hw", JSONArray().put(image.height).put(image.width))
                .put("warmup", warmup)
                .put(
                    "model_sizes_bytes",
                    JSONObject().put("encoder", sizes.getValue(GraphName.ENCODER)).put("decoder", sizes.getValue(GraphName.DECODER)),
                )
                .put("results", results)
        }
    }

    companion object {
        const val SCHEMA = "tinysam-bench-phone/1"
    }
}
