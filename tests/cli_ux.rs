//! What a user meets first, through the benchfs-bench binary: checks made before any I/O
//! (unwritable `--json`, a registry that does not exist, servers awaited with a count).

mod common;

use common::run::{files_in, run_once, scratch};
use std::time::{Duration, Instant};

#[test]
fn an_unwritable_json_path_fails_before_any_io() {
    let dir = scratch();
    let data = dir.path().join("data");
    let json = dir.path().join("no/such/dir/doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-b",
            "1m",
            "-t",
            "256k",
            "-w",
            "-o",
            data.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(run.stderr.contains("cannot write --json"), "{}", run.stderr);
    assert!(run.stderr.contains("no/such/dir"), "{}", run.stderr);
    // Nothing was written: the test never started.
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    assert!(!run.stdout.contains("Began"), "{}", run.stdout);
}

#[test]
fn a_missing_registry_fails_at_once() {
    let dir = scratch();
    let reg = dir.path().join("no-registry");
    let t = Instant::now();
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            "--benchfs.registry",
            reg.to_str().unwrap(),
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "/f",
        ],
    );
    // The default --benchfs.timeout is 30 s: failing at once means well under it.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(run.stderr.contains("no-registry"), "{}", run.stderr);
}

#[test]
fn servers_are_awaited_with_a_count_within_the_timeout() {
    let dir = scratch();
    let reg = dir.path().join("reg");
    benchfs::fs::registry::Registry::new(&reg)
        .create_or_join(3, 1 << 20)
        .unwrap();
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            "--benchfs.registry",
            reg.to_str().unwrap(),
            "--benchfs.timeout",
            "1",
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "/f",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(
        run.stderr
            .contains("waiting for servers: 0 of 3 registered"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--benchfs.timeout"), "{}", run.stderr);
}
