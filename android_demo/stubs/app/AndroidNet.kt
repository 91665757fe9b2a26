// Stub of android.net.Uri (type-check only, never shipped).
package android.net

abstract class Uri
