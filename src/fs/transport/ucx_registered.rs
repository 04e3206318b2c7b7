//! I/O buffers registered with UCX: [`alloc`] maps an [`IoBuffer`] with `ucp_mem_map` (and
//! records its range, so that a send whose payload lies inside it passes its memory handle),
//! [`SendPayload`] (a request's bulk data, with the registration of the buffer it lies in,
//! if any) and [`RecvSlice`] (a caller's buffer range a reply is received into by
//! rendezvous, with its registration), and [`BufferPool`] (registered buffers a server
//! reuses for the payloads it receives and the file regions it sends, with no allocation,
//! zeroing or registration per request).
//!
//! Owns the table of registered ranges and the pools; must not know about frames or
//! connections.

use super::io_buffer::{IoBuffer, IoSlice, COPY_STATS};
use super::ucx::{Context, IoBuf, IoBufMut, MemoryMap, Registration};
use crate::fs::error::{FsError, FsResult};
use bytes::Bytes;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};

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
    /// `bytes`, with their buffer's registration if they lie in a registered one (counted
    /// in [`COPY_STATS`], which counts a client's transfers).
    pub fn new(bytes: Bytes) -> SendPayload {
        let p = SendPayload::uncounted(bytes);
        if p.reg.is_some() {
            COPY_STATS.registered(p.bytes.len());
        }
        p
    }

    /// As [`SendPayload::new`], not counted (a server's replies from its [`BufferPool`]).
    pub fn uncounted(bytes: Bytes) -> SendPayload {
        let reg = if bytes.is_empty() {
            None
        } else {
            registration_of(bytes.as_ptr(), bytes.len())
        };
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
        registration_in(self.0.buffer())
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

/// The registration of a buffer [`alloc`] made.
fn registration_in(buf: &IoBuffer) -> Option<Registration> {
    buf.registration()
        .and_then(|r| r.downcast_ref::<UcxRegistration>())
        .map(|r| r.map.registration())
}

/// Payloads shorter than this are not worth a pooled buffer (they travel eager, or the
/// allocation is cheap next to the call).
pub const POOL_MIN: usize = 64 << 10;
/// Size of each pooled buffer: the largest payload a pool serves.
pub const POOL_BUFFER: usize = 1 << 20;

/// Registered buffers of one server, lent for one request's payload or one reply's file
/// data and given back when the last `Bytes` of it goes (on any thread). Used from one
/// thread (the worker's); at most `max` buffers are made, after which callers fall back
/// to fresh memory.
pub struct BufferPool {
    ctx: Context,
    free: Arc<Mutex<Vec<IoBuffer>>>,
    made: Cell<usize>,
    max: usize,
}

impl BufferPool {
    /// An empty pool of at most `max` buffers registered with `ctx`.
    pub fn new(ctx: Context, max: usize) -> BufferPool {
        BufferPool {
            ctx,
            free: Arc::new(Mutex::new(Vec::new())),
            made: Cell::new(0),
            max,
        }
    }

    /// A buffer for `len` bytes, if `len` is in the pool's range ([`POOL_MIN`] to
    /// [`POOL_BUFFER`]) and one is free or may still be made.
    pub fn lend(&self, len: usize) -> Option<Lease> {
        if !(POOL_MIN..=POOL_BUFFER).contains(&len) {
            return None;
        }
        let reused = self.free.lock().ok()?.pop();
        let buf = match reused {
            Some(b) => b,
            None if self.made.get() < self.max => {
                let b = alloc(&self.ctx, POOL_BUFFER).ok()?;
                self.made.set(self.made.get() + 1);
                b
            }
            None => return None,
        };
        Some(Lease {
            buf: ManuallyDrop::new(buf),
            len,
            home: self.free.clone(),
        })
    }

    /// Buffers made so far.
    #[cfg(test)]
    pub fn made(&self) -> usize {
        self.made.get()
    }
}

/// The first `len` bytes of a pooled buffer, owned alone; back to its pool when dropped.
/// As [`Bytes`] (`Bytes::from_owner`), it goes back when the last clone goes.
pub struct Lease {
    // Taken (back to the pool) only in `drop`.
    buf: ManuallyDrop<IoBuffer>,
    len: usize,
    home: Arc<Mutex<Vec<IoBuffer>>>,
}

impl Lease {
    fn buf(&self) -> &IoBuffer {
        &self.buf
    }

    /// The bytes, writable (e.g. to read a file region into).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let b = self.buf();
        // SAFETY: the lease owns the buffer alone (taken out of the pool, whose list no
        // longer holds it, and never shared: `Bytes::from_owner` consumes the lease), its
        // `len <= POOL_BUFFER` bytes are initialised (zeroed at allocation), and `&mut self`
        // makes this the only access while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(b.as_ptr(), self.len) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and nothing uses `buf` after it.
        let b = unsafe { ManuallyDrop::take(&mut self.buf) };
        if let Ok(mut free) = self.home.lock() {
            free.push(b);
        }
    }
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: as in `as_mut_slice`; shared access only reads.
        unsafe { std::slice::from_raw_parts(self.buf().as_ptr(), self.len) }
    }
}

// SAFETY: the lease owns its buffer (heap memory that does not move) and `len` initialised
// bytes of it; the registration maps the whole buffer and lives as long as it. Dropping a
// lease only gives the buffer back to its pool's list.
unsafe impl IoBuf for Lease {
    fn as_ptr(&self) -> *const u8 {
        self.buf().as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn registration(&self) -> Option<Registration> {
        registration_in(self.buf())
    }
}

// SAFETY: as for `IoBuf`; nothing else reaches the buffer while the lease owns it.
unsafe impl IoBufMut for Lease {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.buf().as_ptr()
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

    #[test]
    fn pooled_buffers_are_registered_reused_and_bounded() {
        let ctx = match crate::fs::transport::ucx_rpc::context() {
            Ok(c) => c,
            Err(e) => panic!("UCX context: {e}"),
        };
        let pool = BufferPool::new(ctx, 2);
        assert!(pool.lend(POOL_MIN - 1).is_none(), "too small for the pool");
        assert!(
            pool.lend(POOL_BUFFER + 1).is_none(),
            "too large for the pool"
        );
        let mut a = pool.lend(POOL_MIN).unwrap();
        assert_eq!(a.len(), POOL_MIN);
        assert!(a.registration().is_some());
        a.as_mut_slice().fill(7);
        let pa = IoBuf::as_ptr(&a);
        let b = pool.lend(POOL_BUFFER).unwrap();
        assert!(pool.lend(POOL_MIN).is_none(), "at most two buffers");
        // A lease turned into Bytes goes back once its last clone goes, and is lent again.
        let bytes = Bytes::from_owner(a);
        let copy = bytes.clone();
        drop(bytes);
        assert!(pool.lend(POOL_MIN).is_none(), "still held by a clone");
        assert!(copy.iter().all(|&x| x == 7));
        assert!(SendPayload::uncounted(copy.clone()).reg.is_some());
        drop(copy);
        let again = pool.lend(2 * POOL_MIN).unwrap();
        assert_eq!(IoBuf::as_ptr(&again), pa);
        drop((b, again));
        assert_eq!(pool.made(), 2);
    }
}
