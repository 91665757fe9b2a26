// On-device latency benchmark (hosted in the app so the CoreML models in its Models folder are
// available): encoder, decoder and hierarchical everything N times after warm-up, for the
// compute units in TINYSAM_COMPUTE_UNITS (default: all four). Writes one JSON per compute unit in
// the phone schema into the result bundle (XCTAttachment) and the app's Documents folder;
// benchmarks/ios/run_on_device.sh fetches them. Also reports encoder latency through XCTest's
// `measure` (XCTClockMetric) so Xcode shows a baseline.
import TinySAMKit
import UIKit
import XCTest

final class PhoneBenchmarkTests: XCTestCase {
    private var env: [String: String] { ProcessInfo.processInfo.environment }
    private func int(_ key: String, _ fallback: Int) -> Int { env[key].flatMap(Int.init) ?? fallback }

    private func modelsDir() throws -> URL {
        let app = Bundle.main  // the host app
        return try XCTUnwrap(app.url(forResource: "Models", withExtension: nil),
                             "the app has no Models folder: run TinySAMDemo/copy_bundle.sh BUNDLE before building")
    }

    /// TINYSAM_PRECISION, or nil (unset or empty) for the manifest's default precision.
    private var requestedPrecision: String? { env["TINYSAM_PRECISION"].flatMap { $0.isEmpty ? nil : $0 } }

    private func units() -> [ComputeUnits] {
        guard let list = env["TINYSAM_COMPUTE_UNITS"] else { return ComputeUnits.allCases }
        return list.split(separator: ",").compactMap { ComputeUnits(rawValue: String($0)) }
    }

    func testBenchmarkEncoderDecoderEverything() throws {
        let dir = try modelsDir()
        // TINYSAM_PRECISION unset or empty: the manifest's default (int8 when the bundle has it).
        let store = try ModelStore(bundleDir: dir, target: "coreml", precision: requestedPrecision, factory: CoreMLModelFactory())
        let precision = store.precision
        let image = try PhoneBenchmark.syntheticImage()
        let docs = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
        for u in units() {
            let predictor = try store.predictor(computeUnits: u)
            let ctx = BenchmarkContext(deviceModel: Self.machine(), osName: UIDevice.current.systemName,
                                       osVersion: UIDevice.current.systemVersion, precision: precision,
                                       computeUnits: u, modelSizesBytes: store.modelSizes)
            let doc = try PhoneBenchmark.run(predictor: predictor, image: image, context: ctx,
                                             warmup: int("TINYSAM_WARMUP", 3), runs: int("TINYSAM_RUNS", 10),
                                             everythingRuns: int("TINYSAM_EVERYTHING_RUNS", 3))
            let data = try PhoneBenchmark.jsonData(doc)
            let name = "bench-ios-coreml-\(precision)-\(u.rawValue).json"
            try data.write(to: docs.appendingPathComponent(name))
            let attachment = XCTAttachment(data: data, uniformTypeIdentifier: "public.json")
            attachment.name = name
            attachment.lifetime = .keepAlways
            add(attachment)
            store.unload()
        }
    }

    func testEncoderLatencyMetric() throws {
        let store = try ModelStore(bundleDir: try modelsDir(), target: "coreml", precision: requestedPrecision,
                                   factory: CoreMLModelFactory())
        let predictor = try store.predictor(computeUnits: .all)
        let image = try PhoneBenchmark.syntheticImage()
        try predictor.setImage(image)  // warm-up (model compilation, first-run allocation)
        measure(metrics: [XCTClockMetric()]) {
            XCTAssertNoThrow(try predictor.setImage(image))
        }
    }

    /// Hardware identifier such as "iPhone15,2".
    static func machine() -> String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
