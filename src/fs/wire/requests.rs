//! The requests of the BenchFS protocol: the one table of operations (name, op number,
//! fields and their layout) from which [`Request`], [`Op`], the op's decoding and name,
//! and the encoding of every request follow.
//!
//! Owns the table and [`MAX_SETTLE_MS`]. Adding an operation is adding one entry here (and
//! its handling in the server); nothing else lists the operations. Knows nothing of the
//! frame around a request (the op number travels in the [`super::FrameHeader`]) or of
//! replies.

use super::codec::{AtMost, Reader, Text};
use super::frame::{MAX_DIR_BATCH, MAX_NAME_LEN, MAX_PATH_LEN};
use super::table::messages;
use super::types::{Attr, FileId, SizeMode, Token};
use crate::fs::error::{FsError, FsResult};
use bytes::{Bytes, BytesMut};

/// The longest a server waits for its spares on one [`Request::Settle`] (below the
/// clients' default call timeout).
pub const MAX_SETTLE_MS: u32 = 20_000;

messages! {
    /// A request (the message part; file data travels in the bulk part of a `Write`).
    pub enum Request;
    /// Operation numbers, carried in the frame header of a request and of its reply.
    pub enum Op: u16, fn op;

    /// First frame of a connection: the client's fresh random nonce. The server answers
    /// with a [`super::Response::Challenge`] (see `crate::fs::transport::handshake`).
    Hello = 1 {
        /// The client's nonce.
        nonce: Token,
    },
    /// Attributes of `path`.
    Lookup = 2 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
    },
    /// Create `path` (or open it if it exists and `exclusive` is false).
    Create = 3 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
        /// Permission bits.
        mode: u32,
        /// Chunk size for a new file.
        chunk_size: u32,
        /// Fail with EEXIST if the path exists.
        exclusive: bool,
        /// Set the size of an existing file to 0.
        truncate: bool,
    },
    /// Create directory `path`.
    Mkdir = 4 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
        /// Permission bits.
        mode: u32,
    },
    /// Remove entry `path`, which must be a directory if `dir` is true, a file otherwise.
    Remove = 5 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
        /// Expect a directory.
        dir: bool,
        /// If not default, only remove the entry if it has this id.
        id: FileId,
    },
    /// Change the size of file `path` whose id is `id`.
    SetSize = 6 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
        /// Expected id.
        id: FileId,
        /// New size.
        size: u64,
        /// Extend or exact.
        mode: SizeMode,
    },
    /// Entries of directory `path` held by this server, after name `after`.
    ReadDir = 7 {
        /// Normalised absolute directory path.
        path: String => Text<MAX_PATH_LEN>,
        /// Resume after this name ("" to start).
        after: String => Text<MAX_NAME_LEN>,
        /// Most entries to return (at most [`MAX_DIR_BATCH`]).
        max: u32 => AtMost<MAX_DIR_BATCH>,
    },
    /// Insert `attr` at `path` (the target of a rename), replacing an entry of the same kind
    /// if `replace`.
    Insert = 8 {
        /// Normalised absolute path.
        path: String => Text<MAX_PATH_LEN>,
        /// Attributes to insert.
        attr: Attr,
    },
    /// Write the bulk payload into chunk `chunk` of file `id` at `offset` within the chunk.
    Write = 9 {
        /// File id.
        id: FileId,
        /// Chunk index.
        chunk: u64,
        /// Offset within the chunk.
        offset: u32,
        /// The file's chunk size (the write must end within it; the server also uses it to
        /// give a new chunk storage allocated ahead of time).
        chunk_size: u32,
    },
    /// Read up to `len` bytes of chunk `chunk` of file `id` from `offset` within the chunk.
    Read = 10 {
        /// File id.
        id: FileId,
        /// Chunk index.
        chunk: u64,
        /// Offset within the chunk.
        offset: u32,
        /// Bytes wanted.
        len: u32,
    },
    /// Drop chunks wholly beyond `size` and shorten the one containing it.
    TruncateChunks = 11 {
        /// File id.
        id: FileId,
        /// New size.
        size: u64,
        /// The file's chunk size.
        chunk_size: u32,
    },
    /// Remove every chunk of file `id` held by this server.
    RemoveChunks = 12 {
        /// File id.
        id: FileId,
    },
    /// Flush every chunk of file `id` held by this server.
    SyncChunks = 13 {
        /// File id.
        id: FileId,
    },
    /// Flush the metadata log.
    SyncMeta = 14,
    /// Capacity and usage.
    StatFs = 15,
    /// Entries whose path lies under directory `path` (at any depth) held by this server,
    /// in path order, after path `after`.
    ListTree = 16 {
        /// Normalised absolute directory path.
        path: String => Text<MAX_PATH_LEN>,
        /// Resume after this full path ("" to start).
        after: String => Text<MAX_PATH_LEN>,
        /// Most entries to return (at most [`MAX_DIR_BATCH`]).
        max: u32 => AtMost<MAX_DIR_BATCH>,
    },
    /// Wait until the server's pool of spare chunk files is full (it fills once the server
    /// is idle), or for `wait_ms` at most ([`MAX_SETTLE_MS`] at most).
    Settle = 17 {
        /// Longest wait, milliseconds.
        wait_ms: u32 => AtMost<MAX_SETTLE_MS>,
    },
    /// Second frame of a connection: the client's proof that it holds the cluster secret
    /// (an HMAC of both nonces); answered with [`super::Response::Unit`] once checked.
    Prove = 18 {
        /// The client's proof.
        proof: Token,
    },
}

impl Op {
    /// The op for a number, if there is one.
    pub fn from_u16(v: u16) -> FsResult<Op> {
        Op::from_number(v).ok_or_else(|| FsError::Protocol(format!("unknown op {v}")))
    }
}

impl Request {
    /// Encodes the message part of this request.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        self.put_fields(&mut b);
        b.freeze()
    }

    /// Decodes the message part of a request of operation `op` (a number from the header).
    pub fn decode(op: u16, msg: &[u8]) -> FsResult<Request> {
        let op = Op::from_u16(op)?;
        let mut r = Reader::new(msg);
        let req = Request::get_fields(op, &mut r)?;
        r.finish()?;
        Ok(req)
    }
}
