//! Pins on the size of chunk files that a transport maps into memory (UCX receives a
//! write's payload straight into the chunk file's pages and sends a read's from them): while
//! a chunk has a [`ChunkPin`], nothing shrinks that chunk file, so that no access through a
//! mapping can fall past the end of the file (which would raise `SIGBUS` in the server).
//!
//! A truncation that shrinks a chunk ([`Pins::shrink`]) first stops new pins of the chunk
//! (a transport asking for one then takes its copying path), then waits for the pins held
//! to go, at most [`SHRINK_WAIT`] (then the truncation fails with `EBUSY`). Removing a chunk
//! (unlink) needs no pin: a mapping keeps the old file's pages.
//!
//! Owns the pin counts; must not know about files, mappings or transports.

use super::chunk::Key;
use crate::fs::error::{FsError, FsResult};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Longest a truncation waits for the pins of a chunk (a transfer in progress to or from
/// its mapping) to go.
pub const SHRINK_WAIT: Duration = Duration::from_secs(30);

/// Pins held and shrinks waiting, of one chunk.
#[derive(Default, Clone, Copy)]
struct Count {
    held: usize,
    shrinking: usize,
}

#[derive(Default)]
struct Inner {
    counts: Mutex<HashMap<Key, Count>>,
    /// Signalled when the last pin of a chunk goes.
    released: Condvar,
}

impl Inner {
    fn counts(&self) -> MutexGuard<'_, HashMap<Key, Count>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forgets a chunk's entry once nothing is counted for it.
fn tidy(counts: &mut HashMap<Key, Count>, key: Key) {
    if counts
        .get(&key)
        .is_some_and(|c| c.held == 0 && c.shrinking == 0)
    {
        counts.remove(&key);
    }
}

/// The pins of one chunk store.
#[derive(Default, Clone)]
pub struct Pins {
    inner: Arc<Inner>,
}

/// While alive, chunk file `key` is not shrunk (see the module doc).
pub struct ChunkPin {
    inner: Arc<Inner>,
    key: Key,
}

/// Takes one from the count `field` picks of chunk `key`; true if that was its last.
fn release(inner: &Inner, key: Key, field: fn(&mut Count) -> &mut usize) -> bool {
    let mut counts = inner.counts();
    let last = counts.get_mut(&key).is_some_and(|c| {
        let n = field(c);
        *n = n.saturating_sub(1);
        *n == 0
    });
    tidy(&mut counts, key);
    last
}

impl Drop for ChunkPin {
    fn drop(&mut self) {
        if release(&self.inner, self.key, |c| &mut c.held) {
            self.inner.released.notify_all();
        }
    }
}

/// Held by a truncation while it shrinks a chunk: no pin of the chunk is given meanwhile.
pub struct Shrinking {
    inner: Arc<Inner>,
    key: Key,
}

impl Drop for Shrinking {
    fn drop(&mut self) {
        release(&self.inner, self.key, |c| &mut c.shrinking);
    }
}

impl Pins {
    /// A pin of chunk `key`, unless a truncation is shrinking it (then `None`: the caller
    /// must not map the file).
    pub fn pin(&self, key: Key) -> Option<ChunkPin> {
        let mut counts = self.inner.counts();
        let c = counts.entry(key).or_default();
        if c.shrinking > 0 {
            return None;
        }
        c.held += 1;
        Some(ChunkPin {
            inner: self.inner.clone(),
            key,
        })
    }

    /// Waits (at most `wait`) until chunk `key` has no pin, refusing new ones from now on,
    /// and returns the guard to hold while the chunk is shrunk; `EBUSY` if pins are still
    /// held after `wait`.
    pub fn shrink(&self, key: Key, wait: Duration) -> FsResult<Shrinking> {
        let mut counts = self.inner.counts();
        counts.entry(key).or_default().shrinking += 1;
        let guard = Shrinking {
            inner: self.inner.clone(),
            key,
        };
        let (counts, _) = self
            .inner
            .released
            .wait_timeout_while(counts, wait, |c| c.get(&key).is_some_and(|c| c.held > 0))
            .unwrap_or_else(|p| p.into_inner());
        if counts.get(&key).is_some_and(|c| c.held > 0) {
            drop(counts);
            drop(guard);
            return Err(FsError::Busy(
                "a chunk of the file is being transferred to or from its mapping".into(),
            ));
        }
        Ok(guard)
    }

    /// Pins held now, of all chunks.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.inner.counts().values().map(|c| c.held).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::wire::FileId;

    fn key(i: u64) -> Key {
        (FileId { store: 1, seq: 2 }, i)
    }

    #[test]
    fn a_pinned_chunk_is_not_shrunk_and_a_shrinking_chunk_is_not_pinned() {
        let pins = Pins::default();
        let a = pins.pin(key(0)).unwrap();
        let b = pins.pin(key(0)).unwrap();
        // Another chunk is not concerned.
        drop(pins.shrink(key(1), Duration::ZERO).unwrap());
        let e = pins.shrink(key(0), Duration::ZERO).err().unwrap();
        assert_eq!(e.errno(), libc::EBUSY);
        // A failed shrink refuses nothing afterwards.
        let c = pins.pin(key(0)).unwrap();
        drop((a, b, c));
        let s = pins.shrink(key(0), Duration::ZERO).unwrap();
        assert!(pins.pin(key(0)).is_none(), "no pin while the chunk shrinks");
        assert!(pins.pin(key(1)).is_some());
        drop(s);
        assert!(pins.pin(key(0)).is_some());
        assert_eq!(pins.held(), 0);
        assert!(pins.inner.counts().is_empty(), "entries are forgotten");
    }

    #[test]
    fn a_shrink_waits_for_the_last_pin() {
        let pins = Pins::default();
        let pin = pins.pin(key(3)).unwrap();
        let p = pins.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let r = p.shrink(key(3), SHRINK_WAIT).map(|_| ());
            tx.send(()).unwrap();
            r
        });
        // The shrink cannot finish while the pin is held: it has not reported yet.
        assert!(rx.try_recv().is_err());
        drop(pin);
        t.join().unwrap().unwrap();
        rx.recv().unwrap();
    }
}
