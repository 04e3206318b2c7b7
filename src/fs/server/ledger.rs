//! The space that spare chunk files hold on each file system of this machine, summed over
//! every spare pool: the pools of all servers of this process, and of the other processes
//! that run BenchFS servers here. Spares of all of them together stay within an eighth of
//! the space that would be free without them, however many servers share a file system.
//!
//! Within the process, one in-memory entry per file system (by device number) sums its
//! pools. Between processes, each process keeps one file per file system,
//! `<ledger dir>/<device>/<pid>`, holding its sum (8 bytes) under an
//! exclusive `flock` for as long as it lives; a file whose lock can be taken belongs to a
//! process that is gone and is removed. Decisions are made under a lock of the device's
//! directory, so that two processes never both take the last share. If that directory cannot
//! be used (another user's, read-only), the process counts only its own pools. The ledger
//! directory is `$BENCHFS_SPARE_LEDGER` if set (a test suite keeps its own, so that servers
//! other programs leave running on the machine do not take its share), else
//! `<temp dir>/benchfs-spare-ledger`.
//!
//! Owns [`Share`] (one pool's entry) and the ledger directory. Knows nothing of what spares
//! are; the spare pool asks before it makes one and tells the ledger what it holds.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Spares may use at most 1/`FREE_SHARE` of the free space of a file system.
pub const FREE_SHARE: u64 = 8;

/// The pools of this process on one file system.
#[derive(Default)]
struct Device {
    /// Bytes held by each pool, by pool number.
    pools: HashMap<u64, u64>,
    /// This process's file in the ledger directory (`None`: not shared with others).
    file: Option<File>,
    dir: Option<PathBuf>,
}

impl Device {
    fn held(&self) -> u64 {
        self.pools.values().sum()
    }

    /// Writes this process's sum to its file.
    fn publish(&mut self) {
        let held = self.held();
        if let Some(f) = &mut self.file {
            let r = f.rewind().and_then(|_| f.write_all(&held.to_le_bytes()));
            if let Err(e) = r {
                tracing::debug!("spare ledger: {e}");
            }
        }
    }
}

struct Ledger {
    devices: HashMap<u64, Device>,
    next_pool: u64,
}

static LEDGER: Mutex<Option<Ledger>> = Mutex::new(None);

fn ledger() -> MutexGuard<'static, Option<Ledger>> {
    LEDGER.lock().unwrap_or_else(|p| p.into_inner())
}

fn flock(f: &File, op: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor owned by `f`; no memory is passed.
    unsafe { libc::flock(f.as_raw_fd(), op) == 0 }
}

/// The environment variable naming the ledger directory.
pub const LEDGER_ENV: &str = "BENCHFS_SPARE_LEDGER";

/// The ledger directory: `var` (the value of [`LEDGER_ENV`]) unless unset or empty, else
/// `<temp dir>/benchfs-spare-ledger`.
fn ledger_base(var: Option<std::ffi::OsString>) -> PathBuf {
    var.filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("benchfs-spare-ledger"))
}

/// The ledger directory of device `dev`, created if needed (private to this user).
fn device_dir(dev: u64) -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = ledger_base(std::env::var_os(LEDGER_ENV));
    let dir = base.join(format!("{dev:x}"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ok()?;
    // Only a directory of this user is trusted with the numbers.
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let ok = [&base, &dir]
        .iter()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.uid() == me));
    ok.then_some(dir)
}

/// This process's file in `dir`, locked.
fn own_file(dir: &Path) -> Option<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join(std::process::id().to_string()))
        .ok()?;
    flock(&f, libc::LOCK_EX | libc::LOCK_NB).then_some(f)
}

/// Bytes held by the spares of the other live processes on the device of `dir`; the files of
/// processes that are gone are removed.
fn others(dir: &Path) -> u64 {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut sum = 0u64;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == me || name.starts_with('.') || name.parse::<u32>().is_err() {
            continue;
        }
        let Ok(mut f) = File::open(e.path()) else {
            continue;
        };
        if flock(&f, libc::LOCK_SH | libc::LOCK_NB) {
            // Nobody holds it: its process is gone.
            let _ = std::fs::remove_file(e.path());
            continue;
        }
        let mut b = [0u8; 8];
        if f.read_exact(&mut b).is_ok() {
            sum = sum.saturating_add(u64::from_le_bytes(b));
        }
    }
    sum
}

/// Holds the device directory's decision lock while alive.
struct DecisionLock(Option<File>);

impl DecisionLock {
    fn take(dir: Option<&Path>) -> Self {
        let f = dir.and_then(|d| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(d.join(".lock"))
                .ok()
        });
        match f {
            Some(f) if flock(&f, libc::LOCK_EX) => DecisionLock(Some(f)),
            _ => DecisionLock(None),
        }
    }
}

impl Drop for DecisionLock {
    fn drop(&mut self) {
        if let Some(f) = &self.0 {
            flock(f, libc::LOCK_UN);
        }
    }
}

/// One spare pool's entry in the ledger of the file system holding its directory.
pub struct Share {
    dev: u64,
    pool: u64,
    dir: PathBuf,
}

impl Share {
    /// The entry of a pool whose spares live in `dir` (which must exist).
    pub fn join(dir: &Path) -> std::io::Result<Share> {
        let dev = std::fs::metadata(dir)?.dev();
        let mut g = ledger();
        let l = g.get_or_insert_with(|| Ledger {
            devices: HashMap::new(),
            next_pool: 0,
        });
        l.next_pool += 1;
        let pool = l.next_pool;
        let d = l.devices.entry(dev).or_default();
        if d.file.is_none() && d.dir.is_none() {
            d.dir = device_dir(dev);
            d.file = d.dir.as_deref().and_then(own_file);
            if d.file.is_none() {
                d.dir = None;
            }
        }
        d.pools.insert(pool, 0);
        Ok(Share {
            dev,
            pool,
            dir: dir.to_path_buf(),
        })
    }

    /// Records `size` more bytes for this pool if spares of every pool on the file system
    /// (this process's and the others') stay within 1/[`FREE_SHARE`] of the space that would
    /// be free without them; false (nothing recorded) otherwise. The pool reports what it
    /// really holds afterwards with [`Share::set`].
    pub fn reserve(&self, size: u64) -> bool {
        let shared_dir = ledger()
            .as_ref()
            .and_then(|l| l.devices.get(&self.dev))
            .and_then(|d| d.dir.clone());
        let _decision = DecisionLock::take(shared_dir.as_deref());
        let others = shared_dir.as_deref().map_or(0, others);
        let Ok(super::chunk::Capacity { avail, .. }) = super::chunk::capacity_of(&self.dir) else {
            return false;
        };
        let mut g = ledger();
        let Some(d) = g.as_mut().and_then(|l| l.devices.get_mut(&self.dev)) else {
            return false;
        };
        let held = d.held().saturating_add(others);
        if !within_share(avail, held, size) {
            return false;
        }
        *d.pools.entry(self.pool).or_insert(0) += size;
        d.publish();
        true
    }

    /// Records that this pool's spares hold `bytes` now.
    pub fn set(&self, bytes: u64) {
        let mut g = ledger();
        if let Some(d) = g.as_mut().and_then(|l| l.devices.get_mut(&self.dev)) {
            if d.pools.insert(self.pool, bytes) != Some(bytes) {
                d.publish();
            }
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut g = ledger();
        let Some(l) = g.as_mut() else { return };
        if let Some(d) = l.devices.get_mut(&self.dev) {
            d.pools.remove(&self.pool);
            if d.pools.is_empty() {
                if let (Some(dir), Some(_)) = (&d.dir, &d.file) {
                    let _ = std::fs::remove_file(dir.join(std::process::id().to_string()));
                }
                l.devices.remove(&self.dev);
            } else {
                d.publish();
            }
        }
    }
}

/// Whether spares holding `held + size` bytes stay within 1/[`FREE_SHARE`] of the space that
/// would be free without them (`avail` is what the file system reports now, the spares
/// already made not included).
pub fn within_share(avail: u64, held: u64, size: u64) -> bool {
    let free = avail.saturating_add(held);
    held.saturating_add(size) <= free / FREE_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_on_one_file_system_share_one_eighth() {
        let d = tempfile::tempdir().unwrap();
        let avail = super::super::chunk::capacity_of(d.path()).unwrap().avail;
        let a = Share::join(d.path()).unwrap();
        let b = Share::join(d.path()).unwrap();
        // Ask in steps of a 64th of the free space: together, at most 8 steps are granted
        // (fewer if other tests or processes hold spares on this file system).
        let step = (avail / 64).max(1);
        let mut granted = 0;
        for i in 0..40 {
            let who = if i % 2 == 0 { &a } else { &b };
            if who.reserve(step) {
                granted += 1;
            }
        }
        assert!(granted <= 8, "{granted} steps of 1/64 granted");
        // Giving the space back lets a pool reserve again.
        a.set(0);
        b.set(0);
        assert!(a.reserve(step));
    }

    #[test]
    fn the_ledger_directory_is_the_environments_or_the_temp_dirs() {
        let default = std::env::temp_dir().join("benchfs-spare-ledger");
        assert_eq!(ledger_base(None), default);
        assert_eq!(ledger_base(Some("".into())), default);
        assert_eq!(
            ledger_base(Some("/scratch/ledger".into())),
            PathBuf::from("/scratch/ledger")
        );
    }

    #[test]
    fn spares_stay_within_an_eighth_of_the_free_space() {
        const M: u64 = 1 << 20;
        // 64 MiB free, nothing held: 8 MiB may go to spares.
        assert!(within_share(64 * M, 0, 8 * M));
        assert!(!within_share(64 * M, 0, 9 * M));
        // Spares already made count as free space they took: 60 MiB left + 4 held.
        assert!(within_share(60 * M, 4 * M, 4 * M));
        assert!(!within_share(60 * M, 4 * M, 5 * M));
        assert!(!within_share(0, 0, 1));
        assert!(within_share(u64::MAX, 0, M));
    }
}
