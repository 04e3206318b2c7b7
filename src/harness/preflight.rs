//! Checks made before any I/O, so that a run does not finish and then fail, nor wait in
//! silence: the `--json` file and `--results-dir` are writable, and the servers of an
//! external BenchFS cluster (`--benchfs.registry`) have registered — with "waiting for
//! servers: k of N registered" on stderr while they do, within `--benchfs.timeout`; a
//! registry directory that does not exist fails at once.
//!
//! Owns these checks only; the run itself is the driver's.

use crate::backend::benchfs::BenchfsOptions;
use crate::backend::canonical_backend_name;
use crate::fs::registry::Registry;
use crate::ior::params::{GlobalOptions, IorParams};
use crate::measure::log;
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether this process may create and write files in `dir`.
fn writable_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| format!("{}: contains NUL", dir.display()))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(format!(
            "{}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// `--json FILE` can be written: its directory exists and is writable, and the file, if it
/// exists, is a writable regular file. (The document is written through a temporary file
/// beside it, so the directory must be writable either way.)
fn check_json(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    let fail = |why: String| format!("cannot write --json \"{path}\": {why}");
    if let Ok(meta) = std::fs::metadata(p) {
        if meta.is_dir() {
            return Err(fail("it is a directory".into()));
        }
        if meta.permissions().readonly() {
            return Err(fail("the file is read-only".into()));
        }
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    writable_dir(dir).map_err(fail)
}

/// The run's output files can be written (before anything else happens).
pub fn check_outputs(global: &GlobalOptions) -> Result<(), String> {
    check_documents(global.json_file.as_deref(), global.results_dir.as_deref())
}

/// `--json FILE` and `--results-dir DIR` (of any subcommand) can be written.
pub fn check_documents(json_file: Option<&str>, results_dir: Option<&str>) -> Result<(), String> {
    if let Some(j) = json_file {
        check_json(j)?;
    }
    if let Some(d) = results_dir {
        std::fs::create_dir_all(d)
            .map_err(|e| format!("cannot use --results-dir \"{d}\": {e}"))
            .and_then(|_| {
                writable_dir(Path::new(d))
                    .map_err(|e| format!("cannot use --results-dir \"{d}\": {e}"))
            })?;
    }
    Ok(())
}

/// How long to wait between two looks at a registry.
const POLL: Duration = Duration::from_millis(50);

/// Waits until the cluster of `registry` has all its servers registered, for at most
/// `timeout`, saying on stderr what it waits for whenever that changes (at most once a
/// second). A failure names the registry and what was missing.
pub fn await_servers(registry: &str, timeout: Duration) -> Result<(), String> {
    if !Path::new(registry).is_dir() {
        return Err(format!(
            "registry directory \"{registry}\" (--benchfs.registry) does not exist: start the \
             servers with benchfs-server --registry {registry} first, or check the path"
        ));
    }
    let reg = Registry::new(registry);
    let start = Instant::now();
    let mut said = String::new();
    let mut said_at: Option<Instant> = None;
    loop {
        let state = match reg.cluster() {
            Ok(info) => {
                let n = reg
                    .servers(info.epoch)
                    .map_err(|e| format!("registry \"{registry}\": {e}"))?
                    .len();
                if n >= info.expected_servers {
                    if said_at.is_some() {
                        log::status(&format!(
                            "waiting for servers: {n} of {} registered, ready",
                            info.expected_servers
                        ));
                    }
                    return Ok(());
                }
                format!("{n} of {} registered", info.expected_servers)
            }
            Err(_) => "no server has created the cluster yet (no cluster.json)".to_string(),
        };
        if state != said && said_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            log::status(&format!(
                "waiting for servers: {state} (registry {registry})"
            ));
            said = state.clone();
            said_at = Some(Instant::now());
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "the BenchFS servers of registry \"{registry}\" did not register within {} s \
                 (--benchfs.timeout): {state}",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// [`await_servers`] for every BENCHFS test that names a registry (each registry once).
pub fn await_external_clusters(tests: &[IorParams]) -> Result<(), String> {
    let mut done: Vec<String> = Vec::new();
    for t in tests {
        if canonical_backend_name(&t.api) != Some("BENCHFS") {
            continue;
        }
        let Ok(o) = BenchfsOptions::from_values(&t.backend_options) else {
            continue;
        };
        if let Some(reg) = o.registry {
            if !done.contains(&reg) {
                await_servers(&reg, o.timeout)?;
                done.push(reg);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_outputs_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("doc.json");
        assert!(check_json(ok.to_str().unwrap()).is_ok());
        let e = check_json(d.path().join("no/such/dir/doc.json").to_str().unwrap()).unwrap_err();
        assert!(e.starts_with("cannot write --json"), "{e}");
        let e = check_json(d.path().to_str().unwrap()).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn a_partial_registry_times_out_saying_what_is_missing() {
        let d = tempfile::tempdir().unwrap();
        let reg = d.path().join("reg");
        Registry::new(&reg).create_or_join(2, 1 << 20).unwrap();
        let e = await_servers(reg.to_str().unwrap(), Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("0 of 2 registered"), "{e}");
        assert!(e.contains("--benchfs.timeout"), "{e}");
    }

    #[test]
    fn a_missing_registry_fails_at_once() {
        let d = tempfile::tempdir().unwrap();
        let reg = d.path().join("nowhere");
        let t = Instant::now();
        let e = await_servers(reg.to_str().unwrap(), Duration::from_secs(30)).unwrap_err();
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "waited {:?}",
            t.elapsed()
        );
        assert!(e.contains("does not exist"), "{e}");
        assert!(e.contains("nowhere"), "{e}");
    }
}
