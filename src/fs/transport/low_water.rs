//! The receive low-water mark of a TCP socket (`SO_RCVLOWAT`): how many bytes must be
//! queued before the kernel wakes the reader.
//!
//! Owns [`LowWater`], the policy of when to raise and lower the mark. When a frame's payload
//! is long, a reader woken at every arriving packet goes to sleep and wakes up again many
//! times per MiB; on a virtual machine each wake-up is an expensive interrupt to the other
//! CPU, paid by the sender. Raising the mark to a part of what the frame still holds lets
//! the reader sleep until that much is there. The mark is never above what the peer is
//! committed to send in the current frame, so it cannot stall a connection; when the
//! receive window closes first, the kernel wakes the reader anyway.
//! Knows nothing of frames; the RPC layer says how many bytes it waits for.

use std::os::fd::RawFd;

/// Waits of fewer bytes than this leave the mark at 1 (the kernel's default).
pub const LOW_WATER_MIN: usize = 64 << 10;

/// The default highest mark: high enough to halve the reader's wake-ups per MiB, low enough
/// to keep its copy overlapping the transfer of the rest (figures in
/// `examples/fs_bench.rs`, which measures it with `BENCH_LOWAT`).
pub const LOW_WATER_MAX: usize = 256 << 10;

/// The current mark of one socket, so that it is changed only when the wanted value changes
/// (one `setsockopt` each time), and the highest mark this socket may be given.
#[derive(Debug)]
pub struct LowWater {
    current: usize,
    max: usize,
}

impl Default for LowWater {
    fn default() -> Self {
        LowWater::new(LOW_WATER_MAX)
    }
}

impl LowWater {
    /// A socket at the kernel's default mark (1), to be raised up to `max` bytes (0 or 1:
    /// never raised).
    pub fn new(max: usize) -> Self {
        LowWater { current: 1, max }
    }

    /// The mark for a reader waiting for `n` more bytes.
    pub fn target(&self, n: usize) -> usize {
        if n >= LOW_WATER_MIN && self.max > 1 {
            n.min(self.max)
        } else {
            1
        }
    }

    /// Sets the mark of socket `fd` for a reader waiting for `n` more bytes (0: none). A
    /// refused `setsockopt` leaves the mark where it was, which is always safe: the mark is
    /// only ever lowered to what the frame still holds, and a failure to raise it only
    /// costs wake-ups.
    pub fn expect(&mut self, fd: RawFd, n: usize) {
        let target = self.target(n);
        if target == self.current {
            return;
        }
        let v = target as libc::c_int;
        // SAFETY: setsockopt on an open socket, with a pointer to a c_int and its size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            self.current = target;
        }
    }

    #[cfg(test)]
    /// The mark last set.
    pub fn current(&self) -> usize {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn mark(fd: RawFd) -> usize {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt on an open socket into a c_int of the given size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                &mut v as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(r, 0, "getsockopt: {}", std::io::Error::last_os_error());
        v as usize
    }

    #[test]
    fn the_mark_follows_what_the_frame_still_holds() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let fd = s.as_raw_fd();
        let mut lw = LowWater::default();
        assert_eq!(mark(fd), 1);
        // A long payload: raised, but only to the highest mark.
        lw.expect(fd, 1 << 20);
        assert_eq!((mark(fd), lw.current()), (LOW_WATER_MAX, LOW_WATER_MAX));
        // Less left than the highest mark: never more than what is left.
        lw.expect(fd, 100 << 10);
        assert_eq!(mark(fd), 100 << 10);
        // Below the threshold, and at the end of the frame: back to the default.
        lw.expect(fd, LOW_WATER_MIN - 1);
        assert_eq!(mark(fd), 1);
        lw.expect(fd, 300 << 10);
        lw.expect(fd, 0);
        assert_eq!((mark(fd), lw.current()), (1, 1));
    }

    #[test]
    fn a_mark_of_one_or_zero_turns_it_off() {
        for max in [0, 1] {
            let lw = LowWater::new(max);
            assert_eq!(lw.target(4 << 20), 1);
        }
        assert_eq!(LowWater::new(128 << 10).target(1 << 20), 128 << 10);
    }
}
