// Stubs of android.os.Build (type-check only, never shipped).
@file:Suppress("unused")

package android.os

object Build {
    @JvmField val MANUFACTURER: String = ""
    @JvmField val MODEL: String = ""
    @JvmField val SOC_MODEL: String = ""
    @JvmField val SUPPORTED_ABIS: Array<String> = emptyArray()

    object VERSION {
        @JvmField val RELEASE: String = ""
        @JvmField val SDK_INT: Int = 0
    }
}
