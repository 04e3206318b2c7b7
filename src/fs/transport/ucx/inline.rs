//! A worker driven by the thread that uses it (no thread of its own): the futures that wait
//! on it progress it themselves while they are polled, keep polling for a short window after
//! the last event, then arm the worker's event fd and sleep on it through the current tokio
//! runtime's reactor (with a bounded timeout, as [`super::Progress`] does: UCX 1.13 does not
//! signal every shared-memory event on the fd). Work that must go on beside the waiters
//! (receiving a message's payload, a send completing) runs as local jobs of the worker,
//! polled by whichever waiter drives it.
//!
//! This is the counterpart of [`super::WorkerThread`] for callers on a current-thread
//! runtime: a call then wakes its own thread once for its reply, instead of waking a worker
//! thread to post it and being woken by it again.
//!
//! Owns [`InlineWorker`], [`Spawner`] and [`Waiting`]; must not know what the jobs do. An
//! inline worker is not `Send` (it lives in a thread-local of its owner); a [`Waiting`] is,
//! so that the future holding it may be `Send` (it touches the worker only through the
//! owner's thread-local, on the owner's thread).

use super::context::Context;
use super::error::UcxError;
use super::progress::{register_event_fd, ProgressConfig};
use super::worker::Worker;
use futures::future::LocalBoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Instant;
use tokio::io::unix::AsyncFd;

/// Progress rounds in a row in one drive before the waiter yields to other tasks.
const ROUNDS_PER_DRIVE: u32 = 64;
/// Drives in a row within one poll while events keep coming, before yielding.
const DRIVES_PER_POLL: u32 = 4;

/// Spawns local jobs on an inline worker (from its set-up, or from its jobs).
#[derive(Clone, Default)]
pub struct Spawner(Rc<RefCell<Vec<LocalBoxFuture<'static, ()>>>>);

impl Spawner {
    /// Runs `f` beside the worker's waiters (polled whenever one of them drives the worker).
    pub fn spawn(&self, f: impl Future<Output = ()> + 'static) {
        if let Ok(mut q) = self.0.try_borrow_mut() {
            q.push(Box::pin(f));
        }
    }
}

/// The waiters asleep on one worker's event fd, by key: the fd's readiness wakes one of them,
/// which then drives the worker for all.
#[derive(Default)]
struct Sleepers {
    wakers: Mutex<Vec<(u64, Waker)>>,
}

impl Sleepers {
    fn insert(&self, key: u64, w: &Waker) {
        if let Ok(mut v) = self.wakers.lock() {
            match v.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) if old.will_wake(w) => {}
                Some((_, old)) => *old = w.clone(),
                None => v.push((key, w.clone())),
            }
        }
    }

    fn remove(&self, key: u64) {
        if let Ok(mut v) = self.wakers.lock() {
            v.retain(|(k, _)| *k != key);
        }
    }

    /// Wakes one sleeper (it drives the worker, and sleeps again if its wait goes on).
    fn wake_one(&self) {
        let w = self.wakers.lock().ok().and_then(|mut v| v.pop());
        if let Some((_, w)) = w {
            w.wake();
        }
    }
}

impl Wake for Sleepers {
    fn wake(self: Arc<Self>) {
        self.wake_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_one();
    }
}

/// What counts the driving has done so far on one inline worker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InlineStats {
    /// Progress rounds that handled at least one event.
    pub busy_rounds: u64,
    /// Waits that armed the event fd and slept on it.
    pub fd_sleeps: u64,
    /// Sleeps ended by the safety timeout.
    pub timeouts: u64,
}

/// The wait of one future on an inline worker: `Send`, so that the future may be.
pub struct Waiting {
    key: u64,
    sleepers: Arc<Sleepers>,
    last_event: Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.sleepers.remove(self.key);
        // This waiter may have been the one woken to drive the worker: hand that over.
        self.sleepers.wake_one();
    }
}

/// A worker progressed by its waiters on the thread that made it, with that thread's state
/// `S` (made by the set-up closure: receivers, tables of calls).
pub struct InlineWorker<S: 'static> {
    worker: Worker,
    state: Rc<S>,
    spawner: Spawner,
    jobs: RefCell<FuturesUnordered<LocalBoxFuture<'static, ()>>>,
    /// The event fd registered with the reactor of the runtime (by id) that last slept on it.
    fd: RefCell<Option<(tokio::runtime::Id, AsyncFd<OwnedFd>)>>,
    sleepers: Arc<Sleepers>,
    config: ProgressConfig,
    stats: Cell<InlineStats>,
}

impl<S: 'static> std::fmt::Debug for InlineWorker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWorker")
            .field("worker", &self.worker)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: 'static> InlineWorker<S> {
    /// A worker named `name` on `context`, waited on with `config` (its `spin` window and
    /// `busy_wait` timeout), after `setup` has registered its active-message handlers (before
    /// any endpoint exists) and made the state; `setup` may spawn jobs.
    pub fn new(
        context: &Context,
        name: &str,
        config: ProgressConfig,
        setup: impl FnOnce(&Worker, &Spawner) -> Result<Rc<S>, UcxError>,
    ) -> Result<Self, UcxError> {
        // The driver is not used: the waiters progress the worker.
        let (worker, _driver) = Worker::new(context, name)?;
        let spawner = Spawner::default();
        let state = setup(&worker, &spawner)?;
        Ok(InlineWorker {
            worker,
            state,
            spawner,
            jobs: RefCell::new(FuturesUnordered::new()),
            fd: RefCell::new(None),
            sleepers: Arc::default(),
            config,
            stats: Cell::default(),
        })
    }

    /// The worker.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The thread's state.
    pub fn state(&self) -> &Rc<S> {
        &self.state
    }

    /// Spawns jobs beside the waiters.
    pub fn spawner(&self) -> &Spawner {
        &self.spawner
    }

    /// What the driving has done so far.
    pub fn stats(&self) -> InlineStats {
        self.stats.get()
    }

    /// A new wait on this worker, for one future.
    pub fn waiting(&self) -> Waiting {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Waiting {
            key: NEXT.fetch_add(1, Ordering::Relaxed),
            sleepers: self.sleepers.clone(),
            last_event: Instant::now(),
            timer: None,
        }
    }

    /// Progresses the worker until it is idle (bounded), then polls the jobs; true if
    /// anything happened.
    fn drive(&self, cx: &mut TaskContext<'_>) -> bool {
        let mut events = false;
        for _ in 0..ROUNDS_PER_DRIVE {
            if self.worker.progress() == 0 {
                break;
            }
            events = true;
        }
        if events {
            let mut s = self.stats.get();
            s.busy_rounds += 1;
            self.stats.set(s);
        }
        let Ok(mut jobs) = self.jobs.try_borrow_mut() else {
            return events;
        };
        loop {
            let new: Vec<_> = match self.spawner.0.try_borrow_mut() {
                Ok(mut q) => std::mem::take(&mut *q),
                Err(_) => Vec::new(),
            };
            let spawned = !new.is_empty();
            jobs.extend(new);
            let mut finished = false;
            while let Poll::Ready(Some(())) = jobs.poll_next_unpin(cx) {
                finished = true;
            }
            events |= spawned || finished;
            let more = self.spawner.0.try_borrow().is_ok_and(|q| !q.is_empty());
            if !more {
                return events;
            }
        }
    }

    /// Polls `check` (the wait's condition, e.g. a reply's channel) after driving the
    /// worker; while it is pending, keeps polling for the spin window after the last event
    /// (yielding to other tasks between polls), then sleeps on the armed event fd, at most
    /// `busy_wait` at a time. Call it on the worker's thread only.
    pub fn poll_until<T>(
        &self,
        w: &mut Waiting,
        cx: &mut TaskContext<'_>,
        mut check: impl FnMut(&mut TaskContext<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let mut drives = 0;
        loop {
            let events = self.drive(cx);
            if events {
                w.last_event = Instant::now();
            }
            if let Poll::Ready(t) = check(cx) {
                return Poll::Ready(t);
            }
            drives += 1;
            if !events {
                break;
            }
            if drives >= DRIVES_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        if w.last_event.elapsed() < self.config.spin {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.worker.arm() {
            Ok(true) => {}
            Ok(false) => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Err(e) => tracing::warn!(worker = self.worker.name(), "{e}"),
        }
        w.sleepers.insert(w.key, cx.waker());
        if self.poll_fd().is_ready() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut s = self.stats.get();
        s.fd_sleeps += 1;
        let busy_wait = self.config.busy_wait;
        let timer = w
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(busy_wait)));
        if timer.is_elapsed() {
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + busy_wait);
        }
        if timer.as_mut().poll(cx).is_ready() {
            s.timeouts += 1;
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + busy_wait);
            cx.waker().wake_by_ref();
        }
        self.stats.set(s);
        Poll::Pending
    }

    /// Polls the event fd's readiness with the sleepers' waker (registering it with the
    /// current runtime's reactor first if needed): ready means events may be waiting.
    fn poll_fd(&self) -> Poll<()> {
        let Ok(rt) = tokio::runtime::Handle::try_current().map(|h| h.id()) else {
            return Poll::Ready(());
        };
        let Ok(mut slot) = self.fd.try_borrow_mut() else {
            return Poll::Ready(());
        };
        if slot.as_ref().is_none_or(|(id, _)| *id != rt) {
            *slot = None;
            match self.register_fd() {
                Ok(afd) => *slot = Some((rt, afd)),
                Err(e) => {
                    tracing::warn!(worker = self.worker.name(), "{e}");
                    return Poll::Ready(());
                }
            }
        }
        let Some((_, afd)) = slot.as_ref() else {
            return Poll::Ready(());
        };
        let waker = Waker::from(self.sleepers.clone());
        let mut cx = TaskContext::from_waker(&waker);
        match afd.poll_read_ready(&mut cx) {
            Poll::Ready(Ok(mut guard)) => {
                guard.clear_ready();
                Poll::Ready(())
            }
            Poll::Ready(Err(_)) => {
                // The runtime that registered it is going away: register again next time.
                *slot = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Our own descriptor of the worker's event file, registered with the current reactor.
    fn register_fd(&self) -> Result<AsyncFd<OwnedFd>, UcxError> {
        // SAFETY: this is the live event fd of this worker (alive: we hold it).
        unsafe { register_event_fd(self.worker.inner.event_fd) }
    }
}
