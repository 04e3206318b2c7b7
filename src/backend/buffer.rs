//! The transfer buffer: a zeroed heap allocation aligned to a page (4096 bytes), so that it can be
//! used with `O_DIRECT` (`--posix.odirect`) and matches IOR's page-aligned buffers (SPEC §2.6).
//!
//! Owns only the allocation, and lending it out as immutable shared bytes ([`AlignedBuf::lend`])
//! for backends that send a buffer after the call that started the send has returned. It must
//! not know what is written into it (data signatures live in [`crate::ior::signature`]) nor
//! how it is transferred (the backends).

use std::alloc::{self, Layout};
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use thiserror::Error;

/// Alignment of every [`AlignedBuf`], in bytes (a page on the usual platforms).
pub const BUFFER_ALIGN: usize = 4096;

/// Errors building an [`AlignedBuf`].
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BufferError {
    /// The size cannot be described as an allocation (overflows `isize` once aligned).
    #[error("transfer buffer of {len} bytes is too large")]
    TooLarge {
        /// Requested length in bytes.
        len: usize,
    },
    /// The allocator returned no memory.
    #[error("cannot allocate a transfer buffer of {len} bytes (aligned to {align})")]
    OutOfMemory {
        /// Requested length in bytes.
        len: usize,
        /// Requested alignment in bytes.
        align: usize,
    },
}

/// A zero-initialised byte buffer whose start is aligned to [`BUFFER_ALIGN`].
///
/// Dereferences to `[u8]`. A length of 0 is allowed (no allocation is made; the empty slice
/// still starts at an aligned address).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `AlignedBuf` uniquely owns its allocation (like `Vec<u8>`); no interior mutability.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only give `&[u8]`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes aligned to [`BUFFER_ALIGN`]. Fails (never aborts) when the
    /// memory cannot be had.
    pub fn new(len: usize) -> Result<Self, BufferError> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let layout = Self::layout(len)?;
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(BufferError::OutOfMemory {
            len,
            align: BUFFER_ALIGN,
        })?;
        Ok(AlignedBuf { ptr, len })
    }

    /// A buffer of no bytes (no allocation; the empty slice starts at an aligned address).
    pub fn empty() -> Self {
        const ALIGNED: NonZeroUsize = match NonZeroUsize::new(BUFFER_ALIGN) {
            Some(a) => a,
            None => panic!("BUFFER_ALIGN is not zero"),
        };
        // An aligned, non-null, never dereferenced address.
        AlignedBuf {
            ptr: NonNull::without_provenance(ALIGNED),
            len: 0,
        }
    }

    fn layout(len: usize) -> Result<Layout, BufferError> {
        Layout::from_size_align(len, BUFFER_ALIGN).map_err(|_| BufferError::TooLarge { len })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Alignment guaranteed for the start of the buffer.
    pub fn align(&self) -> usize {
        BUFFER_ALIGN
    }

    /// Gives the allocation up without a copy, for a backend that hands it to a buffer type
    /// of its own while a transfer is in flight: its start and length (allocated by the
    /// global allocator with the layout of `len` bytes aligned to [`BUFFER_ALIGN`], zeroed
    /// or written since), or the buffer back if it has no bytes (and so no allocation).
    pub fn into_raw_parts(self) -> Result<(NonNull<u8>, usize), AlignedBuf> {
        if self.len == 0 {
            return Err(self);
        }
        let parts = (self.ptr, self.len);
        std::mem::forget(self);
        Ok(parts)
    }

    /// Takes back an allocation given up by [`AlignedBuf::into_raw_parts`].
    ///
    /// # Safety
    /// `ptr` and `len` must be what [`AlignedBuf::into_raw_parts`] returned (or an
    /// allocation of the same layout holding `len` initialised bytes), owned by nobody else
    /// from now on.
    pub unsafe fn from_raw_parts(ptr: NonNull<u8>, len: usize) -> AlignedBuf {
        AlignedBuf { ptr, len }
    }
}

/// An [`AlignedBuf`] lent out as [`bytes::Bytes`] by [`AlignedBuf::lend`].
pub struct LentBuf(std::sync::Arc<AlignedBuf>);

/// The owner behind the `Bytes` of a lent buffer.
struct Lent(std::sync::Arc<AlignedBuf>);

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AlignedBuf {
    /// Lends the buffer out as immutable shared bytes, without a copy: the bytes stay valid
    /// and unchanged for as long as any clone of them lives, whoever holds it (a send queue,
    /// another task). [`LentBuf::reclaim`] takes the buffer back.
    pub fn lend(self) -> (LentBuf, bytes::Bytes) {
        let shared = std::sync::Arc::new(self);
        let bytes = bytes::Bytes::from_owner(Lent(shared.clone()));
        (LentBuf(shared), bytes)
    }
}

impl LentBuf {
    /// The buffer back for writing. Without a copy once every `Bytes` lent has been dropped
    /// (the usual case: the transfer is over); otherwise a copy in a new buffer, and the old
    /// memory is freed when the last `Bytes` goes.
    pub fn reclaim(self) -> Result<AlignedBuf, BufferError> {
        match std::sync::Arc::try_unwrap(self.0) {
            Ok(buf) => Ok(buf),
            Err(shared) => {
                let mut copy = AlignedBuf::new(shared.len())?;
                copy.copy_from_slice(&shared);
                Ok(copy)
            }
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialised (zeroed) bytes, or `len` is 0 and
        // `ptr` is non-null and aligned.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        if let Ok(layout) = Self::layout(self.len) {
            // SAFETY: allocated in `new` with exactly this layout.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_zeroed() {
        for len in [1usize, 7, 4096, 4097, 1 << 20] {
            let b = AlignedBuf::new(len).unwrap();
            assert_eq!(b.len(), len);
            assert!(!b.is_empty());
            assert_eq!(b.as_ptr() as usize % BUFFER_ALIGN, 0, "len {len}");
            assert!(b.iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn empty_buffer() {
        let mut b = AlignedBuf::new(0).unwrap();
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
        assert_eq!(&b[..], &[] as &[u8]);
        assert_eq!(b.as_mut_ptr() as usize % BUFFER_ALIGN, 0);
    }

    #[test]
    fn writable_and_readable() {
        let mut b = AlignedBuf::new(10_000).unwrap();
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        assert_eq!(b[0], 0);
        assert_eq!(b[9_999], (9_999 % 251) as u8);
        let sum: u64 = b.iter().map(|&x| x as u64).sum();
        let expect: u64 = (0..10_000u64).map(|i| i % 251).sum();
        assert_eq!(sum, expect);
    }

    #[test]
    fn too_large_is_an_error_not_an_abort() {
        assert_eq!(
            AlignedBuf::new(usize::MAX).unwrap_err(),
            BufferError::TooLarge { len: usize::MAX }
        );
        // Describable but impossible to satisfy.
        let len = (isize::MAX as usize) - 2 * BUFFER_ALIGN;
        match AlignedBuf::new(len) {
            Err(BufferError::OutOfMemory { .. }) => {}
            other => panic!("expected OutOfMemory, got {other:?}"),
        }
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<AlignedBuf>();
        let b = AlignedBuf::new(64).unwrap();
        let h = std::thread::spawn(move || b.len());
        assert_eq!(h.join().unwrap(), 64);
    }

    #[test]
    fn a_lent_buffer_comes_back_without_a_copy_once_its_bytes_are_gone() {
        let mut b = AlignedBuf::new(3 * BUFFER_ALIGN + 5).unwrap();
        b.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
        let addr = b.as_ptr();
        let (lent, bytes) = b.lend();
        assert_eq!(bytes.as_ptr(), addr, "the bytes are the buffer itself");
        let piece = bytes.slice(10..20);
        drop(bytes);
        drop(piece);
        let back = lent.reclaim().unwrap();
        assert_eq!(back.as_ptr(), addr, "no copy when nobody holds the bytes");
        assert_eq!(back[7], 7);
    }

    #[test]
    fn a_buffer_still_held_elsewhere_comes_back_as_a_copy_and_the_holder_sees_no_change() {
        let mut b = AlignedBuf::new(2 * BUFFER_ALIGN).unwrap();
        b.fill(0xab);
        let (lent, bytes) = b.lend();
        let held = bytes.clone();
        drop(bytes);
        let mut back = lent.reclaim().unwrap();
        assert_ne!(back.as_ptr(), held.as_ptr(), "a new buffer");
        assert_eq!(back.as_ptr() as usize % BUFFER_ALIGN, 0, "still aligned");
        assert!(back.iter().all(|x| *x == 0xab));
        back.fill(0);
        assert!(
            held.iter().all(|x| *x == 0xab),
            "the holder's bytes did not change"
        );
    }
}
