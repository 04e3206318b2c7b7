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
use crate::timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Value of [`ResultDocument::schema`].
pub const SCHEMA: &str = "benchfs-result";
/// Current value of [`ResultDocument::schema_version`]; bumped on any incompatible change.
///
/// Version 2 (from 1): `run.began`, `finished` and `tests[].start_time` are RFC 3339 with a
/// zone instead of ctime strings; `fs.capacity_bytes` and `fs.inodes` are integers. Added
/// (additive): `host`, `interrupted`, `tests[].fs_type`, `tests[].cluster`, per-rank
/// `start`/`end`. Documents of version 1 are read and upgraded ([`ResultDocument::from_json`]).
pub const SCHEMA_VERSION: u32 = 2;
/// Every version [`ResultDocument::from_json`] reads.
pub const READABLE_VERSIONS: &[u32] = &[1, SCHEMA_VERSION];

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
    #[error("result document {path}: schema {schema:?} version {version} is not {SCHEMA:?} version 1 or {SCHEMA_VERSION}")]
    Schema {
        /// The file.
        path: String,
        /// The schema name found.
        schema: String,
        /// The version found.
        version: u32,
    },
}

/// The machine the run measured on (rank 0's host), as far as it could be learnt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu_model: Option<String>,
    /// Physical cores (distinct core ids), where cpuinfo lists them.
    pub cpu_cores: Option<usize>,
    /// CPUs online (hardware threads).
    pub logical_cpus: Option<usize>,
    /// Physical memory in bytes (`MemTotal`).
    pub memory_bytes: Option<u64>,
    /// Kernel release (`uname -r`).
    pub kernel: Option<String>,
}

/// Capacity of the file system under the test's path (the backend's statfs), in integers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsDocument {
    /// Total capacity in bytes.
    pub capacity_bytes: u64,
    /// Used capacity in percent.
    pub used_capacity_pct: f64,
    /// Total inodes (0 when the file system reports none).
    pub inodes: u64,
    /// Used inodes in percent.
    pub used_inodes_pct: f64,
}

impl From<&FsInfo> for FsDocument {
    fn from(f: &FsInfo) -> Self {
        let whole = |v: f64| {
            if v.is_finite() && v > 0.0 {
                v.round() as u64
            } else {
                0
            }
        };
        FsDocument {
            capacity_bytes: whole(f.capacity_bytes),
            used_capacity_pct: f.used_capacity_pct,
            inodes: whole(f.inodes),
            used_inodes_pct: f.used_inodes_pct,
        }
    }
}

/// A BenchFS cluster a test ran on, by its settings (never by a temporary path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSettings {
    /// `embedded` (servers inside benchfs-bench), `in-job` (servers inside the MPI job's
    /// ranks) or `external` (joined through `--benchfs.registry`).
    pub kind: String,
    /// Number of servers (embedded: `--benchfs.servers`; external: as the registry says,
    /// when it could be read; in-job: null, see `servers_per_node`).
    pub servers: Option<usize>,
    /// In-job: servers started on each node (`--benchfs.servers-per-node`).
    pub servers_per_node: Option<usize>,
    /// Chunk size of the files the test created, bytes.
    pub chunk_size: u32,
    /// Spare chunk files each server kept ready (embedded and in-job).
    pub spare_chunks: Option<usize>,
    /// Transport (`tcp`).
    pub transport: String,
    /// The data directory as given (`--benchfs.data-dir`); null: the system's temporary
    /// directory (embedded and in-job), or unknown (external).
    pub data_dir: Option<String>,
    /// File-system type under the servers' data (`tmpfs`, `ext4`, ...), where known.
    pub data_dir_fs_type: Option<String>,
    /// External clusters: the registry directory given.
    pub registry: Option<String>,
}

/// What the driver knows about a test beyond its results, for the document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestContext {
    /// The backend options as the user gave them (without what the driver added, such as
    /// the registry of an embedded cluster).
    pub backend_options: Option<BTreeMap<String, String>>,
    /// File-system type under the test's path.
    pub fs_type: Option<String>,
    /// The BenchFS cluster of the test, if any.
    pub cluster: Option<ClusterSettings>,
}

/// What the driver knows about the run beyond its results, for the document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunContext {
    /// Start of the run, RFC 3339.
    pub began: String,
    /// End of the run, RFC 3339.
    pub finished: String,
    /// The machine.
    pub host: Option<HostInfo>,
    /// Per test, in the order of the tests given.
    pub tests: Vec<TestContext>,
    /// The signal that cut the run short, if one did.
    pub interrupted: Option<Interruption>,
}

/// A run cut short by a signal: the document holds the phases that completed before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interruption {
    /// The signal number (2 = SIGINT, 15 = SIGTERM), or 0 when only known to have stopped
    /// early (an imported IOR output without its `Finished` line).
    pub signal: i32,
    /// Its name (`SIGINT`), or why the run is known to be incomplete.
    pub reason: String,
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
    /// Test start, RFC 3339.
    pub start_time: String,
    /// Rank 0's file name.
    pub path: String,
    /// File system capacity from the backend's statfs, if it worked.
    pub fs: Option<FsDocument>,
    /// File-system type under the path (`ext4`, `tmpfs`, `benchfs`), where known.
    #[serde(default)]
    pub fs_type: Option<String>,
    /// The BenchFS cluster the test ran on (BENCHFS tests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSettings>,
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
    /// Run-level facts (command line, machine), with `began` in RFC 3339.
    pub run: RunInfo,
    /// The machine (null for imported runs).
    #[serde(default)]
    pub host: Option<HostInfo>,
    /// End of the run, RFC 3339 (the moment the document was made for an interrupted run).
    pub finished: String,
    /// Set when the run was cut short (a signal, or an imported run without its end).
    #[serde(default)]
    pub interrupted: Option<Interruption>,
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
    /// The md-workbench run of a `benchfs-bench md-workbench` document (additive to schema
    /// version 1; `tests` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdworkbench: Option<MdwDocument>,
}

/// An md-workbench run with everything it measured (`mdworkbench` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdwDocument {
    /// Every parameter of the run (md-workbench's names in camelCase).
    pub params: crate::mdworkbench::MdwParams,
    /// The phases that completed (precreate, each benchmark run, cleanup) with their counts,
    /// rates, latency statistics and per-rank figures, and the position reached.
    pub run: crate::mdworkbench::MdwRun,
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

/// The test document of one test's results; `local` tells whether its ctime start time was
/// printed by this machine's clock (a native run) or read from elsewhere (an import).
pub fn test_document(t: &TestResults, summary: Vec<OpSummary>, local: bool) -> TestDocument {
    TestDocument {
        params: t.params.clone(),
        layout: t.layout,
        api_version: t.api_version.clone(),
        start_time: timestamp::from_ctime(&t.start_time, local),
        path: t.path.clone(),
        fs: t.fs.as_ref().map(FsDocument::from),
        fs_type: None,
        cluster: None,
        results: t.entries.clone(),
        summary,
    }
}

impl ResultDocument {
    /// The document of a run (finished, failed or interrupted): its results, and what the
    /// driver knows beside them (`ctx`).
    pub fn from_run(
        run: &RunInfo,
        tests: &[TestResults],
        errors: &[String],
        ctx: &RunContext,
    ) -> ResultDocument {
        let tests: Vec<TestDocument> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut doc = test_document(t, stats::summarize_test(t), true);
                if let Some(c) = ctx.tests.get(i) {
                    if let Some(o) = &c.backend_options {
                        doc.params.backend_options = o.clone();
                    }
                    doc.fs_type = c.fs_type.clone();
                    doc.cluster = c.cluster.clone();
                }
                doc
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
            run: RunInfo {
                began: ctx.began.clone(),
                ..run.clone()
            },
            host: ctx.host.clone(),
            finished: ctx.finished.clone(),
            interrupted: ctx.interrupted.clone(),
            tests,
            data_errors,
            exit_status: None,
            errors: errors.to_vec(),
            source: None,
            mdtest: None,
            io500: None,
            mdworkbench: None,
        }
    }

    /// The document of an mdtest run of `params` on `world_tasks` ranks (its `tests` empty);
    /// `ctx` gives its times (RFC 3339) and host.
    pub fn from_mdtest(
        run_info: &RunInfo,
        params: &MdtestParams,
        run: &MdtestRun,
        world_tasks: usize,
        errors: &[String],
        ctx: &RunContext,
    ) -> ResultDocument {
        let mut doc = ResultDocument::from_run(run_info, &[], errors, ctx);
        doc.data_errors = run.runs.iter().map(|r| r.verification_errors as i64).sum();
        doc.mdtest = Some(MdtestDocument::of(params, run, world_tasks));
        doc
    }

    /// The document of an IO500 run (its `tests` empty; data errors are the IOR phases').
    pub fn from_io500(
        run_info: &RunInfo,
        run: &Io500Run,
        errors: &[String],
        ctx: &RunContext,
    ) -> ResultDocument {
        let mut doc = ResultDocument::from_run(run_info, &[], errors, ctx);
        doc.data_errors = run
            .phases
            .iter()
            .filter_map(|p| p.ior.as_ref())
            .map(|r| r.errors)
            .sum();
        doc.io500 = Some(run.clone());
        doc
    }

    /// The document of an md-workbench run of `params` (its `tests` empty; data errors are
    /// its failed operations).
    pub fn from_mdworkbench(
        run_info: &RunInfo,
        params: &crate::mdworkbench::MdwParams,
        run: &crate::mdworkbench::MdwRun,
        errors: &[String],
        ctx: &RunContext,
    ) -> ResultDocument {
        let mut doc = ResultDocument::from_run(run_info, &[], errors, ctx);
        doc.data_errors = i64::try_from(run.errors()).unwrap_or(i64::MAX);
        doc.mdworkbench = Some(MdwDocument {
            params: params.clone(),
            run: run.clone(),
        });
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
    /// version. A document of version 1 is upgraded to the current version as it is read
    /// (ctime strings become RFC 3339 with an unknown offset, capacities integers).
    pub fn from_json(text: &str, name: &str) -> Result<ResultDocument, DocumentError> {
        let name = name.to_string();
        let json_err = |source| DocumentError::Json {
            path: name.clone(),
            source,
        };
        let mut v: Value = serde_json::from_str(text).map_err(json_err)?;
        let schema = v.get("schema").and_then(Value::as_str).unwrap_or_default();
        let version = v.get("schema_version").and_then(Value::as_u64).unwrap_or(0) as u32;
        if schema != SCHEMA || !READABLE_VERSIONS.contains(&version) {
            return Err(DocumentError::Schema {
                path: name.clone(),
                schema: schema.to_string(),
                version,
            });
        }
        if version == 1 {
            upgrade_v1(&mut v);
        }
        serde_json::from_value(v).map_err(json_err)
    }
}

/// Rewrites a version-1 document into version 2 in place: its ctime strings were local times
/// of an unknown zone (`-00:00`), its capacities floats.
fn upgrade_v1(v: &mut Value) {
    let ctime = |slot: Option<&mut Value>| {
        if let Some(s) = slot {
            let t = timestamp::from_ctime(s.as_str().unwrap_or_default(), false);
            *s = Value::String(t);
        }
    };
    ctime(v.pointer_mut("/run/began"));
    ctime(v.get_mut("finished"));
    if let Some(tests) = v.get_mut("tests").and_then(Value::as_array_mut) {
        for t in tests {
            ctime(t.get_mut("start_time"));
            if let Some(fs) = t.get_mut("fs").filter(|f| f.is_object()) {
                for key in ["capacity_bytes", "inodes"] {
                    if let Some(x) = fs.get_mut(key) {
                        let n = x.as_f64().filter(|n| n.is_finite() && *n > 0.0);
                        *x = Value::from(n.map_or(0, |n| n.round() as u64));
                    }
                }
            }
        }
    }
    v["schema_version"] = Value::from(SCHEMA_VERSION);
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
                start: Some(1_796_122_441.25),
                ..RankFigures::default()
            }],
            stonewall: Some(StonewallInfo::default()),
            errors: 3,
            iodepth: 1,
            measured: true,
            time_series: None,
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

    fn ctx() -> RunContext {
        RunContext {
            began: "2026-11-23T23:33:48+01:00".into(),
            finished: "2026-11-23T23:34:00+01:00".into(),
            host: Some(HostInfo {
                cpu_model: Some("cpu".into()),
                cpu_cores: Some(2),
                logical_cpus: Some(4),
                memory_bytes: Some(1 << 30),
                kernel: None,
            }),
            tests: vec![TestContext {
                backend_options: Some(BTreeMap::new()),
                fs_type: Some("tmpfs".into()),
                cluster: None,
            }],
            interrupted: None,
        }
    }

    #[test]
    fn round_trip_through_file() {
        let (run, mut tests) = sample();
        tests[0]
            .params
            .backend_options
            .insert("benchfs.registry".into(), "/tmp/x".into());
        tests[0].fs = Some(FsInfo {
            capacity_bytes: 1e12,
            used_capacity_pct: 1.5,
            inodes: 1000.0,
            used_inodes_pct: 0.1,
        });
        tests[0].start_time = chrono::Local::now().format(timestamp::CTIME).to_string();
        let doc = ResultDocument::from_run(&run, &tests, &["boom".to_string()], &ctx())
            .with_exit_status(2);
        assert_eq!(doc.data_errors, 3);
        assert_eq!(doc.tests[0].summary.len(), 1);
        // What the driver added for an embedded cluster is not recorded.
        assert!(doc.tests[0].params.backend_options.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        doc.write_to(&path).unwrap();
        let back = ResultDocument::read_from(&path).unwrap();
        assert_eq!(back, doc);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["schema"], "benchfs-result");
        assert_eq!(v["schema_version"], 2);
        assert_eq!(v["run"]["began"], "2026-11-23T23:33:48+01:00");
        assert_eq!(v["finished"], "2026-11-23T23:34:00+01:00");
        assert_eq!(v["host"]["logical_cpus"], 4);
        let start = v["tests"][0]["start_time"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(start).is_ok(),
            "{start}"
        );
        assert_eq!(v["tests"][0]["fs"]["capacity_bytes"], 1_000_000_000_000u64);
        assert!(v["tests"][0]["fs"]["capacity_bytes"].is_u64());
        assert!(v["tests"][0]["fs"]["inodes"].is_u64());
        assert_eq!(v["tests"][0]["fs_type"], "tmpfs");
        assert_eq!(v["tests"][0]["results"][0]["kind"], "phase");
        assert_eq!(v["tests"][0]["results"][1]["kind"], "remove");
        let rank = &v["tests"][0]["results"][0]["per_rank"][0];
        assert_eq!(
            rank["start"],
            "2026-12-01T10:54:01.250000+00:00".replace("+00:00", &local_offset(1_796_122_441.25))
        );
        assert!(rank["end"].is_null());
        assert_eq!(
            v["tests"][0]["results"][0]["latency_hist"]["histogram"],
            "HISTFAAAAB"
        );
    }

    fn local_offset(epoch: f64) -> String {
        let s = timestamp::at_epoch(epoch).unwrap();
        s[s.len() - 6..].to_string()
    }

    #[test]
    fn reads_version_1_documents() {
        // Written by benchfs-bench before schema version 2 (commit 62a7383).
        let v1 = include_str!("../../tests/data/results/posix-v1.json");
        let doc = ResultDocument::from_json(v1, "v1.json").unwrap();
        assert_eq!(doc.schema_version, SCHEMA_VERSION);
        assert_eq!(doc.run.began, "2026-12-01T11:07:32-00:00");
        assert_eq!(doc.finished, "2026-12-01T11:07:33-00:00");
        assert_eq!(doc.tests[0].start_time, "2026-12-01T11:07:32-00:00");
        let fs = doc.tests[0].fs.as_ref().unwrap();
        assert!(fs.capacity_bytes > 1 << 20 && fs.inodes > 0, "{fs:?}");
        assert_eq!(doc.host, None);
        assert_eq!(doc.interrupted, None);
        match &doc.tests[0].results[0] {
            ResultEntry::Phase(p) => assert_eq!(p.per_rank[0].start, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_other_schema() {
        let (run, tests) = sample();
        let mut doc = ResultDocument::from_run(&run, &tests, &[], &RunContext::default());
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
