#!/usr/bin/env bash
# Run the on-device CoreML latency benchmark (XCTest) on a connected iPhone/iPad and fetch its JSON.
#
# Usage: benchmarks/ios/run_on_device.sh BUNDLE_DIR [OUT_DIR]
#   BUNDLE_DIR  a folder written by `tinysam-export --target coreml` or `--target all`
#               (manifest.json + coreml/*.mlpackage; int8 by default)
#   OUT_DIR     where the JSON files land (default benchmarks/results/phone)
# Env: DESTINATION (default: the first connected iOS device, e.g. "platform=iOS,id=<udid>"),
#      RUNS (10), WARMUP (3), EVERYTHING_RUNS (3), PRECISION (default: the manifest's default
#      CoreML precision, int8 when the bundle has it; or fp32 / fp16 / int8 as listed there),
#      COMPUTE_UNITS (comma list of cpu,cpu_gpu,cpu_ane,all; default all four),
#      DEVELOPMENT_TEAM (your signing team id, needed on a device).
# Needs: macOS with Xcode 16+ (xcodebuild, xcrun xcresulttool), a device with Developer Mode on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="${1:?usage: run_on_device.sh BUNDLE_DIR [OUT_DIR]}"
OUT="${2:-$ROOT/benchmarks/results/phone}"
BUNDLE="$(cd "$BUNDLE" && pwd)"
[ -f "$BUNDLE/manifest.json" ] || { echo "no manifest.json in $BUNDLE" >&2; exit 2; }
command -v xcodebuild >/dev/null || { echo "xcodebuild not found: run this on a Mac with Xcode" >&2; exit 2; }

if [ -z "${DESTINATION:-}" ]; then
    UDID="$(xcrun xctrace list devices 2>/dev/null | awk '/^== Devices ==/{d=1;next} /^==/{d=0} d && /\([0-9A-Fa-f-]{20,}\)$/ && !/Mac/ {gsub(/.*\(|\)$/,""); print; exit}')"
    [ -n "$UDID" ] || { echo "no connected iOS device found (xcrun xctrace list devices); set DESTINATION" >&2; exit 2; }
    DESTINATION="platform=iOS,id=$UDID"
fi

# 1. the models go into the app's Models folder (read through manifest.json at run time)
"$ROOT/ios_demo/TinySAMDemo/copy_bundle.sh" "$BUNDLE"

# 2. build and run the benchmark test in Release (TEST_RUNNER_* variables reach the test process)
RESULT="$(mktemp -d)/bench.xcresult"
signing=()
[ -n "${DEVELOPMENT_TEAM:-}" ] && signing=(DEVELOPMENT_TEAM="$DEVELOPMENT_TEAM")
TEST_RUNNER_TINYSAM_RUNS="${RUNS:-10}" \
TEST_RUNNER_TINYSAM_WARMUP="${WARMUP:-3}" \
TEST_RUNNER_TINYSAM_EVERYTHING_RUNS="${EVERYTHING_RUNS:-3}" \
TEST_RUNNER_TINYSAM_PRECISION="${PRECISION:-}" \
TEST_RUNNER_TINYSAM_COMPUTE_UNITS="${COMPUTE_UNITS:-cpu,cpu_gpu,cpu_ane,all}" \
xcodebuild test \
    -project "$ROOT/ios_demo/TinySAMDemo/TinySAMDemo.xcodeproj" \
    -scheme TinySAMDemo \
    -configuration Release \
    -destination "$DESTINATION" \
    -only-testing:TinySAMDemoTests/PhoneBenchmarkTests/testBenchmarkEncoderDecoderEverything \
    -resultBundlePath "$RESULT" \
    "${signing[@]}"

# 3. fetch the JSON attachments from the result bundle
mkdir -p "$OUT"
EXPORT="$(mktemp -d)"
xcrun xcresulttool export attachments --path "$RESULT" --output-path "$EXPORT"
n=0
# The manifest maps exported file names to the attachment names given by the test.
while IFS=$'\t' read -r exported suggested; do
    case "$suggested" in bench-ios-*.json) cp "$EXPORT/$exported" "$OUT/$suggested"; echo "wrote $OUT/$suggested"; n=$((n + 1)) ;; esac
done < <(python3 - "$EXPORT/manifest.json" <<'PY'
import json, sys
for test in json.load(open(sys.argv[1])):
    for a in test.get("attachments", []):
        print(f"{a['exportedFileName']}\t{a['suggestedHumanReadableName']}")
PY
)
[ "$n" -gt 0 ] || { echo "no benchmark JSON in $RESULT" >&2; exit 1; }
