#!/usr/bin/env bash
# Benchmark: benchfs-bench -a POSIX against fio on the same patterns, in the same run.
# Prints the bandwidth of each tool and the ratio benchfs-bench / fio (goal: >= 1.0).
#   sequential 1 MiB transfers (write, read) and random 4 KiB transfers (write, read),
#   one task, file on tmpfs (/dev/shm), each measured ROUNDS times (median reported), the
#   tools alternating; and random 4 KiB reads with DEPTH transfers in flight
#   (benchfs-bench --iodepth, on io_uring, against fio's io_uring engine at the same depth),
#   unbound (qd_r) and with both tools bound to CPU $BIND (qd_r_bound: benchfs-bench --cpus,
#   fio --cpus_allowed; the kernel's io_uring workers follow the thread that made the ring).
# fio runs with --fallocate=none: like benchfs-bench it allocates the file while writing it
# (fio would otherwise preallocate it, outside its timing).
# Usage: scripts/bench-posix-vs-fio.sh [DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/dev/shm/benchfs-vs-fio}
ROUNDS=${2:-7}
DEPTH=${DEPTH:-8}
BIND=${BIND:-0}
SEQ_SIZE=${SEQ_SIZE:-1g}
RND_SIZE=${RND_SIZE:-256m}

if ! command -v fio >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >/dev/null
    else
        echo "fio is required (apt-get install fio)" >&2; exit 1
    fi
fi
cargo build --release --locked --bin benchfs-bench >/dev/null 2>&1
BB=./target/release/benchfs-bench
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT

# bandwidth in MiB/s of one benchfs-bench phase (write|read) from its result document
bb() { # pattern-args... ; prints "write_mib read_mib"
    local doc; doc=$(mktemp)
    "$BB" -a POSIX -w -r -i 1 -o "$DIR/bb" --json "$doc" "$@" >/dev/null 2>&1
    python3 - "$doc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for t in d["tests"] for r in t["results"] if r.get("access") in ("write", "read")]
w = max(r["bw_mib"] for r in rows if r["access"] == "write")
r = max(r["bw_mib"] for r in rows if r["access"] == "read")
print(f"{w} {r}")
PY
    rm -f "$doc"
}

fio_bw() { # rw bs size [engine depth [cpus]] ; prints MiB/s
    local out; out=$(mktemp)
    fio --name=job --filename="$DIR/fio" --rw="$1" --bs="$2" --size="$3" --ioengine="${4:-psync}" \
        --iodepth="${5:-1}" ${6:+--cpus_allowed="$6"} \
        --numjobs=1 --end_fsync=0 --invalidate=0 --fallocate=none --output-format=json --output="$out" >/dev/null 2>&1
    python3 - "$out" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
job = d["jobs"][0]
side = "write" if "write" in sys.argv[2] else "read"
print(job[side]["bw_bytes"] / 2**20)
PY
    rm -f "$out"
}

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

declare -A R
for round in $(seq "$ROUNDS"); do
    read -r w r < <(bb -b "$SEQ_SIZE" -t 1m)
    R[bb_seq_w]+=" $w"; R[bb_seq_r]+=" $r"
    rm -f "$DIR"/fio; R[fio_seq_w]+=" $(fio_bw write 1m "$SEQ_SIZE")"
    R[fio_seq_r]+=" $(fio_bw read 1m "$SEQ_SIZE")"
    read -r w r < <(bb -b "$RND_SIZE" -t 4k -z --random-offset-seed=$round)
    R[bb_rnd_w]+=" $w"; R[bb_rnd_r]+=" $r"
    rm -f "$DIR"/fio; R[fio_rnd_w]+=" $(fio_bw randwrite 4k "$RND_SIZE")"
    R[fio_rnd_r]+=" $(fio_bw randread 4k "$RND_SIZE")"
    R[fio_qd_r]+=" $(fio_bw randread 4k "$RND_SIZE" io_uring "$DEPTH")"
    R[fio_qd_r_bound]+=" $(fio_bw randread 4k "$RND_SIZE" io_uring "$DEPTH" "$BIND")"
    rm -f "$DIR"/fio
    read -r w r < <(bb -b "$RND_SIZE" -t 4k -z --random-offset-seed=$round --iodepth "$DEPTH")
    R[bb_qd_r]+=" $r"
    read -r w r < <(bb -b "$RND_SIZE" -t 4k -z --random-offset-seed=$round --iodepth "$DEPTH" --cpus "$BIND")
    R[bb_qd_r_bound]+=" $r"
done

echo "one task, $DIR, medians of $ROUNDS alternating rounds; qd_r: random 4 KiB reads, depth $DEPTH (io_uring); qd_r_bound: the same, both tools bound to CPU $BIND"
printf '%-22s %14s %14s %8s\n' pattern "benchfs MiB/s" "fio MiB/s" ratio
for k in seq_w seq_r rnd_w rnd_r qd_r qd_r_bound; do
    b=$(median ${R[bb_$k]}); f=$(median ${R[fio_$k]})
    printf '%-22s %14.1f %14.1f %8.2f\n' "$k" "$b" "$f" "$(python3 -c "print($b/$f)")"
done
