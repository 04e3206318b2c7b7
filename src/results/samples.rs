//! The samples of a result document that `compare`, `export` and `report` work on: per
//! workload, phase and metric, the value of every iteration, for IOR documents (write and read
//! rows: bandwidth, IOPS, latency column, latency percentiles) and mdtest documents (every
//! operation: mdtest's table rate, latency percentiles) alike.
//!
//! Owns the workload keys ([`ior_workload_key`], [`mdtest_workload_key`]), the list of
//! metrics ([`METRICS`]) and the extraction; it never judges or draws.

use crate::ior::results::{PhaseResult, ResultEntry};
use crate::mdtest::params::{MdtestParams, Op};
use crate::results::document::{MdtestDocument, ResultDocument, TestDocument};
use crate::units::format_size;
use serde::Serialize;

/// Which direction of a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Bigger is better (bandwidth, IOPS, rates).
    Higher,
    /// Smaller is better (latency).
    Lower,
}

/// A metric: its name in comparisons, its measure in exports, what it is, unit, direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Name in `compare` (`bw`, `iops`, `latency`, `lat_p50`, `lat_p99`, `rate`).
    pub name: &'static str,
    /// Measure in exports, kebab-case (`bandwidth`, `iops`, `latency`, `latency-p50`,
    /// `latency-p99`, `rate`).
    pub measure: &'static str,
    /// What it is, in words.
    pub statistic: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Which direction is good.
    pub better: Better,
}

/// Every metric, IOR's first.
pub const METRICS: &[Metric] = &[
    Metric {
        name: "bw",
        measure: "bandwidth",
        statistic: "bandwidth",
        unit: "MiB/s",
        better: Better::Higher,
    },
    Metric {
        name: "iops",
        measure: "iops",
        statistic: "operations per second",
        unit: "ops/s",
        better: Better::Higher,
    },
    Metric {
        name: "latency",
        measure: "latency",
        statistic: "IOR's Latency(s) column: mean time per transfer",
        unit: "s",
        better: Better::Lower,
    },
    Metric {
        name: "lat_p50",
        measure: "latency-p50",
        statistic: "median operation latency (HDR histogram)",
        unit: "s",
        better: Better::Lower,
    },
    Metric {
        name: "lat_p99",
        measure: "latency-p99",
        statistic: "99th percentile operation latency (HDR histogram)",
        unit: "s",
        better: Better::Lower,
    },
    Metric {
        name: "rate",
        measure: "rate",
        statistic: "mdtest's rate: the slowest rank's items per second times the ranks",
        unit: "ops/s",
        better: Better::Higher,
    },
    Metric {
        name: "score",
        measure: "io500-score",
        statistic: "IO500 score: GiB/s for ior phases and BW, kIOPS for the others and MD, TOTAL = sqrt(BW x MD)",
        unit: "GiB/s | kIOPS",
        better: Better::Higher,
    },
];

fn metric(name: &str) -> &'static Metric {
    METRICS
        .iter()
        .find(|m| m.name == name)
        .unwrap_or(&METRICS[0])
}

/// The iterations of one metric of one phase of one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The workload key.
    pub workload: String,
    /// The phase: `write`/`read` (IOR), an operation's name (`File creation`, mdtest).
    pub phase: String,
    /// The metric.
    pub metric: &'static Metric,
    /// Every iteration's value, in order.
    pub values: Vec<f64>,
    /// How many rows the phase has (a percentile is only comparable when all have one).
    pub rows: usize,
}

/// The workload an IOR test ran: backend, file mode, tasks, block, transfer and segment
/// count, plus access-order flags.
pub fn ior_workload_key(t: &TestDocument) -> String {
    let p = &t.params;
    let mut k = format!(
        "{} {} N={} b={} t={} s={}",
        // `-a posix` and `-a POSIX` are the same backend.
        p.api.to_ascii_uppercase(),
        if p.file_per_proc != 0 { "fpp" } else { "ssf" },
        t.layout.num_tasks,
        format_size(p.block_size),
        format_size(p.transfer_size),
        p.segment_count
    );
    if p.random_offset != 0 {
        k.push_str(&format!(" z={}", p.random_offset));
    }
    if p.reorder_tasks != 0 {
        k.push_str(" C");
    }
    if p.reorder_tasks_random != 0 {
        k.push_str(" Z");
    }
    if p.iodepth > 1 {
        k.push_str(&format!(" iodepth={}", p.iodepth));
    }
    k
}

/// The workload of an mdtest run with `tasks` tasks: `mdtest <API> N=<tasks> n=<items>` and
/// the options that change what is measured (`u`, `F`/`D`, `S`, `c`, `w=`, `e=`, tree shape,
/// `L`, `N=`, `R`, `W=`, `iodepth=`).
pub fn mdtest_workload_key(p: &MdtestParams, tasks: usize, items: u64) -> String {
    let api = crate::backend::canonical_backend_name(p.api_name()).unwrap_or("POSIX");
    let mut k = format!("mdtest {api} N={tasks} n={items}");
    let mut flag = |on: bool, s: &str| {
        if on {
            k.push(' ');
            k.push_str(s);
        }
    };
    flag(p.unique_dir_per_task != 0, "u");
    flag(p.files_only != 0 && p.dirs_only == 0, "F");
    flag(p.dirs_only != 0 && p.files_only == 0, "D");
    flag(p.shared_file != 0, "S");
    flag(p.collective_creates != 0, "c");
    flag(p.make_node != 0, "k");
    flag(p.leaf_only != 0, "L");
    flag(p.randomize != 0, "R");
    let mut val = |on: bool, s: String| {
        if on {
            k.push(' ');
            k.push_str(&s);
        }
    };
    val(p.write_bytes > 0, format!("w={}", p.write_bytes));
    val(p.read_bytes > 0, format!("e={}", p.read_bytes));
    val(p.depth > 0, format!("z={} b={}", p.depth, p.branch_factor));
    val(p.items_per_dir > 0, format!("I={}", p.items_per_dir));
    val(p.nstride > 0, format!("N={}", p.nstride));
    val(
        p.stone_wall_timer_seconds > 0,
        format!("W={}", p.stone_wall_timer_seconds),
    );
    val(p.iodepth > 1, format!("iodepth={}", p.iodepth));
    k
}

/// IOR's measured phase rows of every test of `doc`, grouped by workload (in first-seen
/// order). Unmeasurable rows (zero or negative duration, [`PhaseResult::measured`]) are left
/// out: they carry no figure to compare or draw.
pub fn ior_rows_by_workload(doc: &ResultDocument) -> Vec<(String, Vec<&PhaseResult>)> {
    let mut out: Vec<(String, Vec<&PhaseResult>)> = Vec::new();
    for t in &doc.tests {
        let key = ior_workload_key(t);
        let rows = t.results.iter().filter_map(|e| match e {
            ResultEntry::Phase(p) if p.measured => Some(p),
            _ => None,
        });
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.extend(rows),
            None => out.push((key, rows.collect())),
        }
    }
    out
}

type Extract = fn(&PhaseResult) -> Option<f64>;

const IOR_METRICS: [(&str, Extract); 5] = [
    ("bw", |r| Some(r.bw_mib)),
    ("iops", |r| Some(r.iops)),
    ("latency", |r| Some(r.latency)),
    ("lat_p50", |r| {
        (r.latency_hist.count > 0).then_some(r.latency_hist.p50)
    }),
    ("lat_p99", |r| {
        (r.latency_hist.count > 0).then_some(r.latency_hist.p99)
    }),
];

/// Every sample of `doc`: IOR's (workload order, write then read, [`METRICS`] order), then
/// mdtest's (task counts in order, operations in mdtest's order).
pub fn samples(doc: &ResultDocument) -> Vec<Sample> {
    let mut out = Vec::new();
    for (key, rows) in ior_rows_by_workload(doc) {
        for phase in ["write", "read"] {
            let rows: Vec<&&PhaseResult> =
                rows.iter().filter(|r| r.access.as_str() == phase).collect();
            if rows.is_empty() {
                continue;
            }
            for (name, extract) in IOR_METRICS {
                let values: Vec<f64> = rows
                    .iter()
                    .filter_map(|r| extract(r))
                    .filter(|v| v.is_finite())
                    .collect();
                if !values.is_empty() {
                    out.push(Sample {
                        workload: key.clone(),
                        phase: phase.to_string(),
                        metric: metric(name),
                        values,
                        rows: rows.len(),
                    });
                }
            }
        }
    }
    if let Some(m) = &doc.mdtest {
        mdtest_samples(m, &mut out);
    }
    if let Some(run) = &doc.io500 {
        io500_samples(run, &mut out);
    }
    out
}

/// The workload of an IO500 run: backend, ranks, mode, stonewall and configuration hash
/// (runs of the same ini file compare; a changed key is another workload).
pub fn io500_workload_key(run: &crate::io500::Io500Run) -> String {
    format!(
        "io500 {} N={} {} stonewall={} config={}",
        run.api,
        run.procs,
        run.mode.as_str(),
        run.stonewall,
        run.config_hash
    )
}

/// Every phase that ran with its score, then the run's `BW`, `MD` and `SCORE`.
fn io500_samples(run: &crate::io500::Io500Run, out: &mut Vec<Sample>) {
    let key = io500_workload_key(run);
    let mut push = |phase: &str, v: f64| {
        if v.is_finite() {
            out.push(Sample {
                workload: key.clone(),
                phase: phase.to_string(),
                metric: metric("score"),
                values: vec![v],
                rows: 1,
            });
        }
    };
    for p in run.phases.iter().filter(|p| p.ran && p.name != "timestamp") {
        push(&p.name, p.score);
    }
    if let Some(s) = &run.score {
        push("BW", s.bw);
        push("MD", s.md);
        push("SCORE", s.total);
    }
}

fn mdtest_samples(m: &MdtestDocument, out: &mut Vec<Sample>) {
    for run in &m.runs {
        let key = mdtest_workload_key(&m.params, run.tasks, run.items_per_rank);
        for op in Op::ALL {
            if op == Op::DirRead {
                continue;
            }
            let rows: Vec<_> = run.phases.iter().filter(|p| p.op == op).collect();
            let mut push = |name: &str, values: Vec<f64>, n: usize| {
                let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
                if !values.is_empty() {
                    out.push(Sample {
                        workload: key.clone(),
                        phase: op.name().to_string(),
                        metric: metric(name),
                        values,
                        rows: n,
                    });
                }
            };
            if rows.is_empty() {
                // An imported run that printed only the summary: its mean stands alone.
                if let Some(s) = run.summary.iter().find(|s| {
                    s.op == op && s.measure == crate::mdtest::stats::Measure::Rate && s.max > 0.0
                }) {
                    push("rate", vec![s.mean], 1);
                }
                continue;
            }
            let n = rows.len();
            push("rate", rows.iter().map(|r| r.rate).collect(), n);
            let hist: Vec<_> = rows.iter().filter(|r| r.latency.count > 0).collect();
            push("lat_p50", hist.iter().map(|r| r.latency.p50).collect(), n);
            push("lat_p99", hist.iter().map(|r| r.latency.p99).collect(), n);
        }
    }
}
