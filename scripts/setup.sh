#!/usr/bin/env bash
# Sets up a fresh machine and builds benchfs-bench and benchfs-server (release, all features).
# The system packages the build needs (scripts/packages/*.txt) are installed first (root, apt).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "setup: cargo (the Rust toolchain) is required" >&2; exit 1; }
./scripts/install-packages.sh build
cargo build --release --locked --bins --all-features
echo "setup: built target/release/benchfs-bench" >&2
# Man pages and shell completions next to the build (install elsewhere with
# scripts/install-shell-files.sh PREFIX).
./scripts/install-shell-files.sh "${CARGO_TARGET_DIR:-target}/release" >&2
