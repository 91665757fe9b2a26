package dev.tinysam.runtime

import dev.tinysam.pipeline.BundleException
import dev.tinysam.pipeline.FloatTensor
import dev.tinysam.pipeline.GraphSession
import dev.tinysam.pipeline.GraphSpec
import dev.tinysam.pipeline.Sessions
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.GpuDelegate
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * A [GraphSession] over LiteRT (`org.tensorflow.lite.Interpreter`) using the model's signature
 * runner, whose input/output names are the manifest's. Symbolic dimensions (`num_prompts`) are
 * resized per call when the model allows it (shape signature -1); a model exported with a fixed
 * prompt batch is fed in chunks of that batch, the last one padded by repeating its last prompt
 * (padding rows are dropped from the outputs).
 *
 * @param model the `.tflite` file mapped or read into a direct buffer.
 */
class TfliteGraphSession(
    model: ByteBuffer,
    override val spec: GraphSpec,
    threads: Int,
    accelerator: Accelerator = Accelerator.CPU,
) : GraphSession {
    private val delegate: Delegate? = if (accelerator == Accelerator.GPU) GpuDelegate() else null
    private val interpreter: Interpreter
    private val signature: String

    init {
        if (accelerator == Accelerator.NNAPI) throw BundleException("NNAPI is deprecated for LiteRT; use CPU or GPU")
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(delegate == null)
        delegate?.let { options.addDelegate(it) }
        interpreter = Interpreter(model, options)
        val keys = interpreter.signatureKeys
        signature = keys.singleOrNull() ?: keys.firstOrNull { it == "serving_default" }
            ?: throw BundleException("${spec.name.key} .tflite has signatures ${keys.toList()}; expected exactly one")
        val ins = interpreter.getSignatureInputs(signature).toSet()
        val outs = interpreter.getSignatureOutputs(signature).toSet()
        if (ins != spec.inputNames.toSet() || !outs.containsAll(spec.outputNames)) {
            throw BundleException("${spec.name.key} .tflite signature has inputs $ins / outputs $outs; the manifest says ${spec.inputNames} / ${spec.outputNames}")
        }
    }

    /** The fixed prompt batch of the model, or null when `num_prompts` is resizable. */
    private val fixedBatch: Int? by lazy {
        val t = spec.inputs.firstOrNull { it.shape.firstOrNull() is String } ?: return@lazy null
        val tensor = interpreter.getInputTensorFromSignature(t.name, signature)
        if (tensor.shapeSignature().first() == -1) null else tensor.shape().first()
    }

    override fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> {
        val bound = Sessions.validateInputs(spec, inputs)
        val batchDim = spec.inputs.firstOrNull { it.shape.firstOrNull() is String }?.shape?.first() as String?
        val b = batchDim?.let { bound[it] }
        val fixed = fixedBatch
        if (b == null || fixed == null) return runOnce(inputs)
        // Fixed batch: run chunks of `fixed` prompts, padding the last one.
        val parts = ArrayList<Map<String, FloatTensor>>()
        var start = 0
        while (start < b) {
            val n = minOf(fixed, b - start)
            val chunk = spec.inputs.associate { t ->
                val x = inputs.getValue(t.name)
                t.name to if (t.shape.first() is String) rows(x, start, n, fixed) else x
            }
            parts += runOnce(chunk).mapValues { (_, y) -> rows(y, 0, n, n) }
            start += n
        }
        return spec.outputNames.associateWith { name -> concatRows(parts.map { it.getValue(name) }) }
    }

    private fun runOnce(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> {
        for (t in spec.inputs) {
            val tensor = interpreter.getInputTensorFromSignature(t.name, signature)
            val shape = inputs.getValue(t.name).shape
            if (!tensor.shape().contentEquals(shape)) interpreter.resizeInput(tensor.index(), shape)
        }
        interpreter.allocateTensors()
        val ins = inputs.mapValues { (_, x) -> direct(x.data.size).also { it.asFloatBuffer().put(x.data) } }
        val outs = spec.outputNames.associateWith { name ->
            direct(interpreter.getOutputTensorFromSignature(name, signature).numElements())
        }
        interpreter.runSignature(ins, outs, signature)
        return outs.mapValues { (name, buf) ->
            val shape = interpreter.getOutputTensorFromSignature(name, signature).shape()
            buf.rewind()
            val data = FloatArray(buf.remaining() / 4)
            buf.asFloatBuffer().get(data)
            FloatTensor(shape, data)
        }
    }

    private fun direct(floats: Int): ByteBuffer = ByteBuffer.allocateDirect(floats * 4).order(ByteOrder.nativeOrder())

    /** Rows [start, start + n) of x along axis 0, padded to [total] rows by repeating the last. */
    private fun rows(x: FloatTensor, start: Int, n: Int, total: Int): FloatTensor {
        val row = x.size / x.shape[0]
        val out = FloatArray(total * row)
        for (r in 0 until total) System.arraycopy(x.data, (start + minOf(r, n - 1)) * row, out, r * row, row)
        return FloatTensor(intArrayOf(total) + x.shape.copyOfRange(1, x.rank), out)
    }

    private fun concatRows(parts: List<FloatTensor>): FloatTensor {
        val rows = parts.sumOf { it.shape[0] }
        val data = FloatArray(parts.sumOf { it.size })
        var off = 0
        for (p in parts) {
            System.arraycopy(p.data, 0, data, off, p.size)
            off += p.size
        }
        return FloatTensor(intArrayOf(rows) + parts[0].shape.copyOfRange(1, parts[0].rank), data)
    }

    override fun close() {
        interpreter.close()
        (delegate as? GpuDelegate)?.close()
    }
}
