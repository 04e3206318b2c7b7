//! Benchmark: how the cost of the harness and of BenchFS grows with the work, in one run.
//!
//! 1. Tasks 1 -> 64 (`-N`, DUMMY, 4 KiB transfers, the same transfers per task): aggregate
//!    IOPS and the CPU time of the whole run (set-up included) per transfer; with the real IOR
//!    (`IOR=PATH` or on `PATH`, under `mpirun`) its IOPS for the same ranks. Flat CPU per
//!    transfer means the per-task cost does not grow with the task count.
//! 2. Servers 1 -> 64 (embedded cluster, `-a BENCHFS`, 2 tasks, 1 MiB transfers): the time to
//!    start the cluster, write and read MiB/s and the CPU time (client and servers, all in
//!    this process) per MiB moved.
//! 3. Files 1 -> 100k (metadata through the client API on 4 embedded servers, 16 calls in
//!    flight): create, stat and remove rates; with the real mdtest (`MDTEST=PATH` or on
//!    `PATH`, one rank, on tmpfs) its rates for the same file counts, to show how a local file
//!    system's own rates move over the same range.
//!
//! Each row also shows its figure relative to the first row ("x first"). The placement of
//! chunks over 16 to 4096 servers is simulated by the `placement_simulation` test of
//! `src/fs/placement.rs`. `cargo bench --bench scale` runs the full ranges; under `cargo test`
//! it runs a small smoke configuration only.

use benchfs::fs::{Client, Cluster, OpenFlags, ServerConfig};
use benchfs::ior::results::Phase;
use benchfs::results::compare::median;
use futures::stream::{self, StreamExt};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::peer::{self, MpiTool};

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: `rusage` is plain data; all-zero is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer; RUSAGE_SELF cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Median write and read rows (bw MiB/s, IOPS) of an in-process run, with its CPU time.
fn run(args: &str) -> ([f64; 2], [f64; 2], Duration) {
    let c0 = cpu_time();
    let rows = common::run_in_process(args);
    let cpu = cpu_time() - c0;
    let pick = |ph: Phase, f: fn(&benchfs::ior::results::PhaseResult) -> f64| {
        median(
            &rows
                .iter()
                .filter(|p| p.access == ph)
                .map(f)
                .collect::<Vec<_>>(),
        )
    };
    (
        [
            pick(Phase::Write, |p| p.bw_mib),
            pick(Phase::Read, |p| p.bw_mib),
        ],
        [
            pick(Phase::Write, |p| p.iops),
            pick(Phase::Read, |p| p.iops),
        ],
        cpu,
    )
}

fn tasks_section(full: bool, scratch: &Path) {
    let counts: &[usize] = if full {
        &[1, 2, 4, 8, 16, 32, 64]
    } else {
        &[1, 2, 4]
    };
    let (block, segments) = if full { ("16m", 4) } else { ("256k", 2) };
    let per_task = if full { 16 * 256 * 4 } else { 64 * 2 } as f64 * 2.0;
    let ior = MpiTool::ior();
    println!(
        "\n1. tasks (-N), DUMMY, -b {block} -t 4k -s {segments} -F -w -r, latency recording on"
    );
    peer::note_missing(ior.is_none(), "real IOR", "IOR", "ior");
    println!(
        "{:>6} {:>14} {:>16} {:>9} {:>14} {:>9}",
        "tasks", "IOPS", "CPU ns/transfer", "x first", "IOR IOPS", "x first"
    );
    let (mut first, mut first_ior) = (None, None);
    for &n in counts {
        let args = format!("-a DUMMY -b {block} -t 4k -s {segments} -F -w -r -i 3");
        let (_, iops, cpu) = run(&format!("{args} -N {n}"));
        let iops = (iops[0] + iops[1]) / 2.0;
        let ns = cpu.as_nanos() as f64 / (per_task * 3.0 * n as f64);
        let f = *first.get_or_insert(ns);
        let peer = ior.as_ref().filter(|t| t.can_launch(n)).and_then(|t| {
            let o = scratch.join("ior-scale");
            match t.run_ior(n, &format!("{args} -o {}", o.display()), scratch) {
                Ok(rows) => Some(median(&rows.iter().map(|r| r.iops).collect::<Vec<_>>())),
                Err(e) => {
                    eprintln!("{e}");
                    None
                }
            }
        });
        match peer {
            Some(p) => {
                let fp = *first_ior.get_or_insert(p);
                println!(
                    "{n:>6} {iops:>14.0} {ns:>16.1} {:>9.2} {p:>14.0} {:>9.2}",
                    ns / f,
                    p / fp
                )
            }
            None => println!(
                "{n:>6} {iops:>14.0} {ns:>16.1} {:>9.2} {:>14} {:>9}",
                ns / f,
                "-",
                "-"
            ),
        }
    }
}

/// An embedded cluster of `n` servers with 4 spare chunk files each (the default pool of 64
/// would preallocate 16 GiB for 64 servers).
fn cluster(rt: &tokio::runtime::Runtime, n: usize, data: &Path) -> Cluster {
    let mut base = ServerConfig::new(data, Vec::new());
    base.spare_chunks = 4;
    rt.block_on(Cluster::embedded_config(
        n,
        data,
        benchfs::fs::wire::DEFAULT_CHUNK_SIZE,
        &base,
    ))
    .expect("embedded cluster")
}

fn servers_section(full: bool, rt: &tokio::runtime::Runtime, data: &Path) {
    let counts: &[usize] = if full {
        &[1, 2, 4, 8, 16, 32, 64]
    } else {
        &[1, 2]
    };
    let block_mib = if full { 64 } else { 2 };
    println!(
        "\n2. servers (embedded), -a BENCHFS -N 2 -b {block_mib}m -t 1m -F -w -r, 4 spare chunks per server"
    );
    println!(
        "{:>7} {:>10} {:>12} {:>12} {:>14} {:>9}",
        "servers", "start ms", "write MiB/s", "read MiB/s", "CPU us/MiB", "x first"
    );
    let mut first = None;
    for &n in counts {
        let t0 = Instant::now();
        let cluster = cluster(rt, n, data);
        let start = t0.elapsed();
        let registry = cluster.registry().to_string_lossy().into_owned();
        let (bw, _, cpu) = run(&format!(
            "-a BENCHFS --benchfs.registry={registry} -N 2 -b {block_mib}m -t 1m -F -w -r -i 1 -o /s"
        ));
        rt.block_on(cluster.shutdown()).expect("shutdown");
        let us = cpu.as_micros() as f64 / (2.0 * 2.0 * block_mib as f64);
        let f = *first.get_or_insert(us);
        println!(
            "{n:>7} {:>10.1} {:>12.1} {:>12.1} {us:>14.1} {:>9.2}",
            start.as_secs_f64() * 1e3,
            bw[0],
            bw[1],
            us / f
        );
    }
}

/// Operations per second of `op` over every name, `depth` calls in flight.
async fn rate<'a, F, Fut>(names: &'a [String], depth: usize, op: F) -> f64
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = Instant::now();
    stream::iter(names)
        .for_each_concurrent(depth, |p| op(p))
        .await;
    names.len() as f64 / t.elapsed().as_secs_f64()
}

/// create, stat, remove ops/s of `n` files in one directory, `depth` calls in flight.
async fn metadata(client: &Client, dir: &str, n: usize, depth: usize) -> [f64; 3] {
    client.mkdir(dir, 0o755).await.expect("mkdir");
    let names: Vec<String> = (0..n).map(|i| format!("{dir}/f{i}")).collect();
    let c = rate(&names, depth, |p| async move {
        let f = client
            .open(p, OpenFlags::read_write().create(true))
            .await
            .expect("create");
        f.close().await.expect("close");
    })
    .await;
    let s = rate(&names, depth, |p| async move {
        client.stat(p).await.expect("stat");
    })
    .await;
    let r = rate(&names, depth, |p| async move {
        client.unlink(p).await.expect("unlink");
    })
    .await;
    client.rmdir(dir).await.expect("rmdir");
    [c, s, r]
}

/// mdtest's create, stat, remove rates (ops/s) for `n` files, one rank, under `dir`.
fn mdtest_rates(t: &MpiTool, n: usize, dir: &Path) -> Option<[f64; 3]> {
    let d = dir.join(format!("md{n}"));
    let args: Vec<String> = format!("-a POSIX -n {n} -F -u -d {}", d.display())
        .split_whitespace()
        .map(String::from)
        .collect();
    let out = t.command(1, &args).output().ok()?;
    let _ = std::fs::remove_dir_all(&d);
    let text = String::from_utf8_lossy(&out.stdout);
    // A summary row: "   File creation   <max> <min> <mean> <std dev>"; the mean is taken.
    let rate = |label: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .and_then(|v| v.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
    };
    Some([
        rate("File creation")?,
        rate("File stat")?,
        rate("File removal")?,
    ])
}

fn files_section(full: bool, rt: &tokio::runtime::Runtime, data: &Path) {
    let counts: &[usize] = if full {
        &[1, 10, 100, 1000, 10_000, 100_000]
    } else {
        &[1, 10, 100]
    };
    let depth = 16;
    let mdtest = MpiTool::mdtest();
    println!("\n3. files (metadata, client API, 4 embedded servers, {depth} calls in flight)");
    peer::note_missing(mdtest.is_none(), "real mdtest", "MDTEST", "mdtest");
    println!(
        "{:>7} {:>11} {:>11} {:>11} {:>9} {:>26}",
        "files", "create/s", "stat/s", "remove/s", "x first", "mdtest tmpfs create/stat/rm"
    );
    let cluster = cluster(rt, 4, data);
    let client = rt
        .block_on(Client::connect(cluster.registry()))
        .expect("connect");
    let mut first = None;
    for &n in counts {
        let r = rt.block_on(metadata(&client, &format!("/m{n}"), n, depth));
        // Growth of the mean cost per operation (all three phases).
        let cost = r.iter().map(|x| 1.0 / x).sum::<f64>();
        let f = *first.get_or_insert(cost);
        let md = mdtest
            .as_ref()
            .and_then(|t| mdtest_rates(t, n, data))
            .map_or("-".to_string(), |m| {
                format!("{:.0}/{:.0}/{:.0}", m[0], m[1], m[2])
            });
        println!(
            "{n:>7} {:>11.0} {:>11.0} {:>11.0} {:>9.2} {md:>26}",
            r[0],
            r[1],
            r[2],
            cost / f
        );
    }
    drop(client);
    rt.block_on(cluster.shutdown()).expect("shutdown");
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into());
    let data = tempfile::tempdir_in(&base)
        .or_else(|_| tempfile::tempdir())
        .expect("data dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "scale: cost as the work grows ({})",
        if full { "full ranges" } else { "smoke ranges" }
    );
    tasks_section(full, data.path());
    servers_section(full, &rt, data.path());
    files_section(full, &rt, data.path());
}
