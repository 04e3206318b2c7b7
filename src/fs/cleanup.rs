//! The data directories of the BenchFS servers this process runs (embedded clusters, a rank's
//! in-job server, libbenchfs's job clusters) that must go however the process ends.
//! Destructors remove them on every normal path; this list is for the others (a signal, an
//! MPI abort), whose handlers live above (`crate::harness::cleanup` installs them).
//!
//! A directory is [`register`]ed before it is created, and servers are started in it while
//! [`starting`] is held; [`remove_for_good`] takes that lock (and never gives it back) before
//! it removes anything, so that no server start re-creates a directory behind it.
//!
//! A signal handler cannot help when the process is killed (`kill -9`, or an MPI launcher
//! that sends SIGKILL a few milliseconds after SIGTERM, as Open MPI's does once any rank has
//! exited). For that, a program may name a guardian ([`set_guardian_starter`]): another
//! process, started at the first registration, to which every registration and release is
//! announced as a line on a pipe; when the pipe closes (this process ended, however), the
//! guardian removes what is still registered ([`guard`] is its whole work). A guardian is
//! a program run with [`GUARDIAN_ENV`] set ([`spawn_guardian`]): benchfs-bench (a copy of
//! itself) or, for libbenchfs's hosts, benchfs-server. Owns the list of directories, the
//! announcements and the guardian's start; it installs no handler and never exits the
//! process.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The directories to remove, by registration number.
static LIVE: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
/// Held while servers are being started in registered directories.
static STARTING: Mutex<()> = Mutex::new(());

/// Where registrations are announced: the pipe to the guardian, once started.
type Announce = Box<dyn Write + Send>;

/// How the guardian is started (set by the program), and the pipe to it (`None` inside when
/// it could not start: nothing is announced then).
static STARTER: OnceLock<fn() -> Option<Announce>> = OnceLock::new();
static GUARDIAN: OnceLock<Mutex<Option<Announce>>> = OnceLock::new();

fn live() -> MutexGuard<'static, Vec<(u64, PathBuf)>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Names how this program starts its guardian: `start` returns the writing end of a pipe the
/// guardian reads with [`guard`] (or `None`, with a warning of its own, when it cannot start
/// one). Called at the first registration; the first call of this function wins.
pub fn set_guardian_starter(start: fn() -> Option<Box<dyn Write + Send>>) {
    let _ = STARTER.set(start);
}

/// Set in the environment of a guardian: the program then only guards (reads announcements
/// on stdin with [`guard`] and exits).
pub const GUARDIAN_ENV: &str = "BENCHFS_CLEANUP_GUARDIAN";

/// Starts `program` as a guardian ([`GUARDIAN_ENV`] set, in a process group of its own so
/// that the signals meant for the run do not reach it, not waited for: it ends after this
/// process); the writing end of its stdin.
pub fn spawn_guardian(program: &Path) -> std::io::Result<Box<dyn Write + Send>> {
    let mut child = Command::new(program)
        .env(GUARDIAN_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    child
        .stdin
        .take()
        .map(|w| Box::new(w) as Box<dyn Write + Send>)
        .ok_or_else(|| std::io::Error::other("the guardian has no stdin"))
}

/// Tells the guardian (started now if need be) `line`; best effort.
fn announce(line: &str) {
    let Some(start) = STARTER.get() else {
        return;
    };
    let pipe = GUARDIAN.get_or_init(|| Mutex::new(start()));
    let mut pipe = pipe.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(w) = pipe.as_mut() {
        if w.write_all(line.as_bytes())
            .and_then(|()| w.flush())
            .is_err()
        {
            // The guardian is gone: the signal handlers are all that is left.
            *pipe = None;
        }
    }
}

/// A path as one token of an announcement (hex of its bytes: any byte may be in a path).
fn encode(dir: &std::path::Path) -> String {
    dir.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode(hex: &str) -> Option<PathBuf> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes?)))
}

/// The guardian's work: reads announcements (`+<n> <dir>` for a registration, `-<n>` for its
/// release) from `input` until it ends, then removes every directory still registered.
/// Returns how many it removed (that existed).
pub fn guard(input: impl BufRead) -> usize {
    let mut dirs = BTreeMap::new();
    for line in input.lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix('+') {
            if let Some((n, hex)) = rest.split_once(' ') {
                if let (Ok(n), Some(dir)) = (n.parse::<u64>(), decode(hex)) {
                    dirs.insert(n, dir);
                }
            }
        } else if let Some(n) = line.strip_prefix('-') {
            if let Ok(n) = n.parse::<u64>() {
                dirs.remove(&n);
            }
        }
    }
    let mut removed = 0;
    for dir in dirs.values() {
        if dir.exists() {
            super::cluster::remove_tree(dir);
            removed += 1;
        }
    }
    removed
}

/// A registered directory: removed by [`remove_for_good`] while this is alive, and forgotten
/// when it is dropped (its owner removes it then).
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        live().retain(|(n, _)| *n != self.0);
        announce(&format!("-{}\n", self.0));
    }
}

/// Registers `dir` for removal on every exit path this module covers; call it before `dir`
/// is created.
pub fn register(dir: PathBuf) -> Registered {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    announce(&format!("+{n} {}\n", encode(&dir)));
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
    fn the_guardian_removes_what_is_still_registered_when_its_pipe_closes() {
        let d = tempfile::tempdir().unwrap();
        let odd = PathBuf::from(std::ffi::OsString::from_vec(b"odd \n\xff name".to_vec()));
        let dirs = [d.path().join("a"), d.path().join("b"), d.path().join(odd)];
        for dir in &dirs {
            std::fs::create_dir_all(dir.join("chunks")).unwrap();
            std::fs::write(dir.join("chunks/0"), b"x").unwrap();
        }
        let never = d.path().join("never-made");
        let input = format!(
            "+1 {}\n+2 {}\n+3 {}\n+4 {}\n-2\ngarbage\n+x 00\n+5 zz\n-9\n",
            encode(&dirs[0]),
            encode(&dirs[1]),
            encode(&dirs[2]),
            encode(&never)
        );
        assert_eq!(guard(std::io::Cursor::new(input)), 2);
        assert!(
            !dirs[0].exists() && !dirs[2].exists(),
            "a registered directory stays"
        );
        assert!(dirs[1].exists(), "a released directory was removed");
    }

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
