// Stub of the org.tensorflow.lite (LiteRT) API surface used by TfliteGraphSession (type-check only).
@file:Suppress("unused", "UNUSED_PARAMETER")

package org.tensorflow.lite

import java.nio.ByteBuffer

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

interface Delegate {
    fun getNativeHandle(): Long
}

/** `org.tensorflow.lite.DataType` (the LiteRT 1.0 members). */
enum class DataType { FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8 }

class Tensor private constructor() {
    fun dataType(): DataType = stub()
    fun shape(): IntArray = stub()
    fun numElements(): Int = stub()
}

class Interpreter(byteBuffer: ByteBuffer, options: Options?) : AutoCloseable {
    class Options {
        fun setNumThreads(numThreads: Int): Options = this
        fun setUseXNNPACK(useXNNPACK: Boolean): Options = this
        fun addDelegate(delegate: Delegate): Options = this
    }

    val signatureKeys: Array<String> get() = stub()
    fun getSignatureInputs(signatureKey: String): Array<String> = stub()
    fun getSignatureOutputs(signatureKey: String): Array<String> = stub()
    fun getInputTensorFromSignature(inputName: String, signatureKey: String): Tensor = stub()
    fun getOutputTensorFromSignature(outputName: String, signatureKey: String): Tensor = stub()
    fun runSignature(inputs: Map<String, Any>, outputs: Map<String, Any>, signatureKey: String) {}
    override fun close() {}
}
