//! The asynchronous transfer path of the POSIX backend under `--iodepth N`: one io_uring per
//! task, on which up to N reads and writes are queued to the kernel at once, as fio's
//! `io_uring` engine does.
//!
//! Owns the ring, the transfers in flight and their buffers. A transfer takes its buffer over
//! ([`Queue::xfer`]) and keeps it in the queue's slot table until the kernel has completed it,
//! so no memory the kernel may still write is ever given back early, whatever happens to the
//! future (a dropped transfer waits for its completion before it lets go). Submission is
//! batched: a new transfer only queues its entry on its first poll and yields; the next poll
//! submits every queued entry with one `io_uring_enter`, which also waits for at least one
//! completion when none is ready. Each task runs on its own OS thread, so that blocking wait is
//! correct there (as the POSIX backend's blocking pread/pwrite are). It must not open or close
//! files, retry short transfers (the engine does) or know about IOR's phases; when the kernel
//! refuses io_uring, [`Queue::new`] fails and the backend keeps its pread/pwrite path.

use super::buffer::AlignedBuf;
use io_uring::{opcode, squeue, types, IoUring};
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// One entry of the slot table.
enum Slot {
    /// Unused.
    Free,
    /// Queued or submitted; the kernel may use `buf` until it completes.
    InFlight {
        buf: AlignedBuf,
        waker: Option<Waker>,
    },
    /// Completed with `res` (bytes, or a negated errno); `buf` is the caller's again.
    Done { buf: AlignedBuf, res: i32 },
}

struct State {
    ring: IoUring,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Entries pushed to the submission queue and not yet handed to the kernel.
    queued: u32,
}

impl State {
    /// Hands every queued entry to the kernel and waits for at least `wait` completions, then
    /// moves every completion into its slot and wakes its transfer.
    fn submit_and_reap(&mut self, wait: usize) -> io::Result<()> {
        loop {
            match self.ring.submit_and_wait(wait) {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // The completion queue is full: reap, then submit again.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    self.reap();
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        self.queued = 0;
        self.reap();
        Ok(())
    }

    fn reap(&mut self) {
        // Collect first: the completion queue borrows the ring.
        let mut done: [(u64, i32); 32] = [(0, 0); 32];
        loop {
            let mut n = 0;
            for cqe in self.ring.completion() {
                done[n] = (cqe.user_data(), cqe.result());
                n += 1;
                if n == done.len() {
                    break;
                }
            }
            for &(ud, res) in &done[..n] {
                let Some(slot) = self.slots.get_mut(ud as usize) else {
                    continue;
                };
                if let Slot::InFlight { .. } = slot {
                    let Slot::InFlight { buf, waker } = std::mem::replace(slot, Slot::Free) else {
                        unreachable!("matched just above");
                    };
                    *slot = Slot::Done { buf, res };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
            }
            if n < done.len() {
                break;
            }
        }
    }
}

/// A ring of `entries` entries whose completions do not interrupt the task's thread: the
/// kernel's worker threads (on tmpfs every buffered read goes to one) leave them for the
/// thread to run at its next system call (`COOP_TASKRUN`, Linux 5.19) instead of signalling
/// it at each one, which cost a third of the IOPS of 4 KiB reads at depth 8; a plain ring on
/// older kernels.
fn build_ring(entries: u32) -> io::Result<IoUring> {
    match IoUring::builder().setup_coop_taskrun().build(entries) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::builder().build(entries),
        r => r,
    }
}

/// A task's io_uring and its transfers in flight.
pub struct Queue {
    state: Mutex<State>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    /// A ring for up to `depth` transfers in flight. Fails where the kernel has no io_uring
    /// (or forbids it): the caller then keeps pread/pwrite.
    pub fn new(depth: usize) -> io::Result<Queue> {
        let entries = depth.clamp(1, 4096).next_power_of_two() as u32;
        let ring = build_ring(entries)?;
        let n = ring.params().sq_entries().max(entries);
        Ok(Queue {
            state: Mutex::new(State {
                ring,
                slots: (0..n).map(|_| Slot::Free).collect(),
                free: (0..n).rev().collect(),
                queued: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held leaves the slot table consistent (every change is one
        // assignment), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads into (or, with `write`, writes from) `buf` at `offset` of the open descriptor
    /// `fd`; the buffer is given back with the result (bytes moved; short counts as such).
    /// The caller keeps `fd` open until the returned future has completed or been dropped.
    pub fn xfer(&self, fd: RawFd, write: bool, buf: AlignedBuf, offset: u64) -> Transfer<'_> {
        Transfer {
            queue: self,
            step: Step::New {
                fd,
                write,
                buf,
                offset,
            },
        }
    }

    /// Pushes the entry of a new transfer; returns its slot (or gives the buffer back with an
    /// error when the queue is full: more transfers in flight than the depth it was made for).
    fn start(
        &self,
        fd: RawFd,
        write: bool,
        mut buf: AlignedBuf,
        offset: u64,
        waker: &Waker,
    ) -> Result<u32, (AlignedBuf, io::Error)> {
        let mut st = self.lock();
        let Some(slot) = st.free.pop() else {
            return Err((buf, io::Error::other("io_uring queue full")));
        };
        let len = buf.len() as u32;
        let ptr = buf.as_mut_ptr();
        let entry: squeue::Entry = if write {
            opcode::Write::new(types::Fd(fd), ptr, len)
                .offset(offset)
                .build()
        } else {
            opcode::Read::new(types::Fd(fd), ptr, len)
                .offset(offset)
                .build()
        }
        .user_data(slot as u64);
        st.slots[slot as usize] = Slot::InFlight {
            buf,
            waker: Some(waker.clone()),
        };
        // SAFETY: the entry points into the heap allocation of the buffer now held by slot
        // `slot`, which stays there (not freed, not handed out) until the kernel reports the
        // entry's completion (`reap` is the only place a slot leaves `InFlight`); the caller
        // keeps `fd` open until then (documented on `xfer`).
        let pushed = unsafe { st.ring.submission().push(&entry) };
        if pushed.is_err() {
            // Full submission queue (cannot happen with one slot per entry): submit, retry.
            st.submit_and_reap(0)
                .map_err(|e| (take_back(&mut st, slot), e))?;
            // SAFETY: as above.
            if unsafe { st.ring.submission().push(&entry) }.is_err() {
                let buf = take_back(&mut st, slot);
                return Err((buf, io::Error::other("io_uring submission queue full")));
            }
        }
        st.queued += 1;
        Ok(slot)
    }

    /// Polls transfer `slot`: its result when done, else submits what is queued and waits for
    /// a completion (see the module documentation).
    fn poll_slot(&self, slot: u32, waker: &Waker) -> Poll<(AlignedBuf, io::Result<usize>)> {
        let mut st = self.lock();
        if let Some(done) = take_done(&mut st, slot) {
            return Poll::Ready(done);
        }
        if let Err(e) = st.submit_and_reap(1) {
            // The ring is unusable: the transfer fails; its buffer stays in the slot (the
            // kernel may hold it) and the caller gets a fresh one of the same size.
            let len = match &st.slots[slot as usize] {
                Slot::InFlight { buf, .. } | Slot::Done { buf, .. } => buf.len(),
                Slot::Free => 0,
            };
            return match AlignedBuf::new(len) {
                Ok(b) => Poll::Ready((b, Err(e))),
                Err(a) => Poll::Ready((
                    AlignedBuf::new(0)
                        .unwrap_or_else(|_| unreachable!("empty buffers allocate nothing")),
                    Err(io::Error::other(format!("{e}; {a}"))),
                )),
            };
        }
        if let Some(done) = take_done(&mut st, slot) {
            return Poll::Ready(done);
        }
        if let Slot::InFlight { waker: w, .. } = &mut st.slots[slot as usize] {
            *w = Some(waker.clone());
        }
        // Others completed first: let them run, then wait again.
        waker.wake_by_ref();
        Poll::Pending
    }

    /// Waits until transfer `slot` has completed and frees it (a dropped transfer).
    fn abandon(&self, slot: u32) {
        let mut st = self.lock();
        while let Slot::InFlight { .. } = &st.slots[slot as usize] {
            if st.submit_and_reap(1).is_err() {
                // The kernel may still use the buffer: leave it in the slot for good.
                return;
            }
        }
        st.slots[slot as usize] = Slot::Free;
        st.free.push(slot);
    }
}

/// The result of a completed slot, which is freed; `None` if it is still in flight.
fn take_done(st: &mut State, slot: u32) -> Option<(AlignedBuf, io::Result<usize>)> {
    let s = &mut st.slots[slot as usize];
    if !matches!(s, Slot::Done { .. }) {
        return None;
    }
    let Slot::Done { buf, res } = std::mem::replace(s, Slot::Free) else {
        unreachable!("matched just above");
    };
    st.free.push(slot);
    let r = if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    };
    Some((buf, r))
}

/// The buffer of a slot whose entry never reached the submission queue.
fn take_back(st: &mut State, slot: u32) -> AlignedBuf {
    let s = std::mem::replace(&mut st.slots[slot as usize], Slot::Free);
    st.free.push(slot);
    match s {
        Slot::InFlight { buf, .. } | Slot::Done { buf, .. } => buf,
        Slot::Free => {
            AlignedBuf::new(0).unwrap_or_else(|_| unreachable!("empty buffers allocate nothing"))
        }
    }
}

enum Step {
    New {
        fd: RawFd,
        write: bool,
        buf: AlignedBuf,
        offset: u64,
    },
    Queued(u32),
    Finished,
}

/// One transfer on a [`Queue`]; resolves to the buffer and the bytes moved.
pub struct Transfer<'q> {
    queue: &'q Queue,
    step: Step,
}

impl Future for Transfer<'_> {
    type Output = (AlignedBuf, io::Result<usize>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.step, Step::Finished) {
            Step::New {
                fd,
                write,
                buf,
                offset,
            } => match this.queue.start(fd, write, buf, offset, cx.waker()) {
                Ok(slot) => {
                    this.step = Step::Queued(slot);
                    // Let the other transfers of this task queue theirs: submitted together
                    // on the next poll.
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Err((buf, e)) => Poll::Ready((buf, Err(e))),
            },
            Step::Queued(slot) => match this.queue.poll_slot(slot, cx.waker()) {
                Poll::Ready(r) => Poll::Ready(r),
                Poll::Pending => {
                    this.step = Step::Queued(slot);
                    Poll::Pending
                }
            },
            Step::Finished => Poll::Ready((
                AlignedBuf::new(0)
                    .unwrap_or_else(|_| unreachable!("empty buffers allocate nothing")),
                Err(io::Error::other("transfer polled after completion")),
            )),
        }
    }
}

impl Drop for Transfer<'_> {
    fn drop(&mut self) {
        if let Step::Queued(slot) = self.step {
            self.queue.abandon(slot);
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        // Every transfer borrows the queue, so none is left but those whose futures were
        // leaked: wait for the kernel to finish with their buffers, or keep them forever.
        while st.slots.iter().any(|s| matches!(s, Slot::InFlight { .. })) {
            if st.submit_and_reap(1).is_err() {
                for s in st.slots.drain(..) {
                    std::mem::forget(s);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream::{FuturesUnordered, StreamExt};
    use std::os::fd::AsRawFd;

    fn queue(depth: usize) -> Option<Queue> {
        match Queue::new(depth) {
            Ok(q) => Some(q),
            Err(e) => {
                // Kernels or sandboxes without io_uring: the backend falls back; nothing to test.
                eprintln!("io_uring unavailable here: {e}");
                None
            }
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn writes_then_reads_back_many_in_flight() {
        let Some(q) = queue(8) else { return };
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        let fd = file.as_raw_fd();
        let n = 64usize;
        let xfer = 4096usize;
        block_on(async {
            let mut inflight = FuturesUnordered::new();
            for i in 0..n {
                let mut b = AlignedBuf::new(xfer).unwrap();
                b.fill(i as u8);
                inflight.push(q.xfer(fd, true, b, (i * xfer) as u64));
                if inflight.len() == 8 {
                    let (_, r) = inflight.next().await.unwrap();
                    assert_eq!(r.unwrap(), xfer);
                }
            }
            while let Some((_, r)) = inflight.next().await {
                assert_eq!(r.unwrap(), xfer);
            }
        });
        assert_eq!(file.metadata().unwrap().len(), (n * xfer) as u64);
        block_on(async {
            // Eight in flight at a time, completed in any order.
            let q = &q;
            let mut done = futures::stream::iter(0..n)
                .map(|i| async move {
                    let b = AlignedBuf::new(xfer).unwrap();
                    (i, q.xfer(fd, false, b, (i * xfer) as u64).await)
                })
                .buffer_unordered(8);
            let mut seen = 0;
            while let Some((i, (b, r))) = done.next().await {
                assert_eq!(r.unwrap(), xfer);
                assert!(b.iter().all(|&x| x == i as u8), "transfer {i}");
                seen += 1;
            }
            assert_eq!(seen, n);
        });
    }

    #[test]
    fn short_read_at_end_of_file_and_errors() {
        let Some(q) = queue(2) else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 100]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (b, r) = block_on(q.xfer(file.as_raw_fd(), false, AlignedBuf::new(4096).unwrap(), 0));
        assert_eq!(r.unwrap(), 100);
        assert_eq!(&b[..100], &[7u8; 100][..]);
        // Writing to a read-only descriptor fails with EBADF, the buffer comes back.
        let (b, r) = block_on(q.xfer(file.as_raw_fd(), true, b, 0));
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(b.len(), 4096);
    }

    #[test]
    fn dropped_transfers_complete_before_their_slot_is_reused() {
        let Some(q) = queue(4) else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 1 << 20]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let fd = file.as_raw_fd();
        for _ in 0..3 {
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            let mut ops: Vec<_> = (0..4)
                .map(|i| Box::pin(q.xfer(fd, false, AlignedBuf::new(1 << 18).unwrap(), i << 18)))
                .collect();
            for op in &mut ops {
                // Queued, not yet submitted.
                assert!(op.as_mut().poll(&mut cx).is_pending());
            }
            drop(ops);
            // Every slot is free again.
            let st = q.lock();
            assert_eq!(st.free.len(), st.slots.len());
            assert!(st.slots.iter().all(|s| matches!(s, Slot::Free)));
        }
        let (_, r) = block_on(q.xfer(fd, false, AlignedBuf::new(4096).unwrap(), 0));
        assert_eq!(r.unwrap(), 4096);
    }
}
