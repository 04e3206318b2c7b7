//! UCX active messages through the wrapper (src/fs/transport/ucx): ping-pong of small
//! (eager) and large (rendezvous) payloads over shared memory and over TCP on loopback, many
//! concurrent messages, registered buffers, and the wrapper's refusals.
#![cfg(feature = "ucx")]

mod ucx_util;

use benchfs::fs::transport::ucx::{
    AmReceiver, Endpoint, ErrorMode, IncomingMessage, Protocol, RegisteredBuffer, UcxError, Window,
    Worker,
};
use std::collections::HashSet;
use ucx_util::{context, header, parse_header, pattern, run_local, worker};

const REQ: u16 = 1;
const REPLY: u16 = 2;
const MIB: usize = 1 << 20;

/// Echoes every message on `rx` back on `ep` (id REPLY), receiving each payload into a
/// fresh buffer first.
async fn echo(mut rx: AmReceiver, ep: Endpoint) {
    loop {
        let m = rx.recv().await;
        let h = m.header().clone();
        let data = m.into_bytes().await.expect("server receives the payload");
        ep.send_am(REPLY, &h, data, Protocol::Auto)
            .await
            .expect("server echoes");
    }
}

/// Two workers connected both ways by worker address: (client, client's endpoint to the
/// server, receiver of replies on the client).
fn address_pair(
    ctx: &benchfs::fs::transport::ucx::Context,
    mode: ErrorMode,
) -> (Worker, Endpoint, AmReceiver) {
    let server = worker(ctx, "server");
    let srx = server.register_am(REQ).expect("register");
    let client = worker(ctx, "client");
    let crx = client.register_am(REPLY).expect("register");
    let to_server = client
        .connect(&server.address().expect("address"), mode)
        .expect("connect");
    let to_client = server
        .connect(&client.address().expect("address"), mode)
        .expect("connect back");
    tokio::task::spawn_local(echo(srx, to_client));
    (client, to_server, crx)
}

async fn round_trip(ep: &Endpoint, rx: &mut AmReceiver, id: u64, len: usize) -> IncomingMessage {
    let payload = pattern(id, len);
    let sent = ep
        .send_am(REQ, &header(id, id), payload, Protocol::Auto)
        .await
        .expect("send");
    assert_eq!(sent.len(), len, "the send gives its buffer back");
    let reply = rx.recv().await;
    assert_eq!(parse_header(reply.header()), (id, id));
    assert_eq!(reply.payload_len(), len);
    reply
}

/// Ping-pong of 64 B, 1 MiB and 16 MiB payloads; the large ones must travel by rendezvous
/// and land intact in the buffer the receiver offers.
async fn ping_pong(ep: Endpoint, mut rx: AmReceiver) {
    for (i, len) in [64usize, MIB, 16 * MIB, 0, 64].into_iter().enumerate() {
        let id = i as u64 + 1;
        let reply = round_trip(&ep, &mut rx, id, len).await;
        assert_eq!(
            reply.is_rendezvous(),
            len >= MIB,
            "protocol for {len} bytes"
        );
        // Receive into the middle of a larger buffer: only the payload's bytes change.
        let mut buf = vec![0xEEu8; len + 64];
        buf.truncate(len + 64);
        let w = Window::new(buf, 32..len + 64).expect("window");
        let buf = reply.recv_into(w).await.expect("receive").into_inner();
        assert!(buf[..32].iter().all(|&b| b == 0xEE));
        assert!(buf[32 + len..].iter().all(|&b| b == 0xEE));
        assert!(
            buf[32..32 + len] == pattern(id, len)[..],
            "payload of {len} bytes intact"
        );
    }
}

fn lanes(ep: &Endpoint) -> String {
    ep.debug_info().expect("endpoint info")
}

#[test]
fn ping_pong_over_shared_memory() {
    let ctx = context("sm");
    run_local(async {
        let (_client, ep, rx) = address_pair(&ctx, ErrorMode::None);
        ep.flush().await.expect("connected");
        let info = lanes(&ep);
        assert!(info.contains("sysv") || info.contains("posix"), "{info}");
        assert!(!info.contains("tcp"), "{info}");
        ping_pong(ep, rx).await;
    });
}

#[test]
fn ping_pong_over_tcp() {
    let ctx = context("tcp");
    run_local(async {
        let (_client, ep, rx) = address_pair(&ctx, ErrorMode::Peer);
        ep.flush().await.expect("connected");
        let info = lanes(&ep);
        assert!(info.contains("tcp/lo"), "{info}");
        assert!(!info.contains("sysv") && !info.contains("posix"), "{info}");
        ping_pong(ep, rx).await;
    });
}

#[test]
fn peer_error_mode_keeps_to_tcp_even_when_shared_memory_is_allowed() {
    let ctx = context("tcp,sm");
    run_local(async {
        let (_c1, none_ep, _rx1) = address_pair(&ctx, ErrorMode::None);
        let (_c2, peer_ep, _rx2) = address_pair(&ctx, ErrorMode::Peer);
        none_ep.flush().await.expect("connected");
        peer_ep.flush().await.expect("connected");
        let none = lanes(&none_ep);
        let peer = lanes(&peer_ep);
        assert!(none.contains("sysv") || none.contains("posix"), "{none}");
        assert!(
            peer.contains("tcp") && !peer.contains("sysv") && !peer.contains("posix"),
            "{peer}"
        );
    });
}

/// Verifies every message against the pattern its header names and echoes it, each in a task
/// of its own so that rendezvous receives overlap.
async fn verifying_echo(mut rx: AmReceiver, ep: Endpoint) {
    loop {
        let m = rx.recv().await;
        let ep = ep.clone();
        tokio::task::spawn_local(async move {
            let h = m.header().clone();
            let (_, seed) = parse_header(&h);
            let len = m.payload_len();
            let got = m.recv_into(vec![0u8; len]).await.expect("receive");
            assert!(
                got == pattern(seed, len),
                "payload of message {seed} mixed up"
            );
            ep.send_am(REPLY, &h, got, Protocol::Auto)
                .await
                .expect("echo");
        });
    }
}

async fn many_concurrent(tls_mode: ErrorMode, ctx: &benchfs::fs::transport::ucx::Context) {
    let server = worker(ctx, "server");
    let srx = server.register_am(REQ).expect("register");
    let client = worker(ctx, "client");
    let mut crx = client.register_am(REPLY).expect("register");
    let ep = client
        .connect(&server.address().unwrap(), tls_mode)
        .unwrap();
    let back = server
        .connect(&client.address().unwrap(), tls_mode)
        .unwrap();
    tokio::task::spawn_local(verifying_echo(srx, back));
    const SIZES: [usize; 8] = [0, 1, 100, 4096, 9000, 40_000, 300_000, 2 << 20];
    let n = 160u64;
    // All sends are posted before any completes.
    let sends: Vec<_> = (0..n)
        .map(|i| {
            let len = SIZES[i as usize % SIZES.len()];
            let seed = 1000 + i;
            ep.send_am(REQ, &header(i, seed), pattern(seed, len), Protocol::Auto)
        })
        .collect();
    assert!(
        client.pending_requests() > 0,
        "large sends are still in flight"
    );
    for r in futures::future::join_all(sends).await {
        r.expect("send");
    }
    let mut seen = HashSet::new();
    for _ in 0..n {
        let m = crx.recv().await;
        let (id, seed) = parse_header(m.header());
        assert_eq!(seed, 1000 + id);
        let len = SIZES[id as usize % SIZES.len()];
        assert_eq!(m.payload_len(), len, "length of message {id}");
        let got = m.into_bytes().await.expect("receive echo");
        assert!(
            got[..] == pattern(seed, len)[..],
            "echo of message {id} mixed up"
        );
        assert!(seen.insert(id), "message {id} twice");
    }
    assert_eq!(seen.len() as u64, n);
}

#[test]
fn many_concurrent_messages_do_not_mix_over_shared_memory() {
    let ctx = context("sm");
    run_local(many_concurrent(ErrorMode::None, &ctx));
}

#[test]
fn many_concurrent_messages_do_not_mix_over_tcp() {
    let ctx = context("tcp");
    run_local(many_concurrent(ErrorMode::Peer, &ctx));
}

#[test]
fn registered_buffers_round_trip() {
    let ctx = context("sm");
    run_local(async {
        let server = worker(&ctx, "server");
        let mut srx = server.register_am(REQ).unwrap();
        let client = worker(&ctx, "client");
        let ep = client
            .connect(&server.address().unwrap(), ErrorMode::None)
            .unwrap();
        let len = 4 * MIB;
        let mut src = RegisteredBuffer::new(&ctx, len).expect("register");
        let (addr, mapped) = src.mapped_range().expect("query");
        assert_eq!(addr, src.as_slice().as_ptr() as usize);
        assert!(mapped >= len, "mapped {mapped} of {len}");
        src.as_mut_slice().copy_from_slice(&pattern(7, len));
        let ptr = src.as_slice().as_ptr();
        // Rendezvous from a registered buffer into a window of another registered buffer.
        let send = ep.send_am(REQ, &header(1, 7), src, Protocol::Rendezvous);
        let m = srx.recv().await;
        assert!(m.is_rendezvous());
        let dst = RegisteredBuffer::new(&ctx, len + 4096).expect("register");
        let w = Window::new(dst, 4096..len + 4096).expect("window");
        let dst = m.recv_into(w).await.expect("receive").into_inner();
        let src = send.await.expect("send");
        assert_eq!(src.as_slice().as_ptr(), ptr, "the same buffer comes back");
        assert!(dst.as_slice()[4096..] == src.as_slice()[..]);
        assert!(dst.as_slice()[..4096].iter().all(|&b| b == 0));
        // Forced eager from a registered buffer works as well.
        let small = RegisteredBuffer::from_vec(&ctx, pattern(8, 1000)).unwrap();
        let send = ep.send_am(REQ, &header(2, 8), small, Protocol::Eager);
        let m = srx.recv().await;
        assert!(!m.is_rendezvous());
        assert_eq!(m.into_bytes().await.unwrap()[..], pattern(8, 1000)[..]);
        send.await.unwrap();
    });
}

#[test]
fn the_wrapper_refuses_what_ucx_cannot_do() {
    let ctx = context("sm");
    run_local(async {
        let server = worker(&ctx, "server");
        let mut srx = server.register_am(REQ).unwrap();
        assert_eq!(
            server.register_am(REQ).map(|_| ()),
            Err(UcxError::DuplicateHandler { id: REQ })
        );
        let dropped = server.register_am(9).unwrap();
        let client = worker(&ctx, "client");
        let ep = client
            .connect(&server.address().unwrap(), ErrorMode::None)
            .unwrap();
        // Handlers must all exist before endpoints.
        assert_eq!(
            client.register_am(3).map(|_| ()),
            Err(UcxError::HandlerAfterEndpoint { id: 3 })
        );
        // A header longer than the worker's maximum.
        let max = client.max_am_header();
        let e = ep
            .send_am(REQ, &vec![0u8; max + 1], Vec::new(), Protocol::Auto)
            .await
            .unwrap_err();
        assert_eq!(e, UcxError::HeaderTooLong { len: max + 1, max });
        assert_eq!(e.to_fs_error().errno(), libc::EMSGSIZE);
        // A payload larger than the buffer offered for it.
        let send = ep.send_am(REQ, &header(1, 1), pattern(1, MIB), Protocol::Auto);
        let m = srx.recv().await;
        let e = m.recv_into(vec![0u8; MIB - 1]).await.unwrap_err();
        assert_eq!(
            e,
            UcxError::BufferTooSmall {
                len: MIB,
                capacity: MIB - 1
            }
        );
        send.await
            .expect("a dropped rendezvous payload completes the send");
        // A rendezvous message to an id whose receiver is gone fails at the sender.
        drop(dropped);
        let e = ep
            .send_am(9, &header(2, 2), pattern(2, MIB), Protocol::Rendezvous)
            .await
            .unwrap_err();
        assert!(
            matches!(e, UcxError::Call { .. } | UcxError::EndpointFailed { .. }),
            "{e}"
        );
        // ...and the id can be registered again.
        let mut again = server.register_am(9).unwrap();
        let send = ep.send_am(9, &header(3, 3), pattern(3, 10), Protocol::Auto);
        assert_eq!(
            again.recv().await.into_bytes().await.unwrap()[..],
            pattern(3, 10)[..]
        );
        send.await.unwrap();
        // After close, operations fail as closed, not as a hang.
        ep.close().await.expect("close");
        let e = ep
            .send_am(REQ, &[], Vec::new(), Protocol::Auto)
            .await
            .unwrap_err();
        assert!(matches!(e, UcxError::Closed { .. }), "{e}");
        assert_eq!(e.to_fs_error().errno(), libc::ECONNRESET);
        assert!(matches!(ep.failed().await, UcxError::Closed { .. }));
    });
}
