package dev.tinysam.runtime

import android.content.res.AssetManager
import dev.tinysam.pipeline.Artifact
import dev.tinysam.pipeline.BundleException
import dev.tinysam.pipeline.GraphName
import dev.tinysam.pipeline.GraphSession
import dev.tinysam.pipeline.Manifest
import dev.tinysam.pipeline.Predictor
import dev.tinysam.pipeline.Target
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Where a bundle's files are read from: the app's assets or a folder on the device. */
interface BundleSource {
    /** The bytes of a file of the bundle, by its manifest-relative path; null if absent. */
    fun read(path: String): ByteArray?

    fun manifest(): Manifest =
        Manifest.parse(String(read(Manifest.MANIFEST_NAME) ?: throw BundleException("bundle has no ${Manifest.MANIFEST_NAME}"), Charsets.UTF_8))
}

/** A bundle copied into the APK's assets under [root] by the `copyTinySamModels` Gradle task. */
class AssetBundleSource(private val assets: AssetManager, private val root: String = "tinysam") : BundleSource {
    override fun read(path: String): ByteArray? = try {
        assets.open("$root/$path").use { it.readBytes() }
    } catch (e: FileNotFoundException) {
        null
    } catch (e: IOException) {
        null
    }
}

/** A bundle folder on the device (e.g. pushed with `adb push bundle /data/local/tmp/tinysam`). */
class FileBundleSource(private val dir: File) : BundleSource {
    override fun read(path: String): ByteArray? = File(dir, path).takeIf { it.isFile }?.readBytes()
}

/**
 * Opens the two graphs of a bundle with the chosen backend and builds a [Predictor].
 *
 * File names come from the manifest. For ONNX artifacts the ORT-format file the exporter writes
 * next to them (`onnx/ort/<stem>.ort`, e.g. `onnx/ort/encoder.fp32.ort`) is preferred: ORT Mobile
 * loads it without graph optimisation at start-up; the `.onnx` file is the fallback.
 */
object BundleLoader {
    const val ORT_DIR = "onnx/ort"

    /** The `.ort` sibling of an ONNX artifact. */
    fun ortPath(artifact: Artifact): String = "$ORT_DIR/" + artifact.file.substringAfterLast('/').removeSuffix(".onnx") + ".ort"

    /** Model bytes and the file they came from. */
    class ModelFile(val path: String, val bytes: ByteArray)

    fun modelFile(source: BundleSource, artifact: Artifact): ModelFile {
        if (artifact.target == Target.ONNX) {
            source.read(ortPath(artifact))?.let { return ModelFile(ortPath(artifact), it) }
        }
        val bytes = source.read(artifact.file) ?: throw BundleException("bundle file ${artifact.file} is missing (run the copyTinySamModels Gradle task)")
        return ModelFile(artifact.file, bytes)
    }

    /** Open one graph; returns the session and the size in bytes of the model file it loaded. */
    fun openSession(source: BundleSource, manifest: Manifest, graph: GraphName, options: SessionOptions): Pair<GraphSession, Long> {
        val artifact = manifest.artifact(options.backend.target, options.precision, graph)
        val file = modelFile(source, artifact)
        val spec = manifest.graphs.getValue(graph)
        val session = when (options.backend) {
            Backend.ORT -> OrtGraphSession(file.bytes, spec, options.threads, options.accelerator)
            Backend.TFLITE -> {
                val buf = ByteBuffer.allocateDirect(file.bytes.size).order(ByteOrder.nativeOrder())
                buf.put(file.bytes)
                buf.rewind()
                TfliteGraphSession(buf, spec, options.threads, options.accelerator, file.path.substringAfterLast('/'))
            }
        }
        return session to file.bytes.size.toLong()
    }

    /** Open both graphs and return a predictor plus the model sizes in bytes (for the benchmark). */
    fun openPredictor(source: BundleSource, options: SessionOptions): Pair<Predictor, Map<GraphName, Long>> {
        val manifest = source.manifest()
        val (encoder, encoderBytes) = openSession(source, manifest, GraphName.ENCODER, options)
        val (decoder, decoderBytes) = try {
            openSession(source, manifest, GraphName.DECODER, options)
        } catch (e: Exception) {
            encoder.close()
            throw e
        }
        val sizes = mapOf(GraphName.ENCODER to encoderBytes, GraphName.DECODER to decoderBytes)
        return Predictor(encoder, decoder, manifest) to sizes
    }
}
