// Loading models by URL through the manifest, behind a load/unload protocol (STYLE item 18):
// the app never uses Xcode-generated model classes. `ModelStore` resolves the artifacts of a
// target/precision from manifest.json, verifies them, and hands out sessions; the CoreML
// implementation lives in CoreMLSession.swift (compiled only where CoreML exists).
import Foundation

/// Where a model runs. Mirrors `MLComputeUnits` without importing CoreML.
public enum ComputeUnits: String, CaseIterable, Codable, Sendable {
    case cpuOnly = "cpu"
    case cpuAndGPU = "cpu_gpu"
    case cpuAndNeuralEngine = "cpu_ane"
    case all = "all"

    public var label: String {
        switch self {
        case .cpuOnly: return "CPU"
        case .cpuAndGPU: return "GPU"
        case .cpuAndNeuralEngine: return "Neural Engine"
        case .all: return "All"
        }
    }
}

/// A model that can be loaded and unloaded explicitly (memory pressure, compute-unit switch).
public protocol ManagedModel: AnyObject {
    var url: URL { get }
    var isLoaded: Bool { get }
    /// Load (compiling if needed) with the given compute units; a no-op when already loaded with them.
    func load(computeUnits: ComputeUnits) throws
    func unload()
    /// The loaded graph; throws when not loaded.
    func session() throws -> GraphSession
}

/// Creates a `ManagedModel` for an artifact (CoreML on Apple platforms).
public protocol ModelFactory {
    func makeModel(url: URL, spec: GraphSpec) throws -> ManagedModel
}

/// Both graphs of one bundle variant, resolved through the manifest.
public final class ModelStore {
    public let bundleDir: URL
    public let manifest: Manifest
    public let target: String
    public let precision: String
    public let encoder: ManagedModel
    public let decoder: ManagedModel

    /// - Parameters:
    ///   - precision: the artifacts' precision; nil: the manifest's default for `target`
    ///     (`Manifest.defaultPrecision(target:)`: int8 when the bundle has it, as
    ///     `tinysam-export --target coreml` writes by default).
    ///   - verify: check size and sha256 of the artifacts (files and `.mlpackage` folders)
    ///     against the manifest.
    public init(bundleDir: URL, target: String = "coreml", precision: String? = nil,
                factory: ModelFactory, verify: Bool = true) throws {
        let manifest = try Manifest.load(bundleDir: bundleDir)
        guard let precision = precision ?? manifest.defaultPrecision(target: target) else {
            let have = manifest.variants.map { "\($0.target)/\($0.precision)" }.joined(separator: ", ")
            throw TinySAMError.bundle("the bundle has no \(target) encoder + decoder pair (it has: \(have.isEmpty ? "none" : have)); export with tinysam-export --target \(target)")
        }
        func model(_ g: GraphName) throws -> ManagedModel {
            let a = try manifest.artifact(target: target, precision: precision, graph: g)
            let url = verify ? try Manifest.verify(bundleDir: bundleDir, artifact: a) : bundleDir.appendingPathComponent(a.file)
            guard let spec = manifest.graphs[g] else { throw TinySAMError.manifest("manifest has no spec for graph \(g.rawValue)") }
            return try factory.makeModel(url: url, spec: spec)
        }
        self.bundleDir = bundleDir
        self.manifest = manifest
        self.target = target
        self.precision = precision
        self.encoder = try model(.encoder)
        self.decoder = try model(.decoder)
    }

    /// Load both graphs and return a predictor configured from the manifest.
    public func predictor(computeUnits: ComputeUnits) throws -> Predictor {
        try encoder.load(computeUnits: computeUnits)
        try decoder.load(computeUnits: computeUnits)
        return Predictor(encoder: try encoder.session(), decoder: try decoder.session(), geometry: manifest.geometry,
                         pixelMean: manifest.pixelMean, maskThreshold: manifest.maskThreshold)
    }

    public func unload() { encoder.unload(); decoder.unload() }

    /// Sizes in bytes of the two artifacts as recorded in the manifest (for benchmarks).
    public var modelSizes: [String: Int] {
        var out: [String: Int] = [:]
        for g in GraphName.allCases {
            if let a = try? manifest.artifact(target: target, precision: precision, graph: g) { out[g.rawValue] = a.sizeBytes }
        }
        return out
    }
}
