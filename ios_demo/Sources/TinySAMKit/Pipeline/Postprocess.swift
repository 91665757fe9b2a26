// Mask post-processing, mirroring tinysam_mobile/postprocess.py:
//   select_masks -> upscale_logits (resize_bilinear to SxS, crop to resized_hw, resize_bilinear
//   to original_hw) -> threshold.
import Foundation

public enum Postprocess {
    /// Source indices and weight of one axis, in float32 like torch's CPU kernel
    /// (`_axis_weights`): src = max(scale * (dst + 0.5) - 0.5, 0), i0 = min(int(src), in - 1),
    /// i1 = min(i0 + 1, in - 1), l1 = src - i0.
    static func axisWeights(inSize: Int, outSize: Int) -> (i0: [Int], i1: [Int], l1: [Float]) {
        let scale = Float(inSize) / Float(outSize)
        var i0 = [Int](repeating: 0, count: outSize)
        var i1 = [Int](repeating: 0, count: outSize)
        var l1 = [Float](repeating: 0, count: outSize)
        for d in 0..<outSize {
            let prod: Float = scale * (Float(d) + 0.5)
            let src = max(prod - 0.5, Float(0))
            let a = min(Int(src), inSize - 1)
            i0[d] = a
            i1[d] = min(a + 1, inSize - 1)
            l1[d] = src - Float(a)
        }
        return (i0, i1, l1)
    }

    /// Bilinear resize of the last two axes, equal to torch
    /// `F.interpolate(mode="bilinear", align_corners=False, antialias=False)`: width first,
    /// then height, float32 arithmetic.
    ///
    /// - Parameters:
    ///   - x: float32 (..., h, w).
    ///   - outHW: (H, W) of the output.
    /// - Returns: float32 (..., H, W).
    public static func resizeBilinear(_ x: Tensor<Float>, outHW: HW) throws -> Tensor<Float> {
        guard x.rank >= 2, x.shape[x.rank - 1] > 0, x.shape[x.rank - 2] > 0 else {
            throw TinySAMError.invalidArgument("resize_bilinear needs (..., h, w) with h, w > 0, got \(x.shape)")
        }
        guard outHW.h > 0, outHW.w > 0 else {
            throw TinySAMError.invalidArgument("output size must be positive, got \(outHW)")
        }
        let inH = x.shape[x.rank - 2], inW = x.shape[x.rank - 1]
        if inH == outHW.h, inW == outHW.w { return x }
        let lead = Array(x.shape.dropLast(2))
        let planes = lead.reduce(1, *)
        let (j0, j1, lw) = axisWeights(inSize: inW, outSize: outHW.w)
        let (i0, i1, lh) = axisWeights(inSize: inH, outSize: outHW.h)
        var out = [Float](repeating: 0, count: planes * outHW.h * outHW.w)
        var tmp = [Float](repeating: 0, count: inH * outHW.w)
        x.data.withUnsafeBufferPointer { src in
            for p in 0..<planes {
                let base = p * inH * inW
                for r in 0..<inH {
                    let row = base + r * inW
                    for c in 0..<outHW.w {
                        let a: Float = src[row + j0[c]] * (1 - lw[c])
                        let b: Float = src[row + j1[c]] * lw[c]
                        tmp[r * outHW.w + c] = a + b
                    }
                }
                let obase = p * outHW.h * outHW.w
                for r in 0..<outHW.h {
                    let top = i0[r] * outHW.w, bottom = i1[r] * outHW.w
                    let w1 = lh[r], w0: Float = 1 - lh[r]
                    for c in 0..<outHW.w {
                        let a: Float = tmp[top + c] * w0
                        let b: Float = tmp[bottom + c] * w1
                        out[obase + r * outHW.w + c] = a + b
                    }
                }
            }
        }
        return try Tensor(shape: lead + [outHW.h, outHW.w], data: out)
    }

    /// Upscale low-res logits (..., h, w) to the original image (..., H, W): resize to SxS,
    /// crop to `resizedHW` (computed from `originalHW` when nil), resize to `originalHW`.
    public static func upscaleLogits(
        _ lowRes: Tensor<Float>, resizedHW: HW?, originalHW: HW, imageSize: Int
    ) throws -> Tensor<Float> {
        let r = try resizedHW ?? Transforms.resizedHW(originalHW, imageSize: imageSize)
        let square = try resizeBilinear(lowRes, outHW: HW(imageSize, imageSize))
        let cropped = crop(square, to: r)
        return try resizeBilinear(cropped, outHW: originalHW)
    }

    /// Top-left crop of the last two axes (`x[..., :h, :w]`).
    static func crop(_ x: Tensor<Float>, to hw: HW) -> Tensor<Float> {
        let inH = x.shape[x.rank - 2], inW = x.shape[x.rank - 1]
        let lead = Array(x.shape.dropLast(2))
        let planes = lead.reduce(1, *)
        let h = min(hw.h, inH), w = min(hw.w, inW)
        var out = [Float]()
        out.reserveCapacity(planes * h * w)
        for p in 0..<planes {
            for r in 0..<h {
                let s = p * inH * inW + r * inW
                out.append(contentsOf: x.data[s..<(s + w)])
            }
        }
        return try! Tensor(shape: lead + [h, w], data: out)
    }

    /// Pick decoder tokens: multimask -> tokens 1...3, else token 0.
    ///
    /// - Parameters:
    ///   - lowResMasks: float32 (B, 4, h, w).
    ///   - iou: float32 (B, 4).
    /// - Returns: ((B, C, h, w), (B, C)) with C = 3 or 1.
    public static func selectMasks(
        _ lowResMasks: Tensor<Float>, iou: Tensor<Float>, multimaskOutput: Bool
    ) throws -> (masks: Tensor<Float>, iou: Tensor<Float>) {
        guard lowResMasks.rank == 4, lowResMasks.shape[1] == Spec.numMaskTokens else {
            throw TinySAMError.invalidArgument("low_res_masks must be (B, 4, h, w), got \(lowResMasks.shape)")
        }
        let b = lowResMasks.shape[0], h = lowResMasks.shape[2], w = lowResMasks.shape[3]
        guard iou.shape == [b, Spec.numMaskTokens] else {
            throw TinySAMError.invalidArgument("iou must be (B, 4) = [\(b), 4], got \(iou.shape)")
        }
        let tokens = tokenIndices(multimaskOutput: multimaskOutput)
        var m = [Float](), s = [Float]()
        m.reserveCapacity(b * tokens.count * h * w)
        for i in 0..<b {
            for t in tokens {
                let o = (i * Spec.numMaskTokens + t) * h * w
                m.append(contentsOf: lowResMasks.data[o..<(o + h * w)])
                s.append(iou.data[i * Spec.numMaskTokens + t])
            }
        }
        return (try Tensor(shape: [b, tokens.count, h, w], data: m),
                try Tensor(shape: [b, tokens.count], data: s))
    }

    /// Decoder tokens returned for `multimaskOutput`.
    public static func tokenIndices(multimaskOutput: Bool) -> [Int] {
        multimaskOutput ? [1, 2, 3] : [0]
    }

    /// Binary masks: `logits > maskThreshold`.
    public static func threshold(_ logits: Tensor<Float>, maskThreshold: Float = Spec.maskThreshold) -> Tensor<Bool> {
        try! Tensor(shape: logits.shape, data: logits.data.map { $0 > maskThreshold })
    }

    /// Index of the largest value of each row of a (B, C) tensor, first on ties (numpy argmax).
    public static func argmaxRows(_ x: Tensor<Float>) -> [Int] {
        let c = x.shape[x.rank - 1]
        return (0..<(x.count / max(c, 1))).map { b in
            var best = 0
            for j in 1..<c where x.data[b * c + j] > x.data[b * c + best] { best = j }
            return best
        }
    }
}
