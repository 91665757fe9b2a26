@file:Suppress("unused")

package androidx.compose.ui.platform

import android.content.Context
import androidx.compose.runtime.CompositionLocal

val LocalContext: CompositionLocal<Context> get() = throw UnsupportedOperationException("type-check stub")
