// Grid and hierarchical everything mode, mirroring tinysam_mobile/everything/hierarchical.py:
//   coarse_pass (grid of points_per_side / 4, keeps high-confidence masks)
//   -> union_high_confidence (coverage map) -> remaining_points of the full grid
//   -> dense_pass -> merge_nms (coarse then dense, box NMS scored by predicted IoU)
//   -> SAM's small-region cleanup when min_mask_region_area > 0 (Regions) -> records.
import Foundation

/// Masks of all passes concatenated in pass order and their box NMS (`MergeResult`).
public struct MergeResult {
    public let boxes: [[Int]]
    public let scores: [Float]
    /// Indices into the concatenation, highest score first.
    public let kept: [Int]
}

/// One final mask of everything mode.
public struct EverythingRecord {
    public let mask: RLEMask
    /// XYXY inclusive, image pixels (recomputed when the small-region cleanup changed the mask).
    public let box: [Int]
    public let predictedIou: Float
    public let stabilityScore: Float
    public let point: (x: Double, y: Double)
    public var area: Int { mask.area }
    /// SAM's XYWH box (`w = x1 - x0`, `h = y1 - y0`), the `bbox` of a Python record.
    public var bboxXYWH: [Int] { [box[0], box[1], box[2] - box[0], box[3] - box[1]] }
}

/// Final masks (NMS order) and every intermediate result (`EverythingResult`).
public struct EverythingResult {
    public let originalHW: HW
    public let passes: [PassResult]
    /// Union of high-confidence coarse masks, row-major (H, W) (hierarchical only).
    public let coverage: [Bool]?
    public let densePointsXYImage: [Double]?
    public let merge: MergeResult
    public let records: [EverythingRecord]
}

public enum Everything {
    /// OR of high-confidence masks: the area the dense pass skips (`union_high_confidence`).
    public static func unionHighConfidence(_ masks: [RLEMask], originalHW: HW) throws -> [Bool] {
        var covered = [Bool](repeating: false, count: originalHW.h * originalHW.w)
        for m in masks {
            guard m.hw == originalHW else {
                throw TinySAMError.invalidArgument("RLE of size \(m.hw) does not match the image \(originalHW)")
            }
            for (i, v) in try m.decode().enumerated() where v { covered[i] = true }
        }
        return covered
    }

    /// Concatenate the kept masks of the passes and run box NMS scored by predicted IoU.
    public static func mergeNMS(_ passes: [PassResult], iouThreshold: Double) throws -> MergeResult {
        let boxes = passes.flatMap(\.boxes)
        let scores = passes.flatMap(\.iouPreds)
        let kept = try Masks.boxNMS(boxes.map { $0.map(Double.init) }, scores: scores.map(Double.init), iouThreshold: iouThreshold)
        return MergeResult(boxes: boxes, scores: scores, kept: kept)
    }

    /// Segment everything on the predictor's current image (`generate_everything`).
    ///
    /// - Parameter progress: called after every decoder batch (for a progress bar).
    public static func generate(
        _ predictor: MaskDecoding, config: EverythingConfig,
        progress: ((EverythingProgress) -> Void)? = nil,
        trace: ((String, Int, Tensor<Float>, Tensor<Float>) -> Void)? = nil
    ) throws -> EverythingResult {
        try config.validate()
        let hw = predictor.originalHW
        let full = try EverythingGrid.gridPointsXYImage(pointsPerSide: config.pointsPerSide, originalHW: hw)
        var passes: [PassResult] = []
        var coverage: [Bool]? = nil
        var dense: [Double]? = nil
        switch config.mode {
        case .grid:
            passes = [try EverythingPass.run(predictor, pointsXYImage: full, config: config, name: "grid",
                                             progress: progress, trace: { trace?("grid", $0, $1, $2) })]
        case .hierarchical:
            let coarsePts = try EverythingGrid.gridPointsXYImage(pointsPerSide: config.coarsePointsPerSide, originalHW: hw)
            let coarse = try EverythingPass.run(predictor, pointsXYImage: coarsePts, config: config, name: "coarse",
                                                keepHighConfidence: true, progress: progress,
                                                trace: { trace?("coarse", $0, $1, $2) })
            let covered = try unionHighConfidence(coarse.highMasks, originalHW: hw)
            let densePts = try EverythingGrid.remainingPoints(full, covered: covered, hw: hw)
            let densePass = try EverythingPass.run(predictor, pointsXYImage: densePts, config: config, name: "dense",
                                                   progress: progress, trace: { trace?("dense", $0, $1, $2) })
            passes = [coarse, densePass]
            coverage = covered
            dense = densePts
        }
        let merge = try mergeNMS(passes, iouThreshold: config.boxNmsThresh)
        let allMasks = passes.flatMap(\.masks)
        let stab = passes.flatMap(\.stability)
        let points = passes.flatMap(\.pointCoords)
        var order = merge.kept
        var masks = order.map { allMasks[$0] }
        var boxes = order.map { merge.boxes[$0] }
        if config.minMaskRegionArea > 0 && !order.isEmpty {
            let cleaned = try Regions.postprocessSmallRegions(masks, boxes: boxes, minArea: config.minMaskRegionArea,
                                                              nmsThresh: config.boxNmsThresh)
            order = cleaned.kept.map { order[$0] }
            masks = cleaned.masks
            boxes = cleaned.boxes
        }
        let records = order.indices.map { k in
            let i = order[k]
            return EverythingRecord(mask: masks[k], box: boxes[k], predictedIou: merge.scores[i],
                                    stabilityScore: stab[i], point: (points[i].0, points[i].1))
        }
        return EverythingResult(originalHW: hw, passes: passes, coverage: coverage, densePointsXYImage: dense,
                                merge: merge, records: records)
    }
}
