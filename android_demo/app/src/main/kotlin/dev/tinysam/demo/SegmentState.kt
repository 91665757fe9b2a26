package dev.tinysam.demo

import android.graphics.Bitmap
import dev.tinysam.pipeline.Precision
import dev.tinysam.pipeline.PromptBox
import dev.tinysam.pipeline.PromptPoint
import dev.tinysam.runtime.Backend

/** What a tap on the image does. */
enum class PromptTool { POSITIVE_POINT, NEGATIVE_POINT, BOX }

/** Which stage a latency belongs to. */
enum class Stage { ENCODER, DECODER, EVERYTHING }

/** Progress of a running everything-mode pass. */
data class EverythingProgress(val pass: String, val done: Int, val total: Int) {
    val fraction: Float get() = if (total == 0) 0f else done.toFloat() / total
}

/** A backend/precision pair offered by the bundle in the app's assets. */
data class ModelVariant(val backend: Backend, val precision: Precision) {
    val label: String get() = "${backend.label} ${precision.key}"
}

/**
 * Everything the screen shows; produced only by [SegmentViewModel].
 *
 * @property image the picked/captured photo, as displayed.
 * @property overlay the current mask(s), same size as [image], ARGB with alpha.
 * @property latenciesMs last measured latency of each stage.
 */
data class SegmentUiState(
    val variants: List<ModelVariant> = emptyList(),
    val variant: ModelVariant? = null,
    val tool: PromptTool = PromptTool.POSITIVE_POINT,
    val image: Bitmap? = null,
    val points: List<PromptPoint> = emptyList(),
    val box: PromptBox? = null,
    val overlay: Bitmap? = null,
    val maskScore: Float? = null,
    val everythingMasks: Int? = null,
    val progress: EverythingProgress? = null,
    val busy: String? = null,
    val latenciesMs: Map<Stage, Double> = emptyMap(),
    val error: String? = null,
)
