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
    let mut child = start(dir, args);
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
    // The rest of stdout comes while the run ends.
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).expect("rest of stdout");
        s
    });
    let (status, stderr) = signal_and_wait(&mut child, sig);
    stdout.push_str(&rest.join().expect("stdout reader"));
    Cut {
        status,
        stdout,
        stderr,
    }
}

/// benchfs-bench with `args` in `dir`, its stdout and stderr piped.
fn start(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start benchfs-bench")
}

/// Sends `sig` to `child` and waits (at most 30 s) for its exit: its status and stderr.
fn signal_and_wait(child: &mut std::process::Child, sig: i32) -> (Option<i32>, String) {
    // SAFETY: signalling the child this test started.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
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
    (status.code(), stderr)
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

/// Starts benchfs-bench with `args` in `dir`, waits until the document at `json` (rewritten
/// after phases) satisfies `ready`, then sends `sig` and waits for the exit.
fn interrupt_when(
    dir: &Path,
    args: &[&str],
    json: &Path,
    ready: impl Fn(&Value) -> bool,
    sig: i32,
) -> Cut {
    interrupt_once(
        dir,
        args,
        || {
            std::fs::read_to_string(json)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|d| ready(&d))
        },
        sig,
    )
}

/// Starts `benchfs-bench args` in `dir` and sends it `sig` once `ready()`.
fn interrupt_once(dir: &Path, args: &[&str], ready: impl Fn() -> bool, sig: i32) -> Cut {
    let mut child = start(dir, args);
    // Drain stdout meanwhile (a full pipe would stop the run).
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).expect("stdout");
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        if let Some(s) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the run ended ({s}) before it was ready to be interrupted: {err}");
        }
        assert!(Instant::now() < deadline, "never ready to be interrupted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stderr) = signal_and_wait(&mut child, sig);
    Cut {
        status,
        stdout: reader.join().expect("stdout reader"),
        stderr,
    }
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
fn an_interrupted_mdtest_keeps_its_completed_phases() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let data = dir.path().join("d");
    // Many iterations of a small tree: it would run for minutes.
    let args = [
        "mdtest",
        "-n",
        "10",
        "-i",
        "100000",
        "-F",
        "-d",
        data.to_str().unwrap(),
        "--tasks",
        "2",
        "--json",
        json.to_str().unwrap(),
    ];
    let phases_of = |d: &Value| count(&d["mdtest"]["runs"][0]["phases"]);
    let cut = interrupt_when(
        dir.path(),
        &args,
        &json,
        |d| phases_of(d) >= 3,
        libc::SIGINT,
    );
    assert_eq!(cut.status, Some(128 + libc::SIGINT), "{}", cut.stderr);
    // No summary table nor `-- finished at`: the run says where it stopped.
    assert!(!cut.stdout.contains("-- finished at"), "{}", cut.stdout);
    assert!(!cut.stdout.contains("SUMMARY rate"), "{}", cut.stdout);
    let last = cut
        .stdout
        .lines()
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with("-- interrupted at ") && last.contains("(SIGINT after "),
        "{last}"
    );
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], libc::SIGINT);
    assert_eq!(d["exit_status"], 128 + libc::SIGINT);
    let run = &d["mdtest"]["runs"][0];
    let n = phases_of(&d);
    assert!(n >= 3, "{n} phases");
    assert_eq!(
        d["interrupted"]["reason"],
        format!("SIGINT after {n} phases")
    );
    assert!(
        last.contains(&format!("(SIGINT after {n} phases)")),
        "{last}"
    );
    // Every phase over both tasks, in mdtest's order within an iteration.
    assert_eq!(run["tasks"], 2);
    for p in run["phases"].as_array().unwrap() {
        assert_eq!(count(&p["per_rank"]), 2, "{p}");
    }
    let ops: Vec<&str> = run["phases"].as_array().unwrap()[..3]
        .iter()
        .map(|p| p["op"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ops.len(), 3);
    assert_eq!(run["phases"][1]["items"], 20, "{}", run["phases"][1]);
}

#[test]
fn an_interrupted_mdtest_without_barriers_keeps_its_completed_task_counts() {
    // -B: the ranks do not wait for each other between phases, so their figures are
    // gathered once per task count; the run cut short keeps the task counts before.
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let data = dir.path().join("d");
    let args = [
        "mdtest",
        "-B=1",
        "-n",
        "5",
        "-i",
        "300",
        "-f",
        "1",
        "-l",
        "3",
        "-F",
        "-d",
        data.to_str().unwrap(),
        "--tasks",
        "3",
        "--json",
        json.to_str().unwrap(),
    ];
    let runs_of = |d: &Value| count(&d["mdtest"]["runs"]);
    let cut = interrupt_when(dir.path(), &args, &json, |d| runs_of(d) >= 1, libc::SIGTERM);
    assert_eq!(cut.status, Some(128 + libc::SIGTERM), "{}", cut.stderr);
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], libc::SIGTERM);
    let runs = d["mdtest"]["runs"].as_array().unwrap();
    assert!((1..3).contains(&runs.len()), "{}", runs.len());
    // The first task count (1 task) whole: 300 iterations of its 6 phases.
    assert_eq!(runs[0]["tasks"], 1);
    assert_eq!(runs[0]["iterations"], 300);
    assert_eq!(count(&runs[0]["phases"]), 300 * 6);
    let n: usize = runs.iter().map(|r| count(&r["phases"])).sum();
    assert_eq!(
        d["interrupted"]["reason"],
        format!("SIGTERM after {n} phases")
    );
}

/// md-workbench on POSIX in `dir/w` (created): 2 tasks, 2 data sets of 5 objects, `rounds`
/// benchmark iterations.
fn md_workbench(dir: &Path, rounds: &str) -> Vec<String> {
    let data = dir.join("w");
    std::fs::create_dir(&data).unwrap();
    let data = data.display().to_string();
    [
        "md-workbench",
        "-a",
        "POSIX",
        "-o",
        &data,
        "-D",
        "2",
        "-P",
        "5",
        "-I",
        "5",
        "-R",
        rounds,
        "--tasks",
        "2",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn an_interrupted_md_workbench_keeps_its_completed_phases() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let mut args = md_workbench(dir.path(), "1000000");
    args.extend(["--json".to_string(), json.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let phases_of = |d: &Value| count(&d["mdworkbench"]["run"]["phases"]);
    let cut = interrupt_when(
        dir.path(),
        &args,
        &json,
        |d| phases_of(d) >= 3,
        libc::SIGTERM,
    );
    assert_eq!(cut.status, Some(128 + libc::SIGTERM), "{}", cut.stderr);
    assert!(!cut.stdout.contains("Total runtime"), "{}", cut.stdout);
    let last = cut.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("Interrupted: SIGTERM after "), "{last}");
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], libc::SIGTERM);
    assert_eq!(d["exit_status"], 128 + libc::SIGTERM);
    let phases = d["mdworkbench"]["run"]["phases"].as_array().unwrap();
    assert!(phases.len() >= 3);
    assert_eq!(phases[0]["kind"], "precreate");
    // Precreate: 2 tasks × 2 data sets × 5 objects.
    assert_eq!(phases[0]["counts"]["obj_create"]["suc"], 20);
    assert_eq!(phases[1]["kind"], "benchmark");
    assert_eq!(
        d["interrupted"]["reason"],
        format!("SIGTERM after {} phases", phases.len())
    );
}

#[test]
fn md_workbench_writes_its_result_document() {
    let dir = scratch();
    let results = dir.path().join("results");
    let r = Command::new(bin())
        .args(md_workbench(dir.path(), "2"))
        .args(["--results-dir", results.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let files: Vec<_> = std::fs::read_dir(&results).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one document, checkpoints included");
    let d = doc(&files[0].path());
    assert!(d["interrupted"].is_null());
    assert_eq!(d["exit_status"], 0);
    let m = &d["mdworkbench"];
    assert_eq!(m["params"]["dataSets"], 2);
    assert_eq!(m["params"]["objPerProc"], 5);
    let kinds: Vec<&str> = m["run"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["precreate", "benchmark", "benchmark", "cleanup"]);
    assert_eq!(m["run"]["ranks"], 2);
    // Every benchmark run reads each task's 2 × 5 objects once.
    assert_eq!(m["run"]["phases"][1]["counts"]["obj_read"]["suc"], 20);
}

#[test]
fn an_interrupted_io500_keeps_the_scores_of_its_completed_phases_and_is_invalid() {
    let dir = scratch();
    let json = dir.path().join("doc.json");
    let ini = common::io500::lite_ini(dir.path(), "POSIX");
    // The run waits before ior-hard-write while its pause file lies there: the signal comes
    // after exactly the phases before it, whatever the machine's speed.
    let pause = dir.path().join("pause");
    std::fs::create_dir(&pause).unwrap();
    std::fs::write(pause.join("ior-hard-write"), "").unwrap();
    let mut text = std::fs::read_to_string(&ini).unwrap();
    text = text.replace(
        "[debug]\n",
        &format!("[debug]\npause-dir = {}\n", pause.display()),
    );
    std::fs::write(&ini, text).unwrap();
    let args = [
        "io500",
        ini.to_str().unwrap(),
        "--tasks",
        "2",
        "--json",
        json.to_str().unwrap(),
    ];
    let phases_of = |d: &Value| count(&d["io500"]["phases"]);
    let waiting = format!(
        "; Checking for pause file {}/ior-hard-write\n",
        pause.display()
    );
    let result_txt = dir.path().join("results/result.txt");
    let cut = interrupt_once(
        dir.path(),
        &args,
        || std::fs::read_to_string(&result_txt).is_ok_and(|t| t.contains(&waiting)),
        libc::SIGINT,
    );
    assert_eq!(cut.status, Some(128 + libc::SIGINT), "{}", cut.stderr);
    let d = doc(&json);
    assert_eq!(d["interrupted"]["signal"], libc::SIGINT);
    let io = &d["io500"];
    let n = phases_of(&d);
    let names: Vec<&str> = io["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["ior-easy-write", "mdtest-easy-write", "timestamp"],
        "{}",
        io["phases"]
    );
    let reason = format!("SIGINT after {n} of 14 phases");
    assert_eq!(d["interrupted"]["reason"], reason);
    // What completed keeps its score; the run is invalid and says why.
    assert_eq!(io["phases"][0]["name"], "ior-easy-write");
    assert!(
        io["phases"][0]["score"].as_f64().unwrap() > 0.0,
        "{}",
        io["phases"][0]
    );
    assert_eq!(io["score"]["valid"], false, "{}", io["score"]);
    assert!(io["score"]["bw"].as_f64().unwrap() > 0.0);
    let why = format!("interrupted by {reason}; the run did not complete");
    assert!(
        io["run_invalid"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == &Value::from(why.clone())),
        "{}",
        io["run_invalid"]
    );
    // stdout and result_summary.txt: the phases' lines, then the note and an invalid score.
    for text in [
        cut.stdout.clone(),
        std::fs::read_to_string(dir.path().join("results/result_summary.txt")).unwrap(),
    ] {
        assert!(text.contains("[RESULT]       ior-easy-write"), "{text}");
        assert!(text.contains(&format!("[INVALID] {why}\n")), "{text}");
        let score = text.lines().last().unwrap_or_default();
        assert!(
            score.starts_with("[SCORE ] ") && score.ends_with(" [INVALID]"),
            "{score}"
        );
    }
    assert!(
        !cut.stdout.contains("The result files are stored"),
        "{}",
        cut.stdout
    );
    let result = std::fs::read_to_string(dir.path().join("results/result.txt")).unwrap();
    assert!(
        result.contains(&format!("; ERROR INVALID {why}\n")),
        "{result}"
    );
    assert!(result.contains("\n[SCORE]\n"), "{result}");
}
