package dev.tinysam.demo

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Build
import dev.tinysam.pipeline.Hw
import dev.tinysam.pipeline.ImageException
import dev.tinysam.pipeline.ImageU8
import dev.tinysam.pipeline.Masks

/** Conversions between Android bitmaps and the pipeline's RGB / mask arrays. */
object ImageConversions {
    /**
     * Longest side of a photo as the app segments it (as the iOS demo): a 12-megapixel capture
     * would need ~150 MB of float logits per prompt at full size. The encoder sees at most
     * `image_size` pixels anyway; masks come back at this resolution.
     */
    const val MAX_SIDE = 2048

    /** (width, height) scaled so that the longest side is at most [maxSide], aspect kept. */
    fun fittedSize(width: Int, height: Int, maxSide: Int = MAX_SIDE): Pair<Int, Int> {
        require(width > 0 && height > 0) { "image has zero size (${width}x$height)" }
        val longest = maxOf(width, height)
        if (longest <= maxSide) return width to height
        val s = maxSide.toDouble() / longest
        return maxOf(1, Math.round(width * s).toInt()) to maxOf(1, Math.round(height * s).toInt())
    }

    /**
     * Decode a picked or captured photo as the user sees it, longest side at most [maxSide].
     * Android 9+ ([ImageDecoder]) applies the EXIF orientation and decodes straight to the target
     * size in software memory; Android 8 ([BitmapFactory]) subsamples by powers of two, then
     * scales, and cannot read the EXIF orientation without an extra library (rotated camera
     * photos stay as stored there).
     */
    fun decodePhoto(resolver: ContentResolver, uri: Uri, maxSide: Int = MAX_SIDE): Bitmap {
        if (Build.VERSION.SDK_INT >= 28) {
            return ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri)) { decoder, info, _ ->
                decoder.setAllocator(ImageDecoder.ALLOCATOR_SOFTWARE)
                val (w, h) = fittedSize(info.size.width, info.size.height, maxSide)
                decoder.setTargetSize(w, h)
            }
        }
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        resolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, bounds) }
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) throw ImageException("could not read the image at $uri")
        var sample = 1
        while (maxOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= maxSide) sample *= 2
        val options = BitmapFactory.Options().apply { inSampleSize = sample }
        val bitmap = resolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, options) }
            ?: throw ImageException("could not decode the image at $uri")
        val (w, h) = fittedSize(bitmap.width, bitmap.height, maxSide)
        return if (w == bitmap.width && h == bitmap.height) bitmap else Bitmap.createScaledBitmap(bitmap, w, h, true)
    }

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
