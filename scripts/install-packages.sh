#!/usr/bin/env bash
# Installs the missing Debian packages listed in scripts/packages/ (one or more per line, '#'
# comments). `install-packages.sh build` installs what building needs (*.txt except *.test.txt);
# `install-packages.sh test` (the default) also what the tests and benchmarks need (*.test.txt).
# Needs root (as on CI and these machines); otherwise says what is missing. BENCHFS_SKIP_APT=1
# skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BENCHFS_SKIP_APT:-}" ] && exit 0
scope=${1:-test}
lists=()
for f in scripts/packages/*.txt; do
    [ -e "$f" ] || continue
    case "$f" in
        *.test.txt) [ "$scope" = test ] && lists+=("$f") ;;
        *) lists+=("$f") ;;
    esac
done
[ ${#lists[@]} -eq 0 ] && exit 0
wanted=$(awk '{print}' "${lists[@]}" | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-packages: missing (install them as root): ${missing[*]}" >&2
    exit 1
fi
echo "install-packages: installing ${missing[*]}" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
