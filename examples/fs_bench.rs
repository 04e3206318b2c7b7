//! BenchFS performance figures, measured against raw loopback TCP in the same run.
//!
//! Run with `cargo run --release --example fs_bench`. Environment:
//! `BENCH_DIR` (data directory, default /dev/shm or the temp dir), `BENCH_SERVERS` (2),
//! `BENCH_MIB` (MiB moved per sequential phase, 256), `BENCH_ROUNDS` (7), `BENCH_SECS` (seconds of random
//! reads, 5), `BENCH_CHUNK` (chunk size in KiB, 4096), `BENCH_FILES` (files of the metadata phase,
//! 20000), `BENCH_COPY` (1: write through `write_at`, which copies the buffer),
//! `BENCH_WRITE_PIECE`, `BENCH_READ_PIECE` (largest request pieces in bytes), `BENCH_INLINE` (largest chunk I/O the
//! servers do inline on their async workers, bytes), `BENCH_SINK_MIN` (smallest write the servers
//! receive straight into the chunk file; a huge value turns that off).
//!
//! Prints: 1 MiB sequential write and read through the client API to an embedded cluster
//! (one call in flight, like one IOR rank) next to raw TCP moving the same 1 MiB messages
//! with an 8-byte acknowledgement (the same pattern with no file system), as ratios; then
//! 4 KiB random reads with 32 in flight: IOPS, p50 and p99 latency.

use benchfs::fs::{Cluster, OpenFlags};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1 << 20;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn gib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / (1u64 << 30) as f64
}

/// Raw TCP, one 1 MiB message at a time: client -> server + 8-byte ack (write pattern), and
/// 8-byte request -> 1 MiB reply (read pattern).
async fn raw_tcp(n: usize) -> (Duration, Duration) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let (mut r, mut w) = s.into_split();
        let mut buf = vec![0u8; MIB];
        let out = vec![7u8; MIB];
        loop {
            let mut op = [0u8; 8];
            if r.read_exact(&mut op).await.is_err() {
                return;
            }
            if op[0] == 1 {
                r.read_exact(&mut buf).await.unwrap();
                w.write_all(&[0u8; 8]).await.unwrap();
            } else {
                w.write_all(&out).await.unwrap();
            }
        }
    });
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut r, mut w) = s.into_split();
    let data = vec![3u8; MIB];
    let mut ack = [0u8; 8];
    let t = Instant::now();
    for _ in 0..n {
        w.write_all(&[1u8; 8]).await.unwrap();
        w.write_all(&data).await.unwrap();
        r.read_exact(&mut ack).await.unwrap();
    }
    let wt = t.elapsed();
    let mut buf = vec![0u8; MIB];
    let t = Instant::now();
    for _ in 0..n {
        w.write_all(&[2u8; 8]).await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
    }
    (wt, t.elapsed())
}

/// The storage peer: `mib` MiB written with 1 MiB pwrites into a fresh file of `dir` (the file
/// system the servers store on), the same work a server's chunk store must do at the least.
fn local_write(dir: &str, mib: usize, data: &[u8]) -> Duration {
    use std::os::unix::fs::FileExt;
    let path = std::path::Path::new(dir).join(format!("benchfs-bench-peer-{}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    let t = Instant::now();
    for i in 0..mib {
        f.write_all_at(data, (i * MIB) as u64).unwrap();
    }
    let d = t.elapsed();
    drop(f);
    std::fs::remove_file(&path).unwrap();
    d
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = std::env::var("BENCH_DIR").unwrap_or_else(|_| {
        if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm".into()
        } else {
            std::env::temp_dir().display().to_string()
        }
    });
    let servers = env_or("BENCH_SERVERS", 2) as usize;
    let mib = env_or("BENCH_MIB", 256) as usize;
    let rounds = env_or("BENCH_ROUNDS", 7).max(1) as usize;
    let secs = env_or("BENCH_SECS", 5);
    let chunk = env_or("BENCH_CHUNK", 4096) as u32 * 1024;
    println!(
        "BenchFS bench: {servers} embedded servers in {dir}, chunk {} KiB, {mib} MiB per phase",
        chunk / 1024
    );
    let mut base = benchfs::fs::ServerConfig::new(&dir, Vec::new());
    base.inline_io_max = env_or("BENCH_INLINE", base.inline_io_max as u64) as usize;
    base.sink_min = env_or("BENCH_SINK_MIN", base.sink_min as u64) as usize;
    let cluster = Cluster::embedded_config(servers, &dir, chunk, &base)
        .await
        .unwrap();
    let wpiece = env_or(
        "BENCH_WRITE_PIECE",
        benchfs::fs::client::DEFAULT_WRITE_PIECE as u64,
    ) as u32;
    let rpiece = env_or(
        "BENCH_READ_PIECE",
        benchfs::fs::client::DEFAULT_READ_PIECE as u64,
    ) as u32;
    let fs = cluster
        .client_with(benchfs::fs::ClientOptions {
            write_piece: wpiece,
            read_piece: rpiece,
            ..Default::default()
        })
        .await
        .unwrap();
    println!(
        "request pieces of at most {} KiB (writes), {} KiB (reads)",
        wpiece / 1024,
        rpiece / 1024
    );

    // Interleaved rounds: raw TCP and BenchFS alternate, so that both see the same noise of
    // this shared machine; the ratio of each round is computed, and medians reported.
    let _ = raw_tcp(16).await;
    let data = bytes::Bytes::from(vec![0x5au8; MIB]);
    let bytes = (mib * MIB) as u64;
    let copy_writes = env_or("BENCH_COPY", 0) != 0;
    println!(
        "writes through {}",
        if copy_writes {
            "write_at (one copy of the caller's buffer)"
        } else {
            "write_at_bytes (no copy)"
        }
    );
    let mut rows = Vec::new();
    for round in 0..rounds {
        let (raw_w, raw_r) = raw_tcp(mib).await;
        let local_w = local_write(&dir, mib, &data);
        let path = format!("/seq{round}");
        // First into a new file (the servers allocate storage as they go), then the same
        // file again (the storage exists: what is left is the network and BenchFS itself).
        let mut fs_w = Duration::ZERO;
        let mut fs_rw = Duration::ZERO;
        for pass in 0..2 {
            let f = if pass == 0 {
                fs.create(&path).await.unwrap()
            } else {
                fs.open(&path, OpenFlags::write_only()).await.unwrap()
            };
            let t = Instant::now();
            for i in 0..mib {
                if copy_writes {
                    f.write_at((i * MIB) as u64, &data).await.unwrap();
                } else {
                    f.write_at_bytes((i * MIB) as u64, data.clone())
                        .await
                        .unwrap();
                }
            }
            f.close().await.unwrap();
            if pass == 0 {
                fs_w = t.elapsed();
            } else {
                fs_rw = t.elapsed();
            }
        }
        let r = fs.open(&path, OpenFlags::read_only()).await.unwrap();
        let mut buf = vec![0u8; MIB];
        let t = Instant::now();
        for i in 0..mib {
            let n = r.read_at((i * MIB) as u64, &mut buf).await.unwrap();
            assert_eq!(n, MIB);
        }
        let fs_r = t.elapsed();
        assert_eq!(buf[..16], [0x5au8; 16]);
        r.close().await.unwrap();
        if round + 1 < rounds {
            fs.unlink(&path).await.unwrap();
        }
        let row = [
            gib_s(bytes, fs_w),
            gib_s(bytes, raw_w),
            gib_s(bytes, fs_r),
            gib_s(bytes, raw_r),
            gib_s(bytes, local_w),
            gib_s(bytes, fs_rw),
        ];
        println!(
            "  round {round}: write {:5.2} / rewrite {:5.2} vs raw {:5.2} GiB/s ({:5.1} % / {:5.1} %), read {:5.2} vs raw {:5.2} GiB/s ({:5.1} %), local file write {:5.2} GiB/s",
            row[0], row[5], row[1], 100.0 * row[0] / row[1], 100.0 * row[5] / row[1], row[2], row[3], 100.0 * row[2] / row[3], row[4]
        );
        rows.push(row);
    }
    let med = |f: &dyn Fn(&[f64; 6]) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!("sequential 1 MiB transfers, one in flight (medians of {rounds} rounds):");
    println!(
        "  write: BenchFS {:6.2} GiB/s   raw TCP {:6.2} GiB/s   ratio {:5.1} %",
        med(&|r| r[0]),
        med(&|r| r[1]),
        100.0 * med(&|r| r[0] / r[1])
    );
    println!(
        "  write: local file (the servers' storage, no network) {:6.2} GiB/s; BenchFS / min(raw TCP, local write) {:5.1} %",
        med(&|r| r[4]),
        100.0 * med(&|r| r[0] / r[1].min(r[4]))
    );
    println!(
        "  rewrite of the same file (storage already allocated): BenchFS {:6.2} GiB/s   raw TCP {:6.2} GiB/s   ratio {:5.1} %",
        med(&|r| r[5]),
        med(&|r| r[1]),
        100.0 * med(&|r| r[5] / r[1])
    );
    println!(
        "  read:  BenchFS {:6.2} GiB/s   raw TCP {:6.2} GiB/s   ratio {:5.1} %",
        med(&|r| r[2]),
        med(&|r| r[3]),
        100.0 * med(&|r| r[2] / r[3])
    );
    let path = format!("/seq{}", rounds - 1);
    let r = fs.open(&path, OpenFlags::read_only()).await.unwrap();

    // 4 KiB random reads, 32 in flight, over the file just written.
    let file_blocks = (mib * MIB / 4096) as u64;
    let hist = Arc::new(std::sync::Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let r = r.clone();
        let hist = hist.clone();
        tasks.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut x = 0x9e3779b97f4a7c15u64 ^ task;
            let mut buf = vec![0u8; 4096];
            let mut n = 0u64;
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = (x % file_blocks) * 4096;
                let s = Instant::now();
                let got = r.read_at(off, &mut buf).await.unwrap();
                assert_eq!(got, 4096);
                local.record(s.elapsed().as_micros().max(1) as u64).unwrap();
                n += 1;
            }
            hist.lock().unwrap().add(&local).unwrap();
            n
        }));
    }
    let mut ops = 0;
    for t in tasks {
        ops += t.await.unwrap();
    }
    let el = t.elapsed();
    let h = hist.lock().unwrap().clone();
    println!(
        "random 4 KiB reads, 32 in flight: {:.0} IOPS, p50 {} us, p99 {} us, max {} us ({ops} reads)",
        ops as f64 / el.as_secs_f64(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
    r.close().await.unwrap();
    fs.unlink(&path).await.unwrap();

    // Metadata: 32 tasks create, stat and remove empty files in one shared directory.
    let files = env_or("BENCH_FILES", 20_000);
    fs.mkdir("/md", 0o755).await.unwrap();
    for phase in ["create", "stat", "remove"] {
        let t = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..32u64 {
            let fs = fs.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = task;
                while i < files {
                    let p = format!("/md/f{i}");
                    match phase {
                        "create" => fs.create(&p).await.unwrap().close().await.unwrap(),
                        "stat" => {
                            fs.stat(&p).await.unwrap();
                        }
                        _ => fs.unlink(&p).await.unwrap(),
                    }
                    i += 32;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        println!(
            "metadata, 32 in flight, one directory: {phase} {:.0} files/s",
            files as f64 / t.elapsed().as_secs_f64()
        );
    }
    fs.rmdir("/md").await.unwrap();
    cluster.shutdown().await.unwrap();
}
