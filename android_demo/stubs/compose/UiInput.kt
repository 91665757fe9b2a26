@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui.input.pointer

import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.unit.IntSize

class PointerInputChange(val position: Offset)

interface PointerInputScope {
    val size: IntSize
}

fun Modifier.pointerInput(key1: Any?, key2: Any?, block: suspend PointerInputScope.() -> Unit): Modifier = this
