//! The BenchFS wire protocol: frame headers and the encoding of every request and reply.
//!
//! A frame is a header, a small message (the encoded request or reply) and an optional bulk
//! payload (file data), which travels separately so that transports can move it without
//! copies. Decoding never panics and never allocates more than the bytes actually present:
//! an absurd length is an error. The parts, by job:
//!
//! - [`frame`]: the 24-byte [`FrameHeader`] and the bounds of every length;
//! - [`types`]: the values messages carry ([`FileId`], [`Attr`], [`StatFs`], ...) and the
//!   one chunk-size rule, [`check_chunk_size`];
//! - `codec`: the layout of each field (and the bounded [`Reader`]);
//! - `table`: the macro that makes a message enum from one table of entries;
//! - [`requests`]: the table of operations ([`Request`], [`Op`]);
//! - [`responses`]: the table of replies ([`Response`]) and error replies.
//!
//! This module only re-exports them, so that `crate::fs::wire::X` names every item. It does
//! no I/O and knows nothing of transports, clients or servers.

mod codec;
pub(crate) mod frame;
pub(crate) mod requests;
pub(crate) mod responses;
mod table;
pub(crate) mod types;

pub use codec::{encode_attr, encode_str, Reader};
pub use frame::{
    FrameHeader, FrameKind, HEADER_LEN, MAGIC, MAX_BULK_LEN, MAX_DIR_BATCH, MAX_HANDSHAKE_MSG,
    MAX_MSG_LEN, MAX_NAME_LEN, MAX_PATH_LEN, MAX_SECRET_LEN, PROTOCOL_VERSION,
};
pub use requests::{Op, Request, MAX_SETTLE_MS};
pub use responses::{decode_error, encode_error, ReplyKind, Response};
pub use types::{
    check_chunk_size, Attr, DirEntry, FileId, FileKind, SizeMode, StatFs, Token,
    DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TOKEN_LEN,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::error::FsError;
    use bytes::{BufMut, BytesMut};
    use proptest::prelude::*;

    fn attr() -> Attr {
        Attr {
            id: FileId { store: 7, seq: 9 },
            kind: FileKind::File,
            mode: 0o644,
            size: 12345,
            chunk_size: DEFAULT_CHUNK_SIZE,
            atime_ns: 1,
            mtime_ns: 2,
            ctime_ns: 3,
        }
    }

    fn all_requests() -> Vec<Request> {
        let id = FileId { store: 1, seq: 2 };
        vec![
            Request::Hello { nonce: [7u8; 32] },
            Request::Prove { proof: [9u8; 32] },
            Request::Lookup { path: "/a".into() },
            Request::Create {
                path: "/a/b".into(),
                mode: 0o600,
                chunk_size: 65536,
                exclusive: true,
                truncate: false,
            },
            Request::Mkdir {
                path: "/d".into(),
                mode: 0o755,
            },
            Request::Remove {
                path: "/d".into(),
                dir: true,
                id,
            },
            Request::SetSize {
                path: "/f".into(),
                id,
                size: 99,
                mode: SizeMode::Exact,
            },
            Request::ReadDir {
                path: "/".into(),
                after: "x".into(),
                max: 10,
            },
            Request::Insert {
                path: "/n".into(),
                attr: attr(),
            },
            Request::Write {
                id,
                chunk: 3,
                offset: 4,
                chunk_size: 1 << 20,
            },
            Request::Read {
                id,
                chunk: 3,
                offset: 4,
                len: 5,
            },
            Request::TruncateChunks {
                id,
                size: 1,
                chunk_size: 65536,
            },
            Request::RemoveChunks { id },
            Request::SyncChunks { id },
            Request::SyncMeta,
            Request::StatFs,
            Request::ListTree {
                path: "/d".into(),
                after: "/d/x".into(),
                max: 7,
            },
            Request::Settle { wait_ms: 1500 },
        ]
    }

    #[test]
    fn requests_and_replies_round_trip() {
        for r in all_requests() {
            let m = r.encode();
            assert_eq!(Request::decode(r.op() as u16, &m).unwrap(), r);
        }
        let replies = vec![
            Response::Unit,
            Response::Attr(attr()),
            Response::Created {
                attr: attr(),
                created: true,
                truncated: false,
            },
            Response::Replaced(None),
            Response::Replaced(Some(attr())),
            Response::Dir {
                entries: vec![DirEntry {
                    name: "x".into(),
                    kind: FileKind::Dir,
                }],
                more: true,
            },
            Response::Written(77),
            Response::Tree {
                entries: vec![("/d/x".into(), attr())],
                more: false,
            },
            Response::Challenge {
                nonce: [1u8; 32],
                proof: [2u8; 32],
                store: 0xabcd,
            },
            Response::StatFs(StatFs {
                total_bytes: 1,
                free_bytes: 2,
                avail_bytes: 3,
                entries: 4,
                chunks: 5,
                files: 6,
                files_free: 7,
                device: 8,
            }),
        ];
        for r in replies {
            assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        }
        let e = FsError::NotEmpty("/d".into());
        assert_eq!(decode_error(&encode_error(&e)), e);
    }

    #[test]
    fn header_round_trip_and_bounds() {
        let h = FrameHeader {
            kind: FrameKind::Reply,
            op: Op::Read as u16,
            id: u64::MAX - 3,
            msg_len: 10,
            bulk_len: MAX_BULK_LEN,
        };
        assert_eq!(FrameHeader::decode(&h.encode()).unwrap(), h);
        let mut big = h;
        big.bulk_len = MAX_BULK_LEN + 1;
        assert_eq!(
            FrameHeader::decode(&big.encode()).unwrap_err().errno(),
            libc::EMSGSIZE
        );
        big.bulk_len = 0;
        big.msg_len = u32::MAX;
        assert_eq!(
            FrameHeader::decode(&big.encode()).unwrap_err().errno(),
            libc::EMSGSIZE
        );
        let mut bad = h.encode();
        bad[2] = 9;
        assert_eq!(FrameHeader::decode(&bad).unwrap_err().errno(), libc::EPROTO);
        // The reserved bytes must be zero.
        for at in [6, 7] {
            let mut bad = h.encode();
            bad[at] = 1;
            assert_eq!(FrameHeader::decode(&bad).unwrap_err().errno(), libc::EPROTO);
        }
        // Handshake messages have a fixed size: a shorter or longer one is refused.
        let hello = Request::Hello { nonce: [3; 32] }.encode();
        assert!(hello.len() as u32 <= MAX_HANDSHAKE_MSG);
        assert!(Request::decode(Op::Hello as u16, &hello[..31]).is_err());
        let mut long = hello.to_vec();
        long.push(0);
        assert!(Request::decode(Op::Hello as u16, &long).is_err());
    }

    #[test]
    fn absurd_field_lengths_are_rejected() {
        // A Lookup whose path claims 4 GiB.
        let mut m = BytesMut::new();
        m.put_u32_le(u32::MAX);
        m.put_slice(b"/a");
        assert!(Request::decode(Op::Lookup as u16, &m).is_err());
        // A directory reply claiming a million entries in a few bytes.
        let mut m = BytesMut::new();
        m.put_u8(ReplyKind::Dir as u8);
        m.put_u32_le(1_000_000);
        assert!(Response::decode(&m).is_err());
        let mut m = BytesMut::new();
        m.put_u8(ReplyKind::Dir as u8);
        m.put_u32_le(MAX_DIR_BATCH);
        assert!(Response::decode(&m).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary bytes never make a decoder panic; oversize lengths are always refused.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                op in 0u16..20) {
            let h = FrameHeader::decode(&bytes);
            if let Ok(h) = h {
                prop_assert!(h.msg_len <= MAX_MSG_LEN && h.bulk_len <= MAX_BULK_LEN);
            }
            let _ = Request::decode(op, &bytes);
            let _ = Response::decode(&bytes);
            let _ = decode_error(&bytes);
        }

        /// A valid header with random lengths is accepted exactly when both are in bounds.
        #[test]
        fn header_lengths_are_bounded(msg_len in any::<u32>(), bulk_len in any::<u32>(),
                                      id in any::<u64>()) {
            let h = FrameHeader { kind: FrameKind::Request, op: 2, id, msg_len, bulk_len };
            let ok = FrameHeader::decode(&h.encode()).is_ok();
            prop_assert_eq!(ok, msg_len <= MAX_MSG_LEN && bulk_len <= MAX_BULK_LEN);
        }

        /// Mutating one byte of a valid request never panics the decoder.
        #[test]
        fn mutated_requests_never_panic(which in 0usize..16, pos in any::<usize>(), val in any::<u8>()) {
            let reqs = all_requests();
            let r = &reqs[which % reqs.len()];
            let mut m = r.encode().to_vec();
            if !m.is_empty() {
                let p = pos % m.len();
                m[p] = val;
            }
            let _ = Request::decode(r.op() as u16, &m);
        }
    }
}
