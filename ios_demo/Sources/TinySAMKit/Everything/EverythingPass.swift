// One everything-mode pass, mirroring tinysam_mobile/everything/passes.py (`run_pass`):
//   single-point prompts -> decoder in batches of points_per_batch -> multimask tokens 1...3 ->
//   predicted-IoU filter -> stability filter -> upscale survivors, threshold, box -> crop-edge
//   filter -> kept masks as run lengths. Flat mask index = prompt_index * 3 + (token - 1).
import Foundation

/// What everything mode needs from a predictor whose image is set (`DecoderPredictor`).
public protocol MaskDecoding {
    var originalHW: HW { get }
    var resizedHW: HW { get }
    var imageSize: Int { get }
    var maskThreshold: Float { get }
    /// Decode a batch: coords (B, N, 2) model frame, labels (B, N) ->
    /// low_res_masks (B, 4, h, w), iou_predictions (B, 4).
    func decode(pointCoords: Tensor<Float>, pointLabels: Tensor<Float>) throws
        -> (lowResMasks: Tensor<Float>, iouPredictions: Tensor<Float>)
}

/// A mask stored as run lengths (column-major, first run counts zeros) of an (H, W) image.
public struct RLEMask: Equatable, Sendable {
    public let hw: HW
    public let counts: [Int]
    public init(mask: [Bool], hw: HW) { self.hw = hw; self.counts = Masks.runs(mask, h: hw.h, w: hw.w) }
    public init(hw: HW, counts: [Int]) { self.hw = hw; self.counts = counts }
    public var area: Int { Masks.areaFromRuns(counts) }
    public func decode() throws -> [Bool] { try Masks.rleToMask(counts: counts, h: hw.h, w: hw.w) }
    /// COCO compressed counts string (pycocotools-compatible).
    public var cocoCounts: String { Masks.encodeCounts(counts) }
}

/// Masks kept by one pass, image frame (`PassResult`).
public struct PassResult {
    public let name: String
    /// Prompts of the pass, flat (x, y) image pixels.
    public let pointsXYImage: [Double]
    public let keptAfterIou: [Int]
    public let keptAfterStability: [Int]
    public let kept: [Int]
    public let iouPreds: [Float]
    public let stability: [Float]
    /// XYXY inclusive boxes of the kept masks.
    public let boxes: [[Int]]
    public let masks: [RLEMask]
    /// `logits > high_score_thresh` of the kept masks (coarse pass only).
    public let highMasks: [RLEMask]
    public let decoderCalls: Int
    /// Point (x, y) of each kept mask.
    public var pointCoords: [(Double, Double)] {
        kept.map { (pointsXYImage[2 * ($0 / EverythingPass.tokensPerPrompt)], pointsXYImage[2 * ($0 / EverythingPass.tokensPerPrompt) + 1]) }
    }
}

/// Progress of everything mode: pass name, decoder batch done, batches in that pass.
public struct EverythingProgress: Sendable {
    public let pass: String
    public let batch: Int
    public let batches: Int
}

public enum EverythingPass {
    public static let tokensPerPrompt = 3

    /// Decoder inputs for single positive-point prompts: coords (B, 2, 2) model frame (the
    /// point, then the padding point (0, 0)), labels (B, 2) = [1, -1] (`point_prompts`).
    public static func pointPrompts(_ pointsXYImage: [Double], originalHW: HW, imageSize: Int) throws
        -> (coords: Tensor<Float>, labels: Tensor<Float>)
    {
        let model = try Transforms.coordsImageToModel(pointsXYImage, originalHW: originalHW, imageSize: imageSize)
        return Prompts.batchSinglePoints(model)
    }

    /// Rows and columns of the low-res logits that cover the image, not the padding.
    public static func validLowResHW(resizedHW: HW, imageSize: Int, lowResHW: HW) -> HW {
        func side(_ l: Int, _ r: Int) -> Int { min(l, Int((Double(l * r) / Double(imageSize)).rounded(.up))) }
        return HW(side(lowResHW.h, resizedHW.h), side(lowResHW.w, resizedHW.w))
    }

    /// Indices passing a threshold (`>` if strict, else `>=`; all when threshold <= 0). Scores
    /// are float32 and, as numpy >= 2 does, the threshold is compared as a float32.
    public static func qualityFilter(_ scores: [Float], threshold: Double, strict: Bool) -> [Int] {
        if threshold <= 0 { return Array(scores.indices) }
        let t = Float(threshold)
        return scores.indices.filter { strict ? scores[$0] > t : scores[$0] >= t }
    }

    /// Prompt every point, filter the masks, keep the survivors (`run_pass`).
    ///
    /// - Parameters:
    ///   - pointsXYImage: flat (x, y) image pixels, may be empty.
    ///   - keepHighConfidence: also store `logits > high_score_thresh` of kept masks.
    ///   - trace: called after every decoder call with (batch index, coords, labels, outputs).
    public static func run(
        _ predictor: MaskDecoding, pointsXYImage: [Double], config: EverythingConfig, name: String,
        keepHighConfidence: Bool = false,
        progress: ((EverythingProgress) -> Void)? = nil,
        trace: ((Int, Tensor<Float>, Tensor<Float>) -> Void)? = nil
    ) throws -> PassResult {
        let hw = predictor.originalHW, rhw = predictor.resizedHW, size = predictor.imageSize
        let thr = predictor.maskThreshold
        let nPoints = pointsXYImage.count / 2
        let batches = (nPoints + config.pointsPerBatch - 1) / config.pointsPerBatch
        let exact = config.stabilityFrame != .lowRes
        let offset = Float(config.stabilityScoreOffset)
        let cropBox = [0.0, 0.0, Double(hw.w), Double(hw.h)]
        var afterIou: [Int] = [], afterStab: [Int] = [], kept: [Int] = []
        var keptIou: [Float] = [], keptStab: [Float] = [], boxes: [[Int]] = []
        var rles: [RLEMask] = [], high: [RLEMask] = []
        for b in 0..<batches {
            let start = b * config.pointsPerBatch
            let end = min(nPoints, start + config.pointsPerBatch)
            let batchPts = Array(pointsXYImage[(2 * start)..<(2 * end)])
            let (coords, labels) = try pointPrompts(batchPts, originalHW: hw, imageSize: size)
            let (lowAll, iouAll) = try predictor.decode(pointCoords: coords, pointLabels: labels)
            trace?(b, coords, labels)
            let (sel, selIou) = try Postprocess.selectMasks(lowAll, iou: iouAll, multimaskOutput: true)
            let lh = sel.shape[2], lw = sel.shape[3]
            let low = try sel.reshaped([sel.shape[0] * sel.shape[1], lh, lw])  // (B*3, h, w)
            let iou = selIou.data
            let base = start * tokensPerPrompt
            var idx = qualityFilter(iou, threshold: config.predIouThresh, strict: true)
            afterIou += idx.map { $0 + base }
            var stab: [Float]
            if config.stabilityFrame != .image {
                let v = validLowResHW(resizedHW: rhw, imageSize: size, lowResHW: HW(lh, lw))
                let cropped = try Tensor.stack(idx.map { Postprocess.crop(low.slice($0), to: v) }, innerShape: [v.h, v.w])
                let scores = idx.isEmpty ? [] : try Masks.stabilityScore(cropped, maskThreshold: thr, offset: offset)
                let cut = config.stabilityScoreThresh - (exact ? config.stabilityPrefilterMargin : 0)
                let keep = qualityFilter(scores, threshold: cut, strict: false)
                idx = keep.map { idx[$0] }
                stab = keep.map { scores[$0] }
            } else {
                stab = [Float](repeating: 0, count: idx.count)
            }
            if !exact { afterStab += idx.map { $0 + base } }
            var survivors: [Int] = []
            var batchBoxes: [[Int]] = [], batchRles: [RLEMask] = [], batchHigh: [RLEMask] = []
            for (k, m) in idx.enumerated() {
                let logits = try Postprocess.upscaleLogits(
                    try low.slice(m).reshaped([1, lh, lw]), resizedHW: rhw, originalHW: hw, imageSize: size)
                if exact {
                    stab[k] = try Masks.stabilityScore(logits, maskThreshold: thr, offset: offset)[0]
                    if stab[k] < Float(config.stabilityScoreThresh) { continue }
                }
                let mask = logits.data.map { $0 > thr }
                survivors.append(k)
                batchBoxes.append(try Masks.maskToBox(try Tensor(shape: [hw.h, hw.w], data: mask))[0])
                batchRles.append(RLEMask(mask: mask, hw: hw))
                if keepHighConfidence {
                    let t = Float(config.highScoreThresh)
                    batchHigh.append(RLEMask(mask: logits.data.map { $0 > t }, hw: hw))
                }
            }
            if exact { afterStab += survivors.map { idx[$0] + base } }
            // SAM's crop-edge filter; the crop is the whole image, so this keeps everything.
            let near = Masks.isBoxNearCropEdge(batchBoxes.map { $0.map(Double.init) }, cropBox: cropBox, origBox: cropBox)
            for (j, k) in survivors.enumerated() where !near[j] {
                kept.append(idx[k] + base)
                keptIou.append(iou[idx[k]])
                keptStab.append(stab[k])
                boxes.append(batchBoxes[j])
                rles.append(batchRles[j])
                if keepHighConfidence { high.append(batchHigh[j]) }
            }
            progress?(EverythingProgress(pass: name, batch: b + 1, batches: batches))
        }
        return PassResult(name: name, pointsXYImage: pointsXYImage, keptAfterIou: afterIou,
                          keptAfterStability: afterStab, kept: kept, iouPreds: keptIou, stability: keptStab,
                          boxes: boxes, masks: rles, highMasks: high, decoderCalls: batches)
    }
}
