package dev.tinysam.demo

import android.graphics.Bitmap
import dev.tinysam.pipeline.Hw
import dev.tinysam.pipeline.ImageU8
import dev.tinysam.pipeline.Masks

/** Conversions between Android bitmaps and the pipeline's RGB / mask arrays. */
object ImageConversions {
    /** ARGB_8888 bitmap -> RGB uint8 HWC (alpha dropped, as `image_io.load_image` does). */
    fun toImageU8(bitmap: Bitmap): ImageU8 {
        val w = bitmap.width
        val h = bitmap.height
        val argb = IntArray(w * h)
        bitmap.getPixels(argb, 0, w, 0, 0, w, h)
        val rgb = ByteArray(w * h * 3)
        for (i in argb.indices) {
            val p = argb[i]
            rgb[i * 3] = (p shr 16 and 0xFF).toByte()
            rgb[i * 3 + 1] = (p shr 8 and 0xFF).toByte()
            rgb[i * 3 + 2] = (p and 0xFF).toByte()
        }
        return ImageU8(h, w, rgb)
    }

    /** One mask (row-major H*W) as a translucent overlay of [color] (ARGB). */
    fun maskOverlay(mask: BooleanArray, hw: Hw, color: Int = 0x7F1E90FF): Bitmap {
        val px = IntArray(mask.size) { if (mask[it]) color else 0 }
        return Bitmap.createBitmap(px, hw.width, hw.height, Bitmap.Config.ARGB_8888)
    }

    /** Everything-mode masks (RLEs, best first) painted with distinct colours; later masks do not repaint. */
    fun everythingOverlay(rles: List<Masks.Rle>, hw: Hw): Bitmap {
        val px = IntArray(hw.height * hw.width)
        rles.forEachIndexed { k, rle ->
            val color = palette(k)
            val m = Masks.rleToMask(rle)
            for (i in m.indices) if (m[i] && px[i] == 0) px[i] = color
        }
        return Bitmap.createBitmap(px, hw.width, hw.height, Bitmap.Config.ARGB_8888)
    }

    /** A translucent colour per index (golden-angle hue steps). */
    fun palette(k: Int): Int {
        val hue = (k * 137.508) % 360.0
        val c = 0.85
        val x = c * (1 - kotlin.math.abs((hue / 60.0) % 2 - 1))
        val (r, g, b) = when ((hue / 60).toInt()) {
            0 -> Triple(c, x, 0.0)
            1 -> Triple(x, c, 0.0)
            2 -> Triple(0.0, c, x)
            3 -> Triple(0.0, x, c)
            4 -> Triple(x, 0.0, c)
            else -> Triple(c, 0.0, x)
        }
        return (0x8C shl 24) or ((r * 255).toInt() shl 16) or ((g * 255).toInt() shl 8) or (b * 255).toInt()
    }
}
