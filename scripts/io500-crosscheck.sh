#!/usr/bin/env bash
# Cross-check by hand (not in CI): the real io500 app and `benchfs-bench io500` with the same
# ini file on POSIX, alternating rounds, then each phase's median score of both and the ratio
# benchfs-bench / io500.
#
#   scripts/io500-crosscheck.sh [ROUNDS] [RANKS] [INI]
#   IO500=/work/peers/install/bin/io500 BENCH=target/release/benchfs-bench DIR=/dev/shm/io500-xc
#
# The ini's datadir/resultdir/timestamp keys are replaced (both tools write under $DIR).
# The real app runs under mpirun with RANKS ranks, benchfs-bench with RANKS local tasks
# (or under mpirun too when MPI=1 and it was built with --features mpi).
set -euo pipefail
ROUNDS=${1:-3}
RANKS=${2:-2}
INI=${3:-workloads/io500-lite.ini}
IO500=${IO500:-/work/peers/install/bin/io500}
BENCH=${BENCH:-target/release/benchfs-bench}
DIR=${DIR:-/dev/shm/io500-xc}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np "$RANKS" --mca btl self,vader,tcp
        --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
[ -x "$IO500" ] || { echo "io500 app not found: $IO500" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "benchfs-bench not found: $BENCH" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR/out"

ini_for() { # tool round -> ini path
    local f="$DIR/$1-$2.ini"
    sed -e "s#^datadir *=.*#datadir = $DIR/data-$1#" \
        -e "s#^resultdir *=.*#resultdir = $DIR/res-$1-$2#" \
        -e 's#^timestamp-datadir *=.*#timestamp-datadir = FALSE#' \
        -e 's#^timestamp-resultdir *=.*#timestamp-resultdir = FALSE#' "$INI" > "$f"
    echo "$f"
}

for r in $(seq 1 "$ROUNDS"); do
    ini=$(ini_for io500 "$r")
    (cd "$DIR" && "${MPIRUN[@]}" "$IO500" "$ini" > "$DIR/out/io500-$r.txt" 2>&1) || true
    ini=$(ini_for bench "$r")
    if [ "${MPI:-0}" = 1 ]; then
        (cd "$DIR" && "${MPIRUN[@]}" "$OLDPWD/$BENCH" io500 "$ini" > "$DIR/out/bench-$r.txt" 2>&1) || true
    else
        "$BENCH" io500 "$ini" --tasks "$RANKS" > "$DIR/out/bench-$r.txt" 2>&1 || true
    fi
    echo "round $r done" >&2
done

# Per phase: the median score over the rounds of each tool, and the ratio.
awk -v rounds="$ROUNDS" '
    FNR == 1 { tool = (FILENAME ~ /bench-/) ? "bench" : "io500" }
    /^\[(RESULT|      )\]/ {
        line = substr($0, 9); split(line, w, " ")
        name = w[1]; if (!(name in seen)) { seen[name] = 1; order[++n] = name }
        v[tool, name, ++c[tool, name]] = w[2] + 0; unit[name] = w[3]
    }
    /^\[SCORE \]/ {
        for (i = 1; i <= NF; i++) if ($i == "TOTAL") t = $(i + 1) + 0
        name = "SCORE"; if (!(name in seen)) { seen[name] = 1; order[++n] = name }
        v[tool, name, ++c[tool, name]] = t; unit[name] = ""
    }
    function median(tool, name,   k, m, a, i, j, x) {
        m = c[tool, name]; if (m == 0) return -1
        for (i = 1; i <= m; i++) a[i] = v[tool, name, i]
        for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
        printf "%-22s %14s %14s %8s  (median of %d rounds)\n", "phase", "io500", "benchfs-bench", "ratio", rounds
        for (i = 1; i <= n; i++) {
            name = order[i]; a = median("io500", name); b = median("bench", name)
            ratio = (a > 0 && b >= 0) ? sprintf("%.2f", b / a) : "-"
            printf "%-22s %14.4f %14.4f %8s %s\n", name, a, b, ratio, unit[name]
        }
    }' "$DIR"/out/io500-*.txt "$DIR"/out/bench-*.txt
