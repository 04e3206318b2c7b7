//! Faults of UCX peers through the wrapper: a peer process killed in the middle of a
//! rendezvous transfer, or while a caller waits for its reply, gives an error within bounded
//! time (never a hang). The peer is this test binary run again as a child process (role in
//! `UCX_FAULT_ROLE`), over TCP on 127.0.0.1 with the PEER error mode.
#![cfg(feature = "ucx")]

mod ucx_util;

use benchfs::fs::transport::ucx::{ErrorMode, Protocol, UcxError};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use ucx_util::{context, header, pattern, run_local, worker, HANG};

const REQ: u16 = 1;
const BIG: usize = 64 << 20;

/// The child's side (run only as a child: `UCX_FAULT_ROLE` says what to do).
#[test]
#[ignore = "run by the other tests as their peer process"]
fn child_peer() {
    let Ok(role) = std::env::var("UCX_FAULT_ROLE") else {
        return;
    };
    let ctx = context("tcp");
    run_local(async move {
        let w = worker(&ctx, "child");
        match role.as_str() {
            // Accepts one connection, announces the first message and keeps it unreceived.
            "receiver" => {
                let mut rx = w.register_am(REQ).unwrap();
                let mut listener = w
                    .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .unwrap();
                println!("PORT {}", listener.local_addr().port());
                let _ep = listener.accept().await.accept(ErrorMode::Peer).unwrap();
                let m = rx.recv().await;
                println!("GOT {}", m.payload_len());
                std::future::pending::<()>().await;
                drop(m);
            }
            // Connects to the parent and sends it one large rendezvous message.
            "sender" => {
                let port: u16 = std::env::var("UCX_FAULT_PORT").unwrap().parse().unwrap();
                let ep = w
                    .connect_sockaddr(
                        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                        ErrorMode::Peer,
                    )
                    .unwrap();
                let send = ep.send_am(REQ, &header(1, 1), pattern(1, BIG), Protocol::Rendezvous);
                println!("POSTED");
                let _ = send.await;
                std::future::pending::<()>().await;
            }
            other => panic!("unknown role {other}"),
        }
    });
}

fn spawn_child(role: &str, port: Option<u16>) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_peer",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("UCX_FAULT_ROLE", role)
    .env("UCX_NET_DEVICES", "lo")
    .stdout(Stdio::piped())
    .kill_on_drop(true);
    if let Some(p) = port {
        cmd.env("UCX_FAULT_PORT", p.to_string());
    }
    let mut child = cmd.spawn().expect("spawn child");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// What follows `tag` on the child's next output line holding it (the test harness may
/// print its own text before it on the same line).
async fn expect_line(lines: &mut Lines<BufReader<ChildStdout>>, tag: &str) -> String {
    while let Some(l) = lines.next_line().await.unwrap() {
        if let Some(at) = l.find(tag) {
            return l[at + tag.len()..].trim().to_string();
        }
    }
    panic!("child ended before printing {tag}");
}

async fn kill(child: &mut Child) -> Instant {
    child.kill().await.expect("kill child");
    Instant::now()
}

fn assert_peer_failure(e: &UcxError) {
    assert!(matches!(e, UcxError::EndpointFailed { .. }), "{e}");
    assert_eq!(e.to_fs_error().errno(), libc::ECONNRESET, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "names the peer: {e}");
}

#[test]
fn a_killed_receiver_fails_a_pending_rendezvous_send() {
    let ctx = context("tcp");
    run_local(async {
        let (mut child, mut lines) = spawn_child("receiver", None);
        let port: u16 = expect_line(&mut lines, "PORT").await.parse().unwrap();
        let w = worker(&ctx, "parent");
        let ep = w
            .connect_sockaddr(
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                ErrorMode::Peer,
            )
            .unwrap();
        ep.flush().await.expect("connected");
        let send = ep.send_am(REQ, &header(1, 1), pattern(1, BIG), Protocol::Rendezvous);
        assert_eq!(expect_line(&mut lines, "GOT").await, BIG.to_string());
        let killed = kill(&mut child).await;
        let e = send
            .await
            .expect_err("the receiver died before taking the payload");
        assert_peer_failure(&e);
        assert_peer_failure(&ep.failed().await);
        eprintln!("send failed {:?} after the kill", killed.elapsed());
    });
}

#[test]
fn a_killed_sender_fails_a_pending_rendezvous_receive() {
    let ctx = context("tcp");
    run_local(async {
        let w = worker(&ctx, "parent");
        let mut rx = w.register_am(REQ).unwrap();
        let mut listener = w
            .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let (mut child, mut lines) = spawn_child("sender", Some(listener.local_addr().port()));
        let _ep = listener.accept().await.accept(ErrorMode::Peer).unwrap();
        expect_line(&mut lines, "POSTED").await;
        let m = rx.recv().await;
        assert!(m.is_rendezvous());
        assert_eq!(m.payload_len(), BIG);
        let killed = kill(&mut child).await;
        child.wait().await.unwrap();
        // The payload was never pulled: the sender is gone.
        let e = m
            .recv_into(vec![0u8; BIG])
            .await
            .expect_err("the sender died before the payload moved");
        assert_peer_failure(&e);
        eprintln!("receive failed {:?} after the kill", killed.elapsed());
    });
}

#[test]
fn a_killed_peer_fails_a_caller_waiting_for_its_reply() {
    let ctx = context("tcp");
    run_local(async {
        let (mut child, mut lines) = spawn_child("receiver", None);
        let port: u16 = expect_line(&mut lines, "PORT").await.parse().unwrap();
        let w = worker(&ctx, "parent");
        let mut replies = w.register_am(2).unwrap();
        let ep = w
            .connect_sockaddr(
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                ErrorMode::Peer,
            )
            .unwrap();
        ep.send_am(REQ, &header(1, 1), pattern(1, 100), Protocol::Auto)
            .await
            .unwrap();
        expect_line(&mut lines, "GOT").await;
        let killed = kill(&mut child).await;
        tokio::select! {
            _ = replies.recv() => panic!("no reply can come"),
            e = ep.failed() => assert_peer_failure(&e),
        }
        eprintln!(
            "waiting caller failed {:?} after the kill",
            killed.elapsed()
        );
        assert!(killed.elapsed() < HANG);
    });
}
