//! libbenchfs and real IOR against benchfs-bench, on one cluster in one run:
//!
//! 1. The C API's own cost per call: a null operation (`benchfs_write` of 0 bytes: handle
//!    lookup, panic guard, entering the context's runtime) and `benchfs_lseek`. Goal: under
//!    2 us. Also the share of a 1 MiB `benchfs_read` spent copying out of the transport's
//!    buffer (the price of never letting the transport write into the caller's memory).
//! 2. Real IOR through the BENCHFS backend (`mpirun -np 2 ior -a BENCHFS`) against
//!    benchfs-bench (`-N 2`), 1 MiB transfers, N-N (`-F`) and N-1, same servers
//!    (benchfs-server processes), interleaved rounds, medians. Goal: benchfs-bench / IOR >= 1.0.
//! 3. 64 KiB transfers: benchfs-bench `--iodepth 8` against IOR's synchronous calls. Goal:
//!    >= 2x the IOPS.
//!
//! IOR is the one named by `BENCHFS_IOR`, else `ior` on PATH, if it was built with the
//! BENCHFS backend (ior-compat/README.md). Without it the benchmark says the peer is missing
//! and prints our own figures. `cargo bench --bench ffi_vs_ior` measures; under `cargo test`
//! a small smoke configuration runs.

use benchfs::ffi::config::benchfs_config;
use benchfs::ffi::context::{benchfs_finalize, benchfs_get_error, benchfs_init};
use benchfs::ffi::file::{
    benchfs_close, benchfs_create, benchfs_lseek, benchfs_read, benchfs_write,
};
use benchfs::ior::results::Phase;
use benchfs::results::compare::median;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

mod common;

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

fn start_servers(dir: &Path, n: usize) -> (Servers, String) {
    let registry = dir.join("registry");
    // Made before the servers start: benchfs-bench names a missing registry at once.
    std::fs::create_dir_all(&registry).expect("registry directory");
    let kids = (0..n)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
                .arg("--registry")
                .arg(&registry)
                .arg("--data-dir")
                .arg(dir.join(format!("server{i}")))
                .args(["--servers", &n.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start benchfs-server")
        })
        .collect();
    (Servers(kids), registry.to_string_lossy().into_owned())
}

fn last_error() -> String {
    // SAFETY: a NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(benchfs_get_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Nanoseconds per call of the C API's null operations, and the copy share of a 1 MiB read.
fn c_api_costs(registry: &str, calls: usize) -> (f64, f64, f64, f64) {
    let reg = CString::new(registry).unwrap();
    let cfg = benchfs_config {
        registry: reg.as_ptr(),
        ..Default::default()
    };
    // SAFETY (whole function): valid config, path and buffers.
    unsafe {
        let mut ctx = std::ptr::null_mut();
        for _ in 0..100 {
            ctx = benchfs_init(&cfg);
            if !ctx.is_null() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!ctx.is_null(), "benchfs_init: {}", last_error());
        let path = CString::new("/null-op").unwrap();
        let f = benchfs_create(ctx, path.as_ptr(), libc::O_RDWR, 0o644);
        assert!(!f.is_null(), "{}", last_error());
        let buf = vec![7u8; 1 << 20];
        let t = Instant::now();
        for _ in 0..calls {
            assert_eq!(benchfs_write(f, buf.as_ptr().cast(), 0, 0), 0);
        }
        let null_write = t.elapsed().as_nanos() as f64 / calls as f64;
        let t = Instant::now();
        for _ in 0..calls {
            assert_eq!(benchfs_lseek(f, 0, libc::SEEK_CUR), 0);
        }
        let lseek = t.elapsed().as_nanos() as f64 / calls as f64;
        // 1 MiB reads, and the memcpy of 1 MiB they include.
        assert_eq!(
            benchfs_write(f, buf.as_ptr().cast(), buf.len(), 0),
            buf.len() as i64
        );
        let mut back = vec![0u8; 1 << 20];
        let reads = (calls / 1000).max(20);
        let t = Instant::now();
        for _ in 0..reads {
            assert_eq!(
                benchfs_read(f, back.as_mut_ptr().cast(), back.len(), 0),
                back.len() as i64
            );
        }
        let read_us = t.elapsed().as_secs_f64() * 1e6 / reads as f64;
        let t = Instant::now();
        for i in 0..reads {
            back.copy_from_slice(&buf);
            std::hint::black_box(&back[i % back.len()]);
        }
        let copy_us = t.elapsed().as_secs_f64() * 1e6 / reads as f64;
        assert_eq!(benchfs_close(f), 0);
        assert_eq!(benchfs_finalize(ctx), 0);
        (null_write, lseek, read_us, copy_us)
    }
}

/// The real IOR with the BENCHFS backend, if there is one.
fn find_ior() -> Option<PathBuf> {
    let candidate = std::env::var_os("BENCHFS_IOR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("ior"))
                    .find(|f| f.is_file())
            })
        })?;
    let help = Command::new(&candidate).arg("-h").output().ok()?;
    String::from_utf8_lossy(&help.stdout)
        .contains("Module BENCHFS")
        .then_some(candidate)
}

/// (write, read) of one metric from a run's phase rows.
fn pick(rows: &[benchfs::ior::results::PhaseResult], iops: bool) -> (f64, f64) {
    let v = |phase: Phase| {
        let xs: Vec<f64> = rows
            .iter()
            .filter(|r| r.access == phase)
            .map(|r| if iops { r.iops } else { r.bw_mib })
            .collect();
        median(&xs)
    };
    (v(Phase::Write), v(Phase::Read))
}

/// Phase rows of a real IOR run with `args` on 2 ranks.
fn ior_run(ior: &Path, args: &str) -> Vec<benchfs::ior::results::PhaseResult> {
    let out = Command::new("mpirun")
        .args(["-np", "2"])
        .arg(ior)
        .args(args.split_whitespace())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_btl", "self,vader,tcp")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .output()
        .expect("run mpirun");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ior {args}: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = benchfs::results::import::import_str(&text, "ior", None, &Default::default())
        .expect("import IOR output");
    doc.tests
        .iter()
        .flat_map(|t| t.results.iter())
        .filter_map(|e| match e {
            benchfs::ior::results::ResultEntry::Phase(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, block, block64, calls) = if full {
        (3, "256m", "64m", 1_000_000)
    } else {
        (1, "8m", "2m", 20_000)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (_servers, registry) = start_servers(dir.path(), 2);

    let (null_ns, lseek_ns, read_us, copy_us) = c_api_costs(&registry, calls);
    println!(
        "C API null operation (benchfs_write of 0 bytes): {:.0} ns per call (goal < 2000 ns): {}",
        null_ns,
        if null_ns < 2000.0 { "ok" } else { "MISSED" }
    );
    println!("C API benchfs_lseek(SEEK_CUR): {lseek_ns:.0} ns per call");
    println!(
        "C API 1 MiB benchfs_read: {read_us:.0} us per call, of which the copy out of the transport's buffer ~{copy_us:.0} us ({:.0} %)",
        100.0 * copy_us / read_us
    );

    let ior = find_ior();
    if ior.is_none() {
        println!("peer missing: no IOR with the BENCHFS backend (set BENCHFS_IOR or put it on PATH); our figures only");
    }
    let reg = format!("--benchfs.registry={registry} --benchfs.settle=0");
    for (label, mode, name) in [("N-N (-F)", "-F", "fpp"), ("N-1", "", "ssf")] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let args = format!("-a BENCHFS {reg} -t 1m -b {block} {mode} -w -r -o /{name}{round}");
            ours.push(pick(
                &common::run_in_process(&format!("{args} -N 2")),
                false,
            ));
            if let Some(ior) = &ior {
                theirs.push(pick(&ior_run(ior, &args), false));
            }
        }
        let ow = median(&ours.iter().map(|x| x.0).collect::<Vec<_>>());
        let or = median(&ours.iter().map(|x| x.1).collect::<Vec<_>>());
        if theirs.is_empty() {
            println!("1 MiB {label}: benchfs-bench write {ow:.0} MiB/s, read {or:.0} MiB/s");
            continue;
        }
        let tw = median(&theirs.iter().map(|x| x.0).collect::<Vec<_>>());
        let tr = median(&theirs.iter().map(|x| x.1).collect::<Vec<_>>());
        for (phase, o, t) in [("write", ow, tw), ("read", or, tr)] {
            println!(
                "1 MiB {label} {phase}: benchfs-bench {o:.0} MiB/s, IOR {t:.0} MiB/s, ratio {:.2} (goal >= 1.0): {}",
                o / t,
                if o / t >= 1.0 { "ok" } else { "MISSED" }
            );
        }
    }
    let (mut deep, mut sync) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let args = format!("-a BENCHFS {reg} -t 64k -b {block64} -F -w -r -o /q{round}");
        deep.push(pick(
            &common::run_in_process(&format!("{args} -N 2 --iodepth 8")),
            true,
        ));
        sync.push(match &ior {
            Some(ior) => pick(&ior_run(ior, &args), true),
            None => pick(
                &common::run_in_process(&format!("{args} -N 2 --iodepth 1")),
                true,
            ),
        });
    }
    let peer = if ior.is_some() {
        "IOR (synchronous)"
    } else {
        "benchfs-bench --iodepth 1 (IOR missing)"
    };
    for (phase, pick) in [("write", 0), ("read", 1)] {
        let d = median(
            &deep
                .iter()
                .map(|x| if pick == 0 { x.0 } else { x.1 })
                .collect::<Vec<_>>(),
        );
        let s = median(
            &sync
                .iter()
                .map(|x| if pick == 0 { x.0 } else { x.1 })
                .collect::<Vec<_>>(),
        );
        println!(
            "64 KiB {phase}: benchfs-bench --iodepth 8 {d:.0} IOPS, {peer} {s:.0} IOPS, ratio {:.2} (goal >= 2.0): {}",
            d / s,
            if d / s >= 2.0 { "ok" } else { "MISSED" }
        );
    }
}
