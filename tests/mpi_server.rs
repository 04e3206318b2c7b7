//! `mpirun -np N benchfs-server --registry DIR --data-dir DIR/%r`: N servers register as one
//! cluster (expected size N, one epoch), a later benchfs-bench run uses it through the
//! registry, and SIGTERM stops every server gracefully within a bounded time.
#![cfg(feature = "mpi")]

mod common;

use common::run::{run_once, scratch};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn mpirun_starts_one_cluster_of_n_servers() {
    let dir = scratch();
    let registry = dir.path().join("registry");
    // The registry exists before servers and client start together: benchfs-bench
    // names a missing one at once instead of waiting (preflight).
    std::fs::create_dir_all(&registry).expect("registry directory");
    let data = format!("{}/data/%r", dir.path().display());
    let mut cmd = common::mpi::mpirun_command(3, env!("CARGO_BIN_EXE_benchfs-server"));
    cmd.args([
        "--registry",
        registry.to_str().expect("utf-8"),
        "--data-dir",
        &data,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut servers = cmd.spawn().expect("mpirun benchfs-server");
    let pgid = servers.id() as i32;
    let kill_all = |sig: i32| {
        // SAFETY: signalling the process group this test created.
        unsafe {
            libc::kill(-pgid, sig);
        }
    };

    // One cluster of 3: benchfs-bench waits for all of them through the registry.
    let reg = format!("--benchfs.registry={}", registry.display());
    let run = run_once(
        dir.path(),
        &[
            "-a", "BENCHFS", &reg, "-N", "3", "-b", "1m", "-t", "256k", "-s", "2", "-w", "-r",
            "-W", "-R", "-G", "8", "-o", "/mpi-srv",
        ],
    );
    let cluster = std::fs::read_to_string(registry.join("cluster.json")).unwrap_or_default();
    let entries = std::fs::read_dir(registry.join("servers"))
        .map(|d| d.count())
        .unwrap_or(0);
    kill_all(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = servers.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            kill_all(libc::SIGKILL);
            panic!("servers did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut servers.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert_eq!(
        run.code, 0,
        "benchfs-bench:\n{}\n{}\nservers:\n{err}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("Incorrect data"), "{}", run.stderr);
    assert!(cluster.contains("\"expected_servers\": 3"), "{cluster}");
    assert_eq!(entries, 3, "three servers registered");
    for r in 0..3 {
        assert!(
            dir.path().join(format!("data/{r}")).is_dir(),
            "%r became the rank"
        );
    }
    // Deregistered on the way out.
    let left = std::fs::read_dir(registry.join("servers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        left, 0,
        "servers deregistered on SIGTERM ({status:?}): {err}"
    );
}
