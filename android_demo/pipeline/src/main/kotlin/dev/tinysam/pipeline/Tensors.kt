package dev.tinysam.pipeline

/** A (height, width) pair; the `*_hw` of the Python runtime. */
data class Hw(val height: Int, val width: Int) {
    init {
        require(height >= 0 && width >= 0) { "height and width must be >= 0, got ($height, $width)" }
    }

    override fun toString(): String = "($height, $width)"
}

/**
 * An 8-bit RGB image, row-major HWC (`data[(y * width + x) * 3 + c]`), the Kotlin form of the
 * Python runtime's `uint8 (H, W, 3)` arrays.
 */
class ImageU8(val height: Int, val width: Int, val data: ByteArray) {
    init {
        if (height <= 0 || width <= 0) throw ImageException("image has zero size ($height x $width)")
        if (data.size != height * width * 3) {
            throw ImageException("RGB data has ${data.size} bytes, expected $height * $width * 3")
        }
    }

    val hw: Hw get() = Hw(height, width)

    /** Channel [c] of pixel ([y], [x]) as 0..255. */
    operator fun get(y: Int, x: Int, c: Int): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF
}

/** A dense float32 tensor in row-major (C) order, the Kotlin form of a numpy float32 array. */
class FloatTensor(val shape: IntArray, val data: FloatArray) {
    init {
        require(shape.all { it >= 0 }) { "negative dimension in shape ${shape.contentToString()}" }
        require(shape.fold(1L) { a, d -> a * d } == data.size.toLong()) {
            "shape ${shape.contentToString()} needs ${shape.fold(1L) { a, d -> a * d }} values, got ${data.size}"
        }
    }

    constructor(vararg shape: Int) : this(shape, FloatArray(shape.fold(1) { a, d -> a * d }))

    val rank: Int get() = shape.size
    val size: Int get() = data.size

    fun reshape(vararg newShape: Int): FloatTensor = FloatTensor(newShape, data)

    override fun toString(): String = "FloatTensor${shape.contentToString()}"
}

/** A dense boolean tensor in row-major order (binary masks). */
class BoolTensor(val shape: IntArray, val data: BooleanArray) {
    init {
        require(shape.fold(1L) { a, d -> a * d } == data.size.toLong()) {
            "shape ${shape.contentToString()} does not match ${data.size} values"
        }
    }

    override fun toString(): String = "BoolTensor${shape.contentToString()}"
}
