//! Benchmark: the harness cost per transfer, benchfs-bench against the real IOR measured in the
//! same run, both on their DUMMY backend (no I/O) with 4 KiB transfers and per-transfer latency
//! recording on in benchfs-bench. For each task count the two run alternately (benchfs-bench's
//! tasks as threads of this process, IOR's ranks under `mpirun`), and the medians of all their
//! repetitions are compared: aggregate IOPS (IOR's formula in both) and the ratio
//! benchfs-bench / IOR (goal of issue 20: at least 1.5). Also printed: a floor measured in the
//! same run (a loop doing only what every harness that times each transfer must do: one clock
//! reading and one opaque call per transfer).
//!
//! The real IOR comes from `IOR=PATH` or `PATH` (`mpirun` from `MPIRUN=PATH` or `PATH`); without
//! it the benchmark says the peer is missing and prints benchfs-bench's own figures.
//! `BENCH_TASKS=2,8` sets the task counts, `BENCH_ROUNDS` the rounds.
//!
//! `cargo bench --bench harness_overhead` runs the full measurement; under `cargo test` it runs
//! a small smoke configuration only.

use benchfs::ior::results::Phase;
use benchfs::measure::machine;
use benchfs::results::compare::median;

mod common;
use common::peer::{self, MpiTool};
use std::hint::black_box;
use std::time::Instant;

/// Aggregate IOPS of every write and read row of a benchfs-bench run, in order.
fn ours(args: &str) -> (Vec<f64>, Vec<f64>) {
    let (mut w, mut r) = (Vec::new(), Vec::new());
    for p in common::run_in_process(args) {
        match p.access {
            Phase::Write => w.push(p.iops),
            Phase::Read => r.push(p.iops),
        }
    }
    (w, r)
}

/// The floor: per transfer one reading of the harness's transfer clock and one opaque call,
/// nothing else. Nanoseconds per transfer.
fn floor_ns(transfers: u64) -> f64 {
    let clock = machine::fast_clock();
    let mut buf = vec![0u8; 4096];
    let start = Instant::now();
    let mut last = clock.raw();
    let mut acc = 0u64;
    for i in 0..transfers {
        black_box(&mut buf);
        black_box(i * 4096);
        let now = clock.raw();
        acc = acc.wrapping_add(clock.delta_as_nanos(last, now));
        last = now;
    }
    black_box(acc);
    start.elapsed().as_nanos() as f64 / transfers as f64
}

/// Medians of one task count: (ours write, ours read, IOR write, IOR read) IOPS.
struct Row {
    tasks: usize,
    ours: [f64; 2],
    ior: Option<[f64; 2]>,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (block, segments, reps, default_rounds, default_tasks) = if full {
        ("1g", 4, 3, 5, "2,8")
    } else {
        ("1m", 2, 2, 1, "2")
    };
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_rounds);
    let tasks: Vec<usize> = std::env::var("BENCH_TASKS")
        .unwrap_or_else(|_| default_tasks.into())
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let ior = MpiTool::ior();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let mut rows = Vec::new();
    for &n in &tasks {
        let args = format!("-a DUMMY -b {block} -t 4k -s {segments} -F -w -r -i {reps}");
        let (mut ow, mut or, mut iw, mut ir) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let peer = ior.as_ref().filter(|t| t.can_launch(n));
        for _ in 0..rounds {
            let (w, r) = ours(&format!("{args} -N {n}"));
            ow.extend(w);
            or.extend(r);
            if let Some(t) = peer {
                let o = scratch.path().join("ior-dummy");
                match t.run_ior(n, &format!("{args} -o {}", o.display()), scratch.path()) {
                    Ok(res) => {
                        for row in res {
                            if row.write {
                                iw.push(row.iops)
                            } else {
                                ir.push(row.iops)
                            }
                        }
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
        }
        assert!(!ow.is_empty() && !or.is_empty(), "both phases ran");
        rows.push(Row {
            tasks: n,
            ours: [median(&ow), median(&or)],
            ior: (!iw.is_empty() && !ir.is_empty()).then(|| [median(&iw), median(&ir)]),
        });
    }
    let floor = median(&(0..5).map(|_| floor_ns(1 << 20)).collect::<Vec<_>>());

    println!(
        "harness cost: DUMMY, 4 KiB transfers, -b {block} -s {segments} -F, latency recording on; \
         medians of {rounds} alternating round(s) x {reps} repetitions"
    );
    match &ior {
        Some(t) => println!(
            "peer: {} under {}",
            t.bin.display(),
            t.mpirun
                .as_ref()
                .map_or("no mpirun (1 rank only)".into(), |m| m
                    .display()
                    .to_string())
        ),
        None => peer::note_missing(true, "real IOR", "IOR", "ior"),
    }
    println!(
        "{:<6} {:<6} {:>16} {:>14} {:>8} {:>16} {:>12}",
        "tasks", "phase", "benchfs-bench IOPS", "IOR IOPS", "ratio", "ns/xfer/task ours", "IOR"
    );
    for row in &rows {
        for (i, phase) in ["write", "read"].iter().enumerate() {
            let o = row.ours[i];
            let ns = |iops: f64| row.tasks as f64 / iops * 1e9;
            match row.ior {
                Some(p) => println!(
                    "{:<6} {:<6} {:>18.0} {:>14.0} {:>8.2} {:>16.1} {:>12.1}",
                    row.tasks,
                    phase,
                    o,
                    p[i],
                    o / p[i],
                    ns(o),
                    ns(p[i])
                ),
                None => println!(
                    "{:<6} {:<6} {:>18.0} {:>14} {:>8} {:>16.1} {:>12}",
                    row.tasks,
                    phase,
                    o,
                    "-",
                    "-",
                    ns(o),
                    "-"
                ),
            }
        }
    }
    println!("floor (one tsc clock reading + one call per transfer): {floor:.1} ns per transfer");
}
