//! mdtest's CSV files: `--saveRankPerformanceDetails=FILE` (one `all` row per task count with
//! the aggregate rate and time of every operation, then one row per rank and iteration) and
//! `--savePerOpDataCSV=PREFIX` (one file per rank and file phase,
//! `<PREFIX>-<operation>-<rank>.csv`, with every operation's start, duration and throughput).
//!
//! Owns the layouts (mdtest's, empty columns and C's `%e` included); it never times anything.

use crate::mdtest::params::Op;
use crate::mdtest::results::TaskRun;
use crate::mdtest::validate::MdtestError;
use crate::units::sci;
use std::io::Write;

fn io(path: &str, e: std::io::Error) -> MdtestError {
    MdtestError::Run(format!("ERROR: cannot write \"{path}\": {e}"))
}

/// Truncates `path` and writes the header (`rank,items,rate-<op>,time-<op>,...`).
pub fn write_rank_header(path: &str) -> Result<(), MdtestError> {
    let mut head = String::from("rank,items");
    for op in Op::ALL {
        head.push_str(&format!(",rate-{0},time-{0}", op.name()));
    }
    head.push('\n');
    std::fs::write(path, head).map_err(|e| {
        MdtestError::failed(
            0,
            "md_validate_tests_rank0",
            format!("Cannot open saveRankPerformanceDetails file for write! ({path}: {e})"),
        )
    })
}

/// The rows of one task count: `all,<items>` with iteration 0's aggregate rate and time of
/// every operation (empty when it moved no item), then per iteration and rank the rate and
/// time before the barrier of every item operation (after an empty items column).
pub fn rank_rows(run: &TaskRun, items: u64) -> String {
    let mut s = format!("all,{items}");
    for op in Op::ALL {
        match run.get(op, 0) {
            Some(p) if p.items > 0 => s.push_str(&format!(
                ",{},{}",
                sci(p.aggregate_rate, 10),
                sci(p.time, 10)
            )),
            _ => s.push_str(",,"),
        }
    }
    s.push('\n');
    for j in 0..run.iterations {
        for k in 0..run.tasks {
            s.push_str(&format!("{k},"));
            for op in &Op::ALL[..Op::TreeCreate.index()] {
                match run.get(*op, j).and_then(|p| p.per_rank.get(k)) {
                    Some(r) if r.items > 0 => s.push_str(&format!(
                        ",{},{}",
                        sci(r.rate_before_barrier, 10),
                        sci(r.time_before_barrier, 10)
                    )),
                    _ => s.push_str(",,"),
                }
            }
            s.push('\n');
        }
    }
    s
}

/// Appends [`rank_rows`] to `path`.
pub fn append_rank_details(path: &str, run: &TaskRun, items: u64) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(rank_rows(run, items).as_bytes())
}

/// Writes one rank's per-operation samples of `op`: `time,runtime,tp` then
/// `%.8e,%.8e,%e` (start since the phase start, duration, `size / duration`).
pub fn write_per_op(
    prefix: &str,
    op: Op,
    rank: usize,
    size: u64,
    samples: &[(f64, f64)],
) -> Result<(), MdtestError> {
    let path = format!("{prefix}-{}-{rank:05}.csv", op.name());
    let mut out = String::with_capacity(32 + samples.len() * 44);
    out.push_str("time,runtime,tp\n");
    for &(t, d) in samples {
        let tp = if d > 0.0 { size as f64 / d } else { 0.0 };
        out.push_str(&format!("{},{},{}\n", sci(t, 8), sci(d, 8), sci(tp, 6)));
    }
    std::fs::write(&path, out).map_err(|e| io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdtest::results::{PhaseResult, RankFigures};
    use crate::measure::latency::LatencySummary;

    #[test]
    fn layout_as_mdtest() {
        let fig = |rank, rate: f64, time: f64| RankFigures {
            rank,
            items: 20,
            time,
            time_before_barrier: time,
            rate,
            rate_before_barrier: rate,
            errors: 0,
        };
        let run = TaskRun {
            tasks: 2,
            iterations: 1,
            items_per_rank: 20,
            phases: vec![PhaseResult::reduce(
                Op::FileCreate,
                0,
                vec![fig(0, 9.3518483835e4, 2.1386146545e-4), fig(1, 1e5, 2e-4)],
                LatencySummary::default(),
                None,
            )],
            verification_errors: 0,
        };
        let rows = rank_rows(&run, 20);
        let lines: Vec<&str> = rows.lines().collect();
        assert!(lines[0].starts_with("all,20,,,,,,,,,,,"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("0,,,,,,,,,,,,9.3518483835e+04,2.1386146545e-04,,"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[1].split(',').count(), 2 + 2 * 9);
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("perop");
        let prefix = prefix.to_str().unwrap();
        write_per_op(
            prefix,
            Op::FileStat,
            1,
            1,
            &[(9.05990601e-06, 4.00543213e-05)],
        )
        .unwrap();
        let text = std::fs::read_to_string(format!("{prefix}-File stat-00001.csv")).unwrap();
        assert_eq!(
            text,
            "time,runtime,tp\n9.05990601e-06,4.00543213e-05,2.496610e+04\n"
        );
        let head = dir.path().join("rank.csv");
        write_rank_header(head.to_str().unwrap()).unwrap();
        let h = std::fs::read_to_string(&head).unwrap();
        assert!(h.starts_with("rank,items,rate-Directory creation,time-Directory creation,"));
        assert!(h.ends_with(",rate-Tree removal,time-Tree removal\n"));
    }
}
