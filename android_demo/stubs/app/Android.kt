// Stubs of the Android framework classes the app's non-Compose files use (type-check only).
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.content

import android.content.res.AssetManager
import android.net.Uri
import java.io.InputStream

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

abstract class ContentResolver {
    fun openInputStream(uri: Uri): InputStream? = stub()
}

abstract class Context {
    val assets: AssetManager get() = stub()
    val contentResolver: ContentResolver get() = stub()
    val packageName: String get() = stub()
    val cacheDir: java.io.File get() = stub()
    fun getExternalFilesDir(type: String?): java.io.File? = stub()
}
