@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.test.ext.junit.runners

import org.junit.runner.Description
import org.junit.runner.Runner
import org.junit.runner.notification.RunNotifier

class AndroidJUnit4(klass: Class<*>) : Runner() {
    override fun getDescription(): Description = throw UnsupportedOperationException("type-check stub")
    override fun run(notifier: RunNotifier) {}
}
