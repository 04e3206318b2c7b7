//! The exit paths no destructor sees: [`install`] (first thing in benchfs-bench's `main`,
//! before any server exists) watches SIGINT, SIGTERM and SIGHUP: on one, every server data
//! directory registered with [`crate::fs::cleanup`] is removed and the process exits with
//! 128 + the signal. Under MPI the same removal runs before `MPI_Abort` (through
//! [`crate::comm::set_before_abort`]): a rank that aborts removes its own server's data, and
//! the other ranks, which the launcher then signals, remove theirs. Owns only the signal
//! thread and the abort hook; the list of directories is [`crate::fs::cleanup`]'s.

use crate::fs::cleanup::remove_for_good;

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
                            if remove_for_good() > 0 {
                                crate::measure::log::line(&format!(
                                    "benchfs-bench: interrupted (signal {sig}); BenchFS server \
                                     data removed"
                                ));
                            }
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
