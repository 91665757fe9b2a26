// Stub of android.os.Bundle (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.os

class Bundle {
    fun getString(key: String): String? = throw UnsupportedOperationException("type-check stub")
}
