//! UCX requests as futures: the per-worker [`Activity`] (outstanding requests, the progress
//! driver's wake-up, buffers waiting to be freed outside UCX callbacks), the completion
//! callbacks, and [`Transfer`], the future of one send, receive, flush or close.
//!
//! A request's state lives in a reference-counted slot shared by the future and the worker's
//! table of outstanding requests (which the completion callback empties), so a future may be
//! dropped at any time; the buffer of a dropped future moves into the slot and is freed only
//! once UCX has completed the request, or the worker is gone. Owns that machinery; must not
//! know what a request carries.

use super::endpoint::EpShared;
use super::error::{Status, UcxError};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};
use ucx_sys as sys;

/// What the progress driver of one worker needs to know about its requests.
#[derive(Default)]
pub(crate) struct Activity {
    /// Requests posted and not yet completed by UCX, by slot address.
    outstanding: RefCell<HashMap<usize, Rc<RequestSlot>>>,
    /// Wakes the driver when a request is posted (it may be waiting on the event fd).
    pub(crate) kick: tokio::sync::Notify,
    /// Buffers released by completion callbacks, dropped by the driver after progress returns
    /// (never inside a UCX callback: dropping a registered buffer calls back into UCX).
    graveyard: RefCell<Vec<Box<dyn Any>>>,
    /// What woke the progress driver, so far.
    pub(crate) stats: Cell<ProgressStats>,
    /// Counts what the worker's owner awaits beyond its requests (e.g. replies to calls
    /// sent), which the driver treats as outstanding.
    awaited: RefCell<Option<Box<dyn Fn() -> usize>>>,
}

/// Counts of what woke a worker's progress driver from its waits (see
/// [`super::Worker::progress_stats`]): many timeouts while requests are outstanding mean that
/// the transport's events do not reach the event fd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressStats {
    /// Waits ended by the worker's event fd.
    pub fd_wakes: u64,
    /// Waits ended because a request was posted.
    pub kicks: u64,
    /// Waits ended by their timeout with requests outstanding.
    pub busy_timeouts: u64,
    /// Waits ended by their timeout with nothing outstanding.
    pub idle_timeouts: u64,
}

impl Activity {
    /// Requests outstanding.
    pub(crate) fn pending(&self) -> usize {
        self.outstanding.try_borrow().map(|o| o.len()).unwrap_or(0)
    }

    /// What the owner awaits beyond the requests ([`Activity::set_awaiting`]).
    pub(crate) fn awaiting(&self) -> usize {
        match self.awaited.try_borrow() {
            Ok(f) => f.as_ref().map_or(0, |f| f()),
            Err(_) => 0,
        }
    }

    /// Makes `f` count what the owner awaits.
    pub(crate) fn set_awaiting(&self, f: Box<dyn Fn() -> usize>) {
        if let Ok(mut a) = self.awaited.try_borrow_mut() {
            *a = Some(f);
        }
    }

    /// Hands every outstanding request back to UCX without its callback (before the worker
    /// is destroyed: UCX requires requests to be released then) and returns their slots,
    /// which the caller keeps until the worker is gone (UCX may use their buffers until then).
    pub(crate) fn release_all(&self) -> Vec<Rc<RequestSlot>> {
        let all: Vec<(usize, Rc<RequestSlot>)> = match self.outstanding.try_borrow_mut() {
            Ok(mut o) => o.drain().collect(),
            Err(_) => return Vec::new(),
        };
        all.into_iter()
            .map(|(_, slot)| {
                let request = slot.request.replace(std::ptr::null_mut());
                if !request.is_null() {
                    // SAFETY: `request` is a live request of this worker that has not
                    // completed (completed ones leave the table, and a request completed
                    // inside its own posting call never gets its handle recorded); freeing it
                    // disables its callback, so UCX touches the slot only through its buffers.
                    unsafe { sys::ucp_request_free(request) };
                }
                slot
            })
            .collect()
    }

    /// Drops what completion callbacks set aside.
    pub(crate) fn bury(&self) {
        let dead = match self.graveyard.try_borrow_mut() {
            Ok(mut g) if !g.is_empty() => std::mem::take(&mut *g),
            _ => return,
        };
        drop(dead);
    }

    fn set_aside(&self, b: Box<dyn Any>) {
        match self.graveyard.try_borrow_mut() {
            Ok(mut g) => g.push(b),
            // Not reachable (the graveyard is only borrowed for a push or a take), but never
            // drop a buffer inside a callback.
            Err(_) => std::mem::forget(b),
        }
    }
}

/// The state of one request, shared by its future and its completion callback.
pub(crate) struct RequestSlot {
    activity: Rc<Activity>,
    /// Status and received length, once UCX completed the request.
    outcome: Cell<Option<(sys::ucs_status_t, usize)>>,
    waker: RefCell<Option<Waker>>,
    /// Kept alive until UCX completes the request: the buffer of a dropped future, the state
    /// of a closing endpoint.
    hold: RefCell<Option<Box<dyn Any>>>,
    /// The active-message header of a send (UCX reads it until the send completes).
    pub(crate) header: Box<[u8]>,
    /// UCX's handle of the request while it is outstanding (null before and after).
    request: Cell<*mut c_void>,
}

impl RequestSlot {
    pub(crate) fn new(activity: &Rc<Activity>, header: &[u8]) -> Rc<Self> {
        Rc::new(RequestSlot {
            activity: activity.clone(),
            outcome: Cell::new(None),
            waker: RefCell::new(None),
            hold: RefCell::new(None),
            header: header.into(),
            request: Cell::new(std::ptr::null_mut()),
        })
    }

    /// Keeps `b` alive until the request completes (or at once drops it if it has).
    pub(crate) fn hold(&self, b: Box<dyn Any>) {
        if self.outcome.get().is_some() {
            drop(b);
        } else if let Ok(mut h) = self.hold.try_borrow_mut() {
            *h = Some(b);
        } else {
            std::mem::forget(b);
        }
    }

    fn finish(&self, status: sys::ucs_status_t, length: usize) {
        self.outcome.set(Some((status, length)));
        self.request.set(std::ptr::null_mut());
        if let Ok(mut h) = self.hold.try_borrow_mut() {
            if let Some(b) = h.take() {
                self.activity.set_aside(b);
            }
        }
        let waker = self.waker.try_borrow_mut().ok().and_then(|mut w| w.take());
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The completion callback of sends, flushes and closes.
unsafe extern "C" fn send_done(request: *mut c_void, status: sys::ucs_status_t, user: *mut c_void) {
    // SAFETY: UCX calls this once per request posted by `post` with `user` the slot reference
    // that `post` leaked for it, and `request` a live request handle.
    unsafe { complete(request, status, 0, user) }
}

/// The completion callback of active-message data receives.
unsafe extern "C" fn recv_done(
    request: *mut c_void,
    status: sys::ucs_status_t,
    length: usize,
    user: *mut c_void,
) {
    // SAFETY: as for `send_done`.
    unsafe { complete(request, status, length, user) }
}

/// # Safety
/// `user` must be the slot that `post` registered for `request` (kept alive by the worker's
/// table of outstanding requests, keyed by the slot's address), and `request` a live request
/// handle.
unsafe fn complete(
    request: *mut c_void,
    status: sys::ucs_status_t,
    length: usize,
    user: *mut c_void,
) {
    // SAFETY: per the contract the slot is alive: the table holds it until removed here.
    let activity = unsafe { &*(user as *const RequestSlot) }.activity.clone();
    let slot = activity
        .outstanding
        .try_borrow_mut()
        .ok()
        .and_then(|mut o| o.remove(&(user as usize)));
    if let Some(slot) = &slot {
        slot.finish(status, length);
    }
    // SAFETY: the request is complete; freeing it inside its callback is allowed (UCX puts it
    // back at once, since it is marked completed before the callback runs).
    unsafe { sys::ucp_request_free(request) };
}

/// Which completion callback a request takes.
#[derive(Clone, Copy)]
pub(crate) enum Callback {
    /// `ucp_send_nbx_callback_t` (sends, flushes, closes).
    Send,
    /// `ucp_am_recv_data_nbx_callback_t`.
    RecvAm,
}

/// The result of posting a request: done at once (the callback will not run), or pending.
pub(crate) enum Posted {
    Done(sys::ucs_status_t),
    Pending,
}

/// Posts a request: fills in the callback and user data of `param`, calls `start` with it,
/// and accounts for the outcome. `start` must make exactly one UCX `*_nbx` call with `param`.
pub(crate) fn post(
    slot: &Rc<RequestSlot>,
    mut param: sys::ucp_request_param_t,
    cb: Callback,
    start: impl FnOnce(&sys::ucp_request_param_t) -> sys::ucs_status_ptr_t,
) -> Posted {
    param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_CALLBACK | sys::UCP_OP_ATTR_FIELD_USER_DATA;
    match cb {
        Callback::Send => param.cb.send = Some(send_done),
        Callback::RecvAm => param.cb.recv_am = Some(recv_done),
    }
    param.user_data = Rc::as_ptr(slot) as *mut c_void;
    let key = Rc::as_ptr(slot) as usize;
    // In the table before the call: UCX may complete a request, callback included, inside
    // the posting call itself (e.g. a rendezvous receive on an endpoint already closed).
    if let Ok(mut o) = slot.activity.outstanding.try_borrow_mut() {
        o.insert(key, slot.clone());
    }
    let ret = start(&param);
    if sys::UCS_PTR_IS_PTR(ret) {
        if slot.outcome.get().is_none() {
            slot.request.set(ret);
            slot.activity.kick.notify_one();
        }
        // Else the callback has run (and freed the request): the handle is stale.
        Posted::Pending
    } else {
        // No request: the callback will not run.
        if let Ok(mut o) = slot.activity.outstanding.try_borrow_mut() {
            o.remove(&key);
        }
        Posted::Done(sys::UCS_PTR_STATUS(ret))
    }
}

/// The future of one request that owns a buffer `B` (use `()` for none): resolves to the
/// buffer once UCX is done with it, or to the request's error. Dropping it early leaves the
/// request to complete in the background, keeping the buffer alive until then.
#[must_use = "a transfer reports its outcome only when awaited"]
pub struct Transfer<B: 'static> {
    state: State<B>,
    op: &'static str,
}

enum State<B> {
    Ready(Result<B, UcxError>),
    Pending {
        slot: Rc<RequestSlot>,
        buf: Option<B>,
        /// Fails the transfer when this endpoint fails, even if UCX does not complete it.
        watch: Option<Rc<EpShared>>,
        /// The key of this transfer's waker among the endpoint's waiters.
        key: Option<u64>,
    },
    Taken,
}

impl<B: 'static> Transfer<B> {
    pub(crate) fn ready(op: &'static str, r: Result<B, UcxError>) -> Self {
        Transfer {
            state: State::Ready(r),
            op,
        }
    }

    /// A transfer from the outcome of `post`.
    pub(crate) fn posted(
        op: &'static str,
        posted: Posted,
        slot: Rc<RequestSlot>,
        buf: B,
        watch: Option<Rc<EpShared>>,
    ) -> Self {
        match posted {
            Posted::Done(st) => Self::ready(op, outcome(op, st, watch.as_deref()).map(|()| buf)),
            Posted::Pending => Transfer {
                state: State::Pending {
                    slot,
                    buf: Some(buf),
                    watch,
                    key: None,
                },
                op,
            },
        }
    }

    /// True once the outcome is known (polling would return at once).
    pub fn is_complete(&self) -> bool {
        match &self.state {
            State::Pending { slot, watch, .. } => {
                slot.outcome.get().is_some()
                    || watch.as_ref().is_some_and(|w| w.failure().is_some())
            }
            _ => true,
        }
    }
}

/// Maps a request's final status to the transfer's result.
fn outcome(
    op: &'static str,
    st: sys::ucs_status_t,
    watch: Option<&EpShared>,
) -> Result<(), UcxError> {
    let status = Status(st);
    if status.is_ok() {
        return Ok(());
    }
    match watch {
        Some(ep) if status.is_peer_failure() || ep.failure().is_some() => Err(ep.error_for(status)),
        _ => Err(UcxError::Call { op, status }),
    }
}

impl<B: Unpin + 'static> Future for Transfer<B> {
    type Output = Result<B, UcxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let op = this.op;
        let result = match &mut this.state {
            State::Ready(_) => None,
            State::Taken => Some(Err(UcxError::Call {
                op,
                status: Status(sys::UCS_ERR_INVALID_PARAM),
            })),
            State::Pending {
                slot,
                buf,
                watch,
                key,
            } => {
                if let Some((st, _)) = slot.outcome.get() {
                    Some(match (outcome(op, st, watch.as_deref()), buf.take()) {
                        (Ok(()), Some(b)) => Ok(b),
                        (Err(e), _) => Err(e),
                        (Ok(()), None) => Err(UcxError::Call {
                            op,
                            status: Status(sys::UCS_ERR_INVALID_PARAM),
                        }),
                    })
                } else if let Some(err) = watch.as_ref().and_then(|w| w.failure_error()) {
                    // UCX still owns the buffer: it stays in the slot until the request
                    // completes (or the worker goes).
                    if let Some(b) = buf.take() {
                        slot.hold(Box::new(b));
                    }
                    Some(Err(err))
                } else {
                    if let Ok(mut w) = slot.waker.try_borrow_mut() {
                        match &*w {
                            Some(old) if old.will_wake(cx.waker()) => {}
                            _ => *w = Some(cx.waker().clone()),
                        }
                    }
                    if let Some(ep) = watch {
                        ep.add_waiter(key, cx.waker());
                    }
                    return Poll::Pending;
                }
            }
        };
        this.forget_waiter();
        match (result, std::mem::replace(&mut this.state, State::Taken)) {
            (Some(r), _) | (None, State::Ready(r)) => Poll::Ready(r),
            (None, _) => Poll::Pending,
        }
    }
}

impl<B: 'static> Transfer<B> {
    fn forget_waiter(&mut self) {
        if let State::Pending {
            watch: Some(ep),
            key,
            ..
        } = &mut self.state
        {
            ep.remove_waiter(key.take());
        }
    }
}

impl<B: 'static> Drop for Transfer<B> {
    fn drop(&mut self) {
        self.forget_waiter();
        if let State::Pending { slot, buf, .. } = &mut self.state {
            if let Some(b) = buf.take() {
                slot.hold(Box::new(b));
            }
        }
    }
}
