package dev.tinysam.pipeline.everything

/** Single pass over the full grid ([GRID], SAM) or TinySAM's two-pass [HIERARCHICAL] mode. */
enum class EverythingMode(val key: String) { HIERARCHICAL("hierarchical"), GRID("grid") }

/**
 * Where the stability score is computed; see [Passes]. [LOW_RES]: on the low-res logits cropped to
 * the image (rejected masks are never upscaled). [IMAGE]: SAM's order, on the upscaled logits.
 * [PREFILTER]: the low-res score rejects masks below `stabilityScoreThresh -
 * stabilityPrefilterMargin`, the others get SAM's image-frame score and decision.
 */
enum class StabilityFrame(val key: String) { LOW_RES("low_res"), IMAGE("image"), PREFILTER("prefilter") }

/**
 * Parameters of segment-everything; mirrors `everything/config.py` (`EverythingConfig`), with
 * TinySAM's defaults. Validated on construction.
 *
 * @property pointsPerSide side n of the full n x n grid; the coarse grid has `max(1, n / 4)`.
 * @property pointsPerBatch single-point prompts per decoder call.
 * @property predIouThresh keep masks with predicted IoU `> predIouThresh`; `<= 0` disables.
 * @property stabilityScoreThresh keep masks with stability `>= stabilityScoreThresh`; `<= 0` disables.
 * @property stabilityScoreOffset logit shift of the stability score.
 * @property highScoreThresh logit (not a probability) above which a kept coarse mask marks its
 *   pixels covered.
 * @property boxNmsThresh box IoU above which the lower-scored of two masks is dropped.
 * @property minMaskRegionArea if > 0, fill holes / remove islands smaller than this, then re-run NMS.
 * @property stabilityFrame where the stability score is computed.
 * @property stabilityPrefilterMargin margin of [StabilityFrame.PREFILTER].
 */
data class EverythingConfig(
    val mode: EverythingMode = EverythingMode.HIERARCHICAL,
    val pointsPerSide: Int = 32,
    val pointsPerBatch: Int = 64,
    val predIouThresh: Double = 0.88,
    val stabilityScoreThresh: Double = 0.95,
    val stabilityScoreOffset: Double = 1.0,
    val highScoreThresh: Double = 8.5,
    val boxNmsThresh: Double = 0.7,
    val minMaskRegionArea: Int = 0,
    val stabilityFrame: StabilityFrame = StabilityFrame.LOW_RES,
    val stabilityPrefilterMargin: Double = 0.05,
) {
    init {
        require(pointsPerSide >= 1) { "pointsPerSide must be >= 1, got $pointsPerSide" }
        require(pointsPerBatch >= 1) { "pointsPerBatch must be >= 1, got $pointsPerBatch" }
        require(minMaskRegionArea >= 0) { "minMaskRegionArea must be >= 0, got $minMaskRegionArea" }
        for ((name, v) in listOf(
            "predIouThresh" to predIouThresh,
            "stabilityScoreThresh" to stabilityScoreThresh,
            "stabilityScoreOffset" to stabilityScoreOffset,
            "highScoreThresh" to highScoreThresh,
            "boxNmsThresh" to boxNmsThresh,
        )) {
            require(v.isFinite()) { "$name must be finite, got $v" }
        }
        require(stabilityScoreOffset >= 0) { "stabilityScoreOffset must be >= 0, got $stabilityScoreOffset" }
        require(boxNmsThresh in 0.0..1.0) { "boxNmsThresh must be in [0, 1], got $boxNmsThresh" }
        require(stabilityPrefilterMargin in 0.0..1.0) { "stabilityPrefilterMargin must be in [0, 1], got $stabilityPrefilterMargin" }
    }

    /** Points per side of the first hierarchical pass: `max(1, pointsPerSide / 4)`. */
    val coarsePointsPerSide: Int get() = maxOf(1, pointsPerSide / COARSE_DIVISOR)

    companion object {
        const val COARSE_DIVISOR = 4
    }
}
