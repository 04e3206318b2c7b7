//! UCX connection set-up and tear-down through the wrapper: listeners on a 127.0.0.1 socket
//! address, refused and rejected connections, clean close seen by the peer, and a worker on a
//! thread of its own driven from a multi-threaded runtime.
#![cfg(feature = "ucx")]

mod ucx_util;

use benchfs::fs::transport::ucx::{
    AmReceiver, ErrorMode, ProgressConfig, Protocol, UcxError, WorkerThread,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use ucx_util::{context, header, parse_header, pattern, run_local, worker, HANG};

const REQ: u16 = 1;
const REPLY: u16 = 2;
const MIB: usize = 1 << 20;

fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Serves every connection of `listener`: echoes each REQ message on the endpoint it came on.
async fn serve(mut listener: benchfs::fs::transport::ucx::Listener, mut rx: AmReceiver) {
    let mut accepted = Vec::new();
    loop {
        tokio::select! {
            conn = listener.accept() => {
                accepted.push(conn.accept(ErrorMode::Peer).expect("accept"));
            }
            m = rx.recv() => {
                let ep = m.reply_endpoint().cloned().expect("message on an accepted endpoint");
                let h = m.header().clone();
                let data = m.into_bytes().await.expect("receive");
                ep.send_am(REPLY, &h, data, Protocol::Auto).await.expect("reply");
            }
        }
    }
}

#[test]
fn listener_accepts_on_loopback_and_replies_on_the_same_endpoint() {
    let ctx = context("tcp");
    run_local(async {
        let server = worker(&ctx, "server");
        let srx = server.register_am(REQ).unwrap();
        let listener = server.listen(any_port()).expect("listen");
        let addr = listener.local_addr();
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0, "the bound port is reported");
        tokio::task::spawn_local(serve(listener, srx));
        let client = worker(&ctx, "client");
        let mut crx = client.register_am(REPLY).unwrap();
        let ep = client.connect_sockaddr(addr, ErrorMode::Peer).unwrap();
        ep.flush().await.expect("connected");
        assert_eq!(ep.peer(), addr.to_string());
        for (id, len) in [(1u64, 10usize), (2, MIB), (3, 0)] {
            ep.send_am(REQ, &header(id, id), pattern(id, len), Protocol::Auto)
                .await
                .unwrap();
            let m = crx.recv().await;
            assert_eq!(parse_header(m.header()), (id, id));
            let reply_ep = m.reply_endpoint().expect("reply arrives on our endpoint");
            assert_eq!(reply_ep.peer(), ep.peer());
            assert_eq!(m.into_bytes().await.unwrap()[..], pattern(id, len)[..]);
        }
    });
}

#[test]
fn the_client_address_of_a_connection_request_is_loopback() {
    let ctx = context("tcp");
    run_local(async {
        let server = worker(&ctx, "server");
        let mut listener = server.listen(any_port()).unwrap();
        let client = worker(&ctx, "client");
        let ep = client
            .connect_sockaddr(listener.local_addr(), ErrorMode::Peer)
            .unwrap();
        let conn = listener.accept().await;
        let from = conn.client_addr().expect("client address");
        assert_eq!(from.ip(), Ipv4Addr::LOCALHOST);
        let sep = conn.accept(ErrorMode::Peer).unwrap();
        assert_eq!(sep.peer(), format!("client {from}"));
        ep.flush().await.unwrap();
    });
}

#[test]
fn a_connection_to_a_closed_port_is_refused_not_hung() {
    let ctx = context("tcp");
    let port = std::net::TcpListener::bind(any_port())
        .unwrap()
        .local_addr()
        .unwrap();
    // The port is free again once the probe socket is gone.
    run_local(async {
        let client = worker(&ctx, "client");
        let ep = client.connect_sockaddr(port, ErrorMode::Peer).unwrap();
        let e = ep.flush().await.expect_err("nothing listens");
        assert!(matches!(e, UcxError::EndpointFailed { .. }), "{e}");
        assert!(
            e.to_string().contains(&port.to_string()),
            "names the peer: {e}"
        );
        assert_eq!(e.to_fs_error().errno(), libc::ECONNREFUSED, "{e}");
        let e = ep
            .send_am(REQ, &[], Vec::new(), Protocol::Auto)
            .await
            .expect_err("failed endpoint");
        assert!(matches!(e, UcxError::EndpointFailed { .. }), "{e}");
    });
}

#[test]
fn a_rejected_connection_fails_the_client() {
    let ctx = context("tcp");
    run_local(async {
        let server = worker(&ctx, "server");
        let mut listener = server.listen(any_port()).unwrap();
        let client = worker(&ctx, "client");
        let ep = client
            .connect_sockaddr(listener.local_addr(), ErrorMode::Peer)
            .unwrap();
        listener.accept().await.reject();
        let e = ep.failed().await;
        assert!(matches!(e, UcxError::EndpointFailed { .. }), "{e}");
        assert!(ep.flush().await.is_err());
    });
}

#[test]
fn a_clean_close_is_seen_by_the_peer() {
    let ctx = context("tcp");
    run_local(async {
        let server = worker(&ctx, "server");
        let mut srx = server.register_am(REQ).unwrap();
        let mut listener = server.listen(any_port()).unwrap();
        let client = worker(&ctx, "client");
        let ep = client
            .connect_sockaddr(listener.local_addr(), ErrorMode::Peer)
            .unwrap();
        let sep = listener.accept().await.accept(ErrorMode::Peer).unwrap();
        ep.send_am(REQ, &header(1, 1), pattern(1, 100), Protocol::Auto)
            .await
            .unwrap();
        drop(srx.recv().await);
        ep.close().await.expect("clean close");
        assert!(matches!(ep.error(), Some(UcxError::Closed { .. })));
        // The server's endpoint learns of it (a reset from the peer), within bounded time.
        let e = sep.failed().await;
        assert!(matches!(e, UcxError::EndpointFailed { .. }), "{e}");
        assert_eq!(e.to_fs_error().errno(), libc::ECONNRESET);
        let e = sep
            .send_am(REPLY, &[], Vec::new(), Protocol::Auto)
            .await
            .expect_err("peer gone");
        assert!(
            e.to_string().contains("client 127.0.0.1"),
            "names the peer: {e}"
        );
    });
}

#[test]
fn worker_threads_are_driven_from_a_multi_threaded_runtime() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<WorkerThread<tokio::sync::Mutex<AmReceiver>>>();
    let ctx = context("tcp");
    let server: WorkerThread<SocketAddr> =
        WorkerThread::spawn(&ctx, "ucx-server", ProgressConfig::default(), |w| {
            let rx = w.register_am(REQ)?;
            let listener = w.listen(any_port())?;
            let addr = listener.local_addr();
            tokio::task::spawn_local(serve(listener, rx));
            Ok(addr)
        })
        .expect("server thread");
    let client: WorkerThread<tokio::sync::Mutex<AmReceiver>> =
        WorkerThread::spawn(&ctx, "ucx-client", ProgressConfig::default(), |w| {
            Ok(tokio::sync::Mutex::new(w.register_am(REPLY)?))
        })
        .expect("client thread");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = server.run(|_, addr| async move { *addr }).await.unwrap();
        let checked = tokio::spawn(client.run(move |w, rx| async move {
            let ep = w.connect_sockaddr(addr, ErrorMode::Peer)?;
            let mut rx = rx.lock().await;
            for id in 0..20u64 {
                let len = if id % 2 == 0 { 100 } else { MIB };
                ep.send_am(REQ, &header(id, id), pattern(id, len), Protocol::Auto)
                    .await?;
                let m = rx.recv().await;
                assert_eq!(parse_header(m.header()), (id, id));
                assert_eq!(m.into_bytes().await?[..], pattern(id, len)[..]);
            }
            ep.close().await?;
            Ok::<u64, UcxError>(20)
        }));
        let n = tokio::time::timeout(HANG, checked)
            .await
            .expect("hung")
            .expect("task")
            .expect("worker thread alive")
            .expect("exchange");
        assert_eq!(n, 20);
    });
    server.shutdown();
    client.shutdown();
    // A stopped worker thread answers with an error, not a hang.
    let gone: WorkerThread =
        WorkerThread::spawn(&ctx, "ucx-gone", ProgressConfig::default(), |_| Ok(())).unwrap();
    let rt2 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fut = gone.run(|_, _| async { 1 });
    gone.shutdown();
    let r = rt2.block_on(async { tokio::time::timeout(Duration::from_secs(10), fut).await });
    assert!(
        matches!(r, Ok(Ok(1)) | Ok(Err(UcxError::WorkerGone(_)))),
        "{r:?}"
    );
}
