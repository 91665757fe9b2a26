// Everything-mode configuration, mirroring tinysam_mobile/everything/config.py (same field
// names in snake_case JSON, same defaults: TinySAM's hierarchical mode on a 32x32 grid).
import Foundation

public struct EverythingConfig: Equatable, Sendable {
    public enum Mode: String, Sendable { case hierarchical, grid }
    /// Where the stability score is computed (see `EverythingPass`).
    public enum StabilityFrame: String, Sendable {
        /// On the low-res logits cropped to the image area; rejected masks are never upscaled.
        case lowRes = "low_res"
        /// SAM's order: on logits upscaled to the original image, after the IoU filter.
        case image
        /// Low-res score rejects below `thresh - margin`; the rest get the image-frame score.
        case prefilter
    }

    public var mode: Mode = .hierarchical
    public var pointsPerSide = 32
    public var pointsPerBatch = 64
    public var predIouThresh = 0.88
    public var stabilityScoreThresh = 0.95
    public var stabilityScoreOffset = 1.0
    /// A logit (not a probability) above which a kept coarse mask marks pixels covered.
    public var highScoreThresh = 8.5
    public var boxNmsThresh = 0.7
    /// If > 0, SAM's small-region cleanup: holes and islands smaller than this many pixels are
    /// filled / removed from the final masks, then box NMS runs again (see `Regions`). 0 disables.
    public var minMaskRegionArea = 0
    public var stabilityFrame: StabilityFrame = .lowRes
    public var stabilityPrefilterMargin = 0.05

    /// Points per side of the first hierarchical pass: max(1, pointsPerSide / 4).
    public var coarsePointsPerSide: Int { max(1, pointsPerSide / 4) }

    public init() {}

    /// Check the values like the Python dataclass does.
    public func validate() throws {
        func bad(_ m: String) -> TinySAMError { .invalidArgument("EverythingConfig: \(m)") }
        guard pointsPerSide >= 1 else { throw bad("points_per_side must be >= 1, got \(pointsPerSide)") }
        guard pointsPerBatch >= 1 else { throw bad("points_per_batch must be >= 1, got \(pointsPerBatch)") }
        guard minMaskRegionArea >= 0 else { throw bad("min_mask_region_area must be >= 0, got \(minMaskRegionArea)") }
        for (name, v) in [("pred_iou_thresh", predIouThresh), ("stability_score_thresh", stabilityScoreThresh),
                          ("stability_score_offset", stabilityScoreOffset), ("high_score_thresh", highScoreThresh),
                          ("box_nms_thresh", boxNmsThresh)] where !v.isFinite {
            throw bad("\(name) must be finite, got \(v)")
        }
        guard stabilityScoreOffset >= 0 else { throw bad("stability_score_offset must be >= 0, got \(stabilityScoreOffset)") }
        guard (0...1).contains(boxNmsThresh) else { throw bad("box_nms_thresh must be in [0, 1], got \(boxNmsThresh)") }
        guard (0...1).contains(stabilityPrefilterMargin) else {
            throw bad("stability_prefilter_margin must be in [0, 1], got \(stabilityPrefilterMargin)")
        }
    }

    /// Read the `config` object of a golden everything file or of `EverythingConfig.to_json()`.
    ///
    /// - Throws: for unknown modes / frames / output modes, non-integer counts and values that
    ///   fail `validate()`. `output_mode` only selects how Python returns masks; TinySAMKit
    ///   always returns `RLEMask`s, which decode to the binary mask and encode to COCO RLE.
    public init(json d: [String: Any]) throws {
        func num(_ k: String) -> Double? { (d[k] as? NSNumber)?.doubleValue }
        func int(_ k: String) throws -> Int? {
            guard let v = num(k) else { return nil }
            guard v == v.rounded(), abs(v) < 1e15 else { throw TinySAMError.invalidArgument("\(k) must be an integer, got \(v)") }
            return Int(v)
        }
        if let m = d["mode"] as? String {
            guard let v = Mode(rawValue: m) else { throw TinySAMError.invalidArgument("unknown everything mode \(m)") }
            mode = v
        }
        if let f = d["stability_frame"] as? String {
            guard let v = StabilityFrame(rawValue: f) else { throw TinySAMError.invalidArgument("unknown stability_frame \(f)") }
            stabilityFrame = v
        }
        if let v = try int("points_per_side") { pointsPerSide = v }
        if let v = try int("points_per_batch") { pointsPerBatch = v }
        if let v = num("pred_iou_thresh") { predIouThresh = v }
        if let v = num("stability_score_thresh") { stabilityScoreThresh = v }
        if let v = num("stability_score_offset") { stabilityScoreOffset = v }
        if let v = num("high_score_thresh") { highScoreThresh = v }
        if let v = num("box_nms_thresh") { boxNmsThresh = v }
        if let v = num("stability_prefilter_margin") { stabilityPrefilterMargin = v }
        if let v = try int("min_mask_region_area") { minMaskRegionArea = v }
        if let m = d["output_mode"] as? String, !["binary_mask", "coco_rle", "uncompressed_rle"].contains(m) {
            throw TinySAMError.invalidArgument("unknown output_mode \(m)")
        }
        try validate()
    }
}
