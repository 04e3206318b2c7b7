//! The progress driver of one worker on tokio: progresses the worker until it is idle, keeps
//! polling for a short while when requests are outstanding, then arms the worker's event fd
//! and waits on it (tokio `AsyncFd`) with a timeout, so that a transport whose events do not
//! reach the fd (rendezvous over shared memory on UCX 1.13) still moves on.
//!
//! Owns [`Progress`] and [`ProgressConfig`]; must not post requests.

use super::error::UcxError;
use super::request::Activity;
use super::worker::WorkerInner;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How the driver trades CPU time for latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressConfig {
    /// While requests are outstanding (or replies awaited, see
    /// [`super::Worker::set_awaiting`]), keep polling (yielding to other tasks between
    /// rounds) this long after the last event before sleeping on the event fd.
    pub spin: Duration,
    /// With nothing outstanding, keep polling this long after the last event before
    /// sleeping: the next message or posted job then finds the thread awake, with no
    /// wake-up through the kernel (zero: sleep at once).
    pub linger: Duration,
    /// Longest sleep on the event fd while requests are outstanding.
    pub busy_wait: Duration,
    /// Longest sleep on the event fd while nothing is outstanding (a safety net: events
    /// normally wake the driver).
    pub idle_wait: Duration,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        ProgressConfig {
            spin: Duration::from_micros(50),
            linger: Duration::ZERO,
            busy_wait: Duration::from_millis(1),
            idle_wait: Duration::from_millis(50),
        }
    }
}

/// Progress rounds in a row before the driver yields to other tasks.
const ROUNDS_PER_TURN: u32 = 64;

/// The progress driver of one worker: run it on the worker's thread (its future is not
/// `Send`), e.g. with `tokio::task::spawn_local(progress.run())` inside a `LocalSet`, on a
/// runtime with I/O and time enabled. It ends (with `Ok`) once every handle of the worker is
/// gone.
pub struct Progress {
    worker: Weak<WorkerInner>,
    activity: Rc<Activity>,
    config: ProgressConfig,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("config", &self.config)
            .finish()
    }
}

impl Progress {
    pub(crate) fn new(worker: &Rc<WorkerInner>) -> Self {
        Progress {
            worker: Rc::downgrade(worker),
            activity: worker.activity.clone(),
            config: ProgressConfig::default(),
        }
    }

    /// Uses `config` instead of the default.
    pub fn with_config(mut self, config: ProgressConfig) -> Self {
        self.config = config;
        self
    }

    /// Drives the worker until all its handles are gone.
    pub async fn run(self) -> Result<(), UcxError> {
        let Some(fd) = self.worker.upgrade().map(|w| w.event_fd) else {
            return Ok(());
        };
        // SAFETY: `fd` is the live event fd of a worker that is alive here (upgraded above).
        let afd = unsafe { register_event_fd(fd) }?;
        let mut last_event = Instant::now();
        loop {
            let Some(worker) = self.worker.upgrade() else {
                return Ok(());
            };
            let mut rounds = 0;
            while rounds < ROUNDS_PER_TURN {
                let n = worker.progress();
                self.activity.bury();
                if n == 0 {
                    break;
                }
                rounds += 1;
                last_event = Instant::now();
            }
            let pending = self.activity.pending() + self.activity.awaiting();
            let window = if pending > 0 {
                self.config.spin
            } else {
                self.config.linger
            };
            let spinning = last_event.elapsed() < window;
            if rounds >= ROUNDS_PER_TURN || spinning {
                drop(worker);
                tokio::task::yield_now().await;
                continue;
            }
            match worker.arm() {
                Ok(true) => {}
                Ok(false) => {
                    // Events are pending: progress again, after letting other tasks run
                    // (a transport may report events that progress does not consume yet).
                    drop(worker);
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(worker = worker.name(), "{e}");
                }
            }
            drop(worker);
            let wait = if pending > 0 {
                self.config.busy_wait
            } else {
                self.config.idle_wait
            };
            let mut stats = self.activity.stats.get();
            tokio::select! {
                r = afd.readable() => match r {
                    Ok(mut guard) => {
                        guard.clear_ready();
                        stats.fd_wakes += 1;
                    }
                    Err(e) => return Err(UcxError::os("wait on event fd", &e)),
                },
                _ = self.activity.kick.notified() => stats.kicks += 1,
                _ = tokio::time::sleep(wait) => {
                    if pending > 0 {
                        stats.busy_timeouts += 1;
                    } else {
                        stats.idle_timeouts += 1;
                    }
                }
            }
            self.activity.stats.set(stats);
        }
    }
}

/// Our own descriptor of a worker's event file `fd`, registered with the current reactor: it
/// stays valid (and is deregistered from tokio before it is closed) even when the worker, and
/// UCX's descriptor, go first.
///
/// # Safety
/// `fd` must be the open event fd of a live worker.
pub(super) unsafe fn register_event_fd(fd: RawFd) -> Result<AsyncFd<OwnedFd>, UcxError> {
    // SAFETY: the caller guarantees `fd` is open.
    let dup = unsafe { libc::dup(fd) };
    if dup < 0 {
        return Err(UcxError::os(
            "dup(event fd)",
            &std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `dup` is a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    // SAFETY: `owned` is an open descriptor that the `AsyncFd` owns, so it stays open and
    // names the same file until the `AsyncFd` drops.
    unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
        .map_err(|e| UcxError::os("register event fd", &e.into_parts().1))
}
