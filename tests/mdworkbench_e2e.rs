//! `benchfs-bench md-workbench` end to end with local tasks:
//! * on DUMMY, POSIX (/dev/shm) and BENCHFS (an embedded cluster; separate server processes
//!   through a registry with the three phases as three commands, as io500 runs them), the
//!   objects created, read, stated and deleted are exactly what `-D -P -I -R` and the task
//!   count imply, `-X` verifies every object read, and on the file systems the working set
//!   after the benchmark is exactly the objects `R × I .. R × I + P - 1` of every set;
//! * the text equals real md-workbench's (tests/data/mdworkbench, recorded with the hpc/ior
//!   5fcf0ba build, see its README) token for token once numbers, dates and the program
//!   name are masked, and the position file says the same;
//! * bad input is refused with md-workbench's wording before anything is created.

mod common;

use common::run::{run_once, scratch, Run};
use common::servers::start_servers;
use std::path::Path;

fn mdw(cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["md-workbench"];
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

/// The `--print-detailed-stats` lines: phase name and its six counts (data sets created,
/// removed; objects created, read, stated, removed). A phase with errors prints `NAME err`.
fn detailed(text: &str) -> Vec<(String, [u64; 6])> {
    text.lines()
        .filter(|l| {
            ["precreate", "benchmark", "cleanup"]
                .iter()
                .any(|p| l.starts_with(&format!("{p} ")))
        })
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
            (
                f[0].trim().to_string(),
                [n(1), n(2), n(3), n(4), n(5), n(6)],
            )
        })
        .collect()
}

/// Checks the detailed lines of a run of every phase: `tasks × sets` data sets and
/// `tasks × sets × precreate` objects, `tasks × sets × per_iter` of each operation per
/// benchmark iteration.
fn check_counts(text: &str, tasks: u64, sets: u64, pre: u64, per_iter: u64, iters: usize) {
    let lines = detailed(text);
    let step = tasks * sets * per_iter;
    let mut want = vec![(
        "precreate".to_string(),
        [tasks * sets, 0, tasks * sets * pre, 0, 0, 0],
    )];
    want.extend((0..iters).map(|_| ("benchmark".to_string(), [0, 0, step, step, step, step])));
    want.push((
        "cleanup".into(),
        [0, tasks * sets, 0, 0, 0, tasks * sets * pre],
    ));
    assert_eq!(lines, want, "{text}");
}

#[test]
fn counts_are_what_the_options_imply_on_dummy_posix_and_benchfs() {
    let dir = scratch();
    let data = format!("--benchfs.data-dir={}", dir.path().join("data").display());
    let posix_out = dir.path().join("mdw").display().to_string();
    for (name, extra, verify) in [
        ("DUMMY", vec!["-a", "DUMMY", "-o", "/dummy"], false),
        ("POSIX", vec!["-a", "POSIX", "-o", posix_out.as_str()], true),
        (
            "BENCHFS",
            vec!["-a", "BENCHFS", "--benchfs.servers=3", &data, "-o", "/mw"],
            true,
        ),
    ] {
        let mut args = extra.clone();
        args.extend([
            "-D",
            "3",
            "-P",
            "7",
            "-I",
            "4",
            "-R",
            "2",
            "-G",
            "9",
            "--tasks",
            "2",
            "--print-detailed-stats",
        ]);
        if verify {
            args.push("-X");
        }
        let info = dir.path().join(format!("{name}.status"));
        let info = format!("--run-info-file={}", info.display());
        args.push(&info);
        let run = mdw(dir.path(), &args);
        ok(&run, name);
        check_counts(&run.stdout, 2, 3, 7, 4, 2);
        // Everything was cleaned up.
        assert!(!Path::new(&posix_out).exists(), "{name}");
    }
}

/// The object names in `dir` (a POSIX data set), sorted by index.
fn indices(dir: &Path) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_prefix("file-").unwrap().parse().unwrap()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_working_set_slides_by_the_iterations_and_the_phases_run_as_separate_commands() {
    let dir = scratch();
    let out = dir.path().join("ws");
    let o = format!("-o={}", out.display());
    let info = format!("--run-info-file={}", dir.path().join("ws.status").display());
    let base = [
        "-a", "POSIX", &o, &info, "-D=2", "-P=5", "-I=3", "-G=11", "--tasks", "3",
    ];
    let phase = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        let r = mdw(dir.path(), &a);
        ok(&r, &format!("{extra:?}"));
        r
    };
    phase(&["-1"]);
    for r in 0..3 {
        for d in 0..2 {
            assert_eq!(
                indices(&out.join(format!("{r}_{d}"))),
                (0..5).collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ws.status")).unwrap(),
        "pos: 0\n"
    );
    let bench = phase(&["-2", "-R=2", "-X", "--print-detailed-stats"]);
    let lines = detailed(&bench.stdout);
    assert_eq!(lines.len(), 2, "{}", bench.stdout);
    for (name, c) in lines {
        assert_eq!((name.as_str(), c), ("benchmark", [0, 0, 18, 18, 18, 18]));
    }
    // Two iterations of 3 steps: objects 6..10 remain in every set of every rank.
    for r in 0..3 {
        for d in 0..2 {
            assert_eq!(
                indices(&out.join(format!("{r}_{d}"))),
                (6..11).collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ws.status")).unwrap(),
        "pos: 6\n"
    );
    let clean = phase(&["-3"]);
    assert!(
        clean.stdout.contains("objects:30 dsets: 6 "),
        "{}",
        clean.stdout
    );
    assert!(clean.stdout.contains("(0 errs)"), "{}", clean.stdout);
    assert!(!out.exists());
}

#[test]
fn separate_phases_share_one_benchfs_namespace_through_a_registry() {
    let dir = scratch();
    let servers = start_servers(dir.path(), 2);
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let info = format!("--run-info-file={}", dir.path().join("b.status").display());
    let base = [
        "-a",
        "BENCHFS",
        &reg,
        &info,
        "-o=/mdw",
        "-D=2",
        "-P=4",
        "-I=2",
        "-G=3",
        "--tasks",
        "2",
        "--print-detailed-stats",
    ];
    let phase = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        let r = mdw(dir.path(), &a);
        ok(&r, &format!("{extra:?}"));
        detailed(&r.stdout)
    };
    assert_eq!(
        phase(&["-1"]),
        [("precreate".to_string(), [4, 0, 16, 0, 0, 0])]
    );
    let bench = phase(&["-2", "-R=2", "-X"]);
    assert_eq!(
        bench,
        vec![("benchmark".to_string(), [0, 0, 8, 8, 8, 8]); 2]
    );
    assert_eq!(
        phase(&["-3"]),
        [("cleanup".to_string(), [0, 4, 0, 0, 0, 16])]
    );
    // A second cleanup finds nothing: every remove fails and is counted.
    let again = mdw(dir.path(), &[&base[..], &["-3"]].concat());
    assert_eq!(again.code, 20, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("cleanup err\t0\t4\t0\t0\t0\t16"),
        "{}",
        again.stdout
    );
    drop(servers);
}

/// Masks a line of md-workbench's text: the program of `Args:`, the time stamps, and every
/// number (digits, dots, signs and exponents) becomes `#`; then splits into tokens.
fn masked(line: &str) -> Vec<String> {
    let line = match line.strip_prefix("Args: ") {
        Some(rest) => format!(
            "Args: PROGRAM{}",
            &rest[rest.find(" \"").unwrap_or(rest.len())..]
        ),
        None => line.to_string(),
    };
    let line = match line.find(" time: ") {
        Some(at) => format!("{} time: DATE", &line[..at]),
        None => line,
    };
    line.split_whitespace()
        .map(|tok| {
            let mut out = String::new();
            let mut in_num = false;
            let b = tok.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                let digit = c.is_ascii_digit();
                let part = digit
                    || (in_num && (c == b'.' || c == b'e'))
                    || (in_num && (c == b'-' || c == b'+') && i > 0 && b[i - 1] == b'e');
                if part {
                    if !in_num {
                        out.push('#');
                    }
                    in_num = true;
                } else {
                    in_num = false;
                    out.push(c as char);
                }
            }
            out
        })
        .collect()
}

fn same_text(golden: &str, ours: &str, what: &str) {
    let g: Vec<Vec<String>> = golden.lines().map(masked).collect();
    let o: Vec<Vec<String>> = ours.lines().map(masked).collect();
    assert_eq!(
        g.len(),
        o.len(),
        "{what}: line count\n--- md-workbench\n{golden}\n--- ours\n{ours}"
    );
    for (i, (a, b)) in g.iter().zip(&o).enumerate() {
        assert_eq!(
            a,
            b,
            "{what}: line {}\n--- md-workbench\n{golden}\n--- ours\n{ours}",
            i + 1
        );
    }
}

fn golden(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mdworkbench")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The arguments recorded in a golden file's `Args:` line.
fn recorded_args(text: &str) -> Vec<String> {
    let line = text.lines().next().unwrap();
    line.split(" \"")
        .skip(1)
        .map(|a| a.trim_end_matches('"').to_string())
        .collect()
}

#[test]
fn the_text_is_md_workbench_s() {
    let dir = scratch();
    // One rank, the same command lines as recorded.
    for name in [
        "one_rank_all_phases.txt",
        "detailed_stats.txt",
        "quiet_read_only.txt",
        "num_above_precreate.txt",
    ] {
        let g = golden(name);
        let args = recorded_args(&g);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = mdw(dir.path(), &refs);
        ok(&r, name);
        same_text(&g, &r.stdout, name);
    }
    // Two ranks, io500's three commands with --process-reports.
    for name in [
        "io500_create_np2.txt",
        "io500_bench_np2.txt",
        "io500_delete_np2.txt",
    ] {
        let g = golden(name);
        let mut args = recorded_args(&g);
        args.extend(["--tasks".to_string(), "2".to_string()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = mdw(dir.path(), &refs);
        ok(&r, name);
        // Our Args line names --tasks 2 as well: compare without it.
        let ours = r.stdout.replacen(" \"--tasks\" \"2\"", "", 1);
        same_text(&g, &ours, name);
        if name == "io500_bench_np2.txt" {
            assert_eq!(
                std::fs::read_to_string(dir.path().join("s2")).unwrap(),
                golden("io500_bench_np2.status")
            );
        }
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_created() {
    let dir = scratch();
    let r = mdw(dir.path(), &["--nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.merged.contains("Error invalid argument: --nope"),
        "{}",
        r.merged
    );
    assert!(r.merged.contains("Synopsis benchfs-bench md-workbench"));
    let r = mdw(dir.path(), &["-a", "NOPE", "-o", "x"]);
    assert_eq!(r.code, 1, "{}", r.merged);
    assert!(
        r.merged.contains("Unrecognized I/O API \"NOPE\""),
        "{}",
        r.merged
    );
    let r = mdw(dir.path(), &["-P", "-3", "-o", "x"]);
    assert_eq!(r.code, 1, "{}", r.merged);
    assert!(r
        .merged
        .contains("-P/--precreate-per-set must not be negative, got -3"));
    // -2 alone without a position file: md-workbench's restart error.
    let r = mdw(
        dir.path(),
        &["-2", "-o", "x", "--run-info-file=missing.status"],
    );
    assert_ne!(r.code, 0);
    assert!(
        r.merged
            .contains("Could not open missing.status for restart"),
        "{}",
        r.merged
    );
    assert!(!dir.path().join("x").exists());
}
