//! Import of real mdtest text output (mdtest 4.x) into a result document with an `mdtest`
//! section: the header (`-- started at`, version line, `Command line used:` whose arguments
//! give the parameters exactly), `Path`/`FS`, each task count's `N tasks, ...` line, its
//! `Continue stonewall hit` line, `--print-all-procs` blocks, the summary tables (rate and
//! time, with or without `--showRankStatistics`) and `-- finished at`.
//!
//! Figures mdtest does not print are derived and said so in `source.notes`: the
//! per-iteration figures of a phase are the printed ones for one iteration, max and min for
//! two, max, min and `3 × mean − max − min` for three (a summary of more iterations keeps
//! only the summary); a phase's time is `items / rate` when no time table was printed, its
//! rate `items / time` when only the time table was (`-Z`).

use crate::build_info::{self, BuildInfo};
use crate::mdtest::options::parse_args;
use crate::mdtest::params::Op;
use crate::mdtest::results::{PhaseResult, RankFigures, StonewallFigures};
use crate::mdtest::stats::{Measure, OpSummary};
use crate::measure::fsinfo::FsInfo;
use crate::measure::latency::LatencySummary;
use crate::measure::machine::RunInfo;
use crate::results::document::{
    ImportSource, MdtestDocument, MdtestTaskDocument, ResultDocument, SCHEMA, SCHEMA_VERSION,
};
use crate::units::{GIB, MIB};

/// Whether `text` looks like mdtest's text output.
pub fn is_mdtest(text: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with("SUMMARY rate (in ops/sec)")
            || l.starts_with("SUMMARY time (in ms/op)")
            || (l.starts_with("mdtest-") && l.contains(" was launched with "))
    })
}

/// mdtest's `MM/DD/YYYY HH:MM:SS` as a ctime string (what result documents carry).
/// An mdtest stamp (`MM/DD/YYYY HH:MM:SS`, zone not printed) as RFC 3339 with the unknown
/// offset (`-00:00`); empty if unreadable.
fn rfc3339_of(stamp: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(stamp.trim(), "%m/%d/%Y %H:%M:%S")
        .map(|d| format!("{}-00:00", d.format("%Y-%m-%dT%H:%M:%S")))
        .unwrap_or_default()
}

fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = line.strip_prefix(start)?;
    s.strip_suffix(end).or(Some(s)).map(str::trim)
}

fn fs_info(v: &str) -> Option<FsInfo> {
    // "23.5 GiB   Used FS: 0.1%   Inodes: 2.9 Mi   Used Inodes: 0.0%"
    let parts: Vec<&str> = v.split("   ").collect();
    if parts.len() < 4 {
        return None;
    }
    let (n, unit) = parts[0].split_once(' ')?;
    let cap = n.parse::<f64>().ok()? * if unit == "TiB" { 1024.0 * GIB } else { GIB };
    let pct = |s: &str, p: &str| -> Option<f64> {
        s.trim_start_matches(p)
            .trim_end_matches('%')
            .trim()
            .parse()
            .ok()
    };
    Some(FsInfo {
        capacity_bytes: cap,
        used_capacity_pct: pct(parts[1], "Used FS: ")?,
        inodes: parts[2]
            .trim_start_matches("Inodes: ")
            .trim_end_matches(" Mi")
            .parse::<f64>()
            .ok()?
            * MIB,
        used_inodes_pct: pct(parts[3], "Used Inodes: ")?,
    })
}

/// One task count being read.
#[derive(Default)]
struct Block {
    tasks: usize,
    items_total: u64,
    stonewall: Vec<StonewallFigures>,
    /// (measure, iteration, op) -> per-rank values before the barrier.
    per_process: Vec<(Measure, usize, Op, Vec<f64>)>,
    summary: Vec<OpSummary>,
    iterations: usize,
}

/// Parses mdtest's text output `text` (named `file` in `source`).
pub fn parse(text: &str, file: &str) -> Result<ResultDocument, String> {
    let mut started = String::new();
    let mut finished = String::new();
    let mut version = None;
    let mut world = 0usize;
    let mut nodes = 0usize;
    let mut command = String::new();
    let mut params = None;
    let mut path = String::new();
    let mut fs = None;
    let mut seed = 0i64;
    let mut errors = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut pp: Option<(Measure, usize)> = None;
    while i < lines.len() {
        let l = lines[i];
        if let Some(s) = between(l, "-- started at ", " --") {
            started = s.to_string();
        } else if let Some(s) = between(l, "-- finished at ", " --") {
            finished = s.to_string();
        } else if l.starts_with("mdtest-") && l.contains(" was launched with ") {
            version = l
                .strip_prefix("mdtest-")
                .and_then(|r| r.split(' ').next())
                .map(str::to_string);
            let nums: Vec<usize> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|t| t.parse().ok())
                .collect();
            // "... launched with N total task(s) on M node(s)": the last two numbers.
            if nums.len() >= 2 {
                world = nums[nums.len() - 2];
                nodes = nums[nums.len() - 1];
            }
        } else if let Some(c) = l.strip_prefix("Command line used: ") {
            command = c.to_string();
            let args: Vec<String> = c
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            params = parse_args(&args).ok().map(|a| a.params);
        } else if let Some(v) = l.strip_prefix("Path                : ") {
            path = v.to_string();
        } else if let Some(v) = l.strip_prefix("FS                  : ") {
            fs = fs_info(v);
        } else if let Some(v) = l.strip_prefix("random seed: ") {
            seed = v.trim().parse().unwrap_or(0);
        } else if let Some((n, rest)) = l.split_once(" tasks, ") {
            if let Ok(n) = n.trim().parse::<usize>() {
                blocks.push(Block {
                    tasks: n,
                    items_total: rest
                        .split(' ')
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    ..Block::default()
                });
            }
        } else if let Some(v) = l.strip_prefix("Continue stonewall hit min: ") {
            // "a max: b avg: c"
            let nums: Vec<f64> = v
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            if let (Some(b), [min, max, avg, ..]) = (blocks.last_mut(), nums.as_slice()) {
                let tasks = b.tasks as f64;
                b.stonewall.push(StonewallFigures {
                    time: 0.0,
                    items_min: *min as u64,
                    items_max: *max as u64,
                    items_sum: (avg * tasks).round() as u64,
                    hit: true,
                });
            }
        } else if let Some(v) = l.strip_prefix("Per process result (") {
            pp = Some((
                if v.starts_with("time") {
                    Measure::Time
                } else {
                    Measure::Rate
                },
                0,
            ));
        } else if let (Some(v), Some((_, it))) = (l.strip_prefix("iteration: "), pp.as_mut()) {
            *it = v.trim().parse().unwrap_or(0);
        } else if let (Some(v), Some((m, it))) = (l.strip_prefix("Test "), pp) {
            if let Some(op) = Op::ALL.into_iter().find(|o| v.starts_with(o.name())) {
                let vals: Vec<f64> = v[op.name().len()..]
                    .trim()
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .collect();
                if let Some(b) = blocks.last_mut() {
                    b.per_process.push((m, it, op, vals));
                }
            }
        } else if l.starts_with("SUMMARY rate") || l.starts_with("SUMMARY time") {
            pp = None;
            let measure = if l.starts_with("SUMMARY rate") {
                Measure::Rate
            } else {
                Measure::Time
            };
            let iterations: usize = l
                .split("(of ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("line {}: no iteration count", i + 1))?;
            let per_rank = lines.get(i + 1).is_some_and(|h| h.contains("per Rank"));
            let Some(b) = blocks.last_mut() else {
                return Err(format!(
                    "line {}: a summary before any `N tasks` line",
                    i + 1
                ));
            };
            b.iterations = iterations;
            let mut k = i + 3;
            while let Some(row) = lines.get(k).filter(|r| r.starts_with("   ")) {
                let body = &row[3..];
                let Some(op) = Op::ALL.into_iter().find(|o| body.starts_with(o.name())) else {
                    break;
                };
                let nums: Vec<f64> = body[op.name().len()..]
                    .split_whitespace()
                    .filter_map(|t| t.parse().ok())
                    .collect();
                let (r, t) = if per_rank && nums.len() >= 7 {
                    (Some(&nums[..3]), &nums[3..])
                } else {
                    (None, &nums[..])
                };
                if t.len() >= 4 {
                    b.summary.push(OpSummary {
                        op,
                        measure,
                        max: t[0],
                        min: t[1],
                        mean: t[2],
                        std_dev: t[3],
                        rank_max: r.map_or(0.0, |r| r[0]),
                        rank_min: r.map_or(0.0, |r| r[1]),
                        rank_mean: r.map_or(0.0, |r| r[2]),
                    });
                }
                k += 1;
            }
            i = k;
            continue;
        } else if l.contains(": FAILED in ") || l.starts_with("ERROR") {
            errors.push(l.to_string());
        }
        i += 1;
    }
    if blocks.iter().all(|b| b.summary.is_empty()) {
        return Err("no SUMMARY table".to_string());
    }
    let mut notes = Vec::new();
    let params = params.unwrap_or_else(|| {
        notes.push("the command line could not be read: parameters are mdtest's defaults".into());
        Default::default()
    });
    let runs = blocks
        .into_iter()
        .filter(|b| !b.summary.is_empty())
        .map(|b| task_run(b, &mut notes))
        .collect();
    let tool = version.clone().unwrap_or_else(|| "unknown".to_string());
    Ok(ResultDocument {
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
            began: rfc3339_of(&started),
            command_line: command,
            ..RunInfo::default()
        },
        host: None,
        finished: rfc3339_of(&finished),
        interrupted: None,
        tests: Vec::new(),
        data_errors: 0,
        exit_status: None,
        errors,
        source: Some(ImportSource {
            format: "mdtest-text".to_string(),
            file: file.to_string(),
            tool_version: version,
            importer_version: build_info::VERSION.to_string(),
            notes: super::parsed::dedup(notes),
        }),
        mdtest: Some(MdtestDocument {
            params,
            world_tasks: world,
            nodes,
            api_version: String::new(),
            path,
            fs,
            random_seed: seed,
            started,
            finished,
            runs,
        }),
        io500: None,
        mdworkbench: None,
    })
}

/// The iterations' figures of a summary row that mdtest prints for `n` iterations.
fn per_iteration(s: &OpSummary, n: usize) -> Option<Vec<f64>> {
    match n {
        1 => Some(vec![s.max]),
        2 => Some(vec![s.max, s.min]),
        3 => Some(vec![s.max, s.min, 3.0 * s.mean - s.max - s.min]),
        _ => None,
    }
}

fn task_run(b: Block, notes: &mut Vec<String>) -> MdtestTaskDocument {
    let n = b.iterations.max(1);
    if n == 2 || n == 3 {
        notes.push(format!(
            "per-iteration figures of {n} iterations are rebuilt from the summary (max, min{})",
            if n == 3 {
                ", 3 × mean − max − min"
            } else {
                ""
            }
        ));
    }
    if n > 3 {
        notes.push(format!(
            "{n} iterations: only the summary is kept (mdtest prints no per-iteration figures)"
        ));
    }
    let items_per_rank = b.items_total / b.tasks.max(1) as u64;
    let mut phases = Vec::new();
    let rates: Vec<&OpSummary> = b
        .summary
        .iter()
        .filter(|s| s.measure == Measure::Rate)
        .collect();
    let times: Vec<&OpSummary> = b
        .summary
        .iter()
        .filter(|s| s.measure == Measure::Time)
        .collect();
    let mut derived_time = false;
    let mut derived_rate = false;
    // An operation ran when its row is not all zeros; its rates come from the rate table,
    // else (`-Z`) from the time table as items / time.
    let ran = |s: &&&OpSummary| !(s.max == 0.0 && s.min == 0.0);
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| {
            rates.iter().filter(ran).any(|s| s.op == *op)
                || (rates.is_empty() && times.iter().filter(ran).any(|s| s.op == *op))
        })
        .collect();
    for op in ops {
        let items = if op.is_tree() { 1 } else { b.items_total };
        let rvals = rates
            .iter()
            .find(|s| s.op == op)
            .and_then(|s| per_iteration(s, n));
        let tvals = times
            .iter()
            .find(|t| t.op == op)
            .and_then(|t| per_iteration(t, n));
        let vals: Vec<(f64, f64)> = match (rvals, tvals) {
            (Some(r), Some(t)) => r.into_iter().zip(t).collect(),
            (Some(r), None) => {
                derived_time = true;
                r.into_iter()
                    .map(|rate| (rate, if rate > 0.0 { items as f64 / rate } else { 0.0 }))
                    .collect()
            }
            (None, Some(t)) => {
                derived_rate = true;
                t.into_iter()
                    .map(|time| (if time > 0.0 { items as f64 / time } else { 0.0 }, time))
                    .collect()
            }
            (None, None) => continue,
        };
        for (j, (rate, time)) in vals.into_iter().enumerate() {
            let per_rank: Vec<RankFigures> = b
                .per_process
                .iter()
                .find(|(m, it, o, _)| *m == Measure::Rate && *it == j && *o == op)
                .map(|(_, _, _, v)| {
                    v.iter()
                        .enumerate()
                        .map(|(k, rb)| RankFigures {
                            rank: k,
                            items: items_per_rank,
                            rate_before_barrier: *rb,
                            ..RankFigures::default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let stonewall = if op == Op::FileCreate {
                b.stonewall.get(j).cloned()
            } else {
                None
            };
            phases.push(PhaseResult {
                op,
                iteration: j,
                items,
                time,
                rate,
                aggregate_rate: rate,
                per_rank,
                latency: LatencySummary::default(),
                stonewall,
                errors: 0,
                time_series: None,
            });
        }
    }
    if derived_rate {
        notes.push(
            "rates are items / time (only the time table was printed, in seconds per phase)".into(),
        );
    }
    if derived_time {
        notes.push("phase times are items / rate (no time table was printed)".into());
    }
    MdtestTaskDocument {
        tasks: b.tasks,
        iterations: n,
        items_per_rank,
        phases,
        summary: b.summary,
        verification_errors: 0,
    }
}
