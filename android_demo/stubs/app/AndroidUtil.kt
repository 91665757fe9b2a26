// Stub of android.util.Size (type-check only, never shipped).
@file:Suppress("unused")

package android.util

class Size(val width: Int, val height: Int)
