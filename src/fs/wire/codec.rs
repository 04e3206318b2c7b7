//! The field encodings of BenchFS messages: the bounded [`Reader`], the writers of strings,
//! ids and attributes, and the [`Codec`]s the tables of [`super::requests`] and
//! [`super::responses`] name for each field.
//!
//! Owns how one value is laid out (little endian, strings and byte strings with a u32
//! length, booleans as 0 or 1, tokens as their 32 bytes) and the checks on the way in (length bounds, no reservation
//! beyond the bytes present, no trailing bytes). Shared with the metadata log, which keeps
//! attributes in the same layout. Knows nothing of frames or of which message holds what.

use super::frame::{MAX_DIR_BATCH, MAX_NAME_LEN, MAX_PATH_LEN};
use super::types::{Attr, DirEntry, FileId, FileKind, SizeMode, StatFs, Token, TOKEN_LEN};
use crate::fs::error::{FsError, FsResult};
use bytes::{BufMut, BytesMut};

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

/// How one field of a message is written and read: `T` is the field's type, the codec its
/// layout (the same type may have several, e.g. strings of different bounds).
pub(crate) trait Codec<T> {
    /// Appends `v`.
    fn put(b: &mut BytesMut, v: &T);
    /// Reads a value, checking its bounds.
    fn get(r: &mut Reader<'_>) -> FsResult<T>;
}

/// The one layout of a type that has only one (numbers, booleans, ids, attributes, ...).
pub(crate) struct Plain;

/// A UTF-8 string of at most `MAX` bytes, with its u32 length.
pub(crate) struct Text<const MAX: usize>;

/// A u32 count; a larger value read is lowered to `MAX`.
pub(crate) struct AtMost<const MAX: u32>;

/// A batch of entries with its u32 count, at most [`MAX_DIR_BATCH`] of them.
pub(crate) struct Batch;

impl Codec<u32> for Plain {
    fn put(b: &mut BytesMut, v: &u32) {
        b.put_u32_le(*v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<u32> {
        r.u32()
    }
}

impl Codec<u64> for Plain {
    fn put(b: &mut BytesMut, v: &u64) {
        b.put_u64_le(*v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<u64> {
        r.u64()
    }
}

impl Codec<Token> for Plain {
    fn put(b: &mut BytesMut, v: &Token) {
        b.put_slice(v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Token> {
        let mut t = [0u8; TOKEN_LEN];
        t.copy_from_slice(r.take(TOKEN_LEN)?);
        Ok(t)
    }
}

impl Codec<bool> for Plain {
    fn put(b: &mut BytesMut, v: &bool) {
        b.put_u8(*v as u8)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<bool> {
        r.bool()
    }
}

impl Codec<FileId> for Plain {
    fn put(b: &mut BytesMut, v: &FileId) {
        put_id(b, *v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<FileId> {
        r.id()
    }
}

impl Codec<Attr> for Plain {
    fn put(b: &mut BytesMut, v: &Attr) {
        put_attr(b, v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Attr> {
        r.attr()
    }
}

impl Codec<Option<Attr>> for Plain {
    fn put(b: &mut BytesMut, v: &Option<Attr>) {
        match v {
            Some(a) => {
                b.put_u8(1);
                put_attr(b, a);
            }
            None => b.put_u8(0),
        }
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Option<Attr>> {
        Ok(if r.bool()? { Some(r.attr()?) } else { None })
    }
}

impl Codec<SizeMode> for Plain {
    fn put(b: &mut BytesMut, v: &SizeMode) {
        b.put_u8(*v as u8)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<SizeMode> {
        match r.u8()? {
            0 => Ok(SizeMode::Extend),
            1 => Ok(SizeMode::Exact),
            v => Err(FsError::Protocol(format!("bad size mode {v}"))),
        }
    }
}

impl Codec<StatFs> for Plain {
    fn put(b: &mut BytesMut, s: &StatFs) {
        b.put_u64_le(s.total_bytes);
        b.put_u64_le(s.free_bytes);
        b.put_u64_le(s.avail_bytes);
        b.put_u64_le(s.entries);
        b.put_u64_le(s.chunks);
        b.put_u64_le(s.files);
        b.put_u64_le(s.files_free);
        b.put_u64_le(s.device);
    }
    fn get(r: &mut Reader<'_>) -> FsResult<StatFs> {
        Ok(StatFs {
            total_bytes: r.u64()?,
            free_bytes: r.u64()?,
            avail_bytes: r.u64()?,
            entries: r.u64()?,
            chunks: r.u64()?,
            files: r.u64()?,
            files_free: r.u64()?,
            device: r.u64()?,
        })
    }
}

impl<const MAX: usize> Codec<String> for Text<MAX> {
    fn put(b: &mut BytesMut, v: &String) {
        put_str(b, v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<String> {
        r.string(MAX)
    }
}

impl<const MAX: u32> Codec<u32> for AtMost<MAX> {
    fn put(b: &mut BytesMut, v: &u32) {
        b.put_u32_le(*v)
    }
    fn get(r: &mut Reader<'_>) -> FsResult<u32> {
        Ok(r.u32()?.min(MAX))
    }
}

/// One entry of a [`Batch`].
pub(crate) trait BatchEntry: Sized {
    /// What the entries are, for the error about too many of them.
    const WHAT: &'static str;
    /// The fewest bytes one entry takes (so that a count never reserves more than the
    /// bytes present could hold).
    const MIN_LEN: usize;
    /// Appends the entry.
    fn put(&self, b: &mut BytesMut);
    /// Reads an entry.
    fn get(r: &mut Reader<'_>) -> FsResult<Self>;
}

impl BatchEntry for DirEntry {
    const WHAT: &'static str = "directory entries";
    const MIN_LEN: usize = 5;
    fn put(&self, b: &mut BytesMut) {
        put_str(b, &self.name);
        b.put_u8(self.kind as u8);
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Self> {
        Ok(DirEntry {
            name: r.string(MAX_NAME_LEN)?,
            kind: r.kind()?,
        })
    }
}

impl BatchEntry for (String, Attr) {
    const WHAT: &'static str = "tree entries";
    const MIN_LEN: usize = 4 + 61;
    fn put(&self, b: &mut BytesMut) {
        put_str(b, &self.0);
        put_attr(b, &self.1);
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Self> {
        Ok((r.string(MAX_PATH_LEN)?, r.attr()?))
    }
}

impl<T: BatchEntry> Codec<Vec<T>> for Batch {
    fn put(b: &mut BytesMut, v: &Vec<T>) {
        b.put_u32_le(v.len() as u32);
        for e in v {
            e.put(b);
        }
    }
    fn get(r: &mut Reader<'_>) -> FsResult<Vec<T>> {
        let n = r.u32()?;
        if n > MAX_DIR_BATCH {
            return Err(FsError::MessageTooLong(format!(
                "{n} {} (max {MAX_DIR_BATCH})",
                T::WHAT
            )));
        }
        let mut entries = Vec::with_capacity((n as usize).min(r.remaining() / T::MIN_LEN));
        for _ in 0..n {
            entries.push(T::get(r)?);
        }
        Ok(entries)
    }
}
