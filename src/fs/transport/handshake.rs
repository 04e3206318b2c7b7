//! The handshake that opens every connection, whatever the transport: a challenge-response
//! in which each side proves that it holds the cluster secret, and the secret itself never
//! crosses the wire.
//!
//! 1. client -> server: `Hello { nonce_c }`, a fresh random nonce;
//! 2. server -> client: `Challenge { nonce_s, proof_s, store }`, with
//!    `proof_s = HMAC-SHA256(secret, "benchfs-v<version> server" | nonce_c | nonce_s | store)`;
//! 3. the client checks `proof_s` (a peer without the secret cannot make it for the client's
//!    fresh nonce), then -> `Prove { proof_c }`, with the label `client` instead of `server`;
//! 4. the server checks `proof_c` and answers `Unit`; only then does it read requests.
//!
//! Both nonces are fresh on every connection, so a proof seen on the wire is worth nothing on
//! another one. Before step 4 a server reads nothing but these two frames, each checked by its
//! header first ([`ServerHandshake::check_header`]: a request, the expected op, at most
//! [`MAX_HANDSHAKE_MSG`] bytes of message and no payload), within [`HANDSHAKE_TIMEOUT`].
//!
//! Owns both sides' logic: [`ServerHandshake`] (a state machine; the transport reads the
//! frames and sends the replies it returns) and [`authenticate`] (the client side, over any
//! [`Connection`]). Does no I/O of its own and knows nothing of file system operations; the
//! byte-stream transports drive the server side in [`super::stream`], other transports (UCX)
//! drive the same state machine.

use super::Connection;
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{
    FrameHeader, FrameKind, Op, Request, Response, Token, MAX_HANDSHAKE_MSG, PROTOCOL_VERSION,
};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// How long a server gives a new connection to complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

type HmacSha256 = Hmac<Sha256>;

/// Which side a proof is made by (part of what is signed, so that a server's proof can
/// never be replayed as a client's).
#[derive(Clone, Copy)]
enum Side {
    Server,
    Client,
}

/// A fresh random nonce (from the thread's cryptographically secure generator, seeded by
/// the operating system).
fn nonce() -> Token {
    rand::random()
}

fn mac(secret: &[u8], side: Side, client: &Token, server: &Token, store: u64) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| {
        unreachable!("HMAC-SHA256 accepts keys of every length");
    });
    let label = match side {
        Side::Server => "server",
        Side::Client => "client",
    };
    m.update(format!("benchfs-v{PROTOCOL_VERSION} {label}").as_bytes());
    m.update(client);
    m.update(server);
    m.update(&store.to_le_bytes());
    m
}

/// The proof `side` makes for the nonces and store id of one connection.
fn proof(secret: &[u8], side: Side, client: &Token, server: &Token, store: u64) -> Token {
    mac(secret, side, client, server, store)
        .finalize()
        .into_bytes()
        .into()
}

/// Whether `got` is the proof `side` makes (compared in constant time).
fn proof_ok(
    secret: &[u8],
    side: Side,
    client: &Token,
    server: &Token,
    store: u64,
    got: &Token,
) -> bool {
    mac(secret, side, client, server, store)
        .verify_slice(got)
        .is_ok()
}

/// The error a peer that fails the handshake gets (the same whatever it got wrong, so that
/// it learns nothing about the secret).
fn refused() -> FsError {
    FsError::PermissionDenied("wrong or missing cluster secret".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the client's `Hello`.
    Hello,
    /// Challenge sent: waiting for the client's `Prove`.
    Prove { client: Token, server: Token },
    /// The client proved it holds the secret.
    Done,
    /// The handshake failed; the connection must close.
    Failed,
}

/// The server side of the handshake of one connection. The transport reads a frame's header,
/// asks [`ServerHandshake::check_header`] before reading its message, hands the message to
/// [`ServerHandshake::step`] and sends back the reply message it returns (as a reply to the
/// frame's op and id), until [`ServerHandshake::is_done`]. Any error: send it as an error
/// reply (best effort) and close the connection.
pub struct ServerHandshake {
    secret: Arc<Vec<u8>>,
    store: u64,
    state: State,
}

impl ServerHandshake {
    /// The handshake of a server holding `secret`, whose data directory has store id `store`.
    pub fn new(secret: Arc<Vec<u8>>, store: u64) -> Self {
        ServerHandshake {
            secret,
            store,
            state: State::Hello,
        }
    }

    /// The op the next frame must have.
    fn expected(&self) -> Option<Op> {
        match self.state {
            State::Hello => Some(Op::Hello),
            State::Prove { .. } => Some(Op::Prove),
            State::Done | State::Failed => None,
        }
    }

    /// Checks the header of the next frame before anything more is read: a request with
    /// the op the handshake expects now, a message of at most [`MAX_HANDSHAKE_MSG`] bytes and
    /// no payload. An error fails the handshake.
    pub fn check_header(&mut self, h: &FrameHeader) -> FsResult<()> {
        let ok = h.kind == FrameKind::Request
            && self.expected().is_some_and(|op| h.op == op as u16)
            && h.msg_len <= MAX_HANDSHAKE_MSG
            && h.bulk_len == 0;
        if ok {
            Ok(())
        } else {
            self.state = State::Failed;
            Err(refused())
        }
    }

    /// Takes the message of a frame whose header passed [`ServerHandshake::check_header`];
    /// returns the message of the reply to send (the challenge, then the welcome).
    pub fn step(&mut self, h: &FrameHeader, msg: &[u8]) -> FsResult<Bytes> {
        let outcome = match (self.state, Request::decode(h.op, msg)) {
            (State::Hello, Ok(Request::Hello { nonce: client })) => {
                let server = nonce();
                self.state = State::Prove { client, server };
                Ok(Response::Challenge {
                    nonce: server,
                    proof: proof(&self.secret, Side::Server, &client, &server, self.store),
                    store: self.store,
                }
                .encode())
            }
            (State::Prove { client, server }, Ok(Request::Prove { proof }))
                if proof_ok(
                    &self.secret,
                    Side::Client,
                    &client,
                    &server,
                    self.store,
                    &proof,
                ) =>
            {
                self.state = State::Done;
                Ok(Response::Unit.encode())
            }
            _ => Err(refused()),
        };
        if outcome.is_err() {
            self.state = State::Failed;
        }
        outcome
    }

    /// True once the client has proved it holds the secret.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

/// The client side: runs the handshake over `conn` (the first calls on it) with `secret`,
/// each call within `timeout`. Returns the server's store id once the server has proved it
/// holds the secret and accepted the client's proof. A server that cannot prove it is
/// refused with `EACCES` before the client proves anything.
pub async fn authenticate(
    conn: &dyn Connection,
    secret: &[u8],
    timeout: Duration,
) -> FsResult<u64> {
    let client = nonce();
    let hello = Request::Hello { nonce: client }.encode();
    let reply = conn
        .call(Op::Hello as u16, hello, Bytes::new(), timeout)
        .await?;
    let (server, store) = match Response::decode(&reply.msg)? {
        Response::Challenge {
            nonce,
            proof,
            store,
        } if proof_ok(secret, Side::Server, &client, &nonce, store, &proof) => (nonce, store),
        Response::Challenge { .. } => {
            return Err(FsError::PermissionDenied(format!(
                "{} does not hold the cluster secret (its proof is wrong)",
                conn.peer()
            )))
        }
        other => {
            return Err(FsError::Protocol(format!(
                "{} answered Hello with {other:?}",
                conn.peer()
            )))
        }
    };
    let prove = Request::Prove {
        proof: proof(secret, Side::Client, &client, &server, store),
    }
    .encode();
    conn.call(Op::Prove as u16, prove, Bytes::new(), timeout)
        .await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(op: Op, msg_len: usize, bulk_len: u32) -> FrameHeader {
        FrameHeader {
            kind: FrameKind::Request,
            op: op as u16,
            id: 1,
            msg_len: msg_len as u32,
            bulk_len,
        }
    }

    /// Runs the client's half by hand against a server handshake; returns the server's
    /// verdict on the client's proof.
    fn run(server_secret: &[u8], client_secret: &[u8]) -> (bool, FsResult<Bytes>) {
        let mut s = ServerHandshake::new(Arc::new(server_secret.to_vec()), 42);
        let client = nonce();
        let hello = Request::Hello { nonce: client }.encode();
        let h = header(Op::Hello, hello.len(), 0);
        s.check_header(&h).unwrap();
        let challenge = s.step(&h, &hello).unwrap();
        let Response::Challenge {
            nonce: server,
            proof: p,
            store,
        } = Response::decode(&challenge).unwrap()
        else {
            panic!("not a challenge");
        };
        assert_eq!(store, 42);
        let server_proved = proof_ok(client_secret, Side::Server, &client, &server, store, &p);
        let prove = Request::Prove {
            proof: proof(client_secret, Side::Client, &client, &server, store),
        }
        .encode();
        let h = header(Op::Prove, prove.len(), 0);
        s.check_header(&h).unwrap();
        let verdict = s.step(&h, &prove);
        assert_eq!(s.is_done(), verdict.is_ok());
        (server_proved, verdict)
    }

    #[test]
    fn both_sides_prove_they_hold_the_secret() {
        let (server_ok, verdict) = run(b"secret", b"secret");
        assert!(server_ok);
        assert_eq!(Response::decode(&verdict.unwrap()).unwrap(), Response::Unit);
        // Another secret on either side: neither proof holds.
        let (server_ok, verdict) = run(b"secret", b"other");
        assert!(!server_ok);
        assert_eq!(verdict.unwrap_err().errno(), libc::EACCES);
    }

    #[test]
    fn proofs_depend_on_side_nonces_and_store() {
        let (c, s) = ([1u8; 32], [2u8; 32]);
        let p = proof(b"k", Side::Client, &c, &s, 7);
        assert!(proof_ok(b"k", Side::Client, &c, &s, 7, &p));
        assert!(!proof_ok(b"k", Side::Server, &c, &s, 7, &p));
        assert!(!proof_ok(b"k", Side::Client, &s, &c, 7, &p));
        assert!(!proof_ok(b"k", Side::Client, &c, &s, 8, &p));
        assert!(!proof_ok(b"j", Side::Client, &c, &s, 7, &p));
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn the_server_reads_only_small_handshake_frames_in_order() {
        let fresh = || ServerHandshake::new(Arc::new(b"k".to_vec()), 1);
        // A Prove first, a request other than Hello, a long message, a payload, a reply:
        // all refused by their header alone.
        for h in [
            header(Op::Prove, 32, 0),
            header(Op::Lookup, 10, 0),
            header(Op::Hello, MAX_HANDSHAKE_MSG as usize + 1, 0),
            header(Op::Hello, 32, 1),
            FrameHeader {
                kind: FrameKind::Reply,
                ..header(Op::Hello, 32, 0)
            },
        ] {
            let mut s = fresh();
            assert_eq!(s.check_header(&h).unwrap_err().errno(), libc::EACCES);
            assert!(!s.is_done());
        }
        // A malformed Hello fails the handshake, and nothing is accepted after it.
        let mut s = fresh();
        let h = header(Op::Hello, 5, 0);
        s.check_header(&h).unwrap();
        assert!(s.step(&h, b"short").is_err());
        assert!(s.check_header(&header(Op::Prove, 32, 0)).is_err());
        // A second Hello instead of the proof is refused.
        let mut s = fresh();
        let hello = Request::Hello { nonce: [0; 32] }.encode();
        let h = header(Op::Hello, hello.len(), 0);
        s.check_header(&h).unwrap();
        s.step(&h, &hello).unwrap();
        assert!(s.check_header(&h).is_err());
    }
}
