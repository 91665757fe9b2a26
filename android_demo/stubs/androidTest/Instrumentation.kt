@file:Suppress("unused")

package android.app

import android.content.Context

open class Instrumentation {
    val targetContext: Context get() = throw UnsupportedOperationException("type-check stub")
}
