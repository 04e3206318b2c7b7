//! What the three readers extract before it becomes a document: the parsed run and tests, and
//! the helpers they share (IOR's printed sizes and numbers, derived byte counts, phase rows).
//!
//! Owns the conversion of a parsed IOR output into a [`ResultDocument`]; it reads no format.

use super::ImportFormat;
use crate::build_info::{self, BuildInfo};
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::results::{
    LatencySummary, Phase, PhaseResult, ResultEntry, RunInfo, StonewallInfo, TestResults,
};
use crate::ior::stats::{self, OpSummary, MIB};
use crate::results::document::{
    test_document, ImportSource, Interruption, ResultDocument, TestDocument, SCHEMA, SCHEMA_VERSION,
};
use crate::timestamp;

/// What a parser extracted, before it becomes a document.
#[derive(Default)]
pub(super) struct Parsed {
    pub(super) version: Option<String>,
    pub(super) began: String,
    pub(super) command_line: String,
    pub(super) machine: String,
    pub(super) finished: String,
    pub(super) tests: Vec<ParsedTest>,
    pub(super) errors: Vec<String>,
    pub(super) data_errors: i64,
    pub(super) notes: Vec<String>,
    /// Why the output is known to be incomplete (a text output without `Finished`): the
    /// signal that ended it (0 if none is known) and the line that says so.
    pub(super) incomplete: Option<(i32, String)>,
}

#[derive(Default)]
pub(super) struct ParsedTest {
    pub(super) params: IorParams,
    pub(super) layout: Option<TaskLayout>,
    pub(super) start_time: String,
    pub(super) path: String,
    pub(super) entries: Vec<ResultEntry>,
    pub(super) summary: Vec<OpSummary>,
    /// The input's own summary was read (not recomputed).
    pub(super) has_summary: bool,
}

impl ParsedTest {
    pub(super) fn new(test_id: i32) -> Self {
        ParsedTest {
            params: IorParams {
                test_id,
                ..IorParams::default()
            },
            ..ParsedTest::default()
        }
    }
}

impl Parsed {
    pub(super) fn into_document(mut self, format: ImportFormat, file: &str) -> ResultDocument {
        let version = self.version.clone();
        let tool = version.clone().unwrap_or_else(|| "unknown".to_string());
        let mut tests = Vec::new();
        for t in std::mem::take(&mut self.tests) {
            tests.push(t.into_document(&mut self.notes));
        }
        let mut machine_parts = self.machine.split_whitespace();
        let sysname = machine_parts.next().unwrap_or_default().to_string();
        let hostname = machine_parts.next().unwrap_or_default().to_string();
        ResultDocument {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            build: BuildInfo {
                version: tool.clone(),
                git_commit: "unknown".to_string(),
                features: Vec::new(),
                profile: "unknown".to_string(),
                ior_version: tool,
            },
            run: RunInfo {
                began: timestamp::from_ctime(&self.began, false),
                command_line: self.command_line,
                machine: self.machine.clone(),
                machine_long: self.machine,
                hostname,
                sysname,
            },
            host: None,
            finished: timestamp::from_ctime(&self.finished, false),
            interrupted: self
                .incomplete
                .map(|(signal, reason)| Interruption { signal, reason }),
            tests,
            data_errors: self.data_errors,
            exit_status: None,
            errors: self.errors,
            source: Some(ImportSource {
                format: format.source_name().to_string(),
                file: file.to_string(),
                tool_version: version,
                importer_version: build_info::VERSION.to_string(),
                notes: dedup(self.notes),
            }),
            mdtest: None,
            io500: None,
            mdworkbench: None,
        }
    }
}

pub(super) fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

impl ParsedTest {
    fn into_document(mut self, notes: &mut Vec<String>) -> TestDocument {
        let rows = |p: Phase| {
            self.entries
                .iter()
                .filter(|e| matches!(e, ResultEntry::Phase(r) if r.access == p))
                .count()
        };
        let (writes, reads) = (rows(Phase::Write), rows(Phase::Read));
        if writes > 0 {
            self.params.write_file = self.params.write_file.max(1);
        }
        if reads > 0 {
            self.params.read_file = self.params.read_file.max(1);
        }
        let layout = self.layout.unwrap_or(TaskLayout {
            num_tasks: self.params.num_tasks.max(1) as usize,
            num_nodes: 1,
            tasks_on_node0: self.params.num_tasks.max(1) as usize,
            block_mapping: true,
        });
        let results = TestResults {
            params: self.params,
            layout,
            api_version: String::new(),
            start_time: self.start_time,
            path: self.path,
            fs: None,
            entries: self.entries,
        };
        let summary = if self.has_summary {
            self.summary
        } else {
            if !results.entries.is_empty() {
                notes.push(
                    "summary statistics recomputed from the (rounded) Results rows".to_string(),
                );
            }
            stats::summarize_test(&results)
        };
        test_document(&results, summary, false)
    }
}

/// A size as IOR prints it (`12`, `1 MiB`, `262144 bytes`, `1.5 KiB`), in bytes.
pub(super) fn parse_size(s: &str) -> Option<i64> {
    crate::units::parse_size(s)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
}

/// IOR's PPDouble prints a negative value as `-`; anything unparsable counts as 0.
pub(super) fn num(tok: &str) -> f64 {
    tok.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// Bytes moved by all ranks for a row that prints only rounded bandwidth and time: the
/// workload's expected size when bandwidth × time agrees with it within 5 %, otherwise the
/// estimate rounded to whole transfers.
pub(super) fn derive_agg(
    bw_mib: f64,
    total: f64,
    params: &IorParams,
    notes: &mut Vec<String>,
) -> i64 {
    let estimate = bw_mib * total * MIB;
    let expected = params.block_size * params.segment_count * i64::from(params.num_tasks.max(1));
    notes.push(
        "agg_bytes derived: the workload's size when bw x total agrees within 5 %, else bw x total"
            .to_string(),
    );
    if expected > 0 && (estimate - expected as f64).abs() <= 0.05 * expected as f64 {
        return expected;
    }
    let xfer = params.transfer_size.max(1) as f64;
    ((estimate / xfer).round() * xfer) as i64
}

pub(super) fn latency_note(notes: &mut Vec<String>) {
    notes.push(
        "IOR records no latency histogram or per-rank figures: latency_hist and per_rank are empty"
            .to_string(),
    );
}

#[allow(clippy::too_many_arguments)]
pub(super) fn phase_row(
    access: Phase,
    iteration: usize,
    agg_bytes: i64,
    bw: f64,
    iops: f64,
    latency: f64,
    block_kib: f64,
    xfer_kib: f64,
    times: [f64; 4],
    stonewall: Option<StonewallInfo>,
) -> PhaseResult {
    PhaseResult {
        access,
        iteration,
        agg_bytes,
        bw_mib: bw,
        iops,
        latency,
        block_kib,
        xfer_kib,
        open_time: times[0],
        wrrd_time: times[1],
        close_time: times[2],
        total_time: times[3],
        latency_hist: LatencySummary::default(),
        per_rank: Vec::new(),
        stonewall,
        errors: 0,
        iodepth: 1,
        // IOR prints `inf` (read as 0 here) or `-` for an unmeasurable phase.
        measured: bw > 0.0 && iops > 0.0,
        time_series: None,
    }
}
