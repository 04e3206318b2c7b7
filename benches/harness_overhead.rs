//! Benchmark: the harness cost per transfer per task, measured with the DUMMY backend (no I/O),
//! against a floor measured in the same run (a loop doing only what every harness must: one
//! clock read and one call per transfer), and IOR's own figure on this kind of machine
//! (~37 ns per transfer per rank, SPEC §8: real IOR's DUMMY backend, 2 ranks, 4 KiB transfers).
//!
//! `cargo bench --bench harness_overhead` runs the full measurement; under `cargo test` it runs
//! a small smoke configuration only.

use benchfs::ior::results::Phase;
use benchfs::measure::machine;

mod common;
use std::hint::black_box;
use std::time::Instant;

/// IOR 4.1's DUMMY harness cost measured on this machine kind (SPEC §8), ns per transfer per rank.
const IOR_REFERENCE_NS: f64 = 37.0;

fn run(args: &str) -> Vec<(Phase, f64)> {
    common::run_in_process(args)
        .iter()
        .map(|p| {
            let per_rank = p
                .per_rank
                .iter()
                .map(|r| r.transfers)
                .max()
                .unwrap_or(1)
                .max(1);
            (p.access, p.wrrd_time / per_rank as f64 * 1e9)
        })
        .collect()
}

/// The floor: per transfer one reading of the harness's transfer clock and one opaque call,
/// nothing else (what any harness that times every transfer must pay).
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (args, transfers) = if full {
        (
            "-a DUMMY -b 256m -t 4k -s 4 -F -w -r -i 5 -N 2",
            4 * 65536u64,
        )
    } else {
        ("-a DUMMY -b 1m -t 4k -s 2 -F -w -r -i 2 -N 2", 512u64)
    };
    let rows = run(args);
    let write: Vec<f64> = rows
        .iter()
        .filter(|r| r.0 == Phase::Write)
        .map(|r| r.1)
        .collect();
    let read: Vec<f64> = rows
        .iter()
        .filter(|r| r.0 == Phase::Read)
        .map(|r| r.1)
        .collect();
    assert!(!write.is_empty() && !read.is_empty(), "both phases ran");
    let floor = median((0..5).map(|_| floor_ns(transfers)).collect());
    let (w, r) = (median(write), median(read));
    println!("harness cost per transfer per task (DUMMY, 4 KiB, 2 tasks), median of repetitions");
    println!(
        "{:<28} {:>10} {:>12} {:>12}",
        "", "ns", "vs floor", "vs IOR 37ns"
    );
    for (name, v) in [
        ("benchfs-bench write", w),
        ("benchfs-bench read", r),
        ("floor (tsc clock+call)", floor),
    ] {
        println!(
            "{:<28} {:>10.1} {:>12.2} {:>12.2}",
            name,
            v,
            v / floor,
            v / IOR_REFERENCE_NS
        );
    }
}
