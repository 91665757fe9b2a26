// Hierarchical everything mode (the official, tuned and regions runs of each golden image)
// replayed on the stored decoder outputs: every decoder input, kept index, score, box, the
// coverage map, the dense points, the NMS, the small-region cleanup and the final records.
import Foundation
import XCTest
@testable import TinySAMKit

/// A `MaskDecoding` that returns the stored raw outputs of each decoder call in order and
/// records what it was fed (the golden `_Recorder` in replay mode).
final class ReplayDecoder: MaskDecoding {
    let originalHW: HW
    let resizedHW: HW
    let imageSize: Int
    let maskThreshold: Float = Spec.maskThreshold
    let outputs: [(Tensor<Float>, Tensor<Float>)]
    var fed: [(Tensor<Float>, Tensor<Float>)] = []

    init(originalHW: HW, resizedHW: HW, imageSize: Int, outputs: [(Tensor<Float>, Tensor<Float>)]) {
        self.originalHW = originalHW
        self.resizedHW = resizedHW
        self.imageSize = imageSize
        self.outputs = outputs
    }

    func decode(pointCoords: Tensor<Float>, pointLabels: Tensor<Float>) throws -> (lowResMasks: Tensor<Float>, iouPredictions: Tensor<Float>) {
        guard fed.count < outputs.count else {
            throw TinySAMError.invalidArgument("decoder called \(fed.count + 1) times, only \(outputs.count) calls stored")
        }
        let out = outputs[fed.count]
        fed.append((pointCoords, pointLabels))
        return out
    }
}

final class EverythingTests: XCTestCase {
    func testGridMatchesNumpyLinspace() throws {
        // 1/(2n) ... 1 - 1/(2n), x fastest: independent of the golden files.
        let g = try EverythingGrid.makeGrid(pointsPerSide: 2)
        XCTAssertEqual(g, [0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75])
        XCTAssertThrowsError(try EverythingGrid.makeGrid(pointsPerSide: 0))
    }

    func testRemainingPointsIndexesRowFirst() throws {
        // 2x3 map with only (row 0, col 2) covered: the point x=2.5, y=0.5 is covered,
        // x=0.5, y=1.5 is not (a swapped x/y lookup would get both wrong).
        var cov = [Bool](repeating: false, count: 6)
        cov[2] = true
        let left = try EverythingGrid.remainingPoints([2.5, 0.5, 0.5, 1.5], covered: cov, hw: HW(2, 3))
        XCTAssertEqual(left, [0.5, 1.5])
    }

    func testHierarchicalEverythingReplay() throws {
        let golden = try Golden.locate()
        let names = try golden.list("everything")
        XCTAssertFalse(names.isEmpty, "index.json lists no everything files")
        var images: [String: [String: Any]] = [:]
        for name in try golden.list("images") {
            let d = try golden.json(name)
            images[try jDictString(d["id"], "id")] = d
        }
        for name in names {
            try replay(golden, try golden.json(name), images, name)
        }
    }

    func replay(_ golden: Golden, _ doc: [String: Any], _ images: [String: [String: Any]], _ name: String) throws {
        let image = try XCTUnwrap(images[try jDictString(doc["image"], "image")])
        let config = try EverythingConfig(json: try jDict(doc["config"], "config"))
        XCTAssertEqual(config.mode, .hierarchical, "\(name): golden everything is hierarchical")
        let coarseDoc = try jDict(doc["coarse"], "coarse"), denseDoc = try jDict(doc["dense"], "dense")
        let batches = try jList(coarseDoc["batches"], "batches") + jList(denseDoc["batches"], "batches")
        var stored: [(coords: Tensor<Float>, labels: Tensor<Float>, low: Tensor<Float>, iou: Tensor<Float>)] = []
        for (i, any) in batches.enumerated() {
            let b = try jDict(any, "batch \(i)")
            stored.append((try golden.array(b["point_coords"], "pc").floatTensor(), try golden.array(b["point_labels"], "pl").floatTensor(),
                           try golden.array(b["low_res_masks"], "lr").floatTensor(), try golden.array(b["iou_predictions"], "iou").floatTensor()))
        }
        let dec = ReplayDecoder(originalHW: try jHW(image["original_hw"], "original_hw"), resizedHW: try jHW(image["resized_hw"], "resized_hw"),
                                imageSize: try jInt(image["image_size"], "image_size"), outputs: stored.map { ($0.low, $0.iou) })
        var progressEvents = 0
        let result = try Everything.generate(dec, config: config, progress: { _ in progressEvents += 1 })

        // every decoder call: same number, same inputs
        XCTAssertEqual(dec.fed.count, stored.count, "\(name): decoder calls")
        XCTAssertEqual(progressEvents, stored.count, "\(name): one progress event per decoder batch")
        for (i, (c, l)) in dec.fed.enumerated() where i < stored.count {
            XCTAssertEqual(c.shape, stored[i].coords.shape, "\(name) batch \(i) point_coords shape")
            golden.assertFloats(c.data, stored[i].coords.data, "\(name) batch \(i) point_prompts coords")
            golden.assertFloats(l.data, stored[i].labels.data, "\(name) batch \(i) point_prompts labels")
        }
        // each pass
        for (key, pass) in [("coarse", result.passes[0]), ("dense", result.passes[1])] {
            let d = key == "coarse" ? coarseDoc : denseDoc
            let what = "\(name).\(key)"
            try golden.assertFloats(pass.pointsXYImage.map(Float.init), golden.array(d["points_xy_image"], "points"), "\(what) grid points")
            golden.assertInts(pass.keptAfterIou, try jList(d["kept_after_iou"], "k").map { try jInt($0, "k") }, "\(what) kept_after_iou")
            golden.assertInts(pass.keptAfterStability, try jList(d["kept_after_stability"], "k").map { try jInt($0, "k") }, "\(what) kept_after_stability")
            golden.assertInts(pass.kept, try jList(d["kept"], "k").map { try jInt($0, "k") }, "\(what) kept")
            try golden.assertFloats(pass.iouPreds, golden.array(d["iou_preds"], "iou"), "\(what) iou_preds")
            try golden.assertFloats(pass.stability, golden.array(d["stability"], "stab"), "\(what) stability")
            golden.assertInts(pass.boxes.flatMap { $0 }, try golden.array(d["boxes_xyxy"], "boxes").ints, "\(what) boxes")
            let rles = try jList(d["rles"], "rles").map { try jDictString(try jDict($0, "rle")["counts"], "counts") }
            XCTAssertEqual(pass.masks.map(\.cocoCounts), rles, "\(what) mask RLEs")
        }
        // union_high_confidence and remaining_points
        golden.assertMask(try XCTUnwrap(result.coverage), try golden.array(doc["coverage"], "coverage").bits, "\(name) union_high_confidence")
        try golden.assertFloats(try XCTUnwrap(result.densePointsXYImage).map(Float.init),
                                golden.array(doc["dense_points_xy_image"], "dense points"), "\(name) remaining_points")
        // merge + box NMS
        let m = try jDict(doc["merged"], "merged")
        golden.assertInts(result.merge.boxes.flatMap { $0 }, try golden.array(m["boxes"], "boxes").ints, "\(name) merged boxes")
        try golden.assertFloats(result.merge.scores, golden.array(m["scores"], "scores"), "\(name) merged scores")
        golden.assertInts(result.merge.kept, try jList(m["kept"], "kept").map { try jInt($0, "k") }, "\(name) box_nms kept")
        // SAM's small-region cleanup on the NMS-ordered masks (runs with min_mask_region_area > 0)
        let sr = doc["small_regions"] as? [String: Any]
        XCTAssertEqual(sr != nil, config.minMaskRegionArea > 0, "\(name): small_regions present iff min_mask_region_area > 0")
        if let sr {
            XCTAssertEqual(try jInt(sr["min_mask_region_area"], "min_mask_region_area"), config.minMaskRegionArea, "\(name) small_regions area")
            let masks = result.passes.flatMap(\.masks)
            let ordered = result.merge.kept.map { masks[$0] }
            XCTAssertEqual(ordered.count, try jInt(sr["input_count"], "input_count"), "\(name) small_regions.input_count")
            let cleaned = try Regions.postprocessSmallRegions(ordered, boxes: result.merge.kept.map { result.merge.boxes[$0] },
                                                              minArea: config.minMaskRegionArea, nmsThresh: config.boxNmsThresh)
            golden.assertInts(cleaned.kept, try jList(sr["kept"], "kept").map { try jInt($0, "k") }, "\(name) small_regions.kept")
        }
        // final records (SAM automatic-mask-generator keys)
        let final = try jDict(doc["final"], "final")
        let want = try jList(final["records"], "records").map { try jDict($0, "record") }
        XCTAssertEqual(try jInt(final["count"], "count"), want.count, "\(name) final.count")
        if try XCTUnwrap(doc["require_records"] as? Bool, "\(name): require_records") {
            XCTAssertFalse(want.isEmpty, "\(name): the writer must record final masks for this run")
            XCTAssertFalse(result.records.isEmpty, "\(name): everything mode returned no mask")
        }
        XCTAssertEqual(result.records.count, want.count, "\(name) final record count")
        let hw = result.originalHW
        for (i, (r, w)) in zip(result.records, want).enumerated() {
            let seg = try jDict(w["segmentation"], "segmentation")
            XCTAssertEqual(try jList(seg["size"], "size").map { try jInt($0, "size") }, [hw.h, hw.w], "\(name) records[\(i)].size")
            XCTAssertEqual(r.mask.cocoCounts, try jDictString(seg["counts"], "counts"), "\(name) records[\(i)].segmentation")
            XCTAssertEqual(r.mask.hw, hw)
            XCTAssertEqual(r.area, try jInt(w["area"], "area"), "\(name) records[\(i)].area")
            golden.assertInts(r.bboxXYWH, try jList(w["bbox"], "bbox").map { try jInt($0, "bbox") }, "\(name) records[\(i)].bbox")
            golden.assertInts([0, 0, hw.w, hw.h], try jList(w["crop_box"], "crop_box").map { try jInt($0, "crop_box") }, "\(name) records[\(i)].crop_box")
        }
        if result.records.count == want.count {
            golden.assertFloats(result.records.map(\.predictedIou), try want.map { Float(try jDouble($0["predicted_iou"], "predicted_iou")) },
                                "\(name) records.predicted_iou")
            golden.assertFloats(result.records.map(\.stabilityScore), try want.map { Float(try jDouble($0["stability_score"], "stability_score")) },
                                "\(name) records.stability_score")
            let points = try want.flatMap { w -> [Float] in
                let p = try jList(try jList(w["point_coords"], "point_coords").first, "point")
                return [Float(try jDouble(p[0], "x")), Float(try jDouble(p[1], "y"))]
            }
            golden.assertFloats(result.records.flatMap { [Float($0.point.x), Float($0.point.y)] }, points, "\(name) records.point_coords")
        }
        print("EVERYTHING-CHECKED \(name): run \(doc["run"] as? String ?? "?"), coarse kept \(result.passes[0].kept.count), dense kept \(result.passes[1].kept.count), final \(result.records.count)")
    }
}
