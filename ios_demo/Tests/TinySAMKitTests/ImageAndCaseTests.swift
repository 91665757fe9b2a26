// Golden images (preprocessing) and prompt cases (prompt encoding + postprocessing of the
// stored raw decoder outputs), step by step with the step names of the Python runtime.
import Foundation
import XCTest
@testable import TinySAMKit

final class ImageAndCaseTests: XCTestCase {
    var golden: Golden!
    var images: [String: [String: Any]] = [:]

    override func setUpWithError() throws {
        golden = try Golden.locate()
        for name in try golden.list("images") {
            let doc = try golden.json(name)
            images[try jDictString(doc["id"], "\(name).id")] = doc
        }
        XCTAssertFalse(images.isEmpty, "index.json lists no images")
    }

    func testPreprocessEveryImage() throws {
        for (id, doc) in images.sorted(by: { $0.key < $1.key }) {
            let rgbRef = try golden.array(doc["rgb"], "\(id).rgb")
            let img = try RGBImage(height: rgbRef.shape[0], width: rgbRef.shape[1], pixels: rgbRef.bytes)
            let s = try jInt(doc["image_size"], "image_size")
            XCTAssertEqual(img.hw, try jHW(doc["original_hw"], "original_hw"), "\(id) original_hw")
            // step: resized_hw
            XCTAssertEqual(try Transforms.resizedHW(img.hw, imageSize: s), try jHW(doc["resized_hw"], "resized_hw"), "\(id) resized_hw")
            // step: resize_image (PIL bilinear, bit exact)
            let resized = try Transforms.resizeImage(img, imageSize: s)
            try golden.assertBytes(resized.pixels, golden.array(doc["resized_rgb"], "resized_rgb"), "image \(id) resize_image")
            // step: preprocess (pad with the mean, NCHW float32)
            let mean = try (doc["pixel_mean"] as? [Any])?.map { Float(try jDouble($0, "pixel_mean")) } ?? Spec.pixelMean
            let x = try Transforms.preprocess(img, imageSize: s, pixelMean: mean)
            let ref = try golden.array(doc["encoder_input"], "encoder_input")
            XCTAssertEqual(x.shape, ref.shape, "\(id) encoder_input shape")
            try golden.assertFloats(x.data, ref, "image \(id) preprocess")
        }
    }

    func testEveryPromptCase() throws {
        let names = try golden.list("cases")
        XCTAssertFalse(names.isEmpty, "index.json lists no cases")
        var docs: [String: [String: Any]] = [:]
        for name in names {
            let d = try golden.json(name)
            docs[try jDictString(d["id"], "\(name).id")] = d
        }
        for (id, doc) in docs.sorted(by: { $0.key < $1.key }) {
            try checkCase(id, doc, docs)
        }
    }

    func checkCase(_ id: String, _ doc: [String: Any], _ all: [String: [String: Any]]) throws {
        let image = try XCTUnwrap(images[try jDictString(doc["image"], "image")], "\(id): unknown image")
        let hw = try jHW(image["original_hw"], "original_hw"), rhw = try jHW(image["resized_hw"], "resized_hw")
        let s = try jInt(image["image_size"], "image_size")
        let prompt = try jDict(doc["prompt"], "prompt")
        let inputs = try jDict(doc["decoder_inputs"], "decoder_inputs")
        let outputs = try jDict(doc["decoder_outputs"], "decoder_outputs")

        // step: encode_prompt (one prompt, or one single-point prompt per row when batched)
        let coordsList = (prompt["point_coords"] as? [[Any]]) ?? []
        let labelList = try ((prompt["point_labels"] as? [Any]) ?? []).map { try jInt($0, "label") }
        let points = try zip(coordsList, labelList).map { c, l in
            PromptPoint(x: try jDouble(c[0], "x"), y: try jDouble(c[1], "y"), label: l)
        }
        let box = try (prompt["box"] as? [Any]).map { b in
            PromptBox(x0: try jDouble(b[0], "box"), y0: try jDouble(b[1], "box"), x1: try jDouble(b[2], "box"), y1: try jDouble(b[3], "box"))
        }
        let encoded: [EncodedPrompt] = (prompt["batched"] as? Bool) == true
            ? try points.map { try Prompts.encodePrompt(originalHW: hw, imageSize: s, points: [$0]) }
            : [try Prompts.encodePrompt(originalHW: hw, imageSize: s, points: points, box: box)]
        let refCoords = try golden.array(inputs["point_coords"], "point_coords")
        XCTAssertEqual([encoded.count, encoded[0].numPoints, 2], refCoords.shape, "\(id) point_coords shape")
        try golden.assertFloats(encoded.flatMap(\.coords), refCoords, "case \(id) encode_prompt coords")
        golden.assertInts(encoded.flatMap(\.labels).map { Int($0) },
                          try golden.array(inputs["point_labels"], "point_labels").floats.map { Int($0) },
                          "case \(id) encode_prompt labels")

        // step: prepare_mask_input (refine: best multimask logits of the referenced case)
        let b = encoded.count
        let lowRes = try golden.array(outputs["low_res_masks"], "low_res_masks").floatTensor()
        let lowHW = HW(lowRes.shape[2], lowRes.shape[3])
        var previous: [Float]? = nil
        if let from = prompt["mask_input_from"] as? String {
            // mask_input_from names a case of the same image (case ids are "<image>__<case>").
            let srcId = "\(try jDictString(doc["image"], "image"))__\(from)"
            let src = try XCTUnwrap(all[srcId] ?? all[from], "\(id): mask_input_from \(from) is not a case of this image")
            let so = try jDict(src["decoder_outputs"], "decoder_outputs")
            let (sel, selIou) = try Postprocess.selectMasks(
                try golden.array(so["low_res_masks"], "low_res_masks").floatTensor(),
                iou: try golden.array(so["iou_predictions"], "iou").floatTensor(), multimaskOutput: true)
            let best = Postprocess.argmaxRows(selIou)[0]
            previous = sel.slice(0).slice(best).data
        }
        let (mask, has) = try Prompts.prepareMaskInput(previous, lowResHW: lowHW)
        try golden.assertFloats(Array(repeating: mask.data, count: b).flatMap { $0 },
                                golden.array(inputs["mask_input"], "mask_input"), "case \(id) prepare_mask_input")
        try golden.assertFloats(Array(repeating: has.data[0], count: b),
                                golden.array(inputs["has_mask_input"], "has_mask_input"), "case \(id) has_mask_input")

        // postprocessing of the stored raw outputs, multimask and single
        let iouAll = try golden.array(outputs["iou_predictions"], "iou_predictions").floatTensor()
        for (key, multi) in [("multimask", true), ("single", false)] {
            let sdoc = try jDict(doc[key], key)
            let what = "case \(id) \(key)"
            golden.assertInts(Postprocess.tokenIndices(multimaskOutput: multi),
                              try jList(sdoc["token_indices"], "token_indices").map { try jInt($0, "t") }, "\(what) token_indices")
            // step: select_masks
            let (sel, selIou) = try Postprocess.selectMasks(lowRes, iou: iouAll, multimaskOutput: multi)
            try golden.assertFloats(selIou.data, golden.array(sdoc["iou"], "iou"), "\(what) select_masks iou")
            golden.assertInts(Postprocess.argmaxRows(selIou), try jList(sdoc["best_index"], "best_index").map { try jInt($0, "b") }, "\(what) best_index")
            // step: upscale_logits
            let logits = try Postprocess.upscaleLogits(sel, resizedHW: rhw, originalHW: hw, imageSize: s)
            let samples = try jDict(sdoc["logit_samples"], "logit_samples")
            let idx = try jList(samples["index"], "index").map { try jList($0, "i").map { try jInt($0, "i") } }
            let st = [logits.shape[1] * logits.shape[2] * logits.shape[3], logits.shape[2] * logits.shape[3], logits.shape[3], 1]
            let got = idx.map { i in logits.data[zip(i, st).reduce(0) { $0 + $1.0 * $1.1 }] }
            let want = try jList(samples["values"], "values").map { Float(try jDouble($0, "v")) }
            XCTAssertFalse(want.isEmpty, "\(what): no logit samples")
            golden.assertFloats(got, want, "\(what) upscale_logits samples")
            // step: threshold
            let masks = Postprocess.threshold(logits, maskThreshold: Spec.maskThreshold)
            golden.assertMask(masks.data, try golden.array(sdoc["masks"], "masks").bits, "\(what) threshold masks")
            // step: mask_to_box
            golden.assertInts(try Masks.maskToBox(masks).flatMap { $0 }, try golden.array(sdoc["boxes"], "boxes").ints, "\(what) mask_to_box")
            // step: stability_score (image frame logits, offset as stored)
            let off = Float(try jDouble(sdoc["stability_offset"], "stability_offset"))
            try golden.assertFloats(try Masks.stabilityScore(logits, maskThreshold: Spec.maskThreshold, offset: off),
                                    golden.array(sdoc["stability_scores"], "stability_scores"), "\(what) stability_score")
            // areas
            let plane = hw.h * hw.w
            let areas = (0..<(masks.count / plane)).map { p in masks.data[(p * plane)..<((p + 1) * plane)].reduce(0) { $0 + ($1 ? 1 : 0) } }
            let refAreas = try jList(sdoc["areas"], "areas").flatMap { row -> [Int] in
                if let r = row as? [Any] { return try r.map { try jInt($0, "area") } }
                return [try jInt(row, "area")]
            }
            golden.assertInts(areas, refAreas, "\(what) areas")
        }
    }
}
