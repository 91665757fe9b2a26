@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui.graphics

import android.graphics.Bitmap

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

@JvmInline
value class Color(val value: ULong) {
    fun copy(alpha: Float = 1f, red: Float = 0f, green: Float = 0f, blue: Float = 0f): Color = stub()

    companion object {
        val Green: Color get() = stub()
        val Red: Color get() = stub()
        val White: Color get() = stub()
        val Yellow: Color get() = stub()
    }
}

interface ImageBitmap

fun Bitmap.asImageBitmap(): ImageBitmap = stub()
