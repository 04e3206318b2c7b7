//! Unit tests of the local transport: a test handler behind a [`LocalListener`], reached
//! through [`LocalConnector`].

use super::*;
use crate::fs::transport::io_buffer::IoBuffer;
use crate::fs::transport::{ConnectionLimits, FileRegion, FileSink};
use std::sync::atomic::AtomicUsize;

/// Echoes (op 1), waits for the gate (op 2, counting the calls that began), replies with a
/// region of its file (op 3: offset and length in the message), takes its payload into its
/// file (op 4: the offset in the message), fails (op 5).
struct TestHandler {
    file: Arc<std::fs::File>,
    gate: Semaphore,
    began: AtomicUsize,
    /// The other address its listener is entered under (unique to the test).
    alias: String,
}

fn le(msg: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(msg[at..at + 8].try_into().unwrap())
}

impl Handler for TestHandler {
    fn handle(
        self: Arc<Self>,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        Box::pin(async move {
            match op {
                1 => Ok(Reply::new(msg, bulk)),
                2 => {
                    self.began.fetch_add(1, Ordering::SeqCst);
                    let _p = self.gate.acquire().await.unwrap();
                    Ok(Reply::new(msg, Bytes::new()))
                }
                3 => Ok(Reply {
                    msg: Bytes::new(),
                    bulk: Bytes::new(),
                    file: Some(FileRegion {
                        file: self.file.clone(),
                        offset: le(&msg, 0),
                        len: le(&msg, 8) as usize,
                        pin: None,
                    }),
                }),
                _ => Err(FsError::NotFound("nothing here".into())),
            }
        })
    }

    fn file_sink(&self, op: u16, msg: &Bytes, _len: usize) -> Option<FsResult<FileSink>> {
        (op == 4).then(|| {
            Ok(FileSink {
                file: self.file.clone(),
                offset: le(msg, 0),
                hold: None,
                pin: None,
            })
        })
    }

    fn handle_stored(
        self: Arc<Self>,
        _op: u16,
        msg: Bytes,
        len: usize,
        stored: FsResult<()>,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        Box::pin(async move {
            stored?;
            Ok(Reply::new(
                msg,
                Bytes::from((len as u64).to_le_bytes().to_vec()),
            ))
        })
    }
}

static NEXT_ALIAS: AtomicUsize = AtomicUsize::new(1);

const SECRET: &[u8] = b"the-secret";
const T: Duration = Duration::from_secs(5);

fn listen(per_connection: usize) -> (LocalListener, Arc<TestHandler>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("f"))
        .unwrap();
    let h = Arc::new(TestHandler {
        file: Arc::new(file),
        gate: Semaphore::new(0),
        began: AtomicUsize::new(0),
        alias: format!("127.0.0.2:{}", NEXT_ALIAS.fetch_add(1, Ordering::Relaxed)),
    });
    let opts = ListenOptions {
        addr: String::new(),
        secret: SECRET.to_vec(),
        store: 0x5eed,
        max_in_flight: 16,
        per_connection,
        max_connections: 16,
        max_unauthenticated: 16,
        limits: ConnectionLimits::default(),
        offload: false,
    };
    let l = LocalListener::bind(&opts, h.clone(), std::slice::from_ref(&h.alias));
    (l, h, dir)
}

async fn connect(l: &LocalListener) -> Arc<LocalConnection> {
    LocalConnector
        .connect_to(l.local_addr(), SECRET, T)
        .await
        .unwrap()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_get_their_own_replies_and_errors_travel_as_on_tcp() {
    let (l, _h, _d) = listen(64);
    let c = connect(&l).await;
    assert_eq!(c.store(), Some(0x5eed));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let c = c.clone();
        tasks.spawn(async move {
            let msg = Bytes::from(i.to_le_bytes().to_vec());
            let bulk = Bytes::from(pattern(i as usize * 13, i as u8));
            let r = c.call(1, msg.clone(), bulk.clone(), T).await.unwrap();
            // The message and payload are handed over, not copied.
            assert_eq!(r.msg.as_ptr(), msg.as_ptr());
            assert_eq!(r.bulk, bulk);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let e = c.call(5, Bytes::new(), Bytes::new(), T).await.unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(!c.is_closed());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_by_the_tcp_handshake() {
    let (l, _h, _d) = listen(4);
    let e = LocalConnector
        .connect_to(l.local_addr(), b"not-it", T)
        .await
        .err()
        .unwrap();
    // As over TCP, the client finds first that the server cannot prove the secret it holds.
    assert_eq!(e.errno(), libc::EACCES, "{e}");
    assert!(e.to_string().contains("cluster secret"), "{e}");
}

#[tokio::test]
async fn payloads_into_file_sinks_and_file_region_replies_are_byte_exact() {
    let (l, h, _d) = listen(4);
    let c = connect(&l).await;
    let data = pattern(300_000, 3);
    let at = 4096u64;
    let r = c
        .call(
            4,
            Bytes::from(at.to_le_bytes().to_vec()),
            Bytes::from(data.clone()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        le(&r.bulk, 0),
        data.len() as u64,
        "handle_stored got the length"
    );
    let mut back = vec![0u8; data.len()];
    h.file.read_exact_at(&mut back, at).unwrap();
    assert_eq!(back, data, "the payload is in the sink's file");
    // A region reaching past the end of the file comes back padded with zeros.
    let mut msg = (at + 1000).to_le_bytes().to_vec();
    msg.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let r = c.call(3, Bytes::from(msg), Bytes::new(), T).await.unwrap();
    assert_eq!(r.bulk.len(), data.len());
    assert_eq!(&r.bulk[..data.len() - 1000], &data[1000..]);
    assert!(r.bulk[data.len() - 1000..].iter().all(|b| *b == 0));
}

#[tokio::test]
async fn call_into_reads_a_file_region_straight_into_the_destination() {
    let (l, h, _d) = listen(4);
    let c = connect(&l).await;
    let data = pattern(200_000, 9);
    h.file.write_all_at(&data, 0).unwrap();
    let buf = Arc::new(IoBuffer::new(256 << 10).unwrap());
    let dest = IoSlice::new(buf, 1000..(1000 + data.len())).unwrap();
    let mut msg = 0u64.to_le_bytes().to_vec();
    msg.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let before = COPY_STATS.read().in_place;
    let r = c
        .call_into(3, Bytes::from(msg), Bytes::new(), dest.clone(), T)
        .await
        .unwrap();
    assert!(dest.holds(&r.bulk), "the reply is the destination's bytes");
    assert_eq!(dest.as_ref(), &data[..]);
    assert!(COPY_STATS.read().in_place >= before + data.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_fails_calls_at_once_naming_the_server() {
    let (l, h, _d) = listen(4);
    let addr = l.local_addr().to_string();
    let c = connect(&l).await;
    let stuck = tokio::spawn({
        let c = c.clone();
        async move { c.call(2, Bytes::new(), Bytes::new(), T).await }
    });
    while h.began.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    l.kill().await;
    let e = stuck.await.unwrap().unwrap_err();
    assert_eq!(e.errno(), libc::ECONNRESET, "{e}");
    assert!(e.to_string().contains(&addr), "{e}");
    assert!(c.is_closed() && !c.closed_unread());
    let e = c.call(1, Bytes::new(), Bytes::new(), T).await.unwrap_err();
    assert_eq!(e.errno(), libc::ECONNRESET);
    // The handler is let go of (the server's stores may close).
    assert_eq!(Arc::strong_count(&h), 1);
    let e = LocalConnector
        .connect_to(&addr, SECRET, T)
        .await
        .err()
        .unwrap();
    assert_eq!(e.errno(), libc::ECONNREFUSED, "{e}");
    assert!(in_process(&addr).is_none() && in_process(&h.alias).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_calls_in_progress_and_refuses_later_ones_unread() {
    let (l, h, _d) = listen(4);
    let c = connect(&l).await;
    let running = tokio::spawn({
        let c = c.clone();
        async move {
            c.call(2, Bytes::from_static(b"kept"), Bytes::new(), T)
                .await
        }
    });
    while h.began.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let stop = tokio::spawn(l.shutdown());
    // The stop waits for the call in progress.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!stop.is_finished());
    let e = c.call(1, Bytes::new(), Bytes::new(), T).await.unwrap_err();
    assert_eq!(e.errno(), libc::EBUSY, "{e}");
    assert!(
        c.closed_unread(),
        "a call refused by the stop may be sent again"
    );
    h.gate.add_permits(1);
    let r = running.await.unwrap().unwrap();
    assert_eq!(&r.msg[..], b"kept");
    stop.await.unwrap();
    assert_eq!(Arc::strong_count(&h), 1);
}

#[tokio::test]
async fn in_flight_calls_are_bounded_by_the_connections_slots() {
    let (l, h, _d) = listen(2);
    let c = connect(&l).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let c = c.clone();
        held.push(tokio::spawn(async move {
            c.call(2, Bytes::new(), Bytes::new(), T).await
        }));
    }
    while h.began.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    // A third call waits for a slot, and times out waiting.
    let e = c
        .call(1, Bytes::new(), Bytes::new(), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT, "{e}");
    assert_eq!(h.began.load(Ordering::SeqCst), 2);
    // Another connection has slots of its own.
    let other = connect(&l).await;
    other.call(1, Bytes::new(), Bytes::new(), T).await.unwrap();
    h.gate.add_permits(2);
    for t in held {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn an_address_of_another_process_is_not_offered_here() {
    let (l, h, _d) = listen(4);
    assert_eq!(in_process(l.local_addr()).as_deref(), Some(l.local_addr()));
    assert_eq!(
        in_process(&h.alias).as_deref(),
        Some(l.local_addr()),
        "the server's other addresses lead to it"
    );
    // The same listener number in another process (another pid, another nonce).
    let n = l.local_addr().rsplit(':').next().unwrap();
    let foreign = format!("{SCHEME}1:0123456789abcdef:{n}");
    assert!(in_process(&foreign).is_none());
    let e = LocalConnector
        .connect_to(&foreign, SECRET, T)
        .await
        .err()
        .unwrap();
    assert_eq!(e.errno(), libc::ECONNREFUSED, "{e}");
    assert!(
        e.to_string().contains("not a server of this process"),
        "{e}"
    );
    let e = LocalConnector
        .connect_to("127.0.0.1:1", SECRET, T)
        .await
        .err()
        .unwrap();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
}
