// CoreML backend: `GraphSession` over an MLModel loaded by URL, compute units selectable.
// Compiled only where CoreML exists (iOS / macOS); on Linux this file is empty, so it is NOT
// checked by the Linux CI (scripts/test_ios_pipeline.sh says so in its report).
#if canImport(CoreML)
import CoreML
import Foundation

extension ComputeUnits {
    var mlComputeUnits: MLComputeUnits {
        switch self {
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .all: return .all
        }
    }
}

/// An .mlpackage / .mlmodel / .mlmodelc from a bundle. Packages and specs are compiled on the
/// first `load` (`MLModel.compileModel`, into a temporary folder) and the compiled model is reused
/// by later loads of this object, e.g. after a compute-unit switch; a new app launch compiles again.
public final class CoreMLModel: ManagedModel {
    public let url: URL
    public let spec: GraphSpec
    private var model: MLModel?
    private var units: ComputeUnits?
    private var compiledURL: URL?

    public init(url: URL, spec: GraphSpec) {
        self.url = url
        self.spec = spec
    }

    public var isLoaded: Bool { model != nil }

    public func load(computeUnits: ComputeUnits) throws {
        if model != nil, units == computeUnits { return }
        let config = MLModelConfiguration()
        config.computeUnits = computeUnits.mlComputeUnits
        let compiled: URL
        if url.pathExtension == "mlmodelc" {
            compiled = url
        } else if let c = compiledURL {
            compiled = c
        } else {
            compiled = try MLModel.compileModel(at: url)
            compiledURL = compiled
        }
        model = try MLModel(contentsOf: compiled, configuration: config)
        units = computeUnits
    }

    public func unload() {
        model = nil
        units = nil
    }

    public func session() throws -> GraphSession {
        guard let m = model else { throw TinySAMError.invalidArgument("model \(url.lastPathComponent) is not loaded") }
        return CoreMLSession(model: m, spec: spec)
    }
}

public struct CoreMLModelFactory: ModelFactory {
    public init() {}
    public func makeModel(url: URL, spec: GraphSpec) throws -> ManagedModel { CoreMLModel(url: url, spec: spec) }
}

/// Runs one MLModel with float32 MLMultiArrays named as in the manifest's graph spec.
public final class CoreMLSession: GraphSession {
    public let spec: GraphSpec
    let model: MLModel

    init(model: MLModel, spec: GraphSpec) {
        self.model = model
        self.spec = spec
    }

    public func run(_ inputs: [String: Tensor<Float>]) throws -> [String: Tensor<Float>] {
        var features: [String: MLFeatureValue] = [:]
        for t in spec.inputs {
            guard let x = inputs[t.name] else {
                throw TinySAMError.invalidArgument("missing input \(t.name) for graph \(spec.name.rawValue)")
            }
            let array = try MLMultiArray(shape: x.shape.map { NSNumber(value: $0) }, dataType: .float32)
            array.withUnsafeMutableBufferPointer(ofType: Float.self) { ptr, _ in
                x.data.withUnsafeBufferPointer { src in ptr.baseAddress!.update(from: src.baseAddress!, count: x.count) }
            }
            features[t.name] = MLFeatureValue(multiArray: array)
        }
        let out = try model.prediction(from: try MLDictionaryFeatureProvider(dictionary: features))
        var result: [String: Tensor<Float>] = [:]
        for t in spec.outputs {
            guard let a = out.featureValue(for: t.name)?.multiArrayValue else {
                throw TinySAMError.invalidArgument("graph \(spec.name.rawValue) returned no \(t.name)")
            }
            result[t.name] = try Self.tensor(a)
        }
        return result
    }

    /// Copy an MLMultiArray (float32 or float16, possibly strided) into a row-major tensor.
    static func tensor(_ a: MLMultiArray) throws -> Tensor<Float> {
        let shape = a.shape.map(\.intValue)
        let strides = a.strides.map(\.intValue)
        let n = shape.reduce(1, *)
        var data = [Float](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<n {
            var rem = i
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                index[d] = rem % shape[d]
                rem /= shape[d]
            }
            let offset = zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }
            switch a.dataType {
            case .float32: data[i] = a.dataPointer.assumingMemoryBound(to: Float.self)[offset]
            case .double: data[i] = Float(a.dataPointer.assumingMemoryBound(to: Double.self)[offset])
            default: data[i] = a[offset].floatValue
            }
        }
        return try Tensor(shape: shape, data: data)
    }
}
#endif
