#!/usr/bin/env bash
# Build and test the Swift package ios_demo/ (TinySAMKit) against golden vectors, on Linux.
#
#   scripts/test_ios_pipeline.sh --golden BUNDLE/golden [--manifest BUNDLE/manifest.json]
#   (or TINYSAM_GOLDEN_DIR=...; the manifest defaults to the golden folder's parent's).
#   Every golden folder holds everything-mode runs with final records (the `tuned` and
#   `regions` runs, see docs/GOLDEN.md); the XCTests fail when such a run returns none.
#
# 1. installs / reuses the Swift 6 chroot (scripts/setup_swift.sh, cached under
#    $TINYSAM_SWIFT_CHROOT, default /opt/tinysam-swift-chroot);
# 2. copies ios_demo/ into the chroot (keeping its .build cache between runs) and the golden
#    folder into the test target's `.copy` resource Tests/TinySAMKitTests/Resources/golden;
# 3. runs `swift build` (library, tinysam-cli) and `swift test` there with /proc mounted;
# 4. runs `swiftc -parse` on the SwiftUI app sources (they need SwiftUI/CoreML: not buildable here);
# 5. checks (as text) that TinySAMDemo.xcodeproj lists every app source and the local package;
# 6. runs TinySAMDemo/copy_bundle.sh on two fake bundles (host bash + python3);
# 7. prints which parts were compiled and tested, which only parsed or text-checked, which not
#    checked at all.
# Exit status: 0 only when the build, every test, the parse, the project check and the
# copy_bundle.sh check succeed.
# No golden folder -> 2.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROOT="${TINYSAM_SWIFT_CHROOT:-/opt/tinysam-swift-chroot}"
GOLDEN="${TINYSAM_GOLDEN_DIR:-}"
MANIFEST=""
while [ $# -gt 0 ]; do
    case "$1" in
        --golden) GOLDEN="$2"; shift 2 ;;
        --manifest) MANIFEST="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { printf '[test_ios_pipeline] %s\n' "$*" >&2; }

if [ -z "$GOLDEN" ] || [ ! -f "$GOLDEN/index.json" ]; then
    log "FAIL: no golden folder (got '${GOLDEN:-<unset>}', which has no index.json)."
    log "Produce one with: python -m tinysam_mobile.golden --bundle BUNDLE --out DIR, then pass --golden DIR"
    exit 2
fi
GOLDEN="$(cd "$GOLDEN" && pwd)"
MANIFEST="${MANIFEST:-$GOLDEN/../manifest.json}"
[ -f "$MANIFEST" ] || log "WARNING: no bundle manifest at $MANIFEST: the manifest test will FAIL"

# One run at a time (they share the .build cache and the /proc mount); the lock file sits next
# to the chroot so it exists before the chroot does.
mkdir -p "$(dirname "$CHROOT")"
exec 8>"$CHROOT.test.lock"
flock 8
"$REPO/scripts/setup_swift.sh"
WORK="$CHROOT/build/tinysam"          # inside the chroot: /build/tinysam

MOUNTS=()
cleanup() {
    local i
    for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
if ! mountpoint -q "$CHROOT/proc"; then
    mount -t proc proc "$CHROOT/proc"
    MOUNTS+=("$CHROOT/proc")
fi

# Fresh copy of the sources, keeping the build cache.
mkdir -p "$WORK/ios_demo"
find "$WORK/ios_demo" -mindepth 1 -maxdepth 1 ! -name .build -exec rm -rf {} +
tar -C "$REPO/ios_demo" --exclude=./.build --exclude=./.swiftpm -cf - . | tar -C "$WORK/ios_demo" -xf -
RES="$WORK/ios_demo/Tests/TinySAMKitTests/Resources/golden"
rm -rf "$RES"
mkdir -p "$RES"
cp -a "$GOLDEN/." "$RES/"
[ -f "$MANIFEST" ] && cp "$MANIFEST" "$RES/bundle_manifest.json"
log "golden vectors: $GOLDEN ($(find "$RES" -type f | wc -l) files) -> resource Resources/golden"

in_chroot() {
    chroot "$CHROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        /bin/bash -c "cd /build/tinysam/ios_demo && $*"
}

JOBS="${TINYSAM_SWIFT_JOBS:-2}"
STATUS_BUILD=FAIL STATUS_TEST=FAIL STATUS_PARSE=FAIL
T0=$(date +%s)
if in_chroot "swift build -j $JOBS 2>&1"; then STATUS_BUILD=PASS; fi
T1=$(date +%s)
TEST_LOG="$WORK/swift-test.log"
if in_chroot "swift test -j $JOBS 2>&1" | tee "$TEST_LOG"; then STATUS_TEST=PASS; fi
T2=$(date +%s)

# SwiftUI app: SwiftUI, PhotosUI and CoreML do not exist on Linux; parse only.
APP_FILES=$(cd "$WORK/ios_demo" && find TinySAMDemo -name '*.swift' | sort)
if [ -n "$APP_FILES" ] && in_chroot "swiftc -parse $(echo $APP_FILES) 2>&1"; then STATUS_PARSE=PASS; fi

# Xcode project: no xcodebuild here, so text checks only: every Swift file of the app and of its
# test target is a build file of project.pbxproj, and the local package is referenced.
PBX="$REPO/ios_demo/TinySAMDemo/TinySAMDemo.xcodeproj/project.pbxproj"
UNLISTED=""
for f in $APP_FILES; do
    grep -q "$(basename "$f") in Sources" "$PBX" || UNLISTED="$UNLISTED $f"
done
grep -q 'relativePath = \.\.;' "$PBX" || UNLISTED="$UNLISTED (local package ..)"
STATUS_XCODE=PASS
[ -z "$UNLISTED" ] || STATUS_XCODE="FAIL (missing from project.pbxproj:$UNLISTED)"

# copy_bundle.sh: run here (bash + python3) on two fake bundles whose "packages" are small
# folders: a `--target all`-like one (onnx fp32, coreml int8 with the decoder kept at float16
# weights, a lone coreml fp16 decoder) must copy manifest.json and every coreml artifact, keep
# Models/README.md, drop stale files and report int8 as the only complete pair; an onnx-only one
# must be refused.
copy_bundle_check() {
    local tmp; tmp="$(mktemp -d)"
    python3 - "$tmp" <<'PY'
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
def bundle(name, arts):
    b = root / name
    for target, precision, graph, method in arts:
        f = b / target / f"{graph}.{precision}.{'mlpackage' if target == 'coreml' else 'onnx'}"
        if target == "coreml":
            (f / "Data").mkdir(parents=True)
            (f / "Manifest.json").write_text("{}")
            (f / "Data" / "model.mlmodel").write_text(graph)
        else:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(graph)
    doc = {"artifacts": [{"graph": g, "target": t, "precision": p,
                          "file": f"{t}/{g}.{p}.{'mlpackage' if t == 'coreml' else 'onnx'}",
                          "quantization": {"method": m} if m else None} for t, p, g, m in arts]}
    (b / "manifest.json").write_text(json.dumps(doc))
bundle("all", [("onnx", "fp32", "encoder", None), ("onnx", "fp32", "decoder", None),
               ("coreml", "int8", "encoder", "weight_only"), ("coreml", "int8", "decoder", "fp16_weights"),
               ("coreml", "fp16", "decoder", None)])
bundle("onnx", [("onnx", "fp32", "encoder", None), ("onnx", "fp32", "decoder", None)])
PY
    mkdir -p "$tmp/Models/coreml/stale.mlpackage"
    echo keep > "$tmp/Models/README.md"
    local out rc=0 problems=""
    out="$(TINYSAM_MODELS_DIR="$tmp/Models" bash "$REPO/ios_demo/TinySAMDemo/copy_bundle.sh" "$tmp/all" 2>&1)" || rc=$?
    [ "$rc" = 0 ] || problems="$problems exit $rc;"
    for f in manifest.json README.md coreml/encoder.int8.mlpackage/Manifest.json \
             coreml/decoder.int8.mlpackage/Data/model.mlmodel coreml/decoder.fp16.mlpackage/Manifest.json; do
        [ -f "$tmp/Models/$f" ] || problems="$problems missing $f;"
    done
    [ ! -e "$tmp/Models/onnx" ] || problems="$problems onnx files copied;"
    [ ! -e "$tmp/Models/coreml/stale.mlpackage" ] || problems="$problems stale package kept;"
    grep -q "CoreML precisions in .*: int8$" <<< "$out" || problems="$problems no 'precisions: int8' line;"
    grep -q "decoder.int8.mlpackage keeps float16 weights" <<< "$out" || problems="$problems no float16 note;"
    rc=0
    out="$(TINYSAM_MODELS_DIR="$tmp/Models2" bash "$REPO/ios_demo/TinySAMDemo/copy_bundle.sh" "$tmp/onnx" 2>&1)" || rc=$?
    { [ "$rc" != 0 ] && grep -q "no CoreML encoder + decoder pair" <<< "$out"; } || problems="$problems onnx-only bundle not refused;"
    rm -rf "$tmp"
    if [ -z "$problems" ]; then echo PASS; else echo "FAIL ($problems)"; fi
}
STATUS_COPY=$(copy_bundle_check)

EXECUTED=$(grep -Eo 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$TEST_LOG" | tail -1 || true)
SUITES=$(grep -Eo "Test Suite '[A-Za-z]+Tests' (passed|failed)" "$TEST_LOG" | sed "s/Test Suite '//; s/'//" | sort -u | tr '\n' ',' | sed 's/,$//; s/,/, /g' || true)
cat <<REPORT

==================== iOS pipeline report ====================
toolchain: $(chroot "$CHROOT" /usr/bin/swift --version 2>&1 | head -1)
golden:    $GOLDEN
COMPILED AND TESTED on Linux (swift build + swift test):
  TinySAMKit: Pipeline/ (Transforms, PILBilinear, Prompts, Postprocess, Masks), Everything/
    (Grid, EverythingPass, Hierarchical, Regions = small-region cleanup), Manifest,
    Runtime/ (Predictor, ManagedModel/ModelStore, Benchmark, SHA256); tinysam-cli (built only)
  TinySAMKitTests: ${EXECUTED:-no test summary found}
    suites: ${SUITES:-none}
$(grep -Eo 'EVERYTHING-CHECKED .*' "$TEST_LOG" | sed 's/^/    /' || true)
  build: $STATUS_BUILD ($((T1 - T0)) s)   test: $STATUS_TEST ($((T2 - T1)) s)
ONLY PARSED (swiftc -parse: syntax only, no type check; SwiftUI/PhotosUI/UIKit do not exist here):
  $(echo $APP_FILES)
  parse: $STATUS_PARSE
TEXT-CHECKED ONLY (no xcodebuild here): TinySAMDemo.xcodeproj lists every app / app-test source
  above and the local TinySAMKit package: $STATUS_XCODE
RUN ON FAKE BUNDLES (bash + python3, no models): TinySAMDemo/copy_bundle.sh copies manifest.json
  and every coreml artifact of any precision, reports the complete pairs, refuses a bundle
  without one: $STATUS_COPY
NOT CHECKED AT ALL:
  Sources/TinySAMKit/Runtime/CoreMLSession.swift (inside #if canImport(CoreML), false on Linux:
    CoreMLModel load/compile/unload, compute units, MLMultiArray in/out, CoreMLModelFactory)
  the app's and PhoneBenchmarkTests' types and behaviour (e.g. SegmentViewModel's precision
    picker; the manifest logic it calls, Manifest.precisions/defaultPrecision/weightsNote and
    ModelStore's default precision, is compiled and tested above), the Xcode build settings and
    scheme, real .mlpackage files (need macOS + Xcode; see ios_demo/README.md)
=============================================================
REPORT
[ "$STATUS_BUILD" = PASS ] && [ "$STATUS_TEST" = PASS ] && [ "$STATUS_PARSE" = PASS ] && [ "$STATUS_XCODE" = PASS ] \
    && [ "$STATUS_COPY" = PASS ]
