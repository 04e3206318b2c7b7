//! The versioned benchfs result document written by `benchfs-bench --json FILE`
//! (schema `benchfs-result`, version [`SCHEMA_VERSION`]; every field is described in
//! `results/README.md`).
//!
//! Unlike IOR's JSON (a compatible report, see [`crate::ior::output::json`]), this document
//! keeps everything the run measured at full precision: every phase row with its latency
//! percentiles and serialized histogram, per-rank figures, stonewall data and data-check
//! errors, the summaries, the exact build and the run's errors. It owns serialisation only;
//! it never runs or reduces anything.

use crate::build_info::BuildInfo;
use crate::io500::Io500Run;
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::results::{FsInfo, ResultEntry, RunInfo, TestResults};
use crate::ior::stats::{self, OpSummary};
use crate::mdtest::results::MdtestRun;
pub use crate::mdtest::results::PhaseResult as MdtestPhase;
use crate::mdtest::stats as mdtest_stats;
pub use crate::mdtest::stats::OpSummary as MdtestSummary;
use crate::mdtest::MdtestParams;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Value of [`ResultDocument::schema`].
pub const SCHEMA: &str = "benchfs-result";
/// Current value of [`ResultDocument::schema_version`]; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors reading or writing a result document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The file could not be written or read.
    #[error("result document {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The document could not be (de)serialized.
    #[error("result document {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The file is not a benchfs result document of a version we understand.
    #[error("result document {path}: schema {schema:?} version {version} is not {SCHEMA:?} version {SCHEMA_VERSION}")]
    Schema {
        /// The file.
        path: String,
        /// The schema name found.
        schema: String,
        /// The version found.
        version: u32,
    },
}

/// One test of the run, with everything it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestDocument {
    /// The test's parameters after validation (IOR's names in camelCase).
    pub params: IorParams,
    /// Task layout of the test.
    pub layout: TaskLayout,
    /// The backend's version string (`apiVersion`).
    pub api_version: String,
    /// Test start, ctime format.
    pub start_time: String,
    /// Rank 0's file name.
    pub path: String,
    /// File system capacity from the backend's statfs, if it worked.
    pub fs: Option<FsInfo>,
    /// Every Results entry in execution order (phase rows and `remove` rows).
    pub results: Vec<ResultEntry>,
    /// Summary statistics per operation (write, then read), SPEC §2.6.
    pub summary: Vec<OpSummary>,
}

/// The whole result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultDocument {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The exact build that produced the results.
    pub build: BuildInfo,
    /// Run-level facts (start time, command line, machine).
    pub run: RunInfo,
    /// End of the run, ctime format.
    pub finished: String,
    /// The tests in execution order.
    pub tests: Vec<TestDocument>,
    /// Sum of data-check errors (bad transfers) over all tests and phases.
    pub data_errors: i64,
    /// Process exit status, if the writer knew it when writing (see
    /// [`ResultDocument::with_exit_status`]).
    pub exit_status: Option<i32>,
    /// Errors of the run (fatal or not), as printed.
    pub errors: Vec<String>,
    /// Where the results come from when they were not measured by benchfs-bench itself (an
    /// imported IOR output, see [`crate::results::import`]); `None` (absent) for native runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImportSource>,
    /// The mdtest run of a `benchfs-bench mdtest` document (or an imported mdtest output);
    /// absent in IOR documents, whose `tests` it replaces (they are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdtest: Option<MdtestDocument>,
    /// The IO500 run of a `benchfs-bench io500` document: every phase with its score, time,
    /// validity and engine figures, and the run's scores (additive to schema version 1;
    /// `tests` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io500: Option<Io500Run>,
}

/// An mdtest run with everything it measured (`mdtest` field, additive to schema version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdtestDocument {
    /// Every parameter of the run (mdtest's names in camelCase: `items`, `itemsPerDir`,
    /// `uniqueDirPerTask`, `writeBytes`, `stoneWallTimerSeconds`, `iodepth`, ...).
    pub params: MdtestParams,
    /// Ranks of the job.
    pub world_tasks: usize,
    /// Nodes of the job.
    pub nodes: usize,
    /// The backend's version string.
    pub api_version: String,
    /// Rank 0's test directory.
    pub path: String,
    /// Capacity of its file system, if statfs worked.
    pub fs: Option<FsInfo>,
    /// The `-R` seed of rank 0 (0: no random order).
    pub random_seed: i64,
    /// mdtest's start and end stamps (`MM/DD/YYYY HH:MM:SS`).
    pub started: String,
    /// End stamp.
    pub finished: String,
    /// One entry per task count (`-f -l -s`), in order.
    pub runs: Vec<MdtestTaskDocument>,
}

/// One task count of an mdtest run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdtestTaskDocument {
    /// Tasks of this test.
    pub tasks: usize,
    /// Iterations that completed.
    pub iterations: usize,
    /// Items per rank.
    pub items_per_rank: u64,
    /// Every operation of every iteration (per-rank figures, latency percentiles and
    /// histogram, stonewall figures).
    pub phases: Vec<MdtestPhase>,
    /// The rows of mdtest's summary tables (rate, then time), as mdtest computes them.
    pub summary: Vec<MdtestSummary>,
    /// Data that did not verify.
    pub verification_errors: u64,
}

impl MdtestDocument {
    /// The document section of a finished (or cut short) run of `params`.
    pub fn of(params: &MdtestParams, run: &MdtestRun, world_tasks: usize) -> MdtestDocument {
        let plan = crate::mdtest::params::Plan::of(params);
        MdtestDocument {
            params: params.clone(),
            world_tasks,
            nodes: run.nodes,
            api_version: run.api_version.clone(),
            path: run.path.clone(),
            fs: run.fs.clone(),
            random_seed: run.random_seed,
            started: run.started.clone(),
            finished: run.finished.clone(),
            runs: run
                .runs
                .iter()
                .map(|r| MdtestTaskDocument {
                    tasks: r.tasks,
                    iterations: r.iterations,
                    items_per_rank: r.items_per_rank,
                    phases: r.phases.clone(),
                    summary: mdtest_stats::summarize_run(r, plan.dirs, plan.files),
                    verification_errors: r.verification_errors,
                })
                .collect(),
        }
    }
}

/// The origin of an imported result document (`source` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSource {
    /// Format that was read: `"ior-text"`, `"ior-json"` or `"ior-csv"`.
    pub format: String,
    /// The file that was imported, as given on the command line.
    pub file: String,
    /// The producer's version as printed by it (`4.1.0+dev`), if it printed one.
    pub tool_version: Option<String>,
    /// Version of the benchfs-bench that imported it.
    pub importer_version: String,
    /// Figures the input does not carry and the importer derived (e.g. `agg_bytes` from
    /// bandwidth × time), one note each, so readers know which numbers are exact.
    pub notes: Vec<String>,
}

impl ResultDocument {
    /// The document of a finished run.
    pub fn from_run(
        run: &RunInfo,
        tests: &[TestResults],
        finished: &str,
        errors: &[String],
    ) -> ResultDocument {
        let tests: Vec<TestDocument> = tests
            .iter()
            .map(|t| TestDocument {
                params: t.params.clone(),
                layout: t.layout,
                api_version: t.api_version.clone(),
                start_time: t.start_time.clone(),
                path: t.path.clone(),
                fs: t.fs.clone(),
                results: t.entries.clone(),
                summary: stats::summarize_test(t),
            })
            .collect();
        let data_errors = tests
            .iter()
            .flat_map(|t| t.results.iter())
            .map(|e| match e {
                ResultEntry::Phase(p) => p.errors,
                ResultEntry::Remove(_) => 0,
            })
            .sum();
        ResultDocument {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            build: BuildInfo::current(),
            run: run.clone(),
            finished: finished.to_string(),
            tests,
            data_errors,
            exit_status: None,
            errors: errors.to_vec(),
            source: None,
            mdtest: None,
            io500: None,
        }
    }

    /// The document of an mdtest run of `params` on `world_tasks` ranks (its `tests` empty).
    pub fn from_mdtest(
        run_info: &RunInfo,
        params: &MdtestParams,
        run: &MdtestRun,
        world_tasks: usize,
        finished: &str,
        errors: &[String],
    ) -> ResultDocument {
        let mut doc = ResultDocument::from_run(run_info, &[], finished, errors);
        doc.data_errors = run.runs.iter().map(|r| r.verification_errors as i64).sum();
        doc.mdtest = Some(MdtestDocument::of(params, run, world_tasks));
        doc
    }

    /// The document of an IO500 run (its `tests` empty; data errors are the IOR phases').
    pub fn from_io500(
        run_info: &RunInfo,
        run: &Io500Run,
        finished: &str,
        errors: &[String],
    ) -> ResultDocument {
        let mut doc = ResultDocument::from_run(run_info, &[], finished, errors);
        doc.data_errors = run
            .phases
            .iter()
            .filter_map(|p| p.ior.as_ref())
            .map(|r| r.errors)
            .sum();
        doc.io500 = Some(run.clone());
        doc
    }

    /// The same document with its exit status recorded.
    pub fn with_exit_status(mut self, status: i32) -> ResultDocument {
        self.exit_status = Some(status);
        self
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Writes the document to `path` atomically (a temporary file beside it, then rename), so
    /// that a reader never sees half a document.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), DocumentError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let mut text = self.to_json().map_err(|source| DocumentError::Json {
            path: name.clone(),
            source,
        })?;
        text.push('\n');
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let io_err = |source| DocumentError::Io {
            path: name.clone(),
            source,
        };
        std::fs::write(&tmp, text).map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            DocumentError::Io {
                path: name.clone(),
                source,
            }
        })
    }

    /// Reads a document written by [`ResultDocument::write_to`], checking schema and version.
    pub fn read_from(path: impl AsRef<Path>) -> Result<ResultDocument, DocumentError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DocumentError::Io {
            path: name.clone(),
            source,
        })?;
        Self::from_json(&text, &name)
    }

    /// Parses a document from its JSON `text` (named `name` in errors), checking schema and
    /// version.
    pub fn from_json(text: &str, name: &str) -> Result<ResultDocument, DocumentError> {
        let name = name.to_string();
        let doc: ResultDocument =
            serde_json::from_str(text).map_err(|source| DocumentError::Json {
                path: name.clone(),
                source,
            })?;
        if doc.schema != SCHEMA || doc.schema_version != SCHEMA_VERSION {
            return Err(DocumentError::Schema {
                path: name,
                schema: doc.schema,
                version: doc.schema_version,
            });
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::results::{
        LatencySummary, Phase, PhaseResult, RankFigures, RemoveResult, StonewallInfo,
    };

    fn sample() -> (RunInfo, Vec<TestResults>) {
        let run = RunInfo {
            began: "Mon Nov 23 23:33:48 2026".into(),
            command_line: "benchfs-bench -w".into(),
            machine: "Linux vm".into(),
            machine_long: "Linux vm 6.1 #1 x86_64".into(),
            hostname: "vm".into(),
            sysname: "Linux".into(),
        };
        let row = PhaseResult {
            access: Phase::Write,
            iteration: 0,
            agg_bytes: 1 << 20,
            bw_mib: 1.0,
            iops: 1.0,
            latency: 0.5,
            block_kib: 1024.0,
            xfer_kib: 1024.0,
            open_time: 0.0,
            wrrd_time: 1.0,
            close_time: 0.0,
            total_time: 1.0,
            latency_hist: LatencySummary {
                count: 1,
                p50: 1.0,
                histogram: "HISTFAAAAB".into(),
                ..LatencySummary::default()
            },
            per_rank: vec![RankFigures {
                rank: 0,
                bytes: 1 << 20,
                ..RankFigures::default()
            }],
            stonewall: Some(StonewallInfo::default()),
            errors: 3,
            iodepth: 1,
            measured: true,
        };
        let test = TestResults {
            params: IorParams::default(),
            layout: TaskLayout {
                num_tasks: 1,
                num_nodes: 1,
                tasks_on_node0: 1,
                block_mapping: true,
            },
            api_version: String::new(),
            start_time: "x".into(),
            path: "/tmp/f".into(),
            fs: None,
            entries: vec![
                ResultEntry::Phase(row),
                ResultEntry::Remove(RemoveResult {
                    iteration: 0,
                    total_time: 0.1,
                }),
            ],
        };
        (run, vec![test])
    }

    #[test]
    fn round_trip_through_file() {
        let (run, tests) = sample();
        let doc = ResultDocument::from_run(&run, &tests, "end", &["boom".to_string()])
            .with_exit_status(2);
        assert_eq!(doc.data_errors, 3);
        assert_eq!(doc.tests[0].summary.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        doc.write_to(&path).unwrap();
        let back = ResultDocument::read_from(&path).unwrap();
        assert_eq!(back, doc);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["schema"], "benchfs-result");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["tests"][0]["results"][0]["kind"], "phase");
        assert_eq!(v["tests"][0]["results"][1]["kind"], "remove");
        assert_eq!(
            v["tests"][0]["results"][0]["latency_hist"]["histogram"],
            "HISTFAAAAB"
        );
    }

    #[test]
    fn rejects_other_schema() {
        let (run, tests) = sample();
        let mut doc = ResultDocument::from_run(&run, &tests, "end", &[]);
        doc.schema_version = 99;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        doc.write_to(&path).unwrap();
        assert!(matches!(
            ResultDocument::read_from(&path),
            Err(DocumentError::Schema { version: 99, .. })
        ));
        assert!(matches!(
            ResultDocument::read_from(dir.path().join("missing.json")),
            Err(DocumentError::Io { .. })
        ));
    }
}
