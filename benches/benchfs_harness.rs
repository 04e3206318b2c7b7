//! Benchmarks of `-a BENCHFS` against peers measured in the same run:
//!
//! 1. Harness overhead: benchfs-bench with 1 MiB transfers against the file system's own loop
//!    through the client API (`write_at_bytes`, which sends the caller's buffer without a
//!    copy, and `read_at`, of the same pattern, same cluster, same task count). Goal:
//!    benchfs-bench within 10 % of the direct loop.
//! 2. `--iodepth 8` against `--iodepth 1` with 64 KiB transfers, 1, 2 and 4 tasks. Goal
//!    (issue 20): at least 2.5x the IOPS.
//!
//! `cargo bench --bench benchfs_harness` runs the full measurement (several interleaved
//! rounds, medians); under `cargo test` it runs a small smoke configuration only.

use benchfs::fs::{Client, Cluster, OpenFlags};
use benchfs::ior::results::Phase;

mod common;
use std::time::Instant;

/// (write MiB/s, read MiB/s, write IOPS, read IOPS) of one benchfs-bench run.
fn harness(args: &str) -> (f64, f64, f64, f64) {
    let mut r = (0.0, 0.0, 0.0, 0.0);
    for p in common::run_in_process(args) {
        match p.access {
            Phase::Write => (r.0, r.2) = (p.bw_mib, p.iops),
            Phase::Read => (r.1, r.3) = (p.bw_mib, p.iops),
        }
    }
    r
}

/// The file system's own loop: `tasks` concurrent tasks, each writing then reading its own
/// file of `block` bytes in `xfer`-byte calls. Returns (write MiB/s, read MiB/s).
fn direct(
    rt: &tokio::runtime::Runtime,
    registry: &str,
    tasks: usize,
    block: usize,
    xfer: usize,
    round: usize,
) -> (f64, f64) {
    rt.block_on(async {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let client = Client::connect(registry).await.expect("connect");
            let path = format!("/direct-{round}-{t}");
            handles.push((client, path));
        }
        // As benchfs-bench does before its write phase: the servers get their spare chunk
        // files ready first (untimed).
        handles[0]
            .0
            .settle(std::time::Duration::from_secs(5))
            .await
            .expect("settle");
        let buf = bytes::Bytes::from(vec![0x5au8; xfer]);
        let start = Instant::now();
        let mut js = Vec::new();
        for (client, path) in &handles {
            let buf = &buf;
            js.push(async move {
                let f = client
                    .open(path, OpenFlags::read_write().create(true))
                    .await
                    .expect("create");
                let mut off = 0;
                while off < block {
                    f.write_at_bytes(off as u64, buf.clone())
                        .await
                        .expect("write");
                    off += xfer;
                }
                f.close().await.expect("close");
            });
        }
        futures::future::join_all(js).await;
        let w = (tasks * block) as f64 / start.elapsed().as_secs_f64() / 1048576.0;
        let start = Instant::now();
        let mut js = Vec::new();
        for (client, path) in &handles {
            js.push(async move {
                let f = client
                    .open(path, OpenFlags::read_only())
                    .await
                    .expect("open");
                let mut b = vec![0u8; xfer];
                let mut off = 0;
                while off < block {
                    f.read_at(off as u64, &mut b).await.expect("read");
                    off += xfer;
                }
                f.close().await.expect("close");
            });
        }
        futures::future::join_all(js).await;
        let r = (tasks * block) as f64 / start.elapsed().as_secs_f64() / 1048576.0;
        for (client, path) in &handles {
            client.unlink(path).await.expect("unlink");
        }
        (w, r)
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, block_mib, rnd_block) = if full {
        (5, 512usize, "64m")
    } else {
        (1, 8usize, "2m")
    };
    let tasks = 2;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("temp dir");
    let cluster = rt
        .block_on(Cluster::embedded(4, data.path()))
        .expect("embedded cluster");
    let registry = cluster.registry().to_string_lossy().into_owned();

    let (mut hw, mut hr, mut dw, mut dr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (w, r) = direct(&rt, &registry, tasks, block_mib << 20, 1 << 20, round);
        dw.push(w);
        dr.push(r);
        let (w, r, _, _) = harness(&format!(
            "-a BENCHFS --benchfs.registry={registry} -N {tasks} -b {block_mib}m -t 1m -F -w -r -o /h{round}"
        ));
        hw.push(w);
        hr.push(r);
    }
    // Queue depth, with one task (latency-bound at depth 1), two and four (closer to the
    // loopback bandwidth ceiling, and to the CPUs' limit, already at depth 1).
    let mut depth = Vec::new();
    for t in [1usize, tasks, 2 * tasks] {
        let (mut d1, mut d8) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let base = format!(
                "-a BENCHFS --benchfs.registry={registry} -N {t} -b {rnd_block} -t 64k -F -w -r"
            );
            d1.push(harness(&format!("{base} --iodepth 1 -o /d1-{t}-{round}")).3);
            d8.push(harness(&format!("{base} --iodepth 8 -o /d8-{t}-{round}")).3);
        }
        depth.push((t, median(d1), median(d8)));
    }
    rt.block_on(cluster.shutdown()).expect("shutdown");

    println!("BENCHFS, embedded cluster of 4 servers, {tasks} tasks, file per process; medians of {rounds} interleaved rounds");
    println!(
        "{:<38} {:>12} {:>12} {:>8}",
        "1 MiB transfers", "harness", "client API", "ratio"
    );
    for (name, h, d) in [
        ("write MiB/s", median(hw), median(dw)),
        ("read MiB/s", median(hr), median(dr)),
    ] {
        println!("{name:<38} {h:>12.1} {d:>12.1} {:>8.2}", h / d);
    }
    println!(
        "{:<38} {:>12} {:>12} {:>8}",
        "64 KiB reads", "iodepth 8", "iodepth 1", "ratio"
    );
    for (t, a, b) in depth {
        println!(
            "{:<38} {b:>12.0} {a:>12.0} {:>8.2}",
            format!("IOPS, {t} task(s)"),
            b / a
        );
    }
}
