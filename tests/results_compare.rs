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
        measured: true,
        time_series: None,
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
    ResultDocument::from_run(&run, &[test], &[], &Default::default())
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
    assert_eq!(c.verdict, Verdict::Insufficient);
    assert!(c.to_text().contains("too few iterations"));
    assert!(
        c.to_text()
            .contains("verdict: insufficient data (need -i >= "),
        "{}",
        c.to_text()
    );
    assert_eq!(c.iterations_needed, Some(6));
}

#[test]
fn a_single_repetition_pair_still_reports_the_change() {
    let c = compare(&doc(&[1000.0]), "b", &doc(&[500.0]), "c", 5.0, 0.05);
    let bw = c.metrics.iter().find(|m| m.metric == "bw").unwrap();
    assert!((bw.change_pct + 50.0).abs() < 1e-9, "{}", bw.change_pct);
    assert_eq!(bw.verdict, Verdict::Insufficient);
    assert_eq!(c.verdict, Verdict::Insufficient);
}

#[test]
fn no_workload_in_common_is_its_own_verdict() {
    let mut other = doc(&jittered(1000.0, 3));
    other.tests[0].params.transfer_size = 4096;
    let c = compare(&doc(&jittered(1000.0, 4)), "b", &other, "c", 5.0, 0.05);
    assert_eq!(c.verdict, Verdict::NoCommonWorkload);
    assert_eq!(c.common_workloads, 0);
    assert!(c.metrics.is_empty());
    assert_eq!(c.only_in_baseline.len(), 1);
    assert_eq!(c.only_in_current.len(), 1);
}

#[test]
fn threshold_is_symmetric_in_log_ratio() {
    // Bandwidth halves (slowdown 2) and latency doubles (slowdown 2): the same slowdown,
    // so under a 90 % threshold both regress, and under a 110 % threshold neither does.
    let (base, cur) = (doc(&jittered(1000.0, 5)), doc(&jittered(500.0, 6)));
    let c = compare(&base, "b", &cur, "c", 90.0, 0.05);
    for m in c.metrics.iter().filter(|m| m.phase == "write") {
        assert_eq!(m.verdict, Verdict::Regression, "{}", m.metric);
        assert!(
            (m.slowdown - 2.0).abs() < 0.15,
            "{} {}",
            m.metric,
            m.slowdown
        );
    }
    let c = compare(&base, "b", &cur, "c", 110.0, 0.05);
    assert_eq!(c.regressions, 0);
    // The old relative rule would have called a -50 % bandwidth change "within 90 %" while
    // a +100 % latency change was beyond it.
    let bw = c.metrics.iter().find(|m| m.metric == "bw").unwrap();
    let lat = c.metrics.iter().find(|m| m.metric == "latency").unwrap();
    assert!(bw.change_pct.abs() < 60.0 && lat.change_pct > 90.0);
}

#[test]
fn many_metrics_are_corrected_with_holm() {
    // A change of one metric that is significant alone (p < 0.05) but not once corrected
    // over six metrics (p >= 0.05 / 6) must not be a regression.
    let base_bw = [1000.0, 1010.0, 990.0, 1005.0, 995.0];
    let cur_bw = [930.0, 940.0, 1000.0, 920.0, 935.0];
    let c = compare(&doc(&base_bw), "b", &doc(&cur_bw), "c", 5.0, 0.05);
    let bw = c
        .metrics
        .iter()
        .find(|m| m.metric == "bw" && m.phase == "write")
        .unwrap();
    assert!(
        bw.p_value < 0.05 && bw.p_value >= 0.05 / 6.0,
        "{}",
        bw.p_value
    );
    assert!(!bw.significant);
    assert_ne!(bw.verdict, Verdict::Regression);
    assert_eq!(c.regressions, 0);
}

#[test]
fn quantised_sources_are_compared_at_their_resolution() {
    // IOR's JSON prints latency with 4 decimals: 0.0000 there and 0.00004 s measured here
    // are the same figure, not an infinite change.
    let mut base = doc(&jittered(1000.0, 8));
    base.source = Some(benchfs::results::document::ImportSource {
        format: "ior-json".into(),
        file: "x.json".into(),
        tool_version: None,
        importer_version: String::new(),
        notes: Vec::new(),
    });
    for t in &mut base.tests {
        for e in &mut t.results {
            if let ResultEntry::Phase(p) = e {
                p.latency = 0.0;
            }
        }
    }
    let mut cur = doc(&jittered(1000.0, 9));
    for t in &mut cur.tests {
        for e in &mut t.results {
            if let ResultEntry::Phase(p) = e {
                p.latency = 0.00004;
            }
        }
    }
    let c = compare(&base, "b", &cur, "c", 5.0, 0.05);
    let lat: Vec<_> = c.metrics.iter().filter(|m| m.metric == "latency").collect();
    assert_eq!(lat.len(), 2);
    for m in lat {
        assert_eq!(m.resolution, 1e-4);
        assert_eq!(m.verdict, Verdict::Unchanged, "{m:?}");
        assert_eq!(m.change_pct, 0.0);
    }
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

    // Either side may be an imported IOR run: same workload, 3 iterations each, far apart:
    // too few iterations to judge (exit 4) unless allowed.
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ior-examples/");
    let (text, json) = (
        format!("{ex}shm_fpp_text.txt"),
        format!("{ex}shm_fpp_summaryFile.json"),
    );
    let (code, out) = run(&["compare", &text, &json]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("verdict: insufficient data (need -i >= "),
        "{out}"
    );
    let (code, out) = run(&["compare", &text, &json, "--allow-insufficient"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(ior-text)") && out.contains("(ior-json)"),
        "{out}"
    );
    assert!(out.contains("POSIX fpp N=2 b=64MiB t=1MiB s=4 C"), "{out}");

    // Nothing in common: exit 3.
    let mut other = doc(&jittered(1000.0, 15));
    other.tests[0].params.block_size = 1 << 20;
    let other = write(dir.path(), "other.json", &other);
    let (code, out) = run(&["compare", &base, &other]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("no workload in common"), "{out}");

    // Bad input: exit 2.
    let (code, _) = run(&["compare", &base, "/nonexistent.json"]);
    assert_eq!(code, 2);
}

#[test]
fn documents_of_schema_version_1_are_compared_with_current_ones() {
    // A document written before schema version 2 (ctime times, float capacities) against a
    // fresh run of the same workload (POSIX fpp N=2 b=1MiB t=64KiB s=1, 3 iterations).
    let dir = tempfile::tempdir().unwrap();
    let v1 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/results/posix-v1.json"
    );
    let cur = dir.path().join("cur.json");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .args([
            "-a", "POSIX", "-b", "1m", "-t", "64k", "-w", "-r", "-i", "3", "-N", "2", "-F",
        ])
        .arg("-o")
        .arg(data.join("f"))
        .arg("--json")
        .arg(&cur)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out) = run(&[
        "compare",
        v1,
        cur.to_str().unwrap(),
        "--format",
        "json",
        "--allow-insufficient",
    ]);
    assert!(code == 0 || code == 1, "{code}: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["common_workloads"], 1, "{v}");
    assert_eq!(v["metrics"][0]["baseline"]["n"], 3);
}
