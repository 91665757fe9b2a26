package dev.tinysam.demo

/**
 * How an image of [imageWidth] x [imageHeight] pixels is drawn centred and scaled to fit a view
 * of [viewWidth] x [viewHeight]; maps view positions (taps, drags) to image pixels and back.
 */
data class ImageFit(val imageWidth: Int, val imageHeight: Int, val viewWidth: Float, val viewHeight: Float) {
    val scale: Float = minOf(viewWidth / imageWidth, viewHeight / imageHeight)
    val offsetX: Float = (viewWidth - imageWidth * scale) / 2f
    val offsetY: Float = (viewHeight - imageHeight * scale) / 2f

    /** View position -> image pixel (x, y), clamped into the image; null outside the drawn image. */
    fun toImage(x: Float, y: Float, clamp: Boolean = false): Pair<Double, Double>? {
        val ix = (x - offsetX) / scale
        val iy = (y - offsetY) / scale
        val inside = ix in 0f..imageWidth.toFloat() && iy in 0f..imageHeight.toFloat()
        if (!inside && !clamp) return null
        return ix.coerceIn(0f, imageWidth.toFloat()).toDouble() to iy.coerceIn(0f, imageHeight.toFloat()).toDouble()
    }

    /** Image pixel -> view position. */
    fun toView(x: Double, y: Double): Pair<Float, Float> = (offsetX + x.toFloat() * scale) to (offsetY + y.toFloat() * scale)
}
