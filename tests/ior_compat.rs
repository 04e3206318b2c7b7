//! IOR's BENCHFS backend (`ior-compat/aiori-BENCHFS.c`) without IOR: compiled with `mpicc`
//! against our own minimal declarations of IOR's interface (`ior-compat/test/aiori.h`) and
//! the libbenchfs of this build, and driven by `ior-compat/test/driver.c` through an IOR-like
//! sequence on a running cluster: servers started inside the MPI job (one mpirun), servers
//! of a registry (benchfs-server processes), and embedded servers of a single process. Bad
//! options abort with the backend's message.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`, where this build's libbenchfs.so is.
fn lib_dir() -> PathBuf {
    std::env::current_exe()
        .expect("test executable")
        .parent()
        .expect("deps")
        .to_path_buf()
}

fn build_driver(dir: &Path) -> PathBuf {
    let exe = dir.join("driver");
    let lib = lib_dir();
    let status = Command::new("mpicc")
        .args([
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
        ])
        .arg(format!("-I{}", root().join("ior-compat/test").display()))
        .arg(format!("-I{}", root().join("ior-compat/include").display()))
        .arg(root().join("ior-compat/aiori-BENCHFS.c"))
        .arg(root().join("ior-compat/test/driver.c"))
        .arg(format!("-L{}", lib.display()))
        .arg("-lbenchfs")
        // DT_RPATH (searched before LD_LIBRARY_PATH, which cargo points at target/<profile>,
        // where an older uplifted libbenchfs.so may lie).
        .arg("-Wl,--disable-new-dtags")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run mpicc (OpenMPI: scripts/packages/mpi.txt)");
    assert!(status.success(), "mpicc of the BENCHFS backend failed");
    exe
}

fn check(out: &Output, what: &str) -> usize {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_else(|| panic!("{what}: no summary in\n{stdout}\n{stderr}"));
    assert!(
        summary.ends_with("passed, 0 failed"),
        "{what}: {summary}\n{stderr}"
    );
    summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

/// The driver under `mpirun -np 3` with two servers started inside the job, with `extra`
/// options; every check passes and the servers remove their data.
fn in_job(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_driver(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = common::mpi::mpirun_command(3, exe.to_str().unwrap())
        .args(["--benchfs.data-dir", data.to_str().unwrap()])
        .args([
            "--benchfs.servers-per-node",
            "2",
            "--benchfs.chunk-size",
            "64k",
        ])
        .args(extra)
        .output()
        .unwrap();
    let n = check(&out, &format!("mpirun -np 3 driver {}", extra.join(" ")));
    assert!(n > 300, "{n} checks");
    assert!(empty(&data), "the in-job servers removed their data");
}

#[test]
fn one_mpirun_starts_the_servers_inside_the_job() {
    in_job(&[]);
}

/// The in-job servers' UCX addresses travel over MPI to every rank, which joins them over UCX.
#[cfg(feature = "ucx")]
#[test]
fn in_job_servers_over_ucx() {
    in_job(&["--benchfs.transport", "ucx"]);
}

#[test]
fn a_single_process_embeds_its_servers() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_driver(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = Command::new(&exe)
        .args([
            "--benchfs.data-dir",
            data.to_str().unwrap(),
            "--benchfs.servers",
            "3",
        ])
        .env("OMPI_MCA_btl", "self,vader,tcp")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .env("UCX_NET_DEVICES", "lo")
        .output()
        .unwrap();
    check(&out, "driver");
    assert!(empty(&data));
}

/// benchfs-server processes of one registry; killed on drop.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn ior_joins_servers_of_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_driver(dir.path());
    let registry = dir.path().join("registry");
    let servers = Servers(
        (0..2)
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
                    .arg("--registry")
                    .arg(&registry)
                    .arg("--data-dir")
                    .arg(dir.path().join(format!("server{i}")))
                    .args(["--servers", "2", "--chunk-size", "128k"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start benchfs-server")
            })
            .collect(),
    );
    // The backend waits (up to its timeout) until the registry lists both servers.
    let out = common::mpi::mpirun_command(2, exe.to_str().unwrap())
        .args(["--benchfs.registry", registry.to_str().unwrap()])
        .args(["--benchfs.timeout", "20"])
        .output()
        .unwrap();
    check(&out, "mpirun -np 2 driver --benchfs.registry");
    // A second run on the same servers passes too: the first removed every file and
    // directory it made (its mkdir of the same names would fail with EEXIST otherwise).
    let probe = Command::new(&exe)
        .args(["--benchfs.registry", registry.to_str().unwrap()])
        .output()
        .unwrap();
    check(&probe, "second run on the same servers");
    drop(servers);
}

#[test]
fn bad_options_abort_with_the_backends_message() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_driver(dir.path());
    for (args, words) in [
        (&["--benchfs.chunk-size", "3m"][..], "benchfs.chunk-size"),
        (
            &["--benchfs.transport", "carrier-pigeon"][..],
            "carrier-pigeon",
        ),
        (&["--benchfs.servers", "0"][..], "benchfs.servers 0"),
        (&["--benchfs.timeout", "-1"][..], "benchfs.timeout -1"),
    ] {
        let out = common::mpi::mpirun_command(1, exe.to_str().unwrap())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?} was accepted:\n{text}");
        assert!(
            text.contains("ERROR: BENCHFS: invalid option") && text.contains(words),
            "{args:?}:\n{text}"
        );
    }
}
