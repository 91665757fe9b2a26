// Stub of the ai.onnxruntime API surface used by OrtGraphSession (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package ai.onnxruntime

import java.nio.FloatBuffer
import java.util.Optional

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

open class OrtException(message: String) : Exception(message)

class OrtEnvironment private constructor() : AutoCloseable {
    fun createSession(modelArray: ByteArray, options: OrtSession.SessionOptions): OrtSession = stub()
    override fun close() {}

    companion object {
        @JvmStatic fun getEnvironment(): OrtEnvironment = stub()
    }
}

interface ValueInfo

class TensorInfo private constructor() : ValueInfo {
    val shape: LongArray get() = stub()
}

class NodeInfo private constructor() {
    val name: String get() = stub()
    val info: ValueInfo get() = stub()
}

interface OnnxValue : AutoCloseable

interface OnnxTensorLike : OnnxValue

class OnnxTensor private constructor() : OnnxTensorLike {
    val info: TensorInfo get() = stub()
    val floatBuffer: FloatBuffer get() = stub()
    override fun close() {}

    companion object {
        @JvmStatic fun createTensor(env: OrtEnvironment, data: FloatBuffer, shape: LongArray): OnnxTensor = stub()
    }
}

class OrtSession private constructor() : AutoCloseable {
    val inputInfo: Map<String, NodeInfo> get() = stub()
    val outputInfo: Map<String, NodeInfo> get() = stub()

    fun run(inputs: Map<String, out OnnxTensorLike>): Result = stub()
    override fun close() {}

    class Result private constructor() : AutoCloseable, Iterable<Map.Entry<String, OnnxValue>> {
        fun get(name: String): Optional<OnnxValue> = stub()
        override fun iterator(): Iterator<Map.Entry<String, OnnxValue>> = stub()
        override fun close() {}
    }

    class SessionOptions : AutoCloseable {
        enum class OptLevel { NO_OPT, BASIC_OPT, EXTENDED_OPT, ALL_OPT }

        fun setIntraOpNumThreads(numThreads: Int) {}
        fun setOptimizationLevel(level: OptLevel) {}
        fun addNnapi() {}
        fun addXnnpack(providerOptions: Map<String, String>) {}
        override fun close() {}
    }
}
