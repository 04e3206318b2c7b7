//! Time series within a run and the live progress of the whole job (issue 17, items 6 and 7):
//! every phase's `time_series` in the result document (local tasks; under `mpirun` with the
//! `mpi` feature), `-O savePerIntervalCSV`, `--interval`, and `--progress` on a pipe printing
//! plain lines for all tasks; every mdtest phase's operations (and bytes) per interval,
//! also under `mpirun`, and the report's plots of them.

mod common;

use common::run::{run_once, scratch};
use serde_json::Value;
use std::path::Path;

/// The phase entries of the first test of the document at `path`.
fn phases(path: &Path) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["tests"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "phase")
        .cloned()
        .collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// Checks what every phase's series must satisfy with `ranks` ranks of `transfers` each.
fn check_series(e: &Value, interval: f64, ranks: usize, transfers: u64) {
    let ts = &e["time_series"];
    assert_eq!(ts["interval_s"].as_f64(), Some(interval), "{ts}");
    assert_eq!(ts["origin"], "phase_start");
    let bytes = u64s(&ts["bytes"]);
    let ops = u64s(&ts["ops"]);
    let per_rank: Vec<Vec<u64>> = ts["per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(u64s)
        .collect();
    // The grid covers the phase from the first open to the last close.
    let total = e["total_time"].as_f64().unwrap();
    let want = ((total / interval) - 1e-9).ceil() as usize;
    assert_eq!(
        bytes.len(),
        want,
        "{total} s in {interval} s intervals: {ts}"
    );
    assert_eq!(ops.len(), want);
    // Nothing lost: the sums are the phase's figures.
    assert_eq!(bytes.iter().sum::<u64>(), e["agg_bytes"].as_u64().unwrap());
    assert_eq!(ops.iter().sum::<u64>(), ranks as u64 * transfers);
    assert_eq!(per_rank.len(), ranks);
    for (r, series) in per_rank.iter().enumerate() {
        assert_eq!(series.len(), want);
        assert_eq!(
            series.iter().sum::<u64>(),
            e["per_rank"][r]["bytes"].as_u64().unwrap(),
            "rank {r}"
        );
    }
    for (i, b) in bytes.iter().enumerate() {
        assert_eq!(
            *b,
            per_rank.iter().map(|s| s[i]).sum::<u64>(),
            "interval {i}"
        );
    }
    // Transfers of 20 ms each spread over the intervals: no interval holds them all.
    let busy = bytes.iter().filter(|&&b| b > 0).count();
    assert!(busy >= 3, "{bytes:?}");
}

/// DUMMY with 20 ms per transfer: 16 transfers of 64 KiB per task, about 0.32 s per phase.
fn slow_dummy(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-a",
        "DUMMY",
        "--dummy.delay-xfer",
        "20000",
        "-b",
        "1m",
        "-t",
        "64k",
        "-w",
        "-r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_phase_records_bytes_and_ops_per_interval_for_every_task() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let args = slow_dummy(&["-N", "2", "--json", json.to_str().unwrap()]);
    let run = run_once(dir.path(), &strs(&args));
    assert_eq!(run.code, 0, "{}", run.merged);
    let ph = phases(&json);
    assert_eq!(ph.len(), 2);
    for e in &ph {
        check_series(e, 0.1, 2, 16);
    }

    // Another interval: the same sums on a finer grid.
    let args = slow_dummy(&[
        "-N",
        "2",
        "--interval",
        "50ms",
        "--json",
        json.to_str().unwrap(),
    ]);
    let run = run_once(dir.path(), &strs(&args));
    assert_eq!(run.code, 0, "{}", run.merged);
    for e in &phases(&json) {
        check_series(e, 0.05, 2, 16);
    }
}

/// Checks an mdtest phase's series: `ranks` ranks, `bytes_per_op` bytes per operation (0:
/// the phase moves no data), `interval` seconds per interval.
fn check_mdtest_series(p: &Value, interval: f64, ranks: usize, bytes_per_op: u64) {
    let ts = &p["time_series"];
    assert_eq!(ts["interval_s"].as_f64(), Some(interval), "{p}");
    assert_eq!(ts["origin"], "phase_start");
    let ops = u64s(&ts["ops"]);
    let items = p["items"].as_u64().unwrap();
    let per_rank: Vec<Vec<u64>> = ts["per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(u64s)
        .collect();
    // The grid covers the phase (from the first rank's start to the last rank's end).
    let time = p["time"].as_f64().unwrap();
    assert!(
        ops.len() >= ((time / interval) - 1e-9).ceil() as usize,
        "{time}: {ts}"
    );
    // Every operation of every rank, once.
    assert_eq!(ops.iter().sum::<u64>(), items, "{ts}");
    assert_eq!(per_rank.len(), ranks);
    let (lines, per_op) = if bytes_per_op > 0 {
        let bytes = u64s(&ts["bytes"]);
        assert_eq!(bytes.iter().sum::<u64>(), items * bytes_per_op);
        (bytes, bytes_per_op)
    } else {
        assert!(ts["bytes"].is_null(), "{ts}");
        (ops.clone(), 1)
    };
    for (r, series) in per_rank.iter().enumerate() {
        assert_eq!(series.len(), ops.len());
        assert_eq!(
            series.iter().sum::<u64>(),
            items / ranks as u64 * per_op,
            "rank {r}"
        );
    }
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(
            *v,
            per_rank.iter().map(|s| s[i]).sum::<u64>(),
            "interval {i}"
        );
    }
}

/// mdtest on DUMMY with 2 ms per create: 40 files per task, 100 bytes written and read each.
const MDTEST_SLOW: &[&str] = &[
    "mdtest",
    "-a",
    "DUMMY",
    "--dummy.delay-create",
    "2000",
    "-n",
    "40",
    "-F",
    "-w",
    "100",
    "-e",
    "100",
    "--interval",
    "20ms",
];

/// The phases of the first task count of an mdtest document, by operation.
fn mdtest_phases(path: &Path) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["mdtest"]["runs"][0]["phases"]
        .as_array()
        .unwrap()
        .clone()
}

/// Checks every phase of an mdtest run of [`MDTEST_SLOW`] on `ranks` ranks.
fn check_mdtest_run(json: &Path, ranks: usize) {
    let phases = mdtest_phases(json);
    let mut seen = Vec::new();
    for p in &phases {
        let op = p["op"].as_str().unwrap();
        seen.push(op.to_string());
        match op {
            "tree_create" | "tree_remove" => assert!(p["time_series"].is_null(), "{p}"),
            "file_create" | "file_read" => check_mdtest_series(p, 0.02, ranks, 100),
            _ => check_mdtest_series(p, 0.02, ranks, 0),
        }
    }
    assert_eq!(
        seen,
        [
            "tree_create",
            "file_create",
            "file_stat",
            "file_read",
            "file_remove",
            "tree_remove"
        ]
    );
    // 40 creates of 2 ms per rank spread over the intervals.
    let create = &phases[1]["time_series"];
    let busy = u64s(&create["ops"]).iter().filter(|&&n| n > 0).count();
    assert!(busy >= 3, "{create}");
}

#[test]
fn every_mdtest_phase_records_operations_per_interval_for_every_task() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let mut args = MDTEST_SLOW.to_vec();
    args.extend(["--tasks", "3", "--json", json.to_str().unwrap()]);
    let run = run_once(dir.path(), &args);
    assert_eq!(run.code, 0, "{}", run.merged);
    check_mdtest_run(&json, 3);
    // The report draws each phase's series, and one line per task.
    let out = dir.path().join("report");
    let rep = run_once(
        dir.path(),
        &[
            "report",
            "--out",
            out.to_str().unwrap(),
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(rep.code, 0, "{}", rep.merged);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for op in ["file-create", "file-stat", "file-read", "file-remove"] {
        for id in [
            format!("mdtest-1-timeseries-{op}"),
            format!("mdtest-1-timeseries-{op}-tasks"),
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no plot {id}");
        }
    }
    assert!(html.contains("File creation bandwidth over time"), "{html}");
    assert!(html.contains("File stat operations per task"));
}

#[test]
fn a_bad_mdtest_interval_names_value_and_option() {
    let dir = scratch();
    let run = run_once(dir.path(), &["mdtest", "-a", "DUMMY", "--interval", "0s"]);
    assert_ne!(run.code, 0);
    assert!(
        run.merged
            .contains("Error, invalid value \"0s\" for option interval"),
        "{}",
        run.merged
    );
}

#[cfg(feature = "mpi")]
#[test]
fn under_mpirun_every_rank_is_in_the_mdtest_series() {
    use common::mpi::{mpirun_command, run_bounded};
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let mut cmd = mpirun_command(2, common::run::bin());
    cmd.args(MDTEST_SLOW)
        .args(["--json", json.to_str().unwrap()])
        .current_dir(dir.path());
    let run = run_bounded(cmd, "mpirun -np 2", std::time::Duration::from_secs(180));
    assert_eq!(run.code, 0, "{}", run.merged);
    check_mdtest_run(&json, 2);
}

#[test]
fn a_bad_interval_names_value_and_option() {
    let dir = scratch();
    let run = run_once(dir.path(), &["-a", "DUMMY", "--interval", "0s"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("invalid value \"0s\" for option interval"),
        "{}",
        run.merged
    );
}

#[test]
fn save_per_interval_csv_writes_one_row_per_interval() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let csv = dir.path().join("series.csv");
    let directive = format!("savePerIntervalCSV={}", csv.display());
    let args = slow_dummy(&[
        "-N",
        "2",
        "-O",
        &directive,
        "--json",
        json.to_str().unwrap(),
    ]);
    let run = run_once(dir.path(), &strs(&args));
    assert_eq!(run.code, 0, "{}", run.merged);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "test,iteration,access,time_s,interval_s,bytes,MiB/s,ops,IOPS,rank0_bytes,rank1_bytes"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let ph = phases(&json);
    for e in &ph {
        let access = e["access"].as_str().unwrap();
        let mine: Vec<&Vec<&str>> = rows.iter().filter(|r| r[2] == access).collect();
        let series = u64s(&e["time_series"]["bytes"]);
        assert_eq!(mine.len(), series.len(), "{access}: {text}");
        for (i, r) in mine.iter().enumerate() {
            assert_eq!(r.len(), 11);
            let t: f64 = r[3].parse().unwrap();
            assert!((t - i as f64 * 0.1).abs() < 1e-6, "{r:?}");
            assert_eq!(r[5].parse::<u64>().unwrap(), series[i]);
            // MiB/s is the interval's bytes over its width.
            let w: f64 = r[4].parse().unwrap();
            let mib: f64 = r[6].parse().unwrap();
            assert!(
                (mib - series[i] as f64 / w / 1048576.0).abs() < 1e-3,
                "{r:?}"
            );
            let ranks: u64 = r[9].parse::<u64>().unwrap() + r[10].parse::<u64>().unwrap();
            assert_eq!(ranks, series[i]);
        }
    }
}

#[test]
fn forced_progress_on_a_pipe_prints_plain_lines_for_all_tasks() {
    let dir = scratch();
    // About 1.6 s per phase (80 transfers of 20 ms per task): periodic lines appear.
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "--dummy.delay-xfer",
            "20000",
            "-N",
            "3",
            "-b",
            "80k",
            "-t",
            "1k",
            "-w",
            "-r",
            "-i",
            "2",
            "--progress",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    let err = &run.stderr;
    assert!(!err.contains('\x1b'), "escape codes on a pipe:\n{err}");
    assert!(
        !run.stdout.contains("progress:"),
        "progress is on stderr only"
    );
    // The last line of each phase: every task's bytes, against the whole job's total.
    for want in [
        "progress: test 0 write iter 1/2 (3 tasks): 240.00 KiB of 240.00 KiB (100%), done in",
        "progress: test 0 read iter 2/2 (3 tasks): 240.00 KiB of 240.00 KiB (100%), done in",
        // Between timed phases.
        "progress: test 0 iter 1/2: settle",
        "progress: test 0 iter 2/2: remove",
    ] {
        assert!(err.contains(want), "{want:?} not in:\n{err}");
    }
    // Periodic lines within a phase: the rate over the last second and an ETA.
    let periodic: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("over the last 1 s"))
        .collect();
    assert!(!periodic.is_empty(), "{err}");
    assert!(
        periodic
            .iter()
            .any(|l| l.contains("of 240.00 KiB") && l.contains("ETA")),
        "{err}"
    );
}

#[test]
fn progress_shows_the_write_check_between_phases() {
    let dir = scratch();
    let data = dir.path().join("data");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "1m",
            "-t",
            "64k",
            "-w",
            "-W",
            "--progress",
            "-o",
            data.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    assert!(
        run.stderr
            .contains("progress: test 0 iter 1/1: verify (write check)"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("(2 tasks): 2.00 MiB of 2.00 MiB (100%), done in"));
}

#[test]
fn log_lines_carry_no_colour_codes_off_a_terminal() {
    let dir = scratch();
    let run = common::run::run_in_env(
        dir.path(),
        &[("RUST_LOG", "debug")],
        &["-a", "BENCHFS", "-b", "64k", "-t", "64k", "-w"],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    assert!(
        run.stderr.contains("DEBUG") || run.stderr.contains("INFO"),
        "no log lines to check:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains('\x1b'), "{}", run.stderr);
}

#[cfg(feature = "mpi")]
#[test]
fn under_mpirun_every_rank_is_in_the_series_and_the_progress() {
    use common::mpi::{mpirun_command, run_bounded};
    let dir = scratch();
    let json = dir.path().join("doc.json");
    // About 1.6 s per phase on each of 3 ranks.
    let mut cmd = mpirun_command(3, common::run::bin());
    cmd.args([
        "-a",
        "DUMMY",
        "--dummy.delay-xfer",
        "20000",
        "-b",
        "80k",
        "-t",
        "1k",
        "-w",
        "-r",
        "--progress",
        "--json",
        json.to_str().unwrap(),
    ])
    .current_dir(dir.path());
    let run = run_bounded(cmd, "mpirun -np 3", std::time::Duration::from_secs(180));
    assert_eq!(run.code, 0, "{}", run.merged);
    for e in &phases(&json) {
        check_series(e, 0.1, 3, 80);
    }
    let err = &run.stderr;
    assert!(!err.contains('\x1b'), "{err}");
    for want in [
        "progress: test 0 write iter 1/1 (3 ranks): 240.00 KiB of 240.00 KiB (100%), done in",
        "progress: test 0 read iter 1/1 (3 ranks): 240.00 KiB of 240.00 KiB (100%), done in",
    ] {
        assert!(err.contains(want), "{want:?} not in:\n{err}");
    }
    // While the phase runs, rank 0 shows more than its own third: the other ranks' reports.
    let beyond_rank0 = err.lines().any(|l| {
        l.contains("over the last 1 s")
            && l.contains("(3 ranks)")
            && l.split(": ")
                .nth(2)
                .and_then(|s| s.split(" KiB").next())
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|kib| kib > 80.0)
    });
    assert!(beyond_rank0, "{err}");
}
