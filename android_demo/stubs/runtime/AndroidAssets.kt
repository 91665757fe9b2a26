// Stub of android.content.res.AssetManager (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.content.res

import java.io.InputStream

class AssetManager private constructor() {
    fun open(fileName: String): InputStream = throw UnsupportedOperationException("type-check stub")
    fun list(path: String): Array<String>? = throw UnsupportedOperationException("type-check stub")
}
