// Constants and tensor names mirrored from tinysam_mobile/spec.py. At run time the values that
// matter (image size, pixel mean, labels, threshold) are read from manifest.json; these are the
// defaults of the official checkpoints and the names the graphs are exported with.
import Foundation

public enum Spec {
    /// Side of the square encoder input of the official checkpoints.
    public static let defaultImageSize = 1024
    /// Per-channel RGB mean on the 0..255 scale.
    public static let pixelMean: [Float] = [123.675, 116.28, 103.53]
    /// Per-channel RGB std on the 0..255 scale (applied inside the encoder graph).
    public static let pixelStd: [Float] = [58.395, 57.12, 57.375]
    /// Image size / embedding size.
    public static let patchStride = 16
    /// Channels of the image embedding.
    public static let embedDim = 256
    /// Low-res mask logits are this many times larger than the embedding grid.
    public static let lowResUpscale = 4
    /// Mask tokens output by the decoder graph (token 0 = single mask, 1...3 = multimask).
    public static let numMaskTokens = 4
    /// Logit threshold turning mask logits into a binary mask.
    public static let maskThreshold: Float = 0.0
    /// Label of the padding point added to prompts without a box.
    public static let padLabel: Float = -1
    /// Precisions in the order a phone app prefers them; mirrors
    /// `tinysam_export.config.MOBILE_DEFAULT_ORDER` (mobile targets are exported as int8 by default).
    public static let mobileDefaultOrder = ["int8", "fp16", "fp32"]
    /// Labels of the top-left and bottom-right box corners.
    public static let boxLabels: (Float, Float) = (2, 3)
    /// Version of manifest.json and of the golden-vector layout.
    public static let schemaVersion = 1
}

/// The two exported graphs (`GraphName` in spec.py).
public enum GraphName: String, Codable, CaseIterable, Sendable {
    case encoder
    case decoder
}

/// Tensor names of the graphs (spec.py `encoder_spec` / `decoder_spec`).
public enum TensorName {
    public static let image = "image"
    public static let imageEmbeddings = "image_embeddings"
    public static let pointCoords = "point_coords"
    public static let pointLabels = "point_labels"
    public static let maskInput = "mask_input"
    public static let hasMaskInput = "has_mask_input"
    public static let lowResMasks = "low_res_masks"
    public static let iouPredictions = "iou_predictions"
}

/// Sizes derived from the encoder input size (`ModelGeometry` in spec.py).
public struct ModelGeometry: Equatable, Sendable {
    public let imageSize: Int

    public init(imageSize: Int = Spec.defaultImageSize) throws {
        guard imageSize > 0, imageSize % Spec.patchStride == 0 else {
            throw TinySAMError.invalidArgument(
                "image_size must be a positive multiple of \(Spec.patchStride), got \(imageSize)")
        }
        self.imageSize = imageSize
    }

    /// (height, width) of the image embedding grid (64x64 for 1024).
    public var embeddingHW: HW { HW(imageSize / Spec.patchStride, imageSize / Spec.patchStride) }

    /// (height, width) of the low-res mask logits (256x256 for 1024).
    public var lowResHW: HW {
        HW(embeddingHW.h * Spec.lowResUpscale, embeddingHW.w * Spec.lowResUpscale)
    }
}

/// A (height, width) pair; `*_hw` in the Python runtime.
public struct HW: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public var description: String { "(\(h), \(w))" }
}
