// Stubs of androidx.test (type-check only, never shipped); JUnit 4 itself is the real jar.
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.test.platform.app

import android.app.Instrumentation
import android.os.Bundle

object InstrumentationRegistry {
    @JvmStatic fun getArguments(): Bundle = throw UnsupportedOperationException("type-check stub")
    @JvmStatic fun getInstrumentation(): Instrumentation = throw UnsupportedOperationException("type-check stub")
}
