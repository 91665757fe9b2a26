package dev.tinysam.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.tinysam.demo.benchmark.PhoneBenchmark
import dev.tinysam.pipeline.Precision
import dev.tinysam.runtime.Accelerator
import dev.tinysam.runtime.AssetBundleSource
import dev.tinysam.runtime.Backend
import dev.tinysam.runtime.SessionOptions
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import java.io.File

/**
 * On-device benchmark of the bundle in the app's assets; run by
 * `benchmarks/android/run_on_device.sh`. Instrumentation arguments (`-e key value`):
 * `runs` (10), `warmup` (2), `everythingRuns` (3), `threads` (4), `variants` (default: every
 * ONNX / TFLite pair manifest.json lists, e.g. `ort:int8,ort:fp32,tflite:int8` for a
 * `--target all` bundle), `accelerator` (cpu | gpu | nnapi).
 * Writes one JSON per variant to `<external files>/benchmarks/phone_<backend>_<precision>.json`.
 */
@RunWith(AndroidJUnit4::class)
class PhoneBenchmarkTest {
    @Test
    fun benchmarkEveryVariant() {
        val args = InstrumentationRegistry.getArguments()
        val context = InstrumentationRegistry.getInstrumentation().targetContext
        val source = AssetBundleSource(context.assets)
        val manifest = source.manifest()
        val wanted = args.getString("variants")?.split(',')?.map { v ->
            val (b, p) = v.split(':')
            Backend.of(b) to Precision.of(p)
        } ?: manifest.variantsFor(Backend.entries.map { it.target }).map { (t, p) -> Backend.forTarget(t) to p }
        assertTrue("the bundle in the assets has no ONNX/TFLite variants", wanted.isNotEmpty())
        val bench = PhoneBenchmark(
            source,
            runs = args.getString("runs")?.toInt() ?: 10,
            warmup = args.getString("warmup")?.toInt() ?: 2,
            everythingRuns = args.getString("everythingRuns")?.toInt() ?: 3,
        )
        val accelerator = Accelerator.valueOf((args.getString("accelerator") ?: "cpu").uppercase())
        val outDir = File(context.getExternalFilesDir(null), "benchmarks").apply { mkdirs() }
        for ((backend, precision) in wanted) {
            val options = SessionOptions(backend, precision, threads = args.getString("threads")?.toInt() ?: 4, accelerator = accelerator)
            val doc = bench.run(options)
            val file = File(outDir, "phone_${backend.name.lowercase()}_${precision.key}.json")
            file.writeText(doc.toString(1) + "\n")
            println("TINYSAM_BENCH wrote ${file.absolutePath}")
        }
    }
}
