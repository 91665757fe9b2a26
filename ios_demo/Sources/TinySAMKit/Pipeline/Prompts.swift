// Prompt validation and encoding into the decoder graph's inputs, mirroring
// tinysam_mobile/prompts.py: points first (model frame), then the box corners labelled 2 and 3,
// or, without a box, one padding point (0, 0) labelled -1.
import Foundation

/// A point prompt in original-image pixels.
public struct PromptPoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    /// 1 = foreground, 0 = background.
    public var label: Int
    public init(x: Double, y: Double, label: Int) { self.x = x; self.y = y; self.label = label }
}

/// An XYXY box in original-image pixels.
public struct PromptBox: Equatable, Sendable {
    public var x0, y0, x1, y1: Double
    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }
}

/// The decoder's point inputs for one prompt: float32 (1, M, 2) model frame and (1, M) labels.
public struct EncodedPrompt: Equatable {
    public var coords: [Float]
    public var labels: [Float]
    public var numPoints: Int { labels.count }
}

public enum Prompts {
    static func checkInside(_ x: Double, _ y: Double, _ hw: HW, what: String, index: Int) throws {
        guard x.isFinite, y.isFinite else {
            throw TinySAMError.prompt("\(what) contains NaN or infinite values: (\(x), \(y))")
        }
        guard x >= 0, x <= Double(hw.w), y >= 0, y <= Double(hw.h) else {
            throw TinySAMError.prompt(
                "\(what) \(index) at (x=\(x), y=\(y)) lies outside the \(hw.w)x\(hw.h) image "
                    + "(allowed: 0 <= x <= \(hw.w), 0 <= y <= \(hw.h))")
        }
    }

    /// Validate and encode points and/or a box (`encode_prompt`).
    ///
    /// - Throws: `TinySAMError.prompt` for an empty prompt, labels other than 0/1, NaN, points
    ///   outside `[0, W] x [0, H]`, or a box with x1 < x0 or y1 < y0.
    public static func encodePrompt(
        originalHW: HW, imageSize: Int, points: [PromptPoint] = [], box: PromptBox? = nil
    ) throws -> EncodedPrompt {
        if points.isEmpty && box == nil {
            throw TinySAMError.prompt("empty prompt: give point_coords + point_labels and/or a box")
        }
        var xy: [Double] = []
        var labels: [Double] = []
        for (i, p) in points.enumerated() {
            guard p.label == 0 || p.label == 1 else {
                throw TinySAMError.prompt("point label \(p.label) at index \(i) is not 0 (background) or 1 (foreground)")
            }
            try checkInside(p.x, p.y, originalHW, what: "point", index: i)
            xy += [p.x, p.y]
            labels.append(Double(p.label))
        }
        if let b = box {
            guard b.x1 >= b.x0, b.y1 >= b.y0 else {
                throw TinySAMError.prompt("box [\(b.x0), \(b.y0), \(b.x1), \(b.y1)] has x1 < x0 or y1 < y0 (expected x0, y0, x1, y1)")
            }
            try checkInside(b.x0, b.y0, originalHW, what: "box corner", index: 0)
            try checkInside(b.x1, b.y1, originalHW, what: "box corner", index: 1)
            xy += [b.x0, b.y0, b.x1, b.y1]
            labels += [Double(Spec.boxLabels.0), Double(Spec.boxLabels.1)]
        }
        var model = try Transforms.coordsImageToModel(xy, originalHW: originalHW, imageSize: imageSize)
        if box == nil {
            model += [0, 0]
            labels.append(Double(Spec.padLabel))
        }
        return EncodedPrompt(coords: model.map { Float($0) }, labels: labels.map { Float($0) })
    }

    /// Single-point prompts in one decoder batch, as everything mode builds them: coords
    /// (B, 2, 2) = the model-frame point then the padding point, labels (B, 2) = [1, -1].
    ///
    /// - Parameter pointsXYModel: flat model-frame (x, y) pairs (Double, cast to float32).
    public static func batchSinglePoints(_ pointsXYModel: [Double]) -> (coords: Tensor<Float>, labels: Tensor<Float>) {
        let b = pointsXYModel.count / 2
        var c = [Float](), l = [Float]()
        for i in 0..<b {
            c += [Float(pointsXYModel[2 * i]), Float(pointsXYModel[2 * i + 1]), 0, 0]
            l += [1, Spec.padLabel]
        }
        return (try! Tensor(shape: [b, 2, 2], data: c), try! Tensor(shape: [b, 2], data: l))
    }

    /// Shape a previous prediction's low-res logits (h*w values) as the decoder mask input.
    ///
    /// - Returns: float32 (1, 1, h, w) (zeros when nil) and has_mask (1,) = 1 or 0.
    public static func prepareMaskInput(_ maskInput: [Float]?, lowResHW: HW) throws -> (mask: Tensor<Float>, hasMask: Tensor<Float>) {
        let n = lowResHW.h * lowResHW.w
        guard let m = maskInput else {
            return (Tensor(shape: [1, 1, lowResHW.h, lowResHW.w], repeating: 0), Tensor(shape: [1], repeating: 0))
        }
        guard m.count == n else {
            throw TinySAMError.prompt(
                "mask_input must have \(lowResHW.h)x\(lowResHW.w) = \(n) values (one low-res logit map of a previous predict), got \(m.count)")
        }
        guard m.allSatisfy({ $0.isFinite }) else {
            throw TinySAMError.prompt("mask_input contains NaN or infinite values")
        }
        return (try Tensor(shape: [1, 1, lowResHW.h, lowResHW.w], data: m), Tensor(shape: [1], repeating: 1))
    }
}
