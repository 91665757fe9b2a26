package dev.tinysam.runtime

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import ai.onnxruntime.TensorInfo
import dev.tinysam.pipeline.BundleException
import dev.tinysam.pipeline.FloatTensor
import dev.tinysam.pipeline.GraphInputException
import dev.tinysam.pipeline.GraphSession
import dev.tinysam.pipeline.GraphSpec
import dev.tinysam.pipeline.Sessions
import java.nio.FloatBuffer

/**
 * A [GraphSession] over ONNX Runtime Mobile (`ai.onnxruntime`), for `.ort` (or `.onnx`) model
 * bytes. Like the Python `OrtSession`, it checks the model's input and output names, ranks and
 * fixed dimensions against the manifest's [spec] when it loads, and validates every call.
 *
 * @param modelBytes the `.ort` / `.onnx` file's content.
 * @param threads intra-op threads of the CPU execution provider.
 * @param accelerator [Accelerator.NNAPI] adds the NNAPI execution provider (CPU fallback);
 *   [Accelerator.CPU] uses XNNPACK.
 */
class OrtGraphSession(
    modelBytes: ByteArray,
    override val spec: GraphSpec,
    threads: Int,
    accelerator: Accelerator = Accelerator.CPU,
) : GraphSession {
    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val session: OrtSession

    init {
        val options = OrtSession.SessionOptions()
        options.setIntraOpNumThreads(threads)
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT)
        when (accelerator) {
            Accelerator.NNAPI -> options.addNnapi()
            Accelerator.CPU -> options.addXnnpack(mapOf("intra_op_num_threads" to threads.toString()))
            Accelerator.GPU -> throw BundleException("ONNX Runtime Mobile has no GPU execution provider on Android; use LiteRT for GPU")
        }
        session = env.createSession(modelBytes, options)
        checkSignature()
    }

    private fun checkSignature() {
        val g = spec.name.key
        val inputs = session.inputInfo
        val outputs = session.outputInfo
        if (inputs.keys != spec.inputNames.toSet() || !outputs.keys.containsAll(spec.outputNames)) {
            throw BundleException("$g model has inputs ${inputs.keys} / outputs ${outputs.keys}; the manifest says ${spec.inputNames} / ${spec.outputNames}")
        }
        for (t in spec.inputs + spec.outputs) {
            val info = (inputs[t.name] ?: outputs[t.name])!!.info as? TensorInfo
                ?: throw BundleException("$g '${t.name}' is not a tensor")
            val shape = info.shape
            if (shape.size != t.shape.size) throw BundleException("$g '${t.name}' has rank ${shape.size}, the manifest says ${t.shape}")
            t.shape.forEachIndexed { i, want ->
                if (want is Int && shape[i] >= 0 && shape[i] != want.toLong()) {
                    throw BundleException("$g '${t.name}' dim $i is ${shape[i]}, the manifest says $want")
                }
            }
        }
    }

    override fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> {
        Sessions.validateInputs(spec, inputs)
        val tensors = LinkedHashMap<String, OnnxTensor>()
        try {
            for (name in spec.inputNames) {
                val x = inputs.getValue(name)
                tensors[name] = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data), LongArray(x.rank) { x.shape[it].toLong() })
            }
            session.run(tensors).use { result ->
                return spec.outputNames.associateWith { name ->
                    val value = result.get(name).orElseThrow { GraphInputException("${spec.name.key} returned no '$name'") } as OnnxTensor
                    val shape = value.info.shape
                    val buf = value.floatBuffer
                    val data = FloatArray(buf.remaining())
                    buf.get(data)
                    FloatTensor(IntArray(shape.size) { shape[it].toInt() }, data)
                }
            }
        } finally {
            tensors.values.forEach { it.close() }
        }
    }

    override fun close() {
        session.close()
    }
}
