// Errors mirroring tinysam_mobile/errors.py. Messages name the problem (file, key, shape, value).
import Foundation

public enum TinySAMError: Error, CustomStringConvertible, Equatable {
    /// Bad image (empty, wrong channel count, zero size).
    case image(String)
    /// Bad prompt (outside the image, NaN, inverted box, bad labels).
    case prompt(String)
    /// Bundle problem (missing artifact, size or sha256 mismatch).
    case bundle(String)
    /// manifest.json problem (missing key, wrong schema version).
    case manifest(String)
    /// A backend that is not available on this platform (e.g. CoreML on Linux).
    case missingDependency(String)
    /// Any other invalid argument (shape mismatch, bad configuration).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .image(let m): return "ImageError: \(m)"
        case .prompt(let m): return "PromptError: \(m)"
        case .bundle(let m): return "BundleError: \(m)"
        case .manifest(let m): return "ManifestError: \(m)"
        case .missingDependency(let m): return "MissingDependencyError: \(m)"
        case .invalidArgument(let m): return "ValueError: \(m)"
        }
    }
}
