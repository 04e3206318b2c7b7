//! The asynchronous transfer path of the POSIX backend under `--iodepth N`: one io_uring per
//! task, on which up to N reads and writes are queued to the kernel at once, as fio's
//! `io_uring` engine does.
//!
//! Owns the ring, the transfers in flight and their buffers. A transfer takes its buffer over
//! ([`Queue::xfer`]) and keeps it in the queue's slot table until the kernel has completed it,
//! so no memory the kernel may still write is ever given back early, whatever happens to the
//! future (a dropped transfer waits for its completion before it lets go). As in fio, every
//! new transfer is handed to the kernel at once with one `io_uring_enter` that also takes what
//! has completed meanwhile (`IORING_ENTER_GETEVENTS`, no minimum), so the kernel's workers (on
//! tmpfs every buffered read goes to one) always have the whole depth to work on; a poll of a
//! transfer still in flight takes completions the same way and, when nothing at all has
//! completed (none waits to be taken), watches the ring for a while (an adaptive budget,
//! [`WatchBudget`]) before it blocks for one. Completion work is deferred to those
//! calls (`DEFER_TASKRUN`, single issuer) and never interrupts the thread. Each task runs on
//! its own OS thread, so the blocking wait is correct there (as the POSIX backend's blocking
//! pread/pwrite are), and the deep loop polls these transfers on that thread itself, so that a
//! wake-up between two completions costs no turn of the runtime. It must not open or close
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

/// `IORING_ENTER_GETEVENTS` (linux/io_uring.h): run the ring's pending completion work, and
/// wait for `min_complete` completions.
const ENTER_GETEVENTS: u32 = 1;

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

/// How many steps (one look at the ring and one `sched_yield` each) a poll watches the ring for
/// a completion before it blocks in the kernel for one. The budget adapts: a watch that runs
/// out halves it, one that sees a completion doubles it. Blocking costs a sleep and a wake-up by
/// the kernel's worker each time; watching costs system calls, which are wasted when the
/// completion is far off: that is when the watches run out and shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WatchBudget {
    steps: u32,
}

impl WatchBudget {
    /// The shortest watch.
    const MIN: u32 = 1;
    /// The longest watch: with nothing else to run, a yield takes about 0.2 µs, so this is
    /// about 100 µs, many times what a 4 KiB read on tmpfs takes a worker.
    const MAX: u32 = 512;

    /// The longest watch, to start with.
    fn new() -> WatchBudget {
        WatchBudget { steps: Self::MAX }
    }

    /// A watch saw a completion: the next one may be twice as long.
    fn succeeded(&mut self) {
        self.steps = self.steps.saturating_mul(2).min(Self::MAX);
    }

    /// A watch ran out without a completion: the next one is half as long.
    fn ran_out(&mut self) {
        self.steps = (self.steps / 2).max(Self::MIN);
    }
}

struct State {
    ring: IoUring,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots in [`Slot::Done`]: completed transfers whose futures have not taken them yet.
    done: u32,
    /// How long the next watch before a blocking wait lasts.
    watch: WatchBudget,
    /// Calls to `io_uring_enter` that wait for a completion (and may sleep).
    #[cfg(test)]
    blocking_enters: u64,
}

impl State {
    /// Hands every queued entry to the kernel and waits for at least `wait` completions, then
    /// moves every completion into its slot and wakes its transfer.
    fn submit_and_reap(&mut self, wait: usize) -> io::Result<()> {
        #[cfg(test)]
        if wait > 0 {
            self.blocking_enters += 1;
        }
        loop {
            let to_submit = self.ring.submission().len() as u32;
            // SAFETY: no argument is passed; the entries counted were pushed whole (and their
            // memory is held by their slots until they complete, see `Queue::start`).
            let r = unsafe {
                self.ring.submitter().enter::<libc::sigset_t>(
                    to_submit,
                    wait as u32,
                    ENTER_GETEVENTS,
                    None,
                )
            };
            match r {
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
        self.reap();
        Ok(())
    }

    /// With nothing completed, waits for a completion: first by watching the ring for the
    /// budget's steps (a completion posted, or completion work pending, which the `TASKRUN`
    /// flag tells and an enter without waiting runs), and only if none comes by blocking in the
    /// kernel. On tmpfs every read is completed by a worker thread, and a sleeping thread costs
    /// that worker a wake-up; fio, which does more between its waits, blocks six times less
    /// often than a thread that blocks at once. Each step gives the CPU away (see below): on
    /// two free CPUs that doubled the IOPS of 4 KiB reads at depth 8, where spinning in user
    /// space gained nothing.
    fn watch_then_block(&mut self) -> io::Result<()> {
        for _ in 0..self.watch.steps {
            if self.ring.submission().taskrun() {
                self.submit_and_reap(0)?;
            } else if !self.ring.completion().is_empty() {
                self.reap();
            }
            if self.done > 0 {
                self.watch.succeeded();
                return Ok(());
            }
            // Giving way, not spinning: the worker that completes the transfer seems to wait
            // for this very CPU (spinning never saw a completion come, on two free CPUs), and a
            // yield lets it run; with nothing else to run here it costs one system call.
            // SAFETY: sched_yield(2) takes no arguments and touches no memory of ours.
            unsafe { libc::sched_yield() };
        }
        self.watch.ran_out();
        self.submit_and_reap(1)
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
                    self.done += 1;
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

    /// Frees `slot` and returns what it held.
    fn free_slot(&mut self, slot: u32) -> Slot {
        let s = std::mem::replace(&mut self.slots[slot as usize], Slot::Free);
        match s {
            Slot::Free => return s,
            Slot::Done { .. } => self.done -= 1,
            Slot::InFlight { .. } => {}
        }
        self.free.push(slot);
        s
    }
}

/// A ring of `entries` entries whose completions do not interrupt the task's thread: the
/// kernel's worker threads (on tmpfs every buffered read goes to one) leave them for the
/// thread's next `io_uring_enter` with `GETEVENTS` (`DEFER_TASKRUN` with `SINGLE_ISSUER`,
/// Linux 6.1, as fio sets it up), else for its next system call (`COOP_TASKRUN`, 5.19),
/// instead of signalling it at each one, which cost a third of the IOPS of 4 KiB reads at
/// depth 8; a plain ring on older kernels. With a single issuer, only the thread that made the
/// ring may submit to it: the task's own thread, which makes it in `set_hints`. Either way the
/// kernel raises the ring's `TASKRUN` flag while such work waits, which a watching poll reads.
fn build_ring(entries: u32) -> io::Result<IoUring> {
    let deferred = || {
        IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
    };
    let coop = || {
        IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(entries)
    };
    let plain = || IoUring::builder().build(entries);
    // A kernel without a flag refuses the ring with EINVAL: the next, older set is tried.
    let mut r = deferred();
    for older in [&coop as &dyn Fn() -> io::Result<IoUring>, &plain] {
        match &r {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => r = older(),
            _ => break,
        }
    }
    r
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
                done: 0,
                watch: WatchBudget::new(),
                #[cfg(test)]
                blocking_enters: 0,
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
        // Handed to the kernel at once (and whatever completed meanwhile taken), so that its
        // workers always have the whole depth to work on.
        // A failure leaves the entry queued: the transfer's next poll submits it again and
        // reports the error.
        let _ = st.submit_and_reap(0);
        Ok(slot)
    }

    /// Polls transfer `slot`: its result when done, else submits what is queued and waits for
    /// a completion (see the module documentation). It does not wait while other transfers
    /// have completed and not yet been taken: they are woken, and their callers should get
    /// to refill the queue first.
    fn poll_slot(&self, slot: u32, waker: &Waker) -> Poll<(AlignedBuf, io::Result<usize>)> {
        let mut st = self.lock();
        if let Some(done) = take_done(&mut st, slot) {
            return Poll::Ready(done);
        }
        // First without waiting (what the kernel's workers finished meanwhile), then, if
        // nothing at all has completed, waiting for one.
        let mut r = Ok(());
        if st.done == 0 {
            r = st.submit_and_reap(0);
        }
        if r.is_ok() && st.done == 0 {
            r = st.watch_then_block();
        }
        if let Err(e) = r {
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
        st.free_slot(slot);
    }
}

/// The result of a completed slot, which is freed; `None` if it is still in flight.
fn take_done(st: &mut State, slot: u32) -> Option<(AlignedBuf, io::Result<usize>)> {
    if !matches!(st.slots[slot as usize], Slot::Done { .. }) {
        return None;
    }
    let Slot::Done { buf, res } = st.free_slot(slot) else {
        unreachable!("matched just above");
    };
    let r = if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    };
    Some((buf, r))
}

/// The buffer of a slot whose entry never reached the submission queue.
fn take_back(st: &mut State, slot: u32) -> AlignedBuf {
    match st.free_slot(slot) {
        Slot::InFlight { buf, .. } | Slot::Done { buf, .. } => buf,
        Slot::Free => AlignedBuf::empty(),
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
                    // Polled again at once by the deep loop (no runtime turn): takes what
                    // has completed meanwhile.
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

    /// The read and write ends of a new pipe.
    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: pipe(2) just opened both descriptors; each is owned once, here.
        unsafe {
            use std::os::fd::FromRawFd;
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    /// The affinity of this process's io_uring worker threads serving thread `tid`.
    fn worker_cpus(tid: libc::pid_t) -> Vec<String> {
        let name = format!("iou-wrk-{tid}");
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .filter_map(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_string())
            })
            .collect()
    }

    /// `--cpus` binds a task's thread before its ring exists, and relies on this: the kernel
    /// workers of a ring made on a bound thread run on that thread's CPU (they are made from
    /// it), so a completion never needs a wake-up of another CPU. Registering the mask with
    /// `IORING_REGISTER_IOWQ_AFF` changed nothing here (Linux 6.18), so it is not done.
    #[test]
    fn the_workers_of_a_ring_made_on_a_bound_thread_run_on_its_cpu() {
        let cpu = crate::cpus::thread_cpus().unwrap()[0];
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm").unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 65536]).unwrap();
        let workers = std::thread::spawn(move || {
            crate::cpus::bind_thread(cpu).unwrap();
            let q = queue(1)?;
            let f = std::fs::File::open(&path).unwrap();
            // A buffered read of a file: where the kernel cannot do it at once (tmpfs), a
            // worker thread does it, and that worker stays until the ring has been idle a while.
            let (buf, done) =
                block_on(q.xfer(f.as_raw_fd(), false, AlignedBuf::new(4096).unwrap(), 0));
            assert_eq!(done.unwrap(), 4096);
            assert!(buf.iter().all(|&b| b == 7));
            // SAFETY: gettid(2) has no arguments and touches no memory.
            Some(worker_cpus(unsafe { libc::gettid() }))
        })
        .join()
        .unwrap();
        for w in workers.iter().flatten() {
            assert_eq!(w, &cpu.to_string(), "worker affinity {workers:?}");
        }
    }

    #[test]
    fn a_completion_that_comes_while_the_poll_watches_is_taken_without_blocking() {
        let Some(q) = queue(2) else { return };
        let (rx, tx) = pipe();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut read = Box::pin(q.xfer(rx.as_raw_fd(), false, AlignedBuf::new(16).unwrap(), 0));
        // Submitted; the pipe is empty, so the read stays in flight.
        assert!(read.as_mut().poll(&mut cx).is_pending());
        {
            let mut st = q.lock();
            // What a poll does first: a look without waiting, which finds nothing.
            st.submit_and_reap(0).unwrap();
            assert_eq!(st.done, 0);
            // The completion comes after that look: the write wakes the read in the kernel,
            // which leaves its completion work on the ring before the write returns.
            std::io::Write::write_all(&mut &tx, b"x").unwrap();
            let blocking = st.blocking_enters;
            st.watch_then_block().unwrap();
            assert_eq!(st.done, 1, "the read completed");
            assert_eq!(
                st.blocking_enters, blocking,
                "taken by watching, not by blocking"
            );
            assert_eq!(st.watch.steps, WatchBudget::MAX);
        }
        let Poll::Ready((b, r)) = read.as_mut().poll(&mut cx) else {
            panic!("the completed pipe read is ready");
        };
        assert_eq!((r.unwrap(), b[0]), (1, b'x'));
    }

    #[test]
    fn the_watch_shrinks_while_watches_run_out_and_grows_back_when_they_succeed() {
        let mut budget = WatchBudget::new();
        assert_eq!(budget.steps, WatchBudget::MAX);
        budget.succeeded();
        assert_eq!(
            budget.steps,
            WatchBudget::MAX,
            "never beyond the longest watch"
        );
        // Each watch that runs out halves the next, down to the shortest.
        let mut seen = vec![budget.steps];
        while budget.steps > WatchBudget::MIN {
            budget.ran_out();
            seen.push(budget.steps);
        }
        assert_eq!(seen, [512, 256, 128, 64, 32, 16, 8, 4, 2, 1]);
        budget.ran_out();
        assert_eq!(
            budget.steps,
            WatchBudget::MIN,
            "never below the shortest watch"
        );
        // Each watch that sees a completion doubles the next, back up to the longest.
        let mut seen = vec![budget.steps];
        while budget.steps < WatchBudget::MAX {
            budget.succeeded();
            seen.push(budget.steps);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
        // Mixed outcomes move it both ways.
        budget.ran_out();
        budget.ran_out();
        budget.succeeded();
        assert_eq!(budget.steps, 256);
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
    fn a_poll_does_not_wait_while_another_completion_waits_to_be_taken() {
        let Some(q) = queue(2) else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![3u8; 4096]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // A read from an empty pipe stays in flight until something is written to it.
        let (rx, tx) = pipe();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut stuck = Box::pin(q.xfer(rx.as_raw_fd(), false, AlignedBuf::new(16).unwrap(), 0));
        let mut quick =
            Box::pin(q.xfer(file.as_raw_fd(), false, AlignedBuf::new(4096).unwrap(), 0));
        assert!(stuck.as_mut().poll(&mut cx).is_pending());
        assert!(quick.as_mut().poll(&mut cx).is_pending());
        // Submits both and waits until one completes: the file read.
        while q.lock().done == 0 {
            assert!(stuck.as_mut().poll(&mut cx).is_pending());
        }
        // With the file read completed and not taken, polling the pipe read again must come
        // back at once, not wait in the kernel for a completion that only a write can bring.
        // If it waited, the writer below unblocks it after a while, and the flag says so.
        let written = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (returned, wait) = std::sync::mpsc::channel::<()>();
        let writer = {
            let written = written.clone();
            std::thread::spawn(move || {
                let timeout = std::time::Duration::from_secs(10);
                if wait.recv_timeout(timeout).is_err() {
                    written.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                std::io::Write::write_all(&mut &tx, b"x").unwrap();
            })
        };
        assert!(stuck.as_mut().poll(&mut cx).is_pending());
        assert!(
            !written.load(std::sync::atomic::Ordering::SeqCst),
            "the poll waited"
        );
        returned.send(()).unwrap();
        let Poll::Ready((b, r)) = quick.as_mut().poll(&mut cx) else {
            panic!("the completed file read is ready");
        };
        assert_eq!((r.unwrap(), b[0]), (4096, 3));
        // The pipe read completes once written to.
        writer.join().unwrap();
        let (b, r) = block_on(stuck);
        assert_eq!((r.unwrap(), b[0]), (1, b'x'));
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
                // Submitted, not yet completed or taken.
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
