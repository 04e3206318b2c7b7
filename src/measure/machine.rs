//! Facts about the machine and the clock that IOR and mdtest print: uname, host name, ctime
//! strings and the wall-clock timer (`GetTimeStamp`, gettimeofday in seconds).
//!
//! Owns no state; pure queries of the operating system.

use serde::{Deserialize, Serialize};

/// Run-level facts printed in the header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Start time, ctime format.
    pub began: String,
    /// The command line, argv joined by spaces.
    pub command_line: String,
    /// `<sysname> <nodename>`.
    pub machine: String,
    /// `<sysname> <nodename> <release> <version> <machine>` (printed with `-vv`).
    pub machine_long: String,
    /// Host name, for `platform`.
    pub hostname: String,
    /// Operating system name (`Linux`).
    pub sysname: String,
}

impl RunInfo {
    /// The `Machine` value IOR prints at verbosity `verbose`: the long form from `-vv` on.
    pub fn machine_line(&self, verbose: i32) -> &str {
        if verbose >= 2 {
            &self.machine_long
        } else {
            &self.machine
        }
    }
}

/// Seconds since the Unix epoch, microsecond resolution (IOR's timer).
pub fn now() -> f64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(_) => 0.0,
    }
}

/// Whole seconds since the epoch (`time(NULL)`).
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The current local time in C's `ctime` layout (`Mon Nov 23 23:33:48 2026`).
pub fn ctime_now() -> String {
    chrono::Local::now()
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

/// `uname` fields: sysname, nodename, release, version, machine.
pub fn uname() -> [String; 5] {
    // SAFETY: utsname is plain old data; uname fills it and we only read NUL-terminated fields.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    let rc = unsafe { libc::uname(&mut u) };
    if rc != 0 {
        return [
            "Linux".into(),
            "localhost".into(),
            String::new(),
            String::new(),
            String::new(),
        ];
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    [
        field(&u.sysname),
        field(&u.nodename),
        field(&u.release),
        field(&u.version),
        field(&u.machine),
    ]
}

/// The host name (uname nodename).
pub fn hostname() -> String {
    let [_, node, ..] = uname();
    node
}

/// Run-level facts for the header, with `command_line` as given.
pub fn run_info(command_line: &str) -> RunInfo {
    let [sys, node, rel, ver, mach] = uname();
    RunInfo {
        began: ctime_now(),
        command_line: command_line.to_string(),
        machine: format!("{sys} {node}"),
        machine_long: format!("{sys} {node} {rel} {ver} {mach}"),
        hostname: node,
        sysname: sys,
    }
}

/// The cycle-counter clock used to time individual transfers: one `rdtsc` per reading where
/// the CPU has a stable TSC (falls back to the monotonic clock elsewhere). Calibrated once, by
/// the first caller: [`calibrate_fast_clock`] before a run's tasks start, so no timed phase
/// pays for it.
pub fn fast_clock() -> &'static quanta::Clock {
    FAST_CLOCK.get_or_init(quanta::Clock::new)
}

static FAST_CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();

/// Calibrates [`fast_clock`] now unless done already, and logs how long it took. quanta's
/// calibration loop runs 10 to 20 ms, up to its 200 ms limit on a loaded machine; inside the
/// first timed phase of a run it slowed short phases by that much (a 4 ms mdtest stat phase
/// measured 0.2 s in about one run in twenty). The process drivers run this before any task.
pub fn calibrate_fast_clock() {
    if FAST_CLOCK.get().is_some() {
        return;
    }
    let t = std::time::Instant::now();
    fast_clock();
    tracing::debug!(
        "calibrated the cycle-counter clock in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}
