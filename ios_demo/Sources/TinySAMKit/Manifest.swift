// manifest.json (schema_version 1), mirroring tinysam_mobile/manifest.py: the bundle's model
// geometry, preprocessing constants, graph tensor specs and artifacts (file, sha256, size).
// Parsed with JSONSerialization; errors name the file and the missing or bad key.
import Foundation

/// One tensor of a graph: a shape entry is a fixed size or a symbolic name ("num_prompts").
public struct TensorSpec: Equatable, Sendable {
    public enum Dim: Equatable, Sendable { case fixed(Int), symbolic(String) }
    public let name: String
    public let shape: [Dim]
    public let dtype: String
}

/// Inputs and outputs of one graph, in call order.
public struct GraphSpec: Equatable, Sendable {
    public let name: GraphName
    public let inputs: [TensorSpec]
    public let outputs: [TensorSpec]
    public var inputNames: [String] { inputs.map(\.name) }
    public var outputNames: [String] { outputs.map(\.name) }
}

/// One exported file of the bundle.
public struct Artifact: Equatable, Sendable {
    public let graph: GraphName
    public let target: String
    public let precision: String
    /// Path relative to the bundle folder.
    public let file: String
    public let sha256: String
    public let sizeBytes: Int
    /// `artifacts[].quantization.method` when the manifest records one: e.g. `weight_only` for
    /// int8 CoreML weights, `fp16_weights` for a graph of an int8 CoreML export whose int8 weights
    /// failed the exporter's gate (its file is still `*.int8.mlpackage`).
    public var quantizationMethod: String? = nil
}

public struct Manifest: Sendable {
    public static let fileName = "manifest.json"

    public let schemaVersion: Int
    public let modelName: String
    public let geometry: ModelGeometry
    public let pixelMean: [Float]
    public let pixelStd: [Float]
    public let maskThreshold: Float
    public let boxLabels: [Float]
    public let padLabel: Float
    public let graphs: [GraphName: GraphSpec]
    public let artifacts: [Artifact]
    public let createdBy: String

    /// The artifact of `graph` for a target ("coreml", "onnx", ...) and precision ("fp32", "int8").
    public func artifact(target: String, precision: String, graph: GraphName) throws -> Artifact {
        if let a = artifacts.first(where: { $0.target == target && $0.precision == precision && $0.graph == graph }) {
            return a
        }
        let have = artifacts.map { "\($0.target)/\($0.precision)/\($0.graph.rawValue)" }.joined(separator: ", ")
        throw TinySAMError.bundle("no \(graph.rawValue) artifact for target \(target), precision \(precision) (bundle has: \(have.isEmpty ? "none" : have))")
    }

    /// Precisions of `target` present for both graphs, in `Spec.mobileDefaultOrder` (int8 first,
    /// the exporter's default for mobile targets; unknown precisions last, in manifest order).
    public func precisions(target: String) -> [String] {
        let have = variants.filter { $0.target == target }.map(\.precision)
        func rank(_ p: String) -> Int { Spec.mobileDefaultOrder.firstIndex(of: p) ?? Spec.mobileDefaultOrder.count }
        return have.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
    }

    /// The precision an app opens first for `target`: the first of `precisions(target:)`; nil when
    /// the bundle has no complete pair for it.
    public func defaultPrecision(target: String) -> String? { precisions(target: target).first }

    /// One line on the weights of a variant when a graph's `quantization.method` says it differs
    /// from the precision in its name (CoreML int8 graphs kept at float16 weights), else nil.
    public func weightsNote(target: String, precision: String) -> String? {
        let kept = artifacts.filter { $0.target == target && $0.precision == precision && $0.quantizationMethod == "fp16_weights" }
        guard !kept.isEmpty else { return nil }
        return kept.map(\.graph.rawValue).sorted().joined(separator: " + ") + " kept float16 weights (int8 failed the export gate)"
    }

    /// Targets and precisions present for both graphs, in manifest order.
    public var variants: [(target: String, precision: String)] {
        var seen = Set<String>()
        var out: [(String, String)] = []
        for a in artifacts where seen.insert("\(a.target)/\(a.precision)").inserted {
            if artifacts.contains(where: { $0.target == a.target && $0.precision == a.precision && $0.graph != a.graph }) {
                out.append((a.target, a.precision))
            }
        }
        return out
    }

    /// Read `bundleDir/manifest.json`.
    public static func load(bundleDir: URL) throws -> Manifest {
        let url = bundleDir.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TinySAMError.manifest("\(url.path) is missing: \(bundleDir.path) is not a tinysam bundle")
        }
        do {
            return try parse(data)
        } catch TinySAMError.manifest(let m) {
            throw TinySAMError.manifest("\(url.path): \(m)")
        }
    }

    /// Parse manifest JSON bytes.
    public static func parse(_ data: Data) throws -> Manifest {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw TinySAMError.manifest("not valid JSON: \(error.localizedDescription)")
        }
        let d = try object(any, "manifest")
        let version = try int(d["schema_version"], "schema_version")
        guard version == Spec.schemaVersion else {
            throw TinySAMError.manifest("unsupported manifest schema_version \(version); this runtime reads version \(Spec.schemaVersion)")
        }
        let model = try object(d["model"], "model")
        let pre = try object(d["preprocess"], "preprocess")
        let geometry: ModelGeometry
        do { geometry = try ModelGeometry(imageSize: try int(model["image_size"], "model.image_size")) } catch let e as TinySAMError {
            throw TinySAMError.manifest("model.image_size is invalid: \(e)")
        }
        for (key, want) in [("embedding_hw", geometry.embeddingHW), ("low_res_hw", geometry.lowResHW)] {
            if let v = model[key] {
                let got = try (v as? [Any] ?? []).map { try int($0, "model.\(key)") }
                guard got == [want.h, want.w] else {
                    throw TinySAMError.manifest("model.\(key) is \(got) but image_size \(geometry.imageSize) implies [\(want.h), \(want.w)]")
                }
            }
        }
        let prompt = (d["prompt"] as? [String: Any]) ?? [:]
        var graphs: [GraphName: GraphSpec] = [:]
        for (k, v) in try object(d["graphs"], "graphs") {
            guard let name = GraphName(rawValue: k) else { throw TinySAMError.manifest("graphs has unknown graph \(k)") }
            let g = try object(v, "graphs.\(k)")
            graphs[name] = GraphSpec(name: name, inputs: try tensors(g["inputs"], "graphs.\(k).inputs"),
                                     outputs: try tensors(g["outputs"], "graphs.\(k).outputs"))
        }
        let missing = GraphName.allCases.filter { graphs[$0] == nil }.map(\.rawValue)
        guard missing.isEmpty else { throw TinySAMError.manifest("manifest 'graphs' lacks \(missing.joined(separator: ", "))") }
        guard let arts = d["artifacts"] as? [Any] else { throw TinySAMError.manifest("manifest 'artifacts' must be a list") }
        let artifacts = try arts.enumerated().map { i, a -> Artifact in
            let o = try object(a, "artifacts[\(i)]")
            let file = try string(o["file"], "artifacts[\(i)].file")
            guard let g = GraphName(rawValue: try string(o["graph"], "artifacts[\(i)].graph")) else {
                throw TinySAMError.manifest("artifact \(file) has unknown graph \(o["graph"] ?? "nil")")
            }
            return Artifact(graph: g, target: try string(o["target"], "artifacts[\(i)].target"),
                            precision: try string(o["precision"], "artifacts[\(i)].precision"), file: file,
                            sha256: try string(o["sha256"], "artifacts[\(i)].sha256"),
                            sizeBytes: try int(o["size_bytes"], "artifacts[\(i)].size_bytes"),
                            quantizationMethod: (o["quantization"] as? [String: Any])?["method"] as? String)
        }
        return Manifest(
            schemaVersion: version, modelName: (model["name"] as? String) ?? "vit_t", geometry: geometry,
            pixelMean: try triple(pre["pixel_mean"], "preprocess.pixel_mean"),
            pixelStd: try pre["pixel_std"].map { try triple($0, "preprocess.pixel_std") } ?? Spec.pixelStd,
            maskThreshold: Float(try model["mask_threshold"].map { try double($0, "model.mask_threshold") } ?? 0),
            boxLabels: try (prompt["box_labels"] as? [Any])?.map { Float(try double($0, "prompt.box_labels")) } ?? [2, 3],
            padLabel: Float(try prompt["pad_label"].map { try double($0, "prompt.pad_label") } ?? -1),
            graphs: graphs, artifacts: artifacts, createdBy: (d["created_by"] as? String) ?? "")
    }

    /// Check that an artifact's file, or folder (a CoreML `.mlpackage`), exists and has the
    /// recorded size and sha256 (`verify_artifact`, digests by `sha256Tree`).
    public static func verify(bundleDir: URL, artifact: Artifact) throws -> URL {
        let url = bundleDir.appendingPathComponent(artifact.file)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TinySAMError.bundle("artifact file is missing: \(url.path)")
        }
        let (digest, size) = try sha256Tree(url)
        guard size == artifact.sizeBytes else {
            throw TinySAMError.bundle("\(url.path) has \(size) bytes, manifest says \(artifact.sizeBytes)")
        }
        guard digest == artifact.sha256 else {
            throw TinySAMError.bundle("\(url.path) sha256 \(digest) != manifest \(artifact.sha256)")
        }
        return url
    }

    /// Hex sha256 and total size of a file or of a folder such as a `.mlpackage`; mirrors
    /// `manifest.sha256_tree`: a folder hashes, for every regular file below it sorted by its
    /// `/`-separated relative path (UTF-8 byte order = Python's code-point order), the line
    /// `"<relpath>\0<size>\0<sha256 of the file>\n"`.
    public static func sha256Tree(_ url: URL) throws -> (sha256: String, size: Int) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TinySAMError.bundle("artifact file is missing: \(url.path)")
        }
        func size(_ path: String) throws -> Int {
            (try fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
        }
        if !isDir.boolValue { return (try SHA256.hex(fileAt: url), try size(url.path)) }
        guard let walker = fm.enumerator(atPath: url.path) else {
            throw TinySAMError.bundle("cannot list the folder \(url.path)")
        }
        var files: [String] = []
        while let rel = walker.nextObject() as? String {
            var sub: ObjCBool = false
            if fm.fileExists(atPath: url.appendingPathComponent(rel).path, isDirectory: &sub), !sub.boolValue { files.append(rel) }
        }
        files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var digest = SHA256()
        var total = 0
        for rel in files {
            let file = url.appendingPathComponent(rel)
            let n = try size(file.path)
            total += n
            digest.update(Data("\(rel)\u{0}\(n)\u{0}\(try SHA256.hex(fileAt: file))\n".utf8))
        }
        return (digest.hexDigest(), total)
    }

    // MARK: JSON helpers

    static func object(_ v: Any?, _ what: String) throws -> [String: Any] {
        guard let o = v as? [String: Any] else { throw TinySAMError.manifest("\(what) is missing or not a JSON object") }
        return o
    }
    static func int(_ v: Any?, _ what: String) throws -> Int {
        guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
            throw TinySAMError.manifest("\(what) is missing or not an integer: \(String(describing: v))")
        }
        return n.intValue
    }
    static func double(_ v: Any?, _ what: String) throws -> Double {
        guard let n = v as? NSNumber else { throw TinySAMError.manifest("\(what) is not a number: \(String(describing: v))") }
        return n.doubleValue
    }
    static func string(_ v: Any?, _ what: String) throws -> String {
        guard let s = v as? String else { throw TinySAMError.manifest("\(what) is missing or not a string") }
        return s
    }
    static func triple(_ v: Any?, _ what: String) throws -> [Float] {
        guard let a = v as? [Any], a.count == 3 else { throw TinySAMError.manifest("\(what) must be three numbers, got \(String(describing: v))") }
        return try a.map { Float(try double($0, what)) }
    }
    static func tensors(_ v: Any?, _ what: String) throws -> [TensorSpec] {
        guard let a = v as? [Any] else { throw TinySAMError.manifest("\(what) must be a list") }
        return try a.enumerated().map { i, t in
            let o = try object(t, "\(what)[\(i)]")
            let shape = try (o["shape"] as? [Any] ?? []).map { s -> TensorSpec.Dim in
                if let name = s as? String { return .symbolic(name) }
                return .fixed(try int(s, "\(what)[\(i)].shape"))
            }
            return TensorSpec(name: try string(o["name"], "\(what)[\(i)].name"), shape: shape, dtype: (o["dtype"] as? String) ?? "float32")
        }
    }
}
