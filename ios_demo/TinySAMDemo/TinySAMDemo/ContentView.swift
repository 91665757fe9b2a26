// The single screen: pick an image, tap positive/negative points or drag a box, see the mask;
// "Everything" runs hierarchical mode with a progress bar; latencies and compute-unit switch.
import PhotosUI
import SwiftUI
import TinySAMKit

struct ContentView: View {
    @EnvironmentObject var model: SegmentViewModel
    @State private var pickerItem: PhotosPickerItem?
    @State private var dragStart: CGPoint?
    @State private var dragNow: CGPoint?

    var body: some View {
        NavigationStack {
            VStack(spacing: 12) {
                canvas
                controls
                LatencyView(latency: model.latency)
                Text(model.status).font(.footnote).foregroundStyle(.secondary).lineLimit(2)
            }
            .padding()
            .navigationTitle("TinySAM")
            .toolbar {
                ToolbarItem(placement: .navigationBarLeading) {
                    PhotosPicker(selection: $pickerItem, matching: .images) { Label("Image", systemImage: "photo") }
                }
                ToolbarItem(placement: .navigationBarTrailing) {
                    Menu {
                        Picker("Compute units", selection: $model.computeUnits) {
                            ForEach(ComputeUnits.allCases, id: \.self) { Text($0.label).tag($0) }
                        }
                        Picker("Precision", selection: $model.precision) {
                            ForEach(model.precisions, id: \.self) { Text($0).tag($0) }
                        }
                    } label: { Label("Settings", systemImage: "cpu") }
                }
            }
            .onChange(of: pickerItem) { item in
                Task {
                    if let data = try? await item?.loadTransferable(type: Data.self), let ui = UIImage(data: data) {
                        await model.pick(ui)
                    }
                }
            }
            .onChange(of: model.computeUnits) { _ in Task { await model.loadModels() } }
            .onChange(of: model.precision) { _ in Task { await model.loadModels() } }
        }
    }

    private var canvas: some View {
        GeometryReader { geo in
            if let ui = model.image {
                let fit = AspectFit(imageSize: ui.size, container: geo.size)
                ZStack(alignment: .topLeading) {
                    Image(uiImage: ui).resizable().frame(width: fit.size.width, height: fit.size.height)
                    if let m = model.everythingOverlay {
                        Image(decorative: m, scale: 1).resizable().frame(width: fit.size.width, height: fit.size.height)
                    }
                    if let m = model.maskOverlay {
                        Image(decorative: m, scale: 1).resizable().frame(width: fit.size.width, height: fit.size.height)
                    }
                    ForEach(Array(model.points.enumerated()), id: \.offset) { _, p in
                        Circle().fill(p.label == 1 ? Color.green : Color.red).frame(width: 14, height: 14)
                            .position(fit.toView(x: p.x, y: p.y, pixelSize: pixelSize))
                    }
                    if let b = model.box { boxRect(fit.toView(x: b.x0, y: b.y0, pixelSize: pixelSize), fit.toView(x: b.x1, y: b.y1, pixelSize: pixelSize)) }
                    if let a = dragStart, let c = dragNow { boxRect(a, c) }
                }
                .frame(width: fit.size.width, height: fit.size.height)
                .contentShape(Rectangle())
                .gesture(
                    DragGesture(minimumDistance: 0)
                        .onChanged { v in
                            if model.tapMode == .box { dragStart = v.startLocation; dragNow = v.location }
                        }
                        .onEnded { v in
                            let a = fit.toImage(v.startLocation, pixelSize: pixelSize), b = fit.toImage(v.location, pixelSize: pixelSize)
                            dragStart = nil
                            dragNow = nil
                            Task {
                                if model.tapMode == .box { await model.drag(from: a, to: b) } else { await model.tap(x: Double(b.x), y: Double(b.y)) }
                            }
                        }
                )
                .position(x: geo.size.width / 2, y: geo.size.height / 2)
            } else {
                ContentUnavailableHint().frame(maxWidth: .infinity, maxHeight: .infinity)
            }
        }
    }

    /// Pixel size of the picked image as the pipeline sees it (oriented, capped at 2048).
    private var pixelSize: CGSize {
        guard let ui = model.image else { return .zero }
        let s = min(1.0, 2048.0 / Double(max(ui.size.width, ui.size.height)))
        return CGSize(width: (Double(ui.size.width) * s).rounded(), height: (Double(ui.size.height) * s).rounded())
    }

    private func boxRect(_ a: CGPoint, _ b: CGPoint) -> some View {
        Rectangle().stroke(Color.yellow, lineWidth: 2)
            .frame(width: abs(b.x - a.x), height: abs(b.y - a.y))
            .position(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2)
    }

    private var controls: some View {
        VStack(spacing: 8) {
            Picker("Tap", selection: $model.tapMode) {
                ForEach(TapMode.allCases) { Text($0.rawValue).tag($0) }
            }
            .pickerStyle(.segmented)
            HStack {
                Button("Clear") { model.clearPrompt() }
                Spacer()
                if let p = model.everythingProgress {
                    ProgressView(value: p).frame(width: 140)
                }
                Button("Everything") { Task { await model.segmentEverything() } }
                    .buttonStyle(.borderedProminent)
                    .disabled(model.isBusy || model.image == nil)
            }
        }
    }
}

/// Placement of an aspect-fitted image inside a container, and the mapping between view points
/// and image pixels.
struct AspectFit {
    let size: CGSize

    init(imageSize: CGSize, container: CGSize) {
        let s = min(container.width / max(imageSize.width, 1), container.height / max(imageSize.height, 1))
        size = CGSize(width: imageSize.width * s, height: imageSize.height * s)
    }

    func toImage(_ p: CGPoint, pixelSize: CGSize) -> CGPoint {
        CGPoint(x: p.x / max(size.width, 1) * pixelSize.width, y: p.y / max(size.height, 1) * pixelSize.height)
    }

    func toView(x: Double, y: Double, pixelSize: CGSize) -> CGPoint {
        CGPoint(x: x / max(pixelSize.width, 1) * size.width, y: y / max(pixelSize.height, 1) * size.height)
    }
}

struct LatencyView: View {
    let latency: Latency

    var body: some View {
        HStack {
            item("Encoder", latency.encoderMs)
            item("Decoder", latency.decoderMs)
            item("Everything", latency.everythingMs)
        }
        .font(.caption.monospacedDigit())
    }

    private func item(_ name: String, _ ms: Double?) -> some View {
        VStack {
            Text(name).foregroundStyle(.secondary)
            Text(ms.map { String(format: "%.1f ms", $0) } ?? "–")
        }
        .frame(maxWidth: .infinity)
    }
}

struct ContentUnavailableHint: View {
    var body: some View {
        VStack(spacing: 8) {
            Image(systemName: "photo.on.rectangle").font(.largeTitle)
            Text("Pick an image, then tap to segment")
        }
        .foregroundStyle(.secondary)
    }
}
