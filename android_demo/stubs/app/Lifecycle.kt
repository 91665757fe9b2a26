// Stubs of androidx.lifecycle (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.lifecycle

import android.app.Application
import kotlinx.coroutines.CoroutineScope

abstract class ViewModel {
    protected open fun onCleared() {}
}

open class AndroidViewModel(application: Application) : ViewModel() {
    fun <T : Application> getApplication(): T = throw UnsupportedOperationException("type-check stub")
}

val ViewModel.viewModelScope: CoroutineScope get() = throw UnsupportedOperationException("type-check stub")
