//! CPU binding of tasks (`--cpus LIST`, beyond IOR, as fio's `cpus_allowed` with the `split`
//! policy): the list syntax, binding the calling thread to one CPU, and reading the calling
//! thread's binding back.
//!
//! A leaf: it knows the kernel's affinity calls and nothing of tasks, options or backends.
//! Why it exists: on this kind of VM, a task thread and the kernel worker serving its ring
//! on different CPUs make every completion wake an idle CPU (measured in issue 20's notes).

use std::fmt;
use std::io;
use std::str::FromStr;

/// Why a `--cpus` list is refused (the offending part is named).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    /// A part that is neither a CPU number nor a range `A-B`.
    #[error("\"{0}\" is not a CPU number or a range A-B")]
    Syntax(String),
    /// A range whose end comes before its start.
    #[error("range \"{0}\" ends before it starts")]
    Backwards(String),
    /// A CPU beyond what the kernel's CPU sets hold.
    #[error("CPU {0} is beyond the largest CPU number {max}", max = MAX_CPU)]
    TooLarge(usize),
    /// No CPU at all.
    #[error("the list names no CPU")]
    Empty,
}

/// The largest CPU number a `cpu_set_t` holds.
pub const MAX_CPU: usize = libc::CPU_SETSIZE as usize - 1;

/// An ordered list of CPUs, as `taskset -c` and fio's `cpus_allowed` write it: `0-3,6,8-9`.
/// Task `i` is bound to the list's `i mod len`-th CPU ([`CpuList::for_task`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CpuList(Vec<usize>);

impl TryFrom<String> for CpuList {
    type Error = CpuListError;

    fn try_from(s: String) -> Result<CpuList, CpuListError> {
        s.parse()
    }
}

impl From<CpuList> for String {
    fn from(l: CpuList) -> String {
        l.to_string()
    }
}

impl FromStr for CpuList {
    type Err = CpuListError;

    fn from_str(s: &str) -> Result<CpuList, CpuListError> {
        let number = |p: &str, part: &str| {
            p.trim()
                .parse::<usize>()
                .map_err(|_| CpuListError::Syntax(part.to_string()))
        };
        let mut cpus = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (number(a, part)?, number(b, part)?),
                None => {
                    let n = number(part, part)?;
                    (n, n)
                }
            };
            if hi < lo {
                return Err(CpuListError::Backwards(part.to_string()));
            }
            if hi > MAX_CPU {
                return Err(CpuListError::TooLarge(hi));
            }
            cpus.extend(lo..=hi);
        }
        if cpus.is_empty() {
            return Err(CpuListError::Empty);
        }
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs of consecutive CPUs as ranges, in the list's order: `0-3,6`.
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.0.len() {
            let mut j = i;
            while j + 1 < self.0.len() && self.0[j + 1] == self.0[j] + 1 {
                j += 1;
            }
            parts.push(if j > i {
                format!("{}-{}", self.0[i], self.0[j])
            } else {
                self.0[i].to_string()
            });
            i = j + 1;
        }
        f.write_str(&parts.join(","))
    }
}

impl CpuList {
    /// The CPUs, in the order given.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// The CPU of task `index` (tasks beyond the list's length wrap around it).
    pub fn for_task(&self, index: usize) -> usize {
        self.0[index % self.0.len()]
    }

    /// Of the CPUs of tasks `tasks`, the first no thread of this process can be bound to
    /// (absent from the machine, offline, or outside the process's cgroup), with the kernel's
    /// reason. Each CPU is tried on a scratch thread: the caller's own binding stays as it is.
    pub fn first_unbindable(
        &self,
        tasks: impl IntoIterator<Item = usize>,
    ) -> Option<(usize, io::Error)> {
        let mut tried = Vec::new();
        for cpu in tasks.into_iter().map(|t| self.for_task(t)) {
            if tried.contains(&cpu) {
                continue;
            }
            tried.push(cpu);
            let outcome = std::thread::spawn(move || bind_thread(cpu))
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the probing thread panicked")));
            if let Err(e) = outcome {
                return Some((cpu, e));
            }
        }
        None
    }
}

/// The CPUs the calling thread may run on.
pub fn thread_cpus() -> io::Result<Vec<usize>> {
    let set = thread_set()?;
    // SAFETY: CPU_ISSET reads one bit of a set within its size (c < CPU_SETSIZE).
    Ok((0..=MAX_CPU)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// The calling thread's affinity mask.
fn thread_set() -> io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the size is that of `set`, which the kernel fills.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        Ok(set)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Binds the calling thread to `cpu` alone.
pub fn bind_thread(cpu: usize) -> io::Result<()> {
    if cpu > MAX_CPU {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit within the set (cpu <= MAX_CPU, checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; the size is that of `set`.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_as_taskset_writes_them() {
        let l: CpuList = "0-3, 6,8-9".parse().unwrap();
        assert_eq!(l.cpus(), &[0, 1, 2, 3, 6, 8, 9]);
        assert_eq!(l.to_string(), "0-3,6,8-9");
        assert_eq!("3,1,2".parse::<CpuList>().unwrap().to_string(), "3,1-2");
        assert_eq!(l.for_task(0), 0);
        assert_eq!(l.for_task(7), 0);
        assert_eq!(l.for_task(11), 6);
        assert_eq!("5".parse::<CpuList>().unwrap().cpus(), &[5]);
    }

    #[test]
    fn bad_lists_name_the_offending_part() {
        let e = |s: &str| s.parse::<CpuList>().unwrap_err().to_string();
        assert_eq!(e("0,x"), "\"x\" is not a CPU number or a range A-B");
        assert_eq!(e("3-1"), "range \"3-1\" ends before it starts");
        assert_eq!(e("1-"), "\"1-\" is not a CPU number or a range A-B");
        assert_eq!(e(""), "the list names no CPU");
        assert!(e("5000").contains("CPU 5000 is beyond"), "{}", e("5000"));
    }

    #[test]
    fn a_bound_thread_reads_its_binding_back() {
        let first = thread_cpus().unwrap()[0];
        let seen = std::thread::spawn(move || {
            bind_thread(first).unwrap();
            thread_cpus().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(seen, vec![first]);
    }

    #[test]
    fn cpus_no_thread_can_be_bound_to_are_named() {
        let mine = thread_cpus().unwrap();
        let ok = CpuList(mine.clone());
        assert!(ok.first_unbindable(0..mine.len() * 2).is_none());
        // The largest CPU number: no machine of this kind has it online.
        let l: CpuList = format!("{},{MAX_CPU}", mine[0]).parse().unwrap();
        // Only the CPUs of the tasks asked about are tried.
        assert!(l.first_unbindable([0]).is_none());
        let (cpu, e) = l.first_unbindable(0..2).unwrap();
        assert_eq!(cpu, MAX_CPU);
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(bind_thread(MAX_CPU + 1).is_err());
        // The probes left the calling thread's binding alone.
        assert_eq!(thread_cpus().unwrap(), mine);
    }
}
