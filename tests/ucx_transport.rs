//! The UCX transport (src/fs/transport/ucx_rpc.rs) through the `Connector`, `Connection` and
//! `Listener` traits, with a test handler: concurrent calls never swap replies, payloads
//! from a few bytes to several MiB (eager and rendezvous) arrive intact both ways, the
//! server bounds the requests it runs at once, the secret is checked, a killed server fails
//! its clients' calls promptly with an error naming it, and a graceful stop answers the
//! calls in flight first. Traffic stays on loopback (`UCX_NET_DEVICES=lo`).
#![cfg(feature = "ucx")]

mod ucx_util;

use benchfs::fs::transport::io_buffer::IoSlice;
use benchfs::fs::transport::ucx_rpc::{direct_stats, use_context, UcxConnector, UcxListenerTask};
use benchfs::fs::transport::{
    BoxFuture, ConnectionLimits, Connector, Handler, ListenOptions, Reply,
};
use benchfs::fs::{FsError, FsResult};
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Echoes message and payload back; op 99 fails, op 98 never answers, op 97 answers once
/// the test opens its gate (one permit per call). Counts the requests running at once.
struct Echo {
    running: AtomicUsize,
    max_running: AtomicUsize,
    gate: tokio::sync::Semaphore,
}

impl Default for Echo {
    fn default() -> Self {
        Echo {
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Handler for Echo {
    fn handle(
        self: Arc<Self>,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        Box::pin(async move {
            if op == 99 {
                return Err(FsError::NotEmpty("not empty here".into()));
            }
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            match op {
                98 => tokio::time::sleep(Duration::from_secs(3600)).await,
                97 => {
                    if let Ok(p) = self.gate.acquire().await {
                        p.forget();
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis((bulk.len() % 5) as u64)).await,
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(Reply::new(msg, bulk))
        })
    }
}

fn setup() {
    use_context(ucx_util::context("all"));
}

fn serve(secret: &[u8], per_connection: usize) -> (UcxListenerTask, Arc<Echo>) {
    serve_with(secret, per_connection, 64)
}

fn serve_with(
    secret: &[u8],
    per_connection: usize,
    max_connections: usize,
) -> (UcxListenerTask, Arc<Echo>) {
    setup();
    let echo = Arc::new(Echo::default());
    let l = UcxListenerTask::bind(
        ListenOptions {
            addr: "127.0.0.1:0".into(),
            secret: secret.to_vec(),
            store: 0x5eed,
            max_in_flight: 64,
            per_connection,
            max_connections,
            max_unauthenticated: 16,
            limits: ConnectionLimits::default(),
            offload: true,
        },
        echo.clone(),
        "echo-server",
    )
    .unwrap();
    (l, echo)
}

const T: Duration = Duration::from_secs(20);

fn pattern(seed: usize, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i.wrapping_mul(7).wrapping_add(seed * 13) % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_of_every_size_get_their_own_replies() {
    let (l, echo) = serve(b"k", 4);
    let c = UcxConnector::new().unwrap();
    let conn = c.connect(l.local_address(), b"k", T).await.unwrap();
    assert!(conn.peer().contains("echo-server"), "{}", conn.peer());
    let sizes = [0usize, 1, 100, 4096, 65_536, 300_000, 1 << 20, 5 << 20];
    let mut tasks = Vec::new();
    for i in 0..64usize {
        let conn = conn.clone();
        let len = sizes[i % sizes.len()];
        tasks.push(tokio::spawn(async move {
            // Messages both inline (short) and too long for the header.
            let msg = pattern(i + 1000, if i % 3 == 0 { 9000 } else { 8 + i });
            let bulk = pattern(i, len);
            let r = conn.call(5, msg.clone(), bulk.clone(), T).await.unwrap();
            assert_eq!(r.msg, msg, "message of call {i}");
            assert!(r.bulk == bulk, "payload of call {i} ({len} bytes)");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let max = echo.max_running.load(Ordering::SeqCst);
    assert!((1..=4).contains(&max), "{max} requests ran at once");
    let e = conn
        .call(99, Bytes::new(), Bytes::new(), T)
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENOTEMPTY);
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_secret_is_refused() {
    let (l, _) = serve(b"right", 8);
    let c = UcxConnector::new().unwrap();
    for s in [&b"wrong"[..], &b""[..]] {
        let e = c.connect(l.local_address(), s, T).await.err().unwrap();
        assert_eq!(e.errno(), libc::EACCES, "{e}");
    }
    assert!(c.connect(l.local_address(), b"right", T).await.is_ok());
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_reply_times_out_naming_the_server() {
    let (l, _) = serve(b"k", 8);
    let c = UcxConnector::new().unwrap();
    let conn = c.connect(l.local_address(), b"k", T).await.unwrap();
    let e = conn
        .call(98, Bytes::new(), Bytes::new(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    assert!(e.to_string().contains("echo-server"), "{e}");
    // The connection still works afterwards.
    let r = conn
        .call(5, Bytes::from_static(b"x"), Bytes::new(), T)
        .await;
    assert_eq!(r.unwrap().msg, Bytes::from_static(b"x"));
    l.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_calls_in_flight_promptly_and_refuses_new_connections() {
    killed_server_fails_calls_in_flight().await
}

/// As above, with the connection on the calling thread's own worker (a current-thread
/// runtime): the calls that drive it are failed by the peer-failure endpoint's thread.
#[tokio::test(flavor = "current_thread")]
async fn a_killed_server_fails_direct_calls_in_flight_promptly() {
    killed_server_fails_calls_in_flight().await
}

async fn killed_server_fails_calls_in_flight() {
    let (l, _) = serve(b"k", 8);
    let addr = l.local_address().to_string();
    let c = UcxConnector::new().unwrap();
    let conn = c.connect(&addr, b"k", T).await.unwrap();
    let long = Duration::from_secs(60);
    let mut calls = Vec::new();
    for _ in 0..4 {
        let conn = conn.clone();
        calls.push(tokio::spawn(async move {
            conn.call(98, Bytes::new(), Bytes::new(), long).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = Instant::now();
    l.kill().await;
    for t in calls {
        let e = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("a call to a killed server hung")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.errno(), libc::ECONNRESET, "{e}");
        assert!(e.to_string().contains("echo-server"), "{e}");
    }
    assert!(killed.elapsed() < Duration::from_secs(30));
    assert!(conn.is_closed());
    let e = conn
        .call(5, Bytes::new(), Bytes::new(), T)
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ECONNRESET);
    let e = c
        .connect(&addr, b"k", Duration::from_secs(10))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e.errno(), libc::ECONNREFUSED | libc::ETIMEDOUT),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_answers_the_calls_in_flight() {
    graceful_stop_answers_calls_in_flight().await
}

/// As above, with the calls driving their own thread's worker (a current-thread runtime).
#[tokio::test(flavor = "current_thread")]
async fn a_graceful_stop_answers_direct_calls_in_flight() {
    graceful_stop_answers_calls_in_flight().await
}

async fn graceful_stop_answers_calls_in_flight() {
    let (l, echo) = serve(b"k", 8);
    let c = UcxConnector::new().unwrap();
    let conn = c.connect(l.local_address(), b"k", T).await.unwrap();
    let mut calls = Vec::new();
    for i in 0..6 {
        let conn = conn.clone();
        calls.push(tokio::spawn(async move {
            conn.call(97, pattern(i, 16), pattern(i, 200_000), T).await
        }));
    }
    // Every call has reached the server (its handler runs, held at the gate) before the
    // stop begins. (The handlers once slept 200 ms instead: under load the six calls did
    // not all arrive within 200 ms, the count never reached 6, and the test failed.)
    let deadline = Instant::now() + T;
    while echo.running.load(Ordering::SeqCst) < 6 {
        assert!(
            Instant::now() < deadline,
            "the calls never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let addr = l.local_address().to_string();
    let stop = tokio::spawn(l.shutdown());
    // The stop has begun once new connections are refused; then the handlers finish.
    loop {
        match c.connect(&addr, b"k", T).await {
            Err(e) => {
                assert_eq!(e.errno(), libc::EBUSY, "{e}");
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "the stop never began"),
        }
    }
    echo.gate.add_permits(6);
    stop.await.unwrap();
    for (i, t) in calls.into_iter().enumerate() {
        let r = t.await.unwrap().unwrap();
        assert!(r.bulk == pattern(i, 200_000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_are_refused_until_one_closes() {
    let (l, _) = serve_with(b"k", 8, 2);
    let c = UcxConnector::new().unwrap();
    let a = c.connect(l.local_address(), b"k", T).await.unwrap();
    let b = c.connect(l.local_address(), b"k", T).await.unwrap();
    let e = c.connect(l.local_address(), b"k", T).await.err().unwrap();
    assert_eq!(e.errno(), libc::EBUSY, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("--max-connections") && msg.contains("ucx/echo-server"),
        "{msg}"
    );
    // The connections within the limit still work.
    for conn in [&a, &b] {
        let r = conn
            .call(5, Bytes::from_static(b"y"), Bytes::new(), T)
            .await;
        assert_eq!(r.unwrap().msg, Bytes::from_static(b"y"));
    }
    // Once one closes, the server forgets it and serves a new client.
    drop(a);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let d = loop {
        match c.connect(l.local_address(), b"k", T).await {
            Ok(d) => break d,
            Err(e) => {
                assert_eq!(e.errno(), libc::EBUSY, "{e}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "never served again: {e}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let r = d.call(5, Bytes::from_static(b"z"), Bytes::new(), T).await;
    assert_eq!(r.unwrap().msg, Bytes::from_static(b"z"));
    l.shutdown().await;
}

/// Calls made on a current-thread runtime are carried by that thread's own worker: every
/// reply is delivered by the calling thread itself (its worker's count grows by one per
/// call), none by the connector's worker thread. (Before, every call was posted to that
/// thread and its reply came back from there: two thread hops per call.) Eager and
/// rendezvous payloads, one at a time and many at once, into plain memory and into the
/// caller's registered buffer, all arrive intact.
#[tokio::test(flavor = "current_thread")]
async fn calls_on_a_current_thread_runtime_are_progressed_by_the_calling_thread() {
    let (l, _) = serve(b"k", 64);
    let c = UcxConnector::new().unwrap();
    let conn = c.connect_to(l.local_address(), b"k", T).await.unwrap();
    assert!(conn.is_direct());
    let (_, before) = direct_stats().expect("this thread has its own worker");
    let sizes = [0usize, 100, 4096, 300_000, 2 << 20];
    let mut calls = 0u64;
    for (i, &len) in sizes.iter().enumerate() {
        let r = conn
            .call_ucx(7, pattern(i, 16), pattern(i, len), None, T)
            .await
            .unwrap();
        assert!(
            r.msg == pattern(i, 16) && r.bulk == pattern(i, len),
            "size {len}"
        );
        calls += 1;
    }
    let io = Arc::new(c.alloc_io_buffer(2 << 20).unwrap());
    for (i, &len) in sizes.iter().enumerate().skip(1) {
        let dest = IoSlice::new(io.clone(), 0..len).unwrap();
        let r = conn
            .call_ucx(7, Bytes::new(), pattern(i, len), Some(dest.clone()), T)
            .await
            .unwrap();
        assert!(
            r.bulk == pattern(i, len),
            "size {len} into the caller's buffer"
        );
        assert!(dest.as_ref() == &pattern(i, len)[..]);
        calls += 1;
    }
    let many = (0..32).map(|i| {
        let conn = conn.clone();
        async move {
            let len = sizes[i % sizes.len()];
            let r = conn
                .call_ucx(7, pattern(i, 8), pattern(i, len), None, T)
                .await
                .unwrap();
            assert!(r.bulk == pattern(i, len), "call {i}");
        }
    });
    futures::future::join_all(many).await;
    calls += 32;
    let (stats, after) = direct_stats().unwrap();
    assert_eq!(
        after - before,
        calls,
        "every reply delivered on the calling thread"
    );
    assert!(stats.busy_rounds > 0);
    assert_eq!(
        c.thread_replies().await.unwrap(),
        0,
        "none by the worker thread"
    );
    drop(conn);
    l.shutdown().await;
}

/// A connection opened on one thread's own worker and called from another thread (with a
/// runtime of its own) answers there too, over the connector's worker thread, and still
/// over its own worker at home.
#[test]
fn a_direct_connection_called_from_another_thread_answers_there_too() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (l, _) = serve(b"k", 8);
    let c = UcxConnector::new().unwrap();
    let conn = rt
        .block_on(c.connect_to(l.local_address(), b"k", T))
        .unwrap();
    assert!(conn.is_direct());
    let away = conn.clone();
    let elsewhere = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..5 {
                let r = away
                    .call_ucx(7, pattern(i, 8), pattern(i, 100_000), None, T)
                    .await
                    .unwrap();
                assert!(r.bulk == pattern(i, 100_000));
            }
        });
        direct_stats().is_none()
    })
    .join()
    .unwrap();
    assert!(elsewhere, "the other thread made no worker of its own");
    assert!(rt.block_on(c.thread_replies()).unwrap() >= 5);
    let (_, before) = direct_stats().unwrap();
    let r = rt
        .block_on(conn.call_ucx(7, pattern(9, 8), pattern(9, 10), None, T))
        .unwrap();
    assert!(r.bulk == pattern(9, 10));
    assert_eq!(direct_stats().unwrap().1, before + 1);
    drop(conn);
    rt.block_on(l.shutdown());
}
