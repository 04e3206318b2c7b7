//! Memory registration: [`RegisteredBuffer`], a heap buffer mapped with `ucp_mem_map` so that
//! transfers from or into it skip per-transfer registration (and, on RDMA transports, pinning),
//! [`MemoryMap`], the registration of memory someone else owns, and [`Registration`], the
//! handle a transfer passes to UCX.
//!
//! Owns registered buffers and mappings; must not know about endpoints or messages.

use super::buffer::{IoBuf, IoBufMut};
use super::context::Context;
use super::error::{Status, UcxError};
use ucx_sys as sys;

/// A zero-initialised heap buffer registered with a UCX context. Dropping it unregisters it.
/// It may be sent across threads and used by any worker of the same context.
pub struct RegisteredBuffer {
    // Dropped before the bytes it maps.
    map: MemoryMap,
    buf: Box<[u8]>,
}

/// The memory handle of a registered range, passed to UCX with a transfer. Only
/// [`MemoryMap`] creates one.
#[derive(Clone, Copy, Debug)]
pub struct Registration {
    pub(crate) memh: sys::ucp_mem_h,
    pub(crate) context: sys::ucp_context_h,
}

impl RegisteredBuffer {
    /// A zeroed buffer of `len` bytes (at least 1), registered with `context`.
    pub fn new(context: &Context, len: usize) -> Result<Self, UcxError> {
        Self::from_vec(context, vec![0u8; len.max(1)])
    }

    /// Registers the bytes of `data` (at least 1) with `context`.
    pub fn from_vec(context: &Context, data: Vec<u8>) -> Result<Self, UcxError> {
        let mut buf = data.into_boxed_slice();
        if buf.is_empty() {
            return Err(UcxError::BufferTooSmall {
                len: 1,
                capacity: 0,
            });
        }
        // SAFETY: the boxed bytes stay in place and alive for as long as the mapping, which
        // this value owns and drops first (field order).
        let map = unsafe { MemoryMap::new(context, buf.as_mut_ptr(), buf.len())? };
        Ok(RegisteredBuffer { map, buf })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The address and length UCX reports for the registration (`ucp_mem_query`).
    pub fn mapped_range(&self) -> Result<(usize, usize), UcxError> {
        self.map.mapped_range()
    }
}

/// The registration of a range of memory with a UCX context (`ucp_mem_map`); dropping it
/// unregisters the range (`ucp_mem_unmap`). It does not own the memory.
pub struct MemoryMap {
    context: Context,
    memh: sys::ucp_mem_h,
}

// SAFETY: the memory handle belongs to a context created with `mt_workers_shared`, whose
// registration calls (`ucp_mem_unmap`, `ucp_mem_query`) take the context lock, so they may
// run on any thread.
unsafe impl Send for MemoryMap {}
// SAFETY: shared access only queries the handle (under the context lock).
unsafe impl Sync for MemoryMap {}

impl MemoryMap {
    /// Registers the `len` bytes at `ptr` (at least 1) with `context`.
    ///
    /// # Safety
    /// The bytes must stay allocated, and in place, until the mapping is dropped.
    pub unsafe fn new(context: &Context, ptr: *mut u8, len: usize) -> Result<Self, UcxError> {
        if len == 0 || ptr.is_null() {
            return Err(UcxError::BufferTooSmall {
                len: 1,
                capacity: 0,
            });
        }
        let params = sys::ucp_mem_map_params_t {
            field_mask: (sys::UCP_MEM_MAP_PARAM_FIELD_ADDRESS | sys::UCP_MEM_MAP_PARAM_FIELD_LENGTH)
                as u64,
            address: ptr.cast(),
            length: len,
            ..Default::default()
        };
        let mut memh: sys::ucp_mem_h = std::ptr::null_mut();
        // SAFETY: the context is live (held by `context`), `params` names a live range that
        // the caller keeps allocated while the mapping exists, and `memh` is a valid out
        // pointer.
        let st = unsafe { sys::ucp_mem_map(context.handle(), &params, &mut memh) };
        Status(st).check("ucp_mem_map")?;
        Ok(MemoryMap {
            context: context.clone(),
            memh,
        })
    }

    /// The handle a transfer passes to UCX.
    pub fn registration(&self) -> Registration {
        Registration {
            memh: self.memh,
            context: self.context.handle(),
        }
    }

    /// The address and length UCX reports for the registration (`ucp_mem_query`).
    pub fn mapped_range(&self) -> Result<(usize, usize), UcxError> {
        let mut attr = sys::ucp_mem_attr_t {
            field_mask: (sys::UCP_MEM_ATTR_FIELD_ADDRESS | sys::UCP_MEM_ATTR_FIELD_LENGTH) as u64,
            ..Default::default()
        };
        // SAFETY: `memh` is live until drop; `attr` is a valid out structure whose mask names
        // the fields to fill.
        let st = unsafe { sys::ucp_mem_query(self.memh, &mut attr) };
        Status(st).check("ucp_mem_query")?;
        Ok((attr.address as usize, attr.length))
    }
}

impl Drop for MemoryMap {
    fn drop(&mut self) {
        // SAFETY: `memh` came from `ucp_mem_map` on this context (kept alive by `self.context`)
        // and is unmapped exactly once; no transfer uses it any more, since each transfer keeps
        // the registered memory's owner alive until UCX is done with it.
        let st = unsafe { sys::ucp_mem_unmap(self.context.handle(), self.memh) };
        if let Err(e) = Status(st).check("ucp_mem_unmap") {
            tracing::warn!("{e}");
        }
    }
}

impl std::fmt::Debug for MemoryMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryMap").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RegisteredBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredBuffer")
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

// SAFETY: the bytes are a boxed slice owned by the value (stable across moves) and `memh`
// covers exactly them.
unsafe impl IoBuf for RegisteredBuffer {
    fn as_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }
    fn len(&self) -> usize {
        self.buf.len()
    }
    fn registration(&self) -> Option<Registration> {
        Some(self.map.registration())
    }
}

// SAFETY: as for `IoBuf`; a receive owns the value, so its access is exclusive.
unsafe impl IoBufMut for RegisteredBuffer {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }
}
