//! Transfer buffers that file data moves into and out of without staging copies:
//! [`IoBuffer`] (page-aligned, zeroed memory that the transport that allocated it may have
//! registered, e.g. with UCX's `ucp_mem_map`), [`IoSlice`] (a byte range of one, shared, that
//! a write sends as it is and a read receives into), and the process's [`CopyStats`], which
//! count the payload bytes copied between callers' memory and transport buffers and those
//! moved in place.
//!
//! Owns the buffers' memory and the counters; knows nothing of how a transport moves bytes
//! (a transport keeps what its registration needs in [`IoBuffer::registration`]).

use bytes::Bytes;
use std::alloc::Layout;
use std::any::Any;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Alignment of every [`IoBuffer`] (a page, as `O_DIRECT` and RDMA registration like).
pub const IO_BUFFER_ALIGN: usize = 4096;

/// What a transport keeps alive with a buffer it registered (its memory handle), dropped
/// before the buffer's memory is freed.
pub type RegistrationBox = Box<dyn Any + Send + Sync>;

/// Page-aligned, zeroed memory for file data, owned by whoever holds an `Arc` of it: a
/// transfer in progress keeps it allocated even when its first owner has let it go.
///
/// Its bytes are plain memory shared with the caller (the C API hands out its address):
/// the buffer never lends them as Rust references beyond one call's copy in or out.
pub struct IoBuffer {
    // Dropped before the memory it registers.
    registration: Option<RegistrationBox>,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer owns its allocation (freed once, on drop); its bytes are accessed only
// through raw pointers by one transfer or copy at a time, as the owner arranges; the
// registration is `Send + Sync`.
unsafe impl Send for IoBuffer {}
// SAFETY: as above; shared access reads the pointer and length only.
unsafe impl Sync for IoBuffer {}

impl IoBuffer {
    /// A zeroed buffer of `len` bytes (at least 1), aligned to [`IO_BUFFER_ALIGN`]; `None`
    /// if the memory cannot be had.
    pub fn new(len: usize) -> Option<IoBuffer> {
        let layout = Layout::from_size_align(len.max(1), IO_BUFFER_ALIGN).ok()?;
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        Some(IoBuffer {
            registration: None,
            ptr: NonNull::new(p)?,
            len,
        })
    }

    /// Takes over an allocation made elsewhere (a transfer buffer of the layer above) as an
    /// unregistered buffer, without a copy.
    ///
    /// # Safety
    /// `ptr` must come from the global allocator with the layout of `len` (at least 1)
    /// bytes aligned to [`IO_BUFFER_ALIGN`], hold `len` initialised bytes, and be owned by
    /// nobody else from now on (this buffer frees it).
    pub unsafe fn from_raw_parts(ptr: NonNull<u8>, len: usize) -> IoBuffer {
        IoBuffer {
            registration: None,
            ptr,
            len,
        }
    }

    /// Gives the allocation up: its start and length (a layout of `len` bytes aligned to
    /// [`IO_BUFFER_ALIGN`], for the caller to free), or the buffer back if that cannot be
    /// (a registered buffer, or one of no bytes, whose allocation is one byte long).
    pub fn into_raw_parts(self) -> Result<(NonNull<u8>, usize), IoBuffer> {
        if self.registration.is_some() || self.len == 0 {
            return Err(self);
        }
        let parts = (self.ptr, self.len);
        std::mem::forget(self);
        Ok(parts)
    }

    /// Attaches what the transport that registered the buffer must keep alive with it.
    pub fn set_registration(&mut self, r: RegistrationBox) {
        self.registration = Some(r);
    }

    /// What the registering transport attached, if any.
    pub fn registration(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.registration.as_deref()
    }

    /// Start of the bytes.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for IoBuffer {
    fn drop(&mut self) {
        self.registration = None;
        if let Ok(layout) = Layout::from_size_align(self.len.max(1), IO_BUFFER_ALIGN) {
            // SAFETY: allocated in `new` with this very layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

impl std::fmt::Debug for IoBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoBuffer")
            .field("len", &self.len)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

/// A byte range of an [`IoBuffer`], holding the buffer alive.
#[derive(Clone, Debug)]
pub struct IoSlice {
    buf: Arc<IoBuffer>,
    start: usize,
    len: usize,
}

impl IoSlice {
    /// Bytes `range` of `buf`; `None` if the range is not within it.
    pub fn new(buf: Arc<IoBuffer>, range: Range<usize>) -> Option<IoSlice> {
        (range.start <= range.end && range.end <= buf.len()).then(|| IoSlice {
            start: range.start,
            len: range.end - range.start,
            buf,
        })
    }

    /// The bytes `range` of this slice (relative to it); `None` if out of it.
    pub fn sub(&self, range: Range<usize>) -> Option<IoSlice> {
        (range.start <= range.end && range.end <= self.len).then(|| IoSlice {
            buf: self.buf.clone(),
            start: self.start + range.start,
            len: range.end - range.start,
        })
    }

    /// The buffer it is a range of.
    pub fn buffer(&self) -> &Arc<IoBuffer> {
        &self.buf
    }

    /// Start of the bytes.
    pub fn as_ptr(&self) -> *mut u8 {
        self.buf.as_ptr().wrapping_add(self.start)
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the slice has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes as [`Bytes`] without a copy (the `Bytes` keeps the buffer alive). The
    /// caller must not change them while the `Bytes` is in use (a write being sent).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from_owner(self.clone())
    }

    /// True if `b` is exactly this slice's bytes (a reply the transport received in place).
    pub fn holds(&self, b: &[u8]) -> bool {
        b.as_ptr() == self.as_ptr().cast_const() && b.len() <= self.len
    }

    /// Copies `data` to the start of the slice and zeroes the rest (a reply received
    /// elsewhere); counts the copy in [`CopyStats`].
    pub fn fill_from(&self, data: &[u8]) {
        let n = data.len().min(self.len);
        // SAFETY: the slice covers `len` bytes of the live buffer it holds; `data` is not
        // inside it (else `holds` would be true and no copy asked), and `n <= len`.
        unsafe {
            std::ptr::copy(data.as_ptr(), self.as_ptr(), n);
            std::ptr::write_bytes(self.as_ptr().add(n), 0, self.len - n);
        }
        COPY_STATS.staged(n);
    }

    /// Zeroes the bytes from `from` on (the part past a short reply received in place).
    pub fn zero_from(&self, from: usize) {
        let from = from.min(self.len);
        // SAFETY: `from..len` is within the slice's bytes of the live buffer.
        unsafe { std::ptr::write_bytes(self.as_ptr().add(from), 0, self.len - from) };
    }
}

impl AsRef<[u8]> for IoSlice {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the slice covers `len` initialised (zeroed at allocation) bytes of the
        // buffer it keeps alive.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len) }
    }
}

/// Payload bytes of this process's file reads and writes by how they moved: copied between
/// a caller's memory and a transport buffer (`staged`), received by the transport straight
/// into the caller's [`IoBuffer`] (`in_place`), and sent or received with the buffer's
/// transport registration (`registered`). Process-wide, since callers of the C API see one
/// process.
#[derive(Debug, Default)]
pub struct CopyStats {
    staged: AtomicU64,
    in_place: AtomicU64,
    registered: AtomicU64,
}

/// A reading of [`CopyStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyCounts {
    /// Bytes copied between callers' memory and transport buffers.
    pub staged: u64,
    /// Bytes received straight into callers' I/O buffers.
    pub in_place: u64,
    /// Bytes sent or received with a buffer's transport registration.
    pub registered: u64,
}

impl CopyStats {
    /// Counts `n` bytes copied between a caller's memory and a transport buffer.
    pub fn staged(&self, n: usize) {
        self.staged.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` bytes received in place.
    pub fn in_place(&self, n: usize) {
        self.in_place.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` bytes moved with a registration.
    pub fn registered(&self, n: usize) {
        self.registered.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn read(&self) -> CopyCounts {
        CopyCounts {
            staged: self.staged.load(Ordering::Relaxed),
            in_place: self.in_place.load(Ordering::Relaxed),
            registered: self.registered.load(Ordering::Relaxed),
        }
    }
}

/// The process's counters.
pub static COPY_STATS: CopyStats = CopyStats {
    staged: AtomicU64::new(0),
    in_place: AtomicU64::new(0),
    registered: AtomicU64::new(0),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_stay_inside_and_fill_like_a_short_read() {
        let b = Arc::new(IoBuffer::new(10_000).unwrap());
        assert_eq!(b.as_ptr() as usize % IO_BUFFER_ALIGN, 0);
        assert!(IoSlice::new(b.clone(), 5..10_001).is_none());
        let s = IoSlice::new(b.clone(), 100..200).unwrap();
        assert!(s.sub(50..101).is_none());
        let t = s.sub(10..20).unwrap();
        assert_eq!(t.as_ptr() as usize - b.as_ptr() as usize, 110);
        t.fill_from(&[7u8; 4]);
        assert_eq!(
            &s.as_ref()[8..22],
            &[0, 0, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let bytes = t.to_bytes();
        assert!(t.holds(&bytes) && !s.holds(&bytes));
        drop((s, t));
        // The Bytes alone keeps the memory.
        drop(b);
        assert_eq!(&bytes[..4], &[7u8; 4]);
    }
}
