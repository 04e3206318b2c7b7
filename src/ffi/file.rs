//! The calls on open files: `benchfs_create`, `benchfs_open`, `benchfs_close`,
//! `benchfs_write`, `benchfs_read`, `benchfs_fsync`, `benchfs_lseek`; and the translation
//! of the platform's `O_*` flags.
//!
//! Owns the meaning of each flag and of file offsets at the boundary. Reads and writes have
//! pread/pwrite semantics: they take an explicit offset, never move the position of
//! `benchfs_lseek`, and may run concurrently on one handle. Data never stays borrowed after
//! a call returns: a write is copied into the request before it is sent, and a read is
//! received into a buffer of the transport and copied into the caller's memory inside the
//! call, so a call that times out leaves nothing writing into the caller's buffer. Memory of
//! an I/O buffer ([`super::io_buffer`]) is the exception: it is sent from and received into
//! directly, and kept alive by the transfers that use it.

use super::boundary::{c_str, int_call, length, offset, ptr_call, status_call, CallError};
use super::context::{benchfs_context, benchfs_file, context, file, OpenFile, FILES};
use super::handles::of_ptr;
use super::io_buffer;
use crate::fs::{FsError, OpenFlags};
use std::ffi::{c_char, c_int, c_void};

/// Flags accepted without effect: BenchFS clients keep no page cache (every access already
/// goes to the servers, as `O_DIRECT` asks) and have no descriptors to inherit.
const IGNORED_FLAGS: c_int =
    libc::O_CLOEXEC | libc::O_DIRECT | libc::O_LARGEFILE | libc::O_NOATIME | libc::O_NOCTTY;

/// Default mode of a file created by `benchfs_open` with `O_CREAT`.
pub const BENCHFS_DEFAULT_CREATE_MODE: u32 = 0o644;

/// The access and creation flags of `flags`; `create` forces `O_CREAT|O_TRUNC` and write
/// access (benchfs_create).
fn open_flags(flags: c_int, mode: u32, create: bool) -> Result<OpenFlags, CallError> {
    let known = libc::O_ACCMODE
        | libc::O_CREAT
        | libc::O_TRUNC
        | libc::O_EXCL
        | libc::O_APPEND
        | IGNORED_FLAGS;
    if flags & !known != 0 {
        return Err(CallError::invalid(format!(
            "unsupported open flags {:#o} (BenchFS knows O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_EXCL, O_APPEND)",
            flags & !known
        )));
    }
    let mut f = match flags & libc::O_ACCMODE {
        libc::O_RDONLY if create => OpenFlags::write_only(),
        libc::O_RDONLY => OpenFlags::read_only(),
        libc::O_WRONLY => OpenFlags::write_only(),
        libc::O_RDWR => OpenFlags::read_write(),
        other => {
            return Err(CallError::invalid(format!(
                "access mode {other:#o} is none of O_RDONLY, O_WRONLY, O_RDWR"
            )))
        }
    };
    f = f
        .create(create || flags & libc::O_CREAT != 0)
        .truncate(create || flags & libc::O_TRUNC != 0)
        .exclusive(flags & libc::O_EXCL != 0)
        .append(flags & libc::O_APPEND != 0)
        .mode(mode & 0o7777);
    Ok(f)
}

fn open_with(
    op: &str,
    ctx: *mut benchfs_context,
    path: *const c_char,
    flags: c_int,
    mode: u32,
    create: bool,
) -> *mut benchfs_file {
    ptr_call(op, || {
        let c = context(ctx)?;
        // SAFETY: the caller passes NULL or a NUL-terminated path valid during the call.
        let p = unsafe { c_str(path, "path")? };
        let f = open_flags(flags, mode, create)?;
        let h = c.run(c.client().open(p, f)).map_err(|e| c.fs_error(p, e))?;
        Ok(c.add_file(h))
    })
}

/// Creates `path` (or truncates it if it exists) and opens it for writing: the access mode
/// of `flags` (`O_WRONLY` or `O_RDWR`; `O_RDONLY` counts as `O_WRONLY`) plus `O_CREAT|O_TRUNC`;
/// `O_EXCL` fails with `EEXIST` if the file exists, `O_APPEND` is honoured. `mode` gives the
/// permission bits. Returns a file handle, or NULL with `errno` set (`ENOENT`: no parent
/// directory, `EISDIR`, `EEXIST`, `EINVAL` for an unknown flag, ...). Close it with
/// `benchfs_close`; `benchfs_finalize` closes what is left open.
///
/// Truncation removes data other clients may be writing: for a file that several processes
/// create at once, use `benchfs_open(ctx, path, O_CREAT | O_RDWR)` instead.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_create(
    ctx: *mut benchfs_context,
    path: *const c_char,
    flags: c_int,
    mode: u32,
) -> *mut benchfs_file {
    open_with("benchfs_create", ctx, path, flags, mode, true)
}

/// Opens `path` with `flags`: an access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) and any of
/// `O_CREAT` (mode 0644), `O_TRUNC`, `O_EXCL`, `O_APPEND`; `O_CLOEXEC`, `O_DIRECT`,
/// `O_LARGEFILE`, `O_NOATIME` and `O_NOCTTY` are accepted and change nothing. Returns a file
/// handle, or NULL with `errno` set (`ENOENT`, `EISDIR`, `EEXIST`, `EINVAL`, ...).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn benchfs_open(
    ctx: *mut benchfs_context,
    path: *const c_char,
    flags: c_int,
) -> *mut benchfs_file {
    open_with(
        "benchfs_open",
        ctx,
        path,
        flags,
        BENCHFS_DEFAULT_CREATE_MODE,
        false,
    )
}

/// Closes `file`, publishing the size of what it wrote (a later open or stat sees it). The
/// handle is invalid afterwards, whatever the result. Returns 0 or a negative errno.
#[no_mangle]
pub extern "C" fn benchfs_close(file: *mut benchfs_file) -> c_int {
    status_call("benchfs_close", || {
        let id = of_ptr(file);
        let f = FILES.remove(id)?;
        f.ctx.forget_file(id);
        f.ctx
            .run(f.handle.close())
            .map_err(|e| f.ctx.fs_error(f.handle.path(), e))
    })
}

/// The error of an I/O of `len` bytes at `off`, naming the chunk servers it went to.
fn io_error(f: &OpenFile, off: u64, len: usize, e: FsError) -> CallError {
    let c = f.ctx.client();
    let cs = (f.handle.chunk_size() as u64).max(1);
    let first = off / cs;
    let last = (off + len.max(1) as u64 - 1) / cs;
    let mut servers: Vec<String> = Vec::new();
    for chunk in first..=last.min(first + 64) {
        if let Some(a) = c.server_addr(c.placement().chunk_server(f.handle.id(), chunk)) {
            if !servers.contains(&a) {
                servers.push(a);
            }
        }
    }
    let server = (!servers.is_empty()).then(|| servers.join(", "));
    CallError::fs(&format!("{} at offset {off}", f.handle.path()), server, e)
}

/// Runs a read or write of `len` bytes at `offset` on `file`: checks the handle, the offset
/// and the buffer (NULL only with `len` 0), then runs `io` with the checked values.
fn io_call(
    op: &str,
    file: *mut benchfs_file,
    buf_is_null: bool,
    len: usize,
    offset: i64,
    io: impl FnOnce(&OpenFile, u64, usize) -> Result<usize, FsError>,
) -> i64 {
    int_call(op, || {
        let f = self::file(file)?;
        let off = self::offset(offset)?;
        let len = length(len)?;
        if len > 0 && buf_is_null {
            return Err(CallError::invalid("buffer is NULL"));
        }
        let n = io(&f, off, len).map_err(|e| io_error(&f, off, len, e))?;
        Ok(n as i64)
    })
}

/// Writes `len` bytes of `buf` at `offset` (pwrite). Returns `len`, or a negative errno
/// (`EBADF`: closed, or not open for writing; `EINVAL`: negative offset or NULL `buf`;
/// `ETIMEDOUT`, `ECONNRESET`, `ENOSPC`, `EIO`, ...). The data is copied before the call
/// returns; `buf` may be reused at once. Data inside a buffer of `benchfs_alloc_io_buffer`
/// is sent from the buffer itself instead.
///
/// # Safety
/// `buf` is valid for reads of `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn benchfs_write(
    file: *mut benchfs_file,
    buf: *const c_void,
    len: usize,
    offset: i64,
) -> i64 {
    io_call(
        "benchfs_write",
        file,
        buf.is_null(),
        len,
        offset,
        |f, off, len| {
            if let Some(io) = io_buffer::find(buf, len) {
                return f.ctx.run(f.handle.write_io(off, &io));
            }
            let data: &[u8] = if len == 0 {
                &[]
            } else {
                // SAFETY: non-null (checked) and valid for `len` bytes by the caller's contract;
                // only read during this call (the future copies it and is finished when run
                // returns).
                unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }
            };
            f.ctx.run(f.handle.write_at(off, data))
        },
    )
}

/// Reads up to `len` bytes at `offset` into `buf` (pread). Returns the bytes read: fewer
/// than `len` at the end of the file, 0 at or past it; holes read as zeros. A negative errno
/// on error (`EBADF`, `EINVAL`, `ETIMEDOUT`, ...); after an error, `buf` holds either its old
/// contents or data of the file, and nothing writes into it once the call has returned
/// (except into a buffer of `benchfs_alloc_io_buffer`: see there).
///
/// # Safety
/// `buf` is valid for writes of `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn benchfs_read(
    file: *mut benchfs_file,
    buf: *mut c_void,
    len: usize,
    offset: i64,
) -> i64 {
    io_call(
        "benchfs_read",
        file,
        buf.is_null(),
        len,
        offset,
        |f, off, len| {
            if let Some(io) = io_buffer::find(buf, len) {
                return f.ctx.run(f.handle.read_io(off, &io));
            }
            let out: &mut [u8] = if len == 0 {
                &mut []
            } else {
                // SAFETY: non-null (checked) and valid for writes of `len` bytes by the caller's
                // contract; the borrow ends when `run` returns, with the future that holds it
                // finished.
                unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) }
            };
            f.ctx.run(f.handle.read_at(off, out))
        },
    )
}

/// Makes what was written through `file` durable on every server it went to, and publishes
/// its size. Returns 0 or a negative errno.
#[no_mangle]
pub extern "C" fn benchfs_fsync(file: *mut benchfs_file) -> c_int {
    status_call("benchfs_fsync", || {
        let f = self::file(file)?;
        f.ctx
            .run(f.handle.fsync())
            .map_err(|e| f.ctx.fs_error(f.handle.path(), e))
    })
}

/// Moves the position of `file` (`SEEK_SET`, `SEEK_CUR`, or `SEEK_END`: from the size the
/// cluster knows plus what this handle wrote) and returns the new position, or a negative
/// errno (`EINVAL` for another `whence` or a negative result). `benchfs_read` and
/// `benchfs_write` take their own offsets and neither use nor move it.
#[no_mangle]
pub extern "C" fn benchfs_lseek(file: *mut benchfs_file, offset: i64, whence: c_int) -> i64 {
    int_call("benchfs_lseek", || {
        let f = self::file(file)?;
        let base: i64 = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => *f.pos.lock().unwrap_or_else(|p| p.into_inner()) as i64,
            libc::SEEK_END => {
                let a = f
                    .ctx
                    .run(f.handle.fstat())
                    .map_err(|e| f.ctx.fs_error(f.handle.path(), e))?;
                a.size as i64
            }
            other => {
                return Err(CallError::invalid(format!(
                    "whence {other} is not SEEK_SET, SEEK_CUR or SEEK_END"
                )))
            }
        };
        let new = base
            .checked_add(offset)
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                CallError::invalid(format!(
                    "position {base} + {offset} is negative or too large"
                ))
            })?;
        let mut pos = f.pos.lock().unwrap_or_else(|p| p.into_inner());
        *pos = new as u64;
        f.handle.seek(new as u64);
        Ok(new)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_translate_like_posix() {
        let f = open_flags(libc::O_RDONLY, 0, false).unwrap();
        assert!(f.read && !f.write && !f.create);
        let f = open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600, false).unwrap();
        assert!(f.write && !f.read && f.create && f.exclusive && !f.truncate);
        assert_eq!(f.mode, 0o600);
        let f = open_flags(libc::O_RDONLY, 0o640, true).unwrap();
        assert!(f.write && f.create && f.truncate);
        let f = open_flags(
            libc::O_RDWR | libc::O_APPEND | libc::O_CLOEXEC | libc::O_DIRECT,
            0,
            false,
        )
        .unwrap();
        assert!(f.read && f.write && f.append);
        assert_eq!(open_flags(3, 0, false).unwrap_err().errno, libc::EINVAL);
        let e = open_flags(libc::O_RDWR | libc::O_SYNC, 0, false).unwrap_err();
        assert!(
            e.message.contains("unsupported open flags"),
            "{}",
            e.message
        );
    }
}
