#!/usr/bin/env bash
# Installs libbenchfs (the C API of BenchFS) under PREFIX: lib/libbenchfs.so, lib/libbenchfs.a,
# include/benchfs.h and lib/pkgconfig/benchfs.pc. Builds the release library first (cargo).
#   scripts/install-libbenchfs.sh [--features LIST] PREFIX   e.g. /usr/local, /opt/benchfs, $HOME/.local
# --features passes cargo features to the build: `--features ucx` gives a library whose clients
# can use `--benchfs.transport ucx` (the UCX libraries then come from pkg-config `ucx`).
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs benchfs
set -euo pipefail
usage() {
    echo "usage: $0 [--features LIST] PREFIX" >&2
    exit 2
}
features=()
while [ $# -gt 1 ]; do
    case "$1" in
        --features) [ -n "${2:-}" ] || usage; features=(--features "$2"); shift 2 ;;
        --features=*) features=(--features "${1#--features=}"); shift ;;
        *) usage ;;
    esac
done
if [ $# -ne 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
    usage
fi
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
cargo build --release --locked --lib "${features[@]}"
target=${CARGO_TARGET_DIR:-target}/release
version=$(sed -n 's/^Version: //p' "$target/benchfs.pc")
libs_private=$(sed -n 's/^Libs.private: //p' "$target/benchfs.pc")
requires_private=$(sed -n 's/^Requires.private: //p' "$target/benchfs.pc")
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libbenchfs.so" "$prefix/lib/libbenchfs.so"
install -m 0644 "$target/libbenchfs.a" "$prefix/lib/libbenchfs.a"
install -m 0644 ior-compat/include/benchfs.h "$prefix/include/benchfs.h"
cat > "$prefix/lib/pkgconfig/benchfs.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: benchfs
Description: libbenchfs, the C API of the BenchFS distributed file system
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lbenchfs
Libs.private: $libs_private
${requires_private:+Requires.private: $requires_private}
PC
echo "installed libbenchfs $version in $prefix (pkg-config: $prefix/lib/pkgconfig/benchfs.pc)"
