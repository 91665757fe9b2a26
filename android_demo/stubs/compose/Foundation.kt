// Stubs of androidx.compose.foundation (type-check only, never shipped).
@file:Suppress("unused", "UNUSED_PARAMETER")

package androidx.compose.foundation

import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.drawscope.DrawScope

@Composable
fun Canvas(modifier: Modifier, onDraw: DrawScope.() -> Unit) {}
