#!/usr/bin/env bash
# Run the on-phone latency benchmark on a connected Android device and fetch its JSON.
#
# Usage: benchmarks/android/run_on_device.sh BUNDLE_DIR [OUT_DIR] [-- extra instrumentation args]
#   BUNDLE_DIR  a folder written by tinysam-export (manifest.json + models)
#   OUT_DIR     where the JSON files land (default benchmarks/results/phone)
# Env: RUNS (10), WARMUP (2), EVERYTHING_RUNS (3), THREADS (4), VARIANTS (e.g. ort:fp32,tflite:int8;
#      default: every variant of the bundle), ACCELERATOR (cpu | gpu | nnapi), ADB (adb),
#      GRADLE (./gradlew inside android_demo)
# Needs: adb with one device (`adb devices`), the Android SDK (ANDROID_HOME) and a JDK 17.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="${1:?usage: run_on_device.sh BUNDLE_DIR [OUT_DIR]}"
OUT="${2:-$ROOT/benchmarks/results/phone}"
ADB="${ADB:-adb}"
APP_ID="dev.tinysam.demo"
RUNNER="$APP_ID.test/androidx.test.runner.AndroidJUnitRunner"
BUNDLE="$(cd "$BUNDLE" && pwd)"
[ -f "$BUNDLE/manifest.json" ] || { echo "no manifest.json in $BUNDLE" >&2; exit 2; }
command -v "$ADB" >/dev/null || { echo "adb not found (install platform-tools)" >&2; exit 2; }
[ "$("$ADB" devices | awk 'NR>1 && $2=="device"' | wc -l)" -ge 1 ] || { echo "no device: connect one and enable USB debugging" >&2; exit 2; }

cd "$ROOT/android_demo"
GRADLE="${GRADLE:-./gradlew}"
# 1. build and install the release app (not debuggable: ART optimises it as users get it), with
#    the models copied from the bundle, and its instrumentation APK
"$GRADLE" -Ptinysam.bundleDir="$BUNDLE" -Ptinysam.testBuildType=release \
  :app:installRelease :app:installReleaseAndroidTest

# 2. run the benchmark instrumentation
args=(-e class dev.tinysam.demo.PhoneBenchmarkTest
      -e runs "${RUNS:-10}" -e warmup "${WARMUP:-2}" -e everythingRuns "${EVERYTHING_RUNS:-3}"
      -e threads "${THREADS:-4}" -e accelerator "${ACCELERATOR:-cpu}")
[ -n "${VARIANTS:-}" ] && args+=(-e variants "$VARIANTS")
log="$("$ADB" shell am instrument -w -r "${args[@]}" "$RUNNER" | tee /dev/stderr)"
echo "$log" | grep -q "OK (1 test)" || { echo "benchmark instrumentation failed" >&2; exit 1; }

# 3. fetch the JSON files
mkdir -p "$OUT"
remote="/sdcard/Android/data/$APP_ID/files/benchmarks"
for f in $("$ADB" shell ls "$remote" | tr -d '\r'); do
  "$ADB" pull "$remote/$f" "$OUT/$f" >/dev/null
  echo "fetched $OUT/$f"
done
