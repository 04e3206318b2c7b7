#!/usr/bin/env bash
# Installs the man pages and shell completions of benchfs-bench and benchfs-server, generated
# by the binaries from their own option definitions (benchfs-bench man / completions):
#   PREFIX/share/man/man1/{benchfs-bench,benchfs-bench-SUBCOMMAND,benchfs-server}.1
#   PREFIX/share/bash-completion/completions/{benchfs-bench,benchfs-server}
#   PREFIX/share/zsh/site-functions/_{benchfs-bench,benchfs-server}
#   PREFIX/share/fish/vendor_completions.d/{benchfs-bench,benchfs-server}.fish
#   scripts/install-shell-files.sh PREFIX [BENCHFS_BENCH]   e.g. /usr/local, $HOME/.local
# BENCHFS_BENCH defaults to target/release/benchfs-bench (built by scripts/setup.sh).
set -euo pipefail
if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX [BENCHFS_BENCH]" >&2
    exit 2
fi
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
bench=${2:-$(dirname "$0")/../${CARGO_TARGET_DIR:-target}/release/benchfs-bench}
[ -x "$bench" ] || { echo "$0: $bench is not built (run scripts/setup.sh)" >&2; exit 1; }
share=$prefix/share
install -d "$share/man/man1" "$share/bash-completion/completions" \
    "$share/zsh/site-functions" "$share/fish/vendor_completions.d"
"$bench" man --out-dir "$share/man/man1" 2>/dev/null
for bin in benchfs-bench benchfs-server; do
    "$bench" completions bash --bin "$bin" > "$share/bash-completion/completions/$bin"
    "$bench" completions zsh --bin "$bin" > "$share/zsh/site-functions/_$bin"
    "$bench" completions fish --bin "$bin" > "$share/fish/vendor_completions.d/$bin.fish"
done
echo "installed man pages and completions in $share"
