//! Runs cut short by SIGINT or SIGTERM after some phases completed: the completed phases are
//! written to `--json` / `--results-dir` in a document marked interrupted, the process exits
//! with 128 + the signal, and the result stream ends with an `Interrupted` line instead of
//! pretending completion (`Finished`); an interrupted IOR text output imports as such.

mod common;

use common::run::{bin, scratch};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What an interrupted run left.
struct Cut {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Starts benchfs-bench with `args` in `dir`, waits for `lines` stdout lines starting with
/// `write ` or `read ` (completed phases; JSON: `"access": "write"` or `"read"`), then sends
/// `sig`.
fn interrupt_after(dir: &Path, args: &[&str], lines: usize, sig: i32) -> Cut {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start benchfs-bench");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdout = String::new();
    let mut seen = 0;
    while seen < lines {
        let mut line = String::new();
        if out.read_line(&mut line).expect("read") == 0 {
            panic!("the run ended before {lines} lines:\n{stdout}");
        }
        let json_phase = ["\"access\": \"write\"", "\"access\": \"read\""];
        if line.starts_with("write ")
            || line.starts_with("read ")
            || json_phase.iter().any(|p| line.contains(p))
        {
            seen += 1;
        }
        stdout.push_str(&line);
    }
    // SAFETY: signalling the child this test started.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
    out.read_to_string(&mut stdout).expect("rest of stdout");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after the signal");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    Cut {
        status: status.code(),
        stdout,
        stderr,
    }
}

/// A DUMMY run slow enough to be cut: 64 transfers of 2 ms per phase, 20 repetitions.
const SLOW: &[&str] = &[
    "-a",
    "DUMMY",
    "--dummy.delay-xfer=2000",
    "-b",
    "1m",
    "-t",
    "16k",
    "-w",
    "-r",
    "-i",
    "20",
    "-N",
    "2",
];

fn doc(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("document")).expect("JSON")
}

fn phases(d: &Value) -> usize {
    d["tests"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["kind"] == "phase")
        .count()
}

#[test]
fn sigint_after_some_phases_keeps_them_and_says_so() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let mut args = SLOW.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let cut = interrupt_after(dir.path(), &args, 3, libc::SIGINT);
    assert_eq!(cut.status, Some(128 + libc::SIGINT), "{}", cut.stderr);
    // The text stream: the completed rows, their summary, and no pretence of completion.
    assert!(!cut.stdout.contains("Finished"), "{}", cut.stdout);
    assert!(
        cut.stdout
            .contains("Summary of all tests (completed phases only):"),
        "{}",
        cut.stdout
    );
    let last = cut.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Interrupted         : ") && last.contains("(SIGINT after "),
        "{last}"
    );
    assert!(last.contains(" of 40 phases)"), "{last}");
    assert!(
        cut.stderr.contains("interrupted by SIGINT"),
        "{}",
        cut.stderr
    );
    // The document: marked, with every phase that completed (at least the 3 seen).
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], libc::SIGINT);
    let n = phases(&d);
    assert!((3..40).contains(&n), "{n} phases");
    assert_eq!(
        d["interrupted"]["reason"],
        format!("SIGINT after {n} of 40 phases")
    );
    assert_eq!(d["exit_status"], 128 + libc::SIGINT);
    assert_eq!(d["tests"][0]["summary"][0]["operation"], "write");
}

#[test]
fn sigterm_writes_into_the_results_dir_and_json_stays_valid() {
    let dir = scratch();
    let results = dir.path().join("results");
    let mut args = SLOW.to_vec();
    args.extend([
        "--results-dir",
        results.to_str().unwrap(),
        "-O",
        "summaryFormat=JSON",
    ]);
    let cut = interrupt_after(dir.path(), &args, 2, libc::SIGTERM);
    assert_eq!(cut.status, Some(128 + libc::SIGTERM), "{}", cut.stderr);
    // IOR's JSON on stdout is closed properly and says it was interrupted.
    let v: Value = serde_json::from_str(&cut.stdout)
        .unwrap_or_else(|e| panic!("not valid JSON ({e}):\n{}", cut.stdout));
    assert!(v.get("Finished").is_none(), "{v}");
    assert!(
        v["Interrupted"]
            .as_str()
            .unwrap()
            .contains("(SIGTERM after "),
        "{v}"
    );
    assert!(!v["tests"][0]["Results"].as_array().unwrap().is_empty());
    let files: Vec<_> = std::fs::read_dir(&results).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let d = doc(&files[0].path());
    assert_eq!(d["interrupted"]["signal"], libc::SIGTERM);
    assert!(phases(&d) >= 2);
}

#[test]
fn an_interrupted_ior_text_output_imports_as_interrupted() {
    let ex = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ior-examples/shm_fpp_interrupted_SIGINT.txt"
    );
    let out = Command::new(bin()).args(["import", ex]).output().unwrap();
    assert!(out.status.success());
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["interrupted"]["signal"], 0, "{}", d["interrupted"]);
    assert!(d["interrupted"]["reason"]
        .as_str()
        .unwrap()
        .contains("no Finished line"));
    assert_eq!(phases(&d), 4);
    // A complete output is not marked.
    let ex = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ior-examples/shm_fpp_text.txt"
    );
    let out = Command::new(bin()).args(["import", ex]).output().unwrap();
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(d["interrupted"].is_null());
}

#[test]
fn a_run_killed_without_warning_leaves_its_completed_phases() {
    // SIGKILL (as Open MPI's launcher sends a few milliseconds after the first rank exits):
    // no handler runs, yet the document written after each phase holds what completed.
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let mut args = SLOW.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let cut = interrupt_after(dir.path(), &args, 3, libc::SIGKILL);
    assert_eq!(cut.status, None, "killed by a signal: {}", cut.stderr);
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], 0, "{}", d["interrupted"]);
    let n = phases(&d);
    assert!((3..40).contains(&n), "{n} phases");
    assert!(
        d["interrupted"]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("incomplete: {n} of 40 phases")),
        "{}",
        d["interrupted"]
    );
    assert!(d["exit_status"].is_null());
}

#[test]
fn a_complete_run_overwrites_its_checkpoints() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let out = Command::new(bin())
        .args([
            "-a", "DUMMY", "-b", "64k", "-t", "16k", "-w", "-r", "-i", "3", "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = doc(&json);
    assert!(d["interrupted"].is_null(), "{}", d["interrupted"]);
    assert_eq!(phases(&d), 6);
    assert_eq!(d["exit_status"], 0);
}
