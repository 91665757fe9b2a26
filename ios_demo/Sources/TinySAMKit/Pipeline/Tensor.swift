// A minimal dense, row-major (C-order) tensor: enough for the pipeline steps, Foundation only.
import Foundation

/// Row-major n-d array. `Tensor<Float>` mirrors numpy float32 arrays, `Tensor<Bool>` boolean masks.
public struct Tensor<Element>: CustomStringConvertible {
    public private(set) var shape: [Int]
    public var data: [Element]

    /// Wrap `data` (row-major) with `shape`; the element count must match.
    public init(shape: [Int], data: [Element]) throws {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == data.count else {
            throw TinySAMError.invalidArgument(
                "tensor of shape \(shape) needs \(n) elements, got \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Element) {
        self.shape = shape
        self.data = Array(repeating: value, count: shape.reduce(1, *))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    public var description: String { "Tensor(shape: \(shape))" }

    /// Number of elements of one slice along the first `k` axes (product of the remaining dims).
    public func stride(after k: Int) -> Int { shape[k...].reduce(1, *) }

    /// Same data, new shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, data: data)
    }

    /// The `i`-th slice along the first axis (shape `shape[1...]`).
    public func slice(_ i: Int) -> Tensor {
        let s = stride(after: 1)
        // Shape and count are consistent by construction.
        return try! Tensor(shape: Array(shape.dropFirst()), data: Array(data[(i * s)..<((i + 1) * s)]))
    }

    /// Stack equally-shaped tensors along a new first axis.
    public static func stack(_ items: [Tensor], innerShape: [Int]) throws -> Tensor {
        var out: [Element] = []
        out.reserveCapacity(items.count * innerShape.reduce(1, *))
        for t in items {
            guard t.shape == innerShape else {
                throw TinySAMError.invalidArgument("cannot stack shape \(t.shape) with \(innerShape)")
            }
            out.append(contentsOf: t.data)
        }
        return try Tensor(shape: [items.count] + innerShape, data: out)
    }
}

/// An 8-bit RGB image, HxWx3 row-major (the `uint8 (H, W, 3)` arrays of the Python runtime).
public struct RGBImage: Equatable {
    public let height: Int
    public let width: Int
    /// Interleaved RGB bytes, `height * width * 3`.
    public var pixels: [UInt8]

    public init(height: Int, width: Int, pixels: [UInt8]) throws {
        guard height > 0, width > 0 else {
            throw TinySAMError.image("image has zero size (\(height)x\(width))")
        }
        guard pixels.count == height * width * 3 else {
            throw TinySAMError.image(
                "expected \(height)x\(width)x3 = \(height * width * 3) bytes, got \(pixels.count)")
        }
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    public var hw: HW { HW(height, width) }
}
