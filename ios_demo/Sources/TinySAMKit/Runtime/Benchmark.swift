// On-device latency benchmark logic (Foundation only, so it is unit-tested on Linux): runs the
// encoder (Predictor.setImage), the decoder (one point prompt, Predictor.predict incl. upscaling
// and thresholding) and hierarchical everything mode N times after warm-up and writes JSON in
// the phone schema "tinysam-bench-phone/1" shared with the Android benchmark
// (benchmarks/README_phone.md, benchmarks/ios/README.md).
import Foundation

/// Timing statistics of one stage, in milliseconds (keys as the host bench_runtime.py rows).
public struct StageStats: Equatable {
    public let medianMs: Double
    /// 90th percentile as every tinysam benchmark defines it (`bench_runtime.py`, the Android
    /// benchmark, benchmarks/README_phone.md): the sorted times at index round(0.9 * (runs - 1)),
    /// rounding half to even as Python's `round`.
    public let p90Ms: Double
    public let minMs: Double
    public let meanMs: Double
    public let runs: Int

    /// Statistics of `timesMs` (at least one value).
    public init(timesMs: [Double]) throws {
        guard !timesMs.isEmpty else { throw TinySAMError.invalidArgument("no timed runs") }
        let s = timesMs.sorted()
        let n = s.count
        medianMs = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        p90Ms = s[min(n - 1, Int((0.9 * Double(n - 1)).rounded(.toNearestOrEven)))]
        minMs = s[0]
        meanMs = s.reduce(0, +) / Double(n)
        runs = n
    }

    var json: [String: Any] { ["median_ms": medianMs, "p90_ms": p90Ms, "min_ms": minMs, "mean_ms": meanMs, "runs": runs] }
}

/// What the benchmark records about the device and the models.
public struct BenchmarkContext {
    public var deviceModel: String
    public var soc: String
    public var osName: String
    public var osVersion: String
    public var precision: String
    public var computeUnits: ComputeUnits
    public var modelSizesBytes: [String: Int]
    public init(deviceModel: String, soc: String = "", osName: String, osVersion: String, precision: String,
                computeUnits: ComputeUnits, modelSizesBytes: [String: Int]) {
        self.deviceModel = deviceModel; self.soc = soc; self.osName = osName; self.osVersion = osVersion
        self.precision = precision; self.computeUnits = computeUnits; self.modelSizesBytes = modelSizesBytes
    }
}

public enum PhoneBenchmark {
    public static let schema = "tinysam-bench-phone/1"

    /// Milliseconds taken by `body`.
    public static func time(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    }

    /// `warmup` untimed runs, then `runs` timed runs of `body`.
    public static func measure(warmup: Int, runs: Int, _ body: () throws -> Void) throws -> StageStats {
        guard runs >= 1, warmup >= 0 else { throw TinySAMError.invalidArgument("runs must be >= 1 and warmup >= 0") }
        for _ in 0..<warmup { try body() }
        return try StageStats(timesMs: (0..<runs).map { _ in try time(body) })
    }

    /// Run the three stages and return the JSON document.
    ///
    /// - Parameters:
    ///   - predictor: a predictor with loaded graphs (CoreML on the phone).
    ///   - image: the benchmark photo.
    ///   - everything: configuration of the everything stage (hierarchical 32x32, batch 64).
    public static func run(predictor: Predictor, image: RGBImage, context: BenchmarkContext,
                           warmup: Int = 3, runs: Int = 10, everythingRuns: Int = 3,
                           everything: EverythingConfig = EverythingConfig()) throws -> [String: Any] {
        let enc = try measure(warmup: warmup, runs: runs) { try predictor.setImage(image) }
        let point = PromptPoint(x: Double(image.width) / 2, y: Double(image.height) / 2, label: 1)
        let dec = try measure(warmup: warmup, runs: runs) { _ = try predictor.predict(points: [point]) }
        var masks = 0
        let every = try measure(warmup: min(warmup, 1), runs: everythingRuns) {
            masks = try Everything.generate(predictor, config: everything).records.count
        }
        var rows: [[String: Any]] = []
        rows.append(["stage": "encoder", "graph": "encoder", "batch": 1].merging(enc.json) { a, _ in a })
        rows.append(["stage": "decoder", "graph": "decoder", "batch": 1].merging(dec.json) { a, _ in a })
        rows.append(["stage": "everything", "mode": everything.mode.rawValue, "points_per_side": everything.pointsPerSide,
                     "points_per_batch": everything.pointsPerBatch, "masks": masks].merging(every.json) { a, _ in a })
        return [
            "schema": schema,
            "platform": "ios",
            "device": ["manufacturer": "Apple", "model": context.deviceModel, "soc": context.soc, "abi": "arm64"],
            "os": ["name": context.osName, "version": context.osVersion],
            "backend": "coreml",
            "target": "coreml",
            "precision": context.precision,
            "accelerator": context.computeUnits.rawValue,
            "threads": NSNull(),
            "image_size": predictor.imageSize,
            "image_hw": [image.height, image.width],
            "warmup": warmup,
            "model_sizes_bytes": context.modelSizesBytes,
            "results": rows,
        ]
    }

    /// A deterministic synthetic photo (gradients and discs), so runs are comparable.
    public static func syntheticImage(height: Int = 768, width: Int = 1024) throws -> RGBImage {
        var px = [UInt8](repeating: 0, count: height * width * 3)
        for y in 0..<height {
            for x in 0..<width {
                let o = (y * width + x) * 3
                let dx = Double(x - width / 3), dy = Double(y - height / 2)
                let inDisc = dx * dx + dy * dy < Double(height * height) / 16
                px[o] = inDisc ? 220 : UInt8(x * 255 / max(1, width - 1))
                px[o + 1] = inDisc ? 40 : UInt8(y * 255 / max(1, height - 1))
                px[o + 2] = UInt8((x + y) % 256)
            }
        }
        return try RGBImage(height: height, width: width, pixels: px)
    }

    /// Serialise the document as pretty JSON.
    public static func jsonData(_ doc: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
    }
}
