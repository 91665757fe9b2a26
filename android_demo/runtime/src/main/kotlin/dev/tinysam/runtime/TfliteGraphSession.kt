package dev.tinysam.runtime

import dev.tinysam.pipeline.BundleException
import dev.tinysam.pipeline.FloatTensor
import dev.tinysam.pipeline.GraphInputException
import dev.tinysam.pipeline.GraphSession
import dev.tinysam.pipeline.GraphSpec
import dev.tinysam.pipeline.SignatureIo
import dev.tinysam.pipeline.SignatureTensor
import dev.tinysam.pipeline.TfliteSignatureSession
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.GpuDelegate
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * A [GraphSession] over a LiteRT (`org.tensorflow.lite.Interpreter`) file written by
 * `tinysam-export --target tflite`; the Kotlin form of `tinysam_mobile.backends.tflite.TfliteSession`.
 *
 * Such a file holds one signature per static input shape: the encoder `serving_default`, the
 * decoder one per `(num_prompts, num_points)` named `p{B}_n{N}` (`p1_n2` ... `p1_n6`, `p16_n2`);
 * signature inputs and outputs carry the manifest's tensor names. Everything but the interpreter
 * lives in `:pipeline` and is unit-tested there against the Python reference
 * ([TfliteSignatureSession]: signature checks on load, the point counts, the signature choice, the
 * split of a prompt batch into the largest available batch sizes with the last chunk padded by
 * repeating its last prompt, the error naming the supported point counts). This class reads the
 * signature lists and static shapes from the interpreter and runs one signature per call
 * ([Interpreter.runSignature]) on direct buffers kept per signature.
 *
 * @param model the `.tflite` file mapped or read into a direct buffer.
 * @param fileName the file's name, for messages.
 */
class TfliteGraphSession(
    model: ByteBuffer,
    override val spec: GraphSpec,
    threads: Int,
    accelerator: Accelerator = Accelerator.CPU,
    fileName: String = "${spec.name.key}.tflite",
) : GraphSession {
    private val delegate: GpuDelegate?
    private val interpreter: Interpreter
    private val session: TfliteSignatureSession
    private val buffers = HashMap<String, SignatureBuffers>()

    init {
        if (accelerator == Accelerator.NNAPI) throw BundleException("NNAPI is deprecated for LiteRT; use CPU or GPU")
        delegate = if (accelerator == Accelerator.GPU) GpuDelegate() else null
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(delegate == null)
        delegate?.let { options.addDelegate(it) }
        interpreter = try {
            Interpreter(model, options)
        } catch (e: Exception) {
            delegate?.close()
            throw BundleException("LiteRT could not load $fileName: ${e.message}", e)
        }
        session = try {
            val signatures = interpreter.signatureKeys.associateWith { key ->
                SignatureIo(
                    interpreter.getSignatureInputs(key).associateWith { tensorInfo(interpreter.getInputTensorFromSignature(it, key)) },
                    interpreter.getSignatureOutputs(key).associateWith { tensorInfo(interpreter.getOutputTensorFromSignature(it, key)) },
                )
            }
            TfliteSignatureSession(spec, signatures, fileName, ::callSignature)
        } catch (e: Exception) {
            close()
            throw e
        }
    }

    /** Point counts (padding included) the decoder file supports (`point_counts`). */
    val pointCounts: List<Int> get() = session.pointCounts

    override fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> = synchronized(this) { session.run(inputs) }

    /** Run signature [name] on arrays in the spec's input order; outputs in spec order (`_call`). */
    private fun callSignature(name: String, arrays: List<FloatTensor>): List<FloatTensor> {
        val bufs = buffers.getOrPut(name) { SignatureBuffers(name) }
        val ins = HashMap<String, Any>()
        for ((i, x) in arrays.withIndex()) {
            val input = spec.inputNames[i]
            val buf = bufs.inputs.getValue(input)
            if (buf.capacity() != x.size * 4) {
                throw GraphInputException("signature '$name' input '$input' holds ${buf.capacity() / 4} values, got ${x.size}")
            }
            buf.clear()
            buf.asFloatBuffer().put(x.data)
            ins[input] = buf
        }
        val outs = HashMap<String, Any>()
        for ((out, buf) in bufs.outputs) {
            buf.clear()
            outs[out] = buf
        }
        interpreter.runSignature(ins, outs, name)
        return spec.outputNames.map { out ->
            val buf = bufs.outputs.getValue(out)
            buf.rewind()
            val data = FloatArray(buf.capacity() / 4)
            buf.asFloatBuffer().get(data)
            FloatTensor(bufs.outputShapes.getValue(out), data)
        }
    }

    /** Direct native-order buffers of one signature's inputs and outputs (static shapes). */
    private inner class SignatureBuffers(name: String) {
        val inputs: Map<String, ByteBuffer> = spec.inputNames.associateWith {
            direct(interpreter.getInputTensorFromSignature(it, name).numElements())
        }
        val outputShapes: Map<String, IntArray> = spec.outputNames.associateWith {
            interpreter.getOutputTensorFromSignature(it, name).shape()
        }
        val outputs: Map<String, ByteBuffer> = spec.outputNames.associateWith {
            direct(interpreter.getOutputTensorFromSignature(it, name).numElements())
        }
    }

    private fun direct(floats: Int): ByteBuffer = ByteBuffer.allocateDirect(floats * 4).order(ByteOrder.nativeOrder())

    override fun close() {
        interpreter.close()
        delegate?.close()
    }

    private companion object {
        /** Static shape and dtype of a signature tensor, dtype named as in the manifest (`float32`). */
        fun tensorInfo(t: Tensor): SignatureTensor = SignatureTensor(t.shape(), t.dataType().name.lowercase())
    }
}
