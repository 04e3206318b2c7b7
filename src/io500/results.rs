//! What an IO500 run measured: every phase with its score, time, validity and the figures of
//! the engine that ran it, and the scores of the run.
//!
//! Owns plain data only (serialisable, embedded in the result document). The formulas are
//! [`crate::io500::score`]; the engine ([`crate::io500::engine`]) fills these records.

use crate::io500::commands::Mode;
use crate::io500::find::FindCounts;
use crate::io500::phases::Group;
use serde::{Deserialize, Serialize};

/// One phase as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase name (`ior-easy-write`, ...).
    pub name: String,
    /// Score group.
    pub group: Group,
    /// Unit of the score (`GiB/s` or `kIOPS`).
    pub unit: String,
    /// The score (0 when it did not run).
    pub score: f64,
    /// Wall time of the phase on rank 0, seconds.
    pub time: f64,
    /// Whether the phase is valid.
    pub valid: bool,
    /// Why it is not (the app's `ERROR INVALID` messages).
    pub invalid: Vec<String>,
    /// Whether its engine ran (not with `--dry-run` or `run = FALSE`).
    pub ran: bool,
    /// Its command line (`exe`), for engine phases.
    pub command: Option<String>,
    /// The IOR row of an IOR phase.
    pub ior: Option<crate::ior::results::PhaseResult>,
    /// The mdtest operation of an mdtest phase.
    pub mdtest: Option<crate::mdtest::results::PhaseResult>,
    /// The counts of a find phase.
    pub find: Option<FindCounts>,
    /// The phases of an md-workbench command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdworkbench: Option<crate::mdworkbench::MdwRun>,
    /// Further `key = value` lines of the phase in `result.txt` (`throughput-stonewall`, ...).
    pub extra: Vec<(String, String)>,
}

/// The scores of a run (`[SCORE]`, or `[SCOREX]` for extended mode).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Geometric mean of the bandwidth phases, GiB/s.
    pub bw: f64,
    /// Geometric mean of the metadata phases, kIOPS.
    pub md: f64,
    /// `sqrt(bw * md)`.
    pub total: f64,
    /// Whether every phase it counts was valid.
    pub valid: bool,
    /// The score hash the app's `--verify` checks (`%X`).
    pub hash: String,
}

/// Everything an IO500 run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Io500Run {
    /// The version line's version.
    pub version: String,
    /// Standard or extended.
    pub mode: Mode,
    /// Ranks.
    pub procs: usize,
    /// `[global] api`'s backend (`POSIX`, `BENCHFS`, `DUMMY`).
    pub api: String,
    /// The configuration hash (`%X`).
    pub config_hash: String,
    /// The run's timestamp.
    pub timestamp: String,
    /// The data directory.
    pub datadir: String,
    /// The result directory.
    pub resultdir: String,
    /// `[debug] stonewall-time`.
    pub stonewall: i64,
    /// Every phase that ran (or was skipped by `run = FALSE`), in order.
    pub phases: Vec<PhaseRecord>,
    /// The standard score (`None` if the run stopped before it).
    pub score: Option<Scores>,
    /// The extended score (extended mode).
    pub extended: Option<Scores>,
    /// Why the run as a whole is invalid (debug options, dry run).
    pub run_invalid: Vec<String>,
}
