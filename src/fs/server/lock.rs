//! One server per data directory: an exclusive `flock` on `<data>/lock`, taken before the
//! server reads or writes anything else there and held for as long as the server runs (the
//! kernel drops it when the process dies, however it dies).
//!
//! Owns `<data>/lock` (mode 0600; it holds the pid of the server that has the lock, so that
//! a second server can say which one it met). Knows nothing of what else is in the directory.

use super::private::FILE_MODE;
use crate::fs::error::{FsError, FsResult};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The lock of a data directory, released when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `data_dir`, or fails at once (`EBUSY`) if another server holds it.
    pub fn take(data_dir: &Path) -> FsResult<Self> {
        let path = data_dir.join("lock");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|e| FsError::from_io(&format!("open {}", path.display()), &e))?;
        // SAFETY: flock on a descriptor owned by `f`; no memory is passed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(FsError::from_io(&format!("lock {}", path.display()), &e));
            }
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(FsError::Busy(format!(
                "data directory {} is in use by another BenchFS server{holder}; one server \
                 per data directory",
                data_dir.display()
            )));
        }
        let mine = format!("{}\n", std::process::id());
        let written = f
            .set_len(0)
            .and_then(|_| f.rewind())
            .and_then(|_| f.write_all(mine.as_bytes()));
        if let Err(e) = written {
            return Err(FsError::from_io(&format!("write {}", path.display()), &e));
        }
        Ok(DataDirLock { _file: f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let first = DataDirLock::take(d.path()).unwrap();
        let e = DataDirLock::take(d.path()).unwrap_err();
        assert_eq!(e.errno(), libc::EBUSY);
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains(&d.path().display().to_string()), "{msg}");
        drop(first);
        let _again = DataDirLock::take(d.path()).unwrap();
    }
}
