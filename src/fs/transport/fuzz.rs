//! The body of the fuzz target of everything a peer's bytes reach before any I/O: the wire
//! decoders and the server's handshake. Shared by the cargo-fuzz target in
//! `fuzz/` (libFuzzer, by hand, for millions of inputs) and the bounded corpus runner of the
//! fault suite (CI, on stable Rust).
//!
//! [`decode_everything`] feeds one input to every decoder a peer can reach: the frame header,
//! every request (under every op number, and the op the input names), every reply, the
//! error reply and the server's handshake. It checks what must hold for any input: no panic,
//! lengths within their bounds, and every message that decodes encodes back to itself.
//! Knows nothing of I/O.

use super::handshake::ServerHandshake;
use crate::fs::wire::{
    decode_error, FrameHeader, Op, Request, Response, HEADER_LEN, MAX_BULK_LEN, MAX_MSG_LEN,
};
use std::sync::Arc;

/// Decodes `data` in every way a peer could make a server or client decode it; panics if an
/// invariant breaks (that is the finding).
pub fn decode_everything(data: &[u8]) {
    if let Ok(h) = FrameHeader::decode(data) {
        assert!(h.msg_len <= MAX_MSG_LEN && h.bulk_len <= MAX_BULK_LEN);
        assert_eq!(FrameHeader::decode(&h.encode()), Ok(h));
        // The handshake of a server, with this header and the bytes after it.
        let mut hs = ServerHandshake::new(Arc::new(b"fuzz".to_vec()), 1);
        if hs.check_header(&h).is_ok() {
            let rest = &data[HEADER_LEN..];
            let msg = &rest[..rest.len().min(h.msg_len as usize)];
            let _ = hs.step(&h, msg);
            assert!(!hs.is_done(), "a fuzzed frame completed the handshake");
        }
    }
    // The first two bytes as an op number, the rest as its message; and every op.
    if data.len() >= 2 {
        let op = u16::from_le_bytes([data[0], data[1]]);
        check_request(op, &data[2..]);
    }
    for op in 0..=Op::Prove as u16 + 1 {
        check_request(op, data);
    }
    if let Ok(r) = Response::decode(data) {
        assert_eq!(Response::decode(&r.encode()).as_ref(), Ok(&r));
    }
    let _ = decode_error(data);
}

fn check_request(op: u16, msg: &[u8]) {
    if let Ok(r) = Request::decode(op, msg) {
        assert_eq!(r.op() as u16, op);
        assert_eq!(Request::decode(op, &r.encode()).as_ref(), Ok(&r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::wire::FrameKind;

    #[test]
    fn valid_messages_and_garbage_pass() {
        decode_everything(&[]);
        decode_everything(&[0xff; 100]);
        let h = FrameHeader {
            kind: FrameKind::Request,
            op: Op::Hello as u16,
            id: 1,
            msg_len: 32,
            bulk_len: 0,
        };
        let mut v = h.encode().to_vec();
        v.extend_from_slice(&Request::Hello { nonce: [1; 32] }.encode());
        decode_everything(&v);
        decode_everything(&Response::Unit.encode());
    }
}
