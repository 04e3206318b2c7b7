//! `compare` on synthetic pairs (no change, 20 % regression, 20 % improvement, pure noise):
//! the verdict of the library and the exit status and outputs of `benchfs-bench compare`.

use benchfs::ior::params::{IorParams, TaskLayout};
use benchfs::ior::results::{
    LatencySummary, Phase, PhaseResult, ResultEntry, RunInfo, TestResults,
};
use benchfs::results::compare::{compare, Verdict};
use benchfs::results::document::ResultDocument;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::Command;

const ITER: usize = 10;

fn row(access: Phase, iteration: usize, bw: f64) -> PhaseResult {
    let xfer = 1u64 << 20;
    let agg = 64i64 << 20;
    let total = agg as f64 / bw / 1_048_576.0;
    PhaseResult {
        access,
        iteration,
        agg_bytes: agg,
        bw_mib: bw,
        iops: bw * 1_048_576.0 / xfer as f64,
        latency: xfer as f64 / (bw * 1_048_576.0),
        block_kib: 65536.0,
        xfer_kib: 1024.0,
        open_time: 0.0,
        wrrd_time: total,
        close_time: 0.0,
        total_time: total,
        latency_hist: LatencySummary::default(),
        per_rank: Vec::new(),
        stonewall: None,
        errors: 0,
        iodepth: 1,
    }
}

/// A document of one POSIX workload whose write and read bandwidths are `bws`.
fn doc(bws: &[f64]) -> ResultDocument {
    let params = IorParams {
        block_size: 64 << 20,
        transfer_size: 1 << 20,
        write_file: 1,
        read_file: 1,
        repetitions: bws.len() as i32,
        ..IorParams::default()
    };
    let mut entries = Vec::new();
    for (i, bw) in bws.iter().enumerate() {
        entries.push(ResultEntry::Phase(row(Phase::Write, i, *bw)));
        entries.push(ResultEntry::Phase(row(Phase::Read, i, *bw * 2.0)));
    }
    let test = TestResults {
        params,
        layout: TaskLayout {
            num_tasks: 1,
            num_nodes: 1,
            tasks_on_node0: 1,
            block_mapping: true,
        },
        api_version: String::new(),
        start_time: String::new(),
        path: "/tmp/f".into(),
        fs: None,
        entries,
    };
    let run = RunInfo {
        began: "Mon Nov 23 23:33:48 2026".into(),
        command_line: "benchfs-bench -w -r".into(),
        machine: "Linux vm".into(),
        machine_long: "Linux vm".into(),
        hostname: "vm".into(),
        sysname: "Linux".into(),
    };
    ResultDocument::from_run(&run, &[test], "end", &[])
}

/// Bandwidths around `center` with ±3 % deterministic jitter.
fn jittered(center: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    (0..ITER)
        .map(|_| center * (1.0 + rng.gen_range(-0.03..0.03)))
        .collect()
}

fn verdicts(c: &benchfs::results::compare::Comparison, metric: &str) -> Vec<Verdict> {
    c.metrics
        .iter()
        .filter(|m| m.metric == metric)
        .map(|m| m.verdict)
        .collect()
}

#[test]
fn no_change() {
    let base = doc(&jittered(1000.0, 1));
    let cur = doc(&jittered(1000.0, 2));
    let c = compare(&base, "b", &cur, "c", 5.0, 0.05);
    assert_eq!(c.metrics.len(), 6); // bw, iops, latency × write, read
    assert_eq!(c.verdict, Verdict::Unchanged);
    assert_eq!(c.regressions, 0);
    // Identical runs: every value tied, p = 1, change 0.
    let same = compare(&base, "b", &base, "b", 5.0, 0.05);
    assert!(same
        .metrics
        .iter()
        .all(|m| m.change_pct == 0.0 && m.p_value == 1.0));
    assert_eq!(same.verdict, Verdict::Unchanged);
}

#[test]
fn twenty_percent_regression() {
    let base = doc(&jittered(1000.0, 3));
    let cur = doc(&jittered(800.0, 4));
    let c = compare(&base, "b", &cur, "c", 5.0, 0.05);
    assert_eq!(c.verdict, Verdict::Regression);
    assert_eq!(verdicts(&c, "bw"), vec![Verdict::Regression; 2]);
    assert_eq!(verdicts(&c, "iops"), vec![Verdict::Regression; 2]);
    // Latency grows (smaller is better): also a regression.
    assert_eq!(verdicts(&c, "latency"), vec![Verdict::Regression; 2]);
    let bw = c.metrics.iter().find(|m| m.metric == "bw").unwrap();
    assert!((bw.change_pct + 20.0).abs() < 4.0, "{}", bw.change_pct);
    assert!(bw.p_value < 0.001);
    // With a threshold above the change it is not a regression.
    let lax = compare(&base, "b", &cur, "c", 30.0, 0.05);
    assert_eq!(lax.verdict, Verdict::Unchanged);
}

#[test]
fn twenty_percent_improvement() {
    let base = doc(&jittered(1000.0, 5));
    let cur = doc(&jittered(1200.0, 6));
    let c = compare(&base, "b", &cur, "c", 5.0, 0.05);
    assert_eq!(c.verdict, Verdict::Improvement);
    assert_eq!(c.regressions, 0);
    assert_eq!(c.improvements, 6);
}

#[test]
fn pure_noise_is_not_a_regression() {
    // Both sides drawn from the same wide distribution (±40 %): medians may differ by more
    // than the threshold, but the difference is not significant.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let mut wide = || -> Vec<f64> {
        (0..ITER)
            .map(|_| 1000.0 * (1.0 + rng.gen_range(-0.4..0.4)))
            .collect()
    };
    let (b, cvals) = (wide(), wide());
    let c = compare(&doc(&b), "b", &doc(&cvals), "c", 5.0, 0.05);
    assert_eq!(c.regressions, 0);
    assert_eq!(c.improvements, 0);
    let bw = c.metrics.iter().find(|m| m.metric == "bw").unwrap();
    assert!(
        bw.change_pct.abs() > 5.0,
        "seed should give a visible median shift"
    );
    assert_eq!(bw.verdict, Verdict::Inconclusive);
    assert!(bw.p_value >= 0.05);
}

#[test]
fn too_few_iterations_never_regress() {
    let c = compare(
        &doc(&[1000.0, 1010.0, 990.0]),
        "b",
        &doc(&[500.0, 505.0, 495.0]),
        "c",
        5.0,
        0.05,
    );
    assert_eq!(c.regressions, 0);
    assert_eq!(c.verdict, Verdict::Inconclusive);
    assert!(c.to_text().contains("too few iterations"));
}

fn write(dir: &Path, name: &str, d: &ResultDocument) -> String {
    let p = dir.join(name);
    d.write_to(&p).unwrap();
    p.display().to_string()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cli_exit_status_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &doc(&jittered(1000.0, 11)));
    let same = write(dir.path(), "same.json", &doc(&jittered(1000.0, 12)));
    let worse = write(dir.path(), "worse.json", &doc(&jittered(800.0, 13)));
    let better = write(dir.path(), "better.json", &doc(&jittered(1200.0, 14)));

    let (code, out) = run(&["compare", &base, &same]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: unchanged"), "{out}");

    let (code, out) = run(&["compare", &base, &worse, "--threshold", "5%"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("verdict: regression"), "{out}");

    // bw -20 %, latency +25 %: both within 30 %.
    let (code, out) = run(&["compare", &base, &worse, "--threshold", "30%"]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = run(&["compare", &base, &better, "--format", "markdown"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("### benchfs-bench compare: **improvement**"),
        "{out}"
    );
    assert!(out.contains("| workload | phase | metric |"));

    let (code, out) = run(&["compare", &base, &worse, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "regression");
    assert_eq!(v["regressions"], 6);
    assert_eq!(v["metrics"][0]["baseline"]["n"], ITER);

    // Either side may be an imported IOR run: same workload, 3 iterations each.
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ior-examples/");
    let (code, out) = run(&[
        "compare",
        &format!("{ex}shm_fpp_text.txt"),
        &format!("{ex}shm_fpp_summaryFile.json"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(ior-text)") && out.contains("(ior-json)"),
        "{out}"
    );
    assert!(out.contains("POSIX fpp N=2 b=64MiB t=1MiB s=4 C"), "{out}");

    // Bad input: exit 2.
    let (code, _) = run(&["compare", &base, "/nonexistent.json"]);
    assert_eq!(code, 2);
}
