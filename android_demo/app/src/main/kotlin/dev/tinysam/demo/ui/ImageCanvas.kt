package dev.tinysam.demo.ui

import android.graphics.Bitmap
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.gestures.detectDragGestures
import androidx.compose.foundation.gestures.detectTapGestures
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.unit.IntOffset
import androidx.compose.ui.unit.IntSize
import dev.tinysam.demo.ImageFit
import dev.tinysam.demo.PromptTool
import dev.tinysam.pipeline.PointLabel
import dev.tinysam.pipeline.PromptBox
import dev.tinysam.pipeline.PromptPoint

/**
 * The photo scaled to fit, the mask overlay on top, the prompt points and box; taps add points
 * and drags draw a box (in [PromptTool.BOX] mode). Positions are reported in image pixels.
 */
@Composable
fun ImageCanvas(
    image: Bitmap,
    overlay: Bitmap?,
    points: List<PromptPoint>,
    box: PromptBox?,
    tool: PromptTool,
    onTap: (Double, Double) -> Unit,
    onBox: (Double, Double, Double, Double) -> Unit,
) {
    val photo = remember(image) { image.asImageBitmap() }
    val mask = remember(overlay) { overlay?.asImageBitmap() }
    var dragStart by remember { mutableStateOf<Offset?>(null) }
    var dragEnd by remember { mutableStateOf<Offset?>(null) }
    val gestures = if (tool == PromptTool.BOX) {
        Modifier.pointerInput(tool, image) {
            detectDragGestures(
                onDragStart = { dragStart = it; dragEnd = it },
                onDrag = { change, _ -> dragEnd = change.position },
                onDragEnd = {
                    val fit = ImageFit(image.width, image.height, size.width.toFloat(), size.height.toFloat())
                    val a = dragStart?.let { fit.toImage(it.x, it.y, clamp = true) }
                    val b = dragEnd?.let { fit.toImage(it.x, it.y, clamp = true) }
                    if (a != null && b != null) onBox(a.first, a.second, b.first, b.second)
                    dragStart = null
                    dragEnd = null
                },
            )
        }
    } else {
        Modifier.pointerInput(tool, image) {
            detectTapGestures { pos ->
                val fit = ImageFit(image.width, image.height, size.width.toFloat(), size.height.toFloat())
                fit.toImage(pos.x, pos.y)?.let { (x, y) -> onTap(x, y) }
            }
        }
    }
    Canvas(Modifier.fillMaxSize().then(gestures)) {
        val fit = ImageFit(image.width, image.height, size.width, size.height)
        val dst = IntSize((image.width * fit.scale).toInt(), (image.height * fit.scale).toInt())
        val at = IntOffset(fit.offsetX.toInt(), fit.offsetY.toInt())
        drawImage(photo, dstOffset = at, dstSize = dst)
        mask?.let { drawImage(it, dstOffset = at, dstSize = dst) }
        for (p in points) {
            val (x, y) = fit.toView(p.x, p.y)
            val color = if (p.label == PointLabel.FOREGROUND) Color.Green else Color.Red
            drawCircle(color, radius = 9f, center = Offset(x, y))
            drawCircle(Color.White, radius = 9f, center = Offset(x, y), style = Stroke(2f))
        }
        box?.let {
            val (x0, y0) = fit.toView(it.x0, it.y0)
            val (x1, y1) = fit.toView(it.x1, it.y1)
            drawRect(Color.Yellow, topLeft = Offset(x0, y0), size = Size(x1 - x0, y1 - y0), style = Stroke(3f))
        }
        val s = dragStart
        val e = dragEnd
        if (s != null && e != null) {
            drawRect(Color.Yellow.copy(alpha = 0.6f), topLeft = Offset(minOf(s.x, e.x), minOf(s.y, e.y)), size = Size(kotlin.math.abs(e.x - s.x), kotlin.math.abs(e.y - s.y)), style = Stroke(2f))
        }
    }
}
