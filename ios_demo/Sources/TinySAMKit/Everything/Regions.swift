// Small-region cleanup (SAM's `min_mask_region_area`), mirroring
// tinysam_mobile/everything/regions.py (`label_components`, `remove_small_regions`) and
// `postprocess_small_regions` of tinysam_mobile/everything/hierarchical.py. Components are
// 8-connected (OpenCV's connectedComponentsWithStats, as SAM uses) and numbered 1...n in raster
// order of their first pixel, as the Python runtime numbers them.
import Foundation

public enum Regions {
    /// What `removeSmallRegions` changes.
    public enum Mode: String, Sendable {
        /// Components of unset pixels smaller than the threshold are set.
        case holes
        /// Components of set pixels smaller than the threshold are unset; if all are small,
        /// the largest is kept.
        case islands
    }

    /// 8-connected components of a row-major (H, W) mask.
    ///
    /// - Returns: `labels` (0 for unset pixels, 1...n for the components, numbered in raster
    ///   order of their first pixel) and `sizes` (pixel count of components 1...n).
    public static func labelComponents(_ mask: [Bool], hw: HW) throws -> (labels: [Int], sizes: [Int]) {
        let h = hw.h, w = hw.w
        guard h >= 0, w >= 0, mask.count == h * w else {
            throw TinySAMError.invalidArgument("mask has \(mask.count) values, expected \(h) * \(w)")
        }
        var labels = [Int](repeating: 0, count: h * w)
        var sizes: [Int] = []
        var stack = [Int](repeating: 0, count: h * w)  // each pixel is pushed at most once
        for start in 0..<(h * w) where mask[start] && labels[start] == 0 {
            let label = sizes.count + 1
            var top = 0
            stack[top] = start
            top += 1
            labels[start] = label
            var count = 0
            while top > 0 {
                top -= 1
                let p = stack[top]
                count += 1
                let y = p / w, x = p % w
                for ny in max(0, y - 1)...min(h - 1, y + 1) {
                    for nx in max(0, x - 1)...min(w - 1, x + 1) {
                        let q = ny * w + nx
                        if mask[q] && labels[q] == 0 {
                            labels[q] = label
                            stack[top] = q
                            top += 1
                        }
                    }
                }
            }
            sizes.append(count)
        }
        return (labels, sizes)
    }

    /// Fill small holes or drop small islands (SAM's `remove_small_regions`).
    ///
    /// - Parameter areaThresh: regions with fewer pixels than this are changed.
    /// - Returns: the new mask and whether anything changed (in `.islands` mode a mask whose
    ///   islands are all small keeps its largest and counts as changed, as in SAM).
    public static func removeSmallRegions(_ mask: [Bool], hw: HW, areaThresh: Int, mode: Mode) throws
        -> (mask: [Bool], changed: Bool)
    {
        let holes = mode == .holes
        let (labels, sizes) = try labelComponents(holes ? mask.map { !$0 } : mask, hw: hw)
        let small = Set(sizes.indices.filter { sizes[$0] < areaThresh }.map { $0 + 1 })
        if small.isEmpty { return (mask, false) }
        if holes { return (mask.indices.map { mask[$0] || small.contains(labels[$0]) }, true) }
        var big = Set(sizes.indices.filter { sizes[$0] >= areaThresh }.map { $0 + 1 })
        if big.isEmpty, let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] || (sizes[$0] == sizes[$1] && $0 > $1) }) {
            big = [largest + 1]  // the first of equally large components, as numpy's argmax
        }
        return (labels.map { big.contains($0) }, true)
    }

    /// SAM's small-region cleanup of everything mode: fill holes, then drop islands, smaller than
    /// `minArea`; re-run box NMS with score 1 for unchanged and 0 for changed masks.
    ///
    /// - Parameters:
    ///   - masks: the masks in box-NMS order, image frame.
    ///   - boxes: their XYXY boxes.
    /// - Returns: indices into `masks` kept by the second NMS (in its order), their masks and
    ///   boxes (recomputed for changed masks).
    public static func postprocessSmallRegions(_ masks: [RLEMask], boxes: [[Int]], minArea: Int, nmsThresh: Double) throws
        -> (kept: [Int], masks: [RLEMask], boxes: [[Int]])
    {
        guard masks.count == boxes.count else {
            throw TinySAMError.invalidArgument("\(masks.count) masks but \(boxes.count) boxes")
        }
        var newMasks: [RLEMask] = []
        var newBoxes = boxes
        var scores: [Double] = []
        for (i, rle) in masks.enumerated() {
            let (filled, changedHoles) = try removeSmallRegions(try rle.decode(), hw: rle.hw, areaThresh: minArea, mode: .holes)
            let (cleaned, changedIslands) = try removeSmallRegions(filled, hw: rle.hw, areaThresh: minArea, mode: .islands)
            let changed = changedHoles || changedIslands
            scores.append(changed ? 0 : 1)
            if changed {
                newBoxes[i] = try Masks.maskToBox(try Tensor(shape: [rle.hw.h, rle.hw.w], data: cleaned))[0]
                newMasks.append(RLEMask(mask: cleaned, hw: rle.hw))
            } else {
                newMasks.append(rle)
            }
        }
        let kept = try Masks.boxNMS(newBoxes.map { $0.map(Double.init) }, scores: scores, iouThreshold: nmsThresh)
        return (kept, kept.map { newMasks[$0] }, kept.map { newBoxes[$0] })
    }
}
