//! The BenchFS wire protocol: frame headers and the encoding of every request and reply.
//!
//! Owns the frame layout ([`FrameHeader`], 24 bytes, little endian), the bounds every length
//! must respect ([`MAX_MSG_LEN`], [`MAX_BULK_LEN`], [`MAX_PATH_LEN`], ...), and the typed
//! messages ([`Request`], [`Response`], [`Attr`]). A frame is a header, a small message
//! (the encoded request or reply) and an optional bulk payload (file data), which travels
//! separately so that transports can move it without copies. Decoding never panics and never
//! allocates more than the bytes actually present: an absurd length is an error. This module
//! does no I/O.

use super::error::{FsError, FsResult};
use bytes::{BufMut, Bytes, BytesMut};

/// Magic number opening every frame.
pub const MAGIC: u16 = 0xBF5A;
/// Protocol version carried in every frame; a frame of another version is refused.
pub const PROTOCOL_VERSION: u8 = 2;
/// Size of an encoded [`FrameHeader`].
pub const HEADER_LEN: usize = 24;
/// Largest message part of a frame (requests and replies other than bulk data).
pub const MAX_MSG_LEN: u32 = 1 << 20;
/// Largest bulk part of a frame: one whole chunk of the largest chunk size.
pub const MAX_BULK_LEN: u32 = 64 << 20;
/// Longest path accepted anywhere.
pub const MAX_PATH_LEN: usize = 4096;
/// Longest path component.
pub const MAX_NAME_LEN: usize = 255;
/// Longest secret accepted in a handshake.
pub const MAX_SECRET_LEN: usize = 256;
/// Most directory entries returned by one `ReadDir` call.
pub const MAX_DIR_BATCH: u32 = 1024;
/// Smallest chunk size.
pub const MIN_CHUNK_SIZE: u32 = 64 << 10;
/// Largest chunk size.
pub const MAX_CHUNK_SIZE: u32 = 64 << 20;
/// Default chunk size.
pub const DEFAULT_CHUNK_SIZE: u32 = 4 << 20;

/// Checks that a chunk size is a power of two between [`MIN_CHUNK_SIZE`] and
/// [`MAX_CHUNK_SIZE`].
pub fn check_chunk_size(cs: u32) -> FsResult<u32> {
    if cs.is_power_of_two() && (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&cs) {
        Ok(cs)
    } else {
        Err(FsError::InvalidArgument(format!(
            "chunk size {cs} is not a power of two between 64 KiB and 64 MiB"
        )))
    }
}

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A request from a client.
    Request = 0,
    /// A successful reply.
    Reply = 1,
    /// An error reply: the message is an errno and a text.
    Error = 2,
}

/// The fixed header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Request, reply or error.
    pub kind: FrameKind,
    /// The operation ([`Op`] as a number); replies repeat the op of their request.
    pub op: u16,
    /// Request id chosen by the client; a reply carries the id of its request.
    pub id: u64,
    /// Length of the message part.
    pub msg_len: u32,
    /// Length of the bulk part.
    pub bulk_len: u32,
}

impl FrameHeader {
    /// Encodes the header into its 24 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&MAGIC.to_le_bytes());
        b[2] = PROTOCOL_VERSION;
        b[3] = self.kind as u8;
        b[4..6].copy_from_slice(&self.op.to_le_bytes());
        // b[6..8] reserved (flags), zero.
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..20].copy_from_slice(&self.msg_len.to_le_bytes());
        b[20..24].copy_from_slice(&self.bulk_len.to_le_bytes());
        b
    }

    /// Decodes and validates a header: magic, version, kind and both length bounds.
    pub fn decode(b: &[u8]) -> FsResult<Self> {
        if b.len() < HEADER_LEN {
            return Err(FsError::Protocol("short frame header".into()));
        }
        let magic = u16::from_le_bytes([b[0], b[1]]);
        if magic != MAGIC {
            return Err(FsError::Protocol(format!("bad magic {magic:#06x}")));
        }
        if b[2] != PROTOCOL_VERSION {
            return Err(FsError::Protocol(format!(
                "protocol version {} (expected {PROTOCOL_VERSION})",
                b[2]
            )));
        }
        let kind = match b[3] {
            0 => FrameKind::Request,
            1 => FrameKind::Reply,
            2 => FrameKind::Error,
            k => return Err(FsError::Protocol(format!("bad frame kind {k}"))),
        };
        let op = u16::from_le_bytes([b[4], b[5]]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[8..16]);
        let msg_len = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
        let bulk_len = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
        if msg_len > MAX_MSG_LEN {
            return Err(FsError::MessageTooLong(format!(
                "message of {msg_len} bytes (max {MAX_MSG_LEN})"
            )));
        }
        if bulk_len > MAX_BULK_LEN {
            return Err(FsError::MessageTooLong(format!(
                "bulk payload of {bulk_len} bytes (max {MAX_BULK_LEN})"
            )));
        }
        Ok(FrameHeader {
            kind,
            op,
            id: u64::from_le_bytes(id),
            msg_len,
            bulk_len,
        })
    }
}

/// A 128-bit file identity handed out by the metadata server that created the file: the
/// server's random store id and its persisted sequence number, so two files never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId {
    /// Store id of the creating metadata server.
    pub store: u64,
    /// Sequence number within that store.
    pub seq: u64,
}

impl FileId {
    /// The 16 bytes of the id (used for hashing and chunk file names).
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.store.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

/// Kind of a file system entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File = 1,
    /// A directory.
    Dir = 2,
}

/// Attributes of a file or directory, as kept by its metadata server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// Collision-free identity (chunks are named after it).
    pub id: FileId,
    /// File or directory.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Size in bytes (as of the last close, fsync or truncate).
    pub size: u64,
    /// Chunk size of this file (power of two, 64 KiB..64 MiB); 0 for directories.
    pub chunk_size: u32,
    /// Last access, nanoseconds since the Unix epoch.
    pub atime_ns: i64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Last status change, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
}

/// How [`Request::SetSize`] changes the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeMode {
    /// Size becomes max(size, new) (close, fsync of a writer).
    Extend = 0,
    /// Size becomes exactly new (truncate).
    Exact = 1,
}

/// Operation numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Op {
    /// Handshake: present the cluster secret.
    Hello = 1,
    /// Attributes of a path.
    Lookup = 2,
    /// Create (or open) a file.
    Create = 3,
    /// Create a directory.
    Mkdir = 4,
    /// Remove a file or directory entry.
    Remove = 5,
    /// Change a file's size.
    SetSize = 6,
    /// List the entries of a directory held by one server.
    ReadDir = 7,
    /// Insert an entry (rename target).
    Insert = 8,
    /// Write into a chunk.
    Write = 9,
    /// Read from a chunk.
    Read = 10,
    /// Drop or shorten the chunks of a file beyond a size.
    TruncateChunks = 11,
    /// Remove every chunk of a file.
    RemoveChunks = 12,
    /// Flush the chunks of a file to stable storage.
    SyncChunks = 13,
    /// Flush the metadata log to stable storage.
    SyncMeta = 14,
    /// Capacity and usage of a server.
    StatFs = 15,
    /// Entries under a directory, at any depth, held by one server.
    ListTree = 16,
    /// Wait until the server has its spare chunk files ready (before a timed write).
    Settle = 17,
}

impl Op {
    /// The op for a number, if there is one.
    pub fn from_u16(v: u16) -> FsResult<Op> {
        Ok(match v {
            1 => Op::Hello,
            2 => Op::Lookup,
            3 => Op::Create,
            4 => Op::Mkdir,
            5 => Op::Remove,
            6 => Op::SetSize,
            7 => Op::ReadDir,
            8 => Op::Insert,
            9 => Op::Write,
            10 => Op::Read,
            11 => Op::TruncateChunks,
            12 => Op::RemoveChunks,
            13 => Op::SyncChunks,
            14 => Op::SyncMeta,
            15 => Op::StatFs,
            16 => Op::ListTree,
            17 => Op::Settle,
            _ => return Err(FsError::Protocol(format!("unknown op {v}"))),
        })
    }
}

/// A request (the message part; file data travels in the bulk part of a `Write`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Handshake with the cluster secret.
    Hello {
        /// The secret bytes.
        secret: Vec<u8>,
    },
    /// Attributes of `path`.
    Lookup {
        /// Normalised absolute path.
        path: String,
    },
    /// Create `path` (or open it if it exists and `exclusive` is false).
    Create {
        /// Normalised absolute path.
        path: String,
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
    Mkdir {
        /// Normalised absolute path.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// Remove entry `path`, which must be a directory if `dir` is true, a file otherwise.
    Remove {
        /// Normalised absolute path.
        path: String,
        /// Expect a directory.
        dir: bool,
        /// If not default, only remove the entry if it has this id.
        id: FileId,
    },
    /// Change the size of file `path` whose id is `id`.
    SetSize {
        /// Normalised absolute path.
        path: String,
        /// Expected id.
        id: FileId,
        /// New size.
        size: u64,
        /// Extend or exact.
        mode: SizeMode,
    },
    /// Entries of directory `path` held by this server, after name `after`.
    ReadDir {
        /// Normalised absolute directory path.
        path: String,
        /// Resume after this name ("" to start).
        after: String,
        /// Most entries to return (at most [`MAX_DIR_BATCH`]).
        max: u32,
    },
    /// Insert `attr` at `path` (the target of a rename), replacing an entry of the same kind
    /// if `replace`.
    Insert {
        /// Normalised absolute path.
        path: String,
        /// Attributes to insert.
        attr: Attr,
    },
    /// Write the bulk payload into chunk `chunk` of file `id` at `offset` within the chunk.
    Write {
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
    Read {
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
    TruncateChunks {
        /// File id.
        id: FileId,
        /// New size.
        size: u64,
        /// The file's chunk size.
        chunk_size: u32,
    },
    /// Remove every chunk of file `id` held by this server.
    RemoveChunks {
        /// File id.
        id: FileId,
    },
    /// Flush every chunk of file `id` held by this server.
    SyncChunks {
        /// File id.
        id: FileId,
    },
    /// Flush the metadata log.
    SyncMeta,
    /// Capacity and usage.
    StatFs,
    /// Entries whose path lies under directory `path` (at any depth) held by this server,
    /// in path order, after path `after`.
    ListTree {
        /// Normalised absolute directory path.
        path: String,
        /// Resume after this full path ("" to start).
        after: String,
        /// Most entries to return (at most [`MAX_DIR_BATCH`]).
        max: u32,
    },
    /// Wait until the server's pool of spare chunk files is full (it fills once the server
    /// is idle), or for `wait_ms` at most ([`MAX_SETTLE_MS`] at most).
    Settle {
        /// Longest wait, milliseconds.
        wait_ms: u32,
    },
}

/// The longest a server waits for its spares on one [`Request::Settle`] (below the
/// clients' default call timeout).
pub const MAX_SETTLE_MS: u32 = 20_000;

/// Capacity and usage of one server (summed by the client over all servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// Total bytes of the file system holding the data directory.
    pub total_bytes: u64,
    /// Free bytes.
    pub free_bytes: u64,
    /// Bytes available to unprivileged users.
    pub avail_bytes: u64,
    /// Metadata entries (files and directories) held.
    pub entries: u64,
    /// Chunk files held.
    pub chunks: u64,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name within the directory.
    pub name: String,
    /// File or directory.
    pub kind: FileKind,
}

/// A successful reply (the message part; read data travels in the bulk part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No value (Hello, Write acks carry the byte count instead, ...).
    Unit,
    /// Attributes.
    Attr(Attr),
    /// Result of a create: attributes, whether the file was created, and whether an existing
    /// file was truncated.
    Created {
        /// Attributes after the call.
        attr: Attr,
        /// The file did not exist before.
        created: bool,
        /// An existing file was truncated to 0.
        truncated: bool,
    },
    /// Attributes of an entry that was replaced or removed, if any.
    Replaced(Option<Attr>),
    /// A batch of directory entries, and whether more follow.
    Dir {
        /// Entries, sorted by name.
        entries: Vec<DirEntry>,
        /// More entries after the last one.
        more: bool,
    },
    /// Number of bytes written.
    Written(u32),
    /// Capacity and usage.
    StatFs(StatFs),
    /// A batch of (path, attributes) under a directory, and whether more follow.
    Tree {
        /// Entries, sorted by path.
        entries: Vec<(String, Attr)>,
        /// More entries after the last one.
        more: bool,
    },
}

// ---------------------------------------------------------------------------------------
// Encoding helpers.

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_u32_le(s.len() as u32);
    b.put_slice(s.as_bytes());
}

fn put_id(b: &mut BytesMut, id: FileId) {
    b.put_u64_le(id.store);
    b.put_u64_le(id.seq);
}

fn put_attr(b: &mut BytesMut, a: &Attr) {
    put_id(b, a.id);
    b.put_u8(a.kind as u8);
    b.put_u32_le(a.mode);
    b.put_u64_le(a.size);
    b.put_u32_le(a.chunk_size);
    b.put_i64_le(a.atime_ns);
    b.put_i64_le(a.mtime_ns);
    b.put_i64_le(a.ctime_ns);
}

/// Bounded reader over a message: every read checks the bytes left first.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> FsResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err(FsError::Protocol("truncated message".into()));
        }
        let (h, t) = self.buf.split_at(n);
        self.buf = t;
        Ok(h)
    }

    /// Reads a byte.
    pub fn u8(&mut self) -> FsResult<u8> {
        Ok(self.take(1)?[0])
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> FsResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> FsResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads a little-endian i64.
    pub fn i64(&mut self) -> FsResult<i64> {
        Ok(self.u64()? as i64)
    }

    /// Reads a boolean (0 or 1).
    pub fn bool(&mut self) -> FsResult<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(FsError::Protocol(format!("bad boolean {v}"))),
        }
    }

    /// Reads length-prefixed bytes of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> FsResult<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(FsError::MessageTooLong(format!(
                "field of {n} bytes (max {max})"
            )));
        }
        self.take(n)
    }

    /// Reads a length-prefixed UTF-8 string of at most `max` bytes.
    pub fn string(&mut self, max: usize) -> FsResult<String> {
        let b = self.bytes(max)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| FsError::InvalidArgument("string is not UTF-8".into()))
    }

    /// Reads a file id.
    pub fn id(&mut self) -> FsResult<FileId> {
        Ok(FileId {
            store: self.u64()?,
            seq: self.u64()?,
        })
    }

    /// Reads a file kind.
    pub fn kind(&mut self) -> FsResult<FileKind> {
        match self.u8()? {
            1 => Ok(FileKind::File),
            2 => Ok(FileKind::Dir),
            k => Err(FsError::Protocol(format!("bad file kind {k}"))),
        }
    }

    /// Reads attributes.
    pub fn attr(&mut self) -> FsResult<Attr> {
        Ok(Attr {
            id: self.id()?,
            kind: self.kind()?,
            mode: self.u32()?,
            size: self.u64()?,
            chunk_size: self.u32()?,
            atime_ns: self.i64()?,
            mtime_ns: self.i64()?,
            ctime_ns: self.i64()?,
        })
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> FsResult<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FsError::Protocol(format!(
                "{} trailing bytes in message",
                self.buf.len()
            )))
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// Encodes an attribute record (also used by the metadata log).
pub fn encode_attr(b: &mut BytesMut, a: &Attr) {
    put_attr(b, a)
}

/// Encodes a string with its length (also used by the metadata log).
pub fn encode_str(b: &mut BytesMut, s: &str) {
    put_str(b, s)
}

impl Request {
    /// The op of this request.
    pub fn op(&self) -> Op {
        match self {
            Request::Hello { .. } => Op::Hello,
            Request::Lookup { .. } => Op::Lookup,
            Request::Create { .. } => Op::Create,
            Request::Mkdir { .. } => Op::Mkdir,
            Request::Remove { .. } => Op::Remove,
            Request::SetSize { .. } => Op::SetSize,
            Request::ReadDir { .. } => Op::ReadDir,
            Request::Insert { .. } => Op::Insert,
            Request::Write { .. } => Op::Write,
            Request::Read { .. } => Op::Read,
            Request::TruncateChunks { .. } => Op::TruncateChunks,
            Request::RemoveChunks { .. } => Op::RemoveChunks,
            Request::SyncChunks { .. } => Op::SyncChunks,
            Request::SyncMeta => Op::SyncMeta,
            Request::StatFs => Op::StatFs,
            Request::ListTree { .. } => Op::ListTree,
            Request::Settle { .. } => Op::Settle,
        }
    }

    /// Encodes the message part of this request.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        match self {
            Request::Hello { secret } => {
                b.put_u32_le(secret.len() as u32);
                b.put_slice(secret);
            }
            Request::Lookup { path } => put_str(&mut b, path),
            Request::Create {
                path,
                mode,
                chunk_size,
                exclusive,
                truncate,
            } => {
                put_str(&mut b, path);
                b.put_u32_le(*mode);
                b.put_u32_le(*chunk_size);
                b.put_u8(*exclusive as u8);
                b.put_u8(*truncate as u8);
            }
            Request::Mkdir { path, mode } => {
                put_str(&mut b, path);
                b.put_u32_le(*mode);
            }
            Request::Remove { path, dir, id } => {
                put_str(&mut b, path);
                b.put_u8(*dir as u8);
                put_id(&mut b, *id);
            }
            Request::SetSize {
                path,
                id,
                size,
                mode,
            } => {
                put_str(&mut b, path);
                put_id(&mut b, *id);
                b.put_u64_le(*size);
                b.put_u8(*mode as u8);
            }
            Request::ReadDir { path, after, max } => {
                put_str(&mut b, path);
                put_str(&mut b, after);
                b.put_u32_le(*max);
            }
            Request::Insert { path, attr } => {
                put_str(&mut b, path);
                put_attr(&mut b, attr);
            }
            Request::Write {
                id,
                chunk,
                offset,
                chunk_size,
            } => {
                put_id(&mut b, *id);
                b.put_u64_le(*chunk);
                b.put_u32_le(*offset);
                b.put_u32_le(*chunk_size);
            }
            Request::Read {
                id,
                chunk,
                offset,
                len,
            } => {
                put_id(&mut b, *id);
                b.put_u64_le(*chunk);
                b.put_u32_le(*offset);
                b.put_u32_le(*len);
            }
            Request::TruncateChunks {
                id,
                size,
                chunk_size,
            } => {
                put_id(&mut b, *id);
                b.put_u64_le(*size);
                b.put_u32_le(*chunk_size);
            }
            Request::RemoveChunks { id } | Request::SyncChunks { id } => put_id(&mut b, *id),
            Request::SyncMeta | Request::StatFs => {}
            Request::ListTree { path, after, max } => {
                put_str(&mut b, path);
                put_str(&mut b, after);
                b.put_u32_le(*max);
            }
            Request::Settle { wait_ms } => b.put_u32_le(*wait_ms),
        }
        b.freeze()
    }

    /// Decodes the message part of a request of operation `op` (a number from the header).
    pub fn decode(op: u16, msg: &[u8]) -> FsResult<Request> {
        let op = Op::from_u16(op)?;
        let mut r = Reader::new(msg);
        let req = match op {
            Op::Hello => Request::Hello {
                secret: r.bytes(MAX_SECRET_LEN)?.to_vec(),
            },
            Op::Lookup => Request::Lookup {
                path: r.string(MAX_PATH_LEN)?,
            },
            Op::Create => Request::Create {
                path: r.string(MAX_PATH_LEN)?,
                mode: r.u32()?,
                chunk_size: r.u32()?,
                exclusive: r.bool()?,
                truncate: r.bool()?,
            },
            Op::Mkdir => Request::Mkdir {
                path: r.string(MAX_PATH_LEN)?,
                mode: r.u32()?,
            },
            Op::Remove => Request::Remove {
                path: r.string(MAX_PATH_LEN)?,
                dir: r.bool()?,
                id: r.id()?,
            },
            Op::SetSize => Request::SetSize {
                path: r.string(MAX_PATH_LEN)?,
                id: r.id()?,
                size: r.u64()?,
                mode: match r.u8()? {
                    0 => SizeMode::Extend,
                    1 => SizeMode::Exact,
                    v => return Err(FsError::Protocol(format!("bad size mode {v}"))),
                },
            },
            Op::ReadDir => Request::ReadDir {
                path: r.string(MAX_PATH_LEN)?,
                after: r.string(MAX_NAME_LEN)?,
                max: r.u32()?.min(MAX_DIR_BATCH),
            },
            Op::Insert => Request::Insert {
                path: r.string(MAX_PATH_LEN)?,
                attr: r.attr()?,
            },
            Op::Write => Request::Write {
                id: r.id()?,
                chunk: r.u64()?,
                offset: r.u32()?,
                chunk_size: r.u32()?,
            },
            Op::Read => Request::Read {
                id: r.id()?,
                chunk: r.u64()?,
                offset: r.u32()?,
                len: r.u32()?,
            },
            Op::TruncateChunks => Request::TruncateChunks {
                id: r.id()?,
                size: r.u64()?,
                chunk_size: r.u32()?,
            },
            Op::RemoveChunks => Request::RemoveChunks { id: r.id()? },
            Op::SyncChunks => Request::SyncChunks { id: r.id()? },
            Op::SyncMeta => Request::SyncMeta,
            Op::StatFs => Request::StatFs,
            Op::ListTree => Request::ListTree {
                path: r.string(MAX_PATH_LEN)?,
                after: r.string(MAX_PATH_LEN)?,
                max: r.u32()?.min(MAX_DIR_BATCH),
            },
            Op::Settle => Request::Settle {
                wait_ms: r.u32()?.min(MAX_SETTLE_MS),
            },
        };
        r.finish()?;
        Ok(req)
    }
}

const RESP_UNIT: u8 = 0;
const RESP_ATTR: u8 = 1;
const RESP_CREATED: u8 = 2;
const RESP_REPLACED: u8 = 3;
const RESP_DIR: u8 = 4;
const RESP_WRITTEN: u8 = 5;
const RESP_STATFS: u8 = 6;
const RESP_TREE: u8 = 7;

impl Response {
    /// Encodes the message part of this reply.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(80);
        match self {
            Response::Unit => b.put_u8(RESP_UNIT),
            Response::Attr(a) => {
                b.put_u8(RESP_ATTR);
                put_attr(&mut b, a);
            }
            Response::Created {
                attr,
                created,
                truncated,
            } => {
                b.put_u8(RESP_CREATED);
                put_attr(&mut b, attr);
                b.put_u8(*created as u8);
                b.put_u8(*truncated as u8);
            }
            Response::Replaced(a) => {
                b.put_u8(RESP_REPLACED);
                match a {
                    Some(a) => {
                        b.put_u8(1);
                        put_attr(&mut b, a);
                    }
                    None => b.put_u8(0),
                }
            }
            Response::Dir { entries, more } => {
                b.put_u8(RESP_DIR);
                b.put_u32_le(entries.len() as u32);
                for e in entries {
                    put_str(&mut b, &e.name);
                    b.put_u8(e.kind as u8);
                }
                b.put_u8(*more as u8);
            }
            Response::Written(n) => {
                b.put_u8(RESP_WRITTEN);
                b.put_u32_le(*n);
            }
            Response::Tree { entries, more } => {
                b.put_u8(RESP_TREE);
                b.put_u32_le(entries.len() as u32);
                for (p, a) in entries {
                    put_str(&mut b, p);
                    put_attr(&mut b, a);
                }
                b.put_u8(*more as u8);
            }
            Response::StatFs(s) => {
                b.put_u8(RESP_STATFS);
                b.put_u64_le(s.total_bytes);
                b.put_u64_le(s.free_bytes);
                b.put_u64_le(s.avail_bytes);
                b.put_u64_le(s.entries);
                b.put_u64_le(s.chunks);
            }
        }
        b.freeze()
    }

    /// Decodes the message part of a reply.
    pub fn decode(msg: &[u8]) -> FsResult<Response> {
        let mut r = Reader::new(msg);
        let resp = match r.u8()? {
            RESP_UNIT => Response::Unit,
            RESP_ATTR => Response::Attr(r.attr()?),
            RESP_CREATED => Response::Created {
                attr: r.attr()?,
                created: r.bool()?,
                truncated: r.bool()?,
            },
            RESP_REPLACED => Response::Replaced(if r.bool()? { Some(r.attr()?) } else { None }),
            RESP_DIR => {
                let n = r.u32()?;
                if n > MAX_DIR_BATCH {
                    return Err(FsError::MessageTooLong(format!(
                        "{n} directory entries (max {MAX_DIR_BATCH})"
                    )));
                }
                // Each entry takes at least 5 bytes: never reserve more than is present.
                let mut entries = Vec::with_capacity((n as usize).min(r.remaining() / 5));
                for _ in 0..n {
                    entries.push(DirEntry {
                        name: r.string(MAX_NAME_LEN)?,
                        kind: r.kind()?,
                    });
                }
                Response::Dir {
                    entries,
                    more: r.bool()?,
                }
            }
            RESP_WRITTEN => Response::Written(r.u32()?),
            RESP_TREE => {
                let n = r.u32()?;
                if n > MAX_DIR_BATCH {
                    return Err(FsError::MessageTooLong(format!(
                        "{n} tree entries (max {MAX_DIR_BATCH})"
                    )));
                }
                // Each entry takes at least 4 + 61 bytes: never reserve more than is present.
                let mut entries = Vec::with_capacity((n as usize).min(r.remaining() / 65));
                for _ in 0..n {
                    entries.push((r.string(MAX_PATH_LEN)?, r.attr()?));
                }
                Response::Tree {
                    entries,
                    more: r.bool()?,
                }
            }
            RESP_STATFS => Response::StatFs(StatFs {
                total_bytes: r.u64()?,
                free_bytes: r.u64()?,
                avail_bytes: r.u64()?,
                entries: r.u64()?,
                chunks: r.u64()?,
            }),
            t => return Err(FsError::Protocol(format!("bad reply tag {t}"))),
        };
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
    put_str(&mut b, &m[..end]);
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

#[cfg(test)]
mod tests {
    use super::*;
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
            Request::Hello {
                secret: b"s3cret".to_vec(),
            },
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
            Response::StatFs(StatFs {
                total_bytes: 1,
                free_bytes: 2,
                avail_bytes: 3,
                entries: 4,
                chunks: 5,
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
        m.put_u8(RESP_DIR);
        m.put_u32_le(1_000_000);
        assert!(Response::decode(&m).is_err());
        let mut m = BytesMut::new();
        m.put_u8(RESP_DIR);
        m.put_u32_le(MAX_DIR_BATCH);
        assert!(Response::decode(&m).is_err());
    }

    #[test]
    fn chunk_sizes() {
        assert!(check_chunk_size(65536).is_ok());
        assert!(check_chunk_size(64 << 20).is_ok());
        assert!(check_chunk_size(32768).is_err());
        assert!(check_chunk_size(100_000).is_err());
        assert!(check_chunk_size(128 << 20).is_err());
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
