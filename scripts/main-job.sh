#!/usr/bin/env bash
# The main job: set up (build) and run benchfs-bench on the embedded default.
# Extra arguments are passed to benchfs-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec ./target/release/benchfs-bench -a BENCHFS -b 1g -t 1m "$@"
