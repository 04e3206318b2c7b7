//! What names a chunk on a server's disk: the chunk key (file id, chunk index), the chunk
//! file's name derived from it (never from a client path), and the capacity of the file system
//! that holds the chunk files.
//!
//! A leaf of the server: the chunk store, the spare pool and the tail tracker use it; it
//! knows nothing of them.

use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::FileId;
use std::path::Path;

/// A chunk: file id and chunk index.
pub type Key = (FileId, u64);

/// The file name of chunk `index` of file `id`.
pub fn chunk_file_name(id: FileId, index: u64) -> String {
    format!("{:016x}{:016x}.{:x}", id.store, id.seq, index)
}

/// The chunk key of a chunk file's name, if it is one.
pub fn parse_chunk_file_name(name: &str) -> Option<Key> {
    let (id, idx) = name.split_once('.')?;
    if id.len() != 32 {
        return None;
    }
    let store = u64::from_str_radix(&id[..16], 16).ok()?;
    let seq = u64::from_str_radix(&id[16..], 16).ok()?;
    let idx = u64::from_str_radix(idx, 16).ok()?;
    Some((FileId { store, seq }, idx))
}

/// Capacity of the file system holding a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    /// Total bytes.
    pub total: u64,
    /// Free bytes.
    pub free: u64,
    /// Bytes available to unprivileged users.
    pub avail: u64,
    /// Inodes of the file system (0 if it has no inode table).
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
    /// Identity of the file system on this machine: the same for every directory on it
    /// (its device number mixed with this boot's id), different on another machine.
    pub device: u64,
}

/// This boot of this machine (`/proc/sys/kernel/random/boot_id`; the host name if absent).
fn boot_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| std::fs::read_to_string("/etc/hostname").unwrap_or_default())
    })
}

/// Capacity of the file system holding `dir`.
pub fn capacity_of(dir: &Path) -> FsResult<Capacity> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| FsError::InvalidArgument("data dir contains NUL".into()))?;
    // SAFETY: statvfs is plain data; zeroed is a valid value, and `c` is a valid C string.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    if rc != 0 {
        return Err(FsError::from_io(
            "statvfs",
            &std::io::Error::last_os_error(),
        ));
    }
    let dev = std::fs::metadata(dir)
        .map_err(|e| FsError::from_io("stat data dir", &e))?
        .dev();
    let mut id = boot_id().as_bytes().to_vec();
    id.extend_from_slice(&dev.to_le_bytes());
    let f = s.f_frsize as u64;
    Ok(Capacity {
        total: s.f_blocks as u64 * f,
        free: s.f_bfree as u64 * f,
        avail: s.f_bavail as u64 * f,
        files: s.f_files as u64,
        files_free: s.f_ffree as u64,
        device: xxhash_rust::xxh3::xxh3_64(&id),
    })
}
