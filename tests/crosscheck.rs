//! `benchfs-bench crosscheck` with a stand-in for IOR (CI has no IOR): a script that prints a
//! real output of upstream IOR through the BENCHFS backend (captured by hand, in
//! `tests/data/crosscheck/`). benchfs-bench itself really runs, on the embedded cluster the
//! crosscheck starts; the table, the verdicts and every kept file are checked.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const CAPTURED: &str = "tests/data/crosscheck/ior-benchfs-t64k-b1m-i2.txt";

/// A fake `ior` that prints `text` and exits with `code`.
fn fake_ior(dir: &Path, text_file: &Path, code: i32) -> std::path::PathBuf {
    let p = dir.join("ior");
    std::fs::write(
        &p,
        format!("#!/bin/sh\ncat '{}'\nexit {code}\n", text_file.display()),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn crosscheck(ior: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .arg("crosscheck")
        .arg("--ior")
        .arg(ior)
        .args(["--rounds", "2", "--np", "1", "--out-dir"])
        .arg(out)
        .args(extra)
        .args([
            "--", "-a", "BENCHFS", "-w", "-r", "-t", "64k", "-b", "1m", "-i", "2",
        ])
        .args([
            "-o",
            "/xc",
            "--benchfs.servers",
            "2",
            "--benchfs.settle",
            "0",
        ])
        .env("UCX_NET_DEVICES", "lo")
        .output()
        .unwrap()
}

#[test]
fn a_crosscheck_prints_both_harnesses_side_by_side_and_keeps_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let captured = Path::new(env!("CARGO_MANIFEST_DIR")).join(CAPTURED);
    let ior = fake_ior(dir.path(), &captured, 0);
    let out_dir = dir.path().join("out");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = crosscheck(&ior, &out_dir, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 round(s)"), "{stdout}");
    assert!(
        stdout.contains("\nBENCHFS ssf N=1 b=1MiB t=64KiB s=1\n"),
        "{stdout}"
    );
    // IOR's median bandwidth over 2 rounds x 2 iterations of the captured output: writes
    // were 160.02 and 82.56 MiB/s, reads 125.36 and 113.22.
    let row = |phase: &str, metric: &str| {
        stdout
            .lines()
            .find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() > 5 && w[0] == phase && w[1] == metric
            })
            .unwrap_or_else(|| panic!("no {phase} {metric} row in\n{stdout}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let w = row("write", "bw");
    assert_eq!(w[3], "121.290", "{w:?}");
    let ours: f64 = w[4].parse().unwrap();
    let ratio: f64 = w[5].parse().unwrap();
    assert!(ours > 0.0 && (ratio - ours / 121.29).abs() < 0.01, "{w:?}");
    let verdict = w[6..].join(" ");
    assert!(
        verdict.starts_with("agree")
            || verdict.starts_with("ours faster by")
            || verdict.starts_with("ours slower by"),
        "{verdict}"
    );
    assert_eq!(row("read", "bw")[3], "119.290");
    for m in ["iops", "open", "wr/rd", "close", "total"] {
        row("write", m);
        row("read", m);
    }
    assert!(stdout.contains("metric(s) compared"), "{stdout}");
    // Every output and both merged documents are kept.
    for f in [
        "ior-round-1.txt",
        "ior-round-2.txt",
        "benchfs-bench-round-1.txt",
        "benchfs-bench-round-2.json",
        "ior.json",
        "benchfs-bench.json",
        "crosscheck.txt",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let ior_doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("ior.json")).unwrap()).unwrap();
    assert_eq!(
        ior_doc["tests"].as_array().unwrap().len(),
        2,
        "one test per round"
    );
    assert_eq!(ior_doc["source"]["format"], "ior-text");
    let ours_doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("benchfs-bench.json")).unwrap())
            .unwrap();
    assert_eq!(ours_doc["tests"].as_array().unwrap().len(), 2);
    // benchfs-bench joined the crosscheck's cluster: its command line names the registry.
    let cmd = ours_doc["run"]["command_line"].as_str().unwrap();
    assert!(cmd.contains("--benchfs.registry"), "{cmd}");
}

#[test]
fn a_failing_ior_stops_the_crosscheck_with_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("err.txt");
    std::fs::write(&text, "ior ERROR: Unrecognized I/O API: BENCHFS\n").unwrap();
    let ior = fake_ior(dir.path(), &text, 1);
    let out = crosscheck(&ior, &dir.path().join("out"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("IOR (round 1) failed"), "{stderr}");
    assert!(stderr.contains("Unrecognized I/O API"), "{stderr}");
    let bad = crosscheck(&ior, &dir.path().join("out2"), &["--threshold", "x"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A launcher that runs the program once, whatever `-np N` says (the fakes print one output).
fn fake_launcher(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("mpirun");
    std::fs::write(&p, "#!/bin/sh\nshift 2\nexec \"$@\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn mdtest_runs_beside_upstream_mdtest_with_rates_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ior = fake_ior(dir.path(), &root.join(CAPTURED), 0);
    // Real mdtest 4.1 on DUMMY with 2 tasks, `-a DUMMY -n 1000` (captured by hand).
    let captured = root.join("tests/data/ior-examples/mdtest_dummy_n1000.txt");
    let mdtest = dir.path().join("mdtest");
    std::fs::write(
        &mdtest,
        format!("#!/bin/sh\ncat '{}'\n", captured.display()),
    )
    .unwrap();
    std::fs::set_permissions(&mdtest, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .arg("crosscheck")
        .arg("--ior")
        .arg(&ior)
        .arg("--mdtest")
        .arg(&mdtest)
        .args(["--mdtest-args", "-n 1000 -d /xcmd"])
        .arg("--mpirun")
        .arg(fake_launcher(dir.path()))
        .args(["--rounds", "2", "--np", "2", "--out-dir"])
        .arg(&out_dir)
        .args(["--", "-a", "DUMMY", "-w", "-r", "-t", "64k", "-b", "1m"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("upstream mdtest vs benchfs-bench mdtest, 2 round(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("\nmdtest DUMMY N=2 n=1000\n"), "{stdout}");
    // Upstream's median file creation rate: the captured one, in both rounds.
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("File creation"))
        .unwrap_or_else(|| panic!("no File creation row in\n{stdout}"));
    let w: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(w[2], "6853437.908", "{row}");
    let ours: f64 = w[3].parse().unwrap();
    let ratio: f64 = w[4].parse().unwrap();
    assert!(
        ours > 0.0 && (ratio - ours / 6853437.908).abs() < 0.01,
        "{row}"
    );
    for op in [
        "Directory creation",
        "Directory stat",
        "File stat",
        "File removal",
        "Tree creation",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(op)),
            "no {op} row in\n{stdout}"
        );
    }
    // Every output and both merged documents are kept; rounds became iterations.
    for f in [
        "mdtest-round-1.txt",
        "mdtest-round-2.txt",
        "benchfs-bench-mdtest-round-1.txt",
        "benchfs-bench-mdtest-round-2.json",
        "mdtest.json",
        "benchfs-bench-mdtest.json",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let ours_doc = benchfs::results::document::ResultDocument::read_from(
        out_dir.join("benchfs-bench-mdtest.json"),
    )
    .unwrap();
    let run = &ours_doc.mdtest.as_ref().unwrap().runs[0];
    assert_eq!((run.tasks, run.iterations), (2, 2));
    let theirs =
        benchfs::results::document::ResultDocument::read_from(out_dir.join("mdtest.json")).unwrap();
    assert_eq!(theirs.source.as_ref().unwrap().format, "mdtest-text");
    assert_eq!(theirs.mdtest.as_ref().unwrap().runs[0].iterations, 2);
}
