//! The data directories of the BenchFS servers this process runs (embedded clusters, a rank's
//! in-job server, libbenchfs's job clusters) that must go however the process ends.
//! Destructors remove them on every normal path; this list is for the others (a signal, an
//! MPI abort), whose handlers live above (`crate::harness::cleanup` installs them).
//!
//! A directory is [`register`]ed before it is created, and servers are started in it while
//! [`starting`] is held; [`remove_for_good`] takes that lock (and never gives it back) before
//! it removes anything, so that no server start re-creates a directory behind it. Owns only
//! the list of directories; it installs no handler and never exits the process.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// The directories to remove, by registration number.
static LIVE: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
/// Held while servers are being started in registered directories.
static STARTING: Mutex<()> = Mutex::new(());

fn live() -> MutexGuard<'static, Vec<(u64, PathBuf)>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registered directory: removed by [`remove_for_good`] while this is alive, and forgotten
/// when it is dropped (its owner removes it then).
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        live().retain(|(n, _)| *n != self.0);
    }
}

/// Registers `dir` for removal on every exit path this module covers; call it before `dir`
/// is created.
pub fn register(dir: PathBuf) -> Registered {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    live().push((n, dir));
    Registered(n)
}

/// Held while servers start in registered directories: a signal waits for the start in
/// progress before it removes their data.
pub fn starting() -> MutexGuard<'static, ()> {
    STARTING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes every registered directory; they stay registered. Returns how many there were.
pub fn remove_all() -> usize {
    let dirs: Vec<PathBuf> = live().iter().map(|(_, d)| d.clone()).collect();
    for d in &dirs {
        super::cluster::remove_tree(d);
    }
    dirs.len()
}

/// What a signal handler or an MPI abort does just before the process ends: no server start
/// may run any more, then every registered directory goes. Returns how many there were.
pub fn remove_for_good() -> usize {
    // Never given back: the process is about to end.
    std::mem::forget(starting());
    remove_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(dir: &std::path::Path) -> bool {
        live().iter().any(|(_, d)| d == dir)
    }

    // Nothing is removed here: other tests of this process may have directories registered
    // (the removal itself is tested by tests/faults/exits.rs, through signals and aborts).
    #[test]
    fn a_directory_is_listed_until_its_owner_forgets_it() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        let ra = register(a.clone());
        let rb = register(b.clone());
        assert!(listed(&a) && listed(&b));
        drop(rb);
        assert!(listed(&a) && !listed(&b));
        drop(ra);
        assert!(!listed(&a));
    }
}
