//! The file descriptors of the process the servers run in: the limit (raised once, at the
//! first server's start, from the soft to the hard `RLIMIT_NOFILE`), and how it is shared:
//! client connections (each a socket, and a pipe pair once it sends large writes) and the
//! open-chunk caches of every server in the process (one budget for all of them, so that 256
//! embedded servers do not each keep 1024 files open).
//!
//! Owns [`raise_limit`], [`Budget`] and the process-wide count of cached chunk files
//! ([`take_chunk_place`], [`give_chunk_places`]). The chunk store asks for a place before it
//! keeps a file open and gives it back when it closes one; the listener is capped by
//! [`Budget::connections`] unless the operator says otherwise. Touches nothing else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How the process's descriptors are shared by the servers in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft descriptor limit, after [`raise_limit`].
    pub limit: u64,
    /// Default cap on a server's client connections (each takes up to three descriptors).
    pub connections: usize,
    /// Chunk files all servers of the process keep open at most, together.
    pub open_chunks: usize,
}

impl Budget {
    /// The shares of a soft limit of `limit` descriptors: a reserve (64, plus a sixteenth)
    /// for logs, spare files being made, registry files and the like; of the rest, a quarter
    /// is the default cap on connections (at three descriptors each, three quarters), and a
    /// quarter goes to the open-chunk caches.
    pub fn of(limit: u64) -> Self {
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let reserve = 64usize.saturating_add(limit_usize / 16);
        let usable = limit_usize.saturating_sub(reserve).max(16);
        Budget {
            limit,
            connections: (usable / 4).max(4),
            open_chunks: (usable / 4).max(4),
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (once per process; later calls only
/// return the result) and returns the process's [`Budget`].
pub fn raise_limit() -> Budget {
    static DONE: OnceLock<Budget> = OnceLock::new();
    *DONE.get_or_init(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the valid struct it is given.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
        if !got {
            return Budget::of(1024);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit reads the valid struct it is given; raising the soft limit up
            // to the hard one is always allowed.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim.rlim_cur = lim.rlim_max;
            } else {
                tracing::debug!(
                    "cannot raise the descriptor limit: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        Budget::of(lim.rlim_cur)
    })
}

/// Chunk files kept open by every chunk store of the process.
static OPEN_CHUNKS: AtomicUsize = AtomicUsize::new(0);

/// Takes the place of one more open chunk file in the process's budget; false if every
/// place is taken (the caller then closes one of its own first, or keeps none open).
pub fn take_chunk_place() -> bool {
    let most = raise_limit().open_chunks;
    OPEN_CHUNKS
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < most).then_some(n + 1)
        })
        .is_ok()
}

/// Gives back the places of `n` chunk files that were closed.
pub fn give_chunk_places(n: usize) {
    if n > 0 {
        let _ = OPEN_CHUNKS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
            Some(c.saturating_sub(n))
        });
    }
}

/// True if `e` says the process (or the system) is out of descriptors.
pub fn is_exhausted(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_a_reserve_and_shares_the_rest() {
        let b = Budget::of(1024);
        assert_eq!(b.connections, (1024 - 64 - 64) / 4);
        assert_eq!(b.open_chunks, b.connections);
        // Three descriptors per connection and one per chunk stay below the limit.
        assert!(3 * b.connections + b.open_chunks < 1024);
        let big = Budget::of(1 << 20);
        assert!(big.open_chunks > 100_000);
        // Absurdly small limits still allow something.
        assert!(Budget::of(10).connections >= 4);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let b = raise_limit();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_limit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(b.limit, lim.rlim_cur);
    }
}
