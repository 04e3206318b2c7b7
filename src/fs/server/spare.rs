//! Spare chunk files: storage allocated ahead of need by a background thread, so that a
//! write into a new chunk finds its pages (tmpfs) or blocks (disk file systems) already
//! there instead of allocating them while the data arrives from the network.
//!
//! Owns `<data>/spare/`: empty files (size 0) whose first `size` bytes were allocated with
//! `fallocate(FALLOC_FL_KEEP_SIZE)`. Reading one gives nothing and its allocated range reads
//! as zeros, so a spare renamed into place is exactly a new, empty chunk file. The chunk
//! store takes a spare when it creates a chunk of a file whose chunk size is `size` (the
//! cluster's default) and renames it into its own directory; this module never touches
//! `chunks/`.
//!
//! The pool holds at most `target` spares, and the spares of every pool on the same file
//! system (every server of the machine) never take more than an eighth of its free space
//! together (see [`super::ledger`]). While the server is busy (it served a request within the last
//! [`IDLE`]), the thread only keeps [`KEEP_BUSY`] spares ready; it fills the rest of the
//! target once the server is idle, so that a burst of writes into new files up to the
//! pool's size costs no allocation at all while it runs, and the allocation of a longer
//! one is spread over the burst as before. The thread runs at a lower priority (nice 10)
//! than the threads that move data. Allocation stops for good where the file system cannot
//! preallocate (`EOPNOTSUPP`), and pauses on `ENOSPC` until [`SparePool::resume`] (the store
//! calls it when it frees a chunk). Left-over spares of an earlier run are removed at start; the pool
//! removes its spares when dropped.

use super::ledger::Share;
use crate::fs::error::{FsError, FsResult};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default number of spare chunk files a server keeps ready when idle (256 MiB of the
/// default 4 MiB chunks): a write phase up to that size allocates nothing while it runs
/// (figures in `examples/fs_bench.rs`, which measures it with `BENCH_SPARE`).
pub const DEFAULT_SPARE_CHUNKS: usize = 64;

/// Spares the pool keeps ready (of its target) while the server is busy: refilled at once
/// when taken. The rest of the target is made only while the server is idle, so that
/// allocating storage ahead never takes CPU time from requests.
pub const KEEP_BUSY: usize = 4;

/// How long the server must have served no request before the pool fills beyond
/// [`KEEP_BUSY`].
pub const IDLE: Duration = Duration::from_millis(100);

/// Nice value of the thread that makes spares: below the threads that move data, so that
/// making spares does not slow the requests (figures in `examples/fs_bench.rs`).
const SPARE_NICE: libc::c_int = 10;

#[derive(Default)]
struct State {
    ready: Vec<PathBuf>,
    next: u64,
    stop: bool,
    /// The file system cannot preallocate: no more spares.
    disabled: bool,
    /// Out of space (or too little left to spare): no new spares until resumed.
    paused: bool,
    /// Spares handed out.
    taken: u64,
    /// New chunks of the pool's chunk size that found no spare ready.
    missed: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the worker has something to do and when a spare becomes ready.
    changed: Condvar,
    /// When the pool started: the origin of `active_ms`.
    epoch: Instant,
    /// Milliseconds after `epoch` of the last [`SparePool::touch`].
    active_ms: AtomicU64,
    /// This pool's entry in the ledger of its file system (every pool's spares on it stay
    /// within an eighth of its free space).
    share: Share,
    /// Bytes per spare.
    size: u64,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        // The epoch is taken at start, so 0 means "busy since the pool started".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding the lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the ledger what the ready spares hold (called with the state locked, after
    /// every change of `ready`).
    fn report(&self, st: &State) {
        self.share
            .set(self.size.saturating_mul(st.ready.len() as u64));
    }
}

/// A pool of preallocated, empty chunk files refilled by a background thread.
pub struct SparePool {
    dir: PathBuf,
    size: u64,
    target: usize,
    idle: Duration,
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl SparePool {
    /// Starts a pool of `target` spares of `size` bytes each in `<data_dir>/spare/`
    /// (removing what an earlier run left there); the first ones are allocated in the
    /// background at once.
    pub fn start(data_dir: &Path, size: u64, target: usize) -> FsResult<Self> {
        Self::start_with(data_dir, size, target, KEEP_BUSY, IDLE)
    }

    /// [`SparePool::start`] keeping `keep` spares ready while busy and filling the rest
    /// after `idle` without a request (tests use this to make busy and idle certain).
    pub fn start_with(
        data_dir: &Path,
        size: u64,
        target: usize,
        keep: usize,
        idle: Duration,
    ) -> FsResult<Self> {
        let dir = data_dir.join("spare");
        super::private::make_dir(&dir, true)?;
        for ent in std::fs::read_dir(&dir).map_err(|e| FsError::from_io("list spare dir", &e))? {
            let ent = ent.map_err(|e| FsError::from_io("list spare dir", &e))?;
            // Only files this module names; anything else is left alone.
            if ent.file_name().to_string_lossy().starts_with("spare-") {
                let _ = std::fs::remove_file(ent.path());
            }
        }
        let share = Share::join(&dir).map_err(|e| FsError::from_io("stat spare dir", &e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            epoch: Instant::now(),
            active_ms: AtomicU64::new(0),
            share,
            size,
        });
        let worker = if target > 0 && size > 0 {
            let (d, s) = (dir.clone(), shared.clone());
            Some(
                std::thread::Builder::new()
                    .name("benchfs-spare".into())
                    .spawn(move || refill(&d, size, target, target.min(keep), idle, &s))
                    .map_err(|e| FsError::from_io("start spare thread", &e))?,
            )
        } else {
            shared.lock().stop = true; // nothing will ever be made
            None
        };
        Ok(SparePool {
            dir,
            size,
            target,
            idle,
            shared,
            worker: Mutex::new(worker),
        })
    }

    /// Notes that the server is serving a request now: the pool then refills only up to
    /// [`KEEP_BUSY`] spares until the server has been idle for [`IDLE`]. Cheap (a clock
    /// read and a relaxed store): called for every request.
    pub fn touch(&self) {
        self.shared
            .active_ms
            .store(self.shared.now_ms(), Ordering::Relaxed);
    }

    /// How long the server must be idle before the pool fills beyond what it keeps while
    /// busy.
    pub fn idle_after(&self) -> Duration {
        self.idle
    }

    /// Bytes preallocated per spare (the chunk size spares are made for).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A ready spare for a chunk of a file with chunk size `chunk_size`, if there is one.
    /// The caller renames it into place, or hands it back with [`SparePool::give_back`].
    pub fn take(&self, chunk_size: u32) -> Option<PathBuf> {
        if chunk_size as u64 != self.size {
            return None;
        }
        let mut st = self.shared.lock();
        let Some(p) = st.ready.pop() else {
            st.missed += 1;
            return None;
        };
        st.taken += 1;
        self.shared.report(&st);
        drop(st);
        self.shared.changed.notify_all();
        Some(p)
    }

    /// Returns an unused spare taken with [`SparePool::take`] (removed instead if the
    /// thread has refilled the pool meanwhile).
    pub fn give_back(&self, path: PathBuf) {
        let mut st = self.shared.lock();
        if st.ready.len() < self.target && !st.stop {
            st.ready.push(path);
            self.shared.report(&st);
            drop(st);
            self.shared.changed.notify_all();
        } else {
            drop(st);
            let _ = std::fs::remove_file(path);
        }
    }

    /// Frees the space of every ready spare and stops allocating new ones until
    /// [`SparePool::resume`] (the store is out of space).
    pub fn release(&self) {
        let taken = {
            let mut st = self.shared.lock();
            st.paused = true;
            let taken = std::mem::take(&mut st.ready);
            self.shared.report(&st);
            taken
        };
        for p in taken {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Allocates spares again after [`SparePool::release`] or a lack of space (space was
    /// freed).
    pub fn resume(&self) {
        let mut st = self.shared.lock();
        if st.paused {
            st.paused = false;
            drop(st);
            self.shared.changed.notify_all();
        }
    }

    /// Number of spares ready now.
    pub fn ready(&self) -> usize {
        self.shared.lock().ready.len()
    }

    /// Spares handed out so far, and new chunks that found none ready (the pool could not
    /// keep up, or was paused).
    pub fn counts(&self) -> (u64, u64) {
        let st = self.shared.lock();
        (st.taken, st.missed)
    }

    /// Bytes held by ready spares (space the file system counts as used).
    pub fn held_bytes(&self) -> u64 {
        self.ready() as u64 * self.size
    }

    /// Waits until the pool is full, or cannot fill (file system without preallocation,
    /// out of space), for at most `timeout`; returns the number of spares ready. The pool
    /// fills beyond what it keeps while busy only once the server is idle: waiting is not
    /// a request.
    pub fn wait_full(&self, timeout: Duration) -> usize {
        self.wait_ready(self.target, timeout)
    }

    /// Waits until `n` spares (at most the target) are ready, or the pool cannot make
    /// more, for at most `timeout`; returns the number ready.
    pub fn wait_ready(&self, n: usize, timeout: Duration) -> usize {
        let n = n.min(self.target);
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.ready.len() < n && !st.disabled && !st.paused && !st.stop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = match self.shared.changed.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        st.ready.len()
    }

    /// The directory spares live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the thread and removes every ready spare (a server shutting down leaves no
    /// spare behind); the pool hands out nothing more.
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            let _ = w.join();
        }
        let ready = {
            let mut st = self.shared.lock();
            let ready = std::mem::take(&mut st.ready);
            self.shared.report(&st);
            ready
        };
        for p in ready {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for SparePool {
    fn drop(&mut self) {
        let (taken, missed) = self.counts();
        tracing::debug!(
            "spare chunks of {}: {taken} used, {missed} new chunks found none ready",
            self.dir.display()
        );
        self.stop();
    }
}

/// The background thread until stopped: keeps `keep` spares ready, and `target` once the
/// server has been idle for `idle`.
fn refill(dir: &Path, size: u64, target: usize, keep: usize, idle: Duration, shared: &Shared) {
    // Below the threads that move data: spares are made from idle time, and a write that
    // finds the pool empty allocates as it would without one.
    // SAFETY: setpriority on this thread (its kernel tid) only changes its scheduling
    // weight; raising the nice value is always allowed, and a failure is harmless.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, SPARE_NICE);
    }
    let idle_ms = idle.as_millis() as u64;
    loop {
        let n = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                let quiet = shared
                    .now_ms()
                    .saturating_sub(shared.active_ms.load(Ordering::Relaxed));
                let step = if st.disabled || st.paused {
                    Step::Wait
                } else {
                    next_step(st.ready.len(), keep, target, quiet, idle_ms)
                };
                st = match step {
                    Step::Make => break,
                    Step::Wait => match shared.changed.wait(st) {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    },
                    Step::WaitIdle(ms) => {
                        match shared.changed.wait_timeout(st, Duration::from_millis(ms)) {
                            Ok((g, _)) => g,
                            Err(p) => p.into_inner().0,
                        }
                    }
                };
            }
            st.next += 1;
            st.next
        };
        let path = dir.join(format!("spare-{n}"));
        let outcome = if shared.share.reserve(size) {
            allocate(&path, size)
        } else {
            Err(libc::ENOSPC)
        };
        let mut st = shared.lock();
        let unused = match outcome {
            // A spare given back meanwhile may have filled the pool already.
            Ok(()) if st.ready.len() >= target || st.stop => Some(path),
            Ok(()) => {
                st.ready.push(path);
                None
            }
            Err(code) => {
                if code == libc::ENOSPC {
                    tracing::debug!(
                        "spare chunks paused: little free space in {}",
                        dir.display()
                    );
                    st.paused = true;
                } else {
                    tracing::debug!(
                        "no spare chunks in {}: {}",
                        dir.display(),
                        std::io::Error::from_raw_os_error(code)
                    );
                    st.disabled = true;
                }
                Some(path)
            }
        };
        shared.report(&st);
        drop(st);
        if let Some(p) = unused {
            let _ = std::fs::remove_file(p);
        }
        shared.changed.notify_all();
    }
}

/// What the spare thread does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Make a spare now.
    Make,
    /// Nothing to make until signalled.
    Wait,
    /// More spares wanted once the server has been idle this many more milliseconds.
    WaitIdle(u64),
}

/// The refill policy: with `ready` spares, keep `keep` always and fill to `target` once the
/// server has been quiet for `idle_ms` (it has been for `quiet_ms`).
fn next_step(ready: usize, keep: usize, target: usize, quiet_ms: u64, idle_ms: u64) -> Step {
    if ready >= target {
        Step::Wait
    } else if ready < keep || quiet_ms >= idle_ms {
        Step::Make
    } else {
        Step::WaitIdle(idle_ms - quiet_ms)
    }
}

/// Creates `path` and allocates `size` bytes to it without changing its size (0); the errno
/// on failure.
fn allocate(path: &Path, size: u64) -> Result<(), i32> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(super::private::FILE_MODE)
        .open(path)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let len = libc::off_t::try_from(size).map_err(|_| libc::EINVAL)?;
    loop {
        // SAFETY: fallocate on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::fallocate(f.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let code = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if code != libc::EINTR {
            return Err(match code {
                libc::ENOSYS => libc::EOPNOTSUPP,
                c => c,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const WAIT: Duration = Duration::from_secs(30);

    #[test]
    fn fills_to_target_with_empty_preallocated_files() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 256 << 10, 3).unwrap();
        assert_eq!(pool.wait_full(WAIT), 3);
        assert_eq!(pool.held_bytes(), 3 * (256 << 10));
        let names: Vec<_> = std::fs::read_dir(pool.dir()).unwrap().collect();
        assert_eq!(names.len(), 3);
        let p = pool.take(256 << 10).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.len(), 0, "a spare is empty");
        assert!(
            m.blocks() * 512 >= 256 << 10,
            "a spare has its storage allocated ({} blocks)",
            m.blocks()
        );
        // Taking one makes the thread allocate a replacement.
        std::fs::remove_file(&p).unwrap();
        assert_eq!(pool.wait_full(WAIT), 3);
    }

    #[test]
    fn only_files_of_its_chunk_size_take_spares() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 128 << 10, 1).unwrap();
        assert_eq!(pool.wait_full(WAIT), 1);
        assert!(pool.take(64 << 10).is_none());
        assert!(pool.take(1 << 20).is_none());
        let p = pool.take(128 << 10).unwrap();
        pool.give_back(p);
        assert_eq!(pool.ready(), 1);
    }

    #[test]
    fn release_frees_and_pauses_until_resumed() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 64 << 10, 2).unwrap();
        assert_eq!(pool.wait_full(WAIT), 2);
        pool.release();
        assert_eq!(pool.ready(), 0);
        // Paused: waiting returns at once with nothing made.
        assert_eq!(pool.wait_full(WAIT), 0);
        assert_eq!(std::fs::read_dir(pool.dir()).unwrap().count(), 0);
        pool.resume();
        assert_eq!(pool.wait_full(WAIT), 2);
    }

    #[test]
    fn leftovers_removed_at_start_and_spares_at_drop() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("spare");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spare-99"), b"old").unwrap();
        std::fs::write(dir.join("keep.txt"), b"not ours").unwrap();
        let pool = SparePool::start(d.path(), 64 << 10, 2).unwrap();
        assert_eq!(pool.wait_full(WAIT), 2);
        assert!(!dir.join("spare-99").exists());
        drop(pool);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["keep.txt".to_string()]);
    }

    #[test]
    fn the_spare_thread_runs_at_a_lower_priority() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 64 << 10, 1).unwrap();
        assert_eq!(pool.wait_full(WAIT), 1);
        // Every spare thread of this process (other tests run pools too): field 19 of a
        // thread's stat is its nice value.
        let mut seen = 0;
        for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() != "benchfs-spare" {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue; // the thread ended meanwhile
            };
            let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
            let nice: i32 = after_comm.split(' ').nth(16).unwrap().parse().unwrap();
            assert_eq!(nice, SPARE_NICE, "{stat}");
            seen += 1;
        }
        assert!(seen >= 1, "no spare thread found");
    }

    #[test]
    fn while_busy_only_the_kept_spares_are_made() {
        let d = tempfile::tempdir().unwrap();
        // Never idle within the test: only the kept two are made, however long one waits.
        let pool =
            SparePool::start_with(d.path(), 64 << 10, 6, 2, Duration::from_secs(3600)).unwrap();
        assert_eq!(pool.wait_ready(2, WAIT), 2);
        assert_eq!(pool.wait_full(Duration::from_millis(300)), 2);
        // A spare taken is made again at once, busy or not.
        let p = pool.take(64 << 10).unwrap();
        std::fs::remove_file(p).unwrap();
        assert_eq!(pool.wait_ready(2, WAIT), 2);
        pool.touch();
        assert_eq!(std::fs::read_dir(pool.dir()).unwrap().count(), 2);
        assert_eq!(pool.counts(), (1, 0));
    }

    #[test]
    fn the_rest_is_made_once_the_server_is_idle() {
        let d = tempfile::tempdir().unwrap();
        let pool =
            SparePool::start_with(d.path(), 64 << 10, 6, 2, Duration::from_millis(50)).unwrap();
        assert_eq!(pool.idle_after(), Duration::from_millis(50));
        pool.touch();
        assert_eq!(pool.wait_full(WAIT), 6);
        assert_eq!(std::fs::read_dir(pool.dir()).unwrap().count(), 6);
        // Drained by a burst, it fills again once the burst is over.
        for _ in 0..6 {
            let p = pool.take(64 << 10).unwrap();
            pool.touch();
            std::fs::remove_file(p).unwrap();
        }
        assert_eq!(pool.wait_full(WAIT), 6);
    }

    #[test]
    fn refill_policy_keeps_a_few_while_busy_and_fills_when_idle() {
        // (ready, keep, target, quiet, idle) -> step
        assert_eq!(next_step(0, 4, 64, 0, 100), Step::Make);
        assert_eq!(next_step(3, 4, 64, 0, 100), Step::Make);
        assert_eq!(next_step(4, 4, 64, 30, 100), Step::WaitIdle(70));
        assert_eq!(next_step(4, 4, 64, 100, 100), Step::Make);
        assert_eq!(next_step(63, 4, 64, 500, 100), Step::Make);
        assert_eq!(next_step(64, 4, 64, 500, 100), Step::Wait);
        assert_eq!(next_step(2, 4, 2, 0, 100), Step::Wait);
    }

    #[test]
    fn an_empty_pool_makes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 64 << 10, 0).unwrap();
        assert_eq!(pool.wait_full(WAIT), 0);
        assert!(pool.take(64 << 10).is_none());
    }
}
