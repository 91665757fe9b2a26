// Stubs of android.graphics (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.graphics

import android.content.ContentResolver
import android.net.Uri
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
        @JvmStatic fun createScaledBitmap(src: Bitmap, dstWidth: Int, dstHeight: Int, filter: Boolean): Bitmap = stub()
    }
}

class Rect

object BitmapFactory {
    class Options {
        @JvmField var inJustDecodeBounds: Boolean = false
        @JvmField var inSampleSize: Int = 0
        @JvmField var outWidth: Int = 0
        @JvmField var outHeight: Int = 0
    }

    @JvmStatic fun decodeStream(stream: InputStream?): Bitmap? = stub()
    @JvmStatic fun decodeStream(stream: InputStream?, outPadding: Rect?, opts: Options?): Bitmap? = stub()
}

class ImageDecoder private constructor() : AutoCloseable {
    abstract class Source

    class ImageInfo private constructor() {
        val size: android.util.Size get() = stub()
    }

    fun interface OnHeaderDecodedListener {
        fun onHeaderDecoded(decoder: ImageDecoder, info: ImageInfo, source: Source)
    }

    fun setAllocator(allocator: Int) {}
    fun setTargetSize(width: Int, height: Int) {}
    override fun close() {}

    companion object {
        const val ALLOCATOR_SOFTWARE: Int = 1
        @JvmStatic fun createSource(cr: ContentResolver, uri: Uri): Source = stub()
        @JvmStatic fun decodeBitmap(src: Source, listener: OnHeaderDecodedListener): Bitmap = stub()
    }
}
