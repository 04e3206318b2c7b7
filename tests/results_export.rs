//! `benchfs-bench export`: documents of one workload pooled into one figure, an empty export
//! refused, the same `latency` statistic for native and imported runs, kebab-case measures and
//! values at the precision they were measured.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ior-examples")
        .join(name)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A native DUMMY run of `reps` repetitions written to `path`.
fn native_run(path: &Path, reps: &str) {
    let out = bin()
        .args([
            "-a", "DUMMY", "-N", "2", "-b", "1m", "-t", "64k", "-w", "-r", "-i", reps,
        ])
        .arg("--json")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn documents_of_one_workload_are_pooled_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    native_run(&a, "2");
    native_run(&b, "3");
    let v = json(
        &bin()
            .args(["export", "--format", "gab-bigger"])
            .args([&a, &b])
            .output()
            .unwrap(),
    );
    let items = v.as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "duplicated names: {names:?}");
    assert_eq!(items.len(), 4, "{names:?}"); // bandwidth and iops of write and read
    assert!(items[0]["extra"]
        .as_str()
        .unwrap()
        .contains("median of 5 iteration(s) from 2 document(s)"));

    // Bencher: one entry per benchmark, measures in kebab-case, no silent last-wins.
    let v = json(
        &bin()
            .args(["export", "--format", "bmf"])
            .args([&a, &b])
            .output()
            .unwrap(),
    );
    let benches = v.as_object().unwrap();
    assert_eq!(benches.len(), 2, "{v}");
    for (_, m) in benches {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        for k in &keys {
            assert!(
                k.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
                "{k}"
            );
        }
        assert!(keys.iter().any(|k| *k == "latency-p99"), "{keys:?}");
    }
}

#[test]
fn latency_is_the_same_statistic_for_native_and_imported_runs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    native_run(&a, "2");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let row = &doc["tests"][0]["results"][0];
    let ior_column = row["latency"].as_f64().unwrap();
    let smaller = |path: &Path| {
        json(
            &bin()
                .args(["export", "--format", "gab-smaller"])
                .arg(path)
                .output()
                .unwrap(),
        )
    };
    let native = smaller(&a);
    let lat = native
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().ends_with(" write latency"))
        .expect("the native run exports IOR's latency column");
    assert!(lat["extra"]
        .as_str()
        .unwrap()
        .starts_with("IOR's Latency(s) column"));
    // The column of the first repetition is one of the pooled values.
    let (lo, hi) = lat["range"].as_str().unwrap().split_once("..").unwrap();
    let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
    // Six significant digits: within 5e-6 of the value.
    assert!(
        lo <= ior_column * 1.000_01 && ior_column <= hi * 1.000_01,
        "{lo} {ior_column} {hi}"
    );

    let imported = smaller(&example("shm_fpp_text.txt"));
    let items = imported.as_array().unwrap();
    assert!(items
        .iter()
        .any(|i| i["name"].as_str().unwrap().ends_with(" write latency")
            && i["extra"]
                .as_str()
                .unwrap()
                .starts_with("IOR's Latency(s) column")));
    // IOR records no histograms: no percentile is claimed for an imported run.
    assert!(items
        .iter()
        .all(|i| !i["name"].as_str().unwrap().contains("latency-p")));
}

#[test]
fn values_keep_the_precision_they_were_measured_at() {
    // IOR's JSON prints %.4f; its text prints 2 decimals for bandwidths.
    let v = json(
        &bin()
            .args(["export", "--format", "bmf"])
            .arg(example("shm_fpp_summaryFile.json"))
            .output()
            .unwrap(),
    );
    for (_, m) in v.as_object().unwrap() {
        let bw = m["bandwidth"]["value"].as_f64().unwrap();
        assert_eq!((bw * 1e4).round() / 1e4, bw);
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    native_run(&a, "2");
    let v = json(
        &bin()
            .args(["export", "--format", "gab-bigger"])
            .arg(&a)
            .output()
            .unwrap(),
    );
    for i in v.as_array().unwrap() {
        let x = i["value"].as_f64().unwrap();
        let digits = format!("{x:e}");
        let mantissa = digits.split('e').next().unwrap().replace(['.', '-'], "");
        assert!(
            mantissa.len() <= 6,
            "{x} has more than 6 significant digits"
        );
    }
}

#[test]
fn an_empty_export_fails() {
    let dir = tempfile::tempdir().unwrap();
    // A run with no write or read phase: nothing to export.
    let p = dir.path().join("empty.json");
    let native = dir.path().join("n.json");
    native_run(&native, "1");
    let mut d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&native).unwrap()).unwrap();
    d["tests"][0]["results"] = serde_json::json!([]);
    std::fs::write(&p, d.to_string()).unwrap();
    let out = bin()
        .args(["export", "--format", "gab-bigger"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing to export"), "{err}");
    assert!(out.stdout.is_empty());
}
