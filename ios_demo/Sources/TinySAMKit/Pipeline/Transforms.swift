// Preprocessing, mirroring tinysam_mobile/transforms.py step by step:
//   resized_hw -> resize_image (PIL bilinear, reproduced exactly) -> preprocess (pad with the
//   mean, NCHW float32 on 0..255) and the coordinate maps image frame <-> model frame.
import Foundation

public enum Transforms {
    /// Size of the image after resizing its longest side to `imageSize`.
    ///
    /// Same rounding as the official code: `int(old * S / max(H, W) + 0.5)` per side.
    public static func resizedHW(_ originalHW: HW, imageSize: Int) throws -> HW {
        guard originalHW.h > 0, originalHW.w > 0 else {
            throw TinySAMError.image("image has zero size \(originalHW)")
        }
        let scale = Double(imageSize) / Double(max(originalHW.h, originalHW.w))
        return HW(Int(Double(originalHW.h) * scale + 0.5), Int(Double(originalHW.w) * scale + 0.5))
    }

    /// Resize so the longest side is `imageSize`, bit-exact with
    /// `PIL.Image.resize((w, h), Image.BILINEAR)` (see `PILBilinear`).
    public static func resizeImage(_ image: RGBImage, imageSize: Int) throws -> RGBImage {
        let target = try resizedHW(image.hw, imageSize: imageSize)
        return try PILBilinear.resize(image, to: target)
    }

    /// Resize, pad bottom/right with `pixelMean`, and lay out as NCHW float32 on 0..255.
    ///
    /// - Returns: the encoder input, shape (1, 3, S, S); normalisation by the std happens
    ///   inside the encoder graph.
    public static func preprocess(
        _ image: RGBImage, imageSize: Int, pixelMean: [Float] = Spec.pixelMean
    ) throws -> Tensor<Float> {
        guard pixelMean.count == 3 else {
            throw TinySAMError.invalidArgument("pixel_mean needs 3 values, got \(pixelMean.count)")
        }
        let resized = try resizeImage(image, imageSize: imageSize)
        let s = imageSize
        var out = [Float](repeating: 0, count: 3 * s * s)
        for c in 0..<3 {
            let base = c * s * s
            for i in 0..<(s * s) { out[base + i] = pixelMean[c] }
            for y in 0..<resized.height {
                let row = base + y * s
                let src = y * resized.width * 3
                for x in 0..<resized.width {
                    out[row + x] = Float(resized.pixels[src + x * 3 + c])
                }
            }
        }
        return try Tensor(shape: [1, 3, s, s], data: out)
    }

    /// Map points (x, y) from original-image pixels to the model frame.
    ///
    /// x is scaled by `new_w / old_w`, y by `new_h / old_h`, in Double (float64 like the Python
    /// runtime; the prompt encoder casts to float32 at the end).
    /// - Parameter pointsXYImage: flat [x0, y0, x1, y1, ...] in original-image pixels.
    /// - Returns: flat model-frame coordinates.
    public static func coordsImageToModel(
        _ pointsXYImage: [Double], originalHW: HW, imageSize: Int
    ) throws -> [Double] {
        guard pointsXYImage.count % 2 == 0 else {
            throw TinySAMError.invalidArgument("points need 2 values each, got \(pointsXYImage.count)")
        }
        let (sx, sy) = try scales(originalHW, imageSize: imageSize)
        return mapPairs(pointsXYImage) { ($0 * sx, $1 * sy) }
    }

    /// Map XYXY boxes from original-image pixels to the model frame (flat [x0, y0, x1, y1, ...]).
    public static func boxesImageToModel(
        _ boxesXYXYImage: [Double], originalHW: HW, imageSize: Int
    ) throws -> [Double] {
        guard boxesXYXYImage.count % 4 == 0 else {
            throw TinySAMError.invalidArgument("boxes need 4 values each, got \(boxesXYXYImage.count)")
        }
        return try coordsImageToModel(boxesXYXYImage, originalHW: originalHW, imageSize: imageSize)
    }

    /// Inverse of `coordsImageToModel` (model frame -> original-image pixels, Double).
    public static func coordsModelToImage(
        _ pointsXYModel: [Double], originalHW: HW, imageSize: Int
    ) throws -> [Double] {
        let (sx, sy) = try scales(originalHW, imageSize: imageSize)
        return mapPairs(pointsXYModel) { ($0 / sx, $1 / sy) }
    }

    /// Inverse of `boxesImageToModel`.
    public static func boxesModelToImage(
        _ boxesXYXYModel: [Double], originalHW: HW, imageSize: Int
    ) throws -> [Double] {
        guard boxesXYXYModel.count % 4 == 0 else {
            throw TinySAMError.invalidArgument("boxes need 4 values each, got \(boxesXYXYModel.count)")
        }
        return try coordsModelToImage(boxesXYXYModel, originalHW: originalHW, imageSize: imageSize)
    }

    static func scales(_ originalHW: HW, imageSize: Int) throws -> (Double, Double) {
        let r = try resizedHW(originalHW, imageSize: imageSize)
        return (Double(r.w) / Double(originalHW.w), Double(r.h) / Double(originalHW.h))
    }

    static func mapPairs(_ xy: [Double], _ f: (Double, Double) -> (Double, Double)) -> [Double] {
        var out = xy
        var i = 0
        while i + 1 < xy.count {
            let (a, b) = f(xy[i], xy[i + 1])
            out[i] = a
            out[i + 1] = b
            i += 2
        }
        return out
    }
}
