#!/usr/bin/env bash
# Copy the CoreML models of a tinysam-export bundle into the app's Models folder.
#   ios_demo/TinySAMDemo/copy_bundle.sh BUNDLE_DIR
# BUNDLE_DIR: written by `tinysam-export --target coreml` or `--target all` (CoreML is int8 by
# default: coreml/encoder.int8.mlpackage, coreml/decoder.int8.mlpackage). Copies manifest.json and
# every artifact whose target is "coreml", whatever its precision (names, precisions and the
# int8 graphs kept at float16 weights are read from the manifest), so the app loads them by URL
# through the manifest and offers the precisions it finds there. Run before building in Xcode.
# Env: TINYSAM_MODELS_DIR (default: the Models folder next to this script).
set -euo pipefail
BUNDLE="${1:?usage: copy_bundle.sh BUNDLE_DIR}"
DEST="${TINYSAM_MODELS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/Models}"
[ -f "$BUNDLE/manifest.json" ] || { echo "error: $BUNDLE/manifest.json not found (not a tinysam bundle)" >&2; exit 1; }
# Line 1: the CoreML precisions with both graphs (space-separated); then one line per file;
# notes go to stderr.
LISTING=$(python3 - "$BUNDLE/manifest.json" <<'PY'
import json, sys
arts = [a for a in json.load(open(sys.argv[1]))["artifacts"] if a["target"] == "coreml"]
graphs = {}
for a in arts:
    graphs.setdefault(a["precision"], set()).add(a["graph"])
    q = a.get("quantization") or {}
    if q.get("method") == "fp16_weights":
        print(f"note: {a['file']} keeps float16 weights (its int8 weights failed the export gate)", file=sys.stderr)
print(" ".join(p for p, g in graphs.items() if {"encoder", "decoder"} <= g))
print("\n".join(a["file"] for a in arts))
PY
)
PAIRS=$(head -n 1 <<< "$LISTING")
FILES=$(tail -n +2 <<< "$LISTING")
if [ -z "$PAIRS" ]; then
    echo "error: $BUNDLE has no CoreML encoder + decoder pair: export with --target coreml or --target all" >&2
    exit 1
fi
mkdir -p "$DEST"
find "$DEST" -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
cp "$BUNDLE/manifest.json" "$DEST/"
while IFS= read -r f; do
    [ -e "$BUNDLE/$f" ] || { echo "error: $BUNDLE/$f is listed in the manifest but missing" >&2; exit 1; }
    mkdir -p "$DEST/$(dirname "$f")"
    cp -R "$BUNDLE/$f" "$DEST/$f"
    echo "copied $f"
done <<< "$FILES"
echo "CoreML precisions in $DEST: $PAIRS"
