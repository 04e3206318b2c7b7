//! The replies of the BenchFS protocol: the one table of reply kinds (name, tag, fields and
//! their layout) from which [`Response`], [`ReplyKind`] and their encoding follow, and the
//! message of an error reply ([`encode_error`], [`decode_error`]).
//!
//! Owns the table. A reply's message opens with its tag (one byte); read data travels in
//! the bulk part of the frame. Knows nothing of the frame around a reply or of requests.

use super::codec::{encode_str, Batch, Reader};
use super::table::messages;
use super::types::{Attr, DirEntry, StatFs, Token};
use crate::fs::error::{FsError, FsResult};
use bytes::{BufMut, Bytes, BytesMut};

messages! {
    /// A successful reply (the message part; read data travels in the bulk part).
    pub enum Response;
    /// The tag opening the message of a successful reply.
    pub enum ReplyKind: u8, fn reply_kind;

    /// No value (Hello, Write acks carry the byte count instead, ...).
    Unit = 0,
    /// Attributes.
    Attr = 1 (attr: Attr),
    /// Result of a create: attributes, whether the file was created, and whether an existing
    /// file was truncated.
    Created = 2 {
        /// Attributes after the call.
        attr: Attr,
        /// The file did not exist before.
        created: bool,
        /// An existing file was truncated to 0.
        truncated: bool,
    },
    /// Attributes of an entry that was replaced or removed, if any.
    Replaced = 3 (attr: Option<Attr>),
    /// A batch of directory entries, and whether more follow.
    Dir = 4 {
        /// Entries, sorted by name.
        entries: Vec<DirEntry> => Batch,
        /// More entries after the last one.
        more: bool,
    },
    /// Number of bytes written.
    Written = 5 (n: u32),
    /// Capacity and usage.
    StatFs = 6 (statfs: StatFs),
    /// A batch of (path, attributes) under a directory, and whether more follow.
    Tree = 7 {
        /// Entries, sorted by path.
        entries: Vec<(String, Attr)> => Batch,
        /// More entries after the last one.
        more: bool,
    },
    /// The server's answer to a `Hello`: its own nonce, its proof that it holds the cluster
    /// secret (an HMAC of both nonces and its store id), and its store id.
    Challenge = 8 {
        /// The server's nonce.
        nonce: Token,
        /// The server's proof.
        proof: Token,
        /// The store id of the server's data directory.
        store: u64,
    },
}

impl Response {
    /// Encodes the message part of this reply.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(80);
        b.put_u8(self.reply_kind() as u8);
        self.put_fields(&mut b);
        b.freeze()
    }

    /// Decodes the message part of a reply.
    pub fn decode(msg: &[u8]) -> FsResult<Response> {
        let mut r = Reader::new(msg);
        let t = r.u8()?;
        let kind = ReplyKind::from_number(t)
            .ok_or_else(|| FsError::Protocol(format!("bad reply tag {t}")))?;
        let resp = Response::get_fields(kind, &mut r)?;
        r.finish()?;
        Ok(resp)
    }
}

/// Encodes the message of an error reply: errno and text (text cut to 1 KiB).
pub fn encode_error(e: &FsError) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_i32_le(e.errno());
    let m = e.message();
    let mut end = m.len().min(1024);
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    encode_str(&mut b, &m[..end]);
    b.freeze()
}

/// Decodes the message of an error reply into the error it stands for.
pub fn decode_error(msg: &[u8]) -> FsError {
    let mut r = Reader::new(msg);
    let parsed = (|| -> FsResult<FsError> {
        let errno = r.u32()? as i32;
        let m = r.string(1024)?;
        Ok(FsError::from_errno(errno, m))
    })();
    parsed.unwrap_or_else(|e| FsError::Protocol(format!("malformed error reply: {e}")))
}
