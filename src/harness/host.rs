//! Facts about the machine that result documents record beside IOR's header: CPU model and
//! core counts, memory, kernel, and the file-system type under a path (from the mount table).
//!
//! Owns these queries of the operating system (`/proc/cpuinfo`, `/proc/meminfo`,
//! `/proc/self/mountinfo`, `sysconf`); a fact it cannot learn is `None`, never a guess. It
//! must not run benchmarks or write documents.

use crate::results::document::HostInfo;
use std::path::{Path, PathBuf};

/// What this machine is, as far as `/proc` and `sysconf` tell.
pub fn host_info() -> HostInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    HostInfo {
        cpu_model: cpu_model(&cpuinfo),
        cpu_cores: physical_cores(&cpuinfo),
        logical_cpus: logical_cpus(),
        memory_bytes: mem_total(&meminfo),
        kernel: Some(crate::measure::machine::uname()[2].clone()).filter(|k| !k.is_empty()),
    }
}

/// `model name` (x86), `cpu model` / `Model` / `Hardware` (other architectures).
fn cpu_model(cpuinfo: &str) -> Option<String> {
    for key in ["model name", "cpu model", "Model", "Hardware", "cpu"] {
        let found = cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Distinct (`physical id`, `core id`) pairs; `None` where cpuinfo does not list them.
fn physical_cores(cpuinfo: &str) -> Option<usize> {
    let mut cores = std::collections::BTreeSet::new();
    let (mut package, mut core) = (None::<String>, None::<String>);
    for l in cpuinfo.lines().chain(std::iter::once("")) {
        if l.trim().is_empty() {
            if let Some(c) = core.take() {
                cores.insert((package.take().unwrap_or_default(), c));
            }
            package = None;
            continue;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim() {
                "physical id" => package = Some(v.trim().to_string()),
                "core id" => core = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

/// CPUs online (`sysconf(_SC_NPROCESSORS_ONLN)`).
fn logical_cpus() -> Option<usize> {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    (n > 0).then_some(n as usize)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut it = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") | None => Some(n * 1024),
        Some(_) => None,
    }
}

/// A mount-table path with its octal escapes (`\040` for a blank) decoded.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file-system type of the mount holding `path` in `mountinfo` (the longest mount
/// point that is a prefix of it; a later mount on the same point wins).
fn fs_type_in(mountinfo: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = unescape(left.split_whitespace().nth(4)?);
        let fs_type = right.split_whitespace().next()?.to_string();
        if path.starts_with(&mount_point) {
            let len = Path::new(&mount_point).components().count();
            if best.as_ref().is_none_or(|(l, _)| len >= *l) {
                best = Some((len, fs_type));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// The nearest existing directory holding `path` (which may not exist yet), absolute.
fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    abs.ancestors()
        .find_map(|a| std::fs::canonicalize(a).ok().filter(|c| c.is_dir()))
}

/// The file-system type (`ext4`, `tmpfs`, `lustre`, `nfs4`, ...) that holds `path` or would
/// hold it once created, from this process's mount table.
pub fn fs_type_of(path: &Path) -> Option<String> {
    let dir = existing_ancestor(path)?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    fs_type_in(&mountinfo, &dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str =
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nphysical id\t: 0\ncore id\t: 0\n\n\
processor\t: 1\nmodel name\t: AMD EPYC 7B13\nphysical id\t: 0\ncore id\t: 0\n\n\
processor\t: 2\nmodel name\t: AMD EPYC 7B13\nphysical id\t: 0\ncore id\t: 1\n";

    #[test]
    fn cpuinfo_and_meminfo() {
        assert_eq!(cpu_model(CPUINFO).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(physical_cores(CPUINFO), Some(2));
        assert_eq!(physical_cores("processor : 0\n"), None);
        assert_eq!(
            mem_total("MemTotal:       24562312 kB\nMemFree: 1 kB\n"),
            Some(24_562_312 * 1024)
        );
        let h = host_info();
        assert!(h.logical_cpus.unwrap() >= 1);
        assert!(h.memory_bytes.unwrap() > 1 << 20);
    }

    #[test]
    fn mount_table_lookup() {
        let mi = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                  30 22 0:25 / /dev/shm rw - tmpfs tmpfs rw\n\
                  31 22 0:26 / /mnt/my\\040disk rw - xfs /dev/sdb rw\n";
        assert_eq!(
            fs_type_in(mi, Path::new("/home/u")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_in(mi, Path::new("/dev/shm/ior")).as_deref(),
            Some("tmpfs")
        );
        assert_eq!(
            fs_type_in(mi, Path::new("/dev/shmx")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_in(mi, Path::new("/mnt/my disk/f")).as_deref(),
            Some("xfs")
        );
        // The real table: /proc is procfs, and a path that does not exist yet is found by
        // its existing parent.
        assert_eq!(fs_type_of(Path::new("/proc/self")).as_deref(), Some("proc"));
        assert!(fs_type_of(Path::new("/dev/shm/does/not/exist")).is_some());
    }
}
