// Hierarchical everything mode replayed on the stored decoder outputs: every decoder input,
// kept index, score, box, the coverage map, the dense points, the NMS and the final COCO RLEs.
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
        // Vectors of a random-weight model keep nothing; the test script allows that only when
        // told so (--allow-empty-everything), and then a second folder must exercise the filters.
        if ProcessInfo.processInfo.environment["TINYSAM_ALLOW_EMPTY_EVERYTHING"] != "1" {
            XCTAssertFalse(result.passes[0].kept.isEmpty || result.passes[1].kept.isEmpty,
                           "\(name): a pass keeps no mask, so its filters are not exercised by these vectors")
            XCTAssertFalse(result.records.isEmpty, "\(name): everything mode returns no mask")
        }
        print("EVERYTHING-CHECKED \(name): coarse kept \(result.passes[0].kept.count), dense kept \(result.passes[1].kept.count), final \(result.records.count)")
        // union_high_confidence and remaining_points
        golden.assertMask(try XCTUnwrap(result.coverage), try golden.array(doc["coverage"], "coverage").bits, "\(name) union_high_confidence")
        try golden.assertFloats(try XCTUnwrap(result.densePointsXYImage).map(Float.init),
                                golden.array(doc["dense_points_xy_image"], "dense points"), "\(name) remaining_points")
        // merge + box NMS
        let m = try jDict(doc["merged"], "merged")
        golden.assertInts(result.merge.boxes.flatMap { $0 }, try golden.array(m["boxes"], "boxes").ints, "\(name) merged boxes")
        try golden.assertFloats(result.merge.scores, golden.array(m["scores"], "scores"), "\(name) merged scores")
        golden.assertInts(result.merge.kept, try jList(m["kept"], "kept").map { try jInt($0, "k") }, "\(name) box_nms kept")
        // final records
        let final = try jDict(doc["final"], "final")
        let want = try jList(final["rles"], "rles").map { try jDictString(try jDict($0, "rle")["counts"], "counts") }
        XCTAssertEqual(result.records.map(\.mask.cocoCounts), want, "\(name) final COCO RLEs")
        for r in result.records { XCTAssertEqual(r.mask.hw, result.originalHW) }
    }
}
