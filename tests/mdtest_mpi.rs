//! `benchfs-bench mdtest` under `mpirun` (cargo feature `mpi`): POSIX, DUMMY and BENCHFS (the
//! cluster started inside the job) with 1 and 3 ranks give the text of the same run with local
//! tasks (numbers masked) and a document of every rank; `-W` stonewalling across real ranks.
//!
//! Every mpirun is confined to this machine's loopback and shared memory, runs as root with
//! oversubscription, and is killed (its whole process group) if it outlives a timeout.
#![cfg(feature = "mpi")]

mod common;

use benchfs::mdtest::Op;
use benchfs::results::document::ResultDocument;
use common::golden::masked_diff;
use common::mpi::{mpirun_command, run_bounded};
use common::run::{bin, scratch, Run};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Longest any single run may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(180);

fn mpirun(np: usize, cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = mpirun_command(np, bin());
    cmd.arg("mdtest").args(args).current_dir(cwd);
    run_bounded(
        cmd,
        &format!("mpirun -np {np} mdtest {}", args.join(" ")),
        TIMEOUT,
    )
}

fn local(tasks: usize, cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg("mdtest")
        .args(["--tasks", &tasks.to_string()])
        .args(args)
        .current_dir(cwd)
        .env_remove("BENCHFS_MPI")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMI_SIZE")
        .env_remove("PMIX_RANK");
    run_bounded(
        cmd,
        &format!("mdtest --tasks {tasks} {}", args.join(" ")),
        TIMEOUT,
    )
}

fn show(r: &Run) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

/// The text without its `Command line used:` line (the local run's has `--tasks N`).
fn without_command_line(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Command line used: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn every_backend_under_mpirun_matches_local_tasks() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let data_opt = format!("--benchfs.data-dir={}", data.display());
    for np in [1usize, 3] {
        for api in ["POSIX", "DUMMY", "BENCHFS"] {
            let what = format!("{api} np={np}");
            let target = match api {
                "BENCHFS" => "/md".to_string(),
                _ => dir.path().join(format!("md-{api}")).display().to_string(),
            };
            let doc = dir.path().join(format!("{api}-{np}.json"));
            let doc_s = doc.display().to_string();
            let mut args = vec![
                "-a", api, "-n", "20", "-u", "-w", "64", "-e", "64", "-G", "5", "-d", &target,
            ];
            match api {
                "BENCHFS" => args.extend(["-X", &data_opt]),
                "POSIX" => args.push("-X"),
                _ => {}
            }
            let l = local(np, dir.path(), &args);
            assert_eq!(l.code, 0, "{what} local\n{}", show(&l));
            args.extend(["--json", &doc_s]);
            let m = mpirun(np, dir.path(), &args);
            assert_eq!(m.code, 0, "{what}\n{}", show(&m));
            assert!(!m.stdout.contains("ERROR"), "{what}\n{}", show(&m));
            assert!(!m.stderr.contains("WARNING"), "{what}\n{}", show(&m));
            assert!(
                m.stdout.contains(&format!(
                    "was launched with {np} total task(s) on 1 node(s)"
                )),
                "{what}\n{}",
                show(&m)
            );
            if let Some(d) = masked_diff(
                &without_command_line(&l.stdout),
                &without_command_line(&m.stdout),
            ) {
                panic!("{what}: mpirun differs from local tasks\n{d}\n{}", show(&m));
            }
            let d = ResultDocument::read_from(&doc).expect("document");
            let md = d.mdtest.as_ref().expect("mdtest section");
            assert_eq!(md.world_tasks, np, "{what}");
            let r = &md.runs[0];
            assert_eq!(
                (r.tasks, r.items_per_rank, r.verification_errors),
                (np, 20, 0)
            );
            for op in [Op::DirCreate, Op::FileCreate, Op::FileRead, Op::FileRemove] {
                let p = r.phases.iter().find(|p| p.op == op).expect("phase");
                assert_eq!(p.per_rank.len(), np, "{what} {}", op.name());
                assert_eq!(p.items, 20 * np as u64, "{what} {}", op.name());
                assert_eq!(p.latency.count, p.items, "{what} {}", op.name());
                assert_eq!(p.errors, 0, "{what} {}", op.name());
                // Every rank did its share.
                assert!(p.per_rank.iter().all(|k| k.items == 20 && k.rate > 0.0));
            }
            let left: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
            assert!(
                left.is_empty(),
                "{what}: servers left data behind: {left:?}"
            );
        }
    }
}

#[test]
fn stonewall_across_ranks_under_mpirun() {
    let dir = scratch();
    let doc = dir.path().join("sw.json");
    let doc_s = doc.display().to_string();
    let target = dir.path().join("sw").display().to_string();
    // Far more items than one second allows at 300 µs a create: the wall stops both ranks,
    // which then complete the fastest rank's count.
    let m = mpirun(
        2,
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "--dummy.delay-create=300",
            "-F",
            "-C",
            "-n",
            "100000",
            "-W",
            "1",
            "-d",
            &target,
            "--json",
            &doc_s,
        ],
    );
    assert_eq!(m.code, 0, "{}", show(&m));
    assert!(
        m.stdout.contains("Continue stonewall hit min: "),
        "{}",
        show(&m)
    );
    let d = ResultDocument::read_from(&doc).unwrap();
    let r = &d.mdtest.as_ref().unwrap().runs[0];
    let p = r.phases.iter().find(|p| p.op == Op::FileCreate).unwrap();
    let sw = p.stonewall.as_ref().expect("stonewall figures");
    assert!(
        sw.hit && sw.items_min <= sw.items_max && sw.items_max < 100_000,
        "{sw:?}"
    );
    assert_eq!(p.items, 2 * sw.items_max);
    assert!(p.per_rank.iter().all(|k| k.items == sw.items_max));
}
