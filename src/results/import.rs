//! Import of real IOR output into the benchfs result document (`benchfs-bench import`).
//!
//! Reads IOR 4.x's three result formats — the text output (header, `Options:`, the `Results:`
//! table and the `Summary of all tests:` table), the JSON of `summaryFormat=JSON` (including
//! IOR's irregular whitespace, bare `inf`/`nan` tokens and log lines around the document) and
//! the CSV of `summaryFormat=CSV` — and rebuilds a [`ResultDocument`] whose `source` says where
//! it came from and which figures were derived rather than read.
//!
//! Owns parsing of IOR's output only; it must not run anything nor change the document schema
//! (that is [`crate::results::document`]). Summary statistics printed by IOR are kept as IOR
//! printed them; when the input has none (CSV, truncated text) they are recomputed with
//! [`crate::ior::stats::summarize`].

use crate::build_info::{self, BuildInfo};
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::results::{
    LatencySummary, Phase, PhaseResult, RemoveResult, ResultEntry, RunInfo, StonewallInfo,
    TestResults,
};
use crate::ior::stats::{self, OpSummary, MIB};
use crate::results::document::{
    ImportSource, ResultDocument, TestDocument, SCHEMA, SCHEMA_VERSION,
};
use serde_json::Value;
use std::path::Path;

/// Errors importing an IOR output.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not an IOR output in a format we know.
    #[error("{path}: not an IOR text, JSON or CSV output")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// The content looked like the given format but could not be parsed.
    #[error("{path}: invalid IOR {format} output: {message}")]
    Parse {
        /// The file.
        path: String,
        /// `text`, `JSON` or `CSV`.
        format: &'static str,
        /// What went wrong (with a line number where known).
        message: String,
    },
}

/// The IOR output formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// IOR's default text output.
    Text,
    /// `-O summaryFormat=JSON`.
    Json,
    /// `-O summaryFormat=CSV`.
    Csv,
}

impl ImportFormat {
    /// The value of [`ImportSource::format`] for this format.
    pub fn source_name(self) -> &'static str {
        match self {
            ImportFormat::Text => "ior-text",
            ImportFormat::Json => "ior-json",
            ImportFormat::Csv => "ior-csv",
        }
    }
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Backend name recorded for CSV input (IOR's CSV has no API column). Default `POSIX`.
    pub csv_api: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            csv_api: "POSIX".to_string(),
        }
    }
}

const CSV_HEADER: &str = "access,bw(MiB/s),IOPS,Latency";

/// Guesses the format of `text`: JSON if a line starts with `{`, CSV if a line starts with
/// IOR's CSV header, text if it has a `Results:` table; `None` otherwise.
pub fn detect(text: &str) -> Option<ImportFormat> {
    let lines = || text.lines().map(str::trim_start);
    if lines().any(|l| l.starts_with(CSV_HEADER)) {
        Some(ImportFormat::Csv)
    } else if lines().any(|l| l.starts_with('{')) && text.contains("\"tests\"") {
        Some(ImportFormat::Json)
    } else if lines().any(|l| l.starts_with("Results:") || l.starts_with("Summary of all tests:")) {
        Some(ImportFormat::Text)
    } else {
        None
    }
}

/// Reads `path` and imports it (format detected from the content).
pub fn import_file(
    path: impl AsRef<Path>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let (name, text) = read_input(path.as_ref())?;
    import_str(&text, &name, None, opts)
}

/// The display name and the text of an input file.
fn read_input(path: &Path) -> Result<(String, String), ImportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    Ok((name, text))
}

/// Loads a benchfs result document, or — when the file is not one — imports it as IOR output.
/// This is how `compare`, `report` and `export` accept either kind of input.
pub fn load_document(
    path: impl AsRef<Path>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let (name, text) = read_input(path.as_ref())?;
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        if v.get("schema").and_then(Value::as_str) == Some(SCHEMA) {
            return ResultDocument::from_json(&text, &name).map_err(|e| ImportError::Parse {
                path: name,
                format: "benchfs",
                message: e.to_string(),
            });
        }
    }
    import_str(&text, &name, None, opts)
}

/// Imports IOR output `text` (named `file` in errors and in `source.file`); `format` `None`
/// detects it.
pub fn import_str(
    text: &str,
    file: &str,
    format: Option<ImportFormat>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let format = match format.or_else(|| detect(text)) {
        Some(f) => f,
        None => {
            return Err(ImportError::UnknownFormat {
                path: file.to_string(),
            })
        }
    };
    let parsed = match format {
        ImportFormat::Text => parse_text(text),
        ImportFormat::Json => parse_json(text),
        ImportFormat::Csv => parse_csv(text, opts),
    }
    .map_err(|message| ImportError::Parse {
        path: file.to_string(),
        format: match format {
            ImportFormat::Text => "text",
            ImportFormat::Json => "JSON",
            ImportFormat::Csv => "CSV",
        },
        message,
    })?;
    Ok(parsed.into_document(format, file))
}

/// What a parser extracted, before it becomes a document.
#[derive(Default)]
struct Parsed {
    version: Option<String>,
    began: String,
    command_line: String,
    machine: String,
    finished: String,
    tests: Vec<ParsedTest>,
    errors: Vec<String>,
    data_errors: i64,
    notes: Vec<String>,
}

#[derive(Default)]
struct ParsedTest {
    params: IorParams,
    layout: Option<TaskLayout>,
    start_time: String,
    path: String,
    entries: Vec<ResultEntry>,
    summary: Vec<OpSummary>,
    /// The input's own summary was read (not recomputed).
    has_summary: bool,
}

impl ParsedTest {
    fn new(test_id: i32) -> Self {
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
    fn into_document(mut self, format: ImportFormat, file: &str) -> ResultDocument {
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
                began: self.began,
                command_line: self.command_line,
                machine: self.machine.clone(),
                machine_long: self.machine,
                hostname,
                sysname,
            },
            finished: self.finished,
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
        }
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
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
        TestDocument {
            params: results.params,
            layout: results.layout,
            api_version: results.api_version,
            start_time: results.start_time,
            path: results.path,
            fs: None,
            results: results.entries,
            summary,
        }
    }
}

/// A size as IOR prints it (`12`, `1 MiB`, `262144 bytes`, `1.5 KiB`), in bytes.
fn parse_size(s: &str) -> Option<i64> {
    crate::units::parse_size(s)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
}

/// IOR's PPDouble prints a negative value as `-`; anything unparsable counts as 0.
fn num(tok: &str) -> f64 {
    tok.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// Bytes moved by all ranks for a row that prints only rounded bandwidth and time: the
/// workload's expected size when bandwidth × time agrees with it within 5 %, otherwise the
/// estimate rounded to whole transfers.
fn derive_agg(bw_mib: f64, total: f64, params: &IorParams, notes: &mut Vec<String>) -> i64 {
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

fn latency_note(notes: &mut Vec<String>) {
    notes.push(
        "IOR records no latency histogram or per-rank figures: latency_hist and per_rank are empty"
            .to_string(),
    );
}

#[allow(clippy::too_many_arguments)]
fn phase_row(
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
    }
}

// ---------------------------------------------------------------------------------------------
// Text

fn parse_text(text: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut cur: Option<ParsedTest> = None;
    let mut in_summary = false;
    let mut pending_agg: Option<i64> = None;
    let mut pending_sw: Option<StonewallInfo> = None;
    let mut summaries: Vec<(i32, OpSummary, Vec<String>)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("IOR-") {
            if let Some((v, _)) = rest.split_once(':') {
                p.version = Some(v.to_string());
            }
            continue;
        }
        if trimmed.starts_with("Summary of all tests:") {
            in_summary = true;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("WARNING: Using actual aggregate bytes moved =") {
            pending_agg = rest.trim().parse().ok();
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("WARNING: Incorrect data on ") {
            // "read (1 errors found)."
            if let Some(n) = rest
                .split('(')
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse::<i64>().ok())
            {
                p.data_errors += n;
            }
            continue;
        }
        if trimmed.starts_with("ERROR")
            || trimmed.contains("ior ERROR")
            || trimmed.contains("exited on signal")
            || trimmed.contains("Signal: ")
        {
            p.errors.push(trimmed.to_string());
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("stonewalling pairs accessed min:") {
            pending_sw = parse_stonewall_line(rest);
            continue;
        }
        let toks: Vec<&str> = trimmed.split_whitespace().collect();
        let first = toks.first().copied().unwrap_or("");
        if in_summary && (first == "write" || first == "read") && toks.len() >= 27 {
            let (id, s, params) = parse_summary_row(&toks)
                .ok_or_else(|| format!("line {}: bad summary row", lineno + 1))?;
            summaries.push((id, s, params));
            continue;
        }
        if !in_summary && (first == "write" || first == "read") && toks.len() == 11 {
            let t = cur
                .as_mut()
                .ok_or_else(|| format!("line {}: Results row before TestID", lineno + 1))?;
            let access = if first == "write" {
                Phase::Write
            } else {
                Phase::Read
            };
            let v: Vec<f64> = toks[1..10].iter().map(|s| num(s)).collect();
            let iteration = toks[10]
                .parse::<usize>()
                .map_err(|_| format!("line {}: bad iteration", lineno + 1))?;
            let agg = match pending_agg.take() {
                Some(a) => a,
                None => derive_agg(v[0], v[8], &t.params, &mut p.notes),
            };
            latency_note(&mut p.notes);
            t.entries.push(ResultEntry::Phase(phase_row(
                access,
                iteration,
                agg,
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                [v[5], v[6], v[7], v[8]],
                pending_sw.take(),
            )));
            continue;
        }
        if !in_summary && first == "remove" && toks.len() == 11 {
            if let Some(t) = cur.as_mut() {
                t.entries.push(ResultEntry::Remove(RemoveResult {
                    iteration: toks[10].parse().unwrap_or(0),
                    total_time: num(toks[9]),
                }));
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        match key {
            "Began" => p.began = value.to_string(),
            "Command line" => p.command_line = value.to_string(),
            "Machine" => p.machine = value.to_string(),
            "Finished" => p.finished = value.to_string(),
            "TestID" => {
                if let Some(t) = cur.take() {
                    p.tests.push(t);
                }
                cur = Some(ParsedTest::new(value.parse().unwrap_or(0)));
            }
            _ => {
                if let Some(t) = cur.as_mut() {
                    apply_text_option(t, key, value);
                }
            }
        }
    }
    if let Some(t) = cur.take() {
        p.tests.push(t);
    }
    for (id, s, refine) in summaries {
        let t = match p.tests.iter_mut().find(|t| t.params.test_id == id) {
            Some(t) => t,
            None => {
                p.tests.push(ParsedTest::new(id));
                let n = p.tests.len() - 1;
                &mut p.tests[n]
            }
        };
        apply_summary_params(t, &refine);
        t.summary.push(s);
        t.has_summary = true;
    }
    if p.tests.is_empty() {
        return Err("no test found (no TestID line and no summary row)".to_string());
    }
    if p.finished.is_empty() {
        p.errors
            .push("the output has no Finished line: the IOR run did not complete".to_string());
    }
    Ok(p)
}

fn parse_stonewall_line(rest: &str) -> Option<StonewallInfo> {
    // " 320 max: 329 -- min data: 0.3 GiB mean data: 0.3 GiB time: 1.0s"
    let toks: Vec<&str> = rest.split_whitespace().collect();
    let get = |label: &str| {
        toks.iter()
            .position(|t| *t == label)
            .and_then(|i| toks.get(i + 1))
    };
    let gib = |label: &str| {
        get(label)
            .and_then(|s| s.parse::<f64>().ok())
            .map(|g| g * stats::GIB)
    };
    Some(StonewallInfo {
        pairs_min: toks.first()?.parse().ok()?,
        pairs_max: get("max:")?.parse().ok()?,
        data_min: gib("data:").unwrap_or(0.0),
        data_mean: toks
            .iter()
            .position(|t| *t == "mean")
            .and_then(|i| toks.get(i + 2))
            .and_then(|s| s.parse::<f64>().ok())
            .map(|g| g * stats::GIB)
            .unwrap_or(0.0),
        time: get("time:")
            .map(|s| s.trim_end_matches('s'))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
    })
}

fn apply_text_option(t: &mut ParsedTest, key: &str, value: &str) {
    let int = || value.parse::<i64>().ok();
    match key {
        "StartTime" => t.start_time = value.to_string(),
        "Path" => t.path = value.to_string(),
        "api" => t.params.api = value.to_string(),
        "test filename" => t.params.test_file_name = value.to_string(),
        "access" => t.params.file_per_proc = i32::from(value == "file-per-process"),
        "segments" => t.params.segment_count = int().unwrap_or(1),
        "ordering in a file" => {
            t.params.random_offset = match value {
                "sequential" => 0,
                "random" => 1,
                _ => 2,
            }
        }
        "ordering inter file" => {
            t.params.reorder_tasks = i32::from(value.contains("constant task offset"));
            if value.contains("random") {
                t.params.reorder_tasks_random = 1;
            }
        }
        "task offset" => t.params.task_per_node_offset = int().unwrap_or(1) as i32,
        "repetitions" => t.params.repetitions = int().unwrap_or(1) as i32,
        "xfersize" => t.params.transfer_size = parse_size(value).unwrap_or(0),
        "blocksize" => t.params.block_size = parse_size(value).unwrap_or(0),
        "stonewallingTime" => t.params.deadline_for_stonewalling = int().unwrap_or(0) as i32,
        "stoneWallingWearOut" => t.params.stone_walling_wear_out = int().unwrap_or(0) as i32,
        "tasks" | "nodes" | "clients per node" => {
            let n = int().unwrap_or(1).max(1) as usize;
            let l = t.layout.get_or_insert(TaskLayout {
                num_tasks: 1,
                num_nodes: 1,
                tasks_on_node0: 1,
                block_mapping: true,
            });
            match key {
                "tasks" => {
                    l.num_tasks = n;
                    t.params.num_tasks = n as i32;
                }
                "nodes" => l.num_nodes = n,
                _ => l.tasks_on_node0 = n,
            }
        }
        _ => {}
    }
}

/// One row of the text summary table: test id, the operation's summary, and the parameter
/// columns (`#Tasks tPN reps fPP reord reordoff reordrand seed segcnt blksiz xsize aggs API RefNum`).
fn parse_summary_row(toks: &[&str]) -> Option<(i32, OpSummary, Vec<String>)> {
    let operation = if toks[0] == "write" {
        Phase::Write
    } else {
        Phase::Read
    };
    let f = |i: usize| toks.get(i).and_then(|s| s.parse::<f64>().ok());
    let opt = |i: usize| f(i);
    let reps: usize = toks.get(15)?.parse().ok()?;
    let s = OpSummary {
        operation,
        reps,
        bw_max_mib: f(1)?,
        bw_min_mib: f(2)?,
        bw_mean_mib: f(3)?,
        bw_sd_mib: f(4)?,
        ops_max: f(5)?,
        ops_min: f(6)?,
        ops_mean: f(7)?,
        ops_sd: f(8)?,
        mean_time: f(9)?,
        stonewall_time: opt(10),
        stonewall_bw_mib: opt(11),
        aggs_mib: f(24)?,
    };
    let id: i32 = toks.get(12)?.parse().ok()?;
    Some((id, s, toks[13..].iter().map(|s| s.to_string()).collect()))
}

fn apply_summary_params(t: &mut ParsedTest, cols: &[String]) {
    // #Tasks tPN reps fPP reord reordoff reordrand seed segcnt blksiz xsize aggs(MiB) API RefNum
    let i = |k: usize| cols.get(k).and_then(|s| s.parse::<i64>().ok());
    if let Some(n) = i(0) {
        t.params.num_tasks = n as i32;
        let l = t.layout.get_or_insert(TaskLayout {
            num_tasks: 1,
            num_nodes: 1,
            tasks_on_node0: 1,
            block_mapping: true,
        });
        l.num_tasks = n.max(1) as usize;
        if let Some(tpn) = i(1) {
            l.tasks_on_node0 = tpn.max(1) as usize;
        }
    }
    if let Some(v) = i(2) {
        t.params.repetitions = v as i32;
    }
    if let Some(v) = i(3) {
        t.params.file_per_proc = v as i32;
    }
    if let Some(v) = i(4) {
        t.params.reorder_tasks = v as i32;
    }
    if let Some(v) = i(5) {
        t.params.task_per_node_offset = v as i32;
    }
    if let Some(v) = i(6) {
        t.params.reorder_tasks_random = v as i32;
    }
    if let Some(v) = i(7) {
        t.params.reorder_tasks_random_seed = v as i32;
    }
    if let Some(v) = i(8) {
        t.params.segment_count = v;
    }
    if let Some(v) = i(9) {
        t.params.block_size = v;
    }
    if let Some(v) = i(10) {
        t.params.transfer_size = v;
    }
    if let Some(api) = cols.get(12) {
        t.params.api = api.clone();
    }
    if let Some(v) = i(13) {
        t.params.ref_num = v as i32;
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Replaces bare words other than `true`/`false`/`null` outside strings (IOR prints `inf`,
/// `-nan`, ...) with `null`, so that the text becomes JSON.
fn sanitize_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut in_str = false;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.get(i + 1) {
                    out.push(*n);
                    i += 1;
                }
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
            i += 1;
            continue;
        }
        // Numbers (with exponents such as 1e5) are copied as they are.
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
        {
            while i < chars.len()
                && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
            {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        let starts_word = c.is_ascii_alphabetic()
            || (c == '-' && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic()));
        if starts_word {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.as_str() {
                "true" | "false" | "null" => out.push_str(&word),
                _ => out.push_str("null"),
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Removes log lines that IOR printed into the middle of its JSON stream (warnings,
/// stonewalling notes; IOR issues #102/#503): in IOR's JSON every line starts with a
/// structural character, a quote, a digit or `-`, never with a letter.
fn drop_log_lines(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.trim_start()
                .starts_with(|c: char| c.is_ascii_alphabetic())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_json_value(text: &str) -> Result<Value, String> {
    // Skip anything before the document (e.g. "Writing output to ..." or warnings).
    let start = text
        .lines()
        .scan(0usize, |off, l| {
            let here = *off;
            *off += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| l.trim_start().starts_with('{'))
        .map(|(o, _)| o)
        .ok_or("no '{' line")?;
    let body = &text[start..];
    let parse = |s: &str| {
        serde_json::Deserializer::from_str(s)
            .into_iter::<Value>()
            .next()
            .ok_or_else(|| "empty document".to_string())?
            .map_err(|e| e.to_string())
    };
    match parse(body) {
        Ok(v) => Ok(v),
        Err(_) => parse(&sanitize_json(&drop_log_lines(body))),
    }
}

fn parse_json(text: &str) -> Result<Parsed, String> {
    let v = first_json_value(text)?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let f = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
    let i = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64);
    let mut p = Parsed {
        version: v.get("Version").and_then(Value::as_str).map(str::to_string),
        began: s(&v, "Began"),
        command_line: s(&v, "Command line"),
        machine: s(&v, "Machine"),
        finished: s(&v, "Finished"),
        ..Parsed::default()
    };
    let tests = v
        .get("tests")
        .and_then(Value::as_array)
        .ok_or("no \"tests\" array")?;
    for tv in tests {
        let mut t = ParsedTest::new(i(tv, "TestID").unwrap_or(0) as i32);
        t.start_time = s(tv, "StartTime");
        t.path = s(tv, "Path");
        let empty = Value::Null;
        let pv = tv.get("Parameters").unwrap_or(&empty);
        let ov = tv.get("Options").unwrap_or(&empty);
        let pi = |k: &str, d: i64| i(pv, k).unwrap_or(d);
        let pr = &mut t.params;
        pr.api = pv
            .get("api")
            .and_then(Value::as_str)
            .unwrap_or("POSIX")
            .to_string();
        pr.ref_num = pi("refnum", 0) as i32;
        pr.test_file_name = s(pv, "testFileName");
        pr.platform = pv
            .get("platform")
            .and_then(Value::as_str)
            .map(str::to_string);
        pr.deadline_for_stonewalling = pi("deadlineForStonewall", 0) as i32;
        pr.stone_walling_wear_out = pi("stoneWallingWearOut", 0) as i32;
        pr.max_time_duration = pi("maxTimeDuration", 0) as i32;
        pr.outlier_threshold = pi("outlierThreshold", 0) as i32;
        pr.dry_run = pi("dryRun", 0) as i32;
        pr.memory_per_task = pi("memoryPerTask", 0);
        pr.memory_per_node = pi("memoryPerNode", 0);
        pr.repetitions = pi("repetitions", 1) as i32;
        pr.multi_file = pi("multiFile", 0) as i32;
        pr.inter_test_delay = pi("interTestDelay", 0) as i32;
        pr.fsync = pi("fsync", 0) as i32;
        pr.fsync_per_write = pi("fsyncperwrite", 0) as i32;
        pr.use_existing_test_file = pi("useExistingTestFile", 0) as i32;
        pr.unique_dir = pi("uniqueDir", 0) as i32;
        pr.single_xfer_attempt = pi("singleXferAttempt", 0) as i32;
        pr.read_file = pi("readFile", 0) as i32;
        pr.write_file = pi("writeFile", 0) as i32;
        pr.file_per_proc = pi("filePerProc", 0) as i32;
        pr.reorder_tasks = pi("reorderTasks", 0) as i32;
        pr.reorder_tasks_random = pi("reorderTasksRandom", 0) as i32;
        pr.reorder_tasks_random_seed = pi("reorderTasksRandomSeed", 0) as i32;
        pr.random_offset = pi("randomOffset", 0) as i32;
        pr.check_write = pi("checkWrite", 0) as i32;
        pr.check_read = pi("checkRead", 0) as i32;
        pr.data_packet_type = match pi("dataPacketType", 0) {
            1 => crate::ior::params::DataPacketType::Offset,
            2 => crate::ior::params::DataPacketType::Incompressible,
            3 => crate::ior::params::DataPacketType::Random,
            _ => crate::ior::params::DataPacketType::Timestamp,
        };
        pr.keep_file = pi("keepFile", 0) as i32;
        pr.keep_file_with_error = pi("keepFileWithError", 0) as i32;
        pr.warning_as_errors = pi("warningAsErrors", 0) as i32;
        pr.verbose = pi("verbose", 0) as i32;
        pr.set_time_stamp_signature = pi("setTimeStampSignature/incompressibleSeed", 0) as i32;
        pr.collective = pi("collective", 0) as i32;
        pr.segment_count = pi("segmentCount", 1);
        pr.transfer_size = pi("transferSize", 0);
        pr.block_size = pi("blockSize", 0);
        if let Some(off) = i(ov, "task offset") {
            pr.task_per_node_offset = off as i32;
        }
        let tasks = i(ov, "tasks").unwrap_or(1).max(1);
        pr.num_tasks = tasks as i32;
        t.layout = Some(TaskLayout {
            num_tasks: tasks as usize,
            num_nodes: i(ov, "nodes")
                .or_else(|| i(pv, "nodes"))
                .unwrap_or(1)
                .max(1) as usize,
            tasks_on_node0: i(ov, "clients per node")
                .or_else(|| i(pv, "tasksPerNode"))
                .unwrap_or(tasks)
                .max(1) as usize,
            block_mapping: true,
        });
        // Results: a flat list (IOR 4) or a list per iteration (IOR 3).
        let mut rows: Vec<&Value> = Vec::new();
        for r in tv
            .get("Results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match r.as_array() {
                Some(inner) => rows.extend(inner.iter()),
                None => rows.push(r),
            }
        }
        let (mut nw, mut nr, mut nrm) = (0usize, 0usize, 0usize);
        for r in rows {
            let access = s(r, "access");
            let g = |k: &str| f(r, k).unwrap_or(0.0);
            match access.as_str() {
                "write" | "read" => {
                    let (phase, it) = if access == "write" {
                        nw += 1;
                        (Phase::Write, nw - 1)
                    } else {
                        nr += 1;
                        (Phase::Read, nr - 1)
                    };
                    latency_note(&mut p.notes);
                    let agg = derive_agg(g("bwMiB"), g("totalTime"), &t.params, &mut p.notes);
                    t.entries.push(ResultEntry::Phase(phase_row(
                        phase,
                        it,
                        agg,
                        g("bwMiB"),
                        g("iops"),
                        g("latency"),
                        g("blockKiB"),
                        g("xferKiB"),
                        [g("openTime"), g("wrRdTime"), g("closeTime"), g("totalTime")],
                        None,
                    )));
                }
                "remove" => {
                    t.entries.push(ResultEntry::Remove(RemoveResult {
                        iteration: nrm,
                        total_time: g("totalTime"),
                    }));
                    nrm += 1;
                }
                _ => {}
            }
        }
        p.tests.push(t);
    }
    for sv in v
        .get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = i(sv, "TestID").unwrap_or(0) as i32;
        let operation = match sv.get("operation").and_then(Value::as_str) {
            Some("write") => Phase::Write,
            Some("read") => Phase::Read,
            _ => continue,
        };
        let g = |k: &str| f(sv, k).unwrap_or(0.0);
        let summary = OpSummary {
            operation,
            reps: i(sv, "repetitions").unwrap_or(1).max(0) as usize,
            bw_max_mib: g("bwMaxMIB"),
            bw_min_mib: g("bwMinMIB"),
            bw_mean_mib: g("bwMeanMIB"),
            bw_sd_mib: g("bwStdMIB"),
            ops_max: g("OPsMax"),
            ops_min: g("OPsMin"),
            ops_mean: g("OPsMean"),
            ops_sd: g("OPsSD"),
            mean_time: g("MeanTime"),
            stonewall_time: f(sv, "StoneWallTime"),
            stonewall_bw_mib: f(sv, "StoneWallbwMeanMIB"),
            aggs_mib: g("xsizeMiB"),
        };
        if let Some(t) = p.tests.iter_mut().find(|t| t.params.test_id == id) {
            t.summary.push(summary);
            t.has_summary = true;
        }
    }
    if p.tests.is_empty() {
        return Err("the \"tests\" array is empty".to_string());
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// CSV

fn parse_csv(text: &str, opts: &ImportOptions) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    p.notes.push(format!(
        "IOR's CSV has no header block: api recorded as {:?}, segment count derived from bytes moved",
        opts.csv_api
    ));
    let mut cur: Option<ParsedTest> = None;
    let mut seen: Vec<(Phase, usize)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(CSV_HEADER) {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 12 || !(cols[0] == "write" || cols[0] == "read" || cols[0] == "remove") {
            continue;
        }
        let bad = || format!("line {}: bad CSV row", lineno + 1);
        let v: Vec<f64> = cols[1..10].iter().map(|s| num(s)).collect();
        let tasks: i64 = cols[10].parse().map_err(|_| bad())?;
        let iteration: usize = cols[11].parse().map_err(|_| bad())?;
        let block = (v[3] * 1024.0).round() as i64;
        let xfer = (v[4] * 1024.0).round() as i64;
        if cols[0] == "remove" {
            if let Some(t) = cur.as_mut() {
                t.entries.push(ResultEntry::Remove(RemoveResult {
                    iteration,
                    total_time: v[8],
                }));
            }
            continue;
        }
        let access = if cols[0] == "write" {
            Phase::Write
        } else {
            Phase::Read
        };
        let same = cur.as_ref().is_some_and(|t| {
            t.params.block_size == block
                && t.params.transfer_size == xfer
                && i64::from(t.params.num_tasks) == tasks
                && !seen.contains(&(access, iteration))
        });
        if !same {
            if let Some(t) = cur.take() {
                p.tests.push(t);
            }
            let mut t = ParsedTest::new(p.tests.len() as i32);
            t.params.api = opts.csv_api.clone();
            t.params.block_size = block;
            t.params.transfer_size = xfer;
            t.params.num_tasks = tasks as i32;
            // segments: bytes moved / (block × tasks), from bw × total of this first row.
            let per_seg = (block * tasks.max(1)) as f64;
            if per_seg > 0.0 {
                t.params.segment_count = ((v[0] * v[8] * MIB / per_seg).round() as i64).max(1);
            }
            seen.clear();
            cur = Some(t);
        }
        let Some(t) = cur.as_mut() else {
            continue;
        };
        seen.push((access, iteration));
        t.params.repetitions = t.params.repetitions.max(iteration as i32 + 1);
        latency_note(&mut p.notes);
        let agg = derive_agg(v[0], v[8], &t.params, &mut p.notes);
        t.entries.push(ResultEntry::Phase(phase_row(
            access,
            iteration,
            agg,
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            [v[5], v[6], v[7], v[8]],
            None,
        )));
    }
    if let Some(t) = cur.take() {
        p.tests.push(t);
    }
    if p.tests.is_empty() {
        return Err("no data row".to_string());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1 MiB"), Some(1 << 20));
        assert_eq!(parse_size("262144 bytes"), Some(262_144));
        assert_eq!(parse_size("4 GiB"), Some(4 << 30));
        assert_eq!(parse_size("1 parsec"), None);
    }

    #[test]
    fn sanitizes_bare_words() {
        let s = sanitize_json(r#"{"a": inf, "b": -nan, "c": "inf x", "d": true, "e": 1e5}"#);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert!(v["a"].is_null());
        assert!(v["b"].is_null());
        assert_eq!(v["c"], "inf x");
        assert_eq!(v["d"], true);
        assert_eq!(v["e"], 1e5);
    }

    #[test]
    fn detects_formats() {
        assert_eq!(
            detect("access,bw(MiB/s),IOPS,Latency,x\n"),
            Some(ImportFormat::Csv)
        );
        assert_eq!(
            detect("Writing output to x\n{\n \"tests\": []}"),
            Some(ImportFormat::Json)
        );
        assert_eq!(detect("IOR-4\nResults: \n"), Some(ImportFormat::Text));
        assert_eq!(detect("hello"), None);
    }

    #[test]
    fn derive_agg_snaps_to_workload() {
        let params = IorParams {
            block_size: 1 << 20,
            transfer_size: 1 << 20,
            segment_count: 4,
            num_tasks: 2,
            ..IorParams::default()
        };
        let mut notes = Vec::new();
        // 8 MiB in 0.5 s = 16 MiB/s, printed rounded.
        assert_eq!(derive_agg(16.01, 0.5, &params, &mut notes), 8 << 20);
        // Far off (stonewalled): rounded to whole transfers.
        assert_eq!(derive_agg(2.0, 1.0, &params, &mut notes), 2 << 20);
    }
}
