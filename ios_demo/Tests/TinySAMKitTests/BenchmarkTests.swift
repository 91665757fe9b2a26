// The benchmark logic (statistics, JSON schema) on Linux with in-memory graph sessions; the
// CoreML run itself is ios_demo/TinySAMDemo/TinySAMDemoTests/PhoneBenchmarkTests.swift.
import Foundation
import XCTest
@testable import TinySAMKit

/// Encoder / decoder stand-ins with the right output shapes (constant logits).
final class ConstantSession: GraphSession {
    let spec: GraphSpec
    let make: ([String: Tensor<Float>]) -> [String: Tensor<Float>]
    init(_ spec: GraphSpec, _ make: @escaping ([String: Tensor<Float>]) -> [String: Tensor<Float>]) {
        self.spec = spec
        self.make = make
    }
    func run(_ inputs: [String: Tensor<Float>]) throws -> [String: Tensor<Float>] { make(inputs) }
}

final class BenchmarkTests: XCTestCase {
    func testStageStatistics() throws {
        let s = try StageStats(timesMs: [5, 1, 4, 2, 3, 10, 6, 7, 9, 8])
        XCTAssertEqual(s.medianMs, 5.5)
        XCTAssertEqual(s.p90Ms, 9)  // sorted[round(0.9 * 9) = 8], as bench_runtime.py
        // n = 7: round(5.4) = 5 (a nearest-rank p90, ceil(6.3) = 7th value, would give 7)
        XCTAssertEqual(try StageStats(timesMs: [1, 2, 3, 4, 5, 6, 7]).p90Ms, 6)
        // n = 6: round(4.5) = 4, half to even like Python
        XCTAssertEqual(try StageStats(timesMs: [1, 2, 3, 4, 5, 6]).p90Ms, 5)
        XCTAssertEqual(s.minMs, 1)
        XCTAssertEqual(s.meanMs, 5.5)
        XCTAssertEqual(try StageStats(timesMs: [3, 1, 2]).medianMs, 2)
        XCTAssertThrowsError(try StageStats(timesMs: []))
    }

    func testBenchmarkDocumentHasThePhoneSchema() throws {
        let g = try ModelGeometry(imageSize: 64)
        let (encSpec, decSpec) = PredictorAndManifestTests.geometrySpecs(g)
        let e = g.embeddingHW, lr = g.lowResHW
        let encoder = ConstantSession(encSpec) { _ in [TensorName.imageEmbeddings: Tensor(shape: [1, Spec.embedDim, e.h, e.w], repeating: 0)] }
        let decoder = ConstantSession(decSpec) { inputs in
            let b = inputs[TensorName.pointCoords]!.shape[0]
            // A centred square of logit 10 in every token: stable, high IoU.
            var low = [Float](repeating: -10, count: b * 4 * lr.h * lr.w)
            for i in 0..<(b * 4) { for y in 4..<12 { for x in 4..<12 { low[i * lr.h * lr.w + y * lr.w + x] = 10 } } }
            return [TensorName.lowResMasks: try! Tensor(shape: [b, 4, lr.h, lr.w], data: low),
                    TensorName.iouPredictions: Tensor(shape: [b, 4], repeating: 0.95)]
        }
        let predictor = Predictor(encoder: encoder, decoder: decoder, geometry: g)
        var cfg = EverythingConfig()
        cfg.pointsPerSide = 8
        cfg.pointsPerBatch = 16
        let ctx = BenchmarkContext(deviceModel: "test", osName: "Linux", osVersion: "0", precision: "fp32",
                                   computeUnits: .cpuOnly, modelSizesBytes: ["encoder": 1, "decoder": 2])
        let doc = try PhoneBenchmark.run(predictor: predictor, image: try PhoneBenchmark.syntheticImage(height: 48, width: 64),
                                         context: ctx, warmup: 1, runs: 3, everythingRuns: 2, everything: cfg)
        XCTAssertEqual(doc["schema"] as? String, "tinysam-bench-phone/1")
        XCTAssertEqual(doc["backend"] as? String, "coreml")
        XCTAssertEqual(doc["accelerator"] as? String, "cpu")
        let rows = try XCTUnwrap(doc["results"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["stage"] as? String }, ["encoder", "decoder", "everything"])
        for r in rows {
            for k in ["median_ms", "p90_ms", "min_ms", "mean_ms"] { XCTAssertNotNil(r[k] as? Double, "\(k) in \(r)") }
        }
        XCTAssertEqual(rows[0]["runs"] as? Int, 3)
        XCTAssertEqual(rows[2]["runs"] as? Int, 2)
        // The constant square is one mask for every prompt: NMS leaves exactly one.
        XCTAssertEqual(rows[2]["masks"] as? Int, 1)
        XCTAssertNoThrow(try PhoneBenchmark.jsonData(doc))
    }
}
