//! Workers: one UCP worker per thread (UCX workers are not thread-safe), the owner of its
//! endpoints, listeners and active-message handlers, and of the state its progress driver
//! ([`super::progress`]) runs on.
//!
//! Owns [`Worker`]; endpoints, listeners, messages and requests hold its inner state, so the
//! UCX worker is destroyed only after all of them. Must not block or spin itself.

use super::address::WorkerAddress;
use super::am::{self, AmQueue, AmReceiver};
use super::context::Context;
use super::endpoint::{Endpoint, EndpointTable, ErrorMode};
use super::error::{Status, UcxError};
use super::listener::Listener;
use super::progress::Progress;
use super::request::{Activity, ProgressStats};
use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::net::SocketAddr;
use std::rc::Rc;
use ucx_sys as sys;

/// How long a worker being destroyed keeps progressing its outstanding requests.
const DRAIN_ON_DESTROY: std::time::Duration = std::time::Duration::from_millis(50);

/// The state shared by a worker's handles, endpoints, listeners, messages and driver.
pub(crate) struct WorkerInner {
    pub(crate) handle: sys::ucp_worker_h,
    pub(crate) context: Context,
    pub(crate) activity: Rc<Activity>,
    pub(crate) endpoints: Rc<EndpointTable>,
    queues: RefCell<Vec<Rc<AmQueue>>>,
    /// Set once an endpoint or listener exists: no more handlers may be registered.
    connected: Cell<bool>,
    pub(crate) max_am_header: usize,
    pub(crate) event_fd: std::os::fd::RawFd,
    name: String,
}

impl WorkerInner {
    /// Records that an endpoint or listener is being created.
    pub(crate) fn note_connection(&self) {
        self.connected.set(true);
    }

    /// One round of `ucp_worker_progress`; the number of events it handled.
    pub(crate) fn progress(&self) -> u32 {
        // SAFETY: the worker is live, used from its own thread only (`WorkerInner` is not
        // `Send`), and never from inside one of its callbacks (none calls back into Rust
        // code that progresses).
        unsafe { sys::ucp_worker_progress(self.handle) }
    }

    /// Arms the event fd: `Ok(true)` when armed (the caller may sleep on the fd),
    /// `Ok(false)` when events are already pending (progress again first).
    pub(crate) fn arm(&self) -> Result<bool, UcxError> {
        // SAFETY: the worker is live and was created with the wake-up feature.
        let st = unsafe { sys::ucp_worker_arm(self.handle) };
        if st == sys::UCS_ERR_BUSY {
            return Ok(false);
        }
        Status(st).check("ucp_worker_arm")?;
        Ok(true)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for WorkerInner {
    fn drop(&mut self) {
        if let Ok(queues) = self.queues.try_borrow() {
            for q in queues.iter() {
                q.close(self.handle);
            }
        }
        // Give requests that are about to complete (closes, acknowledgements of rendezvous
        // sends) a bounded chance to do so, so that peers see clean disconnects.
        let deadline = std::time::Instant::now() + DRAIN_ON_DESTROY;
        while self.activity.pending() > 0 && std::time::Instant::now() < deadline {
            if self.progress() == 0 {
                std::thread::yield_now();
            }
            self.activity.bury();
        }
        let in_flight = self.activity.release_all();
        // SAFETY: nothing else refers to the worker any more (every endpoint, listener,
        // message and receiver holds this inner state), and every request still in flight has
        // been released; their buffers stay alive until the worker is gone.
        unsafe { sys::ucp_worker_destroy(self.handle) };
        drop(in_flight);
        self.activity.bury();
    }
}

/// A UCP worker, bound to the thread that created it (not `Send`). Cloning gives another
/// handle. Progress is made by the [`Progress`] driver returned with it, which must run on
/// the same thread (e.g. `tokio::task::spawn_local`).
#[derive(Clone)]
pub struct Worker {
    pub(crate) inner: Rc<WorkerInner>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Creates a worker named `name` on `context`, and the driver that progresses it.
    pub fn new(context: &Context, name: &str) -> Result<(Worker, Progress), UcxError> {
        let cname = CString::new(name.replace('\0', "?"))
            .map_err(|_| UcxError::BadSetting("worker name".into()))?;
        let params = sys::ucp_worker_params_t {
            field_mask: (sys::UCP_WORKER_PARAM_FIELD_THREAD_MODE | sys::UCP_WORKER_PARAM_FIELD_NAME)
                as u64,
            thread_mode: sys::UCS_THREAD_MODE_SINGLE,
            name: cname.as_ptr(),
            ..Default::default()
        };
        let mut handle: sys::ucp_worker_h = std::ptr::null_mut();
        // SAFETY: the context is live (held by `context`); `params` is initialised, its name a
        // NUL-terminated string that outlives the call (UCX copies it); `handle` is an out
        // pointer.
        let st = unsafe { sys::ucp_worker_create(context.handle(), &params, &mut handle) };
        Status(st).check("ucp_worker_create")?;
        let destroy = |e| {
            // SAFETY: the worker was just created and nothing else refers to it.
            unsafe { sys::ucp_worker_destroy(handle) };
            e
        };
        let mut attr = sys::ucp_worker_attr_t {
            field_mask: sys::UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER as u64,
            ..Default::default()
        };
        // SAFETY: the worker is live; `attr` is an out struct whose mask names the field.
        let st = unsafe { sys::ucp_worker_query(handle, &mut attr) };
        Status(st).check("ucp_worker_query").map_err(destroy)?;
        let mut fd: libc::c_int = -1;
        // SAFETY: the worker is live and has the wake-up feature; `fd` is an out pointer.
        let st = unsafe { sys::ucp_worker_get_efd(handle, &mut fd) };
        Status(st).check("ucp_worker_get_efd").map_err(destroy)?;
        let inner = Rc::new(WorkerInner {
            handle,
            context: context.clone(),
            activity: Rc::new(Activity::default()),
            endpoints: Rc::new(EndpointTable::default()),
            queues: RefCell::new(Vec::new()),
            connected: Cell::new(false),
            max_am_header: attr.max_am_header,
            event_fd: fd,
            name: name.to_string(),
        });
        let progress = Progress::new(&inner);
        Ok((Worker { inner }, progress))
    }

    /// Registers the handler of active-message id `id` and returns the receiver of its
    /// messages. Every handler must be registered before the first endpoint or listener is
    /// created (libucp 1.13 can crash otherwise): later calls fail with
    /// [`UcxError::HandlerAfterEndpoint`]. A dropped receiver's id may be registered again.
    pub fn register_am(&self, id: u16) -> Result<AmReceiver, UcxError> {
        let existing = self
            .inner
            .queues
            .try_borrow()
            .ok()
            .and_then(|qs| qs.iter().find(|q| q.id() == id).cloned());
        if let Some(q) = existing {
            if q.is_open() {
                return Err(UcxError::DuplicateHandler { id });
            }
            q.reopen();
            return Ok(AmReceiver::new(self.inner.clone(), q));
        }
        if self.inner.connected.get() {
            return Err(UcxError::HandlerAfterEndpoint { id });
        }
        let q = AmQueue::new(id, self.inner.endpoints.clone());
        am::set_handler(self.inner.handle, &q)?;
        if let Ok(mut qs) = self.inner.queues.try_borrow_mut() {
            qs.push(q.clone());
        }
        Ok(AmReceiver::new(self.inner.clone(), q))
    }

    /// The worker's address, for peers to connect to with [`Worker::connect`].
    pub fn address(&self) -> Result<WorkerAddress, UcxError> {
        let mut attr = sys::ucp_worker_attr_t {
            field_mask: sys::UCP_WORKER_ATTR_FIELD_ADDRESS as u64,
            ..Default::default()
        };
        // SAFETY: the worker is live; `attr` is an out struct whose mask names the address.
        let st = unsafe { sys::ucp_worker_query(self.inner.handle, &mut attr) };
        Status(st).check("ucp_worker_query")?;
        if attr.address.is_null() {
            return Err(UcxError::BadAddress(
                "UCX returned no worker address".into(),
            ));
        }
        // SAFETY: UCX filled `address` with `address_length` bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(attr.address as *const u8, attr.address_length).to_vec()
        };
        // SAFETY: the address was allocated by `ucp_worker_query` for this worker and is
        // released once, after copying.
        unsafe { sys::ucp_worker_release_address(self.inner.handle, attr.address) };
        Ok(WorkerAddress::from_ucx(bytes))
    }

    /// Creates an endpoint to the worker at `address`. The connection is set up in the
    /// background; [`Endpoint::flush`] completes once it is established.
    pub fn connect(&self, address: &WorkerAddress, mode: ErrorMode) -> Result<Endpoint, UcxError> {
        let peer = match address.worker_uid() {
            Ok(uid) => format!("worker {uid:#018x}"),
            Err(_) => "worker (unknown id)".to_string(),
        };
        let params = sys::ucp_ep_params_t {
            field_mask: sys::UCP_EP_PARAM_FIELD_REMOTE_ADDRESS as u64,
            address: address.as_bytes().as_ptr() as *const sys::ucp_address_t,
            ..Default::default()
        };
        Endpoint::create(&self.inner, params, mode, peer)
    }

    /// Creates an endpoint to the listener at `addr` (client-server connection set-up over
    /// UCX's TCP connection manager, so `UCX_TLS` must include `tcp`). A refused connection
    /// shows as an [`UcxError::EndpointFailed`] of [`Endpoint::flush`] and later operations.
    pub fn connect_sockaddr(
        &self,
        addr: SocketAddr,
        mode: ErrorMode,
    ) -> Result<Endpoint, UcxError> {
        let sa = socket2::SockAddr::from(addr);
        let params = sys::ucp_ep_params_t {
            field_mask: (sys::UCP_EP_PARAM_FIELD_FLAGS | sys::UCP_EP_PARAM_FIELD_SOCK_ADDR) as u64,
            flags: sys::UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
            sockaddr: sys::ucs_sock_addr_t {
                addr: sa.as_ptr().cast(),
                addrlen: sa.len(),
            },
            ..Default::default()
        };
        // `sa` outlives the call, which copies the address.
        Endpoint::create(&self.inner, params, mode, addr.to_string())
    }

    /// Listens for connections on `addr` (port 0: any free port, see
    /// [`Listener::local_addr`]).
    pub fn listen(&self, addr: SocketAddr) -> Result<Listener, UcxError> {
        self.inner.note_connection();
        Listener::create(&self.inner, addr)
    }

    /// The largest active-message header this worker can send.
    pub fn max_am_header(&self) -> usize {
        self.inner.max_am_header
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The context the worker belongs to.
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// What has woken the worker's progress driver so far.
    pub fn progress_stats(&self) -> ProgressStats {
        self.inner.activity.stats.get()
    }

    /// Makes `f` count what this worker's owner awaits beyond its requests (e.g. replies to
    /// calls it sent): while that is not zero, the progress driver keeps polling as it does
    /// for outstanding requests ([`super::ProgressConfig::spin`]), so that an awaited message
    /// is seen at once instead of through the event fd. `f` runs on the worker's thread at
    /// every idle round of the driver: it must be cheap, and must not hold the worker (a
    /// strong reference would keep it alive).
    pub fn set_awaiting(&self, f: impl Fn() -> usize + 'static) {
        self.inner.activity.set_awaiting(Box::new(f));
    }

    /// One round of progress on the calling thread (for an owner that drives the worker
    /// itself, see [`super::InlineWorker`]): the number of events handled. Buffers that
    /// completion callbacks released are dropped after it.
    pub fn progress(&self) -> u32 {
        let n = self.inner.progress();
        self.inner.activity.bury();
        n
    }

    /// Arms the worker's event fd before sleeping on it: false if events are already
    /// pending (progress again first).
    pub fn arm(&self) -> Result<bool, UcxError> {
        self.inner.arm()
    }

    /// Requests posted on this worker that UCX has not completed yet.
    pub fn pending_requests(&self) -> usize {
        self.inner.activity.pending()
    }
}
