//! `benchfs-bench mdtest` end to end with local tasks: every phase on POSIX, DUMMY and BENCHFS
//! (an embedded cluster of several servers, and separate server processes through a registry,
//! where create, stat, read and remove run as separate commands on one namespace); `-W`
//! stonewalling with its status file; `-X` verification catching a corrupted file; failed
//! operations counted, and fatal with `--warningAsErrors`; the result document's round trip and
//! its agreement with the text.
//!
//! (The golden tests compare the text with real mdtest; `mdtest_mpi` runs the same under
//! mpirun; `results_import` reads real mdtest outputs.)

mod common;

use benchfs::mdtest::Op;
use benchfs::results::document::{MdtestTaskDocument, ResultDocument};
use common::run::{run_in_env, run_once, scratch, Run};
use common::servers::start_servers;
use std::path::Path;

/// Every operation mdtest prints when no phase option is given (`Directory read` is measured
/// but mdtest 4.1 does not print it).
const PRINTED: [Op; 10] = [
    Op::DirCreate,
    Op::DirStat,
    Op::DirRename,
    Op::DirRemove,
    Op::FileCreate,
    Op::FileStat,
    Op::FileRead,
    Op::FileRemove,
    Op::TreeCreate,
    Op::TreeRemove,
];

/// Runs `benchfs-bench mdtest args` in `cwd`.
fn mdtest(cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["mdtest"];
    all.extend_from_slice(args);
    run_once(cwd, &all)
}

fn ok(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// The rate columns (max, min, mean, std dev) of `op`'s row of the text's rate table.
fn text_row(text: &str, op: Op) -> Option<Vec<f64>> {
    let table = text.split("SUMMARY rate").nth(1)?;
    table.lines().find_map(|l| {
        let rest = l.strip_prefix("   ")?.strip_prefix(op.name())?;
        Some(
            rest.split_whitespace()
                .map(|v| v.parse::<f64>().expect("number"))
                .collect(),
        )
    })
}

fn files_under(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                n += files_under(&p);
            } else {
                n += 1;
            }
        }
    }
    n
}

/// Checks what a full run of `tasks` tasks of `items` items per rank recorded.
fn check_full_run(r: &MdtestTaskDocument, tasks: usize, items: u64, text: &str, what: &str) {
    assert_eq!((r.tasks, r.iterations, r.items_per_rank), (tasks, 1, items));
    assert_eq!(r.verification_errors, 0, "{what}");
    for op in PRINTED {
        let p = r
            .phases
            .iter()
            .find(|p| p.op == op)
            .unwrap_or_else(|| panic!("{what}: no {}", op.name()));
        assert_eq!(p.errors, 0, "{what}: {}", op.name());
        assert_eq!(p.per_rank.len(), tasks, "{what}: {}", op.name());
        assert!(p.rate > 0.0 && p.time > 0.0, "{what}: {}", op.name());
        if !op.is_tree() {
            assert_eq!(p.items, tasks as u64 * items, "{what}: {}", op.name());
            // Every single operation's latency was recorded.
            assert_eq!(p.latency.count, p.items, "{what}: {}", op.name());
            assert!(p.latency.p50 > 0.0 && p.latency.p50 <= p.latency.max);
            // mdtest's rate: the slowest rank's rate times the ranks.
            let slowest = p.per_rank.iter().map(|k| k.rate).fold(f64::MAX, f64::min);
            let expect = slowest * tasks as f64;
            assert!((p.rate - expect).abs() <= 1e-9 * expect, "{what}");
        }
        // The text prints the document's numbers.
        let row = text_row(text, op).unwrap_or_else(|| panic!("{what}: no row {}", op.name()));
        assert!(
            (row[0] - p.rate).abs() <= 0.0005 + 1e-12 * p.rate,
            "{what}: {} text {} document {}",
            op.name(),
            row[0],
            p.rate
        );
    }
}

#[test]
fn every_phase_on_posix_dummy_and_an_embedded_benchfs_cluster() {
    let dir = scratch();
    let data = format!("--benchfs.data-dir={}", dir.path().join("data").display());
    let backends: [(&str, Vec<&str>); 3] = [
        ("POSIX", vec!["-a", "POSIX", "-X"]),
        ("DUMMY", vec!["-a", "DUMMY"]),
        (
            "BENCHFS",
            vec!["-a", "BENCHFS", "--benchfs.servers=3", &data, "-X"],
        ),
    ];
    for (name, extra) in backends {
        // BenchFS has its own namespace: mdtest creates the last directory of -d only.
        let target = if name == "BENCHFS" {
            std::path::PathBuf::from("/md-BENCHFS")
        } else {
            dir.path().join(format!("md-{name}"))
        };
        let doc = dir.path().join(format!("{name}.json"));
        let (t, d) = (target.display().to_string(), doc.display().to_string());
        let mut args = vec![
            "--tasks", "3", "-n", "24", "-z", "1", "-b", "2", "-u", "-w", "64", "-e", "64", "-d",
            &t, "--json", &d,
        ];
        args.extend_from_slice(&extra);
        let run = mdtest(dir.path(), &args);
        ok(&run, name);
        assert!(!run.stdout.contains("ERROR"), "{name}: {}", run.stdout);
        assert!(!run.stdout.contains("Iodepth"), "{name}: {}", run.stdout);
        let doc = ResultDocument::read_from(&doc).expect("document");
        assert_eq!(doc.exit_status, Some(0));
        let m = doc.mdtest.as_ref().expect("mdtest section");
        assert_eq!(m.params.api.as_deref(), Some(name));
        assert_eq!(m.world_tasks, 3);
        assert_eq!(m.runs.len(), 1);
        check_full_run(&m.runs[0], 3, 24, &run.stdout, name);
        // Tree creation: one tree of 1 + 2 directories per task (-u).
        let tree = m.runs[0]
            .phases
            .iter()
            .find(|p| p.op == Op::TreeCreate)
            .unwrap();
        assert_eq!(tree.items, 9, "{name}");
        if name == "POSIX" {
            // Everything was removed again.
            assert_eq!(files_under(&target), 0);
        }
    }
    // The embedded cluster removed its data.
    let left = std::fs::read_dir(dir.path().join("data"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

/// `--benchfs.transport local`: every phase, verified, with every call made in-process
/// (the client logs each connection's transport), and the data removed afterwards.
#[test]
fn every_phase_on_an_embedded_benchfs_cluster_over_the_local_transport() {
    let dir = scratch();
    let data = format!("--benchfs.data-dir={}", dir.path().join("data").display());
    let doc = dir.path().join("local.json");
    let d = doc.display().to_string();
    let args = [
        "mdtest",
        "-a",
        "BENCHFS",
        "--benchfs.transport",
        "local",
        "--benchfs.servers=3",
        &data,
        "-X",
        "--tasks",
        "2",
        "-n",
        "30",
        "-z",
        "1",
        "-b",
        "2",
        "-u",
        "-w",
        "64",
        "-e",
        "64",
        "-d",
        "/md-local",
        "--json",
        &d,
    ];
    let run = run_in_env(dir.path(), &[("RUST_LOG", "benchfs=debug")], &args);
    ok(&run, "local");
    assert!(!run.stdout.contains("ERROR"), "{}", run.stdout);
    let connected: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("connected to "))
        .collect();
    assert!(!connected.is_empty(), "{}", run.stderr);
    assert!(
        connected.iter().all(|l| l.contains("over local")),
        "{connected:?}"
    );
    let doc = ResultDocument::read_from(&doc).expect("document");
    let m = doc.mdtest.as_ref().expect("mdtest section");
    check_full_run(&m.runs[0], 2, 30, &run.stdout, "local");
    let left = std::fs::read_dir(dir.path().join("data"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

/// `--benchfs.transport local` against servers of their own processes: a clear error
/// naming a server, before anything is measured.
#[test]
fn the_local_transport_refuses_servers_of_other_processes_naming_one() {
    let dir = scratch();
    let servers = start_servers(dir.path(), 2);
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let run = mdtest(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            &reg,
            "--benchfs.transport=local",
            "-n",
            "5",
            "-d",
            "/md",
        ],
    );
    assert_ne!(run.code, 0, "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("transport local asked, but server ")
            && all.contains("does not run in this process"),
        "{all}"
    );
    assert!(!run.stdout.contains("File creation"), "{}", run.stdout);
}

#[test]
fn phases_as_separate_runs_share_one_benchfs_namespace_through_a_registry() {
    let dir = scratch();
    let servers = start_servers(dir.path(), 3);
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let base = [
        "-a", "BENCHFS", &reg, "--tasks", "2", "-F", "-n", "40", "-w", "100", "-e", "100", "-G",
        "7", "-d", "/md",
    ];
    let run_with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        mdtest(dir.path(), &a)
    };
    let rate = |run: &Run, op: Op| text_row(&run.stdout, op).map(|r| r[0]).unwrap_or(0.0);
    // Create only (files and tree stay), then stat, then read with verification (the data
    // pattern's offset `-G` is fixed: mdtest draws it from the clock otherwise).
    let create = run_with(&["-C"]);
    ok(&create, "create");
    assert!(rate(&create, Op::FileCreate) > 0.0);
    assert_eq!(rate(&create, Op::FileStat), 0.0);
    let stat = run_with(&["-T"]);
    ok(&stat, "stat");
    assert!(rate(&stat, Op::FileStat) > 0.0);
    assert!(!stat.stderr.contains("unable to stat"), "{}", stat.stderr);
    let read = run_with(&["-E", "-X"]);
    ok(&read, "read");
    assert!(rate(&read, Op::FileRead) > 0.0);
    assert!(!read.stdout.contains("ERROR"), "{}", read.stdout);
    // Remove (and the tree): then a stat finds nothing and says so for every file.
    let remove = run_with(&["-r"]);
    ok(&remove, "remove");
    assert!(rate(&remove, Op::FileRemove) > 0.0);
    assert!(rate(&remove, Op::TreeRemove) > 0.0);
    let doc = dir.path().join("gone.json");
    let gone = run_with(&["-T", "--json", doc.to_str().unwrap()]);
    let unable = gone.stderr.matches("unable to stat file").count()
        + gone.stdout.matches("unable to stat file").count();
    assert_eq!(unable, 80, "{}\n{}", gone.stdout, gone.stderr);
    let d = ResultDocument::read_from(&doc).unwrap();
    let stat = d.mdtest.as_ref().unwrap().runs[0]
        .phases
        .iter()
        .find(|p| p.op == Op::FileStat)
        .unwrap()
        .clone();
    assert_eq!(stat.errors, 80);
    // With --warningAsErrors the first failure ends the run with mdtest's status.
    let strict = run_with(&["-T", "--warningAsErrors"]);
    assert_eq!(strict.code, 1, "{}\n{}", strict.stdout, strict.stderr);
    assert!(
        strict.merged.contains("unable to stat file"),
        "{}",
        strict.merged
    );
    drop(servers);
}

#[test]
fn stonewall_stops_the_create_phase_and_the_status_file_carries_it_to_the_next_run() {
    let dir = scratch();
    let target = dir.path().join("sw");
    let status = dir.path().join("status.txt");
    let doc = dir.path().join("sw.json");
    let (t, s, d) = (
        target.display().to_string(),
        status.display().to_string(),
        doc.display().to_string(),
    );
    // Far more files than one second allows, on DUMMY with a delay per create: the wall hits.
    let run = mdtest(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "--dummy.delay-create=200",
            "--tasks",
            "2",
            "-F",
            "-C",
            "-n",
            "1000000",
            "-W",
            "1",
            "-x",
            &s,
            "-d",
            &t,
            "--json",
            &d,
        ],
    );
    ok(&run, "stonewall");
    let hit = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Continue stonewall hit min: "))
        .unwrap_or_else(|| panic!("no stonewall line:\n{}", run.stdout));
    let doc = ResultDocument::read_from(&doc).unwrap();
    let r = &doc.mdtest.as_ref().unwrap().runs[0];
    let create = r.phases.iter().find(|p| p.op == Op::FileCreate).unwrap();
    let sw = create.stonewall.as_ref().expect("stonewall figures");
    assert!(sw.hit);
    assert!(sw.items_max > 0 && sw.items_max < 1_000_000, "{sw:?}");
    assert!(sw.items_min <= sw.items_max);
    assert!(hit.contains(&format!("max: {} ", sw.items_max)), "{hit}");
    // Every rank completed up to the fastest rank's count, no more.
    assert_eq!(create.items, 2 * sw.items_max);
    assert!(create.time < 30.0, "{}", create.time);
    // The status file holds the count for later phases (mdtest writes it on rank 0).
    let count: u64 = std::fs::read_to_string(&status)
        .unwrap()
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .expect("a count in the status file");
    assert_eq!(count, sw.items_max);
    // A stat run reading the status file stats exactly that many items per rank.
    let doc2 = dir.path().join("stat.json");
    let stat = mdtest(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "--tasks",
            "2",
            "-F",
            "-T",
            "-n",
            "1000000",
            "-x",
            &s,
            "-d",
            &t,
            "--json",
            doc2.to_str().unwrap(),
        ],
    );
    ok(&stat, "stat after stonewall");
    let doc2 = ResultDocument::read_from(&doc2).unwrap();
    let p = doc2.mdtest.as_ref().unwrap().runs[0]
        .phases
        .iter()
        .find(|p| p.op == Op::FileStat)
        .unwrap()
        .clone();
    assert_eq!(p.items, 2 * sw.items_max);
}

#[test]
fn verification_catches_a_corrupted_file() {
    let dir = scratch();
    let target = dir.path().join("x");
    let t = target.display().to_string();
    // A fixed `-G`: the create and the read runs must use the same data pattern (mdtest draws
    // its offset from the clock otherwise).
    let common = [
        "--tasks", "2", "-F", "-n", "10", "-w", "256", "-e", "256", "-G", "11", "-d", &t,
    ];
    let with = |extra: &[&str]| {
        let mut a = common.to_vec();
        a.extend_from_slice(extra);
        mdtest(dir.path(), &a)
    };
    ok(&with(&["-C"]), "create");
    // Intact files verify.
    let clean = with(&["-E", "-X"]);
    ok(&clean, "clean read");
    assert!(!clean.stdout.contains("ERROR"), "{}", clean.stdout);
    // One byte of one file changed: the read phase says so, and the exit status counts it.
    let mut files = Vec::new();
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let q = e.path();
            if q.is_dir() {
                walk(&q, out);
            } else {
                out.push(q);
            }
        }
    }
    walk(&target, &mut files);
    assert_eq!(files.len(), 20);
    files.sort();
    let victim = &files[3];
    let mut bytes = std::fs::read(victim).unwrap();
    assert_eq!(bytes.len(), 256);
    bytes[100] ^= 0xff;
    std::fs::write(victim, &bytes).unwrap();
    let doc = dir.path().join("x.json");
    let bad = with(&["-E", "-X", "--json", doc.to_str().unwrap()]);
    assert_eq!(bad.code, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stdout.contains(
            "ERROR: verifying the data on read (1 errors)! Take the performance values with care!"
        ),
        "{}",
        bad.stdout
    );
    let d = ResultDocument::read_from(&doc).unwrap();
    assert_eq!(d.mdtest.as_ref().unwrap().runs[0].verification_errors, 1);
    assert_eq!(d.exit_status, Some(1));
    // Without -X nobody looks.
    ok(&with(&["-E"]), "unverified read");
}

#[test]
fn the_document_round_trips_and_serves_compare_export_and_report() {
    let dir = scratch();
    let target = dir.path().join("rt");
    let t = target.display().to_string();
    let mut docs = Vec::new();
    for k in 0..2 {
        let doc = dir.path().join(format!("rt{k}.json"));
        let run = mdtest(
            dir.path(),
            &[
                "--tasks",
                "2",
                "-n",
                "30",
                "-i",
                "2",
                "-d",
                &t,
                "--json",
                doc.to_str().unwrap(),
            ],
        );
        ok(&run, "run");
        docs.push(doc);
    }
    let text = std::fs::read_to_string(&docs[0]).unwrap();
    let doc = ResultDocument::from_json(&text, "rt0.json").unwrap();
    // Typed and back: the same JSON, value for value.
    let again: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    let orig: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again, orig);
    let m = doc.mdtest.as_ref().unwrap();
    assert_eq!(m.runs[0].iterations, 2);
    // Two iterations of every printed operation; the summary is theirs.
    for op in PRINTED {
        let rates: Vec<f64> = m.runs[0]
            .phases
            .iter()
            .filter(|p| p.op == op)
            .map(|p| p.rate)
            .collect();
        assert_eq!(rates.len(), 2, "{}", op.name());
        let s = m.runs[0]
            .summary
            .iter()
            .find(|s| s.op == op && s.measure == benchfs::mdtest::stats::Measure::Rate)
            .unwrap();
        assert_eq!(s.max, rates[0].max(rates[1]));
        assert_eq!(s.min, rates[0].min(rates[1]));
        // Sample standard deviation of two values: |a − b| / √2.
        let sd = (rates[0] - rates[1]).abs() / 2f64.sqrt();
        assert!(
            (s.std_dev - sd).abs() <= 1e-9 * sd.max(1.0),
            "{} {sd}",
            s.std_dev
        );
    }
    // compare: the mdtest operations are its phases.
    let (a, b) = (docs[0].to_str().unwrap(), docs[1].to_str().unwrap());
    let cmp = run_once(dir.path(), &["compare", "--allow-insufficient", a, b]);
    assert!(
        cmp.code == 0 || cmp.code == 1,
        "{}\n{}",
        cmp.stdout,
        cmp.stderr
    );
    assert!(
        cmp.stdout.contains("mdtest POSIX N=2 n=30"),
        "{}",
        cmp.stdout
    );
    assert!(cmp.stdout.contains("File creation"), "{}", cmp.stdout);
    // export: one figure per operation.
    let exp = run_once(dir.path(), &["export", "--format", "gab-bigger", a]);
    assert_eq!(exp.code, 0, "{}", exp.stderr);
    assert!(exp.stdout.contains("File creation") || exp.stdout.contains("file_create"));
    // report: a rate plot per operation.
    let out = dir.path().join("report");
    let rep = run_once(
        dir.path(),
        &["report", a, b, "--out", out.to_str().unwrap()],
    );
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("File creation"),
        "no mdtest plot in the report"
    );
}

#[test]
fn iodepth_keeps_operations_in_flight_on_benchfs_and_is_said_in_the_header() {
    let dir = scratch();
    let data = format!("--benchfs.data-dir={}", dir.path().join("data").display());
    let doc = dir.path().join("d.json");
    let run = mdtest(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            "--benchfs.servers=2",
            &data,
            "--tasks",
            "2",
            "--iodepth",
            "8",
            "-n",
            "200",
            "-u",
            "-w",
            "32",
            "-e",
            "32",
            "-X",
            "-d",
            "/deep",
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    ok(&run, "iodepth 8");
    assert!(
        run.stdout
            .contains("\nIodepth             : 8 operations of a task in flight\n"),
        "{}",
        run.stdout
    );
    let d = ResultDocument::read_from(&doc).unwrap();
    let m = d.mdtest.as_ref().unwrap();
    assert_eq!(m.params.iodepth, 8);
    check_full_run(&m.runs[0], 2, 200, &run.stdout, "iodepth 8");
}
