#!/usr/bin/env bash
# The whole test suite: system packages, formatting, lints, every test target with every
# feature. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
export UCX_NET_DEVICES=lo          # test traffic stays on loopback, always
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# The tests' BenchFS servers keep their spare-chunk accounting among themselves: servers that
# other programs leave running on this machine must not take the tests' share of the disk.
export BENCHFS_SPARE_LEDGER="$PWD/target/spare-ledger"
./scripts/install-packages.sh test
cargo fmt --all -- --check
cargo clippy --locked --all-targets --all-features -- -D warnings
# The default build (Rust only, no MPI or UCX) is what most users compile: no warning there
# either (code used only by a feature must be gated on it).
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets --all-features
