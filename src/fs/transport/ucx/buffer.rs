//! Buffers that UCX reads from (sends) or writes into (receives) while a transfer is in
//! flight: the [`IoBuf`] and [`IoBufMut`] contracts, their implementations for the usual
//! owned byte containers, and [`Window`] (a byte range of another buffer).
//!
//! A transfer takes its buffer by value and gives it back when UCX is done with it; a transfer
//! dropped early keeps the buffer alive until UCX completes, so no buffer is ever freed or
//! reused under UCX. Owns the buffer contracts only; must not call into UCX.

use super::memory::Registration;
use bytes::{Bytes, BytesMut};
use std::ops::Range;

/// A buffer that UCX may read from while a send is in flight.
///
/// # Safety
/// Implementations guarantee that [`IoBuf::as_ptr`] points to [`IoBuf::len`] initialised
/// bytes that stay valid and in place while the value is alive, also when the value itself is
/// moved (heap storage, not inline arrays), and that a [`IoBuf::registration`], if given,
/// covers those bytes. The value must not own UCX objects (workers, endpoints, messages): it
/// may be dropped from within UCX progress.
pub unsafe trait IoBuf: 'static {
    /// Start of the bytes.
    fn as_ptr(&self) -> *const u8;
    /// Number of bytes.
    fn len(&self) -> usize;
    /// True if there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The UCX memory registration covering the bytes, if any (lets UCX skip registering
    /// them for each transfer).
    fn registration(&self) -> Option<Registration> {
        None
    }
}

/// A buffer that UCX may write into while a receive is in flight.
///
/// # Safety
/// As [`IoBuf`], and [`IoBufMut::as_mut_ptr`] points to the same [`IoBuf::len`] bytes, which
/// nothing else reads or writes while a receive owns the value.
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the bytes, writable.
    fn as_mut_ptr(&mut self) -> *mut u8;
}

// SAFETY: a `Vec`'s elements live on the heap and do not move when the `Vec` is moved; the
// transfer owns the `Vec`, so nothing reallocates it.
unsafe impl IoBuf for Vec<u8> {
    fn as_ptr(&self) -> *const u8 {
        self.as_slice().as_ptr()
    }
    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

// SAFETY: as for `IoBuf`; the transfer holds the only access to the elements.
unsafe impl IoBufMut for Vec<u8> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_slice().as_mut_ptr()
    }
}

// SAFETY: a boxed slice lives on the heap and does not move with the box.
unsafe impl IoBuf for Box<[u8]> {
    fn as_ptr(&self) -> *const u8 {
        self.as_ref().as_ptr()
    }
    fn len(&self) -> usize {
        self.as_ref().len()
    }
}

// SAFETY: as for `IoBuf`; the transfer owns the box.
unsafe impl IoBufMut for Box<[u8]> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut().as_mut_ptr()
    }
}

// SAFETY: `Bytes` points into shared, immutable storage (static or reference-counted heap)
// that does not move with the handle and stays alive while any handle does.
unsafe impl IoBuf for Bytes {
    fn as_ptr(&self) -> *const u8 {
        self.as_ref().as_ptr()
    }
    fn len(&self) -> usize {
        self.as_ref().len()
    }
}

// SAFETY: `BytesMut` owns its heap storage uniquely; it does not move with the handle and
// nothing reallocates it while the transfer owns it.
unsafe impl IoBuf for BytesMut {
    fn as_ptr(&self) -> *const u8 {
        self.as_ref().as_ptr()
    }
    fn len(&self) -> usize {
        self.as_ref().len()
    }
}

// SAFETY: as for `IoBuf`; the storage is unique to this handle.
unsafe impl IoBufMut for BytesMut {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut().as_mut_ptr()
    }
}

// SAFETY: static data never moves or goes away.
unsafe impl IoBuf for &'static [u8] {
    fn as_ptr(&self) -> *const u8 {
        <[u8]>::as_ptr(self)
    }
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
}

/// A byte range of another buffer (e.g. one piece of a large registered buffer), which keeps
/// that buffer's registration.
#[derive(Debug)]
pub struct Window<B> {
    inner: B,
    range: Range<usize>,
}

impl<B: IoBuf> Window<B> {
    /// The bytes `range` of `inner`; `None` if the range is not within it.
    pub fn new(inner: B, range: Range<usize>) -> Option<Self> {
        if range.start <= range.end && range.end <= inner.len() {
            Some(Window { inner, range })
        } else {
            None
        }
    }

    /// The range this window covers.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// Gives the whole buffer back.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

// SAFETY: the range was checked against the inner buffer's length at construction and the
// inner buffer cannot be changed through the window, so the pointer stays within bytes that
// the inner buffer guarantees stable; the registration covers the whole inner buffer.
unsafe impl<B: IoBuf> IoBuf for Window<B> {
    fn as_ptr(&self) -> *const u8 {
        self.inner.as_ptr().wrapping_add(self.range.start)
    }
    fn len(&self) -> usize {
        self.range.end - self.range.start
    }
    fn registration(&self) -> Option<Registration> {
        self.inner.registration()
    }
}

// SAFETY: as for `IoBuf`; the window owns the inner buffer, so the access is exclusive.
unsafe impl<B: IoBufMut> IoBufMut for Window<B> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.inner.as_mut_ptr().wrapping_add(self.range.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_stay_inside_their_buffer() {
        let v = vec![1u8, 2, 3, 4, 5];
        assert!(Window::new(v.clone(), 2..6).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 3..2;
        assert!(Window::new(v.clone(), reversed).is_none());
        let mut w = Window::new(v, 1..4).expect("in range");
        assert_eq!(w.len(), 3);
        // SAFETY: the window covers 3 initialised bytes of its vector.
        let got = unsafe { std::slice::from_raw_parts(w.as_ptr(), w.len()) };
        assert_eq!(got, &[2, 3, 4]);
        // SAFETY: as above, written through the exclusive window.
        unsafe { *w.as_mut_ptr() = 9 };
        assert_eq!(w.into_inner(), vec![1, 9, 3, 4, 5]);
    }
}
