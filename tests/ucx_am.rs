//! UCX active messages through the wrapper (src/fs/transport/ucx): ping-pong of small
//! (eager) and large (rendezvous) payloads over shared memory and over TCP on loopback, many
//! concurrent messages, registered buffers, and the wrapper's refusals.
#![cfg(feature = "ucx")]

mod ucx_util;

use benchfs::fs::transport::ucx::{
    AmReceiver, Endpoint, ErrorMode, IncomingMessage, Protocol, RegisteredBuffer, UcxError, Window,
    Worker,
};
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
