// Stubs of androidx.activity (+ compose, result) and android.os.Bundle (type-check only).
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.activity

import android.os.Bundle
import androidx.lifecycle.ViewModel

open class ComponentActivity {
    protected open fun onCreate(savedInstanceState: Bundle?) {}
}

inline fun <reified VM : ViewModel> ComponentActivity.viewModels(): Lazy<VM> = throw UnsupportedOperationException("type-check stub")
