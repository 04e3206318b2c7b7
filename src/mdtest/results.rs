//! What an mdtest run measured: per task count, iteration and operation the figures of every
//! rank (mdtest's `mdtest_results_t`), reduced as mdtest reduces them, with the latency
//! distribution of the operations (beyond mdtest).
//!
//! Owns plain data and the reductions over ranks of one phase; the summary over iterations is
//! [`crate::mdtest::stats`], the text [`crate::mdtest::output`].

use crate::mdtest::params::Op;
use crate::measure::latency::LatencySummary;
use serde::{Deserialize, Serialize};

/// One rank's own figures of one operation in one iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankFigures {
    /// The rank.
    pub rank: usize,
    /// Items this rank counted (mdtest counts `-n` per rank, also for ranks that skip items,
    /// such as the non-zero ranks removing a shared file).
    pub items: u64,
    /// Phase start to the end of the closing barrier, seconds.
    pub time: f64,
    /// Phase start to the last item, before the closing barrier, seconds.
    pub time_before_barrier: f64,
    /// `items / time`, ops/s.
    pub rate: f64,
    /// `items / time_before_barrier`, ops/s.
    pub rate_before_barrier: f64,
    /// Operations that failed (mdtest warns and goes on).
    pub errors: u64,
}

/// Stonewall figures of a create phase that ran with `-W` (`updateStoneWallIterations`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StonewallFigures {
    /// Rank 0's time from the phase start to the wall, seconds.
    pub time: f64,
    /// Fewest items a rank had done at the wall.
    pub items_min: u64,
    /// Most items a rank had done at the wall (what every rank then completes).
    pub items_max: u64,
    /// Items of all ranks at the wall.
    pub items_sum: u64,
    /// Whether some rank had not done all its items at the wall (mdtest's
    /// `Continue stonewall hit`).
    pub hit: bool,
}

/// One operation of one iteration, over all ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// The operation.
    pub op: Op,
    /// Iteration, 0-based.
    pub iteration: usize,
    /// Items of all ranks.
    pub items: u64,
    /// Longest rank time (with the closing barrier), seconds.
    pub time: f64,
    /// mdtest's table rate: the lowest rank rate times the number of ranks (tree operations:
    /// rank 0's directories of one tree over its time), ops/s.
    pub rate: f64,
    /// mdtest's aggregate (what `mdtest_run` returns): items of all ranks over the longest
    /// time, ops/s.
    pub aggregate_rate: f64,
    /// Every rank's figures (tree operations: every rank's own timing of the tree phase).
    pub per_rank: Vec<RankFigures>,
    /// Latency of the single operations merged over ranks (empty for tree operations).
    pub latency: LatencySummary,
    /// With `-W`, for the file create phase.
    pub stonewall: Option<StonewallFigures>,
    /// Failed operations of all ranks.
    pub errors: u64,
    /// Operations per `--interval` over the phase (and bytes when the operations move data),
    /// summed and per rank; t = 0 at the earliest rank's start (benchfs-bench's own phases;
    /// absent for tree phases and imported runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_series: Option<crate::measure::series::TimeSeries>,
}

impl PhaseResult {
    /// Reduces the ranks' figures of `op` as mdtest does (`summarize_results`).
    pub fn reduce(
        op: Op,
        iteration: usize,
        per_rank: Vec<RankFigures>,
        latency: LatencySummary,
        stonewall: Option<StonewallFigures>,
    ) -> PhaseResult {
        let items: u64 = per_rank.iter().map(|r| r.items).sum();
        let time = per_rank.iter().map(|r| r.time).fold(0.0, f64::max);
        let n = per_rank.len() as f64;
        let rate = if op.is_tree() {
            per_rank.first().map_or(0.0, |r| r.rate)
        } else {
            per_rank
                .iter()
                .map(|r| r.rate)
                .fold(f64::INFINITY, f64::min)
                * n
        };
        let rate = if rate.is_finite() { rate } else { 0.0 };
        PhaseResult {
            op,
            iteration,
            items,
            time,
            rate,
            aggregate_rate: if items == 0 || time <= 0.0 {
                0.0
            } else {
                items as f64 / time
            },
            errors: per_rank.iter().map(|r| r.errors).sum(),
            per_rank,
            latency,
            stonewall,
            time_series: None,
        }
    }
}

/// The run for one task count (`-f`/`-l`/`-s`; one when they are not given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// Tasks of this test.
    pub tasks: usize,
    /// Iterations that completed.
    pub iterations: usize,
    /// Items per rank (after a stonewall: what every rank completed).
    pub items_per_rank: u64,
    /// Every operation of every iteration that ran, in execution order.
    pub phases: Vec<PhaseResult>,
    /// Data that did not verify (`-X`, `--verify-write`), over all ranks.
    pub verification_errors: u64,
}

impl TaskRun {
    /// The results of `op`, by iteration.
    pub fn op_results(&self, op: Op) -> impl Iterator<Item = &PhaseResult> {
        self.phases.iter().filter(move |p| p.op == op)
    }

    /// The result of `op` in `iteration`, if it ran.
    pub fn get(&self, op: Op, iteration: usize) -> Option<&PhaseResult> {
        self.phases
            .iter()
            .find(|p| p.op == op && p.iteration == iteration)
    }
}

/// Everything an mdtest run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MdtestRun {
    /// One entry per task count, in order.
    pub runs: Vec<TaskRun>,
    /// The backend's version string.
    pub api_version: String,
    /// Rank 0's test directory (the `Path` line).
    pub path: String,
    /// Capacity of its file system, if statfs worked.
    pub fs: Option<crate::measure::fsinfo::FsInfo>,
    /// Nodes of the job.
    pub nodes: usize,
    /// The `-R` seed rank 0 used (0: stat order not random).
    pub random_seed: i64,
    /// The data pattern offset used (`-G`, or rank 0's time).
    pub random_buffer_offset: i64,
    /// Test start, mdtest's format (`MM/DD/YYYY HH:MM:SS`).
    pub started: String,
    /// Test end, mdtest's format.
    pub finished: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(r: usize, items: u64, time: f64) -> RankFigures {
        RankFigures {
            rank: r,
            items,
            time,
            time_before_barrier: time * 0.9,
            rate: items as f64 / time,
            rate_before_barrier: items as f64 / (time * 0.9),
            errors: r as u64,
        }
    }

    #[test]
    fn reduce_as_mdtest() {
        let p = PhaseResult::reduce(
            Op::FileCreate,
            0,
            vec![rank(0, 100, 1.0), rank(1, 100, 2.0)],
            LatencySummary::default(),
            None,
        );
        assert_eq!(p.items, 200);
        assert_eq!(p.time, 2.0);
        // Lowest rank rate (50/s) times 2 ranks; aggregate 200 / 2 s.
        assert_eq!(p.rate, 100.0);
        assert_eq!(p.aggregate_rate, 100.0);
        assert_eq!(p.errors, 1);
        let t = PhaseResult::reduce(
            Op::TreeCreate,
            0,
            vec![rank(0, 1, 0.5), rank(1, 1, 0.25)],
            LatencySummary::default(),
            None,
        );
        assert_eq!(t.rate, 2.0, "rank 0's tree rate");
        let none = PhaseResult::reduce(
            Op::FileStat,
            0,
            vec![rank(0, 0, 0.0)],
            LatencySummary::default(),
            None,
        );
        assert_eq!((none.rate, none.aggregate_rate), (0.0, 0.0));
    }
}
