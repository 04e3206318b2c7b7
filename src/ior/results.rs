//! What one test produced: per-phase figures per repetition, reduced over ranks.
//!
//! Owns plain data only. The engine ([`crate::ior::engine`]) fills it; the output formats
//! ([`crate::ior::output`]) and the result document ([`crate::results`]) read it. Formulas live
//! in [`crate::ior::stats`], never here.

use crate::ior::params::{IorParams, TaskLayout};
pub use crate::measure::fsinfo::FsInfo;
pub use crate::measure::latency::LatencySummary;
pub use crate::measure::machine::RunInfo;
use serde::{Deserialize, Serialize};

/// A timed phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The write phase.
    Write,
    /// The read phase.
    Read,
}

impl Phase {
    /// IOR's name (`write`, `read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Write => "write",
            Phase::Read => "read",
        }
    }
}

/// One rank's own figures in one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankFigures {
    /// Rank.
    pub rank: usize,
    /// Bytes this rank moved.
    pub bytes: i64,
    /// Transfers this rank made.
    pub transfers: i64,
    /// Open time (t1 - t0), seconds.
    pub open_time: f64,
    /// Transfer time (t3 - t2), seconds.
    pub wrrd_time: f64,
    /// Close time (t5 - t4), seconds.
    pub close_time: f64,
    /// Total time (t5 - t0), seconds.
    pub total_time: f64,
    /// Bandwidth of this rank over its transfer time, MiB/s.
    #[serde(deserialize_with = "nan_if_null")]
    pub bw_mib: f64,
    /// Bandwidth of this rank over its total time (with open/close), MiB/s.
    #[serde(deserialize_with = "nan_if_null")]
    pub bw_mib_with_open_close: f64,
    /// Data-check errors found by this rank.
    pub errors: i64,
    /// When the rank began the phase (its open start), epoch seconds; RFC 3339 in documents.
    #[serde(default, with = "crate::timestamp::epoch_rfc3339")]
    pub start: Option<f64>,
    /// When the rank ended the phase (its close end), epoch seconds; RFC 3339 in documents.
    #[serde(default, with = "crate::timestamp::epoch_rfc3339")]
    pub end: Option<f64>,
}

/// Stonewalling figures of a phase that ran with `-D` and wear-out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StonewallInfo {
    /// Minimum transfers done by a rank when the wall was hit.
    pub pairs_min: i64,
    /// Maximum transfers done by a rank when the wall was hit (what every rank then completes).
    pub pairs_max: i64,
    /// Minimum bytes moved by a rank when the wall was hit.
    pub data_min: f64,
    /// Mean bytes moved per rank when the wall was hit.
    pub data_mean: f64,
    /// Rank 0's time from phase start to the wall, seconds (IOR's `stonewall_time`).
    pub time: f64,
}

/// A phase's bytes and operations in fixed intervals (`time_series` of a phase entry; beyond
/// IOR, what fio's bandwidth logs and elbencho's live CSV give): interval `i` covers
/// `[i, i + 1) * interval_s` seconds after the phase start (the earliest open start of any
/// task, the origin of `stonewall.time`); the last interval ends with the phase and may be
/// shorter. (The format agreed with the engine's recorder of issue 17 item 7.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Interval length, seconds.
    pub interval_s: f64,
    /// What t = 0 is: always `phase_start`.
    pub origin: String,
    /// Bytes per interval, summed over tasks (absent for metadata phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u64>>,
    /// Operations per interval, summed over tasks.
    pub ops: Vec<u64>,
    /// Bytes per interval of each task, by rank (operations per task for metadata phases).
    #[serde(default)]
    pub per_rank: Vec<Vec<u64>>,
}

impl TimeSeries {
    /// How long interval `i` is, seconds, in a phase of `total_s` seconds (the last one may
    /// be shorter).
    pub fn width(&self, i: usize, total_s: f64) -> f64 {
        let start = i as f64 * self.interval_s;
        let w = (total_s - start).min(self.interval_s);
        if w > 0.0 {
            w
        } else {
            self.interval_s
        }
    }
}

/// One row of IOR's Results table: a phase of one repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Which phase.
    pub access: Phase,
    /// Repetition number (0-based).
    pub iteration: usize,
    /// Bytes moved by all ranks (`aggFileSizeForBW`).
    pub agg_bytes: i64,
    /// Bandwidth, MiB/s (`agg / total / 2^20`).
    #[serde(deserialize_with = "nan_if_null")]
    pub bw_mib: f64,
    /// IOPS (`agg / xfer / wrrd`).
    #[serde(deserialize_with = "nan_if_null")]
    pub iops: f64,
    /// Latency column in seconds: rank 0's transfer time per transfer, as IOR prints it (see
    /// `stats::latency_column`); the spread over tasks is in `per_rank` and `latency_hist`.
    #[serde(deserialize_with = "nan_if_null")]
    pub latency: f64,
    /// `blockSize / 1024`.
    pub block_kib: f64,
    /// `transferSize / 1024`.
    pub xfer_kib: f64,
    /// `max(t1) - min(t0)`.
    pub open_time: f64,
    /// `max(t3) - min(t2)`.
    pub wrrd_time: f64,
    /// `max(t5) - min(t4)`.
    pub close_time: f64,
    /// `max(t5) - min(t0)`.
    pub total_time: f64,
    /// Transfer latency distribution (beyond IOR).
    pub latency_hist: LatencySummary,
    /// Per-rank figures (beyond IOR).
    pub per_rank: Vec<RankFigures>,
    /// Stonewalling figures, with wear-out only.
    pub stonewall: Option<StonewallInfo>,
    /// Data-check errors (transfers that did not verify) summed over ranks.
    pub errors: i64,
    /// Transfers in flight per task (beyond IOR; 1 = IOR's behaviour).
    pub iodepth: i32,
    /// Whether the phase could be measured: its total and transfer times are positive
    /// ([`crate::ior::stats::measurable`]). An unmeasurable row keeps IOR's `inf`/negative
    /// figures; `compare`, `report` and `export` skip it. Absent in older documents (true).
    #[serde(default = "measured_by_default")]
    pub measured: bool,
    /// Bytes and operations over time in fixed intervals (beyond IOR), when recorded;
    /// absent in older documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_series: Option<TimeSeries>,
}

fn measured_by_default() -> bool {
    true
}

/// Reads a figure that JSON writers store as `null` when it is not finite (an unmeasurable
/// phase's `inf`, an undefined spread) back as NaN: "no value".
pub(crate) fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The `remove` row printed with `-v`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveResult {
    /// Repetition number.
    pub iteration: usize,
    /// Seconds spent removing.
    pub total_time: f64,
}

/// One entry of a test's Results, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // a handful per test; boxing would only add indirection
pub enum ResultEntry {
    /// A write or read row.
    Phase(PhaseResult),
    /// A remove row.
    Remove(RemoveResult),
}

/// Everything one test printed and measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResults {
    /// The test's parameters after validation.
    pub params: IorParams,
    /// Task layout of the test.
    pub layout: TaskLayout,
    /// `apiVersion`.
    pub api_version: String,
    /// Test start, in ctime format.
    pub start_time: String,
    /// Rank 0's file name (the `Path` line).
    pub path: String,
    /// Capacity of the file system, if statfs worked.
    pub fs: Option<FsInfo>,
    /// Results rows in order.
    pub entries: Vec<ResultEntry>,
}

impl TestResults {
    /// The phase rows of one phase, in repetition order.
    pub fn phase_rows(&self, phase: Phase) -> impl Iterator<Item = &PhaseResult> {
        self.entries.iter().filter_map(move |e| match e {
            ResultEntry::Phase(p) if p.access == phase => Some(p),
            _ => None,
        })
    }
}
