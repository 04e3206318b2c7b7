//! BenchFS over UCX against BenchFS over TCP, in one run, through the client API on two
//! embedded clusters that differ only in their transport; and UCX against
//! `ucx_perftest -t ucp_am_bw` (the transport's own limit on this machine).
//!
//! Phases, in interleaved rounds (medians printed): 1 MiB sequential writes (rewrites of an
//! allocated file, so that what is measured is the transport and BenchFS) and reads with one
//! call in flight, and again with [`DEEP`] calls in flight (a task keeping several requests
//! outstanding, as IOR's asynchronous backends or several tasks of a node do); 4 KiB random
//! reads with 32 in flight (IOPS and p50 latency); 4 KiB reads one at a time (p50 latency).
//! Goals of issue 18, printed with each ratio: UCX/TCP >= 1.5 for 1 MiB writes and reads, >= 2
//! for 4 KiB IOPS, <= 0.5 for 4 KiB p50 latency; UCX reads >= 0.7 of ucx_perftest's 1 MiB
//! active-message bandwidth.
//!
//! Then the same 1 MiB writes and reads through an I/O buffer of the client
//! (`Client::alloc_io_buffer`: registered with UCX over UCX, sent from and received into
//! without staging copies) against plain memory, on each transport: whether registered
//! buffers help here.
//!
//! Then the CPU time per MiB of each 1 MiB phase by thread group (client task, UCX client
//! worker, UCX server worker, the servers' tokio runtime, others): on this 2-core machine
//! it says whether a phase is bound by the CPUs (the groups together near 2 CPUs' worth at
//! the rate reached) or by waiting.
//!
//! `cargo bench --bench fs_transports --features ucx` runs the full measurement
//! (`BENCH_MIB` MiB per phase, default 256; `BENCH_ROUNDS`, default 5; `BENCH_SECS` of random
//! reads, default 3); under `cargo test` it runs one small round. UCX traffic stays on
//! loopback (`UCX_NET_DEVICES=lo` is forced for this process and the peer).

mod ucx_peer;

use benchfs::fs::transport::io_buffer::IoSlice;
use benchfs::fs::transport::ucx::ContextBuilder;
use benchfs::fs::transport::ucx_rpc::use_context;
use benchfs::fs::{Client, Cluster, FileHandle, OpenFlags, ServerConfig, ServerTransports};
use bytes::Bytes;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const SMALL: usize = 4096;
const DEPTH: usize = 32;
/// Calls in flight of the deep 1 MiB phases.
const DEEP: usize = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Thread groups whose CPU time is reported, each with the name prefixes of its threads
/// (the kernel cuts thread names to 15 bytes); the main thread is the client, anything
/// unnamed here counts as other.
const GROUPS: [(&str, &[&str]); 5] = [
    ("client", &[]),
    ("ucx-client", &["benchfs-ucx-cli", "benchfs-ucx-gua"]),
    ("ucx-server", &["benchfs-ucx-ser"]),
    ("servers", &["benchfs-server"]),
    ("other", &[]),
];

/// The group of thread `tid` named `name`.
fn group_of(tid: &str, name: &str) -> usize {
    if tid == std::process::id().to_string() {
        return 0;
    }
    GROUPS
        .iter()
        .position(|(_, prefixes)| prefixes.iter().any(|p| name.starts_with(p)))
        .unwrap_or(GROUPS.len() - 1)
}

/// CPU time used so far by this process's threads, in ns, by group of [`GROUPS`] (time on
/// CPU from each thread's `schedstat`).
fn thread_cpu() -> [u64; 5] {
    let mut cpu = [0u64; 5];
    let tasks = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten();
    for task in tasks {
        let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
        let on_cpu: u64 = read("schedstat")
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let tid = task.file_name().to_string_lossy().into_owned();
        cpu[group_of(&tid, read("comm").trim_end())] += on_cpu;
    }
    cpu
}

/// What one round of one transport measured.
#[derive(Default, Clone)]
struct Round {
    write_mib_s: f64,
    read_mib_s: f64,
    iops: f64,
    p50_deep_us: f64,
    p50_us: f64,
    /// 1 MiB writes and reads with [`DEEP`] calls in flight.
    deep_write_mib_s: f64,
    deep_read_mib_s: f64,
    /// CPU µs per MiB by group, of the write and the read phase.
    write_cpu: [f64; 5],
    read_cpu: [f64; 5],
    /// 1 MiB writes and reads through an I/O buffer.
    io_write_mib_s: f64,
    io_read_mib_s: f64,
    io_write_cpu: [f64; 5],
    io_read_cpu: [f64; 5],
    /// CPU µs per call by group of the 4 KiB random reads with [`DEPTH`] in flight.
    small_cpu: [f64; 5],
}

fn cpu_per_mib(before: [u64; 5], after: [u64; 5], mib: usize) -> [f64; 5] {
    let mut v = [0f64; 5];
    for g in 0..5 {
        v[g] = after[g].saturating_sub(before[g]) as f64 / 1e3 / mib as f64;
    }
    v
}

async fn seq_write(f: &FileHandle, mib: usize, data: &Bytes) -> Duration {
    let t = Instant::now();
    for i in 0..mib {
        let n = f
            .write_at_bytes((i * MIB) as u64, data.clone())
            .await
            .unwrap();
        assert_eq!(n, MIB);
    }
    t.elapsed()
}

async fn seq_read(f: &FileHandle, mib: usize, buf: &mut [u8]) -> Duration {
    let t = Instant::now();
    for i in 0..mib {
        let n = f.read_at((i * MIB) as u64, buf).await.unwrap();
        assert_eq!(n, MIB);
    }
    t.elapsed()
}

/// 1 MiB writes of the first `mib` MiB, `DEEP` in flight.
async fn deep_write(f: &FileHandle, mib: usize, data: &Bytes) -> Duration {
    use futures::StreamExt;
    let t = Instant::now();
    let mut s = futures::stream::iter(0..mib)
        .map(|i| f.write_at_bytes((i * MIB) as u64, data.clone()))
        .buffer_unordered(DEEP);
    while let Some(n) = s.next().await {
        assert_eq!(n.unwrap(), MIB);
    }
    t.elapsed()
}

/// 1 MiB reads of the first `mib` MiB, `DEEP` in flight, each into one of `DEEP` buffers
/// (checked against `data` once at the end).
async fn deep_read(f: &FileHandle, mib: usize, data: &Bytes) -> Duration {
    use futures::StreamExt;
    let free = std::cell::RefCell::new(vec![vec![0u8; MIB]; DEEP]);
    let t = Instant::now();
    let mut s = futures::stream::iter(0..mib)
        .map(|i| {
            let mut buf = free.borrow_mut().pop().unwrap();
            async move {
                let n = f.read_at((i * MIB) as u64, &mut buf).await.unwrap();
                assert_eq!(n, MIB);
                buf
            }
        })
        .buffer_unordered(DEEP);
    while let Some(buf) = s.next().await {
        free.borrow_mut().push(buf);
    }
    let el = t.elapsed();
    assert!(
        free.borrow().iter().all(|b| b[..] == data[..]),
        "read back what was written"
    );
    el
}

async fn seq_write_io(f: &FileHandle, mib: usize, data: &IoSlice) -> Duration {
    let t = Instant::now();
    for i in 0..mib {
        let n = f.write_io((i * MIB) as u64, data).await.unwrap();
        assert_eq!(n, MIB);
    }
    t.elapsed()
}

async fn seq_read_io(f: &FileHandle, mib: usize, buf: &IoSlice) -> Duration {
    let t = Instant::now();
    for i in 0..mib {
        let n = f.read_io((i * MIB) as u64, buf).await.unwrap();
        assert_eq!(n, MIB);
    }
    t.elapsed()
}

/// 4 KiB reads at random offsets of the first `mib` MiB of `f`, `depth` in flight, for
/// `secs`: (IOPS, p50 latency in µs, reads done).
async fn random_reads(f: &FileHandle, mib: usize, depth: usize, secs: f64) -> (f64, f64, u64) {
    use futures::StreamExt;
    let blocks = (mib * MIB / SMALL) as u64;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let t = Instant::now();
    let mut done = 0u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let offsets = std::iter::from_fn(move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Some(seed % blocks * SMALL as u64)
    });
    let mut s = futures::stream::iter(offsets.take_while(|_| Instant::now() < end))
        .map(|off| async move {
            let t = Instant::now();
            let v = f.read_vec(off, SMALL).await.unwrap();
            assert_eq!(v.len(), SMALL);
            t.elapsed()
        })
        .buffer_unordered(depth);
    while let Some(d) = s.next().await {
        let _ = hist.record(d.as_nanos() as u64);
        done += 1;
    }
    let el = t.elapsed().as_secs_f64();
    (
        done as f64 / el,
        hist.value_at_quantile(0.5) as f64 / 1e3,
        done,
    )
}

async fn round(fs: &Client, file: &str, mib: usize, secs: f64, data: &Bytes) -> Round {
    let mut r = Round::default();
    let f = fs.open(file, OpenFlags::read_write()).await.unwrap();
    let c0 = thread_cpu();
    let d = seq_write(&f, mib, data).await;
    let c1 = thread_cpu();
    r.write_mib_s = mib as f64 / d.as_secs_f64();
    r.write_cpu = cpu_per_mib(c0, c1, mib);
    let mut buf = vec![0u8; MIB];
    let c0 = thread_cpu();
    let d = seq_read(&f, mib, &mut buf).await;
    let c1 = thread_cpu();
    assert!(buf == data[..], "read back what was written");
    r.read_mib_s = mib as f64 / d.as_secs_f64();
    r.read_cpu = cpu_per_mib(c0, c1, mib);
    r.deep_write_mib_s = mib as f64 / deep_write(&f, mib, data).await.as_secs_f64();
    r.deep_read_mib_s = mib as f64 / deep_read(&f, mib, data).await.as_secs_f64();
    let io = std::sync::Arc::new(fs.alloc_io_buffer(2 * MIB).unwrap());
    let (src, dst) = (
        IoSlice::new(io.clone(), 0..MIB).unwrap(),
        IoSlice::new(io, MIB..2 * MIB).unwrap(),
    );
    src.fill_from(data);
    let c0 = thread_cpu();
    let d = seq_write_io(&f, mib, &src).await;
    let c1 = thread_cpu();
    r.io_write_mib_s = mib as f64 / d.as_secs_f64();
    r.io_write_cpu = cpu_per_mib(c0, c1, mib);
    let c0 = thread_cpu();
    let d = seq_read_io(&f, mib, &dst).await;
    let c1 = thread_cpu();
    assert!(dst.as_ref() == &data[..], "read back into the I/O buffer");
    r.io_read_mib_s = mib as f64 / d.as_secs_f64();
    r.io_read_cpu = cpu_per_mib(c0, c1, mib);
    let c0 = thread_cpu();
    let done;
    (r.iops, r.p50_deep_us, done) = random_reads(&f, mib, DEPTH, secs).await;
    let c1 = thread_cpu();
    // Per call: as per MiB, with calls counted in units of 1 MiB.
    r.small_cpu = cpu_per_mib(c0, c1, done.max(1) as usize);
    (_, r.p50_us, _) = random_reads(&f, mib, 1, secs / 2.0).await;
    f.close().await.unwrap();
    r
}

/// One compared figure: its name, how to read it from a round, whether higher is better,
/// and the goal of the UCX/TCP ratio.
type Goal = (&'static str, fn(&Round) -> f64, bool, f64);

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mib = if full { env_or("BENCH_MIB", 256) } else { 8 } as usize;
    let rounds = if full { env_or("BENCH_ROUNDS", 5) } else { 1 } as usize;
    let secs = if full {
        env_or("BENCH_SECS", 3) as f64
    } else {
        0.2
    };
    use_context(
        ContextBuilder::new()
            .set("NET_DEVICES", "lo")
            .build()
            .expect("UCX context"),
    );
    let dir = std::env::var("BENCH_DIR").unwrap_or_else(|_| {
        if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm".into()
        } else {
            std::env::temp_dir().to_string_lossy().into_owned()
        }
    });
    // The servers on a runtime of their own (as benchfs-bench runs them), the client on the
    // main thread's single-threaded runtime (like one task of the benchmark).
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("benchfs-server")
        .enable_all()
        .build()
        .unwrap();
    let start = |t: ServerTransports| {
        let mut base = ServerConfig::new(&dir, Vec::new());
        base.transports = t;
        base.spare_chunks = 0;
        // `BENCH_UCX_OFFLOAD=1`: UCX servers do large requests' chunk I/O on their runtime.
        base.tuning.ucx_offload = std::env::var("BENCH_UCX_OFFLOAD").is_ok_and(|v| v == "1");
        servers
            .block_on(Cluster::embedded_config(2, &dir, 4 << 20, &base))
            .unwrap()
    };
    let clusters = [
        ("tcp", start(ServerTransports::Tcp)),
        ("ucx", start(ServerTransports::Ucx)),
    ];
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = Bytes::from((0..MIB).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let (tcp, ucx): (Vec<Round>, Vec<Round>) = client_rt.block_on(async {
        let mut clients = Vec::new();
        for (name, c) in &clusters {
            // `BENCH_READ_PIECE` (KiB): the client's largest read request, to measure
            // pieces in flight against one request per read.
            let mut opts = benchfs::fs::ClientOptions::default();
            if let Some(k) = std::env::var("BENCH_READ_PIECE")
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
            {
                opts.tuning.read_piece = k << 10;
            }
            let fs = c.client_with(opts).await.unwrap();
            // Storage allocated once: the timed writes are rewrites.
            let f = fs.create("/bench").await.unwrap();
            for i in 0..mib {
                f.write_at_bytes((i * MIB) as u64, data.clone())
                    .await
                    .unwrap();
            }
            f.close().await.unwrap();
            clients.push((*name, fs));
        }
        let (mut tcp, mut ucx) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for (name, fs) in &clients {
                let r = round(fs, "/bench", mib, secs, &data).await;
                if *name == "tcp" {
                    tcp.push(r);
                } else {
                    ucx.push(r);
                }
            }
        }
        (tcp, ucx)
    });
    let m = |v: &[Round], f: fn(&Round) -> f64| median(v.iter().map(f).collect());
    println!(
        "BenchFS over UCX vs TCP, 2 embedded servers in {dir}, client API, {mib} MiB per \
         phase, medians of {rounds} rounds"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>7} {:>9}  verdict",
        "phase", "tcp", "ucx", "ucx/tcp", "goal"
    );
    let rows: [Goal; 7] = [
        (
            "1 MiB write, MiB/s (1 in flight)",
            |r| r.write_mib_s,
            true,
            1.5,
        ),
        (
            "1 MiB read, MiB/s (1 in flight)",
            |r| r.read_mib_s,
            true,
            1.5,
        ),
        (
            "1 MiB write, MiB/s (4 in flight)",
            |r| r.deep_write_mib_s,
            true,
            1.5,
        ),
        (
            "1 MiB read, MiB/s (4 in flight)",
            |r| r.deep_read_mib_s,
            true,
            1.5,
        ),
        ("4 KiB random read, IOPS (32)", |r| r.iops, true, 2.0),
        (
            "4 KiB random read, p50 us (32)",
            |r| r.p50_deep_us,
            false,
            0.5,
        ),
        ("4 KiB read, p50 us (1 in flight)", |r| r.p50_us, false, 0.5),
    ];
    for (name, f, higher, goal) in rows {
        let (t, u) = (m(&tcp, f), m(&ucx, f));
        let ratio = u / t;
        let ok = if higher { ratio >= goal } else { ratio <= goal };
        let g = if higher {
            format!(">= {goal}")
        } else {
            format!("<= {goal}")
        };
        println!(
            "{name:<34} {t:>10.1} {u:>10.1} {ratio:>7.2} {g:>9}  {}",
            verdict(ok)
        );
    }
    let port = 14500 + (std::process::id() % 1000) as u16;
    let n = if full { 4000 } else { 64 };
    match ucx_peer::am_bw_mib_s("all", MIB, n, port) {
        Some(peer) => {
            for (what, f) in [
                (
                    "1 MiB read, UCX vs ucx_perftest",
                    (|r: &Round| r.read_mib_s) as fn(&Round) -> f64,
                ),
                ("1 MiB read (4), UCX vs perftest", |r: &Round| {
                    r.deep_read_mib_s
                }),
            ] {
                let read = m(&ucx, f);
                println!(
                    "{what:<34} {:>10} {read:>10.1} {:>7.2} {:>9}  {}  (ucx_perftest ucp_am_bw 1 MiB: {peer:.0} MiB/s)",
                    "",
                    read / peer,
                    ">= 0.7",
                    verdict(read / peer >= 0.7)
                );
            }
        }
        None => println!("ucx_perftest not found (Debian ucx-utils): no peer measured"),
    }
    println!("\n1 MiB phases through an I/O buffer vs plain memory (medians, MiB/s)");
    println!(
        "{:<34} {:>10} {:>10} {:>7}",
        "phase", "plain", "io buffer", "io/plain"
    );
    for (name, v) in [("tcp", &tcp), ("ucx", &ucx)] {
        for (phase, plain, io) in [
            (
                "write",
                (|r: &Round| r.write_mib_s) as fn(&Round) -> f64,
                (|r: &Round| r.io_write_mib_s) as fn(&Round) -> f64,
            ),
            (
                "read",
                |r: &Round| r.read_mib_s,
                |r: &Round| r.io_read_mib_s,
            ),
        ] {
            let (p, i) = (m(v, plain), m(v, io));
            println!(
                "{:<34} {p:>10.1} {i:>10.1} {:>7.2}",
                format!("{name} 1 MiB {phase}"),
                i / p
            );
        }
    }
    println!(
        "\nCPU us per MiB by thread group (medians; 1000 us/MiB = one CPU busy at 1000 MiB/s; \
         the 4 KiB rows: us per call)"
    );
    println!(
        "{:<16} {}",
        "phase",
        GROUPS.map(|(g, _)| format!("{g:>11}")).join("")
    );
    for (name, v) in [("tcp", &tcp), ("ucx", &ucx)] {
        for (phase, f) in [
            ("write", (|r: &Round| r.write_cpu) as fn(&Round) -> [f64; 5]),
            ("read", |r: &Round| r.read_cpu),
            ("io write", |r: &Round| r.io_write_cpu),
            ("io read", |r: &Round| r.io_read_cpu),
        ] {
            let cols: Vec<String> = (0..5)
                .map(|g| format!("{:>11.0}", median(v.iter().map(|r| f(r)[g]).collect())))
                .collect();
            let total: f64 = (0..5)
                .map(|g| median(v.iter().map(|r| f(r)[g]).collect()))
                .sum();
            let rate = match phase {
                "write" => m(v, |r| r.write_mib_s),
                "read" => m(v, |r| r.read_mib_s),
                "io write" => m(v, |r| r.io_write_mib_s),
                _ => m(v, |r| r.io_read_mib_s),
            };
            println!(
                "{:<16} {}   total {total:.0} us/MiB = {:.2} CPUs at {rate:.0} MiB/s",
                format!("{name} {phase}"),
                cols.join(""),
                total * rate / 1e6
            );
        }
        let cols: Vec<String> = (0..5)
            .map(|g| {
                format!(
                    "{:>11.1}",
                    median(v.iter().map(|r| r.small_cpu[g]).collect())
                )
            })
            .collect();
        let total: f64 = (0..5)
            .map(|g| median(v.iter().map(|r| r.small_cpu[g]).collect()))
            .sum();
        let rate = m(v, |r| r.iops);
        println!(
            "{:<16} {}   total {total:.1} us/call = {:.2} CPUs at {rate:.0} IOPS",
            format!("{name} 4k rd({DEPTH})"),
            cols.join(""),
            total * rate / 1e6
        );
    }
    for (_, c) in clusters {
        servers.block_on(c.shutdown()).unwrap();
    }
}
