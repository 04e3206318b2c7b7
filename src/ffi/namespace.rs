//! The calls on paths: `benchfs_remove`, `benchfs_stat`, `benchfs_get_file_size`,
//! `benchfs_mkdir`, `benchfs_rmdir`, `benchfs_rename`, `benchfs_truncate`, `benchfs_access`,
//! `benchfs_statfs` and `benchfs_readdir`; with the C structs they fill.
//!
//! Owns the C form of attributes (`benchfs_stat_t`), capacity (`benchfs_statfs_t`) and directory
//! entries (`benchfs_dirent`). Paths are absolute BenchFS paths (`/dir/file`).

use super::boundary::{c_str, int_call, status_call, CallError};
use super::context::{benchfs_context, context, Context};
use crate::fs::{Attr, FileKind, FsError};
use futures::StreamExt;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

/// `benchfs_stat_t.type` of a regular file.
pub const BENCHFS_TYPE_FILE: u32 = 1;
/// `benchfs_stat_t.type` of a directory.
pub const BENCHFS_TYPE_DIR: u32 = 2;

/// Attributes of a file or directory.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct benchfs_stat_t {
    /// Size in bytes: as of the file's last close, fsync or truncate (0 for directories).
    pub size: u64,
    /// `S_IFREG` or `S_IFDIR` plus the permission bits, as in `struct stat`'s `st_mode`.
    pub mode: u32,
    /// `BENCHFS_TYPE_FILE` or `BENCHFS_TYPE_DIR`.
    pub r#type: u32,
    /// Chunk size of the file (0 for directories).
    pub chunk_size: u32,
    /// Number of servers a file's chunks may be spread over (for `st_blksize`-like use: the
    /// cluster's server count).
    pub servers: u32,
    /// A number identifying the file (for `st_ino`).
    pub ino: u64,
    /// Last access, seconds since the Unix epoch.
    pub atime_sec: i64,
    /// Nanoseconds of `atime_sec`.
    pub atime_nsec: i64,
    /// Last modification, seconds since the Unix epoch.
    pub mtime_sec: i64,
    /// Nanoseconds of `mtime_sec`.
    pub mtime_nsec: i64,
    /// Last status change, seconds since the Unix epoch.
    pub ctime_sec: i64,
    /// Nanoseconds of `ctime_sec`.
    pub ctime_nsec: i64,
}

/// Capacity and usage of the cluster, summed over every server.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct benchfs_statfs_t {
    /// Bytes of the file systems holding the servers' data.
    pub total_bytes: u64,
    /// Free bytes.
    pub free_bytes: u64,
    /// Bytes available to unprivileged users.
    pub avail_bytes: u64,
    /// Files and directories held.
    pub entries: u64,
    /// Chunk files held.
    pub chunks: u64,
    /// Servers of the cluster.
    pub servers: u32,
}

/// One entry of `benchfs_readdir`: its name (valid during the callback only) and its
/// attributes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct benchfs_dirent {
    /// Name within the directory (NUL-terminated).
    pub name: *const c_char,
    /// Attributes: type, size, mode, times.
    pub stat: benchfs_stat_t,
}

/// Callback of `benchfs_readdir`: return 0 to go on, anything else to stop.
pub type benchfs_readdir_fn =
    Option<unsafe extern "C" fn(arg: *mut c_void, entry: *const benchfs_dirent) -> c_int>;

/// Splits nanoseconds since the epoch into seconds and nanoseconds (rounding down).
fn split_ns(ns: i64) -> (i64, i64) {
    (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000))
}

fn to_c_stat(a: &Attr, servers: usize) -> benchfs_stat_t {
    let (kind, ifmt) = match a.kind {
        FileKind::Dir => (BENCHFS_TYPE_DIR, libc::S_IFDIR),
        FileKind::File => (BENCHFS_TYPE_FILE, libc::S_IFREG),
    };
    let (atime_sec, atime_nsec) = split_ns(a.atime_ns);
    let (mtime_sec, mtime_nsec) = split_ns(a.mtime_ns);
    let (ctime_sec, ctime_nsec) = split_ns(a.ctime_ns);
    benchfs_stat_t {
        size: if a.kind == FileKind::Dir { 0 } else { a.size },
        mode: ifmt | (a.mode & 0o7777),
        r#type: kind,
        chunk_size: a.chunk_size,
        servers: servers as u32,
        ino: a.id.seq ^ a.id.store.rotate_left(32),
        atime_sec,
        atime_nsec,
        mtime_sec,
        mtime_nsec,
        ctime_sec,
        ctime_nsec,
    }
}

/// Runs a call on `path` of context `ctx`.
fn path_call<T>(
    ctx: *mut benchfs_context,
    path: *const c_char,
    body: impl FnOnce(&Arc<Context>, &str) -> Result<T, CallError>,
) -> Result<T, CallError> {
    let c = context(ctx)?;
    // SAFETY: the caller passes NULL or a NUL-terminated path valid during the call.
    let p = unsafe { c_str(path, "path")? };
    body(&c, p)
}

/// Removes file `path` and its data. Returns 0 or a negative errno (`ENOENT`, `EISDIR`,
/// ...).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_remove(ctx: *mut benchfs_context, path: *const c_char) -> c_int {
    status_call("benchfs_remove", || {
        path_call(ctx, path, |c, p| {
            c.run(c.client().unlink(p)).map_err(|e| c.fs_error(p, e))
        })
    })
}

/// Fills `*st` with the attributes of `path`. Returns 0 or a negative errno (`ENOENT`,
/// `ENOTDIR` for a file used as a directory, `EINVAL` for a NULL `st` or a relative path).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `st` is NULL or valid for writing a
/// `benchfs_stat_t`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_stat(
    ctx: *mut benchfs_context,
    path: *const c_char,
    st: *mut benchfs_stat_t,
) -> c_int {
    status_call("benchfs_stat", || {
        path_call(ctx, path, |c, p| {
            if st.is_null() {
                return Err(CallError::invalid("stat buffer is NULL"));
            }
            let a = c.run(c.client().stat(p)).map_err(|e| c.fs_error(p, e))?;
            // SAFETY: non-null and valid for a write by the caller's contract.
            unsafe { st.write(to_c_stat(&a, c.client().server_count())) };
            Ok(())
        })
    })
}

/// The size of file `path` in bytes (as of its last close, fsync or truncate), or a
/// negative errno.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_get_file_size(
    ctx: *mut benchfs_context,
    path: *const c_char,
) -> i64 {
    int_call("benchfs_get_file_size", || {
        path_call(ctx, path, |c, p| {
            let a = c.run(c.client().stat(p)).map_err(|e| c.fs_error(p, e))?;
            Ok(a.size as i64)
        })
    })
}

/// Creates directory `path` with permission bits `mode`; its parent must exist. Returns 0
/// or a negative errno (`EEXIST`, `ENOENT`, `ENOTDIR`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_mkdir(
    ctx: *mut benchfs_context,
    path: *const c_char,
    mode: u32,
) -> c_int {
    status_call("benchfs_mkdir", || {
        path_call(ctx, path, |c, p| {
            c.run(c.client().mkdir(p, mode & 0o7777))
                .map_err(|e| c.fs_error(p, e))
        })
    })
}

/// Removes the empty directory `path`. Returns 0 or a negative errno (`ENOTEMPTY`,
/// `ENOENT`, `ENOTDIR`, `EBUSY` for the root).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_rmdir(ctx: *mut benchfs_context, path: *const c_char) -> c_int {
    status_call("benchfs_rmdir", || {
        path_call(ctx, path, |c, p| {
            c.run(c.client().rmdir(p)).map_err(|e| c.fs_error(p, e))
        })
    })
}

/// Renames `from` to `to` (a file replaces a file; a directory replaces an empty
/// directory and moves with its contents). Returns 0 or a negative errno (`ENOENT`,
/// `EISDIR`, `ENOTDIR`, `ENOTEMPTY`, `EINVAL` for a move into itself).
///
/// # Safety
/// `from` and `to` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn benchfs_rename(
    ctx: *mut benchfs_context,
    from: *const c_char,
    to: *const c_char,
) -> c_int {
    status_call("benchfs_rename", || {
        path_call(ctx, from, |c, f| {
            // SAFETY: as `from`.
            let t = unsafe { c_str(to, "new path")? };
            c.run(c.client().rename(f, t))
                .map_err(|e| c.fs_error(&format!("{f} -> {t}"), e))
        })
    })
}

/// Sets the size of file `path` to `size` (dropping data beyond it, or leaving a hole that
/// reads as zeros). Returns 0 or a negative errno (`EINVAL` for a negative size, `EISDIR`,
/// `ENOENT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_truncate(
    ctx: *mut benchfs_context,
    path: *const c_char,
    size: i64,
) -> c_int {
    status_call("benchfs_truncate", || {
        path_call(ctx, path, |c, p| {
            let size = u64::try_from(size)
                .map_err(|_| CallError::invalid(format!("negative size {size}")))?;
            c.run(c.client().truncate(p, size))
                .map_err(|e| c.fs_error(p, e))
        })
    })
}

/// Checks that `path` exists (`F_OK`) and that its owner permission bits allow `R_OK`,
/// `W_OK`, `X_OK` (BenchFS has no users: everyone is the owner). Returns 0, `-ENOENT`,
/// `-EACCES`, or another negative errno (`EINVAL` for other bits in `mode`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_access(
    ctx: *mut benchfs_context,
    path: *const c_char,
    mode: c_int,
) -> c_int {
    status_call("benchfs_access", || {
        path_call(ctx, path, |c, p| {
            if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
                return Err(CallError::invalid(format!(
                    "access mode {mode:#o} is not a combination of F_OK, R_OK, W_OK, X_OK"
                )));
            }
            let a = c.run(c.client().stat(p)).map_err(|e| c.fs_error(p, e))?;
            let wanted = [
                (libc::R_OK, 0o400),
                (libc::W_OK, 0o200),
                (libc::X_OK, 0o100),
            ];
            for (bit, perm) in wanted {
                if mode & bit != 0 && a.mode & perm == 0 {
                    return Err(c.fs_error(
                        p,
                        FsError::PermissionDenied(format!("mode {:o}", a.mode & 0o7777)),
                    ));
                }
            }
            Ok(())
        })
    })
}

/// Fills `*st` with the capacity and usage of the cluster (`path` is accepted for
/// symmetry with `statfs` and may be NULL: BenchFS has one namespace). Returns 0 or a
/// negative errno.
///
/// # Safety
/// `st` is NULL or valid for writing a `benchfs_statfs_t`; `path` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_statfs(
    ctx: *mut benchfs_context,
    path: *const c_char,
    st: *mut benchfs_statfs_t,
) -> c_int {
    status_call("benchfs_statfs", || {
        let c = context(ctx)?;
        if !path.is_null() {
            // SAFETY: non-null, NUL-terminated by the caller's contract.
            unsafe { c_str(path, "path")? };
        }
        if st.is_null() {
            return Err(CallError::invalid("statfs buffer is NULL"));
        }
        let s = c
            .run(c.client().statfs())
            .map_err(|e| CallError::fs("/", None, e))?;
        let out = benchfs_statfs_t {
            total_bytes: s.total_bytes,
            free_bytes: s.free_bytes,
            avail_bytes: s.avail_bytes,
            entries: s.entries,
            chunks: s.chunks,
            servers: c.client().server_count() as u32,
        };
        // SAFETY: non-null and valid for a write by the caller's contract.
        unsafe { st.write(out) };
        Ok(())
    })
}

/// Most attribute lookups of one `benchfs_readdir` in flight at once.
const READDIR_STATS_IN_FLIGHT: usize = 64;

/// Calls `callback(arg, entry)` for every entry of directory `path`, sorted by name, each
/// with its type, size, mode and times (so that a `find` needs no `benchfs_stat` per
/// entry); an entry removed while the directory is listed is left out. The callback runs on
/// the calling thread after the listing is complete and may call any libbenchfs function.
/// Returns the number of entries passed to the callback (a non-zero return of the callback
/// stops early, counting that entry), or a negative errno (`ENOENT`, `ENOTDIR`, `EINVAL` for
/// a NULL callback).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `callback` is safe to call with `arg`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_readdir(
    ctx: *mut benchfs_context,
    path: *const c_char,
    callback: benchfs_readdir_fn,
    arg: *mut c_void,
) -> i64 {
    int_call("benchfs_readdir", || {
        path_call(ctx, path, |c, p| {
            let Some(cb) = callback else {
                return Err(CallError::invalid("readdir callback is NULL"));
            };
            let client = c.client();
            let dir = p.trim_end_matches('/').to_string();
            let listed = c.run(async {
                let entries = client.readdir(p).await?;
                let stats = futures::stream::iter(entries)
                    .map(|e| {
                        let full = format!("{dir}/{}", e.name);
                        async move { (e.name, client.stat(&full).await) }
                    })
                    .buffered(READDIR_STATS_IN_FLIGHT)
                    .collect::<Vec<_>>()
                    .await;
                let mut out = Vec::with_capacity(stats.len());
                for (name, r) in stats {
                    match r {
                        Ok(a) => out.push((name, a)),
                        Err(FsError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            });
            let listed = listed.map_err(|e| c.fs_error(p, e))?;
            let servers = client.server_count();
            let mut delivered = 0i64;
            for (name, a) in listed {
                let Ok(cname) = CString::new(name) else {
                    continue;
                };
                let entry = benchfs_dirent {
                    name: cname.as_ptr(),
                    stat: to_c_stat(&a, servers),
                };
                delivered += 1;
                // SAFETY: the caller guarantees `cb` may be called with `arg`; `entry` and
                // its name live until the callback returns.
                if unsafe { cb(arg, &entry) } != 0 {
                    break;
                }
            }
            Ok(delivered)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_split_towards_negative_infinity() {
        assert_eq!(split_ns(1_500_000_000), (1, 500_000_000));
        assert_eq!(split_ns(-1), (-1, 999_999_999));
    }
}
