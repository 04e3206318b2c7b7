//! The values carried by BenchFS messages: file identities ([`FileId`]), kinds, attributes
//! ([`Attr`]), directory entries, server capacity ([`StatFs`]), how a size changes
//! ([`SizeMode`]), the handshake's [`Token`]s, and the chunk sizes a file may have with THE rule they obey
//! ([`check_chunk_size`]).
//!
//! Owns these plain types and the chunk-size rule; every place that accepts a chunk size
//! from a user, a configuration or the network checks it with [`check_chunk_size`] and
//! nothing else. Knows nothing of encodings (see the `codec` module) or frames.

use crate::fs::error::{FsError, FsResult};

/// Length of a [`Token`].
pub const TOKEN_LEN: usize = 32;

/// 32 bytes of the handshake: a random nonce, or an HMAC-SHA256 proof.
pub type Token = [u8; TOKEN_LEN];

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

/// How [`super::Request::SetSize`] changes the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeMode {
    /// Size becomes max(size, new) (close, fsync of a writer).
    Extend = 0,
    /// Size becomes exactly new (truncate).
    Exact = 1,
}

/// Capacity and usage of one server (summed by the client over all servers, each storage
/// device once).
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
    /// Inodes of the file system holding the data directory (0: it has no inode table).
    pub files: u64,
    /// Its free inodes.
    pub files_free: u64,
    /// Identity of that file system (same device on the same machine: same value), so that
    /// servers sharing one device are counted once.
    pub device: u64,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name within the directory.
    pub name: String,
    /// File or directory.
    pub kind: FileKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert!(check_chunk_size(65536).is_ok());
        assert!(check_chunk_size(64 << 20).is_ok());
        assert!(check_chunk_size(32768).is_err());
        assert!(check_chunk_size(100_000).is_err());
        assert!(check_chunk_size(128 << 20).is_err());
    }
}
