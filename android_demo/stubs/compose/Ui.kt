// Stubs of androidx.compose.ui (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.ui

interface Modifier {
    fun then(other: Modifier): Modifier = other

    companion object : Modifier
}

interface Alignment {
    interface Vertical

    companion object {
        val Center: Alignment get() = throw UnsupportedOperationException("type-check stub")
        val CenterVertically: Vertical get() = throw UnsupportedOperationException("type-check stub")
    }
}
