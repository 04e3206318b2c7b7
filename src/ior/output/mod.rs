//! IOR's output formats: text (SPEC §3), JSON (§4) and CSV (§3.4), behind one [`Reporter`].
//!
//! Owns the formatting of the result stream only. It never measures, never reduces over
//! ranks and never decides what to print when: the engine calls the reporter in execution
//! order, on rank 0 only. Warnings and logs are not part of the result stream: they go
//! through [`crate::measure::log`] to stderr, so JSON on stdout stays valid.

pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod text;

use crate::build_info;
use crate::ior::params::{IorParams, SummaryFormat};
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use crate::ior::stats;
use std::io::{self, Write};

/// IOR's original first header line (what parsers such as io500 look for as a prefix).
pub const IOR_HEADER: &str = "IOR-4.1.0+dev: MPI Coordinated Test of Parallel I/O";

/// Our first header line: IOR's line unchanged (so `IOR-` prefix matchers keep working),
/// followed by ` (benchfs-bench <version>)` naming the tool that produced it.
pub fn header_line() -> String {
    format!("{} (benchfs-bench {})", IOR_HEADER, build_info::VERSION)
}

/// A value of the `Options` / `Parameters` blocks: printed as is in text, and as a JSON
/// string or integer (IOR's `PrintKeyVal` / `PrintKeyValInt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVal {
    /// A string value (quoted in JSON).
    Str(String),
    /// An integer value (unquoted in JSON).
    Int(i64),
}

impl std::fmt::Display for KeyVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyVal::Str(s) => f.write_str(s),
            KeyVal::Int(i) => write!(f, "{}", i),
        }
    }
}

fn s(v: impl Into<String>) -> KeyVal {
    KeyVal::Str(v.into())
}

fn i(v: impl Into<i64>) -> KeyVal {
    KeyVal::Int(v.into())
}

/// IOR's expected aggregate file size: `blockSize * segmentCount * numTasks`.
pub fn expected_agg_size(test: &TestResults) -> i64 {
    test.params
        .block_size
        .saturating_mul(test.params.segment_count)
        .saturating_mul(test.layout.num_tasks as i64)
}

/// The `Options:` block of a test, in IOR's order with IOR's key names (SPEC §3.1 / §4.1);
/// the same list feeds the text and the JSON formats. Beyond IOR: `iodepth` last, only when
/// `iodepth > 1`.
pub fn options_block(test: &TestResults) -> Vec<(&'static str, KeyVal)> {
    let p = &test.params;
    let mut v = vec![
        ("api", s(p.api.clone())),
        ("apiVersion", s(test.api_version.clone())),
        ("test filename", s(p.test_file_name.clone())),
        (
            "access",
            s(if p.file_per_proc != 0 {
                "file-per-process"
            } else {
                "single-shared-file"
            }),
        ),
        (
            "type",
            s(if p.collective != 0 {
                "collective"
            } else {
                "independent"
            }),
        ),
        ("segments", i(p.segment_count)),
        (
            "ordering in a file",
            s(if p.random_offset != 0 {
                "random"
            } else {
                "sequential"
            }),
        ),
    ];
    if p.reorder_tasks == 0 && p.reorder_tasks_random == 0 {
        v.push(("ordering inter file", s("no tasks offsets")));
    }
    if p.reorder_tasks == 1 {
        v.push(("ordering inter file", s("constant task offset")));
        v.push(("task offset", i(p.task_per_node_offset)));
    }
    if p.reorder_tasks_random == 1 {
        v.push(("ordering inter file", s("random task offset")));
        v.push(("task offset", i(p.task_per_node_offset)));
        v.push(("reorder random seed", i(p.reorder_tasks_random_seed)));
    }
    v.push(("nodes", i(test.layout.num_nodes as i64)));
    v.push(("tasks", i(test.layout.num_tasks as i64)));
    v.push(("clients per node", i(test.layout.tasks_on_node0 as i64)));
    if p.memory_per_task != 0 {
        v.push(("memoryPerTask", s(stats::human_readable(p.memory_per_task))));
    }
    if p.memory_per_node != 0 {
        v.push(("memoryPerNode", s(stats::human_readable(p.memory_per_node))));
    }
    v.push((
        "memoryBuffer",
        s(match p.allocate_buffer_on_gpu {
            0 => "CPU",
            1 => "GPU",
            _ => "Managed",
        }),
    ));
    v.push((
        "dataAccess",
        s(if p.gpu_direct != 0 { "GPU" } else { "CPU" }),
    ));
    v.push(("GPUDirect", s(if p.gpu_direct != 0 { "1" } else { "0" })));
    v.push(("repetitions", i(p.repetitions)));
    v.push(("xfersize", s(stats::human_readable(p.transfer_size))));
    v.push(("blocksize", s(stats::human_readable(p.block_size))));
    v.push((
        "aggregate filesize",
        s(stats::human_readable(expected_agg_size(test))),
    ));
    if p.dry_run != 0 {
        v.push(("dryRun", i(p.dry_run)));
    }
    if p.verbose != 0 {
        v.push(("verbose", i(p.verbose)));
    }
    if p.deadline_for_stonewalling > 0 {
        v.push(("stonewallingTime", i(p.deadline_for_stonewalling)));
        v.push(("stoneWallingWearOut", i(p.stone_walling_wear_out)));
    }
    if p.iodepth > 1 {
        v.push(("iodepth", i(p.iodepth)));
    }
    v
}

/// IOR's `platform` value: the `platform` parameter if given, else
/// `<host name without trailing digits>(<sysname>)`.
pub fn platform(test: &TestResults, run: &RunInfo) -> String {
    if let Some(p) = &test.params.platform {
        return p.clone();
    }
    let host = run.hostname.trim_end_matches(|c: char| c.is_ascii_digit());
    format!("{}({})", host, run.sysname)
}

/// IOR's (mislabelled) `data packet type` letter: `["g","t","o","i"][enum]` (SPEC §2.8 BUG,
/// kept for compatibility; the integer `dataPacketType` next to it is correct).
pub fn data_packet_label(p: &IorParams) -> &'static str {
    match p.data_packet_type.as_int() {
        0 => "g",
        1 => "t",
        2 => "o",
        _ => "i",
    }
}

/// The `Parameters` block (JSON always, text with `-vvv`), in IOR's order with IOR's keys.
pub fn parameters_block(test: &TestResults, run: &RunInfo) -> Vec<(&'static str, KeyVal)> {
    let p = &test.params;
    vec![
        ("testID", i(p.test_id)),
        ("refnum", i(p.ref_num)),
        ("api", s(p.api.clone())),
        ("platform", s(platform(test, run))),
        ("testFileName", s(p.test_file_name.clone())),
        ("deadlineForStonewall", i(p.deadline_for_stonewalling)),
        ("stoneWallingWearOut", i(p.stone_walling_wear_out)),
        ("maxTimeDuration", i(p.max_time_duration)),
        ("outlierThreshold", i(p.outlier_threshold)),
        ("options", s("(null)")),
        ("dryRun", i(p.dry_run)),
        ("nodes", i(test.layout.num_nodes as i64)),
        ("memoryPerTask", i(p.memory_per_task)),
        ("memoryPerNode", i(p.memory_per_node)),
        ("tasksPerNode", i(test.layout.tasks_on_node0 as i64)),
        ("repetitions", i(p.repetitions)),
        ("multiFile", i(p.multi_file)),
        ("interTestDelay", i(p.inter_test_delay)),
        ("fsync", i(p.fsync)),
        ("fsyncperwrite", i(p.fsync_per_write)),
        ("useExistingTestFile", i(p.use_existing_test_file)),
        ("uniqueDir", i(p.unique_dir)),
        ("singleXferAttempt", i(p.single_xfer_attempt)),
        ("readFile", i(p.read_file)),
        ("writeFile", i(p.write_file)),
        ("filePerProc", i(p.file_per_proc)),
        ("reorderTasks", i(p.reorder_tasks)),
        ("reorderTasksRandom", i(p.reorder_tasks_random)),
        ("reorderTasksRandomSeed", i(p.reorder_tasks_random_seed)),
        ("randomOffset", i(p.random_offset)),
        ("checkWrite", i(p.check_write)),
        ("checkRead", i(p.check_read)),
        ("dataPacketType", i(p.data_packet_type.as_int())),
        ("keepFile", i(p.keep_file)),
        ("keepFileWithError", i(p.keep_file_with_error)),
        ("warningAsErrors", i(p.warning_as_errors)),
        ("verbose", i(p.verbose)),
        ("data packet type", s(data_packet_label(p))),
        (
            "setTimeStampSignature/incompressibleSeed",
            i(p.set_time_stamp_signature),
        ),
        ("collective", i(p.collective)),
        ("segmentCount", i(p.segment_count)),
        ("transferSize", i(p.transfer_size)),
        ("blockSize", i(p.block_size)),
    ]
}

/// Highest bandwidth over the repetitions of `phase`, in bytes/s (`agg_r / total_r`), for the
/// `Max Write` / `Max Read` lines and the JSON `max` object; `None` without rows.
pub fn max_bandwidth(test: &TestResults, phase: crate::ior::results::Phase) -> Option<f64> {
    test.phase_rows(phase)
        .map(|r| stats::bw_mib(r.agg_bytes, r.total_time) * stats::MIB)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
}

/// Receives the results of a run in execution order and writes them in one format.
pub trait Reporter {
    /// Start of the run: header lines (`IOR-...`, `Began`, `Command line`, `Machine`).
    /// `first` is the first test's parameters (its verbosity decides optional lines).
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()>;
    /// Start of a test: `TestID`, `StartTime`, `Path`/`FS`, (`Parameters`), `Options`, `Results:`.
    fn test_begin(&mut self, test: &TestResults) -> io::Result<()>;
    /// The two header lines of the Results table (printed once per test, after the
    /// pre-existing-file warnings of the first write).
    fn table_header(&mut self, test: &TestResults) -> io::Result<()>;
    /// One row (a phase, or `remove` with `-v`); `entry` is also the last of `test.entries`.
    fn entry(&mut self, test: &TestResults, entry: &ResultEntry) -> io::Result<()>;
    /// End of a test: `Max Write`/`Max Read` with `-v`, long summary with `summaryAlways`.
    fn test_end(&mut self, test: &TestResults) -> io::Result<()>;
    /// End of the run: `Summary of all tests` and `Finished`.
    fn run_end(&mut self, run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()>;
    /// The run was cut short (beyond IOR, which prints nothing then): end the stream with
    /// the summary of the phases in `tests` (those that completed) and an `Interrupted` line
    /// (`when`, ctime, and `reason`) instead of `Finished`, so that nothing reads as complete.
    /// Called at most once, at any point after `run_begin`, instead of `run_end`.
    fn run_interrupted(
        &mut self,
        run: &RunInfo,
        tests: &[TestResults],
        when: &str,
        reason: &str,
    ) -> io::Result<()>;
}

/// The reporter for `format`, writing to `out`.
pub fn reporter_for(format: SummaryFormat, out: Box<dyn Write + Send>) -> Box<dyn Reporter + Send> {
    match format {
        SummaryFormat::Default => Box::new(text::TextReporter::new(out)),
        SummaryFormat::Json => Box::new(json::JsonReporter::new(out)),
        SummaryFormat::Csv => Box::new(csv::CsvReporter::new(out)),
    }
}
