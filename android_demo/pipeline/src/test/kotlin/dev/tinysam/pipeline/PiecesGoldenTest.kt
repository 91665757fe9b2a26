package dev.tinysam.pipeline

import dev.tinysam.pipeline.everything.Regions
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Model-free golden vectors (`pieces.json`): every step checked on its own. */
class PiecesGoldenTest {
    private val g get() = Golden.instance
    private val p get() = g.json(g.index.getString("pieces"))

    @Test
    fun resizeImageIsBitExactWithPil() {
        val cases = p.getJSONArray("resize_image")
        assertTrue(cases.length() > 0, "no resize_image vectors")
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val inRef = g.ref(c.getJSONObject("input"))
            val img = ImageU8(inRef.shape[0], inRef.shape[1], g.uint8(c.getJSONObject("input")))
            val out = Transforms.resizeImage(img, c.getInt("image_size"))
            assertEquals(Hw(c.getJSONArray("resized_hw").getInt(0), c.getJSONArray("resized_hw").getInt(1)), out.hw, "resize_image[$k] size")
            g.assertUint8("pieces.resize_image[$k]", out.data, c.getJSONObject("output"))
        }
    }

    @Test
    fun resizedHw() {
        val cases = p.getJSONArray("resized_hw")
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val o = Golden.ints(c.getJSONArray("original_hw"))
            val want = Golden.ints(c.getJSONArray("resized_hw"))
            assertEquals(Hw(want[0], want[1]), Transforms.resizedHw(Hw(o[0], o[1]), c.getInt("image_size")), "resized_hw[$k] of ${o.toList()}")
        }
    }

    @Test
    fun coordsAndBoxesImageToModel() {
        val cases = p.getJSONArray("coords")
        assertTrue(cases.length() > 0)
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val o = Golden.ints(c.getJSONArray("original_hw"))
            val hw = Hw(o[0], o[1])
            val s = c.getInt("image_size")
            val pts = g.floats(c.getJSONObject("points_xy_image")).data
            val got = Transforms.coordsImageToModel(DoubleArray(pts.size) { pts[it].toDouble() }, hw, s)
            g.assertFloats("pieces.coords[$k].points", FloatArray(got.size) { got[it].toFloat() }, c.getJSONObject("points_xy_model"))
            val boxes = g.floats(c.getJSONObject("boxes_xyxy_image")).data
            val gotB = Transforms.boxesImageToModel(DoubleArray(boxes.size) { boxes[it].toDouble() }, hw, s)
            g.assertFloats("pieces.coords[$k].boxes", FloatArray(gotB.size) { gotB[it].toFloat() }, c.getJSONObject("boxes_xyxy_model"))
            // And back: model -> image recovers the float32 inputs.
            val back = Transforms.coordsModelToImage(got, hw, s)
            g.assertFloats("pieces.coords[$k].roundtrip", FloatArray(back.size) { back[it].toFloat() }, pts)
        }
    }

    @Test
    fun resizeBilinearMatchesTorchSemantics() {
        val cases = p.getJSONArray("resize_bilinear")
        assertTrue(cases.length() > 0)
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val x = g.floats(c.getJSONObject("input"))
            val out = Golden.ints(c.getJSONArray("out_hw"))
            val got = Postprocess.resizeBilinear(x, Hw(out[0], out[1]))
            assertTrue(got.shape.contentEquals(g.ref(c.getJSONObject("output")).shape), "resize_bilinear[$k] shape")
            g.assertFloats("pieces.resize_bilinear[$k]", got.data, c.getJSONObject("output"))
        }
    }

    @Test
    fun upscaleLogits() {
        val cases = p.getJSONArray("upscale_logits")
        assertTrue(cases.length() > 0)
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val r = Golden.ints(c.getJSONArray("resized_hw"))
            val o = Golden.ints(c.getJSONArray("original_hw"))
            val got = Postprocess.upscaleLogits(g.floats(c.getJSONObject("low_res")), Hw(r[0], r[1]), Hw(o[0], o[1]), c.getInt("image_size"))
            assertTrue(got.shape.contentEquals(g.ref(c.getJSONObject("output")).shape), "upscale_logits[$k] shape")
            g.assertFloats("pieces.upscale_logits[$k]", got.data, c.getJSONObject("output"))
        }
    }

    @Test
    fun stabilityScore() {
        val st = p.getJSONObject("stability_score")
        val got = Masks.stabilityScore(g.floats(st.getJSONObject("logits")), st.getDouble("mask_threshold"), st.getDouble("offset"))
        g.assertFloats("pieces.stability_score", got, st.getJSONObject("output"))
    }

    @Test
    fun maskToBox() {
        val mb = p.getJSONObject("mask_to_box")
        val ref = g.ref(mb.getJSONObject("masks"))
        val got = Masks.maskToBox(BoolTensor(ref.shape, g.bits(mb.getJSONObject("masks"))))
        g.assertInts("pieces.mask_to_box", got, g.int32(mb.getJSONObject("boxes")))
    }

    @Test
    fun boxNms() {
        val nms = p.getJSONObject("box_nms")
        val boxes = g.int32(nms.getJSONObject("boxes"))
        val scores = g.floats(nms.getJSONObject("scores")).data
        val kept = Masks.boxNms(
            DoubleArray(boxes.size) { boxes[it].toDouble() },
            DoubleArray(scores.size) { scores[it].toDouble() },
            nms.getDouble("iou_threshold"),
        )
        g.assertInts("pieces.box_nms", kept, Golden.ints(nms.getJSONArray("kept")))
    }

    @Test
    fun smallRegions() {
        val cases = p.getJSONArray("small_regions")
        assertTrue(cases.length() > 0, "no small_regions vectors")
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val ref = g.ref(c.getJSONObject("mask"))
            val hw = Hw(ref.shape[0], ref.shape[1])
            val mask = g.bits(c.getJSONObject("mask"))
            // 8-connected labels, numbered in raster order of each component's first pixel.
            val (labels, sizes) = Regions.labelComponents(mask, hw)
            g.assertInts("pieces.small_regions[$k].labels", labels, g.int32(c.getJSONObject("labels")))
            g.assertInts("pieces.small_regions[$k].sizes", sizes, Golden.ints(c.getJSONArray("sizes")))
            for ((key, mode) in listOf("holes" to Regions.Mode.HOLES, "islands" to Regions.Mode.ISLANDS)) {
                val want = c.getJSONObject(key)
                val (out, changed) = Regions.removeSmallRegions(mask, hw, c.getInt("area_thresh"), mode)
                val stored = g.bits(want.getJSONObject("mask"))
                val diff = stored.indices.count { stored[it] != out[it] }
                assertEquals(0, diff, "pieces.small_regions[$k].$key: pixels differ (integer-only step, exact)")
                assertEquals(want.getBoolean("changed"), changed, "pieces.small_regions[$k].$key.changed")
            }
        }
    }

    @Test
    fun runLengthEncodings() {
        val cases = p.getJSONArray("rle")
        assertTrue(cases.length() > 0)
        for (k in 0 until cases.length()) {
            val c = cases.getJSONObject(k)
            val ref = g.ref(c.getJSONObject("mask"))
            val hw = Hw(ref.shape[0], ref.shape[1])
            val mask = g.bits(c.getJSONObject("mask"))
            val un = c.getJSONObject("uncompressed")
            val rle = Masks.maskToRle(mask, hw)
            g.assertInts("pieces.rle[$k].uncompressed", rle.counts, Golden.ints(un.getJSONArray("counts")))
            assertEquals(Hw(un.getJSONArray("size").getInt(0), un.getJSONArray("size").getInt(1)), rle.size)
            val coco = c.getJSONObject("coco")
            assertEquals(coco.getString("counts"), Masks.cocoRleEncode(mask, hw).counts, "pieces.rle[$k].coco")
            // Decoders invert the encoders.
            assertTrue(Masks.rleToMask(rle).contentEquals(mask), "rle_to_mask(mask_to_rle) [$k]")
            assertTrue(Masks.cocoRleDecode(Masks.CocoRle(hw, coco.getString("counts"))).contentEquals(mask), "coco decode [$k]")
            assertEquals(mask.count { it }.toLong(), Masks.areaFromRle(Masks.CocoRle(hw, coco.getString("counts"))), "area [$k]")
        }
    }
}
