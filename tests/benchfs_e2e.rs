//! benchfs-bench on BenchFS: the engine's workloads against an embedded cluster with several
//! local tasks, against separate benchfs-server processes through a registry, and a server
//! killed during a run.

mod common;

use common::run::{run_once, scratch};
use common::servers::{start_servers, start_servers_on};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn json_file(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{s}"))
}

/// Runs benchfs-bench on an embedded cluster whose data lives in `dir`; returns the document.
fn bench(dir: &Path, args: &[&str]) -> Value {
    let doc = dir.join("doc.json");
    let data = dir.join("data");
    let data_opt = format!("--benchfs.data-dir={}", data.display());
    let mut all: Vec<&str> = vec!["-a", "BENCHFS", &data_opt];
    all.extend_from_slice(args);
    let doc_s = doc.to_str().expect("utf-8").to_string();
    all.extend_from_slice(&["--json", &doc_s]);
    let run = run_once(dir, &all);
    assert_eq!(
        run.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("Incorrect data"), "{}", run.stderr);
    // The embedded cluster removed its data.
    let left: Vec<_> = std::fs::read_dir(&data)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "embedded cluster left {left:?}");
    json_file(&doc)
}

fn phases(doc: &Value) -> Vec<&Value> {
    doc["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["results"].as_array().expect("results").iter())
        .filter(|r| r["access"] == "write" || r["access"] == "read")
        .collect()
}

#[test]
fn shared_file_and_file_per_process_verify_on_an_embedded_cluster() {
    shared_file_and_file_per_process("tcp");
}

#[cfg(feature = "ucx")]
#[test]
fn shared_file_and_file_per_process_verify_on_an_embedded_cluster_over_ucx() {
    shared_file_and_file_per_process("ucx");
}

#[test]
fn shared_file_and_file_per_process_verify_on_an_embedded_cluster_over_local() {
    shared_file_and_file_per_process("local");
    // auto: every server of the embedded cluster is in this process, so local too.
    shared_file_and_file_per_process("auto");
}

/// N-1 and N-N verified writes and reads with `--benchfs.transport=<transport>`.
fn shared_file_and_file_per_process(transport: &str) {
    let dir = scratch();
    let transport = format!("--benchfs.transport={transport}");
    for fpp in [false, true] {
        let mut args = vec![
            transport.as_str(),
            "--benchfs.servers=3",
            "-N",
            "4",
            "-b",
            "2m",
            "-t",
            "256k",
            "-s",
            "3",
            "-w",
            "-r",
            "-W",
            "-R",
            "-G",
            "9",
            "-l",
            "offset",
            "-o",
            "/ior",
            "--benchfs.chunk-size=64k",
        ];
        if fpp {
            args.push("-F");
        }
        let doc = bench(dir.path(), &args);
        let rows = phases(&doc);
        assert_eq!(rows.len(), 2);
        for r in rows {
            assert_eq!(
                r["agg_bytes"].as_i64(),
                Some(4 * 3 * 2 * 1024 * 1024),
                "{r}"
            );
            assert_eq!(r["errors"].as_i64(), Some(0));
        }
        assert_eq!(
            doc["tests"][0]["api_version"],
            format!("BenchFS {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn random_offsets_reordering_and_unique_dirs_on_an_embedded_cluster() {
    let dir = scratch();
    // -z shuffled, file per process, -C across emulated nodes, -u, verified reads.
    let doc = bench(
        dir.path(),
        &[
            "-N",
            "4",
            "--tasks-per-node",
            "2",
            "-b",
            "1m",
            "-t",
            "64k",
            "-s",
            "2",
            "-F",
            "-u",
            "-z",
            "--random-offset-seed=5",
            "-C",
            "-w",
            "-r",
            "-R",
            "-G",
            "3",
            "-o",
            "/rndf",
        ],
    );
    assert_eq!(doc["tests"][0]["layout"]["num_nodes"], 2);
    // -z on a shared file: every slot written exactly once, verified on read.
    bench(
        dir.path(),
        &[
            "-N",
            "3",
            "-b",
            "1m",
            "-t",
            "64k",
            "-s",
            "2",
            "-z",
            "--random-offset-seed=8",
            "-w",
            "-r",
            "-R",
            "-G",
            "4",
            "-o",
            "/shared",
        ],
    );
    // -z -z random blocks (reads of a file written before), and -i with -m.
    bench(
        dir.path(),
        &[
            "-N", "2", "-b", "1m", "-t", "128k", "-s", "4", "-F", "-z", "-z", "-w", "-r", "-i",
            "2", "-m", "-o", "/zz",
        ],
    );
}

#[test]
fn iodepth_keeps_transfers_in_flight_and_verifies() {
    let dir = scratch();
    let doc = bench(
        dir.path(),
        &[
            "-N",
            "2",
            "-b",
            "4m",
            "-t",
            "64k",
            "-F",
            "-w",
            "-r",
            "-R",
            "-G",
            "11",
            "-l",
            "offset",
            "--iodepth",
            "8",
            "-o",
            "/deep",
        ],
    );
    for r in phases(&doc) {
        assert_eq!(r["iodepth"].as_i64(), Some(8));
        assert_eq!(r["errors"].as_i64(), Some(0));
        assert_eq!(r["latency_hist"]["count"].as_u64(), Some(2 * 64));
    }
}

#[test]
fn stonewalling_with_wear_out_on_an_embedded_cluster() {
    let dir = scratch();
    let doc = bench(
        dir.path(),
        &[
            "-N",
            "2",
            "-b",
            "64g",
            "-t",
            "1m",
            "-F",
            "-w",
            "-r",
            "-D",
            "1",
            "-O",
            "stoneWallingWearOut=1",
            "-o",
            "/sw",
        ],
    );
    let rows = phases(&doc);
    let w = rows[0];
    let pairs = w["stonewall"]["pairs_max"]
        .as_i64()
        .expect("stonewall figures");
    assert!(pairs > 0 && pairs < 64 * 1024, "the wall was hit: {pairs}");
    for r in w["per_rank"].as_array().unwrap() {
        assert_eq!(r["transfers"].as_i64(), Some(pairs));
    }
    for r in rows[1]["per_rank"].as_array().unwrap() {
        assert!(r["transfers"].as_i64().unwrap() <= pairs);
    }
}

#[test]
fn every_workload_script_runs_on_dummy_and_benchfs() {
    let dir = scratch();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let mut scripts: Vec<_> = std::fs::read_dir(&root)
        .expect("workloads/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ior"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 4, "{scripts:?}");
    for s in &scripts {
        let s = s.to_str().unwrap();
        let f = dir.path().join("w");
        let run = run_once(
            dir.path(),
            &["-a", "DUMMY", "-N", "2", "-f", s, "-o", f.to_str().unwrap()],
        );
        assert_eq!(run.code, 0, "{s} on DUMMY: {}", run.stderr);
        assert!(run.stdout.contains("Summary of all tests:"), "{s}");
        let doc = bench(
            dir.path(),
            &["-N", "2", "--tasks-per-node", "1", "-f", s, "-o", "/w"],
        );
        assert_eq!(phases(&doc).len(), 2, "{s}");
    }
}

#[test]
fn runs_against_separate_server_processes_through_a_registry() {
    separate_server_processes("tcp", "tcp");
}

#[cfg(feature = "ucx")]
#[test]
fn runs_against_separate_server_processes_through_a_registry_over_ucx() {
    separate_server_processes("ucx", "ucx");
    // auto picks UCX when every server offers it.
    separate_server_processes("both", "auto");
}

/// A run against servers offering `offer`, with `--benchfs.transport=<transport>`.
fn separate_server_processes(offer: &str, transport: &str) {
    let dir = scratch();
    let servers = start_servers_on(dir.path(), 2, offer);
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let transport = format!("--benchfs.transport={transport}");
    let doc = dir.path().join("doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            &reg,
            &transport,
            "-N",
            "3",
            "-b",
            "1m",
            "-t",
            "128k",
            "-s",
            "2",
            "-w",
            "-r",
            "-W",
            "-R",
            "-G",
            "21",
            "-o",
            "/ext",
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("Incorrect data"), "{}", run.stderr);
    let d = json_file(&doc);
    assert_eq!(phases(&d).len(), 2);
}

#[test]
fn a_server_killed_during_a_run_ends_it_with_an_error_and_keeps_completed_results() {
    server_killed_during_a_run("tcp", "tcp");
}

#[cfg(feature = "ucx")]
#[test]
fn a_server_killed_during_a_run_ends_it_with_an_error_and_keeps_completed_results_over_ucx() {
    // The servers' UCX addresses are named by their TCP addresses.
    server_killed_during_a_run("both", "ucx");
}

fn server_killed_during_a_run(offer: &str, transport: &str) {
    let dir = scratch();
    let mut servers = start_servers_on(dir.path(), 2, offer);
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let transport = format!("--benchfs.transport={transport}");
    let doc = dir.path().join("doc.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .env("UCX_NET_DEVICES", "lo")
        .args([
            "-a",
            "BENCHFS",
            &reg,
            &transport,
            "--benchfs.timeout=5",
            "-N",
            "2",
            "-b",
            "8m",
            "-t",
            "1m",
            "-F",
            "-w",
            "-r",
            "-i",
            "50",
            "-o",
            "/kill",
        ])
        .args(["--json", doc.to_str().unwrap()])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start benchfs-bench");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    // Wait for the first completed repetition, then kill a server.
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("read ") {
            break;
        }
    }
    assert!(seen.contains("\nwrite "), "{seen}");
    let victim = servers.addrs[1].clone();
    servers.children[1].kill().expect("kill server");
    servers.children[1].wait().expect("reap server");
    for line in lines {
        seen.push_str(&line.expect("line"));
        seen.push('\n');
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "benchfs-bench hung after a server died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_ne!(status.code(), Some(0), "{seen}\n{stderr}");
    assert!(stderr.contains("ERROR"), "{stderr}");
    assert!(
        stderr.contains(&victim),
        "the error names the dead server {victim}:\n{stderr}"
    );
    assert!(
        stderr.contains("registry entry"),
        "the error names the dead server's registry entry:\n{stderr}"
    );
    assert!(seen.contains("Summary of all tests:"), "{seen}");
    let d = json_file(&doc);
    assert!(
        phases(&d).len() >= 2,
        "completed phases are in the document"
    );
    assert!(
        !d["errors"].as_array().expect("errors").is_empty(),
        "the document records the error"
    );
}

#[test]
fn a_stale_registry_entry_of_a_dead_server_is_reported_by_the_next_client() {
    let dir = scratch();
    let mut servers = start_servers(dir.path(), 1);
    let entries = servers.registry.join("servers");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&entries).map_or(0, |d| d.count()) == 0 {
        assert!(Instant::now() < deadline, "the server never registered");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: the server cannot deregister.
    servers.children[0].kill().expect("kill server");
    servers.children[0].wait().expect("reap server");
    let reg = format!("--benchfs.registry={}", servers.registry.display());
    let started = Instant::now();
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            &reg,
            "--benchfs.timeout=5",
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "/s",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_ne!(run.code, 0, "{}", run.merged);
    for want in [servers.addrs[0].as_str(), "registry entry", "stale"] {
        assert!(
            run.stderr.contains(want),
            "{want:?} not in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn an_interrupted_run_removes_the_embedded_cluster_data() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
        .args([
            "-a",
            "BENCHFS",
            &format!("--benchfs.data-dir={}", data.display()),
        ])
        .args(["-b", "64g", "-t", "1m", "-w", "-o", "/long"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start benchfs-bench");
    // Wait until the write phase is under way (the table header is printed before it).
    let stdout = child.stdout.take().expect("stdout");
    for line in BufReader::new(stdout).lines() {
        if line.expect("line").starts_with("------") {
            break;
        }
    }
    assert_eq!(
        std::fs::read_dir(&data).expect("data").count(),
        1,
        "the cluster's directory exists"
    );
    // SAFETY: signalling the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "benchfs-bench did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(128 + libc::SIGINT));
    let left: Vec<_> = std::fs::read_dir(&data).expect("data").flatten().collect();
    assert!(left.is_empty(), "interrupted run left {left:?}");
}

/// Runs benchfs-bench on an embedded cluster in `dir` with debug logs; returns stderr.
fn bench_with_debug_log(dir: &Path, args: &[&str]) -> String {
    let data = format!("--benchfs.data-dir={}", dir.join("data").display());
    let out = Command::new(common::run::bin())
        .args(["-a", "BENCHFS", &data])
        .args(args)
        .env("RUST_LOG", "benchfs=debug")
        .stdin(Stdio::null())
        .output()
        .expect("run benchfs-bench");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

#[test]
fn the_servers_settle_before_every_write_phase_unless_told_not_to() {
    let dir = scratch();
    let settled = |log: &str| log.matches("servers settled before a write phase").count();
    let common = ["-b", "1m", "-t", "256k", "-i", "3", "-w", "-r", "-o", "/s"];
    let log = bench_with_debug_log(dir.path(), &common);
    assert_eq!(
        settled(&log),
        3,
        "once per repetition's write phase:\n{log}"
    );
    let mut off = common.to_vec();
    off.extend_from_slice(&["--benchfs.settle", "0"]);
    let log = bench_with_debug_log(dir.path(), &off);
    assert_eq!(settled(&log), 0, "{log}");
}

/// `statvfs` of `dir`: (total bytes, inodes).
fn statvfs(dir: &Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("path");
    // SAFETY: statvfs is plain data and both pointers are valid for the call.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    (s.f_blocks as u64 * s.f_frsize as u64, s.f_files as u64)
}

#[test]
fn the_document_records_an_embedded_cluster_by_its_settings_and_its_disk_once() {
    let dir = scratch();
    let data = dir.path().join("data");
    let d = bench(
        dir.path(),
        &[
            "--benchfs.servers=4",
            "--benchfs.chunk-size=1m",
            "-N",
            "2",
            "-b",
            "2m",
            "-t",
            "256k",
            "-w",
            "-r",
            "-o",
            "/doc",
        ],
    );
    let t = &d["tests"][0];
    // Settings, not the temporary registry the driver made.
    assert!(
        t["params"]["backendOptions"]
            .get("benchfs.registry")
            .is_none(),
        "{}",
        t["params"]["backendOptions"]
    );
    assert!(!d.to_string().contains("benchfs-embedded-"), "{d}");
    let c = &t["cluster"];
    assert_eq!(c["kind"], "embedded");
    assert_eq!(c["servers"], 4);
    assert_eq!(c["chunk_size"], 1 << 20);
    assert_eq!(c["data_dir"], data.display().to_string());
    assert_eq!(c["data_dir_fs_type"], "tmpfs", "{c}");
    assert_eq!(t["fs_type"], "benchfs");
    // Four servers on one device: its capacity once, in integers, with its inodes.
    let (total, inodes) = statvfs(&data);
    assert_eq!(
        t["fs"]["capacity_bytes"].as_u64(),
        Some(total),
        "{}",
        t["fs"]
    );
    assert_eq!(t["fs"]["inodes"].as_u64(), Some(inodes), "{}", t["fs"]);
    // RFC 3339 times with their zone; per-task start and end.
    for v in [&d["run"]["began"], &d["finished"], &t["start_time"]] {
        let s = v.as_str().expect("time");
        assert!(
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "not RFC 3339: {s}"
        );
    }
    for p in phases(&d) {
        for r in p["per_rank"].as_array().expect("per_rank") {
            let start = chrono::DateTime::parse_from_rfc3339(r["start"].as_str().expect("start"))
                .expect("start");
            let end =
                chrono::DateTime::parse_from_rfc3339(r["end"].as_str().expect("end")).expect("end");
            assert!(start <= end, "{r}");
        }
    }
    let host = &d["host"];
    assert!(host["logical_cpus"].as_u64().unwrap_or(0) >= 1, "{host}");
    assert!(
        host["memory_bytes"].as_u64().unwrap_or(0) > 1 << 20,
        "{host}"
    );
    assert!(host["cpu_model"].is_string(), "{host}");
}

#[test]
fn the_fs_line_of_an_embedded_cluster_shows_its_disk_once() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let fs_line = |args: &[&str]| {
        let run = run_once(dir.path(), args);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run.stdout
            .lines()
            .find(|l| l.starts_with("FS "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no FS line:\n{}", run.stdout))
    };
    let data_opt = format!("--benchfs.data-dir={}", data.display());
    let benchfs = fs_line(&[
        "-a",
        "BENCHFS",
        &data_opt,
        "--benchfs.servers=4",
        "-b",
        "256k",
        "-t",
        "64k",
        "-w",
        "-o",
        "/f",
    ]);
    let target = format!("{}/f", data.display());
    let posix = fs_line(&[
        "-a", "POSIX", "-b", "256k", "-t", "64k", "-w", "-o", &target,
    ]);
    // Same capacity and inodes as the directory's own file system (used percentages may
    // differ by what the runs wrote).
    let figures = |l: &str| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[2].to_string(), w[3].to_string(), w[8].to_string())
    };
    assert_eq!(figures(&benchfs), figures(&posix), "\n{benchfs}\n{posix}");
}
