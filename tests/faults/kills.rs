//! kill -9 and SIGSTOP of a server during the write, read, metadata and rename phases of a
//! client, and during a benchfs-bench run: a bounded error that names the server (address and
//! store id), the phases completed before kept, nothing acknowledged lost after a restart
//! (fsynced and closed files verify), and no space leaked once the failed file is removed.

use crate::common::run::{bin, scratch};
use crate::support;
use benchfs::fs::{Client, ClientOptions, FsError, OpenFlags};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// The clients' call timeout: a stopped server fails a call within it.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Phase {
    Write,
    Read,
    Metadata,
    Rename,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Kill,
    Stop,
}

/// Runs `phase` in a loop on the cluster until a call fails (the fault is injected after
/// `ops_before` calls succeeded); returns the error and how long after the fault it came.
async fn run_until_error(
    fs: &Client,
    phase: Phase,
    round: usize,
    inject: impl FnOnce(),
) -> (FsError, Duration) {
    let mut inject = Some(inject);
    let mut injected_at = None;
    let piece = support::pattern(round as u64, MIB);
    let w = fs.create(&format!("/w{round}")).await.unwrap();
    for i in 0..10_000u64 {
        if i == 4 {
            if let Some(f) = inject.take() {
                f();
                injected_at = Some(Instant::now());
            }
        }
        let r = match phase {
            // Chunks of 64 KiB: every 1 MiB piece touches every server.
            Phase::Write => w.write_at(i * MIB as u64, &piece).await.map(|_| ()),
            Phase::Read => {
                let r = fs.open("/acked", OpenFlags::read_only()).await;
                match r {
                    Ok(r) => r.read_vec(0, 4 * MIB).await.map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            Phase::Metadata => {
                let p = format!("/m{round}-{i}");
                match fs.create(&p).await {
                    Ok(f) => f.close().await.and(fs.stat(&p).await.map(|_| ())),
                    Err(e) => Err(e),
                }
            }
            Phase::Rename => {
                let (a, b) = (format!("/r{round}-{i}"), format!("/r{round}-{}", i + 1));
                match fs.create(&a).await {
                    Ok(f) => match f.close().await {
                        Ok(()) => fs.rename(&a, &b).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = r {
            let at = injected_at.expect("a call failed before the fault");
            drop(w);
            return (e, at.elapsed());
        }
    }
    panic!("{phase:?}: no call failed after the fault");
}

#[test]
fn kill_and_stop_of_a_server_in_every_phase_give_bounded_errors_naming_it() {
    let d = scratch();
    let mut servers =
        support::cluster(d.path(), 3, &["--chunk-size", "64k", "--spare-chunks", "4"]);
    let reg = d.path().join("registry");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = ClientOptions {
        timeout: TIMEOUT,
        connect_timeout: TIMEOUT,
        ..ClientOptions::default()
    };
    // Acknowledged before any fault: written, fsynced and closed.
    let acked = support::pattern(42, 4 * MIB);
    rt.block_on(async {
        let fs = Client::connect_with(&reg, opts.clone()).await.unwrap();
        let f = fs.create("/acked").await.unwrap();
        f.write_at(0, &acked).await.unwrap();
        f.fsync().await.unwrap();
        f.close().await.unwrap();
    });
    let mut round = 0;
    for phase in [Phase::Write, Phase::Read, Phase::Metadata, Phase::Rename] {
        for fault in [Fault::Kill, Fault::Stop] {
            round += 1;
            let victim = round % 3;
            let (addr, store) = (servers[victim].addr(), servers[victim].store_id());
            rt.block_on(async {
                let fs = Client::connect_with(&reg, opts.clone()).await.unwrap();
                let s = &mut servers[victim];
                let (e, after) = run_until_error(&fs, phase, round, || match fault {
                    Fault::Kill => s.kill9(),
                    Fault::Stop => s.stop(),
                })
                .await;
                let what = format!("{phase:?} after {fault:?} of server {victim}: {e}");
                let expected = match fault {
                    Fault::Kill => [libc::ECONNRESET, libc::ECONNREFUSED],
                    Fault::Stop => [libc::ETIMEDOUT, libc::ETIMEDOUT],
                };
                assert!(expected.contains(&e.errno()), "{what}");
                assert!(
                    after < 4 * TIMEOUT,
                    "{what}: came {after:?} after the fault"
                );
                let msg = e.to_string();
                assert!(msg.contains(&addr) && msg.contains(&store), "{what}");
            });
            match fault {
                Fault::Kill => servers[victim].restart(),
                Fault::Stop => servers[victim].resume(),
            }
            // Nothing acknowledged is lost; the failed file goes, and its space with it.
            rt.block_on(async {
                let fs = Client::connect_with(&reg, opts.clone()).await.unwrap();
                let r = fs.open("/acked", OpenFlags::read_only()).await.unwrap();
                assert_eq!(
                    r.read_vec(0, 8 * MIB).await.unwrap(),
                    acked,
                    "round {round}"
                );
                fs.unlink(&format!("/w{round}")).await.unwrap();
                assert_eq!(
                    fs.statfs().await.unwrap().chunks,
                    64,
                    "round {round}: only the acknowledged file's chunks remain"
                );
            });
        }
    }
}

#[test]
fn a_run_whose_server_dies_keeps_the_phases_it_completed() {
    let d = scratch();
    let mut servers =
        support::cluster(d.path(), 3, &["--chunk-size", "64k", "--spare-chunks", "4"]);
    let reg = format!("--benchfs.registry={}", d.path().join("registry").display());
    let json = d.path().join("run.json");
    for fault in [Fault::Kill, Fault::Stop] {
        let mut cmd = std::process::Command::new(bin());
        cmd.args([
            "-a",
            "BENCHFS",
            &reg,
            "--benchfs.timeout",
            "2",
            "-b",
            "16m",
            "-t",
            "1m",
            "-w",
            "-r",
            "-o",
            "/run",
            "--json",
        ])
        .arg(&json);
        let mut run = support::spawn_group(cmd, d.path(), "run");
        let out = d.path().join("run.out");
        // Once the write phase's result is out, server 1 fails: the read phase cannot end.
        support::wait_until("the write phase ends", Duration::from_secs(60), || {
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("write "))
        });
        let (addr, store) = (servers[1].addr(), servers[1].store_id());
        match fault {
            Fault::Kill => servers[1].kill9(),
            Fault::Stop => servers[1].stop(),
        }
        let st = support::wait_child(&mut run, Duration::from_secs(60), "benchfs-bench");
        let err = std::fs::read_to_string(d.path().join("run.err")).unwrap();
        assert!(!st.success(), "{fault:?}: {err}");
        assert!(
            err.contains(&addr) && err.contains(&store),
            "{fault:?}: {err}"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let text = doc.to_string();
        assert!(
            text.contains("\"write\""),
            "{fault:?}: the write phase is kept: {text}"
        );
        match fault {
            Fault::Kill => servers[1].restart(),
            Fault::Stop => servers[1].resume(),
        }
    }
}
