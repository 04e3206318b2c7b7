#!/usr/bin/env bash
# A soak of BenchFS by hand (issue 15; not run by CI): three benchfs-server processes, an N-1
# IOR workload with random offsets and write/read verification, repeated for at least
# SOAK_MINUTES (default 5), with server 1 restarted gracefully on its data directory between
# two repetitions in the middle. Prints the repetitions, the errors found (0 expected) and
# the time taken; exits non-zero on any error.
#   scripts/soak.sh [build dir, default target/release]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release}
MINUTES=${SOAK_MINUTES:-5}
WORK=$(mktemp -d /dev/shm/benchfs-soak.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
REG=$WORK/registry
start_server() {
    "$BIN/benchfs-server" --registry "$REG" --data-dir "$WORK/data$1" --servers 3 \
        --chunk-size 1m >"$WORK/server$1.out" 2>>"$WORK/server$1.err" &
    echo $! >"$WORK/server$1.pid"
}
for i in 0 1 2; do start_server $i; done
# Repetitions of about 10 s each, 5 s apart; the restart happens in the pause after the
# read phase of the repetition in the middle.
REPS=$(( MINUTES * 60 / 15 + 1 ))
MIDDLE=$(( REPS / 2 ))
START=$(date +%s)
"$BIN/benchfs-bench" -a BENCHFS --benchfs.registry "$REG" -N 4 -b 16m -t 256k -z --random-offset-seed=1515 \
    -w -r -W -R -i "$REPS" -d 5 -o /soak --json "$WORK/soak.json" \
    >"$WORK/bench.out" 2>"$WORK/bench.err" &
BENCH=$!
while [ "$(grep -c '^read ' "$WORK/bench.out" || true)" -lt "$MIDDLE" ]; do
    kill -0 $BENCH 2>/dev/null || break
    sleep 0.2
done
kill -TERM "$(cat "$WORK/server1.pid")"
wait "$(cat "$WORK/server1.pid")" || true
start_server 1
echo "soak: server 1 restarted after repetition $MIDDLE of $REPS"
STATUS=0
wait $BENCH || STATUS=$?
END=$(date +%s)
# (grep -c exits 1 when it counts nothing: not a failure of the soak)
ERRORS=$( { grep -c -i -E 'error|incorrect|mismatch' "$WORK/bench.err" "$WORK/bench.out" || true; } \
    | awk -F: '{s+=$2} END {print s+0}')
echo "soak: $REPS repetitions in $(( END - START )) s, exit status $STATUS, $ERRORS error lines"
grep -E '^(write|read) ' "$WORK/bench.out" | tail -4 || true
if [ "$STATUS" -ne 0 ] || [ "$ERRORS" -ne 0 ]; then
    tail -n 20 "$WORK/bench.err" "$WORK/bench.out"
    exit 1
fi
