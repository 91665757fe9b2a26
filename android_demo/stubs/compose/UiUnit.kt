@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui.unit

data class IntOffset(val x: Int, val y: Int)

data class IntSize(val width: Int, val height: Int)

@JvmInline
value class Dp(val value: Float)

val Int.dp: Dp get() = Dp(toFloat())
