// An exact reproduction of Pillow's 8-bit bilinear resampling (libImaging/Resample.c), so the
// encoder input matches the Python runtime byte for byte:
//   - separable: a horizontal pass into an intermediate 8-bit image over the rows the vertical
//     pass needs, then a vertical pass;
//   - triangle filter whose support is scaled by the downscale factor (max(1, in/out));
//   - coefficients normalised to sum 1, then converted to fixed point with
//     PRECISION_BITS = 22, rounding half away from zero;
//   - accumulation starts at 1 << (PRECISION_BITS - 1) (rounding) and results are clipped to 0...255.
import Foundation

public enum PILBilinear {
    static let precisionBits = 32 - 8 - 2

    /// Fixed-point coefficients for one axis: for output index i, input taps
    /// `bounds[i].min ..< bounds[i].min + bounds[i].count` with weights `coeffs[i * ksize ...]`.
    struct Coefficients {
        let ksize: Int
        let bounds: [(min: Int, count: Int)]
        let coeffs: [Int32]
    }

    static func triangle(_ x: Double) -> Double {
        let a = abs(x)
        return a < 1.0 ? 1.0 - a : 0.0
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the full input range [0, inSize).
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale  // bilinear support is 1
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(min: Int, count: Int)] = []
        bounds.reserveCapacity(outSize)
        var fixed = [Int32](repeating: 0, count: outSize * ksize)
        var weights = [Double](repeating: 0, count: ksize)
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            var xmin = Int(center - support + 0.5)  // C cast truncates toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<ksize { weights[x] = 0 }
            for x in 0..<xmax {
                let w = triangle((Double(x + xmin) - center + 0.5) * ss)
                weights[x] = w
                ww += w
            }
            for x in 0..<xmax where ww != 0.0 { weights[x] /= ww }
            for x in 0..<ksize {
                let w = weights[x]
                fixed[xx * ksize + x] = Int32(w < 0 ? (-0.5 + w * one) : (0.5 + w * one))
            }
            bounds.append((xmin, xmax))
        }
        return Coefficients(ksize: ksize, bounds: bounds, coeffs: fixed)
    }

    @inline(__always) static func clip8(_ v: Int64) -> UInt8 {
        if v >= Int64(1) << (precisionBits + 8) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> Int64(precisionBits))
    }

    /// Resize `image` to `size` exactly like `PIL.Image.resize((w, h), Image.BILINEAR)`.
    public static func resize(_ image: RGBImage, to size: HW) throws -> RGBImage {
        guard size.h > 0, size.w > 0 else {
            throw TinySAMError.invalidArgument("resize target must be positive, got \(size)")
        }
        if size == image.hw { return image }
        let horiz = coefficients(inSize: image.width, outSize: size.w)
        let vert = coefficients(inSize: image.height, outSize: size.h)
        let needH = size.w != image.width
        let needV = size.h != image.height
        var src = image.pixels
        var srcW = image.width
        var vBounds = vert.bounds
        if needH {
            // Only the rows the vertical pass reads are resampled horizontally.
            let first = vert.bounds[0].min
            let last = vert.bounds[size.h - 1].min + vert.bounds[size.h - 1].count
            vBounds = vert.bounds.map { ($0.min - first, $0.count) }
            let rows = last - first
            var tmp = [UInt8](repeating: 0, count: rows * size.w * 3)
            let half = Int64(1) << (precisionBits - 1)
            for yy in 0..<rows {
                let inRow = (yy + first) * image.width * 3
                for xx in 0..<size.w {
                    let (xmin, n) = horiz.bounds[xx]
                    let k = xx * horiz.ksize
                    var s0 = half, s1 = half, s2 = half
                    for x in 0..<n {
                        let w = Int64(horiz.coeffs[k + x])
                        let p = inRow + (x + xmin) * 3
                        s0 += Int64(image.pixels[p]) * w
                        s1 += Int64(image.pixels[p + 1]) * w
                        s2 += Int64(image.pixels[p + 2]) * w
                    }
                    let o = (yy * size.w + xx) * 3
                    tmp[o] = clip8(s0)
                    tmp[o + 1] = clip8(s1)
                    tmp[o + 2] = clip8(s2)
                }
            }
            src = tmp
            srcW = size.w
        }
        guard needV else { return try RGBImage(height: size.h, width: size.w, pixels: src) }
        var out = [UInt8](repeating: 0, count: size.h * size.w * 3)
        let half = Int64(1) << (precisionBits - 1)
        for yy in 0..<size.h {
            let (ymin, n) = vBounds[yy]
            let k = yy * vert.ksize
            for xx in 0..<size.w {
                var s0 = half, s1 = half, s2 = half
                for y in 0..<n {
                    let w = Int64(vert.coeffs[k + y])
                    let p = ((y + ymin) * srcW + xx) * 3
                    s0 += Int64(src[p]) * w
                    s1 += Int64(src[p + 1]) * w
                    s2 += Int64(src[p + 2]) * w
                }
                let o = (yy * size.w + xx) * 3
                out[o] = clip8(s0)
                out[o + 1] = clip8(s1)
                out[o + 2] = clip8(s2)
            }
        }
        return try RGBImage(height: size.h, width: size.w, pixels: out)
    }
}
