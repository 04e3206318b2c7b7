//! File ranges mapped into memory for UCX, so that a server moves a payload between the
//! peer and the page cache with one copy (the rendezvous transfer itself) instead of two:
//! [`MappedSink`] (a write's payload received straight into the chunk file's pages) and
//! [`MappedRegion`] (a read's file region sent from them), and [`MAP_STATS`], the bytes
//! that moved so.
//!
//! A mapping is made only of a range the handler pinned ([`super::SizePin`]: the file is
//! not shrunk while the pin lives) and within the file's size (a sink's range is allocated
//! and the file extended over it first), so no access through it can fall past the end of
//! the file. It is unmapped when dropped, which the transfer machinery does only once UCX
//! is done with it (a transfer dropped early keeps its buffer until the request completes
//! or the worker is gone). A transfer that failed but may still hold its mapping (a dead
//! peer's request may never complete) has the file range replaced by anonymous memory
//! ([`Detacher`]), so that the pin goes and the chunk can be truncated again. Shared-memory
//! lanes (CMA) need no registration of the pages.
//!
//! Owns the mappings and the counters; must not know about frames or connections.

use super::ucx::{IoBuf, IoBufMut};
use super::{FileRegion, FileSink};
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes a UCX server moved through file mappings since the process started.
#[derive(Debug, Default)]
pub struct MapStats {
    received: AtomicU64,
    sent: AtomicU64,
}

/// A reading of [`MapStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MapCounts {
    /// Payload bytes of writes received straight into chunk files' pages.
    pub received: u64,
    /// Payload bytes of reads sent straight from chunk files' pages.
    pub sent: u64,
}

impl MapStats {
    /// The counts so far.
    pub fn read(&self) -> MapCounts {
        MapCounts {
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
        }
    }

    /// Counts `n` bytes received into a mapping.
    pub(crate) fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` bytes sent from a mapping.
    pub(crate) fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The process's counters.
pub static MAP_STATS: MapStats = MapStats {
    received: AtomicU64::new(0),
    sent: AtomicU64::new(0),
};

/// A shared mapping of the pages covering `len` bytes at `offset` of a file, with what
/// keeps mapping them safe (the sink or region, with the handler's pin) until it is
/// detached from the file or unmapped.
struct Mapping {
    base: *mut u8,
    map_len: usize,
    /// Offset of the range's first byte in the first page.
    skip: usize,
    len: usize,
    /// The sink or region mapped; `None` once detached (the range is anonymous memory then).
    owner: RefCell<Option<Box<dyn Any>>>,
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

impl Mapping {
    /// Maps (shared, populated) the pages of `file` covering `len > 0` bytes at `offset`,
    /// writable if asked. The caller guarantees the range lies within the file's size and
    /// stays so while the owner it then gives ([`Mapping::keep`]) lives.
    fn new(file: &std::fs::File, offset: u64, len: usize, writable: bool) -> std::io::Result<Self> {
        let page = page_size() as u64;
        let start = offset - offset % page;
        let skip = (offset - start) as usize;
        let map_len = skip
            .checked_add(len)
            .filter(|_| len > 0)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let base = crate::file_map::map_shared(file, start, map_len, writable, true)?;
        Ok(Mapping {
            base: base.as_ptr(),
            map_len,
            skip,
            len,
            owner: RefCell::new(None),
        })
    }

    /// Keeps `owner` (what makes the mapping safe) until it is detached or dropped.
    fn keep(self, owner: Box<dyn Any>) -> Rc<Self> {
        *self.owner.borrow_mut() = Some(owner);
        Rc::new(self)
    }

    fn ptr(&self) -> *mut u8 {
        self.base.wrapping_add(self.skip)
    }

    /// Replaces the mapping of the file with anonymous memory at the same addresses (a
    /// transfer that may still touch them no longer reaches the file) and lets the owner
    /// go, its pin with it; if the kernel refuses, the file stays mapped and pinned.
    fn detach(&self) {
        let Ok(mut owner) = self.owner.try_borrow_mut() else {
            return;
        };
        if owner.is_none() {
            return;
        }
        // SAFETY: `base`/`map_len` are exactly this value's own mapping (made in `new`, not
        // unmapped before its drop), so MAP_FIXED replaces nothing else; the process holds
        // no Rust reference into it (UCX holds raw pointers, which stay valid: the range is
        // mapped again, readable and writable).
        let p = unsafe {
            libc::mmap(
                self.base.cast(),
                self.map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == self.base.cast() {
            owner.take();
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are the mapping made in `new` (or the anonymous memory
        // that replaced it), unmapped once (here); the owners drop it only when no transfer
        // uses it any more.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// Detaches a mapping from its file if a transfer still holds it (see [`Mapped::detacher`]).
pub struct Detacher(Weak<Mapping>);

impl Detacher {
    /// If the mapping is still alive (a failed transfer keeps its buffer until UCX completes
    /// the request, which may be never for a dead peer), replaces it with anonymous memory
    /// and releases the file and its pin, so that nothing waits for the transfer to shrink
    /// the file.
    pub fn detach(&self) {
        if let Some(m) = self.0.upgrade() {
            m.detach();
        }
    }
}

/// True if the `len` bytes at `offset` of `file` lie within its size and hold no hole (a
/// rewrite: writing them through a mapping allocates nothing, so `fallocate`, which walks
/// every page of the range, is skipped). Moves the descriptor's position, which chunk
/// files never use (all their I/O names its offset).
fn allocated(file: &std::fs::File, offset: u64, len: usize) -> bool {
    let Some(end) = offset.checked_add(len as u64) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.len() >= end) {
        return false;
    }
    let Ok(off) = libc::off_t::try_from(offset) else {
        return false;
    };
    // SAFETY: lseek on a descriptor that `file` owns; no memory is passed.
    let hole = unsafe { libc::lseek(file.as_raw_fd(), off, libc::SEEK_HOLE) };
    u64::try_from(hole).is_ok_and(|h| h >= end)
}

/// A mapped file range handed to UCX, of kind `K` ([`Sink`] or [`Region`]).
pub struct Mapped<K> {
    map: Rc<Mapping>,
    _kind: PhantomData<K>,
}

/// The kind of [`MappedSink`]: writable.
pub enum Sink {}
/// The kind of [`MappedRegion`]: read-only.
pub enum Region {}

/// A write's payload range of a chunk file, allocated, within the file's size, and mapped
/// writable: UCX receives the payload into it. Keeps the sink (its file, the handler's
/// hold and pin) until dropped or detached.
pub type MappedSink = Mapped<Sink>;

/// A read's file region mapped read-only: UCX sends the reply's payload from it. Keeps the
/// region (its file and pin) until dropped or detached.
pub type MappedRegion = Mapped<Region>;

impl<K> Mapped<K> {
    fn owning(map: Mapping, owner: Box<dyn Any>) -> Self {
        Mapped {
            map: map.keep(owner),
            _kind: PhantomData,
        }
    }

    /// What detaches this mapping from the file later, once it has been given to a
    /// transfer that failed.
    pub fn detacher(&self) -> Detacher {
        Detacher(Rc::downgrade(&self.map))
    }
}

// SAFETY: the mapping covers `len` bytes that stay mapped while the value lives (unmapped
// in its drop only; a detach maps anonymous memory in their place) and never move; they
// lie within the file, which is not shrunk while the owner's pin lives, so reading them
// never faults past its end. The value owns no UCX objects.
unsafe impl<K: 'static> IoBuf for Mapped<K> {
    fn as_ptr(&self) -> *const u8 {
        self.map.ptr()
    }
    fn len(&self) -> usize {
        self.map.len
    }
}

// SAFETY: as for `IoBuf`; a sink's mapping is writable and no one else in the process
// writes through it (it is this value's own). Other writers of the file's pages (pwrite)
// race as concurrent writes of one range do anyway.
unsafe impl IoBufMut for Mapped<Sink> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.map.ptr()
    }
}

impl Mapped<Sink> {
    /// Allocates `len` bytes of `sink`'s file at its offset (extending the file over them
    /// if it is shorter: `fallocate` never shrinks it) and maps them; gives the sink back
    /// if the handler did not pin the file or the file cannot be mapped (the caller then
    /// receives into memory and writes the file).
    pub fn new(sink: FileSink, len: usize) -> Result<MappedSink, FileSink> {
        if sink.pin.is_none() || len == 0 {
            return Err(sink);
        }
        let Ok(off) = libc::off_t::try_from(sink.offset) else {
            return Err(sink);
        };
        let Ok(n) = libc::off_t::try_from(len) else {
            return Err(sink);
        };
        // SAFETY: fallocate on a descriptor that the sink's file owns; no memory is passed.
        // Mode 0 allocates the range (no hole is left to fault on) and only ever grows the
        // file, so a concurrent writer's extension is never undone.
        if !allocated(&sink.file, sink.offset, len)
            && unsafe { libc::fallocate(sink.file.as_raw_fd(), 0, off, n) } != 0
        {
            return Err(sink);
        }
        match Mapping::new(&sink.file, sink.offset, len, true) {
            Ok(map) => Ok(Mapped::owning(map, Box::new(sink))),
            Err(_) => Err(sink),
        }
    }
}

impl Mapped<Region> {
    /// Maps `region`; gives it back if the handler did not pin the file, the file is now
    /// shorter than the region (its end is then sent as zeros, from memory) or cannot be
    /// mapped.
    pub fn new(region: FileRegion) -> Result<MappedRegion, FileRegion> {
        let end = region.offset.checked_add(region.len as u64);
        let within = match (end, region.file.metadata()) {
            (Some(end), Ok(m)) => m.len() >= end,
            _ => false,
        };
        if region.pin.is_none() || !within {
            return Err(region);
        }
        match Mapping::new(&region.file, region.offset, region.len, false) {
            Ok(map) => Ok(Mapped::owning(map, Box::new(region))),
            Err(_) => Err(region),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::transport::SizePin;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    fn pin() -> Option<SizePin> {
        Some(SizePin(Arc::new(())))
    }

    #[test]
    fn sinks_extend_the_file_and_regions_send_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.path().join("c"))
                .unwrap(),
        );
        f.write_all_at(&[1u8; 100], 0).unwrap();
        let sink = |offset| FileSink {
            file: f.clone(),
            offset,
            hold: None,
            pin: pin(),
        };
        // Unaligned, past the end: the file grows to cover it, the bytes land in place.
        let mut m = MappedSink::new(sink(5000), 10_000).ok().unwrap();
        assert_eq!(f.metadata().unwrap().len(), 15_000);
        // SAFETY: the mapping covers 10 000 writable bytes that nothing else touches.
        unsafe { std::ptr::write_bytes(m.as_mut_ptr(), 7, m.len()) };
        drop(m);
        let mut back = vec![0u8; 15_000];
        f.read_exact_at(&mut back, 0).unwrap();
        assert!(back[..100].iter().all(|&b| b == 1));
        assert!(back[100..5000].iter().all(|&b| b == 0));
        assert!(back[5000..].iter().all(|&b| b == 7));
        // A hole inside the file is found (and allocated before the mapping).
        f.set_len(1 << 20).unwrap();
        assert!(allocated(&f, 0, 15_000));
        assert!(!allocated(&f, 0, 300_000), "a hole past what was written");
        assert!(!allocated(&f, 0, 2 << 20), "past the end");
        drop(MappedSink::new(sink(200_000), 10).ok().unwrap());
        f.set_len(15_000).unwrap();
        // Inside the file, it does not shrink it.
        drop(MappedSink::new(sink(10), 20).ok().unwrap());
        assert_eq!(f.metadata().unwrap().len(), 15_000);
        // Unpinned: given back.
        let unpinned = FileSink {
            pin: None,
            ..sink(0)
        };
        assert!(MappedSink::new(unpinned, 10).is_err());

        // Detached while a transfer holds it: the pin goes, and writes through the
        // mapping no longer reach the file.
        let held = Arc::new(());
        let pinned = FileSink {
            pin: Some(SizePin(held.clone())),
            ..sink(0)
        };
        let mut m = MappedSink::new(pinned, 4096).ok().unwrap();
        assert_eq!(Arc::strong_count(&held), 2);
        m.detacher().detach();
        assert_eq!(Arc::strong_count(&held), 1, "the pin went with the detach");
        // SAFETY: the range is mapped (anonymous now), writable, and nothing else uses it.
        unsafe { std::ptr::write_bytes(m.as_mut_ptr(), 9, m.len()) };
        drop(m);
        let mut head = vec![0u8; 4096];
        f.read_exact_at(&mut head, 0).unwrap();
        assert!(head.iter().all(|&b| b != 9), "the file is untouched");

        let region = |offset, len| FileRegion {
            file: f.clone(),
            offset,
            len,
            pin: pin(),
        };
        let r = MappedRegion::new(region(4999, 3)).ok().unwrap();
        // SAFETY: the mapping covers 3 readable bytes.
        let got = unsafe { std::slice::from_raw_parts(r.as_ptr(), r.len()) };
        assert_eq!(got, &[0, 7, 7]);
        assert!(
            MappedRegion::new(region(14_000, 1001)).is_err(),
            "past the end"
        );
        let unpinned = FileRegion {
            pin: None,
            ..region(0, 10)
        };
        assert!(MappedRegion::new(unpinned).is_err());
    }
}
