// Stubs of androidx.compose.ui.geometry / graphics / unit / input / platform (type-check only).
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui.geometry

data class Offset(val x: Float, val y: Float)

data class Size(val width: Float, val height: Float)
