// Stubs of android.graphics (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.graphics

import java.io.InputStream

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

class Bitmap private constructor() {
    enum class Config { ALPHA_8, RGB_565, ARGB_8888, RGBA_F16, HARDWARE }

    val width: Int get() = stub()
    val height: Int get() = stub()
    val config: Config get() = stub()

    fun getPixels(pixels: IntArray, offset: Int, stride: Int, x: Int, y: Int, width: Int, height: Int) {}
    fun copy(config: Config, isMutable: Boolean): Bitmap = stub()

    companion object {
        @JvmStatic fun createBitmap(colors: IntArray, width: Int, height: Int, config: Config): Bitmap = stub()
    }
}

object BitmapFactory {
    @JvmStatic fun decodeStream(stream: InputStream?): Bitmap? = stub()
}
