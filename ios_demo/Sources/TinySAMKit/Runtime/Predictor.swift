// The interactive predictor, mirroring tinysam_mobile/predictor.py: set_image() runs the
// encoder once per image, predict() runs the decoder per prompt. Backend-agnostic: it talks to
// two `GraphSession`s (CoreML on iOS/macOS, see CoreMLSession.swift; any other in tests).
import Foundation

/// A loaded graph: named float32 inputs in, named float32 outputs out (`GraphSession`).
public protocol GraphSession: AnyObject {
    var spec: GraphSpec { get }
    func run(_ inputs: [String: Tensor<Float>]) throws -> [String: Tensor<Float>]
}

/// Result of one `predict` call, image frame.
public struct Prediction {
    /// (C, H, W) row-major binary masks (or logits > threshold), C = 3 or 1.
    public let masks: Tensor<Bool>
    /// (C,) predicted IoU.
    public let iou: [Float]
    /// (C, h, w) low-res logits (feed one back as `maskInput`).
    public let lowResLogits: Tensor<Float>
    /// Index of the highest predicted IoU (first on ties).
    public var bestIndex: Int { Postprocess.argmaxRows(try! Tensor(shape: [1, iou.count], data: iou))[0] }
}

public final class Predictor: MaskDecoding {
    public let encoder: GraphSession
    public let decoder: GraphSession
    public let geometry: ModelGeometry
    public let pixelMean: [Float]
    public let maskThreshold: Float

    public private(set) var originalHW = HW(0, 0)
    public private(set) var resizedHW = HW(0, 0)
    private var embeddings: Tensor<Float>?
    public var imageSize: Int { geometry.imageSize }
    public var isImageSet: Bool { embeddings != nil }

    public init(encoder: GraphSession, decoder: GraphSession, geometry: ModelGeometry,
                pixelMean: [Float] = Spec.pixelMean, maskThreshold: Float = Spec.maskThreshold) {
        self.encoder = encoder
        self.decoder = decoder
        self.geometry = geometry
        self.pixelMean = pixelMean
        self.maskThreshold = maskThreshold
    }

    /// Preprocess and encode an image (once per image).
    public func setImage(_ image: RGBImage) throws {
        let input = try Transforms.preprocess(image, imageSize: imageSize, pixelMean: pixelMean)
        let out = try encoder.run([TensorName.image: input])
        guard let emb = out[TensorName.imageEmbeddings] else {
            throw TinySAMError.invalidArgument("encoder returned no \(TensorName.imageEmbeddings) (got \(out.keys.sorted()))")
        }
        embeddings = emb
        originalHW = image.hw
        resizedHW = try Transforms.resizedHW(image.hw, imageSize: imageSize)
    }

    /// Use a precomputed embedding (e.g. the golden tests, or a cache).
    public func setEmbeddings(_ emb: Tensor<Float>, originalHW: HW) throws {
        embeddings = emb
        self.originalHW = originalHW
        resizedHW = try Transforms.resizedHW(originalHW, imageSize: imageSize)
    }

    public func resetImage() { embeddings = nil; originalHW = HW(0, 0); resizedHW = HW(0, 0) }

    /// Run the decoder on a batch of prompts (B, N, 2) / (B, N) in the model frame.
    /// `maskInput` (B, 1, h, w) and `hasMaskInput` (B,) default to zeros.
    public func decode(pointCoords: Tensor<Float>, pointLabels: Tensor<Float>, maskInput: Tensor<Float>?,
                       hasMaskInput: Tensor<Float>?) throws -> (lowResMasks: Tensor<Float>, iouPredictions: Tensor<Float>) {
        guard let emb = embeddings else { throw TinySAMError.invalidArgument("call setImage before decoding") }
        guard pointCoords.rank == 3, pointCoords.shape[2] == 2, pointLabels.shape == Array(pointCoords.shape.prefix(2)) else {
            throw TinySAMError.prompt("point_coords must be (B, N, 2) and point_labels (B, N), got \(pointCoords.shape), \(pointLabels.shape)")
        }
        let b = pointCoords.shape[0]
        let lr = geometry.lowResHW
        let out = try decoder.run([
            TensorName.imageEmbeddings: emb,
            TensorName.pointCoords: pointCoords,
            TensorName.pointLabels: pointLabels,
            TensorName.maskInput: maskInput ?? Tensor(shape: [b, 1, lr.h, lr.w], repeating: 0),
            TensorName.hasMaskInput: hasMaskInput ?? Tensor(shape: [b], repeating: 0),
        ])
        guard let low = out[TensorName.lowResMasks], let iou = out[TensorName.iouPredictions] else {
            throw TinySAMError.invalidArgument("decoder outputs are \(out.keys.sorted()), expected \(TensorName.lowResMasks), \(TensorName.iouPredictions)")
        }
        return (low, iou)
    }

    public func decode(pointCoords: Tensor<Float>, pointLabels: Tensor<Float>) throws
        -> (lowResMasks: Tensor<Float>, iouPredictions: Tensor<Float>) {
        try decode(pointCoords: pointCoords, pointLabels: pointLabels, maskInput: nil, hasMaskInput: nil)
    }

    /// SamPredictor-style prediction for one prompt, image frame.
    ///
    /// - Parameters:
    ///   - maskInput: low-res logits (h*w) of a previous prediction, or nil.
    ///   - multimaskOutput: true -> tokens 1...3, false -> token 0.
    public func predict(points: [PromptPoint] = [], box: PromptBox? = nil, maskInput: [Float]? = nil,
                        multimaskOutput: Bool = true) throws -> Prediction {
        guard isImageSet else { throw TinySAMError.invalidArgument("call setImage before predict") }
        let enc = try Prompts.encodePrompt(originalHW: originalHW, imageSize: imageSize, points: points, box: box)
        let (mask, has) = try Prompts.prepareMaskInput(maskInput, lowResHW: geometry.lowResHW)
        let (low, iou) = try decode(
            pointCoords: try Tensor(shape: [1, enc.numPoints, 2], data: enc.coords),
            pointLabels: try Tensor(shape: [1, enc.numPoints], data: enc.labels), maskInput: mask, hasMaskInput: has)
        let (sel, selIou) = try Postprocess.selectMasks(low, iou: iou, multimaskOutput: multimaskOutput)
        let c = sel.shape[1]
        let lowRes = try sel.reshaped(Array(sel.shape.dropFirst()))
        let logits = try Postprocess.upscaleLogits(lowRes, resizedHW: resizedHW, originalHW: originalHW, imageSize: imageSize)
        let masks = Postprocess.threshold(logits, maskThreshold: maskThreshold)
        return Prediction(masks: masks, iou: Array(selIou.data.prefix(c)), lowResLogits: lowRes)
    }
}
