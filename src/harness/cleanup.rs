//! The exit paths no destructor sees: [`install`] (first thing in benchfs-bench's `main`,
//! before any server exists) watches SIGINT, SIGTERM and SIGHUP: on one, every server data
//! directory registered with [`crate::fs::cleanup`] is removed and the process exits with
//! 128 + the signal. Under MPI the same removal runs before `MPI_Abort` (through
//! [`crate::comm::set_before_abort`]): a rank that aborts removes its own server's data, and
//! the other ranks, which the launcher then signals, remove theirs. For the paths no handler
//! sees (`kill -9`; Open MPI's launcher, which sends SIGKILL to every rank a few
//! milliseconds after SIGTERM once one rank has exited), benchfs-bench names itself as the
//! guardian ([`crate::fs::cleanup::GUARDIAN_ENV`]): at the first server directory, a copy of it starts in a
//! process group of its own (so that the signals meant for the run do not reach it), reads
//! the registrations on a pipe and, once this process has ended however it did, removes
//! what is still there. Before the data is removed, the signal thread runs what the driver
//! asked for with [`on_signal`] (rank 0 of an IOR run ends its result stream and writes the
//! completed phases as an interrupted document). Owns the signal thread, the abort hook, the
//! signal-time hook and the guardian's start; the list of directories is
//! [`crate::fs::cleanup`]'s, what the hook writes the driver's.

use crate::fs::cleanup::{remove_for_good, spawn_guardian, GUARDIAN_ENV};
use std::io::Write;

/// In `main` of benchfs-bench and benchfs-server, first: when this process is a guardian
/// (of a benchfs-bench run, or of a libbenchfs host such as IOR), does its whole work
/// (reads registrations from stdin until the process that started it has ended, then
/// removes what is left) and returns the exit status; `None` in every other run.
pub fn guardian_if_asked() -> Option<i32> {
    std::env::var_os(GUARDIAN_ENV)?;
    crate::fs::cleanup::guard(std::io::stdin().lock());
    Some(0)
}

/// Makes this program (benchfs-bench) its own guardian: started at the first server
/// directory, see the module documentation.
pub fn guard_with_this_program() {
    crate::fs::cleanup::set_guardian_starter(start_guardian);
}

/// Starts a copy of this program as the guardian; the writing end of its stdin.
fn start_guardian() -> Option<Box<dyn Write + Send>> {
    match std::env::current_exe().and_then(|exe| spawn_guardian(&exe)) {
        Ok(pipe) => Some(pipe),
        Err(e) => {
            crate::measure::log::warn(&format!(
                "cannot start the cleanup guardian ({e}): a run killed with SIGKILL may leave \
                 its BenchFS server data behind"
            ));
            None
        }
    }
}

/// What the signal thread runs first, with the signal number (see [`on_signal`]).
type SignalHook = Box<dyn FnOnce(i32) + Send>;

static ON_SIGNAL: std::sync::Mutex<Option<SignalHook>> = std::sync::Mutex::new(None);

fn hook() -> std::sync::MutexGuard<'static, Option<SignalHook>> {
    ON_SIGNAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// On SIGINT, SIGTERM or SIGHUP, run `f` (with the signal number) before the server data is
/// removed and the process exits with 128 + the signal. Replaces an earlier one.
pub fn on_signal(f: impl FnOnce(i32) + Send + 'static) {
    *hook() = Some(Box::new(f));
}

/// The run is over: a signal from now on only removes data and exits.
pub fn clear_on_signal() {
    hook().take();
}

/// The name of a signal the thread watches (`SIGINT`), else `signal N`.
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        libc::SIGHUP => "SIGHUP".to_string(),
        n => format!("signal {n}"),
    }
}

/// Installs the signal handler and the MPI abort hook (once; later calls do nothing).
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        crate::comm::set_before_abort(|| {
            remove_for_good();
        });
        let warn = |e: &dyn std::fmt::Display| {
            crate::measure::log::warn(&format!(
                "cannot watch for signals ({e}): an interrupted run may leave its BenchFS \
                 server data behind"
            ))
        };
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                let spawned = std::thread::Builder::new()
                    .name("benchfs-signals".into())
                    .spawn(move || {
                        if let Some(sig) = signals.forever().next() {
                            let first = hook().take();
                            if let Some(f) = first {
                                f(sig);
                            }
                            let removed = if remove_for_good() > 0 {
                                "; BenchFS server data removed"
                            } else {
                                ""
                            };
                            // On stderr: the result stream (stdout) has ended.
                            crate::measure::log::status(&format!(
                                "benchfs-bench: interrupted by {}{removed}",
                                signal_name(sig)
                            ));
                            std::process::exit(128 + sig);
                        }
                    });
                if let Err(e) = spawned {
                    warn(&e);
                }
            }
            Err(e) => warn(&e),
        }
    });
}
