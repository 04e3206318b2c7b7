//! The cleanup guardian of a libbenchfs host. A program that starts servers inside its own
//! process through the C API (an embedded cluster, or real IOR's in-job servers) may be
//! killed where no destructor runs: `kill -9`, or Open MPI's launcher, which sends SIGKILL
//! a few milliseconds after SIGTERM. The library installs no signal handler in its host
//! (the host owns its signals); instead, at the first server data directory, it starts
//! `benchfs-server` as a guardian ([`crate::fs::cleanup`]), which removes what is still
//! there once the host has ended, however it ended.
//!
//! Owns where that program is looked for: `$BENCHFS_SERVER`, then beside the object that
//! holds libbenchfs (`lib/../bin` of an install prefix, or cargo's target directory), then
//! `PATH`. Without one, a warning says the data of a killed host may stay behind.

use crate::fs::cleanup::{set_guardian_starter, spawn_guardian};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the benchfs-server program the guardian runs.
pub const SERVER_ENV: &str = "BENCHFS_SERVER";

const PROGRAM: &str = "benchfs-server";

/// Names libbenchfs's guardian (once; the program's own choice, if it made one, wins).
pub fn install() {
    set_guardian_starter(start);
}

fn start() -> Option<Box<dyn Write + Send>> {
    let Some(program) = locate() else {
        crate::measure::log::warn(&format!(
            "libbenchfs: no {PROGRAM} found for the cleanup guardian (set {SERVER_ENV}, or put \
             it on PATH): a process killed with SIGKILL may leave its BenchFS server data behind"
        ));
        return None;
    };
    match spawn_guardian(&program) {
        Ok(pipe) => Some(pipe),
        Err(e) => {
            crate::measure::log::warn(&format!(
                "libbenchfs: cannot start the cleanup guardian {} ({e}): a process killed \
                 with SIGKILL may leave its BenchFS server data behind",
                program.display()
            ));
            None
        }
    }
}

/// The benchfs-server program the guardian runs, if one is found.
pub fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SERVER_ENV) {
        return Some(PathBuf::from(p)).filter(|p| is_program(p));
    }
    let beside = library_dir()
        .map(|d| {
            [
                d.join(PROGRAM),
                d.join("../bin").join(PROGRAM),
                d.join("..").join(PROGRAM),
            ]
        })
        .into_iter()
        .flatten();
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(PROGRAM))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside.chain(on_path).find(|p| is_program(p))
}

fn is_program(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The directory of the shared object (or executable) this code was loaded from.
fn library_dir() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let here = library_dir as fn() -> Option<PathBuf> as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables for an address of this object's code,
    // and writes `info`, which lives for the call.
    if unsafe { libc::dladdr(here, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: on success dli_fname is a NUL-terminated path owned by the loader, alive while
    // the object is loaded (this call runs inside it).
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    use std::os::unix::ffi::OsStrExt;
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    path.parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_knows_where_it_was_loaded_from() {
        let dir = library_dir().expect("dladdr finds this code");
        let exe = std::env::current_exe().unwrap();
        // In a unit test the library is linked into the test executable.
        assert_eq!(
            Some(dir.as_path()),
            std::fs::canonicalize(exe).unwrap().parent()
        );
    }
}
