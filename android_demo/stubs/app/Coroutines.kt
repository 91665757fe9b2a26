// Stubs of the kotlinx.coroutines API the app uses (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package kotlinx.coroutines

import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext

private fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

interface CoroutineScope {
    val coroutineContext: CoroutineContext
}

interface Job : CoroutineContext.Element {
    fun cancel(cause: java.util.concurrent.CancellationException? = null)
}

abstract class CoroutineDispatcher : CoroutineContext

object Dispatchers {
    val Default: CoroutineDispatcher get() = stub()
    val IO: CoroutineDispatcher get() = stub()
}

fun CoroutineScope.launch(context: CoroutineContext = EmptyCoroutineContext, block: suspend CoroutineScope.() -> Unit): Job = stub()

suspend fun <T> withContext(context: CoroutineContext, block: suspend CoroutineScope.() -> T): T = stub()
