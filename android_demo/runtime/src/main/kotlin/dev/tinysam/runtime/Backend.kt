package dev.tinysam.runtime

import dev.tinysam.pipeline.Precision
import dev.tinysam.pipeline.Target

/** Runtimes the app can run a bundle's graphs with. */
enum class Backend(val target: Target, val label: String) {
    /** ONNX Runtime Mobile on `.ort` files (falls back to `.onnx`), CPU + XNNPACK. */
    ORT(Target.ONNX, "ONNX Runtime"),

    /** LiteRT (TFLite) with signature runners, CPU + XNNPACK or the GPU delegate. */
    TFLITE(Target.TFLITE, "LiteRT"),
    ;

    companion object {
        /** The backend that runs a target's artifacts; [IllegalArgumentException] for CoreML. */
        fun forTarget(target: Target): Backend =
            entries.firstOrNull { it.target == target } ?: throw IllegalArgumentException("no Android backend runs ${target.key} artifacts")

        /** A backend by its name (`ort`, `tflite`) or its target (`onnx`), any case. */
        fun of(name: String): Backend =
            entries.firstOrNull { it.name.equals(name, ignoreCase = true) || it.target.key.equals(name, ignoreCase = true) }
                ?: throw IllegalArgumentException("unknown backend '$name' (known: ${entries.joinToString { it.name.lowercase() }})")
    }
}

/** Where a backend runs its kernels. */
enum class Accelerator { CPU, GPU, NNAPI }

/** How to open the two graphs of a bundle. */
data class SessionOptions(
    val backend: Backend,
    val precision: Precision,
    val threads: Int = 4,
    val accelerator: Accelerator = Accelerator.CPU,
)
