//! Endpoints: a connection from a worker to one peer, created to a packed worker address, to
//! a listener's socket address, or from an accepted connection request; its failure state,
//! which UCX sets from its error callback when the peer dies or resets, and which fails every
//! transfer waiting on the endpoint; flush and clean close.
//!
//! Owns [`Endpoint`], [`ErrorMode`] and [`Failure`]; active-message sends are in
//! [`super::am`]. Must not progress the worker (the progress driver does).

use super::error::{Status, UcxError};
use super::request::{post, Callback, RequestSlot, Transfer};
use super::worker::WorkerInner;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context as TaskContext, Poll, Waker};
use ucx_sys as sys;

/// How an endpoint deals with the failure of its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMode {
    /// UCX detects a dead peer (keep-alive, connection reset) and completes every request
    /// with an error; on UCX 1.13 such endpoints only use TCP lanes, no shared memory.
    Peer,
    /// No failure detection by UCX: shared-memory lanes are available, but a request to a
    /// peer that dies may never complete (callers need their own liveness check and timeouts,
    /// and [`Endpoint::mark_failed`]).
    None,
}

impl ErrorMode {
    fn raw(self) -> sys::ucp_err_handling_mode_t {
        match self {
            ErrorMode::Peer => sys::UCP_ERR_HANDLING_MODE_PEER,
            ErrorMode::None => sys::UCP_ERR_HANDLING_MODE_NONE,
        }
    }
}

/// The live endpoints of a worker by UCX handle, so that a received message's reply endpoint
/// can be matched to the [`Endpoint`] it arrived on.
pub(crate) type EndpointTable = RefCell<HashMap<usize, Weak<EpHandle>>>;

/// Wakers of tasks waiting on an endpoint's failure, each removable by its key.
#[derive(Default)]
struct Waiters {
    next: Cell<u64>,
    map: RefCell<HashMap<u64, Waker>>,
}

/// The state of an endpoint that UCX's error callback sees; it lives until UCX has destroyed
/// the endpoint (a closing endpoint's request holds it).
pub(crate) struct EpShared {
    handle: Cell<sys::ucp_ep_h>,
    peer: String,
    mode: ErrorMode,
    failed: Cell<Option<Status>>,
    closed: Cell<bool>,
    waiters: Waiters,
}

impl EpShared {
    /// The failure UCX (or the owner) reported, if any.
    pub(crate) fn failure(&self) -> Option<Status> {
        self.failed.get()
    }

    /// The error a waiting transfer ends with once the endpoint failed or was closed.
    pub(crate) fn failure_error(&self) -> Option<UcxError> {
        match self.failed.get() {
            Some(status) => Some(UcxError::EndpointFailed {
                peer: self.peer.clone(),
                status,
            }),
            None if self.closed.get() => Some(UcxError::Closed {
                peer: self.peer.clone(),
            }),
            None => None,
        }
    }

    /// The error for a request on this endpoint that completed with `status`.
    pub(crate) fn error_for(&self, status: Status) -> UcxError {
        self.failure_error().unwrap_or(UcxError::EndpointFailed {
            peer: self.peer.clone(),
            status,
        })
    }

    /// Registers (or refreshes) the waker stored under `key`.
    pub(crate) fn add_waiter(&self, key: &mut Option<u64>, waker: &Waker) {
        let Ok(mut map) = self.waiters.map.try_borrow_mut() else {
            return;
        };
        let k = *key.get_or_insert_with(|| {
            let k = self.waiters.next.get();
            self.waiters.next.set(k + 1);
            k
        });
        match map.get(&k) {
            Some(w) if w.will_wake(waker) => {}
            _ => {
                map.insert(k, waker.clone());
            }
        }
    }

    /// Forgets the waker stored under `key`.
    pub(crate) fn remove_waiter(&self, key: Option<u64>) {
        if let (Some(k), Ok(mut map)) = (key, self.waiters.map.try_borrow_mut()) {
            map.remove(&k);
        }
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = match self.waiters.map.try_borrow_mut() {
            Ok(mut map) => map.drain().map(|(_, w)| w).collect(),
            Err(_) => return,
        };
        for w in wakers {
            w.wake();
        }
    }

    fn fail(&self, status: Status) {
        if self.failed.get().is_none() {
            self.failed.set(Some(status));
        }
        self.wake_all();
    }
}

/// UCX's error callback of every endpoint.
unsafe extern "C" fn ep_failed(arg: *mut c_void, _ep: sys::ucp_ep_h, status: sys::ucs_status_t) {
    // SAFETY: `arg` is the `EpShared` of this endpoint, which stays alive until UCX has
    // destroyed the endpoint (held by the endpoint's handle, then by its close request).
    let shared = unsafe { &*(arg as *const EpShared) };
    tracing::debug!(peer = %shared.peer, "UCX endpoint failed: {}", Status(status));
    shared.fail(Status(status));
}

/// One handle of an endpoint; the last one to go closes it.
pub(crate) struct EpHandle {
    pub(crate) worker: Rc<WorkerInner>,
    pub(crate) shared: Rc<EpShared>,
}

impl Drop for EpHandle {
    fn drop(&mut self) {
        drop(start_close(&self.worker, &self.shared));
    }
}

/// Starts closing the endpoint (at most once): forcefully if it failed, else by flushing
/// its outstanding operations and telling the peer.
fn start_close(worker: &Rc<WorkerInner>, shared: &Rc<EpShared>) -> Transfer<()> {
    const OP: &str = "ucp_ep_close_nbx";
    let ep = shared.handle.replace(std::ptr::null_mut());
    if ep.is_null() {
        return Transfer::ready(OP, Ok(()));
    }
    shared.closed.set(true);
    shared.wake_all();
    if let Ok(mut t) = worker.endpoints.try_borrow_mut() {
        t.remove(&(ep as usize));
    }
    let slot = RequestSlot::new(&worker.activity, &[]);
    let force = shared.failed.get().is_some();
    let param = sys::ucp_request_param_t {
        op_attr_mask: sys::UCP_OP_ATTR_FIELD_FLAGS,
        flags: if force {
            sys::UCP_EP_CLOSE_FLAG_FORCE
        } else {
            0
        },
        ..Default::default()
    };
    // SAFETY: `ep` is a live endpoint of this worker (its handle was non-null and is cleared
    // above, so it is closed only once); `p` is the filled-in parameter block.
    let posted = post(&slot, param, Callback::Send, |p| unsafe {
        sys::ucp_ep_close_nbx(ep, p)
    });
    // The error callback may still run until the close completes: keep its argument alive.
    slot.hold(Box::new(shared.clone()));
    Transfer::posted(OP, posted, slot, (), None)
}

/// A connection to one peer. Cloning gives another handle to the same endpoint; the
/// endpoint closes when the last handle (and the last message received on it) goes, or at
/// [`Endpoint::close`]. Not `Send`: it belongs to its worker's thread.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) inner: Rc<EpHandle>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("peer", &self.inner.shared.peer)
            .field("mode", &self.inner.shared.mode)
            .field("failed", &self.inner.shared.failed.get())
            .field("closed", &self.inner.shared.closed.get())
            .finish()
    }
}

impl Endpoint {
    /// Creates an endpoint on `worker` from `params` (which name the remote address, socket
    /// address or connection request), with the error handling of `mode`.
    pub(crate) fn create(
        worker: &Rc<WorkerInner>,
        mut params: sys::ucp_ep_params_t,
        mode: ErrorMode,
        peer: String,
    ) -> Result<Endpoint, UcxError> {
        let shared = Rc::new(EpShared {
            handle: Cell::new(std::ptr::null_mut()),
            peer,
            mode,
            failed: Cell::new(None),
            closed: Cell::new(false),
            waiters: Waiters::default(),
        });
        params.field_mask |= (sys::UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE
            | sys::UCP_EP_PARAM_FIELD_ERR_HANDLER) as u64;
        params.err_mode = mode.raw();
        params.err_handler = sys::ucp_err_handler_t {
            cb: Some(ep_failed),
            arg: Rc::as_ptr(&shared) as *mut c_void,
        };
        worker.note_connection();
        let mut ep: sys::ucp_ep_h = std::ptr::null_mut();
        // SAFETY: the worker is live (held by `worker`); `params` is fully initialised with
        // pointers (address, socket address, name) that the caller keeps valid for this call
        // (UCX copies them); the error callback's argument outlives the endpoint (see
        // `EpShared`).
        let st = unsafe { sys::ucp_ep_create(worker.handle, &params, &mut ep) };
        Status(st).check("ucp_ep_create")?;
        shared.handle.set(ep);
        let inner = Rc::new(EpHandle {
            worker: worker.clone(),
            shared,
        });
        if let Ok(mut t) = worker.endpoints.try_borrow_mut() {
            t.insert(ep as usize, Rc::downgrade(&inner));
        }
        Ok(Endpoint { inner })
    }

    /// The peer's label: its socket address, or its worker id.
    pub fn peer(&self) -> &str {
        &self.inner.shared.peer
    }

    /// The error handling this endpoint was created with.
    pub fn error_mode(&self) -> ErrorMode {
        self.inner.shared.mode
    }

    /// Why the endpoint can no longer be used (failed or closed), if it cannot.
    pub fn error(&self) -> Option<UcxError> {
        self.inner.shared.failure_error()
    }

    /// Resolves, with the error, once the endpoint fails or is closed. A caller waiting for
    /// a reply selects on this to learn of a dead peer.
    pub fn failed(&self) -> Failure {
        Failure {
            shared: self.inner.shared.clone(),
            key: None,
        }
    }

    /// Marks the endpoint failed with `UCS_ERR_CONNECTION_RESET` (for a liveness check of
    /// the caller's own, e.g. on [`ErrorMode::None`] endpoints): transfers waiting on it end
    /// with an error, and closing it cancels what UCX still holds instead of flushing it.
    pub fn mark_failed(&self) {
        self.inner
            .shared
            .fail(Status(sys::UCS_ERR_CONNECTION_RESET));
    }

    /// The live UCX handle, or why there is none.
    pub(crate) fn live_handle(&self) -> Result<sys::ucp_ep_h, UcxError> {
        let s = &self.inner.shared;
        if let Some(e) = s.failure_error() {
            return Err(e);
        }
        let h = s.handle.get();
        if h.is_null() {
            return Err(UcxError::Closed {
                peer: s.peer.clone(),
            });
        }
        Ok(h)
    }

    pub(crate) fn worker(&self) -> &Rc<WorkerInner> {
        &self.inner.worker
    }

    pub(crate) fn shared(&self) -> &Rc<EpShared> {
        &self.inner.shared
    }

    /// Completes when every operation posted on the endpoint so far has completed remotely;
    /// on a new endpoint, this is when the connection is established (or has failed: a
    /// refused connection ends with [`UcxError::EndpointFailed`]).
    pub fn flush(&self) -> Transfer<()> {
        const OP: &str = "ucp_ep_flush_nbx";
        let ep = match self.live_handle() {
            Ok(ep) => ep,
            Err(e) => return Transfer::ready(OP, Err(e)),
        };
        let slot = RequestSlot::new(&self.inner.worker.activity, &[]);
        let param = sys::ucp_request_param_t::default();
        // SAFETY: `ep` is a live endpoint of this worker; `p` is the filled-in parameter block.
        let posted = post(&slot, param, Callback::Send, |p| unsafe {
            sys::ucp_ep_flush_nbx(ep, p)
        });
        Transfer::posted(OP, posted, slot, (), Some(self.inner.shared.clone()))
    }

    /// Closes the endpoint for every handle: outstanding operations are flushed and the peer
    /// is told (forcefully, cancelling them, if the endpoint failed). Later operations fail
    /// with [`UcxError::Closed`].
    pub fn close(&self) -> Transfer<()> {
        start_close(&self.inner.worker, &self.inner.shared)
    }

    /// UCX's description of the endpoint: its lanes and transports (`ucp_ep_print_info`).
    pub fn debug_info(&self) -> Result<String, UcxError> {
        let ep = self.live_handle()?;
        let mut buf: *mut libc::c_char = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        // SAFETY: both out pointers are valid locals, which the stream updates until closed.
        let f = unsafe { libc::open_memstream(&mut buf, &mut size) };
        if f.is_null() {
            return Err(UcxError::os(
                "open_memstream",
                &std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `ep` is live; `f` is an open stream (libc's FILE, the type the bindings use).
        unsafe { sys::ucp_ep_print_info(ep, f) };
        // SAFETY: `f` is open and closed once; closing sets `buf`/`size` to the final text.
        unsafe { libc::fclose(f) };
        let text = if buf.is_null() {
            String::new()
        } else {
            // SAFETY: after fclose, `buf` holds `size` bytes written by the stream.
            let bytes = unsafe { std::slice::from_raw_parts(buf as *const u8, size) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        // SAFETY: `buf` was allocated by open_memstream (malloc) and is freed once.
        unsafe { libc::free(buf.cast()) };
        Ok(text)
    }
}

/// The future of [`Endpoint::failed`].
pub struct Failure {
    shared: Rc<EpShared>,
    key: Option<u64>,
}

impl Future for Failure {
    type Output = UcxError;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<UcxError> {
        let this = self.get_mut();
        if let Some(e) = this.shared.failure_error() {
            return Poll::Ready(e);
        }
        this.shared.add_waiter(&mut this.key, cx.waker());
        Poll::Pending
    }
}

impl Drop for Failure {
    fn drop(&mut self) {
        self.shared.remove_waiter(self.key);
    }
}
