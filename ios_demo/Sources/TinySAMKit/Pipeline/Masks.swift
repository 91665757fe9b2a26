// Mask utilities, mirroring tinysam_mobile/masks.py (SAM amg.py semantics):
// stability score, mask-to-box, box IoU / NMS, crop-edge test, uncompressed and COCO RLE.
// Masks are (..., H, W) Bool; boxes XYXY with inclusive max indices; RLE runs over the mask in
// column-major (Fortran) order and start with a run of zeros.
import Foundation

public enum Masks {
    /// count(logits > thr + offset) / count(logits > thr - offset) per (H, W) plane; 0 when the
    /// denominator is 0. Ratio computed in Double, returned as Float (float64 -> float32 in numpy).
    public static func stabilityScore(_ logits: Tensor<Float>, maskThreshold: Float, offset: Float) throws -> [Float] {
        guard logits.rank >= 2 else {
            throw TinySAMError.invalidArgument("logits must have shape (..., H, W), got \(logits.shape)")
        }
        let plane = logits.shape[logits.rank - 2] * logits.shape[logits.rank - 1]
        let n = plane == 0 ? 0 : logits.count / plane
        // The cutoffs are summed in Double (Python floats) and, as numpy >= 2 does when it
        // compares a float32 array with a Python float, compared in Float.
        let hi = Float(Double(maskThreshold) + Double(offset))
        let lo = Float(Double(maskThreshold) - Double(offset))
        return (0..<n).map { p in
            var inter = 0, union = 0
            for i in (p * plane)..<((p + 1) * plane) {
                let v = logits.data[i]
                if v > hi { inter += 1 }
                if v > lo { union += 1 }
            }
            return union > 0 ? Float(Double(inter) / Double(union)) : 0
        }
    }

    /// Tight XYXY boxes (inclusive max) of (..., H, W) masks; zeros for empty masks.
    /// - Returns: flat [x0, y0, x1, y1] per mask.
    public static func maskToBox(_ masks: Tensor<Bool>) throws -> [[Int]] {
        guard masks.rank >= 2 else {
            throw TinySAMError.invalidArgument("masks must have shape (..., H, W), got \(masks.shape)")
        }
        let h = masks.shape[masks.rank - 2], w = masks.shape[masks.rank - 1]
        let plane = h * w
        let n = plane == 0 ? masks.shape.dropLast(2).reduce(1, *) : masks.count / plane
        return (0..<n).map { p in
            var x0 = w, y0 = h, x1 = -1, y1 = -1
            let base = p * plane
            for y in 0..<h {
                for x in 0..<w where masks.data[base + y * w + x] {
                    x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                }
            }
            return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1]
        }
    }

    /// Area `(x1 - x0) * (y1 - y0)` of an XYXY box (SAM's convention, no +1).
    public static func boxArea(_ b: [Double]) -> Double { (b[2] - b[0]) * (b[3] - b[1]) }

    /// IoU of two XYXY boxes in Double; 0/0 gives NaN like torchvision.
    public static func boxIoU(_ a: [Double], _ b: [Double]) -> Double {
        let w = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
        let h = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
        let inter = w * h
        return inter / (boxArea(a) + boxArea(b) - inter)
    }

    /// Greedy NMS: visit boxes by descending score (stable: ties keep index order), drop a box
    /// whose IoU with a kept box is > `iouThreshold`. Returns kept indices, highest score first.
    public static func boxNMS(_ boxesXYXY: [[Double]], scores: [Double], iouThreshold: Double) throws -> [Int] {
        guard boxesXYXY.count == scores.count, boxesXYXY.allSatisfy({ $0.count == 4 }) else {
            throw TinySAMError.invalidArgument(
                "expected boxes (N, 4) and scores (N,), got \(boxesXYXY.count) boxes and \(scores.count) scores")
        }
        let order = scores.indices.sorted { a, b in
            scores[a] != scores[b] ? scores[a] > scores[b] : a < b
        }
        var suppressed = [Bool](repeating: false, count: order.count)
        var keep: [Int] = []
        for i in 0..<order.count where !suppressed[i] {
            keep.append(order[i])
            for j in (i + 1)..<max(order.count, i + 1) where !suppressed[j] {
                // NaN > t is false, as in numpy.
                if boxIoU(boxesXYXY[order[i]], boxesXYXY[order[j]]) > iouThreshold { suppressed[j] = true }
            }
        }
        return keep
    }

    /// Whether boxes (crop frame) touch an edge of the crop that is not an edge of the image.
    public static func isBoxNearCropEdge(
        _ boxesXYXY: [[Double]], cropBox: [Double], origBox: [Double], atol: Double = 20
    ) -> [Bool] {
        boxesXYXY.map { b in
            let s = [b[0] + cropBox[0], b[1] + cropBox[1], b[2] + cropBox[0], b[3] + cropBox[1]]
            return (0..<4).contains { k in abs(s[k] - cropBox[k]) <= atol && !(abs(s[k] - origBox[k]) <= atol) }
        }
    }

    /// Run lengths of a 2-D mask (h, w) in Fortran order, starting with a (possibly empty) zero run.
    public static func runs(_ mask: [Bool], h: Int, w: Int) -> [Int] {
        if h * w == 0 { return [0] }
        var counts: [Int] = []
        var current = false
        var run = 0
        for x in 0..<w {
            for y in 0..<h {
                let v = mask[y * w + x]
                if v != current {
                    counts.append(run)
                    run = 0
                    current = v
                }
                run += 1
            }
        }
        counts.append(run)
        return counts
    }

    /// Uncompressed RLE `{"size": [h, w], "counts": [...]}` (SAM's `mask_to_rle_pytorch`).
    public static func maskToRLE(_ mask: [Bool], h: Int, w: Int) -> (size: [Int], counts: [Int]) {
        ([h, w], runs(mask, h: h, w: w))
    }

    /// Decode run lengths to a row-major (h, w) mask.
    public static func rleToMask(counts: [Int], h: Int, w: Int) throws -> [Bool] {
        guard counts.allSatisfy({ $0 >= 0 }) else { throw TinySAMError.invalidArgument("RLE counts must be non-negative") }
        let total = counts.reduce(0, +)
        guard total == h * w else {
            throw TinySAMError.invalidArgument("RLE counts sum to \(total), expected h * w = \(h * w)")
        }
        var out = [Bool](repeating: false, count: h * w)
        var pos = 0
        for (i, c) in counts.enumerated() {
            if i % 2 == 1 {
                for k in pos..<(pos + c) { out[(k % h) * w + k / h] = true }
            }
            pos += c
        }
        return out
    }

    /// COCO compact counts string (pycocotools `rleToString`): from index 3 on each value is
    /// replaced by its difference to the value two places earlier, then written as 5-bit groups,
    /// least significant first, `48 + group`, bit 0x20 on all groups but the last.
    public static func encodeCounts(_ counts: [Int]) -> String {
        var bytes: [UInt8] = []
        for i in 0..<counts.count {
            var x = Int64(counts[i])
            if i > 2 { x -= Int64(counts[i - 2]) }
            var more = true
            while more {
                var c = x & 0x1f
                x >>= 5  // arithmetic shift, as C on a signed long
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(UInt8(c + 48))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Inverse of `encodeCounts` (pycocotools `rleFrString`).
    public static func decodeCounts(_ s: String) throws -> [Int] {
        var out: [Int] = []
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            var x: Int64 = 0
            var k: Int64 = 0
            var more = true
            while more {
                guard let ch = bytes.popFirst() else {
                    throw TinySAMError.invalidArgument("COCO RLE counts string ends in the middle of a value")
                }
                let c = Int64(ch) - 48
                guard (0...63).contains(c) else {
                    throw TinySAMError.invalidArgument("COCO RLE counts string holds characters outside '0'..'o'")
                }
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                k += 1
                if !more, (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            if out.count > 2 { x += Int64(out[out.count - 2]) }
            out.append(Int(x))
        }
        return out
    }

    /// COCO compressed RLE of a row-major (h, w) mask, byte-equal to pycocotools `mask.encode`.
    public static func cocoRLEEncode(_ mask: [Bool], h: Int, w: Int) -> (size: [Int], counts: String) {
        ([h, w], encodeCounts(runs(mask, h: h, w: w)))
    }

    /// Decode a COCO RLE to a row-major (h, w) mask.
    public static func cocoRLEDecode(size: [Int], counts: String) throws -> [Bool] {
        guard size.count == 2, size[0] >= 0, size[1] >= 0 else {
            throw TinySAMError.invalidArgument("RLE size must be [h, w] with h, w >= 0, got \(size)")
        }
        return try rleToMask(counts: decodeCounts(counts), h: size[0], w: size[1])
    }

    /// Number of set pixels of run lengths (odd entries).
    public static func areaFromRuns(_ counts: [Int]) -> Int {
        stride(from: 1, to: counts.count, by: 2).reduce(0) { $0 + counts[$1] }
    }
}
