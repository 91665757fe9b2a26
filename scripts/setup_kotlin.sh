#!/usr/bin/env bash
# Install the toolchain that compiles and tests the Android demo's pure-Kotlin pipeline on a
# plain JVM (no Android SDK, no Gradle): kotlinc from the npm package `kotlin-compiler`,
# JUnit 5 (console launcher) and org.json from Debian.
#
# Idempotent and cached: a second run does nothing but check. Everything lands in
# .toolchains/kotlin (gitignored) or /usr/share/java (Debian packages).
#
# Usage: scripts/setup_kotlin.sh          # prints the paths it found on the last lines
# Env:   KOTLIN_VERSION (default 2.1.21), TOOLCHAINS_DIR (default <repo>/.toolchains)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAINS_DIR="${TOOLCHAINS_DIR:-$ROOT/.toolchains}"
KOTLIN_VERSION="${KOTLIN_VERSION:-2.1.21}"
KOTLIN_PREFIX="$TOOLCHAINS_DIR/kotlin"
KOTLINC="$KOTLIN_PREFIX/node_modules/kotlin-compiler/bin/kotlinc"

log() { printf '[setup_kotlin] %s\n' "$*" >&2; }

# 1. a JDK (17 or newer): kotlinc and the JUnit launcher run on it.
if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  log "no JDK found; installing openjdk-17-jdk-headless"
  need_apt=1
fi

# 2. JUnit 5 console launcher and org.json from Debian.
JUNIT_JAR_GLOB="/usr/share/java/junit-platform-console-standalone*.jar"
JSON_JAR="/usr/share/java/com.android.json.jar"
# shellcheck disable=SC2086
if ! ls $JUNIT_JAR_GLOB >/dev/null 2>&1 || [ ! -f "$JSON_JAR" ] || [ "${need_apt:-0}" = 1 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  log "installing Debian packages junit5 libandroid-json-java"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  pkgs="junit5 libandroid-json-java"
  if [ "${need_apt:-0}" = 1 ]; then pkgs="$pkgs openjdk-17-jdk-headless"; fi
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

# 3. kotlinc from npm into a local prefix (cached by version).
if [ ! -x "$KOTLINC" ] || [ "$(cat "$KOTLIN_PREFIX/.version" 2>/dev/null)" != "$KOTLIN_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { log "npm is required to install kotlin-compiler"; exit 1; }
  log "installing kotlin-compiler@$KOTLIN_VERSION into $KOTLIN_PREFIX"
  mkdir -p "$KOTLIN_PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$KOTLIN_PREFIX" \
    "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
  chmod +x "$KOTLIN_PREFIX"/node_modules/kotlin-compiler/bin/* 2>/dev/null || true
  echo "$KOTLIN_VERSION" >"$KOTLIN_PREFIX/.version"
fi

# shellcheck disable=SC2086
JUNIT_JAR="$(ls $JUNIT_JAR_GLOB | sort | tail -n 1)"
[ -x "$KOTLINC" ] || { log "kotlinc missing at $KOTLINC"; exit 1; }
[ -f "$JSON_JAR" ] || { log "org.json jar missing at $JSON_JAR"; exit 1; }
echo "KOTLINC=$KOTLINC"
echo "KOTLIN_STDLIB=$KOTLIN_PREFIX/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar"
echo "JUNIT_JAR=$JUNIT_JAR"
echo "JSON_JAR=$JSON_JAR"
