// tinysam-cli: inspect and verify a bundle produced by `tinysam-export`, with the package's own
// manifest reader (runs on Linux and macOS; model execution needs CoreML, see TinySAMKit.Predictor).
//
//   tinysam-cli info BUNDLE      geometry, preprocessing constants, graphs and artifacts
//   tinysam-cli verify BUNDLE    check every artifact's size and sha256 against manifest.json
import Foundation
import TinySAMKit

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: tinysam-cli (info|verify) BUNDLE_DIR\n".utf8))
    exit(2)
}

let args = CommandLine.arguments.dropFirst()
guard args.count == 2, let command = args.first, let path = args.last else { usage() }
let bundle = URL(fileURLWithPath: path)

do {
    let manifest = try Manifest.load(bundleDir: bundle)
    switch command {
    case "info":
        print("model: \(manifest.modelName), image_size \(manifest.geometry.imageSize), embedding \(manifest.geometry.embeddingHW), low-res \(manifest.geometry.lowResHW)")
        print("pixel_mean \(manifest.pixelMean), mask_threshold \(manifest.maskThreshold)")
        for g in GraphName.allCases {
            if let spec = manifest.graphs[g] { print("graph \(g.rawValue): \(spec.inputNames) -> \(spec.outputNames)") }
        }
        for a in manifest.artifacts {
            print("artifact \(a.graph.rawValue) \(a.target)/\(a.precision): \(a.file) (\(a.sizeBytes) bytes)")
        }
    case "verify":
        for a in manifest.artifacts {
            _ = try Manifest.verify(bundleDir: bundle, artifact: a)
            print("ok \(a.file)")
        }
    default:
        usage()
    }
} catch {
    FileHandle.standardError.write(Data("tinysam-cli: \(error)\n".utf8))
    exit(1)
}
