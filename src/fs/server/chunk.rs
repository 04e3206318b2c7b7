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

/// Capacity of the file system holding `dir`: (total, free, available) bytes.
pub fn capacity_of(dir: &Path) -> FsResult<(u64, u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
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
    let f = s.f_frsize as u64;
    Ok((
        s.f_blocks as u64 * f,
        s.f_bfree as u64 * f,
        s.f_bavail as u64 * f,
    ))
}
