//! I/O buffers of the C API: `benchfs_alloc_io_buffer`, `benchfs_free_io_buffer`,
//! `benchfs_get_io_stats`, and [`find`], by which `benchfs_write` and `benchfs_read`
//! recognise memory inside one (and then move it without staging copies).
//!
//! Owns the table of live buffers by address; does not move data (that is [`super::file`]).

use super::boundary::{length, ptr_call, status_call, CallError};
use super::context::{benchfs_context, context};
use crate::fs::transport::io_buffer::{IoBuffer, IoSlice, COPY_STATS};
use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex};

/// Live buffers by start address.
static BUFFERS: Mutex<BTreeMap<usize, Arc<IoBuffer>>> = Mutex::new(BTreeMap::new());

fn buffers() -> std::sync::MutexGuard<'static, BTreeMap<usize, Arc<IoBuffer>>> {
    BUFFERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The I/O buffer range of the `len` bytes at `ptr`, if they all lie in one live buffer.
pub fn find(ptr: *const c_void, len: usize) -> Option<IoSlice> {
    if len == 0 || ptr.is_null() {
        return None;
    }
    let p = ptr as usize;
    let t = buffers();
    let (start, b) = t.range(..=p).next_back()?;
    let from = p - start;
    IoSlice::new(b.clone(), from..from.checked_add(len)?)
}

/// Counters of how the payload bytes of this process's reads and writes moved (see
/// `benchfs_get_io_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct benchfs_io_stats {
    /// Bytes copied between the caller's memory and a transport buffer (a write's data
    /// copied into its request, a reply copied into the caller's buffer).
    pub staged_bytes: u64,
    /// Bytes the transport received straight into an I/O buffer (no copy).
    pub in_place_bytes: u64,
    /// Bytes sent or received with an I/O buffer's transport registration (UCX memory
    /// handle: no registration per transfer).
    pub registered_bytes: u64,
}

/// Allocates `len` bytes (zeroed, page-aligned) for data read and written through `ctx`.
/// Over UCX the buffer is registered with UCX (`ucp_mem_map`): `benchfs_write` sends from
/// it and `benchfs_read` receives into it directly, without staging copies and without
/// registering memory per transfer; over TCP writes from it are not copied and read replies of
/// 32 KiB or more are received straight into it. Any range of
/// it may be passed to `benchfs_write`/`benchfs_read`, of any context. Returns the buffer,
/// or NULL with errno set (`EINVAL`: `len` 0, `ENOMEM`, `EBADF`: bad context). Free it with
/// `benchfs_free_io_buffer`; it stays valid after `benchfs_finalize` until then.
///
/// Unlike other memory, a read into an I/O buffer that fails early (`ETIMEDOUT`) may still
/// be completed into the buffer by a late reply; the memory stays allocated until that
/// transfer ends, even if freed.
#[no_mangle]
pub extern "C" fn benchfs_alloc_io_buffer(ctx: *mut benchfs_context, len: usize) -> *mut c_void {
    ptr_call("benchfs_alloc_io_buffer", || {
        let c = context(ctx)?;
        if len == 0 {
            return Err(CallError::invalid("length 0"));
        }
        let len = length(len)?;
        let b = c
            .client()
            .alloc_io_buffer(len)
            .map_err(|e| CallError::new(e.errno(), e.to_string()))?;
        let p = b.as_ptr();
        buffers().insert(p as usize, Arc::new(b));
        Ok(p.cast())
    })
}

/// Frees a buffer of `benchfs_alloc_io_buffer` (NULL: nothing to do). Returns 0, or
/// `-EINVAL` if `buf` is not the start of a live I/O buffer (never allocated, already freed,
/// or foreign memory), which is left alone. A transfer still using the buffer keeps its
/// memory until it ends.
#[no_mangle]
pub extern "C" fn benchfs_free_io_buffer(buf: *mut c_void) -> c_int {
    status_call("benchfs_free_io_buffer", || {
        if buf.is_null() {
            return Ok(());
        }
        match buffers().remove(&(buf as usize)) {
            Some(_) => Ok(()),
            None => Err(CallError::invalid(format!(
                "{buf:p} is not a buffer of benchfs_alloc_io_buffer (never allocated, already \
                 freed, or not its start)"
            ))),
        }
    })
}

/// Fills `*stats` with this process's counts so far (all contexts). Returns 0, or
/// `-EINVAL` if `stats` is NULL.
///
/// # Safety
/// `stats` is NULL or valid for writing one `benchfs_io_stats`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_get_io_stats(stats: *mut benchfs_io_stats) -> c_int {
    status_call("benchfs_get_io_stats", || {
        if stats.is_null() {
            return Err(CallError::invalid("stats is NULL"));
        }
        let c = COPY_STATS.read();
        let out = benchfs_io_stats {
            staged_bytes: c.staged,
            in_place_bytes: c.in_place,
            registered_bytes: c.registered,
        };
        // SAFETY: non-null, and valid for writing by the caller's contract.
        unsafe { stats.write(out) };
        Ok(())
    })
}
