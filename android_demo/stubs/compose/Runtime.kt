// Stubs of androidx.compose.runtime (type-check only, never shipped). Without the Compose
// compiler plugin @Composable is a plain annotation: these stubs check names, parameters and
// types of the calls, not the rules of composable contexts.
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.runtime

import kotlin.reflect.KProperty

internal fun stub(): Nothing = throw UnsupportedOperationException("type-check stub")

@Target(AnnotationTarget.FUNCTION, AnnotationTarget.TYPE, AnnotationTarget.TYPE_PARAMETER, AnnotationTarget.PROPERTY_GETTER)
annotation class Composable

interface State<out T> {
    val value: T
}

interface MutableState<T> : State<T> {
    override var value: T
}

operator fun <T> State<T>.getValue(thisObj: Any?, property: KProperty<*>): T = value

operator fun <T> MutableState<T>.setValue(thisObj: Any?, property: KProperty<*>, value: T) {
    this.value = value
}

fun <T> mutableStateOf(value: T): MutableState<T> = stub()

@Composable
inline fun <T> remember(crossinline calculation: () -> T): T = calculation()

@Composable
inline fun <T> remember(key1: Any?, crossinline calculation: () -> T): T = calculation()

abstract class CompositionLocal<T> {
    @get:Composable
    val current: T get() = stub()
}

abstract class CompositionContext
