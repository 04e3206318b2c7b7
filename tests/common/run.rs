//! Running the benchfs-bench binary from integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Output of one run.
pub struct Run {
    /// stdout alone.
    pub stdout: String,
    /// stderr alone.
    pub stderr: String,
    /// stdout and stderr interleaved as written (the IOR stream).
    pub merged: String,
    /// Exit status.
    pub code: i32,
}

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_benchfs-bench")
}

/// Run benchfs-bench with `args` in `cwd`, capturing stdout, stderr and both interleaved
/// (two runs: one with both streams on one pipe, lines written whole in program order).
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    run_in_env(cwd, &[], args)
}

/// Run once, capturing stdout and stderr separately (no second run).
pub fn run_once(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        // UCX traffic of tests stays on loopback, whatever the environment says.
        .env("UCX_NET_DEVICES", "lo")
        .stdin(Stdio::null())
        .output()
        .expect("run benchfs-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Run {
        merged: format!("{stdout}{stderr}"),
        stdout,
        stderr,
        code: out.status.code().unwrap_or(-1),
    }
}

/// A scratch directory on tmpfs when there is one (fast), else in the system temp dir.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("benchfs-test-")
            .tempdir_in(shm)
        {
            return d;
        }
    }
    tempfile::Builder::new()
        .prefix("benchfs-test-")
        .tempdir()
        .expect("temp dir")
}

/// A scratch directory on a disk file system (not tmpfs).
pub fn disk_scratch() -> tempfile::TempDir {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tempfile::Builder::new()
        .prefix("benchfs-disk-")
        .tempdir_in(target)
        .expect("temp dir")
}

/// The IOR examples directory (`../shared/ior/examples` beside the repository).
pub fn examples_dir() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        here.join("tests/data/ior-examples"),
        here.join("../shared/ior/examples"),
    ];
    candidates.into_iter().find(|p| p.is_dir())
}

/// [`run_in`] with extra environment variables (`env`) for both runs.
pub fn run_in_env(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let with_env = |mut c: Command| {
        for (k, v) in env {
            c.env(k, v);
        }
        c.current_dir(cwd).stdin(Stdio::null());
        c
    };
    let mut merged = Command::new("sh");
    merged
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(bin())
        .args(args);
    let merged = with_env(merged).output().expect("run benchfs-bench");
    let mut separate = Command::new(bin());
    separate.args(args);
    let separate = with_env(separate).output().expect("run benchfs-bench");
    Run {
        stdout: String::from_utf8_lossy(&separate.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&separate.stderr).into_owned(),
        merged: String::from_utf8_lossy(&merged.stdout).into_owned(),
        code: separate.status.code().unwrap_or(-1),
    }
}

/// Names of the entries of `dir`, sorted (empty when it cannot be read).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
