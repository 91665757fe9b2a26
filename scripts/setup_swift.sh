#!/usr/bin/env bash
# Install a Swift 6 toolchain (Debian trixie's `swiftlang`) into a cached chroot.
#
# The host is Debian bookworm, which has no Swift package; trixie has `swiftlang`.
# We debootstrap a minimal trixie root under $TINYSAM_SWIFT_CHROOT (default
# /opt/tinysam-swift-chroot, outside the repository so CI can cache it) and
# install swiftlang there. `swift build` / `swift test` then run through
# `chroot` with /proc mounted (see scripts/test_ios_pipeline.sh).
#
# Idempotent: if the chroot already has a working `swift`, it exits at once.
# Robust: every mount it makes is unmounted on exit, also on failure.
# Needs root (debootstrap, chroot, mount). Uses the Debian mirror the host's
# apt is configured with (the only package registry reachable here).
#
# Usage: scripts/setup_swift.sh            # install (or verify) the toolchain
#        TINYSAM_SWIFT_CHROOT=/some/dir scripts/setup_swift.sh
set -euo pipefail

CHROOT="${TINYSAM_SWIFT_CHROOT:-/opt/tinysam-swift-chroot}"
SUITE="${TINYSAM_SWIFT_SUITE:-trixie}"
MARKER="$CHROOT/.tinysam-swift-ready"
LOCK="${CHROOT}.lock"

log() { printf '[setup_swift] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap/chroot/mount need it)"

swift_works() {
    # usr/bin/swift is an absolute symlink into the chroot: test it from inside.
    [ -f "$MARKER" ] && chroot "$CHROOT" /usr/bin/swift --version >/dev/null 2>&1
}

# Find the Debian mirror configured for the host's apt (deb822 .sources files
# first, then one-line sources.list entries). Security mirrors are skipped.
debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        while read -r uri; do
            case "$uri" in *security*) continue ;; *debian*) echo "$uri"; return 0 ;; esac
        done < <(sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n')
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1=="deb" && $0 !~ /security/ && $0 ~ /debian/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    return 1
}

MOUNTS=()
cleanup() {
    local i
    for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do
        umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

mount_proc() {
    mkdir -p "$CHROOT/proc"
    if ! mountpoint -q "$CHROOT/proc"; then
        mount -t proc proc "$CHROOT/proc"
        MOUNTS+=("$CHROOT/proc")
    fi
}

# Serialise concurrent installs (two CI jobs / two engineers).
mkdir -p "$(dirname "$CHROOT")"
exec 9>"$LOCK"
flock 9

if [ -f "$MARKER" ]; then mount_proc; fi  # swift needs /proc to start
if swift_works; then
    log "Swift already installed in $CHROOT: $(chroot "$CHROOT" /usr/bin/swift --version 2>&1 | head -1)"
    exit 0
fi

START=$(date +%s)
MIRROR="${TINYSAM_DEBIAN_MIRROR:-$(debian_mirror || true)}"
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list*; set TINYSAM_DEBIAN_MIRROR"
log "mirror: $MIRROR, suite: $SUITE, chroot: $CHROOT"

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    # Other jobs may hold the dpkg lock: wait for it instead of failing.
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
        install -y -qq debootstrap >/dev/null
fi

if [ ! -x "$CHROOT/usr/bin/apt-get" ]; then
    log "debootstrap --variant=minbase $SUITE (a few minutes)"
    rm -rf "$CHROOT"
    debootstrap --variant=minbase "$SUITE" "$CHROOT" "$MIRROR" >&2 \
        || die "debootstrap failed (see output above)"
fi
echo "deb $MIRROR $SUITE main" > "$CHROOT/etc/apt/sources.list"
cp -f /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true

mount_proc
log "apt-get install swiftlang inside the chroot"
chroot "$CHROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$CHROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq swiftlang >&2 || die "apt-get install swiftlang failed"
chroot "$CHROOT" apt-get clean

chroot "$CHROOT" /usr/bin/swift --version >&2 || die "swift does not run inside $CHROOT"
date -u +%FT%TZ > "$MARKER"
log "Swift installed in $(( $(date +%s) - START )) s"
