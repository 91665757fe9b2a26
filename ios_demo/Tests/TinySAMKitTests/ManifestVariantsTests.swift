// What the demo app's precision picker offers and opens first (read from manifest.json, int8
// first as `tinysam-export --target coreml` writes by default), the note on CoreML int8 graphs
// kept at float16 weights, ModelStore's default precision, and the verification of `.mlpackage`
// folders against `manifest.sha256_tree`. No golden folder needed.
import Foundation
import XCTest
@testable import TinySAMKit

final class ManifestVariantsTests: XCTestCase {
    /// manifest.json content with the given artifacts: (target, precision, graph, quantization method).
    static func doc(_ arts: [(String, String, String, String?)], image: Int = 64) throws -> [String: Any] {
        let g = try ModelGeometry(imageSize: image)
        let e = g.embeddingHW, l = g.lowResHW
        func t(_ name: String, _ shape: [Any]) -> [String: Any] { ["name": name, "shape": shape, "dtype": "float32"] }
        let artifacts: [[String: Any]] = arts.map { a in
            var d: [String: Any] = ["graph": a.2, "target": a.0, "precision": a.1, "file": "\(a.0)/\(a.2).\(a.1)",
                                    "sha256": "0", "size_bytes": 0]
            if let m = a.3 { d["quantization"] = ["method": m] }
            return d
        }
        return [
            "schema_version": 1,
            "model": ["name": "vit_t", "image_size": image],
            "preprocess": ["pixel_mean": [123.675, 116.28, 103.53]],
            "graphs": [
                "encoder": ["inputs": [t("image", [1, 3, image, image])], "outputs": [t("image_embeddings", [1, 256, e.h, e.w])]],
                "decoder": [
                    "inputs": [t("image_embeddings", [1, 256, e.h, e.w]), t("point_coords", ["num_prompts", "num_points", 2]),
                               t("point_labels", ["num_prompts", "num_points"]), t("mask_input", ["num_prompts", 1, l.h, l.w]),
                               t("has_mask_input", ["num_prompts"])],
                    "outputs": [t("low_res_masks", ["num_prompts", 4, l.h, l.w]), t("iou_predictions", ["num_prompts", 4])],
                ],
            ],
            "artifacts": artifacts,
        ]
    }

    static func manifest(_ arts: [(String, String, String, String?)]) throws -> Manifest {
        try Manifest.parse(try JSONSerialization.data(withJSONObject: try doc(arts)))
    }

    /// `tinysam-export --target all`: onnx fp32, tflite int8, onnx int8, coreml int8 (both graphs each).
    static let targetAll: [(String, String, String, String?)] = [
        ("onnx", "fp32", "encoder", nil), ("onnx", "fp32", "decoder", nil),
        ("tflite", "int8", "encoder", "x"), ("tflite", "int8", "decoder", "x"),
        ("onnx", "int8", "encoder", "static_qdq"), ("onnx", "int8", "decoder", "weight_only"),
        ("coreml", "int8", "encoder", "weight_only"), ("coreml", "int8", "decoder", "fp16_weights"),
    ]

    func testPrecisionsComeFromTheManifestInt8First() throws {
        let all = try Self.manifest(Self.targetAll)
        XCTAssertEqual(all.precisions(target: "coreml"), ["int8"])
        XCTAssertEqual(all.defaultPrecision(target: "coreml"), "int8")
        XCTAssertEqual(all.precisions(target: "onnx"), ["int8", "fp32"])
        // A CoreML bundle exported at several precisions (fp32 listed first): int8 is opened.
        let several = try Self.manifest(["fp32", "fp16", "int8"].flatMap { p in ["encoder", "decoder"].map { ("coreml", p, $0, nil) } })
        XCTAssertEqual(several.precisions(target: "coreml"), ["int8", "fp16", "fp32"])
        // fp32 only (--precision fp32): fp32, nothing assumed; a half pair is not offered.
        let fp32 = try Self.manifest([("coreml", "fp32", "encoder", nil), ("coreml", "fp32", "decoder", nil),
                                      ("coreml", "int8", "decoder", nil)])
        XCTAssertEqual(fp32.precisions(target: "coreml"), ["fp32"])
        XCTAssertEqual(fp32.defaultPrecision(target: "coreml"), "fp32")
        // An ONNX-only bundle has nothing for the iOS app.
        let onnx = try Self.manifest([("onnx", "fp32", "encoder", nil), ("onnx", "fp32", "decoder", nil)])
        XCTAssertNil(onnx.defaultPrecision(target: "coreml"))
        XCTAssertEqual(Spec.mobileDefaultOrder, ["int8", "fp16", "fp32"])
    }

    func testInt8GraphKeptAtFloat16IsNoted() throws {
        let all = try Self.manifest(Self.targetAll)
        XCTAssertEqual(try all.artifact(target: "coreml", precision: "int8", graph: .decoder).quantizationMethod, "fp16_weights")
        XCTAssertEqual(all.weightsNote(target: "coreml", precision: "int8"), "decoder kept float16 weights (int8 failed the export gate)")
        XCTAssertNil(all.weightsNote(target: "onnx", precision: "int8"))
        XCTAssertNil(try all.artifact(target: "onnx", precision: "fp32", graph: .encoder).quantizationMethod)
    }

    /// Records the URLs it is asked to load; never loads anything.
    final class RecordingFactory: ModelFactory {
        var urls: [URL] = []
        final class Model: ManagedModel {
            let url: URL
            init(_ url: URL) { self.url = url }
            var isLoaded: Bool { false }
            func load(computeUnits: ComputeUnits) throws {}
            func unload() {}
            func session() throws -> GraphSession { throw TinySAMError.bundle("not loaded") }
        }
        func makeModel(url: URL, spec: GraphSpec) throws -> ManagedModel {
            urls.append(url)
            return Model(url)
        }
    }

    func testModelStoreOpensTheManifestDefault() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinysam-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: try Self.doc(Self.targetAll)).write(to: dir.appendingPathComponent(Manifest.fileName))
        let factory = RecordingFactory()
        let store = try ModelStore(bundleDir: dir, factory: factory, verify: false)
        XCTAssertEqual(store.precision, "int8")
        XCTAssertEqual(factory.urls.map(\.lastPathComponent), ["encoder.int8", "decoder.int8"])
        XCTAssertEqual(try ModelStore(bundleDir: dir, target: "onnx", factory: RecordingFactory(), verify: false).precision, "int8")
        XCTAssertEqual(try ModelStore(bundleDir: dir, precision: "int8", factory: RecordingFactory(), verify: false).precision, "int8")
        XCTAssertThrowsError(try ModelStore(bundleDir: dir, precision: "fp32", factory: RecordingFactory(), verify: false))
        XCTAssertThrowsError(try ModelStore(bundleDir: dir, target: "none", factory: RecordingFactory(), verify: false)) { err in
            XCTAssertTrue("\(err)".contains("no none encoder + decoder pair"), "\(err)")
        }
    }

    func testPackageFoldersHashLikeSha256Tree() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinysam-tree-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pkg = dir.appendingPathComponent("coreml/decoder.int8.mlpackage")
        let weights = pkg.appendingPathComponent("Data/com.apple.CoreML/weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        try Data("{\"x\": 1}\n".utf8).write(to: pkg.appendingPathComponent("Manifest.json"))
        try Data("abc".utf8).write(to: weights.appendingPathComponent("weight.bin"))
        try Data("zz".utf8).write(to: pkg.appendingPathComponent("Data/com.apple.CoreML/model.mlmodel"))
        // What tinysam_mobile.manifest.sha256_tree gives for this folder.
        let expected = "a7620f60dbd31b1623ff89725752c51c93b0348eaffaf9c2e125e3f756aa17dc"
        let tree = try Manifest.sha256Tree(pkg)
        XCTAssertEqual(tree.sha256, expected)
        XCTAssertEqual(tree.size, 14)
        let a = Artifact(graph: .decoder, target: "coreml", precision: "int8", file: "coreml/decoder.int8.mlpackage",
                         sha256: expected, sizeBytes: 14)
        XCTAssertEqual(try Manifest.verify(bundleDir: dir, artifact: a).lastPathComponent, "decoder.int8.mlpackage")
        try Data("abd".utf8).write(to: weights.appendingPathComponent("weight.bin"))
        XCTAssertThrowsError(try Manifest.verify(bundleDir: dir, artifact: a)) { err in
            XCTAssertTrue("\(err)".contains("sha256"), "\(err)")
        }
        // A plain file hashes as itself.
        XCTAssertEqual(try Manifest.sha256Tree(weights.appendingPathComponent("weight.bin")).size, 3)
    }
}
