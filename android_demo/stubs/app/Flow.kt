// Stubs of kotlinx.coroutines.flow (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER", "FunctionName")

package kotlinx.coroutines.flow

interface StateFlow<out T> {
    val value: T
}

interface MutableStateFlow<T> : StateFlow<T> {
    override var value: T
    fun compareAndSet(expect: T, update: T): Boolean
}

fun <T> MutableStateFlow(value: T): MutableStateFlow<T> = throw UnsupportedOperationException("type-check stub")

fun <T> MutableStateFlow<T>.asStateFlow(): StateFlow<T> = this

inline fun <T> MutableStateFlow<T>.update(function: (T) -> T) {
    while (true) {
        val prev = value
        if (compareAndSet(prev, function(prev))) return
    }
}
