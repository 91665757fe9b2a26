// Model-free golden vectors (pieces.json): each pipeline step on generated inputs.
import Foundation
import XCTest
@testable import TinySAMKit

final class PiecesTests: XCTestCase {
    var golden: Golden!
    var pieces: [String: Any]!

    override func setUpWithError() throws {
        golden = try Golden.locate()
        pieces = try golden.json(try jDictString(golden.index["pieces"], "index.pieces"))
    }

    func testResizeImageIsBitExactWithPIL() throws {
        let cases = try jList(pieces["resize_image"], "resize_image")
        XCTAssertFalse(cases.isEmpty, "pieces.resize_image is empty")
        for (k, any) in cases.enumerated() {
            let c = try jDict(any, "resize_image[\(k)]")
            let input = try golden.array(c["input"], "resize_image[\(k)].input")
            let img = try RGBImage(height: input.shape[0], width: input.shape[1], pixels: input.bytes)
            let size = try jInt(c["image_size"], "image_size")
            let out = try Transforms.resizeImage(img, imageSize: size)
            let stored = try jHW(c["resized_hw"], "resized_hw")
            XCTAssertEqual(out.hw, stored, "resize_image[\(k)] size")
            try golden.assertBytes(out.pixels, golden.array(c["output"], "output"), "resize_image[\(k)] \(img.hw)->\(stored)")
        }
    }

    func testResizedHW() throws {
        for (k, any) in try jList(pieces["resized_hw"], "resized_hw").enumerated() {
            let c = try jDict(any, "resized_hw[\(k)]")
            let got = try Transforms.resizedHW(try jHW(c["original_hw"], "original_hw"), imageSize: try jInt(c["image_size"], "image_size"))
            XCTAssertEqual(got, try jHW(c["resized_hw"], "resized_hw"), "resized_hw[\(k)]")
        }
    }

    func testCoordinateTransforms() throws {
        for (k, any) in try jList(pieces["coords"], "coords").enumerated() {
            let c = try jDict(any, "coords[\(k)]")
            let hw = try jHW(c["original_hw"], "original_hw"), s = try jInt(c["image_size"], "image_size")
            let pts = try golden.array(c["points_xy_image"], "points").floats.map(Double.init)
            let boxes = try golden.array(c["boxes_xyxy_image"], "boxes").floats.map(Double.init)
            let pm = try Transforms.coordsImageToModel(pts, originalHW: hw, imageSize: s)
            let bm = try Transforms.boxesImageToModel(boxes, originalHW: hw, imageSize: s)
            try golden.assertFloats(pm.map(Float.init), golden.array(c["points_xy_model"], "pm"), "coords[\(k)].points")
            try golden.assertFloats(bm.map(Float.init), golden.array(c["boxes_xyxy_model"], "bm"), "coords[\(k)].boxes")
            // Round trip back to the image frame.
            let back = try Transforms.coordsModelToImage(pm, originalHW: hw, imageSize: s)
            golden.assertFloats(back.map(Float.init), pts.map(Float.init), "coords[\(k)] model->image round trip")
        }
    }

    func testResizeBilinearMatchesTorch() throws {
        for (k, any) in try jList(pieces["resize_bilinear"], "resize_bilinear").enumerated() {
            let c = try jDict(any, "resize_bilinear[\(k)]")
            let x = try golden.array(c["input"], "input").floatTensor()
            let y = try Postprocess.resizeBilinear(x, outHW: try jHW(c["out_hw"], "out_hw"))
            let ref = try golden.array(c["output"], "output")
            XCTAssertEqual(y.shape, ref.shape, "resize_bilinear[\(k)] shape")
            try golden.assertFloats(y.data, ref, "resize_bilinear[\(k)]")
        }
    }

    func testUpscaleLogits() throws {
        for (k, any) in try jList(pieces["upscale_logits"], "upscale_logits").enumerated() {
            let c = try jDict(any, "upscale_logits[\(k)]")
            let low = try golden.array(c["low_res"], "low_res").floatTensor()
            let y = try Postprocess.upscaleLogits(
                low, resizedHW: try jHW(c["resized_hw"], "resized_hw"),
                originalHW: try jHW(c["original_hw"], "original_hw"), imageSize: try jInt(c["image_size"], "image_size"))
            let ref = try golden.array(c["output"], "output")
            XCTAssertEqual(y.shape, ref.shape, "upscale_logits[\(k)] shape")
            try golden.assertFloats(y.data, ref, "upscale_logits[\(k)]")
        }
    }

    func testStabilityScore() throws {
        let c = try jDict(pieces["stability_score"], "stability_score")
        let logits = try golden.array(c["logits"], "logits").floatTensor()
        let got = try Masks.stabilityScore(
            logits, maskThreshold: Float(try jDouble(c["mask_threshold"], "mask_threshold")),
            offset: Float(try jDouble(c["offset"], "offset")))
        try golden.assertFloats(got, golden.array(c["output"], "output"), "stability_score")
    }

    func testMaskToBox() throws {
        let c = try jDict(pieces["mask_to_box"], "mask_to_box")
        let m = try golden.array(c["masks"], "masks")
        let boxes = try Masks.maskToBox(try Tensor(shape: m.shape, data: m.bits))
        golden.assertInts(boxes.flatMap { $0 }, try golden.array(c["boxes"], "boxes").ints, "mask_to_box")
    }

    func testBoxNMS() throws {
        let c = try jDict(pieces["box_nms"], "box_nms")
        let b = try golden.array(c["boxes"], "boxes").ints.map(Double.init)
        let s = try golden.array(c["scores"], "scores").floats.map(Double.init)
        let boxes = stride(from: 0, to: b.count, by: 4).map { Array(b[$0..<($0 + 4)]) }
        let kept = try Masks.boxNMS(boxes, scores: s, iouThreshold: try jDouble(c["iou_threshold"], "iou_threshold"))
        golden.assertInts(kept, try jList(c["kept"], "kept").map { try jInt($0, "kept") }, "box_nms kept")
    }

    func testSmallRegions() throws {
        let cases = try jList(pieces["small_regions"], "small_regions")
        XCTAssertFalse(cases.isEmpty, "pieces.small_regions is empty")
        for (k, any) in cases.enumerated() {
            let c = try jDict(any, "small_regions[\(k)]")
            let m = try golden.array(c["mask"], "mask")
            let hw = HW(m.shape[0], m.shape[1])
            let mask = try m.bits
            // 8-connected labels, numbered in raster order of each component's first pixel.
            let (labels, sizes) = try Regions.labelComponents(mask, hw: hw)
            golden.assertInts(labels, try golden.array(c["labels"], "labels").ints, "small_regions[\(k)].labels")
            golden.assertInts(sizes, try jList(c["sizes"], "sizes").map { try jInt($0, "sizes") }, "small_regions[\(k)].sizes")
            for mode in [Regions.Mode.holes, .islands] {
                let want = try jDict(c[mode.rawValue], mode.rawValue)
                let (out, changed) = try Regions.removeSmallRegions(mask, hw: hw, areaThresh: try jInt(c["area_thresh"], "area_thresh"), mode: mode)
                // integers only: exact
                XCTAssertEqual(out, try golden.array(want["mask"], "mask").bits, "small_regions[\(k)].\(mode.rawValue) mask")
                XCTAssertEqual(changed, want["changed"] as? Bool, "small_regions[\(k)].\(mode.rawValue) changed")
            }
        }
    }

    func testRLE() throws {
        for (k, any) in try jList(pieces["rle"], "rle").enumerated() {
            let c = try jDict(any, "rle[\(k)]")
            let m = try golden.array(c["mask"], "mask")
            let h = m.shape[0], w = m.shape[1]
            let unc = try jDict(c["uncompressed"], "uncompressed")
            let rle = Masks.maskToRLE(try m.bits, h: h, w: w)
            golden.assertInts(rle.size, try jList(unc["size"], "size").map { try jInt($0, "size") }, "rle[\(k)].size")
            golden.assertInts(rle.counts, try jList(unc["counts"], "counts").map { try jInt($0, "counts") }, "rle[\(k)].counts")
            let coco = try jDict(c["coco"], "coco")
            let enc = Masks.cocoRLEEncode(try m.bits, h: h, w: w)
            XCTAssertEqual(enc.counts, coco["counts"] as? String, "rle[\(k)] COCO counts string")
            let dec = try Masks.cocoRLEDecode(size: [h, w], counts: try jDictString(coco["counts"], "counts"))
            XCTAssertEqual(dec, try m.bits, "rle[\(k)] COCO decode round trip")
            XCTAssertEqual(try Masks.rleToMask(counts: rle.counts, h: h, w: w), try m.bits, "rle[\(k)] decode")
        }
    }
}

func jDictString(_ any: Any?, _ what: String) throws -> String {
    guard let s = any as? String else { throw GoldenError.bad("\(what) is not a string") }
    return s
}
