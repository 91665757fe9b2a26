@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui.graphics.drawscope

import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.unit.IntOffset
import androidx.compose.ui.unit.IntSize

sealed class DrawStyle

object Fill : DrawStyle()

class Stroke(val width: Float = 0f) : DrawStyle()

interface DrawScope {
    val size: Size

    fun drawImage(
        image: ImageBitmap,
        srcOffset: IntOffset = IntOffset(0, 0),
        srcSize: IntSize = IntSize(0, 0),
        dstOffset: IntOffset = IntOffset(0, 0),
        dstSize: IntSize = srcSize,
        alpha: Float = 1f,
    )

    fun drawCircle(color: Color, radius: Float = 0f, center: Offset = Offset(0f, 0f), alpha: Float = 1f, style: DrawStyle = Fill)

    fun drawRect(color: Color, topLeft: Offset = Offset(0f, 0f), size: Size = this.size, alpha: Float = 1f, style: DrawStyle = Fill)
}
