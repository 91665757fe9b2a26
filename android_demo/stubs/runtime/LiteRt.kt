// Stub of the org.tensorflow.lite (LiteRT) API surface used by TfliteGraphSession (type-check only).
@file:Suppress("unused", "UNUSED_PARAMETER")

package org.tensorflow.lite

import java.nio.ByteBuffer

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

interface Delegate {
    fun getNativeHandle(): Long
}

class Tensor private constructor() {
    fun shape(): IntArray = stub()
    fun shapeSignature(): IntArray = stub()
    fun index(): Int = stub()
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
    fun resizeInput(idx: Int, dims: IntArray) {}
    fun allocateTensors() {}
    fun runSignature(inputs: Map<String, Any>, outputs: Map<String, Any>, signatureKey: String) {}
    override fun close() {}
}
