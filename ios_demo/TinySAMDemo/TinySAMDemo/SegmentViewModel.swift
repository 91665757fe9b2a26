// State of the demo: the models (loaded through manifest.json with a selectable compute unit and
// precision), the image, the prompt, the masks and the latencies. Inference runs off the main
// actor on one serial queue: the encoder once per image, the decoder once per tap.
import CoreGraphics
import Foundation
import SwiftUI
import TinySAMKit
import UIKit

enum TapMode: String, CaseIterable, Identifiable {
    case positive = "Positive"
    case negative = "Negative"
    case box = "Box"
    var id: String { rawValue }
}

struct Latency {
    var encoderMs: Double?
    var decoderMs: Double?
    var everythingMs: Double?
}

@MainActor
final class SegmentViewModel: ObservableObject {
    @Published var image: UIImage?
    @Published var points: [PromptPoint] = []
    @Published var box: PromptBox?
    @Published var tapMode: TapMode = .positive
    @Published var maskOverlay: CGImage?
    @Published var everythingOverlay: CGImage?
    @Published var everythingProgress: Double?
    @Published var latency = Latency()
    @Published var status = "Loading models…"
    @Published var isBusy = false
    @Published var computeUnits: ComputeUnits = .all
    /// The CoreML precision in use; empty until the manifest is read, then the manifest's default
    /// (int8 when the bundle has it) or the user's pick among `precisions`.
    @Published var precision = ""
    /// CoreML precisions manifest.json lists for both graphs, int8 first.
    @Published private(set) var precisions: [String] = []

    /// Folder reference "Models" in the app bundle: manifest.json + coreml/ artifacts, copied by
    /// TinySAMDemo/copy_bundle.sh from a `tinysam-export --target coreml` (or `--target all`) bundle.
    let bundleDir = Bundle.main.url(forResource: "Models", withExtension: nil)
    static let target = "coreml"
    private var store: ModelStore?
    /// The (precision, compute units) loaded or being loaded: the onChange handlers of the pickers
    /// call loadModels again when loadModels itself sets `precision`; such a call returns at once.
    private var requested: (precision: String, units: ComputeUnits)?
    private var predictor: Predictor?
    private var rgb: RGBImage?
    private let worker = DispatchQueue(label: "dev.tinysam.inference", qos: .userInitiated)

    /// Run `body` on the inference queue and return its result on the main actor.
    private func onWorker<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            worker.async { cont.resume(with: Result { try body() }) }
        }
    }

    func loadModels() async {
        guard let dir = bundleDir else {
            status = "No Models folder in the app: run copy_bundle.sh BUNDLE (see README)"
            return
        }
        do {
            let manifest = try Manifest.load(bundleDir: dir)
            precisions = manifest.precisions(target: Self.target)
            guard let fallback = manifest.defaultPrecision(target: Self.target) else {
                let have = manifest.variants.map { "\($0.target) \($0.precision)" }.joined(separator: ", ")
                status = "The Models folder has no CoreML encoder + decoder (it has: \(have.isEmpty ? "none" : have)); "
                    + "export with --target coreml or --target all and run copy_bundle.sh"
                return
            }
            if !precisions.contains(precision) { precision = fallback }
            let units = computeUnits, prec = precision, old = store, target = Self.target
            if let r = requested, r.precision == prec, r.units == units { return }
            requested = (prec, units)
            isBusy = true
            defer { isBusy = false }
            store = nil
            predictor = nil
            let (s, p) = try await onWorker { () -> (ModelStore, Predictor) in
                old?.unload()
                let s = try ModelStore(bundleDir: dir, target: target, precision: prec, factory: CoreMLModelFactory())
                return (s, try s.predictor(computeUnits: units))
            }
            // A newer request (another precision or compute unit) started meanwhile: it wins.
            guard let r = requested, r.precision == prec, r.units == units else {
                _ = try? await onWorker { s.unload() }
                return
            }
            store = s
            predictor = p
            let note = manifest.weightsNote(target: Self.target, precision: prec).map { " (\($0))" } ?? ""
            status = "Models: \(Self.target) \(prec) on \(units.label)\(note)"
            if let rgb { try await encode(rgb) }
        } catch {
            requested = nil
            status = "Could not load models: \(error)"
        }
    }

    func pick(_ uiImage: UIImage) async {
        image = uiImage
        clearPrompt()
        everythingOverlay = nil
        do {
            let rgb = try ImageBridge.rgbImage(from: uiImage)
            self.rgb = rgb
            try await encode(rgb)
        } catch {
            status = "Image error: \(error)"
        }
    }

    private func encode(_ rgb: RGBImage) async throws {
        guard let predictor else { return }
        isBusy = true
        defer { isBusy = false }
        let ms = try await onWorker { try PhoneBenchmark.time { try predictor.setImage(rgb) } }
        latency.encoderMs = ms
        status = "Image \(rgb.width)x\(rgb.height) encoded"
    }

    /// A tap at image-pixel coordinates (a drag that ends off the image is clamped onto it).
    func tap(x: Double, y: Double) async {
        guard tapMode != .box, let rgb else { return }
        let px = min(max(x, 0), Double(rgb.width)), py = min(max(y, 0), Double(rgb.height))
        points.append(PromptPoint(x: px, y: py, label: tapMode == .positive ? 1 : 0))
        await decode()
    }

    /// A drag in box mode, image-pixel coordinates.
    func drag(from a: CGPoint, to b: CGPoint) async {
        guard tapMode == .box, let rgb else { return }
        func clampX(_ v: CGFloat) -> Double { min(max(Double(v), 0), Double(rgb.width)) }
        func clampY(_ v: CGFloat) -> Double { min(max(Double(v), 0), Double(rgb.height)) }
        box = PromptBox(x0: clampX(min(a.x, b.x)), y0: clampY(min(a.y, b.y)), x1: clampX(max(a.x, b.x)), y1: clampY(max(a.y, b.y)))
        await decode()
    }

    func clearPrompt() {
        points = []
        box = nil
        maskOverlay = nil
    }

    private func decode() async {
        guard let predictor, predictor.isImageSet else { return }
        let pts = points, bx = box
        do {
            var result: Prediction?
            let ms = try await onWorker { () -> Double in
                try PhoneBenchmark.time { result = try predictor.predict(points: pts, box: bx, multimaskOutput: true) }
            }
            guard let pred = result else { return }
            latency.decoderMs = ms
            let hw = HW(pred.masks.shape[1], pred.masks.shape[2])
            let best = Array(pred.masks.data[(pred.bestIndex * hw.h * hw.w)..<((pred.bestIndex + 1) * hw.h * hw.w)])
            maskOverlay = ImageBridge.overlay(masks: [best], hw: hw, colors: [(30, 144, 255)])
            status = String(format: "Mask %d of %d, predicted IoU %.3f", pred.bestIndex + 1, pred.iou.count, pred.iou[pred.bestIndex])
        } catch {
            status = "Prompt error: \(error)"
        }
    }

    /// Hierarchical everything mode with a progress bar.
    func segmentEverything() async {
        guard let predictor, predictor.isImageSet else { return }
        isBusy = true
        everythingProgress = 0
        defer { isBusy = false; everythingProgress = nil }
        var config = EverythingConfig()
        config.mode = .hierarchical
        let coarseBatches = Double((config.coarsePointsPerSide * config.coarsePointsPerSide + config.pointsPerBatch - 1) / config.pointsPerBatch)
        let fullBatches = Double((config.pointsPerSide * config.pointsPerSide + config.pointsPerBatch - 1) / config.pointsPerBatch)
        do {
            var result: EverythingResult?
            let ms = try await onWorker { () -> Double in
                try PhoneBenchmark.time {
                    result = try Everything.generate(predictor, config: config) { p in
                        // Coarse batches first, then at most the full grid's batches.
                        let done = p.pass == "coarse" ? Double(p.batch) : coarseBatches + Double(p.batch) * fullBatches / Double(max(p.batches, 1))
                        let fraction = min(1, done / (coarseBatches + fullBatches))
                        Task { @MainActor in self.everythingProgress = fraction }
                    }
                }
            }
            guard let r = result else { return }
            latency.everythingMs = ms
            let masks = try r.records.map { try $0.mask.decode() }
            everythingOverlay = ImageBridge.overlay(masks: masks, hw: r.originalHW, colors: ImageBridge.palette(masks.count))
            status = "Everything: \(r.records.count) masks from \(r.passes.map(\.decoderCalls).reduce(0, +)) decoder calls"
        } catch {
            status = "Everything failed: \(error)"
        }
    }
}
