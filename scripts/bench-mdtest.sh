#!/usr/bin/env bash
# Benchmark: benchfs-bench mdtest against real mdtest, and BENCHFS against POSIX, in one run.
#   1. POSIX on tmpfs, 2 tasks, -n N -u -F: benchfs-bench mdtest (local tasks) against real
#      mdtest (mpirun -np 2) on the same directory; file create / stat / remove rates and the
#      ratios ours / mdtest (goal >= 1.0). Skipped, with a note, when mdtest is not found.
#   2. BENCHFS on an embedded cluster, 2 tasks, -n N -u -F: create and stat rates against the
#      POSIX-tmpfs rates of step 1 (goal >= 0.5), over loopback TCP (the default) and over the
#      in-process transport (--benchfs.transport local), and create with --iodepth 16
#      against --iodepth 1 (goal >= 2.0, over TCP).
# Each configuration runs ROUNDS times, alternating; the median of each rate is reported.
# Usage: scripts/bench-mdtest.sh [ROUNDS] [ITEMS]
#   MDTEST=/path/to/mdtest (default: mdtest on PATH, else /work/peers/install/bin/mdtest)
#   BENCH_DIR=/dev/shm/benchfs-mdtest (the POSIX directory and the cluster's data)
#   BB=/path/to/benchfs-bench (default: build the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
ITEMS=${2:-10000}
DIR=${BENCH_DIR:-/dev/shm/benchfs-mdtest}
MDTEST=${MDTEST:-$(command -v mdtest || echo /work/peers/install/bin/mdtest)}

if [ -z "${BB:-}" ]; then
    cargo build --release --locked --bin benchfs-bench >/dev/null 2>&1
    BB=./target/release/benchfs-bench
fi
rm -rf "$DIR"
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT

# The Max column of the rows of mdtest's rate table: "create stat remove".
rates() {
    awk '/^SUMMARY rate/ { t = 1 }
         t && /^   File creation / { c = $3 }
         t && /^   File stat / { s = $3 }
         t && /^   File removal / { r = $3 }
         END { if (c == "" || s == "" || r == "") exit 1; print c, s, r }'
}

ours() { # extra args... ; prints "create stat remove"
    "$BB" mdtest --tasks 2 -n "$ITEMS" -u -F "$@" 2>/dev/null | rates
}

peer() {
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
        mpirun --allow-run-as-root --oversubscribe -np 2 \
        "$MDTEST" -n "$ITEMS" -u -F -d "$DIR/peer" 2>/dev/null | rates
}

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}' if b > 0 else 'n/a')" "$1" "$2"; }

have_peer=0
if [ -x "$MDTEST" ] && command -v mpirun >/dev/null; then
    have_peer=1
fi

declare -A R
for round in $(seq "$ROUNDS"); do
    read -r c s r < <(ours -a POSIX -d "$DIR/ours")
    R[posix_c]+=" $c"; R[posix_s]+=" $s"; R[posix_r]+=" $r"
    if [ "$have_peer" = 1 ]; then
        read -r c s r < <(peer)
        R[peer_c]+=" $c"; R[peer_s]+=" $s"; R[peer_r]+=" $r"
    fi
    for depth in 1 16; do
        read -r c s r < <(ours -a BENCHFS "--benchfs.data-dir=$DIR/data" --iodepth "$depth" -d /md)
        R[bfs${depth}_c]+=" $c"; R[bfs${depth}_s]+=" $s"; R[bfs${depth}_r]+=" $r"
    done
    read -r c s r < <(ours -a BENCHFS "--benchfs.data-dir=$DIR/data" --benchfs.transport local -d /md)
    R[local_c]+=" $c"; R[local_s]+=" $s"; R[local_r]+=" $r"
done

echo "mdtest -n $ITEMS -u -F, 2 tasks, $ROUNDS rounds (median ops/s)"
echo
if [ "$have_peer" = 1 ]; then
    printf '%-16s %16s %16s %8s\n' "POSIX tmpfs" "benchfs-bench" "mdtest" "ratio"
    for k in c:create s:stat r:remove; do
        a=$(median ${R[posix_${k%%:*}]}); b=$(median ${R[peer_${k%%:*}]})
        printf '%-16s %16.0f %16.0f %8s\n' "file ${k#*:}" "$a" "$b" "$(ratio "$a" "$b")"
    done
    echo "(goal: ratio >= 1.0)"
else
    echo "real mdtest not found (MDTEST=$MDTEST, or no mpirun): peer comparison skipped"
    printf '%-16s %16s\n' "POSIX tmpfs" "benchfs-bench"
    for k in c:create s:stat r:remove; do
        printf '%-16s %16.0f\n' "file ${k#*:}" "$(median ${R[posix_${k%%:*}]})"
    done
fi
echo
printf '%-16s %12s %12s %12s %10s %10s\n' "BENCHFS" "embedded tcp" "local" "POSIX tmpfs" "tcp ratio" "loc ratio"
for k in c:create s:stat r:remove; do
    a=$(median ${R[bfs1_${k%%:*}]}); l=$(median ${R[local_${k%%:*}]}); b=$(median ${R[posix_${k%%:*}]})
    printf '%-16s %12.0f %12.0f %12.0f %10s %10s\n' "file ${k#*:}" "$a" "$l" "$b" "$(ratio "$a" "$b")" "$(ratio "$l" "$b")"
done
echo "(goal: create and stat ratio >= 0.5; tcp: loopback TCP, the default; local: --benchfs.transport local)"
echo
printf '%-16s %16s %16s %8s\n' "BENCHFS" "--iodepth 16" "--iodepth 1" "ratio"
for k in c:create s:stat r:remove; do
    a=$(median ${R[bfs16_${k%%:*}]}); b=$(median ${R[bfs1_${k%%:*}]})
    printf '%-16s %16.0f %16.0f %8s\n' "file ${k#*:}" "$a" "$b" "$(ratio "$a" "$b")"
done
echo "(goal: create ratio >= 2.0)"
