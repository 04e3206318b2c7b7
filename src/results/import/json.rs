//! Reader of IOR's `summaryFormat=JSON` output, including IOR's irregular whitespace, bare
//! `inf`/`nan` tokens and the log lines around the document.
//!
//! Owns the JSON format only; shared pieces are in [`super::parsed`].

use super::parsed::*;
use crate::ior::params::TaskLayout;
use crate::ior::results::{Phase, RemoveResult, ResultEntry};
use crate::ior::stats::OpSummary;
use serde_json::Value;

/// Replaces bare words other than `true`/`false`/`null` outside strings (IOR prints `inf`,
/// `-nan`, ...) with `null`, so that the text becomes JSON.
pub(super) fn sanitize_json(text: &str) -> String {
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

pub(super) fn parse_json(text: &str) -> Result<Parsed, String> {
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
