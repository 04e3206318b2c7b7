//! Golden tests of IOR's output formats against real IOR outputs (SPEC examples).
//!
//! For each example, the test rebuilds the [`TestResults`] the engine would have produced from
//! the numbers printed in the example, runs our reporter in the engine's call order and
//! compares with the example's result stream:
//!
//! * Text: every result-stream line must be identical, except the first header line (compared
//!   by prefix: ours appends ` (benchfs-bench X.Y)`). Log-stream lines (`WARNING`,
//!   `stonewalling ...`, `Pairs ...`, `Commencing ...`, `task N ...`, `Test N: ...`,
//!   `Using Time Stamp ...`, the `-vvv` environment dump) are removed from the example first;
//!   in `shm_verbose3.txt` a log line of rank 1 split the `nodes` line of the Parameters block
//!   and is repaired.
//! * Summary numbers (Mean/StdDev/Max/Min of MiB/s and OPs, Mean(s)): the example prints rows
//!   rounded (bandwidth to 0 or 2 decimals, times to 2 or 6), so the per-repetition inputs can
//!   only be rebuilt to that precision. Each summary number is compared with a tolerance
//!   *derived from that input precision* (propagated uncertainty + half a unit of the printed
//!   last digit); its column position is still compared exactly. Nothing else is tolerant.
//! * JSON: parsed values compared key by key, key order included, integers vs floats kept
//!   apart; only the summary statistics use the same derived tolerance. Our additive keys
//!   (`latencyPercentiles`, `ranks`, `iodepth`, `benchfsVersion`) are allowed after IOR's keys.

#[path = "common/golden.rs"]
mod golden;

use benchfs::ior::output::reporter_for;
use benchfs::ior::params::{DataPacketType, IorParams, SummaryFormat, TaskLayout};
use benchfs::ior::results::{
    FsInfo, LatencySummary, Phase, PhaseResult, RankFigures, RemoveResult, ResultEntry, RunInfo,
    StonewallInfo, TestResults,
};
use benchfs::ior::stats::{GIB, MIB};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------------------------
// plumbing

fn examples_dir() -> std::path::PathBuf {
    let candidates = [
        std::env::var("BENCHFS_IOR_EXAMPLES").ok(),
        Some(format!(
            "{}/tests/data/ior-examples",
            env!("CARGO_MANIFEST_DIR")
        )),
        Some(format!(
            "{}/../shared/ior/examples",
            env!("CARGO_MANIFEST_DIR")
        )),
    ];
    for c in candidates.into_iter().flatten() {
        let p = std::path::PathBuf::from(c);
        if p.join("shm_fpp_text.txt").exists() {
            return p;
        }
    }
    panic!("IOR examples not found (set BENCHFS_IOR_EXAMPLES)");
}

fn example(name: &str) -> String {
    std::fs::read_to_string(examples_dir().join(name)).expect("example readable")
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a reporter exactly as the engine does (entries grow as rows arrive).
fn render(format: SummaryFormat, run: &RunInfo, tests: &[TestResults], finished: &str) -> String {
    let buf = Buf::default();
    let mut rep = reporter_for(format, Box::new(buf.clone()));
    rep.run_begin(run, &tests[0].params).unwrap();
    for t in tests {
        let mut cur = t.clone();
        cur.entries.clear();
        rep.test_begin(&cur).unwrap();
        rep.table_header(&cur).unwrap();
        for e in &t.entries {
            cur.entries.push(e.clone());
            rep.entry(&cur, e).unwrap();
        }
        rep.test_end(&cur).unwrap();
    }
    rep.run_end(run, tests, finished).unwrap();
    let out = buf.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

fn run_info(began: &str, cmd: &str, machine_line: &str) -> RunInfo {
    let mut it = machine_line.split_whitespace();
    let sysname = it.next().unwrap_or("").to_string();
    let hostname = it.next().unwrap_or("").to_string();
    RunInfo {
        began: began.to_string(),
        command_line: cmd.to_string(),
        machine: format!("{} {}", sysname, hostname),
        machine_long: machine_line.to_string(),
        hostname,
        sysname,
    }
}

fn parse_hr(s: &str) -> i64 {
    let (n, unit) = s.split_once(' ').unwrap();
    let mult = match unit {
        "bytes" => 1.0,
        "MiB" => MIB,
        "GiB" => GIB,
        "TiB" => GIB * 1024.0,
        u => panic!("unit {u}"),
    };
    (n.parse::<f64>().unwrap() * mult).round() as i64
}

fn parse_fs(cap: &str, used: &str, inodes: &str, used_inodes: &str) -> FsInfo {
    let pct = |s: &str| s.trim_end_matches('%').trim().parse::<f64>().unwrap();
    let (n, unit) = cap.split_once(' ').unwrap();
    let gib = n.parse::<f64>().unwrap() * if unit == "TiB" { 1024.0 } else { 1.0 };
    FsInfo {
        capacity_bytes: gib * GIB,
        used_capacity_pct: pct(used),
        inodes: inodes.trim_end_matches(" Mi").parse::<f64>().unwrap() * MIB,
        used_inodes_pct: pct(used_inodes),
    }
}

fn parse_fs_line(v: &str) -> FsInfo {
    // "23.5 GiB   Used FS: 0.0%   Inodes: 2.9 Mi   Used Inodes: 0.0%"
    let parts: Vec<&str> = v.split("   ").collect();
    parse_fs(
        parts[0],
        parts[1].trim_start_matches("Used FS: "),
        parts[2].trim_start_matches("Inodes: "),
        parts[3].trim_start_matches("Used Inodes: "),
    )
}

fn new_test() -> TestResults {
    TestResults {
        params: IorParams::default(),
        layout: TaskLayout {
            num_tasks: 1,
            num_nodes: 1,
            tasks_on_node0: 1,
            block_mapping: true,
        },
        api_version: String::new(),
        start_time: String::new(),
        path: String::new(),
        fs: None,
        entries: vec![],
    }
}

/// Applies one `Parameters` key (text `-vvv` or JSON) to a test.
fn apply_param(t: &mut TestResults, key: &str, val: &str) {
    let p = &mut t.params;
    let n = || val.trim().parse::<i64>().unwrap_or(0);
    let i = || n() as i32;
    match key {
        "testID" => p.test_id = i(),
        "refnum" => p.ref_num = i(),
        "api" => p.api = val.to_string(),
        "platform" | "options" | "data packet type" => {}
        "testFileName" => p.test_file_name = val.to_string(),
        "deadlineForStonewall" => p.deadline_for_stonewalling = i(),
        "stoneWallingWearOut" => p.stone_walling_wear_out = i(),
        "maxTimeDuration" => p.max_time_duration = i(),
        "outlierThreshold" => p.outlier_threshold = i(),
        "dryRun" => p.dry_run = i(),
        "nodes" => t.layout.num_nodes = n() as usize,
        "memoryPerTask" => p.memory_per_task = n(),
        "memoryPerNode" => p.memory_per_node = n(),
        "tasksPerNode" => t.layout.tasks_on_node0 = n() as usize,
        "repetitions" => p.repetitions = i(),
        "multiFile" => p.multi_file = i(),
        "interTestDelay" => p.inter_test_delay = i(),
        "fsync" => p.fsync = i(),
        "fsyncperwrite" => p.fsync_per_write = i(),
        "useExistingTestFile" => p.use_existing_test_file = i(),
        "uniqueDir" => p.unique_dir = i(),
        "singleXferAttempt" => p.single_xfer_attempt = i(),
        "readFile" => p.read_file = i(),
        "writeFile" => p.write_file = i(),
        "filePerProc" => p.file_per_proc = i(),
        "reorderTasks" => p.reorder_tasks = i(),
        "reorderTasksRandom" => p.reorder_tasks_random = i(),
        "reorderTasksRandomSeed" => p.reorder_tasks_random_seed = i(),
        "randomOffset" => p.random_offset = i(),
        "checkWrite" => p.check_write = i(),
        "checkRead" => p.check_read = i(),
        "dataPacketType" => {
            p.data_packet_type = match n() {
                0 => DataPacketType::Timestamp,
                1 => DataPacketType::Offset,
                2 => DataPacketType::Incompressible,
                _ => DataPacketType::Random,
            }
        }
        "keepFile" => p.keep_file = i(),
        "keepFileWithError" => p.keep_file_with_error = i(),
        "warningAsErrors" => p.warning_as_errors = i(),
        "verbose" => p.verbose = i(),
        "setTimeStampSignature/incompressibleSeed" => p.set_time_stamp_signature = i(),
        "collective" => p.collective = i(),
        "segmentCount" => p.segment_count = n(),
        "transferSize" => p.transfer_size = n(),
        "blockSize" => p.block_size = n(),
        k => panic!("unknown Parameters key {k}"),
    }
}

/// Applies one `Options` key (text or JSON) to a test.
fn apply_option(t: &mut TestResults, key: &str, val: &str) {
    let p = &mut t.params;
    let n = || val.trim().parse::<i64>().unwrap();
    match key {
        "api" => p.api = val.to_string(),
        "apiVersion" => t.api_version = val.to_string(),
        "test filename" => p.test_file_name = val.to_string(),
        "access" => p.file_per_proc = (val == "file-per-process") as i32,
        "type" => p.collective = (val == "collective") as i32,
        "segments" => p.segment_count = n(),
        "ordering in a file" => p.random_offset = (val == "random") as i32,
        "ordering inter file" => match val {
            "constant task offset" => p.reorder_tasks = 1,
            "random task offset" => p.reorder_tasks_random = 1,
            _ => {}
        },
        "task offset" => p.task_per_node_offset = n() as i32,
        "reorder random seed" => p.reorder_tasks_random_seed = n() as i32,
        "nodes" => t.layout.num_nodes = n() as usize,
        "tasks" => t.layout.num_tasks = n() as usize,
        "clients per node" => t.layout.tasks_on_node0 = n() as usize,
        "memoryPerTask" => p.memory_per_task = parse_hr(val),
        "memoryPerNode" => p.memory_per_node = parse_hr(val),
        "memoryBuffer" | "dataAccess" | "aggregate filesize" => {}
        "GPUDirect" => p.gpu_direct = n() as i32,
        "repetitions" => p.repetitions = n() as i32,
        "xfersize" => p.transfer_size = parse_hr(val),
        "blocksize" => p.block_size = parse_hr(val),
        "dryRun" => p.dry_run = n() as i32,
        "verbose" => p.verbose = n() as i32,
        "stonewallingTime" => p.deadline_for_stonewalling = n() as i32,
        "stoneWallingWearOut" => p.stone_walling_wear_out = n() as i32,
        "iodepth" => p.iodepth = n() as i32,
        k => panic!("unknown Options key {k}"),
    }
}

/// Half a unit of the last printed digit of `s`.
fn half_ulp(s: &str) -> f64 {
    match s.split_once('.') {
        Some((_, d)) => 0.5 * 10f64.powi(-(d.len() as i32)),
        None => 0.5,
    }
}

/// A row as printed: values with their printed precision.
#[derive(Clone, Debug)]
struct RawRow {
    phase: Phase,
    vals: Vec<f64>, // bw iops lat block xfer open wrrd close total
    uncs: Vec<f64>, // half ulps of the printed values
    iteration: usize,
    agg: Option<i64>,
}

/// Per (test, phase): propagated uncertainties of the rebuilt inputs.
#[derive(Clone, Debug, Default)]
struct Unc {
    bw_max: f64,
    bw_mean: f64,
    t_mean: f64,
}

/// Builds a PhaseResult from a printed row; the total time is rebuilt from the most precise
/// of (printed total, agg / printed bandwidth, agg / summary max|min). Returns the row and the
/// relative uncertainty of its bandwidth.
fn build_row(
    r: &RawRow,
    agg: i64,
    summary_bw: &[(f64, f64)],
    stonewall: Option<StonewallInfo>,
) -> (PhaseResult, f64) {
    let total_rel = r.uncs[8] / r.vals[8];
    let mut best_bw = (r.vals[0], r.uncs[0] / r.vals[0]);
    for &(v, u) in summary_bw {
        if (v - r.vals[0]).abs() <= r.uncs[0] + u && u / v < best_bw.1 {
            best_bw = (v, u / v);
        }
    }
    let (total, rel) = if best_bw.1 < total_rel {
        (agg as f64 / MIB / best_bw.0, best_bw.1)
    } else {
        (r.vals[8], total_rel)
    };
    let row = PhaseResult {
        access: r.phase,
        iteration: r.iteration,
        agg_bytes: agg,
        bw_mib: r.vals[0],
        iops: r.vals[1],
        latency: r.vals[2],
        block_kib: r.vals[3],
        xfer_kib: r.vals[4],
        open_time: r.vals[5],
        wrrd_time: r.vals[6],
        close_time: r.vals[7],
        total_time: total,
        latency_hist: LatencySummary::default(),
        per_rank: vec![],
        stonewall,
        errors: 0,
        iodepth: 1,
        measured: true,
        time_series: None,
    };
    (row, rel)
}

/// Fills the uncertainty record of a test/phase from the rebuilt rows.
fn uncertainty(rows: &[(PhaseResult, f64)]) -> Unc {
    let n = rows.len().max(1) as f64;
    let bw = |r: &PhaseResult| r.agg_bytes as f64 / MIB / r.total_time;
    Unc {
        bw_max: rows.iter().map(|(r, u)| bw(r) * u).fold(0.0, f64::max),
        bw_mean: rows.iter().map(|(r, u)| bw(r) * u).sum::<f64>() / n,
        t_mean: rows.iter().map(|(r, u)| r.total_time * u).sum::<f64>() / n,
    }
}

// ---------------------------------------------------------------------------------------------
// text examples

/// Log-stream lines of IOR (not part of the result stream).
fn is_log_line(l: &str) -> bool {
    [
        "WARNING:",
        "ERROR",
        "stonewalling pairs",
        "Pairs deadline",
        "Commencing",
        "Using Time Stamp",
        "Used Time Stamp",
        "STARTING ENVIRON",
        "ENDING ENVIRON",
        "<environment",
        "Writing output to",
    ]
    .iter()
    .any(|p| l.starts_with(p))
        || (l.starts_with("Test ") && !l.starts_with("TestID"))
        || l.strip_prefix("task ")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// The example's lines with interleaved log output of other ranks repaired
/// (`shm_verbose3.txt`: rank 1's log split the `nodes` line of the Parameters block).
fn repair(raw: &str) -> Vec<String> {
    let mut lines: Vec<String> = raw.lines().map(str::to_string).collect();
    let mut i = 0;
    while i < lines.len() {
        if let Some(pos) = lines[i].find("task ") {
            if pos > 0 && !lines[i][..pos].trim().is_empty() && lines[i][..pos].ends_with(' ') {
                let head = lines[i][..pos].to_string();
                let tail = lines[i][pos..].to_string();
                if let Some(j) = (i + 1..lines.len()).find(|&j| lines[j].starts_with("         : "))
                {
                    let cont = lines.remove(j);
                    lines[i] = tail;
                    lines.insert(j, format!("{}{}", head, cont));
                }
            }
        }
        i += 1;
    }
    lines
}

/// The result stream of an example (log lines removed).
fn result_stream(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut prev_commencing = false;
    for l in lines {
        if is_log_line(l) {
            prev_commencing = l.starts_with("Commencing");
            continue;
        }
        if prev_commencing && l.is_empty() {
            prev_commencing = false;
            continue;
        }
        prev_commencing = false;
        out.push(l.clone());
    }
    out
}

struct TextCase {
    run: RunInfo,
    tests: Vec<TestResults>,
    finished: String,
    expected: Vec<String>,
    unc: HashMap<(i32, &'static str), Unc>,
}

fn parse_text(name: &str) -> TextCase {
    let lines = repair(&example(name));
    let expected = result_stream(&lines);
    let (mut began, mut cmd, mut machine, mut finished) =
        (String::new(), String::new(), String::new(), String::new());
    let mut tests: Vec<TestResults> = vec![];
    let mut raw_rows: Vec<Vec<(Option<RawRow>, Option<RemoveResult>)>> = vec![];
    let mut summary: Vec<Vec<String>> = vec![];
    let mut section = "";
    let mut pending_agg: Option<i64> = None;
    let mut has_params = vec![];
    for l in &lines {
        if let Some(v) = l.strip_prefix("WARNING: Using actual aggregate bytes moved = ") {
            pending_agg = Some(v.trim().parse().unwrap());
            continue;
        }
        if is_log_line(l) {
            continue;
        }
        if l == "Parameters: " || l == "Options: " || l == "Results: " {
            section = match l.as_str() {
                "Parameters: " => "params",
                "Options: " => "options",
                _ => "results",
            };
            if section == "params" {
                *has_params.last_mut().unwrap() = true;
            }
            continue;
        }
        if l == "Summary of all tests:" {
            section = "summary";
            continue;
        }
        let toks: Vec<&str> = l.split_whitespace().collect();
        if section == "summary" && toks.len() == 27 && (toks[0] == "write" || toks[0] == "read") {
            summary.push(toks.iter().map(|s| s.to_string()).collect());
            continue;
        }
        if section == "results" && toks.len() == 11 && (toks[0] == "write" || toks[0] == "read") {
            let vals: Vec<f64> = toks[1..10].iter().map(|s| s.parse().unwrap()).collect();
            let uncs: Vec<f64> = toks[1..10].iter().map(|s| half_ulp(s)).collect();
            raw_rows.last_mut().unwrap().push((
                Some(RawRow {
                    phase: if toks[0] == "write" {
                        Phase::Write
                    } else {
                        Phase::Read
                    },
                    vals,
                    uncs,
                    iteration: toks[10].parse().unwrap(),
                    agg: pending_agg.take(),
                }),
                None,
            ));
            continue;
        }
        if section == "results" && toks.first() == Some(&"remove") {
            raw_rows.last_mut().unwrap().push((
                None,
                Some(RemoveResult {
                    iteration: toks[10].parse().unwrap(),
                    total_time: toks[9].parse().unwrap(),
                }),
            ));
            continue;
        }
        let Some((k, v)) = l.split_once(": ") else {
            continue;
        };
        let k = k.trim_end();
        match (section, k) {
            (_, "Began") => began = v.to_string(),
            (_, "Command line") => cmd = v.to_string(),
            (_, "Machine") => machine = v.to_string(),
            (_, "Finished") => finished = v.to_string(),
            (_, "TestID") => {
                let mut t = new_test();
                t.params.test_id = v.parse().unwrap();
                tests.push(t);
                raw_rows.push(vec![]);
                has_params.push(false);
                section = "";
            }
            (_, "StartTime") => tests.last_mut().unwrap().start_time = v.to_string(),
            (_, "Path") => tests.last_mut().unwrap().path = v.to_string(),
            (_, "FS") => tests.last_mut().unwrap().fs = Some(parse_fs_line(v)),
            ("params", k) => apply_param(tests.last_mut().unwrap(), k, v),
            ("options", k) => apply_option(tests.last_mut().unwrap(), k, v),
            _ => {}
        }
    }
    let run = run_info(&began, &cmd, &machine);
    let mut unc = HashMap::new();
    for (ti, t) in tests.iter_mut().enumerate() {
        // Fields only the summary table shows.
        let test_id = t.params.test_id;
        let rows_of = |op: &str| {
            summary
                .iter()
                .find(|s| s[0] == op && s[12].parse::<i32>().unwrap() == test_id)
                .cloned()
        };
        for s in [rows_of("write"), rows_of("read")].into_iter().flatten() {
            let p = &mut t.params;
            t.layout.num_tasks = s[13].parse().unwrap();
            t.layout.tasks_on_node0 = s[14].parse().unwrap();
            p.repetitions = s[15].parse().unwrap();
            p.file_per_proc = s[16].parse().unwrap();
            p.reorder_tasks = s[17].parse().unwrap();
            p.task_per_node_offset = s[18].parse().unwrap();
            p.reorder_tasks_random = s[19].parse().unwrap();
            p.reorder_tasks_random_seed = s[20].parse().unwrap();
            p.segment_count = s[21].parse().unwrap();
            p.block_size = s[22].parse().unwrap();
            p.transfer_size = s[23].parse().unwrap();
            p.ref_num = s[26].parse().unwrap();
        }
        let expected_agg = t.params.block_size * t.params.segment_count * t.layout.num_tasks as i64;
        let mut built: HashMap<&'static str, Vec<(PhaseResult, f64)>> = HashMap::new();
        for (raw, remove) in &raw_rows[ti] {
            if let Some(r) = raw {
                let op = r.phase.as_str();
                let s = rows_of(op);
                let summary_bw: Vec<(f64, f64)> = s
                    .iter()
                    .flat_map(|s| [&s[1], &s[2]])
                    .map(|v| (v.parse::<f64>().unwrap(), half_ulp(v)))
                    .collect();
                let stonewall = s.as_ref().and_then(|s| {
                    let time: f64 = s[10].parse().ok()?;
                    let mib: f64 = s[11].parse().ok()?;
                    Some(StonewallInfo {
                        time,
                        data_mean: mib * time * MIB,
                        ..StonewallInfo::default()
                    })
                });
                let (row, rel) =
                    build_row(r, r.agg.unwrap_or(expected_agg), &summary_bw, stonewall);
                built.entry(op).or_default().push((row.clone(), rel));
                t.entries.push(ResultEntry::Phase(row));
            }
            if let Some(rm) = remove {
                t.entries.push(ResultEntry::Remove(rm.clone()));
            }
        }
        if !has_params[ti] {
            t.params.write_file = built.contains_key("write") as i32;
            t.params.read_file = built.contains_key("read") as i32;
        }
        for (op, rows) in built {
            unc.insert((t.params.test_id, op), uncertainty(&rows));
        }
    }
    TextCase {
        run,
        tests,
        finished,
        expected,
        unc,
    }
}

/// Compares a summary row number with the tolerance derived from the input precision.
fn summary_tolerance(col: usize, toks: &[&str], xfer: i64, u: &Unc) -> f64 {
    let ops_per_mib = MIB / xfer as f64;
    let print = half_ulp(toks[col]) + 1e-9;
    match col {
        1 | 2 | 4 => u.bw_max + print,
        3 => u.bw_mean + print,
        5 | 6 | 8 => u.bw_max * ops_per_mib + print,
        7 => u.bw_mean * ops_per_mib + print,
        9 => u.t_mean + print,
        _ => 0.0,
    }
}

fn check_text(name: &str) {
    let case = parse_text(name);
    assert!(!case.tests.is_empty(), "{name}: no test parsed");
    let out = render(
        SummaryFormat::Default,
        &case.run,
        &case.tests,
        &case.finished,
    );
    let actual: Vec<&str> = out.lines().collect();
    let mut errors = vec![];
    let mut toleranced = 0;
    if actual.len() != case.expected.len() {
        errors.push(format!(
            "line count: expected {}, actual {}",
            case.expected.len(),
            actual.len()
        ));
    }
    for (i, (e, a)) in case.expected.iter().zip(&actual).enumerate() {
        if i == 0 {
            if !a.starts_with(e.as_str()) || !a.contains("benchfs-bench") {
                errors.push(format!("line 1: `{a}` does not extend `{e}`"));
            }
            continue;
        }
        if e == a {
            continue;
        }
        let et: Vec<&str> = e.split_whitespace().collect();
        let at: Vec<&str> = a.split_whitespace().collect();
        // `Max Write:`/`Max Read:` lines are derived from rebuilt inputs too.
        if et.len() == 6 && et[0] == "Max" && at.len() == 6 && golden::masked_diff(e, a).is_none() {
            let op = if et[1] == "Write:" { "write" } else { "read" };
            let u = &case.unc[&(case.tests.last().unwrap().params.test_id, op)];
            let x: f64 = et[2].parse().unwrap();
            let y: f64 = at[2].parse().unwrap();
            let xm: f64 = et[4].trim_start_matches('(').parse().unwrap();
            let ym: f64 = at[4].trim_start_matches('(').parse().unwrap();
            if (x - y).abs() <= u.bw_max + 0.005 + 1e-9
                && (xm - ym).abs() <= (u.bw_max + 0.005) * MIB / 1e6 + 1e-9
            {
                toleranced += 1;
                continue;
            }
        }
        let is_summary = et.len() == 27 && (et[0] == "write" || et[0] == "read");
        if is_summary && at.len() == 27 && golden::masked_diff(e, a).is_none() {
            let test_id: i32 = et[12].parse().unwrap();
            let t = case
                .tests
                .iter()
                .find(|t| t.params.test_id == test_id)
                .unwrap();
            let u = &case.unc[&(test_id, if et[0] == "write" { "write" } else { "read" })];
            let mut ok = true;
            for col in 0..27 {
                if et[col] == at[col] {
                    continue;
                }
                let tol = summary_tolerance(col, &et, t.params.transfer_size, u);
                let (x, y) = (et[col].parse::<f64>(), at[col].parse::<f64>());
                match (x, y) {
                    (Ok(x), Ok(y)) if (x - y).abs() <= tol => toleranced += 1,
                    _ => {
                        ok = false;
                        errors.push(format!(
                            "line {}: column {} `{}` vs `{}` (tolerance {tol:.6})",
                            i + 1,
                            col,
                            et[col],
                            at[col]
                        ));
                    }
                }
            }
            if ok {
                continue;
            }
        }
        errors.push(format!(
            "line {}:\n  expected: `{e}`\n  actual:   `{a}`",
            i + 1
        ));
    }
    eprintln!("{name}: {toleranced} summary numbers within derived tolerance");
    assert!(
        errors.is_empty(),
        "{name}:\n{}\n--- actual output ---\n{out}",
        errors.join("\n")
    );
    // The masked comparator must agree with itself on the real example.
    let expected_text = case.expected.join("\n");
    assert_eq!(golden::masked_diff(&expected_text, &out), None, "{name}");
}

#[test]
fn text_shm_fpp() {
    check_text("shm_fpp_text.txt");
}
#[test]
fn text_shm_ssf() {
    check_text("shm_ssf_text.txt");
}
#[test]
fn text_tmp_fpp() {
    check_text("tmp_fpp_text.txt");
}
#[test]
fn text_tmp_ssf() {
    check_text("tmp_ssf_text.txt");
}
#[test]
fn text_shm_verbose1() {
    check_text("shm_verbose1.txt");
}
#[test]
fn text_shm_verbose3() {
    check_text("shm_verbose3.txt");
}
#[test]
fn text_dummy_fpp() {
    check_text("dummy_fpp_text.txt");
}
#[test]
fn text_shm_check_wr() {
    check_text("shm_check_WR.txt");
}
#[test]
fn text_shm_random_z() {
    check_text("shm_random_z.txt");
}
#[test]
fn text_shm_random_z_check() {
    check_text("shm_random_z_check.txt");
}
#[test]
fn text_shm_random_zz_readonly() {
    check_text("shm_random_zz_readonly.txt");
}
#[test]
fn text_shm_fpp_4k() {
    check_text("shm_fpp_4k_text.txt");
}
#[test]
fn text_tmp_stonewall_wearout() {
    check_text("tmp_stonewall_wearout.txt");
}
#[test]
fn text_shm_script() {
    check_text("shm_script_text.txt");
}

// ---------------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_shm_csv() {
    let text = example("shm_csv.txt");
    let lines: Vec<&str> = text.lines().filter(|l| !is_log_line(l)).collect();
    let mut t = new_test();
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        t.layout.num_tasks = f[10].parse().unwrap();
        let v: Vec<f64> = f[1..10].iter().map(|s| s.parse().unwrap()).collect();
        let raw = RawRow {
            phase: if f[0] == "write" {
                Phase::Write
            } else {
                Phase::Read
            },
            uncs: f[1..10].iter().map(|s| half_ulp(s)).collect(),
            vals: v,
            iteration: f[11].parse().unwrap(),
            agg: Some(64 << 20),
        };
        t.entries
            .push(ResultEntry::Phase(build_row(&raw, 64 << 20, &[], None).0));
    }
    let run = run_info("x", "y", "Linux vm");
    let out = render(SummaryFormat::Csv, &run, &[t], "z");
    assert_eq!(out.lines().collect::<Vec<_>>(), lines);
}

// ---------------------------------------------------------------------------------------------
// JSON

const ADDITIVE_KEYS: [&str; 4] = ["latencyPercentiles", "ranks", "iodepth", "benchfsVersion"];

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct JsonCase {
    run: RunInfo,
    tests: Vec<TestResults>,
    finished: String,
    unc: HashMap<(i32, String), Unc>,
}

fn build_json_case(doc: &Value) -> JsonCase {
    let run = run_info(
        doc["Began"].as_str().unwrap(),
        doc["Command line"].as_str().unwrap(),
        doc["Machine"].as_str().unwrap(),
    );
    let summary = doc["summary"].as_array().unwrap();
    let mut tests = vec![];
    let mut unc = HashMap::new();
    for jt in doc["tests"].as_array().unwrap() {
        let mut t = new_test();
        t.params.test_id = jt["TestID"].as_i64().unwrap() as i32;
        t.start_time = s(&jt["StartTime"]);
        if let Some(path) = jt.get("Path") {
            t.path = s(path);
            t.fs = Some(parse_fs(
                &s(&jt["Capacity"]),
                &s(&jt["Used Capacity"]),
                &s(&jt["Inodes"]),
                &s(&jt["Used Inodes"]),
            ));
        }
        for (k, v) in jt["Parameters"].as_object().unwrap() {
            apply_param(&mut t, k, &s(v));
        }
        for (k, v) in jt["Options"].as_object().unwrap() {
            apply_option(&mut t, k, &s(v));
        }
        let sums: Vec<&Value> = summary
            .iter()
            .filter(|x| x["TestID"].as_i64().unwrap() as i32 == t.params.test_id)
            .collect();
        for x in &sums {
            t.layout.num_tasks = x["numTasks"].as_u64().unwrap() as usize;
            t.layout.tasks_on_node0 = x["tasksPerNode"].as_u64().unwrap() as usize;
            t.params.task_per_node_offset = x["taskPerNodeOffset"].as_i64().unwrap() as i32;
        }
        let mut built: HashMap<String, Vec<(PhaseResult, f64)>> = HashMap::new();
        let mut reps: HashMap<String, usize> = HashMap::new();
        for e in jt["Results"].as_array().unwrap() {
            let access = e["access"].as_str().unwrap();
            if access == "remove" {
                t.entries.push(ResultEntry::Remove(RemoveResult {
                    iteration: 0,
                    total_time: e["totalTime"].as_f64().unwrap(),
                }));
                continue;
            }
            let sum = sums.iter().find(|x| x["operation"] == access).unwrap();
            let agg = (sum["xsizeMiB"].as_f64().unwrap() * MIB).round() as i64;
            let keys = [
                "bwMiB",
                "iops",
                "latency",
                "blockKiB",
                "xferKiB",
                "openTime",
                "wrRdTime",
                "closeTime",
                "totalTime",
            ];
            let raw = RawRow {
                phase: if access == "write" {
                    Phase::Write
                } else {
                    Phase::Read
                },
                vals: keys.iter().map(|k| e[*k].as_f64().unwrap()).collect(),
                uncs: keys.iter().map(|_| 0.00005).collect(),
                iteration: *reps.entry(access.to_string()).or_default(),
                agg: Some(agg),
            };
            *reps.get_mut(access).unwrap() += 1;
            let stonewall = sum.get("StoneWallTime").map(|st| {
                let time = st.as_f64().unwrap();
                StonewallInfo {
                    time,
                    data_mean: sum["StoneWallbwMeanMIB"].as_f64().unwrap() * time * MIB,
                    ..StonewallInfo::default()
                }
            });
            let (row, rel) = build_row(&raw, agg, &[], stonewall);
            built
                .entry(access.to_string())
                .or_default()
                .push((row.clone(), rel));
            t.entries.push(ResultEntry::Phase(row));
        }
        for (op, rows) in built {
            unc.insert((t.params.test_id, op), uncertainty(&rows));
        }
        tests.push(t);
    }
    JsonCase {
        run,
        tests,
        finished: s(&doc["Finished"]),
        unc,
    }
}

const SUMMARY_STATS: [&str; 9] = [
    "bwMaxMIB",
    "bwMinMIB",
    "bwMeanMIB",
    "bwStdMIB",
    "OPsMax",
    "OPsMin",
    "OPsMean",
    "OPsSD",
    "MeanTime",
];

/// Compares parsed JSON: key order, types and values; `tol` gives the tolerance of a float at
/// a path (0 = exact).
fn compare_json(
    e: &Value,
    a: &Value,
    path: &str,
    tol: &dyn Fn(&str, &Value) -> f64,
    errs: &mut Vec<String>,
) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            let ek: Vec<&String> = eo.keys().collect();
            let ak: Vec<&String> = ao.keys().collect();
            let ior_keys: Vec<&String> = ak
                .iter()
                .copied()
                .filter(|k| !ADDITIVE_KEYS.contains(&k.as_str()))
                .collect();
            if ek != ior_keys {
                errs.push(format!("{path}: keys {ek:?} vs {ior_keys:?}"));
                return;
            }
            if ak[..ek.len()] != ek[..] {
                errs.push(format!("{path}: additive keys before IOR keys: {ak:?}"));
            }
            for k in ek {
                compare_json(&eo[k], &ao[k], &format!("{path}.{k}"), tol, errs);
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                errs.push(format!("{path}: {} vs {} elements", ea.len(), aa.len()));
                return;
            }
            for (i, (x, y)) in ea.iter().zip(aa).enumerate() {
                compare_json(x, y, &format!("{path}[{i}]"), tol, errs);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() != y.is_f64() {
                errs.push(format!("{path}: number type {x} vs {y}"));
            } else if x.is_f64() {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                if (x - y).abs() > tol(path, e) {
                    errs.push(format!("{path}: {x} vs {y}"));
                }
            } else if x != y {
                errs.push(format!("{path}: {x} vs {y}"));
            }
        }
        _ => {
            if e != a {
                errs.push(format!("{path}: {e} vs {a}"));
            }
        }
    }
}

fn check_json(name: &str) {
    let text = example(name);
    let expected: Value = serde_json::from_str(&text).expect("example is valid JSON");
    let case = build_json_case(&expected);
    let out = render(SummaryFormat::Json, &case.run, &case.tests, &case.finished);
    let actual: Value = serde_json::from_str(&out)
        .unwrap_or_else(|err| panic!("{name}: our JSON is invalid: {err}\n{out}"));
    let summary = expected["summary"].as_array().unwrap().clone();
    let tol = |path: &str, _v: &Value| -> f64 {
        // "summary[i].key"
        let Some(rest) = path.strip_prefix(".summary[") else {
            return 0.0;
        };
        let (idx, key) = rest.split_once("].").unwrap();
        if !SUMMARY_STATS.contains(&key) {
            return 0.0;
        }
        let entry = &summary[idx.parse::<usize>().unwrap()];
        let id = entry["TestID"].as_i64().unwrap() as i32;
        let op = entry["operation"].as_str().unwrap().to_string();
        let u = &case.unc[&(id, op)];
        let ops = MIB / entry["transferSize"].as_f64().unwrap();
        let print = 0.00005 + 1e-9;
        match key {
            "bwMeanMIB" => u.bw_mean + print,
            "OPsMean" => u.bw_mean * ops + print,
            "MeanTime" => u.t_mean + print,
            k if k.starts_with("OPs") => u.bw_max * ops + print,
            _ => u.bw_max + print,
        }
    };
    let mut errs = vec![];
    compare_json(&expected, &actual, "", &tol, &mut errs);
    assert!(
        errs.is_empty(),
        "{name}:\n{}\n--- ours ---\n{out}",
        errs.join("\n")
    );
}

#[test]
fn json_shm_fpp_summary_file() {
    check_json("shm_fpp_summaryFile.json");
}
#[test]
fn json_shm_verbose1() {
    check_json("shm_verbose1_json.json");
}
#[test]
fn json_tmp_stonewall_wearout() {
    check_json("tmp_stonewall_wearout_summaryFile.json");
}
#[test]
fn json_shm_script() {
    check_json("shm_script_summaryFile.json");
}

// ---------------------------------------------------------------------------------------------
// beyond IOR

#[test]
fn json_additive_keys_come_after_ior_keys_and_stay_valid() {
    let doc: Value = serde_json::from_str(&example("shm_fpp_summaryFile.json")).unwrap();
    let mut case = build_json_case(&doc);
    for e in &mut case.tests[0].entries {
        if let ResultEntry::Phase(p) = e {
            p.iodepth = 4;
            p.latency_hist = LatencySummary {
                count: 10,
                p50: 0.000002,
                p90: 0.00001,
                p99: 0.0001,
                p999: 0.001,
                max: 0.01,
                mean: 0.00002,
                ..LatencySummary::default()
            };
            p.per_rank = vec![
                RankFigures {
                    bw_mib: 100.0,
                    ..RankFigures::default()
                },
                RankFigures {
                    rank: 1,
                    bw_mib: 300.5,
                    ..RankFigures::default()
                },
            ];
        }
    }
    case.tests[0].params.iodepth = 4;
    let out = render(SummaryFormat::Json, &case.run, &case.tests, &case.finished);
    let v: Value = serde_json::from_str(&out).unwrap();
    let r0 = v["tests"][0]["Results"][0].as_object().unwrap();
    let keys: Vec<&str> = r0.keys().map(String::as_str).collect();
    assert_eq!(&keys[..3], &["access", "bwMiB", "blockKiB"]);
    assert_eq!(&keys[10..], &["latencyPercentiles", "ranks", "iodepth"]);
    assert_eq!(r0["latencyPercentiles"]["p50"].as_f64(), Some(0.000002));
    assert_eq!(r0["ranks"]["bwMinRankMiB"].as_f64(), Some(100.0));
    assert_eq!(r0["ranks"]["bwMaxRankMiB"].as_f64(), Some(300.5));
    assert_eq!(r0["iodepth"], 4);
    let opts = v["tests"][0]["Options"].as_object().unwrap();
    assert_eq!(opts.keys().next_back().map(String::as_str), Some("iodepth"));
    // text: the iodepth line closes the Options block
    let text = render(
        SummaryFormat::Default,
        &case.run,
        &case.tests,
        &case.finished,
    );
    assert!(text.contains("aggregate filesize  : 512 MiB\niodepth             : 4\n\nResults: \n"));
}

#[test]
fn zero_duration_json_stays_valid_and_text_prints_what_ior_prints() {
    // A phase with no duration cannot be measured: IOR prints `inf` in text and CSV, and
    // `"inf"` strings and a bare `-nan` in JSON (tests/data/ior-fidelity/fid_zero_duration*).
    // Ours: the same text and CSV, and valid JSON with `null`.
    let doc: Value = serde_json::from_str(&example("shm_fpp_summaryFile.json")).unwrap();
    let mut case = build_json_case(&doc);
    for e in &mut case.tests[0].entries {
        if let ResultEntry::Phase(p) = e {
            p.total_time = 0.0;
            p.bw_mib = f64::INFINITY;
            p.measured = false;
        }
    }
    let out = render(SummaryFormat::Json, &case.run, &case.tests, &case.finished);
    assert!(!out.contains("inf") && !out.contains("nan"), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["tests"][0]["Results"][0]["bwMiB"].is_null(), "{out}");
    for fmt in [SummaryFormat::Default, SummaryFormat::Csv] {
        let out = render(fmt, &case.run, &case.tests, &case.finished);
        assert!(out.contains("inf"), "{out}");
    }
}

#[test]
fn summary_always_prints_a_long_summary_after_each_test() {
    let case = parse_text("shm_script_text.txt");
    let mut tests = case.tests.clone();
    for t in &mut tests {
        t.params.summary_always = 1;
    }
    let out = render(SummaryFormat::Default, &case.run, &tests, &case.finished);
    let headers = out
        .lines()
        .filter(|l| l.starts_with("Operation   Max(MiB)"))
        .count();
    assert_eq!(headers, 4);
    assert!(out.contains("   0.005071   0.022967   1   \n\nOperation   Max(MiB)"));
}

#[test]
fn json_shm_fpp_stdout() {
    check_json("shm_fpp_json_stdout.json");
}
#[test]
fn json_tmp_fpp_summary_file() {
    check_json("tmp_fpp_summaryFile.json");
}

#[test]
fn json_comparator_rejects_order_type_and_value_changes() {
    let no_tol = |_: &str, _: &Value| 0.0;
    let base: Value = serde_json::from_str(r#"{"a": 1, "b": 2.5000, "c": "x"}"#).unwrap();
    let mut errs = vec![];
    compare_json(&base, &base, "", &no_tol, &mut errs);
    assert!(errs.is_empty());
    for bad in [
        r#"{"b": 2.5000, "a": 1, "c": "x"}"#,
        r#"{"a": 1.0000, "b": 2.5000, "c": "x"}"#,
        r#"{"a": 1, "b": 2.5001, "c": "x"}"#,
        r#"{"a": 1, "b": 2.5000}"#,
        r#"{"a": 1, "ranks": {}, "b": 2.5000, "c": "x"}"#,
    ] {
        let v: Value = serde_json::from_str(bad).unwrap();
        let mut errs = vec![];
        compare_json(&base, &v, "", &no_tol, &mut errs);
        assert!(!errs.is_empty(), "accepted {bad}");
    }
    let additive: Value =
        serde_json::from_str(r#"{"a": 1, "b": 2.5000, "c": "x", "ranks": {}}"#).unwrap();
    let mut errs = vec![];
    compare_json(&base, &additive, "", &no_tol, &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
}
