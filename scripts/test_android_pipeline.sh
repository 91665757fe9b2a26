#!/usr/bin/env bash
# Compile the Android demo's pure-Kotlin :pipeline module with kotlinc (no Gradle, no Android
# SDK), run its JUnit 5 tests against a golden folder, type-check the platform glue against
# stubs, and report what was compiled+tested, only type-checked, or not checked at all.
#
# Usage: scripts/test_android_pipeline.sh [GOLDEN_DIR ...]
#   GOLDEN_DIR (or $TINYSAM_GOLDEN_DIR): a folder written by `python -m tinysam_mobile.golden`
#   (BUNDLE/golden, with BUNDLE/manifest.json next to it). The JUnit suite runs once per folder.
#   Without one the golden tests FAIL with a message saying how to make one.
# Env:   BUILD_DIR (default android_demo/build/jvm, gitignored)
# Exit:  0 only if every step that ran passed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/android_demo"
BUILD_DIR="${BUILD_DIR:-$DEMO/build/jvm}"
if [ $# -gt 0 ]; then GOLDEN_DIRS=("$@"); else GOLDEN_DIRS=("${TINYSAM_GOLDEN_DIR:-}"); fi

eval "$("$ROOT/scripts/setup_kotlin.sh")" || { echo "toolchain setup failed" >&2; exit 2; }
JUNIT_CP="$JUNIT_JAR"
for j in junit-jupiter-api junit-jupiter-params junit-platform-commons opentest4j apiguardian; do
  [ -f "/usr/share/java/$j.jar" ] && JUNIT_CP="$JUNIT_CP:/usr/share/java/$j.jar"
done
mkdir -p "$BUILD_DIR"
KFLAGS=(-jvm-target 17 -nowarn)
status=0
declare -a REPORT

step() { printf '\n== %s\n' "$*"; }

# 1. :pipeline main sources: compiled.
step "compile :pipeline (android_demo/pipeline/src/main/kotlin)"
if "$KOTLINC" "${KFLAGS[@]}" -cp "$JSON_JAR" -d "$BUILD_DIR/pipeline.jar" \
    "$DEMO/pipeline/src/main/kotlin" 2>&1; then
  REPORT+=("compiled        :pipeline main ($(find "$DEMO/pipeline/src/main/kotlin" -name '*.kt' | wc -l) files)")
else
  REPORT+=("FAILED compile  :pipeline main"); status=1
fi

# 2. :pipeline tests: compiled and run on the JVM against the golden vectors. The test resources
#    (src/test/resources, e.g. the TFLite signature cases shared with tests/mobile) are on the
#    classpath, as Gradle puts them.
tests_line="not run"
if [ $status = 0 ]; then
  step "compile :pipeline tests"
  if "$KOTLINC" "${KFLAGS[@]}" -cp "$BUILD_DIR/pipeline.jar:$JSON_JAR:$JUNIT_CP" \
      -d "$BUILD_DIR/pipeline-tests.jar" "$DEMO/pipeline/src/test/kotlin" 2>&1; then
    total_ok=0; total_bad=0; tflite_bad=0
    for GOLDEN_DIR in "${GOLDEN_DIRS[@]}"; do
      step "run :pipeline tests (golden: ${GOLDEN_DIR:-NONE})"
      out="$(java -Dtinysam.goldenDir="$GOLDEN_DIR" -jar "$JUNIT_JAR" \
        -cp "$BUILD_DIR/pipeline-tests.jar:$DEMO/pipeline/src/test/resources:$BUILD_DIR/pipeline.jar:$JSON_JAR:$KOTLIN_STDLIB" \
        --scan-classpath "$BUILD_DIR/pipeline-tests.jar" --disable-banner --disable-ansi-colors \
        --details=tree --details-theme=ascii 2>&1)"
      rc=$?
      echo "$out"
      ok=$(echo "$out" | sed -n 's/.*\[ *\([0-9]*\) tests successful.*/\1/p' | tail -1)
      bad=$(echo "$out" | sed -n 's/.*\[ *\([0-9]*\) tests failed.*/\1/p' | tail -1)
      total_ok=$((total_ok + ${ok:-0})); total_bad=$((total_bad + ${bad:-0}))
      echo "$out" | grep -q -- "-- TfliteSignaturesTest \[OK\]" || tflite_bad=1
      if [ $rc = 0 ] && [ "${ok:-0}" -gt 0 ]; then
        REPORT+=("compiled+tested :pipeline JUnit on the JVM: ${ok:-0} passed, ${bad:-0} failed (golden: $GOLDEN_DIR)")
      else
        REPORT+=("FAILED tests    :pipeline JUnit: ${ok:-0} passed, ${bad:-0} failed (golden: ${GOLDEN_DIR:-NONE})"); status=1
      fi
    done
    tests_line="$total_ok passed, $total_bad failed"
    if [ "$tflite_bad" = 0 ]; then
      REPORT+=("compiled+tested :pipeline TfliteSignatureSession = the signature choice and prompt chunking of :runtime's TfliteGraphSession, on the cases of pipeline/src/test/resources/tflite_signature_cases.json (tests/mobile/test_tflite_signature_cases.py runs the Python TfliteSession on the same cases); no .tflite file is run here")
    else
      REPORT+=("FAILED tests    :pipeline TfliteSignaturesTest did not pass (or did not run)"); status=1
    fi
  else
    REPORT+=("FAILED compile  :pipeline tests"); status=1
  fi
fi

# 3. Platform glue: type-checked against stubs of exactly the APIs it uses (stubs never shipped).
STUBS="$DEMO/stubs"
typecheck() {  # name, extra classpath, output jar, sources...
  local name="$1" cp="$2" jar="$3"; shift 3
  step "type-check $name against android_demo/stubs"
  if "$KOTLINC" "${KFLAGS[@]}" -cp "$BUILD_DIR/pipeline.jar:$JSON_JAR$cp" -d "$jar" "$@" 2>&1; then
    REPORT+=("type-checked    $name against android_demo/stubs (not run: needs a device)")
  else
    REPORT+=("FAILED check    $name against stubs"); status=1
  fi
}
if [ -d "$STUBS" ] && [ -d "$DEMO/runtime/src/main/kotlin" ]; then
  typecheck ":runtime (ORT Mobile, LiteRT: the Interpreter signature calls and buffers of TfliteGraphSession, BundleLoader)" "" "$BUILD_DIR/runtime-check.jar" \
    "$STUBS/runtime" "$DEMO/runtime/src/main/kotlin"
fi
# :app files without Compose code (ViewModel, state, image conversions, benchmark logic).
mapfile -t APP_PLAIN < <(grep -L -E '@Composable|androidx\.compose' -r "$DEMO/app/src/main/kotlin" --include='*.kt' 2>/dev/null | sort)
mapfile -t APP_COMPOSE < <(grep -l -E '@Composable|androidx\.compose' -r "$DEMO/app/src/main/kotlin" --include='*.kt' 2>/dev/null | sort)
mapfile -t APP_TEST < <(find "$DEMO/app/src/androidTest" -name '*.kt' 2>/dev/null | sort)
names() { local f; for f in "$@"; do printf '%s ' "${f##*/}"; done; }
if [ ${#APP_PLAIN[@]} -gt 0 ]; then
  typecheck ":app non-Compose files: $(names "${APP_PLAIN[@]}")" \
    ":$BUILD_DIR/runtime-check.jar" "$BUILD_DIR/app-check.jar" "$STUBS/app" "${APP_PLAIN[@]}"
fi
# Compose files: kotlinc has no Compose compiler plugin here, so @Composable is a plain
# annotation: names, parameters and types of every call are checked against the stubs; the
# rules of composable contexts (which the plugin enforces) are not.
if [ ${#APP_COMPOSE[@]} -gt 0 ]; then
  typecheck ":app Compose files: $(names "${APP_COMPOSE[@]}")" \
    ":$BUILD_DIR/runtime-check.jar:$BUILD_DIR/app-check.jar" "$BUILD_DIR/compose-check.jar" \
    "$STUBS/compose" "${APP_COMPOSE[@]}"
  REPORT+=("NOT CHECKED     @Composable call rules in those files (no Compose compiler plugin here)")
fi
if [ ${#APP_TEST[@]} -gt 0 ]; then
  typecheck ":app instrumentation benchmark: $(names "${APP_TEST[@]}")" \
    ":$BUILD_DIR/runtime-check.jar:$BUILD_DIR/app-check.jar:/usr/share/java/junit4.jar" \
    "$BUILD_DIR/android-test-check.jar" "$STUBS/androidTest" "${APP_TEST[@]}"
fi
# Gradle files and the manifest: no Gradle / AGP / Android SDK here, so text checks only.
step "text-check the Gradle files and AndroidManifest.xml"
if python3 - "$DEMO" <<'PY'
import re, sys
from pathlib import Path

demo = Path(sys.argv[1])
toml = (demo / "gradle/libs.versions.toml").read_text()
sections, current = {}, None
for line in toml.splitlines():
    m = re.match(r"\s*\[(\w+)\]", line)
    if m:
        current = sections.setdefault(m.group(1), set())
    elif current is not None and (k := re.match(r"\s*([\w-]+)\s*=", line)):
        current.add(k.group(1))
bad = []
for f in sorted(demo.rglob("*.gradle.kts")):
    if "build" in f.relative_to(demo).parts[:-1]:
        continue
    text = f.read_text()
    for ref in re.findall(r"libs\.plugins\.([\w.]+)", text):
        if ref.replace(".", "-") not in sections.get("plugins", ()):
            bad.append(f"{f.name}: plugin alias libs.plugins.{ref}")
    for ref in re.findall(r"libs\.(?!plugins\.|versions\.)([\w.]+)", text):
        if ref.replace(".", "-") not in sections.get("libraries", ()):
            bad.append(f"{f.name}: library alias libs.{ref}")
for ref in re.findall(r'version\.ref\s*=\s*"([\w-]+)"', toml):
    if ref not in sections.get("versions", ()):
        bad.append(f"libs.versions.toml: version.ref {ref}")
settings = (demo / "settings.gradle.kts").read_text()
for module in re.findall(r'":(\w+)"', settings):
    if not (demo / module / "build.gradle.kts").is_file():
        bad.append(f"settings.gradle.kts includes :{module}, which has no build.gradle.kts")
manifest = (demo / "app/src/main/AndroidManifest.xml").read_text()
for cls in re.findall(r'android:name="\.(\w+)"', manifest):
    if not list((demo / "app/src/main/kotlin").rglob(f"{cls}.kt")):
        bad.append(f"AndroidManifest.xml names .{cls}, which has no source file")
for res in re.findall(r'@(xml|string|style)/([\w.]+)', manifest):
    kind, name = res
    found = any(name in p.read_text() or p.stem == name for p in (demo / "app/src/main/res").rglob("*.xml"))
    if not found:
        bad.append(f"AndroidManifest.xml refers to @{kind}/{name}, which is not in res/")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
then
  REPORT+=("text-checked    Gradle files + AndroidManifest.xml: every libs.* alias is in gradle/libs.versions.toml, every included module has a build file, the manifest's classes and resources exist (not built)")
else
  REPORT+=("FAILED check    Gradle files / AndroidManifest.xml (see above)"); status=1
fi
REPORT+=("NOT CHECKED     Gradle build logic (incl. the copyTinySamModels task), dependency resolution, AGP/Compose compilation, resources, the APK (no Gradle/AGP/Android SDK here; open android_demo/ in Android Studio)")

printf '\n== summary\n'
printf '%s\n' "${REPORT[@]}"
echo "$tests_line"
exit $status
