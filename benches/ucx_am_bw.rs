//! UCX active-message bandwidth through the BenchFS wrapper (src/fs/transport/ucx) against
//! `ucx_perftest -t ucp_am_bw` (the transport's own limit) on loopback, in the same run:
//! 1 MiB messages, over shared memory and over TCP. The wrapper's sender keeps a window of
//! messages in flight from registered buffers; its receiver takes each payload by rendezvous
//! into a registered buffer of a pool, then acknowledges the whole run. Goal (issue 18): the
//! wrapper at least 0.7x `ucx_perftest`.
//!
//! Also printed: CPU time per MiB of the wrapper's two worker threads (sender, receiver), so
//! that a run on a busy 2-core machine shows whether the CPUs or the transport set the limit.
//! `BENCH_UCX_SPIN_US` overrides the progress driver's spin window (`ProgressConfig::spin`).
//!
//! `cargo bench --bench ucx_am_bw --features ucx` runs the full measurement (several
//! interleaved rounds, medians); under `cargo test` it runs a small smoke configuration.
//! Needs `ucx_perftest` (Debian ucx-utils) for the peer; without it, only the wrapper is
//! measured.

mod ucx_peer;

use benchfs::fs::transport::ucx::{
    Context, ContextBuilder, ErrorMode, IoBuf, ProgressConfig, Protocol, RegisteredBuffer,
    Transfer, WorkerThread,
};
use std::rc::Rc;
use std::time::{Duration, Instant};

const MSG: usize = 1 << 20;
const DATA: u16 = 1;
const DONE: u16 = 2;
const WINDOW: usize = 16;

fn context(tls: &str) -> Context {
    ContextBuilder::new()
        .set("NET_DEVICES", "lo")
        .set("TLS", tls)
        .build()
        .expect("UCX context")
}

fn mode(tls: &str) -> ErrorMode {
    if tls == "tcp" {
        ErrorMode::Peer
    } else {
        ErrorMode::None
    }
}

/// Receiver side: takes `n` messages into a pool of registered buffers, then tells the
/// sender at `reply_to`.
type RxState = std::cell::RefCell<Option<benchfs::fs::transport::ucx::AmReceiver>>;

/// CPU time used so far by the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid out value; `getrusage` fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// What one run of the wrapper measured.
struct Run {
    mib_s: f64,
    /// CPU milliseconds per MiB of the sender's and the receiver's worker thread.
    cpu_ms_per_mib: (f64, f64),
    /// Waits of both progress drivers that ended by timeout with requests outstanding
    /// (events that did not reach the event fd).
    timeouts: u64,
}

/// One run of the wrapper: `n` messages of 1 MiB; MiB/s from the first send to the
/// receiver's acknowledgement.
fn wrapper_run(tls: &str, n: usize) -> Run {
    let ctx = context(tls);
    let m = mode(tls);
    let mut cfg = ProgressConfig::default();
    if let Some(us) = std::env::var("BENCH_UCX_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.spin = Duration::from_micros(us);
    }
    let server: WorkerThread<RxState> = WorkerThread::spawn(&ctx, "bw-server", cfg, |w| {
        Ok(std::cell::RefCell::new(Some(w.register_am(DATA)?)))
    })
    .expect("server thread");
    let client: WorkerThread<RxState> = WorkerThread::spawn(&ctx, "bw-client", cfg, |w| {
        Ok(std::cell::RefCell::new(Some(w.register_am(DONE)?)))
    })
    .expect("client thread");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client_addr, server_addr) = (client.address().clone(), server.address().clone());
    let ctx2 = ctx.clone();
    let served = server.run(move |w, rx| async move {
        let cpu0 = thread_cpu();
        let mut rx = rx.borrow_mut().take().expect("receiver");
        let back = w.connect(&client_addr, m).expect("connect back");
        let pool = Rc::new(std::cell::RefCell::new(
            (0..WINDOW)
                .map(|_| RegisteredBuffer::new(&ctx2, MSG).expect("register"))
                .collect::<Vec<_>>(),
        ));
        let mut tasks = Vec::new();
        for _ in 0..n {
            let msg = rx.recv().await;
            let buf = loop {
                if let Some(b) = pool.borrow_mut().pop() {
                    break b;
                }
                tokio::task::yield_now().await;
            };
            let pool = pool.clone();
            tasks.push(tokio::task::spawn_local(async move {
                let b = msg.recv_into(buf).await.expect("receive");
                pool.borrow_mut().push(b);
            }));
        }
        for t in tasks {
            t.await.expect("receive task");
        }
        back.send_am(DONE, &[], Vec::new(), Protocol::Auto)
            .await
            .expect("ack");
        back.flush().await.expect("flush");
        (thread_cpu() - cpu0, w.progress_stats().busy_timeouts)
    });
    let ctx3 = ctx.clone();
    let sent = client.run(move |w, rx| async move {
        let mut rx = rx.borrow_mut().take().expect("receiver");
        let ep = w.connect(&server_addr, m).expect("connect");
        ep.flush().await.expect("connected");
        let mut free: Vec<RegisteredBuffer> = (0..WINDOW)
            .map(|_| {
                let mut b = RegisteredBuffer::new(&ctx3, MSG).expect("register");
                b.as_mut_slice().fill(0x5a);
                b
            })
            .collect();
        let start = Instant::now();
        let cpu0 = thread_cpu();
        let mut inflight: futures::stream::FuturesUnordered<Transfer<RegisteredBuffer>> =
            futures::stream::FuturesUnordered::new();
        use futures::StreamExt;
        for i in 0..n {
            let buf = match free.pop() {
                Some(b) => b,
                None => inflight
                    .next()
                    .await
                    .expect("a send in flight")
                    .expect("send"),
            };
            debug_assert_eq!(buf.len(), MSG);
            inflight.push(ep.send_am(DATA, &(i as u64).to_le_bytes(), buf, Protocol::Rendezvous));
        }
        while let Some(r) = inflight.next().await {
            free.push(r.expect("send"));
        }
        drop(rx.recv().await);
        let secs = start.elapsed().as_secs_f64();
        (
            (n * MSG) as f64 / (1 << 20) as f64 / secs,
            thread_cpu() - cpu0,
            w.progress_stats().busy_timeouts,
        )
    });
    let (s, r) = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(300), async {
            tokio::join!(served, sent)
        })
        .await
        .expect("wrapper run hung")
    });
    let (rx_cpu, rx_timeouts) = s.expect("server");
    let (mib_s, tx_cpu, tx_timeouts) = r.expect("client");
    server.shutdown();
    client.shutdown();
    let per_mib = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
    Run {
        mib_s,
        cpu_ms_per_mib: (per_mib(tx_cpu), per_mib(rx_cpu)),
        timeouts: tx_timeouts + rx_timeouts,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, rounds) = if full { (4000, 5) } else { (64, 1) };
    println!(
        "UCX active messages, 1 MiB, loopback: wrapper vs ucx_perftest -t ucp_am_bw \
         (MiB/s, median of {rounds}; CPU ms per MiB of the wrapper's sender/receiver thread; \
         progress waits ended by timeout per 100 messages)"
    );
    println!(
        "{:<6} {:>10} {:>12} {:>7} {:>10} {:>10} {:>9}",
        "lanes", "wrapper", "ucx_perftest", "ratio", "cpu tx", "cpu rx", "timeouts"
    );
    let mut port = 13500 + (std::process::id() % 1000) as u16;
    for tls in ["sm", "tcp"] {
        let (mut ours, mut peer, mut tx, mut rx, mut to) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let r = wrapper_run(tls, n);
            ours.push(r.mib_s);
            tx.push(r.cpu_ms_per_mib.0);
            rx.push(r.cpu_ms_per_mib.1);
            to.push(r.timeouts as f64 * 100.0 / n as f64);
            port += 1;
            if let Some(p) = ucx_peer::am_bw_mib_s(tls, MSG, n, port) {
                peer.push(p);
            }
        }
        let o = median(ours);
        assert!(o > 0.0, "the wrapper moved data");
        let (peer_s, ratio) = if peer.is_empty() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            let p = median(peer);
            (format!("{p:.0}"), format!("{:.2}", o / p))
        };
        println!(
            "{tls:<6} {o:>10.0} {peer_s:>12} {ratio:>7} {:>10.3} {:>10.3} {:>9.1}",
            median(tx),
            median(rx),
            median(to)
        );
    }
}
