// Reading golden vectors (docs/GOLDEN.md) and comparing with the shared tolerances:
// integers exact; float32 |a - b| <= rtol * |b| + atolScale * max(1, max |stored|);
// binary masks: fraction of differing pixels <= maskMismatchFraction; digests byte-exact.
import Foundation
import XCTest
@testable import TinySAMKit

enum GoldenError: Error, CustomStringConvertible {
    case missing(String)
    case bad(String)
    var description: String {
        switch self {
        case .missing(let m): return "golden vectors missing: \(m)"
        case .bad(let m): return "golden vectors malformed: \(m)"
        }
    }
}

/// One stored array, decoded.
enum GoldenValues {
    case float32([Float])
    case int32([Int])
    case uint8([UInt8])
    case bits([Bool])
}

/// A reference of any form: file, fill or digest.
struct GoldenArray {
    let dtype: String
    let shape: [Int]
    /// nil for a digest.
    let values: GoldenValues?
    let sha256: String?
    let sampleIndex: [[Int]]
    let sampleValues: [Double]

    var count: Int { shape.reduce(1, *) }

    var floats: [Float] {
        get throws {
            guard case .float32(let v)? = values else { throw GoldenError.bad("expected stored float32, got \(dtype) \(sha256 != nil ? "digest" : "")") }
            return v
        }
    }
    var ints: [Int] {
        get throws {
            switch values {
            case .int32(let v)?: return v
            case .uint8(let v)?: return v.map(Int.init)
            default: throw GoldenError.bad("expected stored integers, got \(dtype)")
            }
        }
    }
    var bytes: [UInt8] {
        get throws {
            guard case .uint8(let v)? = values else { throw GoldenError.bad("expected stored uint8, got \(dtype)") }
            return v
        }
    }
    var bits: [Bool] {
        get throws {
            guard case .bits(let v)? = values else { throw GoldenError.bad("expected stored bits, got \(dtype)") }
            return v
        }
    }
    func floatTensor() throws -> Tensor<Float> { try Tensor(shape: shape, data: floats) }
}

/// The golden folder: JSON files plus bin/ arrays.
struct Golden {
    let root: URL
    let index: [String: Any]

    static let envKey = "TINYSAM_GOLDEN_DIR"

    /// Locate the golden folder: $TINYSAM_GOLDEN_DIR, else the `golden` resource copied into
    /// the test bundle. Throws (the test fails) when neither has an index.json.
    static func locate() throws -> Golden {
        var tried: [String] = []
        if let env = ProcessInfo.processInfo.environment[envKey], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            tried.append("\(envKey)=\(env)")
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("index.json").path) {
                return try Golden(root: url)
            }
            throw GoldenError.missing("\(envKey)=\(env) has no index.json")
        }
        if let res = Bundle.module.url(forResource: "golden", withExtension: nil) {
            tried.append(res.path)
            if FileManager.default.fileExists(atPath: res.appendingPathComponent("index.json").path) {
                return try Golden(root: res)
            }
        }
        throw GoldenError.missing(
            "no index.json found (tried: \(tried.joined(separator: ", "))). Generate them with "
                + "`python -m tinysam_mobile.golden --bundle DIR` and set \(envKey)=DIR/golden, or run "
                + "scripts/test_ios_pipeline.sh, which does both.")
    }

    init(root: URL) throws {
        self.root = root
        self.index = try Golden.readJSON(root.appendingPathComponent("index.json"))
        guard (index["schema_version"] as? Int) == Spec.schemaVersion else {
            throw GoldenError.bad("index.json schema_version \(index["schema_version"] ?? "nil") != \(Spec.schemaVersion)")
        }
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw GoldenError.missing("golden file is missing: \(url.path)")
        }
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GoldenError.bad("\(url.path) is not a JSON object")
        }
        return obj
    }

    func json(_ name: String) throws -> [String: Any] { try Golden.readJSON(root.appendingPathComponent(name)) }

    func list(_ key: String) throws -> [String] {
        guard let v = index[key] as? [String] else { throw GoldenError.bad("index.json has no list \(key)") }
        return v
    }

    var tolerances: (rtol: Double, atolScale: Double, maskFraction: Double) {
        let t = index["tolerances"] as? [String: Any] ?? [:]
        return ((t["float_rtol"] as? Double) ?? 1e-5, (t["float_atol_scale"] as? Double) ?? 1e-5,
                (t["mask_mismatch_fraction"] as? Double) ?? 1e-4)
    }

    /// Decode an array reference.
    func array(_ any: Any?, _ what: String) throws -> GoldenArray {
        guard let ref = any as? [String: Any], let dtype = ref["dtype"] as? String,
              let shape = ref["shape"] as? [Int] else {
            throw GoldenError.bad("\(what) is not an array reference: \(String(describing: any))")
        }
        let n = shape.reduce(1, *)
        if let fill = ref["fill"] {
            let v = (fill as? NSNumber)?.doubleValue ?? 0
            let values: GoldenValues
            switch dtype {
            case "float32": values = .float32(Array(repeating: Float(v), count: n))
            case "int32": values = .int32(Array(repeating: Int(v), count: n))
            case "uint8": values = .uint8(Array(repeating: UInt8(v), count: n))
            case "bits": values = .bits(Array(repeating: v != 0, count: n))
            default: throw GoldenError.bad("\(what): unknown dtype \(dtype)")
            }
            return GoldenArray(dtype: dtype, shape: shape, values: values, sha256: nil, sampleIndex: [], sampleValues: [])
        }
        if let sha = ref["sha256"] as? String {
            let samples = ref["samples"] as? [String: Any] ?? [:]
            let idx = samples["index"] as? [[Int]] ?? []
            let vals = (samples["values"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan }
            return GoldenArray(dtype: dtype, shape: shape, values: nil, sha256: sha, sampleIndex: idx, sampleValues: vals)
        }
        guard let file = ref["file"] as? String else { throw GoldenError.bad("\(what): no file, fill or sha256") }
        let url = root.appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw GoldenError.missing("golden array file is missing: \(url.path)")
        }
        let bytes = [UInt8](data)
        func need(_ k: Int) throws {
            guard bytes.count == k else { throw GoldenError.bad("\(url.path): \(bytes.count) bytes, expected \(k) for \(dtype) \(shape)") }
        }
        let values: GoldenValues
        switch dtype {
        case "float32":
            try need(4 * n)
            values = .float32((0..<n).map { i in Float(bitPattern: le32(bytes, i)) })
        case "int32":
            try need(4 * n)
            values = .int32((0..<n).map { i in Int(Int32(bitPattern: le32(bytes, i))) })
        case "uint8":
            try need(n)
            values = .uint8(bytes)
        case "bits":
            try need((n + 7) / 8)
            values = .bits((0..<n).map { i in (bytes[i / 8] >> (7 - UInt8(i % 8))) & 1 == 1 })
        default:
            throw GoldenError.bad("\(what): unknown dtype \(dtype)")
        }
        return GoldenArray(dtype: dtype, shape: shape, values: values, sha256: nil, sampleIndex: [], sampleValues: [])
    }

    // MARK: comparisons (each records an XCTest failure naming `what` and returns pass/fail)

    @discardableResult
    func assertFloats(_ actual: [Float], _ expected: [Float], _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard actual.count == expected.count else {
            XCTFail("\(what): \(actual.count) values != stored \(expected.count)", file: file, line: line)
            return false
        }
        let t = tolerances
        let scale = max(1.0, expected.map { abs(Double($0)) }.max() ?? 0)
        var bad = 0, first = -1
        for i in 0..<expected.count {
            let a = Double(actual[i]), e = Double(expected[i])
            if !(abs(a - e) <= t.rtol * abs(e) + t.atolScale * scale) {
                bad += 1
                if first < 0 { first = i }
            }
        }
        if bad > 0 {
            XCTFail("\(what): \(bad) of \(expected.count) values off tolerance, first at \(first): \(actual[first]) vs stored \(expected[first])", file: file, line: line)
        }
        return bad == 0
    }

    @discardableResult
    func assertFloats(_ actual: [Float], _ ref: GoldenArray, _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        if ref.sha256 != nil { return try assertDigest(floatBytes(actual), actualFloats: actual.map(Double.init), ref, what, file: file, line: line) }
        return assertFloats(actual, try ref.floats, what, file: file, line: line)
    }

    @discardableResult
    func assertInts(_ actual: [Int], _ expected: [Int], _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard actual == expected else {
            let i = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTFail("\(what): integers differ (\(actual.count) vs stored \(expected.count) values), first at \(i.map(String.init) ?? "length"): \(i.map { "\(actual[$0]) vs stored \(expected[$0])" } ?? "")", file: file, line: line)
            return false
        }
        return true
    }

    @discardableResult
    func assertBytes(_ actual: [UInt8], _ ref: GoldenArray, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        if ref.sha256 != nil { return try assertDigest(actual, actualFloats: actual.map(Double.init), ref, what, file: file, line: line) }
        return assertInts(actual.map(Int.init), try ref.bytes.map(Int.init), what, file: file, line: line)
    }

    @discardableResult
    func assertMask(_ actual: [Bool], _ expected: [Bool], _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard actual.count == expected.count else {
            XCTFail("\(what): \(actual.count) pixels != stored \(expected.count)", file: file, line: line)
            return false
        }
        let diff = zip(actual, expected).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) }
        if Double(diff) > tolerances.maskFraction * Double(max(expected.count, 1)) {
            XCTFail("\(what): \(diff) of \(expected.count) mask pixels differ", file: file, line: line)
            return false
        }
        return true
    }

    /// A digest: sha256 of the little-endian bytes, byte-exact; samples with the dtype's rule.
    func assertDigest(_ bytes: [UInt8], actualFloats: [Double], _ ref: GoldenArray, _ what: String,
                      file: StaticString, line: UInt) throws -> Bool {
        var ok = true
        let digest = SHA256.hex(Data(bytes))
        if digest != ref.sha256 {
            XCTFail("\(what): sha256 \(digest.prefix(12))... != stored \(ref.sha256!.prefix(12))...", file: file, line: line)
            ok = false
        }
        var strides = [Int](repeating: 1, count: ref.shape.count)
        for k in stride(from: ref.shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * ref.shape[k + 1] }
        let got = ref.sampleIndex.map { idx in actualFloats[zip(idx, strides).reduce(0) { $0 + $1.0 * $1.1 }] }
        if ref.dtype == "float32" {
            ok = assertFloats(got.map(Float.init), ref.sampleValues.map(Float.init), "\(what) samples", file: file, line: line) && ok
        } else {
            ok = assertInts(got.map { Int($0) }, ref.sampleValues.map { Int($0) }, "\(what) samples", file: file, line: line) && ok
        }
        XCTAssertGreaterThan(ref.sampleIndex.count, 0, "\(what): digest has no samples", file: file, line: line)
        return ok
    }

    func floatBytes(_ v: [Float]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(v.count * 4)
        for f in v {
            let b = f.bitPattern
            out += [UInt8(b & 0xff), UInt8((b >> 8) & 0xff), UInt8((b >> 16) & 0xff), UInt8(b >> 24)]
        }
        return out
    }
}

/// Helpers for loosely typed JSON.
func jInt(_ any: Any?, _ what: String) throws -> Int {
    guard let n = any as? NSNumber else { throw GoldenError.bad("\(what) is not a number: \(String(describing: any))") }
    return n.intValue
}
func jDouble(_ any: Any?, _ what: String) throws -> Double {
    guard let n = any as? NSNumber else { throw GoldenError.bad("\(what) is not a number: \(String(describing: any))") }
    return n.doubleValue
}
func jHW(_ any: Any?, _ what: String) throws -> HW {
    guard let a = any as? [Any], a.count == 2 else { throw GoldenError.bad("\(what) is not [h, w]: \(String(describing: any))") }
    return HW(try jInt(a[0], what), try jInt(a[1], what))
}
func jDict(_ any: Any?, _ what: String) throws -> [String: Any] {
    guard let d = any as? [String: Any] else { throw GoldenError.bad("\(what) is not an object") }
    return d
}
func jList(_ any: Any?, _ what: String) throws -> [Any] {
    guard let d = any as? [Any] else { throw GoldenError.bad("\(what) is not a list") }
    return d
}

/// The `i`-th little-endian 32-bit word of `bytes`.
func le32(_ bytes: [UInt8], _ i: Int) -> UInt32 {
    var v: UInt32 = 0
    for k in 0..<4 {
        let b: UInt32 = UInt32(bytes[4 * i + k])
        v |= b << UInt32(8 * k)
    }
    return v
}
