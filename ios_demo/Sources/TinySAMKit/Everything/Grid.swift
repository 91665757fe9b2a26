// Point grids and the coverage test of hierarchical mode, mirroring
// tinysam_mobile/everything/grid.py.
import Foundation

public enum EverythingGrid {
    /// Normalised n x n grid (SAM's `build_point_grid`): centres of an n x n tiling,
    /// linspace(1/(2n), 1 - 1/(2n), n) per axis, x varying fastest. Flat [x0, y0, x1, y1, ...].
    public static func makeGrid(pointsPerSide n: Int) throws -> [Double] {
        guard n >= 1 else { throw TinySAMError.invalidArgument("points_per_side must be >= 1, got \(n)") }
        let offset = 1.0 / Double(2 * n)
        let side = linspace(offset, 1.0 - offset, n)
        var out: [Double] = []
        out.reserveCapacity(2 * n * n)
        for y in side { for x in side { out += [x, y] } }
        return out
    }

    /// numpy.linspace(start, stop, n) with its arithmetic: start + i * step, the last value
    /// set to `stop` exactly.
    static func linspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
        if n == 1 { return [start] }
        let step = (stop - start) / Double(n - 1)
        var v = (0..<n).map { start + Double($0) * step }
        v[n - 1] = stop
        return v
    }

    /// Scale a normalised grid to image pixels: (x * W, y * H).
    public static func gridToImage(_ pointsNormalized: [Double], originalHW: HW) -> [Double] {
        Transforms.mapPairs(pointsNormalized) { ($0 * Double(originalHW.w), $1 * Double(originalHW.h)) }
    }

    /// Full-image grid in image pixels (`grid_points_xy_image`).
    public static func gridPointsXYImage(pointsPerSide n: Int, originalHW: HW) throws -> [Double] {
        gridToImage(try makeGrid(pointsPerSide: n), originalHW: originalHW)
    }

    /// Points not covered by a row-major (H, W) coverage map: (x, y) is covered iff
    /// covered[floor(y), floor(x)] (clipped into the map). The map is indexed row (y) first;
    /// the official TinySAM script swaps x and y here, we implement the intended semantics.
    public static func remainingPoints(_ pointsXYImage: [Double], covered: [Bool], hw: HW) throws -> [Double] {
        guard hw.h > 0, hw.w > 0, covered.count == hw.h * hw.w else {
            throw TinySAMError.invalidArgument("covered must be a non-empty \(hw) map, got \(covered.count) values")
        }
        var out: [Double] = []
        var i = 0
        while i + 1 < pointsXYImage.count {
            let x = pointsXYImage[i], y = pointsXYImage[i + 1]
            let xi = min(max(Int(x.rounded(.down)), 0), hw.w - 1)
            let yi = min(max(Int(y.rounded(.down)), 0), hw.h - 1)
            if !covered[yi * hw.w + xi] { out += [x, y] }
            i += 2
        }
        return out
    }
}
