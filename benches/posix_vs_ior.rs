//! Benchmark: `-a POSIX` bandwidth of benchfs-bench against the real IOR on the same patterns,
//! in the same run, alternating: file per process (`-b 64m -t 1m -s 4 -F -e`) and one shared
//! file (N-1, the same without `-F`), on tmpfs (`BENCH_DIR`, default /dev/shm). Prints the
//! median write and read MiB/s of each tool and the ratio benchfs-bench / IOR (goal of
//! issue 20: at least 1.0), medians of `BENCH_ROUNDS` (default 7) alternating rounds.
//!
//! benchfs-bench runs its tasks as threads of this process (`-N`); IOR runs its ranks as
//! processes under `mpirun`. When `BENCHFS_MPI_BIN` names a benchfs-bench built with the `mpi`
//! feature, it also runs under the same `mpirun`, so that threads and processes can be told
//! apart. The real IOR comes from `IOR=PATH` or `PATH`; without it the benchmark says the peer
//! is missing and prints benchfs-bench's own figures.
//!
//! `cargo bench --bench posix_vs_ior` runs the full measurement; under `cargo test` it runs a
//! small smoke configuration only.

use benchfs::ior::results::Phase;
use benchfs::results::compare::median;

mod common;
use common::peer::{self, MpiTool};
use std::path::{Path, PathBuf};

/// (write MiB/s, read MiB/s) rows of one run.
type Rows = Vec<(bool, f64)>;

fn ours(args: &str) -> Rows {
    common::run_in_process(args)
        .iter()
        .map(|p| (p.access == Phase::Write, p.bw_mib))
        .collect()
}

/// benchfs-bench (MPI build) under `mpirun`, bandwidth rows from its result document.
fn ours_mpi(bin: &Path, mpi: &MpiTool, tasks: usize, args: &str, scratch: &Path) -> Rows {
    let doc = scratch.join("bb-mpi.json");
    let mut argv: Vec<String> = args.split_whitespace().map(String::from).collect();
    argv.extend(["--json".to_string(), doc.display().to_string()]);
    let launcher = MpiTool {
        bin: bin.to_path_buf(),
        mpirun: mpi.mpirun.clone(),
    };
    let out = launcher.command(tasks, &argv).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "{} failed: {}",
                bin.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            return Vec::new();
        }
        Err(e) => {
            eprintln!("cannot run {}: {e}", bin.display());
            return Vec::new();
        }
    }
    let Ok(text) = std::fs::read_to_string(&doc) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for t in v["tests"].as_array().into_iter().flatten() {
        for r in t["results"].as_array().into_iter().flatten() {
            let w = match r["access"].as_str() {
                Some("write") => true,
                Some("read") => false,
                _ => continue,
            };
            rows.push((w, r["bw_mib"].as_f64().unwrap_or(0.0)));
        }
    }
    rows
}

#[derive(Default)]
struct Samples {
    w: Vec<f64>,
    r: Vec<f64>,
}

impl Samples {
    fn add(&mut self, rows: Rows) {
        for (w, bw) in rows {
            if w {
                self.w.push(bw)
            } else {
                self.r.push(bw)
            }
        }
    }
    fn medians(&self) -> Option<[f64; 2]> {
        (!self.w.is_empty() && !self.r.is_empty()).then(|| [median(&self.w), median(&self.r)])
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (block, default_rounds) = if full { ("64m", 7) } else { ("2m", 1) };
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_rounds);
    let tasks: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let base = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into()));
    let dir = tempfile::tempdir_in(&base)
        .or_else(|_| tempfile::tempdir())
        .expect("scratch dir");
    let ior = MpiTool::ior().filter(|t| t.can_launch(tasks));
    let mpi_bin = std::env::var_os("BENCHFS_MPI_BIN").map(PathBuf::from);

    let patterns = [("file per process", "-F"), ("shared file (N-1)", "")];
    let mut table = Vec::new();
    for (name, flag) in patterns {
        let (mut o, mut p, mut m) = (Samples::default(), Samples::default(), Samples::default());
        for round in 0..rounds {
            let args = |who: &str| {
                format!(
                    "-a POSIX -b {block} -t 1m -s 4 {flag} -e -w -r -i 1 -o {}/{who}{round}",
                    dir.path().display()
                )
            };
            o.add(ours(&format!("{} -N {tasks}", args("bb"))));
            if let Some(t) = &ior {
                match t.run_ior(tasks, &args("ior"), dir.path()) {
                    Ok(rows) => p.add(rows.iter().map(|r| (r.write, r.bw_mib)).collect()),
                    Err(e) => eprintln!("{e}"),
                }
            }
            if let (Some(bin), Some(t)) = (&mpi_bin, &ior) {
                m.add(ours_mpi(bin, t, tasks, &args("bbmpi"), dir.path()));
            }
        }
        table.push((name, o.medians(), p.medians(), m.medians()));
    }

    println!(
        "POSIX on {}, {tasks} tasks, -b {block} -t 1m -s 4 -e; medians of {rounds} alternating round(s)",
        base.display()
    );
    peer::note_missing(ior.is_none(), "real IOR (with mpirun)", "IOR", "ior");
    println!(
        "{:<20} {:<6} {:>14} {:>12} {:>8} {:>16}",
        "pattern", "phase", "benchfs (-N)", "IOR", "ratio", "benchfs (mpirun)"
    );
    for (name, o, p, m) in table {
        let Some(o) = o else { continue };
        for (i, phase) in ["write", "read"].iter().enumerate() {
            let peer = p.map_or("-".to_string(), |p| format!("{:.1}", p[i]));
            let ratio = p.map_or("-".to_string(), |p| format!("{:.2}", o[i] / p[i]));
            let mpi = m.map_or("-".to_string(), |m| format!("{:.1}", m[i]));
            println!(
                "{name:<20} {phase:<6} {:>14.1} {peer:>12} {ratio:>8} {mpi:>16}",
                o[i]
            );
        }
    }
}
