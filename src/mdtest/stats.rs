//! mdtest's summary formulas (`summarize_results_rank0`): per operation, over the iterations
//! of one task count, the max / min / mean and **sample** standard deviation of the
//! per-iteration figure, and the per-rank max / min / mean of `--showRankStatistics`.
//!
//! Per-iteration figure, rate table: the lowest rank rate (with the closing barrier) times the
//! ranks; time table (`-Z`, `-P`): the longest rank time in seconds (labelled "ms/op" by
//! mdtest). Tree operations use rank 0's own figure. Per-rank columns use the figures before
//! the closing barrier. An operation that did not run counts as 0, as in mdtest. Pure
//! functions: no output.

use crate::mdtest::params::Op;
use crate::mdtest::results::TaskRun;
use serde::{Deserialize, Serialize};

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// `SUMMARY rate (in ops/sec)`.
    Rate,
    /// `SUMMARY time (in ms/op)` (seconds, as mdtest).
    Time,
}

/// One row of a summary table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    /// The operation.
    pub op: Op,
    /// The table.
    pub measure: Measure,
    /// Highest per-iteration figure.
    pub max: f64,
    /// Lowest per-iteration figure.
    pub min: f64,
    /// Mean of the per-iteration figures.
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one iteration.
    pub std_dev: f64,
    /// Highest figure of any rank in any iteration (before the closing barrier).
    pub rank_max: f64,
    /// Lowest such figure.
    pub rank_min: f64,
    /// Mean of those figures.
    pub rank_mean: f64,
}

/// The per-iteration figures of `op` (0 for an iteration where it did not run).
pub fn iteration_values(run: &TaskRun, op: Op, measure: Measure) -> Vec<f64> {
    (0..run.iterations)
        .map(|j| match run.get(op, j) {
            None => 0.0,
            Some(p) if op.is_tree() => {
                let r0 = p.per_rank.first();
                match measure {
                    Measure::Rate => r0.map_or(0.0, |r| r.rate),
                    Measure::Time => r0.map_or(0.0, |r| r.time),
                }
            }
            Some(p) => match measure {
                Measure::Rate => {
                    let low = p.per_rank.iter().map(|r| r.rate).fold(1e308, f64::min);
                    low * p.per_rank.len() as f64
                }
                Measure::Time => p.per_rank.iter().map(|r| r.time).fold(0.0, f64::max),
            },
        })
        .collect()
}

/// The summary row of `op` for the table `measure`.
pub fn summarize(run: &TaskRun, op: Op, measure: Measure) -> OpSummary {
    let vals = iteration_values(run, op, measure);
    let n = vals.len().max(1) as f64;
    let max = vals.iter().copied().fold(0.0, f64::max);
    let min = vals.iter().copied().fold(1e308, f64::min);
    let mean = vals.iter().sum::<f64>() / n;
    let std_dev = if vals.len() <= 1 {
        0.0
    } else {
        (vals.iter().map(|v| (mean - v) * (mean - v)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let (rank_max, rank_min, rank_mean) = if op.is_tree() {
        (max, min, mean)
    } else {
        let mut rmax = 0.0f64;
        let mut rmin = 1e308f64;
        let mut sum = 0.0;
        let mut ranks = 0usize;
        for j in 0..run.iterations {
            match run.get(op, j) {
                Some(p) => {
                    ranks = ranks.max(p.per_rank.len());
                    for r in &p.per_rank {
                        let v = match measure {
                            Measure::Rate => r.rate_before_barrier,
                            Measure::Time => r.time_before_barrier,
                        };
                        rmax = rmax.max(v);
                        rmin = rmin.min(v);
                        sum += v;
                    }
                }
                None => {
                    rmin = rmin.min(0.0);
                }
            }
        }
        let ranks = ranks.max(1) as f64;
        (rmax, rmin, sum / n / ranks)
    };
    OpSummary {
        op,
        measure,
        max,
        min: if vals.is_empty() { 0.0 } else { min },
        mean,
        std_dev,
        rank_max,
        rank_min: if rank_min >= 1e308 { 0.0 } else { rank_min },
        rank_mean,
    }
}

/// The operations of the summary table in order: the item operations mdtest prints for the
/// kinds tested (never `Directory read`), then the two tree operations.
pub fn table_ops(dirs: bool, files: bool) -> Vec<Op> {
    let (start, stop) = match (dirs, files) {
        (false, false) => (0, 0),
        (false, true) => (Op::FileCreate.index(), Op::TreeCreate.index()),
        (true, false) => (0, Op::FileCreate.index()),
        (true, true) => (0, Op::TreeCreate.index()),
    };
    Op::ALL[start..stop]
        .iter()
        .copied()
        .filter(|&o| o != Op::DirRead)
        .chain([Op::TreeCreate, Op::TreeRemove])
        .collect()
}

/// Every summary row of `run` (rate table, then with `time` the time table).
pub fn summarize_run(run: &TaskRun, dirs: bool, files: bool) -> Vec<OpSummary> {
    let ops = table_ops(dirs, files);
    [Measure::Rate, Measure::Time]
        .into_iter()
        .flat_map(|m| ops.iter().map(move |&op| summarize(run, op, m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdtest::results::{PhaseResult, RankFigures};
    use crate::measure::latency::LatencySummary;

    fn phase(op: Op, j: usize, rates: &[f64]) -> PhaseResult {
        let per_rank = rates
            .iter()
            .enumerate()
            .map(|(r, &rate)| RankFigures {
                rank: r,
                items: 100,
                time: 100.0 / rate,
                time_before_barrier: 90.0 / rate,
                rate,
                rate_before_barrier: rate * 1.1,
                errors: 0,
            })
            .collect();
        PhaseResult::reduce(op, j, per_rank, LatencySummary::default(), None)
    }

    #[test]
    fn sample_sd_over_iterations() {
        let run = TaskRun {
            tasks: 2,
            iterations: 3,
            items_per_rank: 100,
            phases: vec![
                phase(Op::FileCreate, 0, &[10.0, 20.0]),
                phase(Op::FileCreate, 1, &[30.0, 40.0]),
                phase(Op::FileCreate, 2, &[50.0, 60.0]),
            ],
            verification_errors: 0,
        };
        let s = summarize(&run, Op::FileCreate, Measure::Rate);
        // Per iteration: min rank rate x 2 ranks = 20, 60, 100.
        assert_eq!((s.max, s.min, s.mean), (100.0, 20.0, 60.0));
        assert!((s.std_dev - 40.0).abs() < 1e-9, "{}", s.std_dev);
        assert!((s.rank_max - 66.0).abs() < 1e-9);
        assert!((s.rank_min - 11.0).abs() < 1e-9);
        let t = summarize(&run, Op::FileCreate, Measure::Time);
        assert_eq!(t.max, 10.0);
        // Not run: zeros.
        let z = summarize(&run, Op::FileStat, Measure::Rate);
        assert_eq!((z.max, z.min, z.mean, z.std_dev), (0.0, 0.0, 0.0, 0.0));
        let one = TaskRun {
            iterations: 1,
            phases: vec![phase(Op::FileStat, 0, &[5.0])],
            ..run
        };
        assert_eq!(summarize(&one, Op::FileStat, Measure::Rate).std_dev, 0.0);
    }

    #[test]
    fn table_rows_as_mdtest() {
        assert_eq!(table_ops(true, true).len(), 10);
        assert_eq!(
            table_ops(false, true),
            [
                Op::FileCreate,
                Op::FileStat,
                Op::FileRead,
                Op::FileRemove,
                Op::TreeCreate,
                Op::TreeRemove
            ]
        );
        assert_eq!(table_ops(true, false)[3], Op::DirRemove);
        assert_eq!(table_ops(false, false), [Op::TreeCreate, Op::TreeRemove]);
    }
}
