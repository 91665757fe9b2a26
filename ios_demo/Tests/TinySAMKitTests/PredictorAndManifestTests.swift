// The Predictor wired to replaying graph sessions (set_image -> encoder once, predict -> decoder
// per prompt), and manifest parsing on the bundle's real manifest.json and on broken ones.
import Foundation
import XCTest
@testable import TinySAMKit

/// A GraphSession that checks its inputs against stored ones and returns stored outputs.
final class ReplaySession: GraphSession {
    let spec: GraphSpec
    let expected: [String: [Float]]
    let outputs: [String: Tensor<Float>]
    var calls = 0
    var mismatches: [String] = []

    init(spec: GraphSpec, expected: [String: [Float]], outputs: [String: Tensor<Float>]) {
        self.spec = spec
        self.expected = expected
        self.outputs = outputs
    }

    func run(_ inputs: [String: Tensor<Float>]) throws -> [String: Tensor<Float>] {
        calls += 1
        XCTAssertEqual(Set(inputs.keys), Set(spec.inputNames), "\(spec.name.rawValue) input names")
        for (k, want) in expected {
            guard let got = inputs[k]?.data, got.count == want.count else {
                mismatches.append("\(k): missing or wrong size")
                continue
            }
            let scale = max(1, want.map { abs($0) }.max() ?? 0)
            if zip(got, want).contains(where: { abs($0 - $1) > 1e-5 * abs($1) + 1e-5 * scale }) { mismatches.append(k) }
        }
        return outputs
    }
}

final class PredictorAndManifestTests: XCTestCase {
    static let geometrySpecs: (ModelGeometry) -> (GraphSpec, GraphSpec) = { g in
        let enc = GraphSpec(name: .encoder, inputs: [TensorSpec(name: TensorName.image, shape: [], dtype: "float32")],
                            outputs: [TensorSpec(name: TensorName.imageEmbeddings, shape: [], dtype: "float32")])
        let dec = GraphSpec(name: .decoder, inputs: [TensorName.imageEmbeddings, TensorName.pointCoords, TensorName.pointLabels,
                                                     TensorName.maskInput, TensorName.hasMaskInput].map { TensorSpec(name: $0, shape: [], dtype: "float32") },
                            outputs: [TensorName.lowResMasks, TensorName.iouPredictions].map { TensorSpec(name: $0, shape: [], dtype: "float32") })
        return (enc, dec)
    }

    func testPredictorOnStoredPointCase() throws {
        let golden = try Golden.locate()
        let caseName = try XCTUnwrap(try golden.list("cases").first { $0.hasSuffix("__point.json") }, "no point case")
        let doc = try golden.json(caseName)
        let image = try golden.json("image__\(try jDictString(doc["image"], "image")).json")
        let rgb = try golden.array(image["rgb"], "rgb")
        let img = try RGBImage(height: rgb.shape[0], width: rgb.shape[1], pixels: rgb.bytes)
        let geometry = try ModelGeometry(imageSize: try jInt(image["image_size"], "image_size"))
        let (encSpec, decSpec) = Self.geometrySpecs(geometry)
        let e = geometry.embeddingHW
        let encInput = try golden.array(image["encoder_input"], "encoder_input")
        let encoder = ReplaySession(spec: encSpec, expected: encInput.sha256 == nil ? [TensorName.image: try encInput.floats] : [:],
                                    outputs: [TensorName.imageEmbeddings: Tensor(shape: [1, Spec.embedDim, e.h, e.w], repeating: 0)])
        let ins = try jDict(doc["decoder_inputs"], "decoder_inputs"), outs = try jDict(doc["decoder_outputs"], "decoder_outputs")
        var expected: [String: [Float]] = [:]
        for k in [TensorName.pointCoords, TensorName.pointLabels, TensorName.maskInput, TensorName.hasMaskInput] {
            expected[k] = try golden.array(ins[k], k).floats
        }
        let decoder = ReplaySession(spec: decSpec, expected: expected, outputs: [
            TensorName.lowResMasks: try golden.array(outs["low_res_masks"], "low").floatTensor(),
            TensorName.iouPredictions: try golden.array(outs["iou_predictions"], "iou").floatTensor(),
        ])
        let predictor = Predictor(encoder: encoder, decoder: decoder, geometry: geometry)
        XCTAssertThrowsError(try predictor.predict(points: [PromptPoint(x: 1, y: 1, label: 1)]), "predict before setImage")
        try predictor.setImage(img)
        let p = try jDict(doc["prompt"], "prompt")
        let xy = try jList(try jList(p["point_coords"], "pc")[0], "xy")
        let pred = try predictor.predict(points: [PromptPoint(x: try jDouble(xy[0], "x"), y: try jDouble(xy[1], "y"), label: 1)])
        XCTAssertEqual(encoder.calls, 1)
        XCTAssertEqual(decoder.calls, 1)
        XCTAssertEqual(encoder.mismatches, [], "encoder fed a different image than the golden encoder_input")
        XCTAssertEqual(decoder.mismatches, [], "decoder fed different inputs than the golden decoder_inputs")
        let multi = try jDict(doc["multimask"], "multimask")
        golden.assertMask(pred.masks.data, try golden.array(multi["masks"], "masks").bits, "Predictor.predict masks")
        try golden.assertFloats(pred.iou, golden.array(multi["iou"], "iou"), "Predictor.predict iou")
        XCTAssertEqual(pred.bestIndex, try jInt(try jList(multi["best_index"], "best")[0], "best"))
        XCTAssertThrowsError(try predictor.predict(points: [PromptPoint(x: -5, y: 1, label: 1)])) { err in
            guard case TinySAMError.prompt(let m) = err else { return XCTFail("expected a PromptError, got \(err)") }
            XCTAssertTrue(m.contains("outside"), m)
        }
    }

    func testBundleManifestParses() throws {
        let golden = try Golden.locate()
        // scripts/test_ios_pipeline.sh copies the bundle's manifest next to the vectors.
        let url = golden.root.appendingPathComponent("bundle_manifest.json")
        let data = try XCTUnwrap(FileManager.default.contents(atPath: url.path),
                                 "\(url.path) is missing: copy BUNDLE/manifest.json there (the test script does)")
        let m = try Manifest.parse(data)
        XCTAssertEqual(m.schemaVersion, Spec.schemaVersion)
        XCTAssertEqual(m.geometry.embeddingHW.h * Spec.patchStride, m.geometry.imageSize)
        XCTAssertEqual(m.graphs[.decoder]?.inputNames, [TensorName.imageEmbeddings, TensorName.pointCoords, TensorName.pointLabels,
                                                        TensorName.maskInput, TensorName.hasMaskInput])
        XCTAssertEqual(m.graphs[.decoder]?.outputNames, [TensorName.lowResMasks, TensorName.iouPredictions])
        XCTAssertEqual(m.graphs[.encoder]?.inputNames, [TensorName.image])
        for a in m.artifacts {
            XCTAssertEqual(try m.artifact(target: a.target, precision: a.precision, graph: a.graph).file, a.file)
        }
        let pr = m.artifacts.first?.precision ?? "fp32"
        XCTAssertThrowsError(try m.artifact(target: "nonexistent", precision: pr, graph: .encoder))
    }

    func testManifestErrorsNameTheProblem() throws {
        func message(_ json: String) -> String {
            do { _ = try Manifest.parse(Data(json.utf8)); return "parsed" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{\"schema_version\": 7}").contains("schema_version 7"))
        XCTAssertTrue(message("{\"schema_version\": 1, \"model\": {\"image_size\": 1024}}").contains("preprocess"))
        XCTAssertTrue(message("[1]").contains("manifest"))
        XCTAssertTrue(message("not json").contains("not valid JSON"))
    }

    func testSHA256KnownVectors() {
        // FIPS 180-2 examples.
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Crosses the 64-byte block boundary with a multi-block message.
        XCTAssertEqual(SHA256.hex(Data(repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
