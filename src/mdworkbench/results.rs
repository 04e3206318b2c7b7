//! The typed results of an md-workbench run: per phase (precreate, each benchmark run,
//! cleanup) the operation counts summed over ranks, the rate as md-workbench computes it, the
//! slowest operation, the phase time and the latency quantiles over every rank's samples (its
//! `mdworkbench_result_t`, which the io500 app scores).
//!
//! Plain data with the formulas of the rates; it must not run or print anything.

use crate::mdworkbench::stats::TimeStats;
use serde::{Deserialize, Serialize};

/// Successful and failed operations of one kind (`op_stat_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OpCount {
    /// Operations that worked.
    pub suc: u64,
    /// Operations that failed.
    pub err: u64,
}

impl OpCount {
    /// Adds one operation.
    pub fn add(&mut self, ok: bool) {
        if ok {
            self.suc += 1;
        } else {
            self.err += 1;
        }
    }
}

/// The operation counts of a phase, in md-workbench's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Data sets (directories) created.
    pub dset_create: OpCount,
    /// Data sets removed.
    pub dset_delete: OpCount,
    /// Objects created (and written).
    pub obj_create: OpCount,
    /// Objects read.
    pub obj_read: OpCount,
    /// Objects stated.
    pub obj_stat: OpCount,
    /// Objects removed.
    pub obj_delete: OpCount,
}

impl Counts {
    fn all(&self) -> [OpCount; 6] {
        [
            self.dset_create,
            self.dset_delete,
            self.obj_create,
            self.obj_read,
            self.obj_stat,
            self.obj_delete,
        ]
    }

    /// Every failed operation (`sum_err`).
    pub fn errors(&self) -> u64 {
        self.all().iter().map(|c| c.err).sum()
    }

    /// The sum of two ranks' counts.
    pub fn plus(&self, o: &Counts) -> Counts {
        let add = |a: OpCount, b: OpCount| OpCount {
            suc: a.suc + b.suc,
            err: a.err + b.err,
        };
        Counts {
            dset_create: add(self.dset_create, o.dset_create),
            dset_delete: add(self.dset_delete, o.dset_delete),
            obj_create: add(self.obj_create, o.obj_create),
            obj_read: add(self.obj_read, o.obj_read),
            obj_stat: add(self.obj_stat, o.obj_stat),
            obj_delete: add(self.obj_delete, o.obj_delete),
        }
    }
}

/// Which phase a result is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseKind {
    /// `-1`: data sets and their objects are created.
    Precreate,
    /// `-2`: stat, read, delete, create of one object per data set and step.
    Benchmark,
    /// `-3`: the objects and data sets are removed.
    Cleanup,
}

impl PhaseKind {
    /// md-workbench's name.
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::Precreate => "precreate",
            PhaseKind::Benchmark => "benchmark",
            PhaseKind::Cleanup => "cleanup",
        }
    }
}

/// One phase, over all ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// The phase.
    pub kind: PhaseKind,
    /// The waiting factor it ran with (`-t`, or the adaptive mode's).
    pub waiting_factor: f32,
    /// Counts summed over ranks.
    pub counts: Counts,
    /// The slowest rank's phase time, seconds.
    pub runtime: f64,
    /// Every rank's phase time, by rank.
    pub rank_times: Vec<f64>,
    /// md-workbench's rate, operations per second: benchmark `objects read × 4 / t` (× 2 with
    /// `--read-only`), precreate `(data sets + objects created) / t`, cleanup
    /// `(objects + data sets removed) / t`.
    pub rate: f64,
    /// The slowest single operation of any rank, seconds.
    pub max_op_time: f64,
    /// Benchmark steps done (the fewest of any rank after a stonewall, else the samples).
    pub iterations_done: u64,
    /// The iteration the stonewall stopped at (0: no stonewall hit).
    pub stonewall_iterations: u64,
    /// Latency of creates (object create, write, close) over every rank's samples.
    pub create: TimeStats,
    /// Latency of reads (open, read, close).
    pub read: TimeStats,
    /// Latency of stats.
    pub stat: TimeStats,
    /// Latency of deletes.
    pub delete: TimeStats,
    /// Every rank's own counts, by rank.
    pub rank_counts: Vec<Counts>,
}

impl PhaseResult {
    /// Failed operations of the phase.
    pub fn errors(&self) -> u64 {
        self.counts.errors()
    }
}

/// md-workbench's rate of a phase with counts `c` and time `t` (see [`PhaseResult::rate`]).
pub fn rate(kind: PhaseKind, c: &Counts, t: f64, read_only: bool) -> f64 {
    match kind {
        PhaseKind::Benchmark => {
            let per = if read_only { 2 } else { 4 };
            (c.obj_read.suc * per) as f64 / t
        }
        PhaseKind::Precreate => (c.dset_create.suc + c.obj_create.suc) as f64 / t,
        PhaseKind::Cleanup => (c.obj_delete.suc + c.dset_delete.suc) as f64 / t,
    }
}

/// A whole run: its phases in order (`mdworkbench_results_t`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MdwRun {
    /// Ranks.
    pub ranks: usize,
    /// The phases that completed, in order.
    pub phases: Vec<PhaseResult>,
    /// The object index the next run starts at (what `--run-info-file` keeps).
    pub position: i64,
}

impl MdwRun {
    /// Failed operations of every phase.
    pub fn errors(&self) -> u64 {
        self.phases.iter().map(PhaseResult::errors).sum()
    }
}
