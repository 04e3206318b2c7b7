//! benchfs-bench under `mpirun` (cargo feature `mpi`): POSIX and DUMMY with 1, 2 and 4 ranks,
//! N-1 and N-N, write/read verification on; results have the structure of the local `-N` run
//! (text stream line by line after masking numbers, JSON keys and row counts); emulated nodes
//! really reorder tasks; a failing rank ends the whole job with a clear message, never a hang.
//!
//! Every mpirun is confined to this machine's loopback and shared memory, runs as root with
//! oversubscription, and is killed (its whole process group) if it outlives a timeout.
#![cfg(feature = "mpi")]

mod common;

use common::golden::masked_diff;
use common::run::{bin, scratch};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest any single run may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Output of one run.
struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Run `cmd` in its own process group; kill the group and fail the test after [`TIMEOUT`].
fn run_bounded(mut cmd: Command, what: &str) -> Out {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(out) => {
            let out = out.expect("wait");
            Out {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(-1),
            }
        }
        Err(_) => {
            // SAFETY: signalling the process group this test created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            panic!("{what} did not finish within {TIMEOUT:?} (hang)");
        }
    }
}

/// `mpirun -np <np> benchfs-bench <args>` in `cwd`, on loopback only.
fn mpirun(np: usize, cwd: &Path, args: &[&str]) -> Out {
    let mut cmd = common::mpi::mpirun_command(np, bin());
    cmd.args(args).current_dir(cwd);
    run_bounded(cmd, &format!("mpirun -np {np} {}", args.join(" ")))
}

/// benchfs-bench without mpirun (local tasks) in `cwd`.
fn local(cwd: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("IOR_FAKE_TASK_PER_NODES")
        .env_remove("BENCHFS_MPI")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMI_SIZE")
        .env_remove("PMIX_RANK");
    run_bounded(cmd, &format!("benchfs-bench {}", args.join(" ")))
}

/// stderr without mpirun's own closing notes (boxes of dashes announcing a non-zero exit).
fn without_launcher_notes(stderr: &str) -> &str {
    let mut at = 0;
    for line in stderr.split_inclusive('\n') {
        let rest = &stderr[at + line.len()..];
        if line.trim_end().len() >= 20
            && line.trim_end().chars().all(|c| c == '-')
            && (rest.starts_with("Primary job") || rest.starts_with("mpirun "))
        {
            return &stderr[..at];
        }
        at += line.len();
    }
    stderr
}

fn show(o: &Out) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        o.code, o.stdout, o.stderr
    )
}

/// Arguments of one verified write/read test with `-N np`.
fn verified_args(api: &str, np: usize, fpp: bool, target: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "-a",
        api,
        "-N",
        &np.to_string(),
        "-b",
        "1m",
        "-t",
        "256k",
        "-s",
        "2",
        "-w",
        "-r",
        "-W",
        "-R",
        "-G",
        "4242",
        "-i",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if fpp {
        a.push("-F".into());
    }
    if api == "POSIX" {
        a.push("-o".into());
        a.push(target.into());
    }
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn text_results_match_local_runs_with_1_2_4_ranks() {
    for np in [1usize, 2, 4] {
        for api in ["POSIX", "DUMMY"] {
            for fpp in [false, true] {
                let dir = scratch();
                let target = dir.path().join("f");
                let args = verified_args(api, np, fpp, target.to_str().unwrap());
                let what = format!("{api} np={np} fpp={fpp}");
                let m = mpirun(np, dir.path(), &strs(&args));
                let l = local(dir.path(), &strs(&args));
                // POSIX verifies clean; DUMMY stores nothing, so both report the same data errors.
                if api == "POSIX" {
                    assert_eq!(m.code, 0, "{what}: {}", show(&m));
                    assert!(!m.stdout.contains("Incorrect data"), "{what}: {}", show(&m));
                } else {
                    assert!(m.stdout.contains("Incorrect data"), "{what}: {}", show(&m));
                }
                assert_eq!(
                    m.code,
                    l.code,
                    "{what}: mpirun {} local {}",
                    show(&m),
                    show(&l)
                );
                // Only rank 0 prints: one header, one summary.
                assert_eq!(
                    m.stdout.matches("IOR-4.1.0").count(),
                    1,
                    "{what}: {}",
                    show(&m)
                );
                assert!(
                    m.stdout.contains(&format!("tasks               : {np}\n")),
                    "{what}"
                );
                assert!(m.stdout.contains("nodes               : 1\n"), "{what}");
                if let Some(d) = masked_diff(&l.stdout, &m.stdout) {
                    panic!("{what}: stdout differs from the local run:\n{d}");
                }
                if let Some(d) = masked_diff(&l.stderr, without_launcher_notes(&m.stderr)) {
                    panic!("{what}: stderr differs from the local run:\n{d}");
                }
            }
        }
    }
}

/// Every key path of a JSON value, with array lengths (values themselves are ignored; so are
/// the lengths of a phase's time series, which depend on how long the phase took).
fn shape(v: &Value, path: &str, out: &mut Vec<String>) {
    if path.ends_with("/time_series/bytes") || path.ends_with("/time_series/ops") {
        out.push(path.to_string());
        return;
    }
    if let (true, Value::Array(a)) = (path.ends_with("/time_series/per_rank"), v) {
        out.push(format!("{path}[{}]", a.len()));
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                shape(x, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(a) => {
            out.push(format!("{path}[{}]", a.len()));
            for (i, x) in a.iter().enumerate() {
                shape(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => out.push(path.to_string()),
    }
}

fn shape_of(text: &str, what: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    let mut out = Vec::new();
    shape(&v, "", &mut out);
    out
}

#[test]
fn json_results_and_result_document_have_the_local_shape() {
    for np in [2usize, 4] {
        for api in ["POSIX", "DUMMY"] {
            let dir = scratch();
            let target = dir.path().join("f");
            let mut args = verified_args(api, np, true, target.to_str().unwrap());
            args.retain(|a| a != "-W" && a != "-R");
            args.extend(["-O".into(), "summaryFormat=JSON".into()]);
            let what = format!("{api} np={np}");
            let mut margs = args.clone();
            margs.extend(["--json".into(), "mpi.json".into()]);
            let mut largs = args.clone();
            largs.extend(["--json".into(), "local.json".into()]);
            let m = mpirun(np, dir.path(), &strs(&margs));
            let l = local(dir.path(), &strs(&largs));
            assert_eq!(m.code, 0, "{what}: {}", show(&m));
            assert_eq!(l.code, 0, "{what}: {}", show(&l));
            assert_eq!(
                shape_of(&m.stdout, &what),
                shape_of(&l.stdout, &what),
                "{what}: JSON summary"
            );
            let doc = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect(f);
            let md = shape_of(&doc("mpi.json"), &what);
            let ld = shape_of(&doc("local.json"), &what);
            assert_eq!(md, ld, "{what}: result document");
        }
    }
}

#[test]
fn a_sub_communicator_runs_the_first_n_ranks() {
    let dir = scratch();
    let target = dir.path().join("f");
    let args = verified_args("POSIX", 2, true, target.to_str().unwrap());
    let m = mpirun(4, dir.path(), &strs(&args));
    assert_eq!(m.code, 0, "{}", show(&m));
    assert!(
        m.stdout.contains("tasks               : 2\n"),
        "{}",
        m.stdout
    );
    // Only ranks 0 and 1 wrote (and removed) their files: with -k nothing of ranks 2, 3.
    let mut keep = args.clone();
    keep.push("-k".into());
    let m = mpirun(4, dir.path(), &strs(&keep));
    assert_eq!(m.code, 0, "{}", show(&m));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, vec!["f.00000000", "f.00000001"]);
    // Contributions of different lengths (a warning from rank 0 only) gather correctly.
    std::fs::remove_file(dir.path().join("f.00000001")).unwrap();
    let m = mpirun(4, dir.path(), &strs(&keep));
    assert_eq!(m.code, 0, "{}", show(&m));
    assert_eq!(
        m.stdout
            .matches("exists already and will be deleted")
            .count(),
        1,
        "{}",
        show(&m)
    );
    assert!(
        m.stdout.contains("f.00000000\" exists already"),
        "{}",
        show(&m)
    );
    // ... and from rank 1 only (rank 0 contributes nothing).
    std::fs::remove_file(dir.path().join("f.00000000")).unwrap();
    let m = mpirun(4, dir.path(), &strs(&keep));
    assert_eq!(m.code, 0, "{}", show(&m));
    assert_eq!(
        m.stdout
            .matches("exists already and will be deleted")
            .count(),
        1,
        "{}",
        show(&m)
    );
    assert!(
        m.stdout.contains("f.00000001\" exists already"),
        "{}",
        show(&m)
    );
}

/// Which rank failed to open a file, from the abort message.
fn failed_rank(o: &Out) -> Option<usize> {
    let i = o.stderr.find("ERROR: rank ")?;
    let rest = &o.stderr[i + "ERROR: rank ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn tasks_per_node_makes_reordering_real_under_mpi() {
    let dir = scratch();
    let target = dir.path().join("f");
    let t = target.to_str().unwrap();
    let base = ["-a", "POSIX", "-b", "1m", "-t", "256k", "-F", "-o", t];
    let mut write = base.to_vec();
    write.extend(["-w", "-k"]);
    let w = mpirun(4, dir.path(), &write);
    assert_eq!(w.code, 0, "{}", show(&w));
    // Without the file of rank 0, whoever reads it fails: that names the reader.
    std::fs::remove_file(dir.path().join("f.00000000")).unwrap();
    let mut read = base.to_vec();
    read.push("-r");
    let plain = mpirun(4, dir.path(), &read);
    assert_ne!(plain.code, 0, "{}", show(&plain));
    assert_eq!(failed_rank(&plain), Some(0), "{}", show(&plain));
    assert!(plain.stdout.contains("nodes               : 1\n"));

    // Two emulated nodes of two tasks: -C shifts by one node, so rank 2 reads rank 0's file.
    let mut reorder = read.clone();
    reorder.extend(["-v", "-C", "--tasks-per-node", "2"]);
    let c = mpirun(4, dir.path(), &reorder);
    assert_ne!(c.code, 0, "{}", show(&c));
    assert_eq!(failed_rank(&c), Some(2), "{}", show(&c));
    assert!(
        c.stdout.contains("nodes               : 2\n"),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout.contains("clients per node    : 2\n"),
        "{}",
        c.stdout
    );
    assert!(
        !c.stdout.contains("has no effect"),
        "-C is not a no-op here: {}",
        c.stdout
    );

    // Without emulation all ranks share this machine's node: -C is a no-op, and says so
    // with -v (IOR does not: it is benchfs-bench's own hint).
    let mut noop = read.clone();
    noop.extend(["-v", "-C"]);
    let n = mpirun(4, dir.path(), &noop);
    assert_eq!(failed_rank(&n), Some(0), "{}", show(&n));
    assert!(
        n.stdout.contains("-C (reorderTasks) has no effect"),
        "{}",
        n.stdout
    );
}

#[test]
fn a_failing_rank_ends_the_job_with_a_clear_message() {
    // Every rank fails: the directory does not exist.
    for np in [2usize, 4] {
        let dir = scratch();
        let f = dir.path().join("no/such/dir/f");
        let o = mpirun(
            np,
            dir.path(),
            &[
                "-a",
                "POSIX",
                "-b",
                "1m",
                "-t",
                "256k",
                "-w",
                "-r",
                "-o",
                f.to_str().unwrap(),
            ],
        );
        assert_ne!(o.code, 0, "{}", show(&o));
        assert!(o.stderr.contains("open64(\""), "{}", show(&o));
        assert!(o.stderr.contains("aborting the MPI job"), "{}", show(&o));
    }
    // One rank fails while the others would go on: its file name is a directory.
    let dir = scratch();
    std::fs::create_dir(dir.path().join("f.00000002")).unwrap();
    let f = dir.path().join("f");
    let o = mpirun(
        4,
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-b",
            "1m",
            "-t",
            "256k",
            "-F",
            "-w",
            "-r",
            "-o",
            f.to_str().unwrap(),
        ],
    );
    // IOR's fatal errors: MPI_Abort(MPI_COMM_WORLD, -1), which mpirun reports as 255.
    assert_eq!(o.code, 255, "{}", show(&o));
    assert_eq!(failed_rank(&o), Some(2), "{}", show(&o));
    assert!(
        o.stderr.contains("rank 2 of 4 failed: open64(\""),
        "{}",
        show(&o)
    );
}

#[test]
fn bad_input_is_reported_once_and_fails_every_rank() {
    let dir = scratch();
    let o = mpirun(4, dir.path(), &["-a", "POSIX", "-t", "0", "-o", "f"]);
    // IOR: ERR, MPI_Abort(MPI_COMM_WORLD, -1): mpirun exits with 255.
    assert_eq!(o.code, 255, "{}", show(&o));
    assert_eq!(
        o.stderr.matches("zero transfer size").count(),
        1,
        "printed by rank 0 only: {}",
        show(&o)
    );
    assert!(o.stdout.is_empty(), "{}", show(&o));
}

/// `-a BENCHFS` without a registry under mpirun: servers start inside the job (one per node),
/// addresses travel through MPI, every rank is a client; results have the local run's shape.
#[test]
fn benchfs_cluster_inside_the_job_with_1_2_4_ranks() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let data_opt = format!("--benchfs.data-dir={}", data.display());
    for np in [1usize, 2, 4] {
        for fpp in [false, true] {
            let mut args = verified_args("BENCHFS", np, fpp, "");
            args.extend(["-o".to_string(), "/injob".to_string(), data_opt.clone()]);
            let o = mpirun(np, dir.path(), &strs(&args));
            assert_eq!(o.code, 0, "np={np} fpp={fpp}\n{}", show(&o));
            assert!(!o.stdout.contains("Incorrect data"), "{}", show(&o));
            let l = local(dir.path(), &strs(&args));
            assert_eq!(l.code, 0, "{}", show(&l));
            if let Some(d) = masked_diff(&l.stdout, &o.stdout) {
                panic!(
                    "np={np} fpp={fpp}: MPI run differs from the local run\n{d}\n{}",
                    show(&o)
                );
            }
            let left: Vec<_> = std::fs::read_dir(&data).expect("data").flatten().collect();
            assert!(left.is_empty(), "servers left data behind: {left:?}");
        }
    }
}

/// In-job servers with `--benchfs.transport auto` and `local`: under auto each rank reaches
/// the server in its own process in-process and the other one over TCP (the run verifies);
/// under local a rank without a server of its own fails naming the server it cannot reach,
/// while a job whose only rank holds the only server runs.
#[test]
fn in_job_servers_over_the_local_and_auto_transports() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let data_opt = format!("--benchfs.data-dir={}", data.display());
    let with = |np: usize, transport: &str| {
        let mut args = verified_args("BENCHFS", np, true, "");
        args.extend([
            "-o".to_string(),
            "/injob".to_string(),
            data_opt.clone(),
            format!("--benchfs.transport={transport}"),
            "--benchfs.servers-per-node=1".to_string(),
        ]);
        mpirun(np, dir.path(), &strs(&args))
    };
    let o = with(2, "auto");
    assert_eq!(o.code, 0, "{}", show(&o));
    assert!(!o.stdout.contains("Incorrect data"), "{}", show(&o));
    let o = with(1, "local");
    assert_eq!(o.code, 0, "{}", show(&o));
    let o = with(2, "local");
    assert_ne!(o.code, 0, "{}", show(&o));
    assert!(
        o.stderr
            .contains("transport local asked, but server 127.0.0.1:")
            && o.stderr.contains("does not run in this process"),
        "{}",
        show(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&data).expect("data").flatten().collect();
    assert!(left.is_empty(), "servers left data behind: {left:?}");
}

/// `-a BENCHFS --benchfs.registry DIR` under mpirun: every rank joins servers started before.
#[test]
fn benchfs_external_cluster_through_a_registry_under_mpirun() {
    let dir = scratch();
    let registry = dir.path().join("registry");
    // The registry exists before servers and client start together: benchfs-bench
    // names a missing one at once instead of waiting (preflight).
    std::fs::create_dir_all(&registry).expect("registry directory");
    let mut servers: Vec<std::process::Child> = (0..2)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
                .args(["--registry", registry.to_str().expect("utf-8")])
                .args([
                    "--data-dir",
                    dir.path().join(format!("s{i}")).to_str().expect("utf-8"),
                ])
                .args(["--servers", "2"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("benchfs-server")
        })
        .collect();
    let reg = format!("--benchfs.registry={}", registry.display());
    let mut args = verified_args("BENCHFS", 2, false, "");
    args.extend(["-o".to_string(), "/ext".to_string(), reg]);
    let o = mpirun(2, dir.path(), &strs(&args));
    for s in &mut servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    assert_eq!(o.code, 0, "{}", show(&o));
    assert!(!o.stdout.contains("Incorrect data"), "{}", show(&o));
    assert!(
        o.stdout.contains("api                 : BENCHFS"),
        "{}",
        show(&o)
    );
}

#[test]
fn mpi_fewer_tasks_than_the_job_keep_the_jobs_tasks_per_node() {
    // Issue 21, item 3: a script test with numTasks=2 under `mpirun -np 3`. IOR keeps the
    // job's 3 tasks per node (tests/data/ior-fidelity/fid_script_fewer_tasks_np3.txt).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ior-fidelity");
    let ior = std::fs::read_to_string(data.join("fid_script_fewer_tasks_np3.txt")).unwrap();
    let dir = scratch();
    std::fs::copy(
        data.join("fid_script_fewer_tasks.ior"),
        dir.path().join("s.ior"),
    )
    .unwrap();
    let f = dir.path().join("f");
    let o = mpirun(3, dir.path(), &["-f", "s.ior", "-o", f.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let value = |text: &str, key: &str| -> Vec<String> {
        let prefix = format!("{key:<20}: ");
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .map(str::to_string)
            .collect()
    };
    for key in ["tasks", "clients per node", "nodes"] {
        assert_eq!(
            value(&o.stdout, key),
            value(&ior, key),
            "{key}: {}",
            o.stdout
        );
    }
    assert_eq!(value(&o.stdout, "clients per node"), ["3"]);
    // Summary: #Tasks 2, tPN 3, as IOR's.
    let summary = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("write ") && l.split_whitespace().count() == 27)
            .map(|l| {
                let t: Vec<&str> = l.split_whitespace().collect();
                format!("{} {}", t[13], t[14])
            })
            .collect()
    };
    assert_eq!(summary(&o.stdout), summary(&ior));
    assert_eq!(summary(&o.stdout), ["2 3"]);
}
