// Stub of org.tensorflow.lite.gpu.GpuDelegate (type-check only, never shipped).
@file:Suppress("unused")

package org.tensorflow.lite.gpu

import org.tensorflow.lite.Delegate

class GpuDelegate : Delegate, AutoCloseable {
    override fun getNativeHandle(): Long = throw UnsupportedOperationException("type-check stub")
    override fun close() {}
}
