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
//! The gates are kept in memory and recorded in `<data>/tails` (one fixed-size record per
//! chunk made from a spare, appended before the spare is renamed into place; emptied when no
//! chunk is left untrimmed), so that a server killed before it trimmed them trims them when
//! it starts again ([`Tails::open`] returns them): the space of a kill -9 comes back.
//!
//! Owns the gates and `<data>/tails`. The chunk store decides which chunks get one and opens
//! the files.

use super::chunk::Key;
use super::private::FILE_MODE;
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::FileId;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
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

/// Size of one record of `<data>/tails`: file id (store, seq), chunk index, chunk size.
const RECORD: usize = 8 + 8 + 8 + 4;

fn encode(key: Key, chunk_size: u32) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[0..8].copy_from_slice(&key.0.store.to_le_bytes());
    r[8..16].copy_from_slice(&key.0.seq.to_le_bytes());
    r[16..24].copy_from_slice(&key.1.to_le_bytes());
    r[24..28].copy_from_slice(&chunk_size.to_le_bytes());
    r
}

fn decode(r: &[u8]) -> Option<(Key, u32)> {
    let u64_at = |at: usize| Some(u64::from_le_bytes(r.get(at..at + 8)?.try_into().ok()?));
    let id = FileId {
        store: u64_at(0)?,
        seq: u64_at(8)?,
    };
    let cs = u32::from_le_bytes(r.get(24..28)?.try_into().ok()?);
    Some(((id, u64_at(16)?), cs))
}

/// The gates of the chunks of one store whose tail is still preallocated.
pub struct Tails {
    gates: Mutex<HashMap<Key, Arc<Gate>>>,
    epoch: Instant,
    /// `<data>/tails`, appended to (`None`: kept in memory only).
    log: Option<Mutex<std::fs::File>>,
}

impl Default for Tails {
    fn default() -> Self {
        Tails {
            gates: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            log: None,
        }
    }
}

impl Tails {
    /// The gates of the store in `data_dir`, recorded in `<data>/tails`; also returns the
    /// chunks an earlier run recorded and did not trim (with their chunk size), for the
    /// caller to trim with [`punch_tail`] before it serves. The record is emptied.
    pub fn open(data_dir: &Path) -> FsResult<(Self, Vec<(Key, u32)>)> {
        let path = data_dir.join("tails");
        let old = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(FsError::from_io("read tails", &e)),
        };
        // A torn last record (a kill in the middle of an append) is ignored.
        let pending: Vec<(Key, u32)> = old.chunks_exact(RECORD).filter_map(decode).collect();
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|e| FsError::from_io("open tails", &e))?;
        let t = Tails {
            log: Some(Mutex::new(f)),
            ..Tails::default()
        };
        Ok((t, pending))
    }

    /// Empties the record once no chunk is tracked: called with the gates locked.
    fn compact(&self, gates: &HashMap<Key, Arc<Gate>>) {
        if let (true, Some(log)) = (gates.is_empty(), &self.log) {
            let f = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = f.set_len(0) {
                tracing::debug!("cannot empty the tails record: {e}");
            }
        }
    }

    fn gates(&self) -> MutexGuard<'_, HashMap<Key, Arc<Gate>>> {
        self.gates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts tracking chunk `key`, about to be made from a spare of `chunk_size` bytes
    /// (called before the chunk file appears, so that every write into it finds the gate,
    /// and a kill right after leaves it recorded).
    pub fn track(&self, key: Key, chunk_size: u32) {
        let g = Gate {
            lock: Mutex::new(()),
            writers: AtomicUsize::new(0),
            last_ms: AtomicU64::new(ms_since(self.epoch)),
            chunk_size,
        };
        let mut gates = self.gates();
        if let Some(log) = &self.log {
            let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = f.write_all(&encode(key, chunk_size)) {
                tracing::debug!("cannot record a preallocated tail: {e}");
            }
        }
        gates.insert(key, Arc::new(g));
    }

    /// Stops tracking chunk `key` (it was not made from a spare after all, or is removed).
    pub fn forget(&self, key: Key) {
        let mut gates = self.gates();
        if gates.remove(&key).is_some() {
            self.compact(&gates);
        }
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
                self.compact(&gates);
            }
        }
        trimmed
    }
}

/// Frees the allocation of `f` from its end (rounded up to a page) to `chunk_size`: a hole
/// punched there (tmpfs, XFS), then a truncation to the same size (ext4 punches nothing
/// past the end of a file, but a truncation drops the blocks kept there). The caller holds
/// the gate (or serves no request yet), so no write or truncation of the chunk runs
/// meanwhile.
pub fn punch_tail(f: &File, chunk_size: u64) -> std::io::Result<()> {
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
