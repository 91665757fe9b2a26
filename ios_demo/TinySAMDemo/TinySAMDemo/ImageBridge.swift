// Conversions between UIKit/CoreGraphics images and TinySAMKit's RGBImage / masks.
import CoreGraphics
import TinySAMKit
import UIKit

enum ImageBridge {
    /// Decode a UIImage to 8-bit RGB pixels, applying its orientation (what the user sees).
    static func rgbImage(from image: UIImage, maxSide: Int = 2048) throws -> RGBImage {
        let scale = min(1.0, Double(maxSide) / Double(max(image.size.width, image.size.height)))
        let w = max(1, Int((Double(image.size.width) * scale).rounded()))
        let h = max(1, Int((Double(image.size.height) * scale).rounded()))
        let format = UIGraphicsImageRendererFormat.default()
        format.scale = 1
        let upright = UIGraphicsImageRenderer(size: CGSize(width: w, height: h), format: format).image { _ in
            image.draw(in: CGRect(x: 0, y: 0, width: w, height: h))
        }
        guard let cg = upright.cgImage else { throw TinySAMError.image("the picked image has no bitmap") }
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let drawn: Bool = rgba.withUnsafeMutableBytes { buf in
            guard let ctx = CGContext(data: buf.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4,
                                      space: CGColorSpaceCreateDeviceRGB(),
                                      bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return false }
            ctx.draw(cg, in: CGRect(x: 0, y: 0, width: w, height: h))
            return true
        }
        guard drawn else { throw TinySAMError.image("could not create a bitmap context of \(w)x\(h)") }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            rgb[3 * i] = rgba[4 * i]
            rgb[3 * i + 1] = rgba[4 * i + 1]
            rgb[3 * i + 2] = rgba[4 * i + 2]
        }
        return try RGBImage(height: h, width: w, pixels: rgb)
    }

    /// Colour (RGBA, premultiplied) masks into one overlay image; later masks paint over earlier.
    static func overlay(masks: [[Bool]], hw: HW, colors: [(UInt8, UInt8, UInt8)], alpha: UInt8 = 140) -> CGImage? {
        guard !masks.isEmpty else { return nil }
        var px = [UInt8](repeating: 0, count: hw.h * hw.w * 4)
        for (k, mask) in masks.enumerated() where mask.count == hw.h * hw.w {
            let c = colors[k % colors.count]
            let a = Double(alpha) / 255
            for i in 0..<mask.count where mask[i] {
                px[4 * i] = UInt8(Double(c.0) * a)
                px[4 * i + 1] = UInt8(Double(c.1) * a)
                px[4 * i + 2] = UInt8(Double(c.2) * a)
                px[4 * i + 3] = alpha
            }
        }
        let data = Data(px) as CFData
        guard let provider = CGDataProvider(data: data) else { return nil }
        return CGImage(width: hw.w, height: hw.h, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: hw.w * 4,
                       space: CGColorSpaceCreateDeviceRGB(),
                       bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.premultipliedLast.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)
    }

    /// Distinct colours for everything-mode masks (golden-angle hues).
    static func palette(_ n: Int) -> [(UInt8, UInt8, UInt8)] {
        (0..<max(n, 1)).map { i in
            let c = UIColor(hue: CGFloat((Double(i) * 0.618_034).truncatingRemainder(dividingBy: 1)), saturation: 0.75,
                            brightness: 0.95, alpha: 1)
            var r: CGFloat = 0, g: CGFloat = 0, b: CGFloat = 0, a: CGFloat = 0
            c.getRed(&r, green: &g, blue: &b, alpha: &a)
            return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
        }
    }
}
