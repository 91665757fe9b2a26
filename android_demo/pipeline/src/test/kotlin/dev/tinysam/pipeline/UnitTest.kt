package dev.tinysam.pipeline

import dev.tinysam.pipeline.everything.EverythingConfig
import dev.tinysam.pipeline.everything.Grid
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Error handling and invariants that need no golden folder (expected values derived by hand). */
class UnitTest {
    private val hw = Hw(100, 200)

    @Test
    fun promptsRejectBadInput() {
        val outside = assertThrows(PromptException::class.java) {
            Prompts.encodePrompt(hw, 64, listOf(PromptPoint(201.0, 5.0, PointLabel.FOREGROUND)))
        }
        assertTrue(outside.message!!.contains("outside the 200x100 image"), outside.message)
        assertThrows(PromptException::class.java) { Prompts.encodePrompt(hw, 64, listOf(PromptPoint(Double.NaN, 5.0, PointLabel.FOREGROUND))) }
        assertThrows(PromptException::class.java) { Prompts.encodePrompt(hw, 64, listOf(PromptPoint(1.0, 5.0, PointLabel.BOX_TOP_LEFT))) }
        assertThrows(PromptException::class.java) { Prompts.encodePrompt(hw, 64, box = PromptBox(50.0, 10.0, 40.0, 20.0)) }
        assertThrows(PromptException::class.java) { Prompts.encodePrompt(hw, 64) }
        assertThrows(PromptException::class.java) { Prompts.prepareMaskInput(FloatTensor(1, 3, 3), Hw(4, 4)) }
    }

    @Test
    fun promptLayoutPointsThenBoxOrPadding() {
        // 200x100 image, S = 64: resized (32, 64), both scales 0.32.
        val withPad = Prompts.encodePrompt(hw, 64, listOf(PromptPoint(100.0, 50.0, PointLabel.FOREGROUND)))
        assertArrayEquals(floatArrayOf(32f, 16f, 0f, 0f), withPad.pointCoords.data)
        assertArrayEquals(floatArrayOf(1f, -1f), withPad.pointLabels.data)
        val withBox = Prompts.encodePrompt(hw, 64, listOf(PromptPoint(0.0, 0.0, PointLabel.BACKGROUND)), PromptBox(0.0, 0.0, 200.0, 100.0))
        assertArrayEquals(floatArrayOf(0f, 0f, 0f, 0f, 64f, 32f), withBox.pointCoords.data)
        assertArrayEquals(floatArrayOf(0f, 2f, 3f), withBox.pointLabels.data)
    }

    @Test
    fun pilResizeKeepsConstantImagesConstant() {
        val img = ImageU8(13, 29, ByteArray(13 * 29 * 3) { 77 })
        val out = Transforms.resizeImage(img, 10)
        assertEquals(Hw(4, 10), out.hw)
        assertTrue(out.data.all { it.toInt() == 77 })
    }

    @Test
    fun gridIsCellCentres() {
        val g = Grid.makeGrid(2)
        assertArrayEquals(doubleArrayOf(0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75), g, 1e-12)
        assertEquals(2, EverythingConfig(pointsPerSide = 8).coarsePointsPerSide)
        assertEquals(1, EverythingConfig(pointsPerSide = 3).coarsePointsPerSide)
        assertThrows(IllegalArgumentException::class.java) { EverythingConfig(boxNmsThresh = 1.5) }
    }

    @Test
    fun cocoRleOfKnownMask() {
        // 2x3 mask, column-major runs: [1,0 | 1,1 | 0,0] -> counts [0, 1, 1, 2, 2].
        val mask = booleanArrayOf(true, true, false, false, true, false)
        val rle = Masks.maskToRle(mask, Hw(2, 3))
        assertArrayEquals(intArrayOf(0, 1, 1, 2, 2), rle.counts)
        assertTrue(Masks.cocoRleDecode(Masks.cocoRleEncode(mask, Hw(2, 3))).contentEquals(mask))
    }

    @Test
    fun manifestErrorsNameTheProblem() {
        val e = assertThrows(ManifestException::class.java) { Manifest.parse("""{"schema_version": 2}""") }
        assertTrue(e.message!!.contains("schema_version 2"), e.message)
        val m = assertThrows(ManifestException::class.java) { Manifest.parse("""{"schema_version": 1, "model": {}}""") }
        assertTrue(m.message!!.contains("preprocess"), m.message)
        assertThrows(ManifestException::class.java) { Manifest.parse("not json") }
    }
}
