package dev.tinysam.pipeline

import dev.tinysam.pipeline.everything.DecoderOutput
import dev.tinysam.pipeline.everything.DecoderPredictor

/** Masks of one prompt: (C, H, W) image frame, IoU (C,), low-res logits (C, h, w) model frame. */
class Prediction(val masks: BoolTensor, val logits: FloatTensor, val iou: FloatArray, val lowResLogits: FloatTensor) {
    /** Index of the highest predicted IoU (first on ties). */
    val bestIndex: Int
        get() {
            var best = 0
            for (i in 1 until iou.size) if (iou[i] > iou[best]) best = i
            return best
        }
}

/**
 * Interactive segmentation with the image embedding computed once per image; mirrors
 * `tinysam_mobile/predictor.py` (`set_image`, `predict`, `decode`). Tensor names come from the
 * manifest's graph specs, never retyped.
 */
class Predictor(
    private val encoder: GraphSession,
    private val decoder: GraphSession,
    private val manifest: Manifest,
) : DecoderPredictor, AutoCloseable {
    private val encIn = manifest.graphs.getValue(GraphName.ENCODER).inputNames.single()
    private val encOut = manifest.graphs.getValue(GraphName.ENCODER).outputNames.single()
    private val decIn = manifest.graphs.getValue(GraphName.DECODER).inputNames
    private val decOut = manifest.graphs.getValue(GraphName.DECODER).outputNames
    private var embeddings: FloatTensor? = null
    private var hw: Hw? = null

    init {
        require(decIn.size == 5 && decOut.size == 2) {
            "decoder spec must have 5 inputs and 2 outputs, got $decIn / $decOut"
        }
    }

    override val imageSize: Int get() = manifest.imageSize
    override val maskThreshold: Float get() = manifest.maskThreshold
    val isImageSet: Boolean get() = embeddings != null
    override val originalHw: Hw get() = hw ?: throw IllegalStateException("no image is set: call setImage(image) before predicting")
    override val resizedHw: Hw get() = Transforms.resizedHw(originalHw, imageSize)

    /** Preprocess and encode an image; caches its embedding. */
    fun setImage(image: ImageU8) {
        val x = Transforms.preprocess(image, imageSize, manifest.pixelMean)
        val out = encoder.run(mapOf(encIn to x))
        embeddings = out[encOut] ?: throw GraphInputException("encoder returned no '$encOut'")
        hw = image.hw
    }

    fun resetImage() {
        embeddings = null
        hw = null
    }

    /**
     * Segment the current image from one prompt (SamPredictor semantics).
     *
     * @param points user points in original-image pixels.
     * @param box XYXY box in original-image pixels.
     * @param maskInput low-res logits (h, w) of a previous prediction, or null.
     * @param multimaskOutput true: tokens 1..3; false: token 0.
     */
    fun predict(
        points: List<PromptPoint> = emptyList(),
        box: PromptBox? = null,
        maskInput: FloatTensor? = null,
        multimaskOutput: Boolean = true,
    ): Prediction {
        val h = originalHw
        val prompt = Prompts.encodePrompt(h, imageSize, points, box)
        val (mask, hasMask) = Prompts.prepareMaskInput(maskInput, manifest.lowResHw)
        val out = decode(prompt.pointCoords, prompt.pointLabels, mask, hasMask)
        val (low, iou) = Postprocess.selectMasks(out.lowResMasks, out.iouPredictions, multimaskOutput)
        val c = low.shape[1]
        val lowC = low.reshape(c, low.shape[2], low.shape[3])
        val logits = Postprocess.upscaleLogits(lowC, resizedHw, h, imageSize)
        return Prediction(Postprocess.threshold(logits, maskThreshold), logits, iou.data, lowC)
    }

    override fun decode(pointCoords: FloatTensor, pointLabels: FloatTensor): DecoderOutput =
        decode(pointCoords, pointLabels, null, null)

    /**
     * Run the decoder on a batch of encoded prompts: coords (B, N, 2) model frame, labels (B, N),
     * optional mask_input (B, 1, h, w) / has_mask_input (B,) (zeros when null).
     */
    fun decode(pointCoords: FloatTensor, pointLabels: FloatTensor, maskInput: FloatTensor?, hasMaskInput: FloatTensor?): DecoderOutput {
        val emb = embeddings ?: throw IllegalStateException("no image is set: call setImage(image) before predicting")
        if (pointCoords.rank != 3 || pointCoords.shape[2] != 2) throw PromptException("point_coords must be (B, N, 2), got ${pointCoords.shape.contentToString()}")
        if (!pointLabels.shape.contentEquals(intArrayOf(pointCoords.shape[0], pointCoords.shape[1]))) {
            throw PromptException("point_labels must be (B, N), got ${pointLabels.shape.contentToString()}")
        }
        val b = pointCoords.shape[0]
        val lh = manifest.lowResHw.height
        val lw = manifest.lowResHw.width
        val mask = maskInput ?: FloatTensor(b, 1, lh, lw)
        val has = hasMaskInput ?: FloatTensor(intArrayOf(b), FloatArray(b) { if (maskInput == null) 0f else 1f })
        val out = decoder.run(mapOf(decIn[0] to emb, decIn[1] to pointCoords, decIn[2] to pointLabels, decIn[3] to mask, decIn[4] to has))
        return DecoderOutput(
            out[decOut[0]] ?: throw GraphInputException("decoder returned no '${decOut[0]}'"),
            out[decOut[1]] ?: throw GraphInputException("decoder returned no '${decOut[1]}'"),
        )
    }

    override fun close() {
        encoder.close()
        decoder.close()
    }
}
