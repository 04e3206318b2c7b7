//! Peers that attack or fail a server: unauthenticated floods (no memory, capped, refused
//! clearly), old or malformed handshakes, stalled writers and readers (dropped, holding no
//! slot, not delaying a stop), and a descriptor limit of 1024 (cache sized from it, accept
//! backing off and logging once, existing clients still served).

use crate::common::run::scratch;
use crate::support::{self, cpu_ticks, rss, stalling_proxy, ticks_per_second, wait_until};
use benchfs::fs::transport::tcp::TcpConnector;
use benchfs::fs::wire::{FileId, FrameHeader, FrameKind, Op, Request, HEADER_LEN};
use benchfs::fs::{Client, ClientOptions, OpenFlags, RunningServer, ServerConfig};
use bytes::Bytes;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn header(op: u16, msg_len: u32, bulk_len: u32) -> [u8; HEADER_LEN] {
    FrameHeader {
        kind: FrameKind::Request,
        op,
        id: 1,
        msg_len,
        bulk_len,
    }
    .encode()
}

fn opts(timeout: Duration) -> ClientOptions {
    ClientOptions {
        timeout,
        connect_timeout: timeout,
        ..ClientOptions::default()
    }
}

#[test]
fn unauthenticated_peers_are_given_no_memory() {
    let d = scratch();
    let servers = support::cluster(d.path(), 1, &["--spare-chunks", "0"]);
    let (pid, addr) = (servers[0].pid(), servers[0].addr());
    let before = rss(pid);
    // 40 peers each announce a first frame of 1 MiB of message and 64 MiB of payload, and
    // send 16 MiB of it (before the fix the server read all of it into memory).
    let peers: Vec<_> = (0..40)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut sent = c
                    .write_all(&header(Op::Hello as u16, MIB as u32, 64 << 20))
                    .is_ok();
                let piece = vec![0x5au8; MIB];
                for _ in 0..16 {
                    if !sent {
                        break;
                    }
                    sent = c.write_all(&piece).is_ok();
                }
                c
            })
        })
        .collect();
    let open: Vec<TcpStream> = peers.into_iter().map(|p| p.join().unwrap()).collect();
    let grown = rss(pid).saturating_sub(before);
    assert!(
        grown < 64 * MIB as u64,
        "40 unauthenticated peers made the server grow by {} MiB",
        grown >> 20
    );
    drop(open);
    // And the server still serves a real client.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fs = Client::connect(d.path().join("registry")).await.unwrap();
        fs.stat("/").await.unwrap();
    });
}

#[test]
fn connections_beyond_the_cap_are_refused_with_a_clear_error() {
    let d = scratch();
    let servers = support::cluster(d.path(), 1, &["--max-connections", "4"]);
    let addr = servers[0].addr();
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = d.path().join("registry");
    rt.block_on(async {
        // The four idle peers fill the cap: a client is refused, and told why.
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = loop {
            match Client::connect_with(&reg, opts(Duration::from_secs(3))).await {
                Err(e) => break e,
                Ok(_) => {
                    // The listener may not have accepted every idle peer yet.
                    assert!(Instant::now() < deadline, "never refused");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        assert_eq!(e.errno(), libc::EBUSY, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("--max-connections") && msg.contains(&addr),
            "{msg}"
        );
        // Once they are gone, clients are served again.
        drop(idle);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Client::connect_with(&reg, opts(Duration::from_secs(3))).await {
                Ok(fs) => {
                    fs.stat("/").await.unwrap();
                    break;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "still refused: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });
}

#[test]
fn old_protocol_and_nonzero_reserved_bytes_are_refused() {
    let d = scratch();
    let servers = support::cluster(d.path(), 1, &[]);
    let addr = servers[0].addr();
    let secret = std::fs::read(d.path().join("registry/secret")).unwrap();
    // Version 2's Hello carried the secret in clear: it is refused now.
    let mut v2 = header(Op::Hello as u16, 4 + secret.len() as u32, 0);
    v2[2] = 2;
    let mut v2 = v2.to_vec();
    v2.extend_from_slice(&(secret.len() as u32).to_le_bytes());
    v2.extend_from_slice(&secret);
    // A v3 Hello with a reserved header byte set.
    let mut reserved = header(Op::Hello as u16, 32, 0).to_vec();
    reserved[6] = 1;
    reserved.extend_from_slice(&[7u8; 32]);
    for frame in [v2, reserved] {
        let mut c = TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(&frame).unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        // Closed, with at most an error frame: never a reply.
        if got.len() >= HEADER_LEN {
            let h = FrameHeader::decode(&got[..HEADER_LEN]).unwrap();
            assert_eq!(h.kind, FrameKind::Error);
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fs = Client::connect(d.path().join("registry")).await.unwrap();
        fs.stat("/").await.unwrap();
    });
}

/// An in-process server on a new data directory under `dir`, with `cfg` changed by `tune`.
async fn server(dir: &std::path::Path, tune: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut cfg = ServerConfig::new(dir.join("data"), b"test-secret".to_vec());
    cfg.spare_chunks = 0;
    tune(&mut cfg);
    RunningServer::start(cfg).await.unwrap()
}

/// The message of a chunk write (file `seq`, chunk 0) and its length.
fn write_request(seq: u64) -> Request {
    Request::Write {
        id: FileId { store: 9, seq },
        chunk: 0,
        offset: 0,
        chunk_size: 1 << 20,
    }
}

/// Bytes a client sends for the handshake (Hello and Prove frames).
const HANDSHAKE_UP: usize = 2 * (HEADER_LEN + 32);
/// Bytes a server sends for the handshake (Challenge and welcome replies).
const HANDSHAKE_DOWN: usize = (HEADER_LEN + 1 + 32 + 32 + 8) + (HEADER_LEN + 1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_writers_do_not_block_other_clients_and_are_dropped() {
    let d = scratch();
    let s = server(d.path(), |c| {
        c.limits.frame_timeout = Duration::from_secs(20);
    })
    .await;
    let addr = s.local_addr().to_string();
    let secret = b"test-secret".to_vec();
    // 256 writers (the server's request slots) each send a chunk write whose payload stops
    // after 1000 bytes.
    let stalled = Arc::new(AtomicUsize::new(0));
    let up = HANDSHAKE_UP + HEADER_LEN + write_request(0).encode().len() + 1000;
    let mut writers = Vec::new();
    for i in 0..256u64 {
        let proxy = stalling_proxy(&addr, up, usize::MAX, stalled.clone());
        let c = TcpConnector::default()
            .connect_to(&proxy, &secret, Duration::from_secs(10))
            .await
            .unwrap();
        let req = write_request(i);
        writers.push(tokio::spawn(async move {
            c.call_raw(
                req.op() as u16,
                req.encode(),
                Bytes::from(vec![1u8; MIB]),
                Duration::from_secs(60),
            )
            .await
        }));
    }
    let st = stalled.clone();
    support::wait_until_async("every writer stalled", Duration::from_secs(30), || {
        let st = st.clone();
        async move { st.load(Ordering::SeqCst) >= 256 }
    })
    .await;
    // Another client is served meanwhile: metadata and data.
    let fs = Client::from_servers(
        vec![addr.clone()],
        secret.clone(),
        opts(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let data = support::pattern(1, MIB);
    let f = fs.create("/live").await.unwrap();
    f.write_at(0, &data)
        .await
        .expect("served beside 256 stalled writers");
    f.close().await.unwrap();
    let r = fs.open("/live", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 2 * MIB).await.unwrap(), data);
    // After the frame timeout every stalled writer is dropped, told why.
    for w in writers {
        let e = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("a stalled writer was never dropped")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.errno(), libc::ETIMEDOUT, "{e}");
        assert!(e.to_string().contains("did not arrive"), "{e}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_is_not_delayed_by_a_silent_peer_or_one_that_does_not_read() {
    let d = scratch();
    let s = server(d.path(), |_| {}).await;
    let addr = s.local_addr().to_string();
    let secret = b"test-secret".to_vec();
    // A file to read.
    let fs = Client::from_servers(
        vec![addr.clone()],
        secret.clone(),
        opts(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let f = fs.create("/big").await.unwrap();
    f.write_at(0, &support::pattern(2, 8 * MIB)).await.unwrap();
    f.close().await.unwrap();
    let id = fs.stat("/big").await.unwrap().id;
    // A peer that never says Hello.
    let _silent = TcpStream::connect(&addr).unwrap();
    // A peer that takes the handshake and one reply, and then reads nothing, with reads of
    // 1 MiB in flight (it stalls once the server has begun its second reply).
    let stalled = Arc::new(AtomicUsize::new(0));
    let down = HANDSHAKE_DOWN + HEADER_LEN + 1 + MIB + 1;
    let proxy = stalling_proxy(&addr, usize::MAX, down, stalled.clone());
    let deaf = TcpConnector::default()
        .connect_to(&proxy, &secret, Duration::from_secs(10))
        .await
        .unwrap();
    for i in 0..32u64 {
        let deaf = deaf.clone();
        tokio::spawn(async move {
            let req = Request::Read {
                id,
                chunk: i % 2,
                offset: 0,
                len: MIB as u32,
            };
            let _ = deaf
                .call_raw(
                    req.op() as u16,
                    req.encode(),
                    Bytes::new(),
                    Duration::from_secs(120),
                )
                .await;
        });
    }
    let st = stalled.clone();
    support::wait_until_async("the deaf peer stalled", Duration::from_secs(30), || {
        let st = st.clone();
        async move { st.load(Ordering::SeqCst) >= 1 }
    })
    .await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), s.shutdown())
        .await
        .expect("the stop hung")
        .unwrap();
    let took = started.elapsed();
    // The handshake timeout is 5 s and the stop grace 2 s; before, a silent peer held the
    // stop 9 s and a deaf one 30 s.
    assert!(took < Duration::from_secs(5), "the stop took {took:?}");
}

#[test]
fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
    let d = scratch();
    let reg = d.path().join("registry");
    let s = support::Server::start_limited(&reg, &d.path().join("data"), 1, &[], Some((512, 4096)));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", s.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums, ["4096", "4096"], "{line}");
}

#[test]
fn a_server_limited_to_1024_descriptors_keeps_serving_many_chunks() {
    let d = scratch();
    let reg = d.path().join("registry");
    let s = support::Server::start_limited(
        &reg,
        &d.path().join("data"),
        1,
        &["--chunk-size", "64k", "--spare-chunks", "0"],
        Some((1024, 1024)),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fs = Client::connect(&reg).await.unwrap();
        // 1500 files of one chunk each: more chunk files than descriptors.
        for i in 0..1500u64 {
            let f = fs.create(&format!("/f{i}")).await.unwrap();
            f.write_at(0, &support::pattern(i, 4096))
                .await
                .unwrap_or_else(|e| panic!("file {i}: {e}"));
            f.close().await.unwrap();
        }
        for i in (0..1500u64).step_by(7) {
            let r = fs
                .open(&format!("/f{i}"), OpenFlags::read_only())
                .await
                .unwrap();
            assert_eq!(
                r.read_vec(0, 8192).await.unwrap(),
                support::pattern(i, 4096)
            );
        }
    });
    assert!(support::open_fds(s.pid()) < 1024);
}

#[test]
fn out_of_descriptors_accept_backs_off_logs_once_and_serves_its_clients() {
    let d = scratch();
    let reg = d.path().join("registry");
    let s = support::Server::start_limited(
        &reg,
        &d.path().join("data"),
        1,
        &["--max-connections", "100000", "--spare-chunks", "0"],
        Some((128, 128)),
    );
    let addr = s.addr();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fs = rt.block_on(async {
        let fs = Client::connect_with(&reg, opts(Duration::from_secs(10)))
            .await
            .unwrap();
        let f = fs.create("/a").await.unwrap();
        f.write_at(0, b"kept").await.unwrap();
        f.close().await.unwrap();
        fs
    });
    // 300 connections: far more than the server has descriptors for.
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    let pid = s.pid();
    wait_until(
        "the server ran out of descriptors",
        Duration::from_secs(30),
        || s.stderr_text().contains("cannot accept connections"),
    );
    // It does not spin: over two seconds it uses well under a core.
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(2));
    let used = (cpu_ticks(pid) - c0) as f64 / ticks_per_second() as f64;
    let share = used / t0.elapsed().as_secs_f64();
    assert!(share < 0.5, "the accept loop used {share:.2} of a core");
    // The clients it has are still served.
    rt.block_on(async {
        assert_eq!(fs.stat("/a").await.unwrap().size, 4);
        fs.mkdir("/d", 0o755).await.unwrap();
        let r = fs.open("/a", OpenFlags::read_only()).await.unwrap();
        assert_eq!(r.read_vec(0, 10).await.unwrap(), b"kept");
    });
    let warnings = s.stderr_text().matches("cannot accept connections").count();
    assert_eq!(warnings, 1, "{}", s.stderr_text());
    drop(flood);
    // Once the flood is gone, new clients connect again.
    rt.block_on(async {
        support::wait_until_async("a new client connects", Duration::from_secs(30), || {
            let reg = reg.clone();
            async move {
                Client::connect_with(&reg, opts(Duration::from_secs(3)))
                    .await
                    .is_ok()
            }
        })
        .await;
    });
}
