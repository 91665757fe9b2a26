// swift-tools-version:5.9
// TinySAMKit: the tinysam-mobile pipeline in Swift (Foundation only), a CoreML runtime behind
// `#if canImport(CoreML)`, a small command-line tool and parity tests against the golden
// vectors written by `tinysam_mobile.golden` (see docs/GOLDEN.md).
import PackageDescription

let package = Package(
    name: "TinySAMKit",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "TinySAMKit", targets: ["TinySAMKit"]),
        .executable(name: "tinysam-cli", targets: ["TinySAMCLI"]),
    ],
    targets: [
        .target(name: "TinySAMKit", path: "Sources/TinySAMKit"),
        .executableTarget(name: "TinySAMCLI", dependencies: ["TinySAMKit"], path: "Sources/TinySAMCLI"),
        .testTarget(
            name: "TinySAMKitTests",
            dependencies: ["TinySAMKit"],
            path: "Tests/TinySAMKitTests",
            // Golden vectors copied in by scripts/test_ios_pipeline.sh (or by hand, see README);
            // TINYSAM_GOLDEN_DIR overrides this location.
            resources: [.copy("Resources/golden")]
        ),
    ]
)
