//! Listeners: accept client-server connections on a socket address (UCX's TCP connection
//! manager), queue the connection requests, and turn each into an [`Endpoint`] (or reject
//! it).
//!
//! Owns [`Listener`] and [`ConnRequest`]; must not progress the worker.

use super::endpoint::{Endpoint, ErrorMode};
use super::error::{Status, UcxError};
use super::worker::WorkerInner;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use ucx_sys as sys;

/// Connection requests queued by the callback (its argument).
#[derive(Default)]
struct Queue {
    requests: RefCell<VecDeque<sys::ucp_conn_request_h>>,
    waker: RefCell<Option<Waker>>,
}

unsafe extern "C" fn conn_requested(request: sys::ucp_conn_request_h, arg: *mut c_void) {
    // SAFETY: `arg` is the listener's queue, alive until the listener is destroyed.
    let q = unsafe { &*(arg as *const Queue) };
    match q.requests.try_borrow_mut() {
        Ok(mut r) => r.push_back(request),
        // Not reachable (never borrowed across UCX calls); leave the request unanswered
        // rather than panic inside UCX.
        Err(_) => return,
    }
    if let Some(w) = q.waker.try_borrow_mut().ok().and_then(|mut w| w.take()) {
        w.wake();
    }
}

struct ListenerInner {
    handle: Cell<sys::ucp_listener_h>,
    worker: Rc<WorkerInner>,
    queue: Box<Queue>,
    addr: SocketAddr,
}

impl ListenerInner {
    fn reject(&self, request: sys::ucp_conn_request_h) {
        // SAFETY: the listener is live and `request` one of its requests, answered once.
        let st = unsafe { sys::ucp_listener_reject(self.handle.get(), request) };
        if let Err(e) = Status(st).check("ucp_listener_reject") {
            tracing::debug!("{e}");
        }
    }
}

impl Drop for ListenerInner {
    fn drop(&mut self) {
        let queued: Vec<_> = match self.queue.requests.try_borrow_mut() {
            Ok(mut r) => r.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for r in queued {
            self.reject(r);
        }
        // SAFETY: the listener is live and destroyed once; no connection request of it is
        // left (queued ones were rejected, accepted ones became endpoints, and every
        // `ConnRequest` holds this state).
        unsafe { sys::ucp_listener_destroy(self.handle.get()) };
    }
}

/// A listener on a socket address, bound to its worker's thread.
pub struct Listener {
    inner: Rc<ListenerInner>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

/// Reads a socket address that UCX filled in.
fn socket_addr(storage: &sys::sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: the closure copies a whole `sockaddr_storage` into socket2's zeroed storage of
    // the same size and layout; the length is that size.
    let r = unsafe {
        socket2::SockAddr::try_init(|out, len| {
            std::ptr::copy_nonoverlapping(
                storage as *const sys::sockaddr_storage as *const u8,
                out as *mut u8,
                std::mem::size_of::<sys::sockaddr_storage>(),
            );
            *len = std::mem::size_of::<sys::sockaddr_storage>() as libc::socklen_t;
            Ok(())
        })
    };
    r.ok().and_then(|((), a)| a.as_socket())
}

impl Listener {
    pub(crate) fn create(worker: &Rc<WorkerInner>, addr: SocketAddr) -> Result<Listener, UcxError> {
        let queue = Box::<Queue>::default();
        let sa = socket2::SockAddr::from(addr);
        let params = sys::ucp_listener_params_t {
            field_mask: (sys::UCP_LISTENER_PARAM_FIELD_SOCK_ADDR
                | sys::UCP_LISTENER_PARAM_FIELD_CONN_HANDLER) as u64,
            sockaddr: sys::ucs_sock_addr_t {
                addr: sa.as_ptr().cast(),
                addrlen: sa.len(),
            },
            conn_handler: sys::ucp_listener_conn_handler_t {
                cb: Some(conn_requested),
                arg: &*queue as *const Queue as *mut c_void,
            },
            ..Default::default()
        };
        let mut handle: sys::ucp_listener_h = std::ptr::null_mut();
        // SAFETY: the worker is live; `params` is initialised, its socket address outlives the
        // call (UCX copies it), and the callback's argument is boxed (stable) and kept until
        // the listener is destroyed.
        let st = unsafe { sys::ucp_listener_create(worker.handle, &params, &mut handle) };
        Status(st)
            .check("ucp_listener_create")
            .map_err(|e| match e {
                UcxError::Call { status, .. } => {
                    UcxError::BadSocketAddress(format!("cannot listen on {addr}: {status}"))
                }
                other => other,
            })?;
        let mut attr = sys::ucp_listener_attr_t {
            field_mask: sys::UCP_LISTENER_ATTR_FIELD_SOCKADDR as u64,
            ..Default::default()
        };
        // SAFETY: the listener is live; `attr` is an out struct whose mask names the address.
        let st = unsafe { sys::ucp_listener_query(handle, &mut attr) };
        let bound = if Status(st).is_ok() {
            socket_addr(&attr.sockaddr).unwrap_or(addr)
        } else {
            addr
        };
        Ok(Listener {
            inner: Rc::new(ListenerInner {
                handle: Cell::new(handle),
                worker: worker.clone(),
                queue,
                addr: bound,
            }),
        })
    }

    /// The address the listener is bound to (with the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Waits for the next connection request.
    pub async fn accept(&mut self) -> ConnRequest {
        let request = poll_fn(|cx| {
            let q = &self.inner.queue;
            if let Some(r) = q
                .requests
                .try_borrow_mut()
                .ok()
                .and_then(|mut r| r.pop_front())
            {
                return Poll::Ready(r);
            }
            if let Ok(mut w) = q.waker.try_borrow_mut() {
                *w = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        let mut attr = sys::ucp_conn_request_attr_t {
            field_mask: sys::UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR as u64,
            ..Default::default()
        };
        // SAFETY: `request` is a live, unanswered connection request of this listener.
        let st = unsafe { sys::ucp_conn_request_query(request, &mut attr) };
        let client = if Status(st).is_ok() {
            socket_addr(&attr.client_address)
        } else {
            None
        };
        ConnRequest {
            listener: self.inner.clone(),
            request: Cell::new(request),
            client,
        }
    }
}

/// A client's request to connect, to accept or reject (dropping it rejects it).
pub struct ConnRequest {
    listener: Rc<ListenerInner>,
    request: Cell<sys::ucp_conn_request_h>,
    client: Option<SocketAddr>,
}

impl std::fmt::Debug for ConnRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnRequest")
            .field("client", &self.client)
            .finish()
    }
}

impl ConnRequest {
    /// The client's socket address, if UCX reported it.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client
    }

    /// Accepts the connection: an endpoint to the client, with error handling `mode`.
    pub fn accept(self, mode: ErrorMode) -> Result<Endpoint, UcxError> {
        let request = self.request.replace(std::ptr::null_mut());
        let params = sys::ucp_ep_params_t {
            field_mask: sys::UCP_EP_PARAM_FIELD_CONN_REQUEST as u64,
            conn_request: request,
            ..Default::default()
        };
        let peer = match self.client {
            Some(a) => format!("client {a}"),
            None => "client (unknown address)".to_string(),
        };
        // UCX consumes the request in `ucp_ep_create`, whether it succeeds or not.
        Endpoint::create(&self.listener.worker, params, mode, peer)
    }

    /// Refuses the connection (the client's endpoint fails).
    pub fn reject(self) {
        drop(self);
    }
}

impl Drop for ConnRequest {
    fn drop(&mut self) {
        let r = self.request.replace(std::ptr::null_mut());
        if !r.is_null() {
            self.listener.reject(r);
        }
    }
}
