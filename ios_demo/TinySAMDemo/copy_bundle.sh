#!/usr/bin/env bash
# Copy the CoreML models of a tinysam-export bundle into the app's Models folder.
#   ios_demo/TinySAMDemo/copy_bundle.sh BUNDLE_DIR
# Copies manifest.json and every artifact whose target is "coreml" (names read from the
# manifest), so the app loads them by URL through the manifest. Run before building in Xcode.
set -euo pipefail
BUNDLE="${1:?usage: copy_bundle.sh BUNDLE_DIR}"
DEST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/Models"
[ -f "$BUNDLE/manifest.json" ] || { echo "error: $BUNDLE/manifest.json not found (not a tinysam bundle)" >&2; exit 1; }
FILES=$(python3 - "$BUNDLE/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print("\n".join(a["file"] for a in m["artifacts"] if a["target"] == "coreml"))
PY
)
[ -n "$FILES" ] || { echo "error: the bundle has no coreml artifacts: export with --target coreml" >&2; exit 1; }
find "$DEST" -mindepth 1 ! -name README.md -exec rm -rf {} +
cp "$BUNDLE/manifest.json" "$DEST/"
while IFS= read -r f; do
    mkdir -p "$DEST/$(dirname "$f")"
    cp -R "$BUNDLE/$f" "$DEST/$f"
    echo "copied $f"
done <<< "$FILES"
