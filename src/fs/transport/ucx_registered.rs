//! I/O buffers registered with UCX: [`alloc`] maps an [`IoBuffer`] with `ucp_mem_map` (and
//! records its range, so that a send whose payload lies inside it passes its memory handle),
//! [`SendPayload`] (a request's bulk data, with the registration of the buffer it lies in,
//! if any) and [`RecvSlice`] (a caller's buffer range a reply is received into by
//! rendezvous, with its registration).
//!
//! Owns the table of registered ranges; must not know about frames or connections.

use super::io_buffer::{IoBuffer, IoSlice, COPY_STATS};
use super::ucx::{Context, IoBuf, IoBufMut, MemoryMap, Registration};
use crate::fs::error::{FsError, FsResult};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A registered range as the table keeps it: its end and its memory handle.
#[derive(Clone, Copy)]
struct Range {
    end: usize,
    reg: Registration,
}

// SAFETY: a registration is a pair of handles, only used by UCX calls on a context made
// with `mt_workers_shared` (thread-safe); the table hands it out only for memory inside a
// buffer that the caller keeps alive (and so registered) while it uses the handle.
unsafe impl Send for Range {}

/// Registered buffers by start address.
static RANGES: Mutex<BTreeMap<usize, Range>> = Mutex::new(BTreeMap::new());

/// The registration of the buffer holding all `len` bytes at `ptr`, if one does.
fn registration_of(ptr: *const u8, len: usize) -> Option<Registration> {
    let p = ptr as usize;
    let t = RANGES.lock().ok()?;
    let (_, r) = t.range(..=p).next_back()?;
    (p.checked_add(len)? <= r.end).then_some(r.reg)
}

/// What an [`IoBuffer`] registered here keeps: its mapping, and its entry in the table
/// (removed before the mapping goes).
struct UcxRegistration {
    start: usize,
    map: MemoryMap,
}

impl Drop for UcxRegistration {
    fn drop(&mut self) {
        if let Ok(mut t) = RANGES.lock() {
            t.remove(&self.start);
        }
    }
}

/// An I/O buffer of `len` bytes registered with `ctx`.
pub fn alloc(ctx: &Context, len: usize) -> FsResult<IoBuffer> {
    let mut buf = IoBuffer::new(len)
        .ok_or_else(|| FsError::OutOfMemory(format!("an I/O buffer of {len} bytes")))?;
    let (ptr, n) = (buf.as_ptr(), buf.len().max(1));
    // SAFETY: the mapping is kept in the buffer's registration, which the buffer drops
    // before it frees the memory; the memory does not move.
    let map = unsafe { MemoryMap::new(ctx, ptr, n) }.map_err(|e| e.to_fs_error())?;
    let start = ptr as usize;
    let range = Range {
        end: start + n,
        reg: map.registration(),
    };
    RANGES
        .lock()
        .map_err(|_| FsError::Io("UCX registration table poisoned".into()))?
        .insert(start, range);
    buf.set_registration(Box::new(UcxRegistration { start, map }));
    Ok(buf)
}

/// The bulk data of a request, with the registration of the I/O buffer it lies in (then UCX
/// skips registering it for the transfer).
pub struct SendPayload {
    bytes: Bytes,
    reg: Option<Registration>,
}

impl SendPayload {
    /// `bytes`, with their buffer's registration if they lie in a registered one.
    pub fn new(bytes: Bytes) -> SendPayload {
        let reg = if bytes.is_empty() {
            None
        } else {
            registration_of(bytes.as_ptr(), bytes.len())
        };
        if reg.is_some() {
            COPY_STATS.registered(bytes.len());
        }
        SendPayload { bytes, reg }
    }
}

// SAFETY: the bytes are `Bytes` (stable shared storage, kept alive by the value); the
// registration, if any, covers them and stays valid while they are alive, since their
// storage is the registered buffer itself (a `Bytes` of an `IoSlice` owns the buffer).
unsafe impl IoBuf for SendPayload {
    fn as_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn registration(&self) -> Option<Registration> {
        self.reg
    }
}

/// A caller's I/O buffer range that a reply's payload is received into.
pub struct RecvSlice(pub IoSlice);

impl RecvSlice {
    fn registration(&self) -> Option<Registration> {
        self.0
            .buffer()
            .registration()
            .and_then(|r| r.downcast_ref::<UcxRegistration>())
            .map(|r| r.map.registration())
    }

    /// True if the buffer is registered with UCX.
    pub fn is_registered(&self) -> bool {
        self.registration().is_some()
    }
}

// SAFETY: the slice covers `len` bytes of an aligned heap allocation that it keeps alive and
// that never moves; the registration, if any, maps the whole buffer.
unsafe impl IoBuf for RecvSlice {
    fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn registration(&self) -> Option<Registration> {
        RecvSlice::registration(self)
    }
}

// SAFETY: as for `IoBuf`. The caller gave this range to the call to be written, and lends
// it to nothing else until the call is over (the C API's contract of I/O buffers).
unsafe impl IoBufMut for RecvSlice {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sends_inside_a_registered_buffer_carry_its_registration() {
        let ctx = match crate::fs::transport::ucx_rpc::context() {
            Ok(c) => c,
            Err(e) => panic!("UCX context: {e}"),
        };
        let b = Arc::new(alloc(&ctx, 1 << 20).unwrap());
        let s = IoSlice::new(b.clone(), 4096..8192).unwrap();
        assert!(SendPayload::new(s.to_bytes()).reg.is_some());
        assert!(RecvSlice(s.clone()).is_registered());
        // Bytes elsewhere, or running past the end, carry none.
        assert!(SendPayload::new(Bytes::from(vec![1u8; 100])).reg.is_none());
        let tail = IoSlice::new(b.clone(), (1 << 20) - 10..1 << 20).unwrap();
        assert!(registration_of(tail.as_ptr(), 11).is_none());
        // The range leaves the table with the last owner of the buffer.
        let p = b.as_ptr();
        drop((s, tail, b));
        assert!(registration_of(p, 1).is_none());
    }
}
