#!/usr/bin/env bash
# Sets up a fresh machine and builds benchfs-bench (release).
# The default build needs only the Rust toolchain. Optional system packages (fio for the
# POSIX-vs-fio benchmark) are installed with apt when the script runs as root and
# BENCHFS_SKIP_APT is not set.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    [ -n "${BENCHFS_SKIP_APT:-}" ] && return 0
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: please install: ${missing[*]}" >&2
        return 0
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

command -v cargo >/dev/null || { echo "setup: cargo (the Rust toolchain) is required" >&2; exit 1; }
apt_install ${BENCHFS_APT_PACKAGES:-}
cargo build --release --locked --bins
echo "setup: built target/release/benchfs-bench" >&2
