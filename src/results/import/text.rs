//! Reader of IOR's default text output: the header, `Options:`, the `Results:` table, the
//! stonewalling lines and the `Summary of all tests:` table.
//!
//! Owns the text format only; shared pieces are in [`super::parsed`].

use super::parsed::*;
use crate::ior::params::TaskLayout;
use crate::ior::results::{Phase, RemoveResult, ResultEntry, StonewallInfo};
use crate::ior::stats::{self, OpSummary};

pub(super) fn parse_text(text: &str) -> Result<Parsed, String> {
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
        p.incomplete = Some(
            p.errors
                .iter()
                .find_map(|e| signal_of(e).map(|n| (n, e.clone())))
                .unwrap_or_else(|| {
                    (
                        0,
                        "no Finished line: the IOR run did not complete".to_string(),
                    )
                }),
        );
    }
    Ok(p)
}

/// The signal number of an MPI launcher's or IOR's `exited on signal N` / `Signal: ... (N)`
/// line.
pub(super) fn signal_of(line: &str) -> Option<i32> {
    let digits = |s: &str| -> Option<i32> {
        s.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
    };
    if let Some((_, rest)) = line.split_once("exited on signal") {
        return digits(rest);
    }
    let (_, rest) = line.split_once("Signal: ")?;
    let (_, code) = rest.rsplit_once('(')?;
    digits(code)
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
