//! The preallocated tails of chunks made from spare files, and giving them back.
//!
//! A chunk made from a spare has its whole chunk size allocated. When the file ends inside
//! that chunk, the space past its end would stay allocated (on tmpfs: memory) for as long as
//! the chunk exists. Each such chunk gets a [`Tails`] gate: a write holds a [`WriteTicket`]
//! while it runs, and [`Tails::trim_idle`] frees the allocation past the end of the chunks
//! that no write has touched for a while (`fallocate(PUNCH_HOLE)`, then a truncation to the
//! same size), under the gate's lock, so that it can never free a range a write is filling
//! nor undo a truncation. Once trimmed, a chunk is an ordinary file: later writes allocate
//! as they go.
//!
//! Owns only the gates. The chunk store decides which chunks get one and opens the files.

use super::chunk::Key;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Page size the trimmed range is aligned to.
const PAGE: u64 = 4096;

struct Gate {
    /// Held by a trim, and by a write while it registers (so no write starts during a trim).
    lock: Mutex<()>,
    /// Writes running now.
    writers: AtomicUsize,
    /// When the last write ended or started, in ms since the [`Tails`] were made.
    last_ms: AtomicU64,
    chunk_size: u32,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Held by a write into a chunk while it runs (nothing to hold for other chunks).
pub struct WriteTicket {
    gate: Option<(Arc<Gate>, Instant)>,
}

impl Drop for WriteTicket {
    fn drop(&mut self) {
        if let Some((g, epoch)) = self.gate.take() {
            g.last_ms.store(ms_since(epoch), Ordering::SeqCst);
            g.writers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn ms_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

/// The gates of the chunks of one store whose tail is still preallocated.
pub struct Tails {
    gates: Mutex<HashMap<Key, Arc<Gate>>>,
    epoch: Instant,
}

impl Default for Tails {
    fn default() -> Self {
        Tails {
            gates: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

impl Tails {
    fn gates(&self) -> MutexGuard<'_, HashMap<Key, Arc<Gate>>> {
        self.gates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts tracking chunk `key`, about to be made from a spare of `chunk_size` bytes
    /// (called before the chunk file appears, so that every write into it finds the gate).
    pub fn track(&self, key: Key, chunk_size: u32) {
        let g = Gate {
            lock: Mutex::new(()),
            writers: AtomicUsize::new(0),
            last_ms: AtomicU64::new(ms_since(self.epoch)),
            chunk_size,
        };
        self.gates().insert(key, Arc::new(g));
    }

    /// Stops tracking chunk `key` (it was not made from a spare after all, or is removed).
    pub fn forget(&self, key: Key) {
        self.gates().remove(&key);
    }

    /// Number of chunks whose tail is still preallocated.
    pub fn len(&self) -> usize {
        self.gates().len()
    }

    /// True if no chunk has a preallocated tail.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ticket a write into chunk `key` holds while it runs.
    pub fn ticket(&self, key: Key) -> WriteTicket {
        let Some(g) = self.gates().get(&key).cloned() else {
            return WriteTicket { gate: None };
        };
        {
            let _trim = g.lock();
            g.writers.fetch_add(1, Ordering::SeqCst);
            g.last_ms.store(ms_since(self.epoch), Ordering::SeqCst);
        }
        WriteTicket {
            gate: Some((g, self.epoch)),
        }
    }

    /// Frees the allocation past the end of every tracked chunk that no write has touched
    /// for `idle`, opening each with `open` (`None`: the chunk is gone); returns how many
    /// chunks were trimmed. Chunks with a write running are left for a later pass.
    pub fn trim_idle(&self, idle: Duration, open: impl Fn(Key) -> Option<Arc<File>>) -> usize {
        let idle_ms = idle.as_millis() as u64;
        let quiet = |g: &Gate| {
            g.writers.load(Ordering::SeqCst) == 0
                && ms_since(self.epoch).saturating_sub(g.last_ms.load(Ordering::SeqCst)) >= idle_ms
        };
        let due: Vec<(Key, Arc<Gate>)> = self
            .gates()
            .iter()
            .filter(|(_, g)| quiet(g))
            .map(|(k, g)| (*k, g.clone()))
            .collect();
        let mut trimmed = 0;
        for (key, g) in due {
            let _trim = g.lock();
            if !quiet(&g) {
                continue; // a write started meanwhile
            }
            if let Some(f) = open(key) {
                if punch_tail(&f, g.chunk_size as u64).is_ok() {
                    trimmed += 1;
                }
            }
            let mut gates = self.gates();
            if gates.get(&key).is_some_and(|cur| Arc::ptr_eq(cur, &g)) {
                gates.remove(&key);
            }
        }
        trimmed
    }
}

/// Frees the allocation of `f` from its end (rounded up to a page) to `chunk_size`: a hole
/// punched there (tmpfs, XFS), then a truncation to the same size (ext4 punches nothing
/// past the end of a file, but a truncation drops the blocks kept there). The caller holds
/// the gate, so no write or truncation of the chunk runs meanwhile.
fn punch_tail(f: &File, chunk_size: u64) -> std::io::Result<()> {
    let size = f.metadata()?.len();
    let start = size.div_ceil(PAGE) * PAGE;
    if start >= chunk_size {
        return Ok(());
    }
    let punched = punch(f, start, chunk_size - start);
    f.set_len(size)?;
    punched
}

fn punch(f: &File, start: u64, len: u64) -> std::io::Result<()> {
    let (off, len) = (start as libc::off_t, len as libc::off_t);
    // SAFETY: fallocate on a descriptor owned by `f`; no memory is passed.
    let rc = unsafe {
        libc::fallocate(
            f.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
