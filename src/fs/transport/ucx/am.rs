//! Active messages: sending a header plus a payload on an endpoint (eager for small payloads,
//! rendezvous for large ones, as UCX chooses or as asked), and receiving them per message id
//! through an [`AmReceiver`], each [`IncomingMessage`] carrying its header, the endpoint it
//! came on, and a payload that the receiver moves into a buffer of its choice (rendezvous
//! payloads go straight from the sender into that buffer: no staging copy).
//!
//! Owns [`Protocol`], [`AmReceiver`], [`IncomingMessage`], [`Endpoint::send_am`] and the
//! receive callback; must not progress the worker.

use super::buffer::{IoBuf, IoBufMut};
use super::endpoint::Endpoint;
use super::endpoint::{EndpointTable, EpHandle};
use super::error::{Status, UcxError};
use super::request::{post, Callback, RequestSlot, Transfer};
use super::worker::WorkerInner;
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use ucx_sys as sys;

/// How a payload is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// UCX chooses by size and transport (eager below the rendezvous threshold).
    #[default]
    Auto,
    /// Always eager: the payload travels with the header and is copied out at the receiver.
    Eager,
    /// Always rendezvous: the receiver is told the size and pulls the payload into the
    /// buffer it chooses.
    Rendezvous,
}

impl Protocol {
    fn flags(self) -> u32 {
        match self {
            Protocol::Auto => 0,
            Protocol::Eager => sys::UCP_AM_SEND_FLAG_EAGER,
            Protocol::Rendezvous => sys::UCP_AM_SEND_FLAG_RNDV,
        }
    }
}

impl Endpoint {
    /// Sends active message `id` with `header` (at most [`super::Worker::max_am_header`]
    /// bytes, copied) and `payload` (owned by the transfer until UCX is done with it, then
    /// given back). Messages posted on one endpoint are delivered in posting order; the send
    /// is started before this returns.
    pub fn send_am<B: IoBuf>(
        &self,
        id: u16,
        header: &[u8],
        payload: B,
        protocol: Protocol,
    ) -> Transfer<B> {
        const OP: &str = "ucp_am_send_nbx";
        let worker = self.worker();
        if header.len() > worker.max_am_header {
            return Transfer::ready(
                OP,
                Err(UcxError::HeaderTooLong {
                    len: header.len(),
                    max: worker.max_am_header,
                }),
            );
        }
        let ep = match self.live_handle() {
            Ok(ep) => ep,
            Err(e) => return Transfer::ready(OP, Err(e)),
        };
        let slot = RequestSlot::new(&worker.activity, header);
        let mut param = sys::ucp_request_param_t {
            op_attr_mask: sys::UCP_OP_ATTR_FIELD_FLAGS,
            flags: sys::UCP_AM_SEND_FLAG_REPLY | protocol.flags(),
            ..Default::default()
        };
        if let Some(reg) = payload.registration() {
            if reg.context == worker.context.handle() {
                param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_MEMH;
                param.memh = reg.memh;
            }
        }
        let (hptr, hlen) = match slot.header.len() {
            0 => (std::ptr::null(), 0),
            n => (slot.header.as_ptr() as *const c_void, n),
        };
        let (dptr, dlen) = match payload.len() {
            0 => (std::ptr::null(), 0),
            n => (payload.as_ptr() as *const c_void, n),
        };
        // SAFETY: `ep` is a live endpoint of this worker. The header lives in the slot and the
        // payload in the transfer (or the slot, if the transfer is dropped) until UCX completes
        // the request, and neither moves (`IoBuf` contract); the memory handle, if given,
        // belongs to this worker's context and covers the payload.
        let posted = post(&slot, param, Callback::Send, |p| unsafe {
            sys::ucp_am_send_nbx(ep, u32::from(id), hptr, hlen, dptr, dlen, p)
        });
        Transfer::posted(OP, posted, slot, payload, Some(self.shared().clone()))
    }
}

/// Where a received payload is until the receiver takes it.
enum Data {
    /// Copied out by the callback (UCX did not let the data persist).
    Copied(Bytes),
    /// Eager data that UCX keeps until `ucp_am_data_release`.
    Held(*mut c_void),
    /// A rendezvous descriptor: the payload is still at the sender.
    Rendezvous(*mut c_void),
}

/// A message as the receive callback queued it.
struct RawMessage {
    header: Bytes,
    data: Data,
    len: usize,
    reply: Option<Weak<EpHandle>>,
}

/// Releases what UCX keeps for a message that will not be received.
fn release(worker: sys::ucp_worker_h, data: &Data) {
    match data {
        Data::Copied(_) => {}
        Data::Held(p) | Data::Rendezvous(p) => {
            // SAFETY: `p` was handed to the receive callback, which kept it (returned
            // `UCS_INPROGRESS`), and it is released once: its message is consumed by this.
            unsafe { sys::ucp_am_data_release(worker, *p) }
        }
    }
}

/// The queue of one active-message id, filled by the receive callback (its argument).
pub(crate) struct AmQueue {
    id: u16,
    open: Cell<bool>,
    messages: RefCell<VecDeque<RawMessage>>,
    waker: RefCell<Option<Waker>>,
    endpoints: Rc<EndpointTable>,
}

impl AmQueue {
    pub(crate) fn new(id: u16, endpoints: Rc<EndpointTable>) -> Rc<Self> {
        Rc::new(AmQueue {
            id,
            open: Cell::new(true),
            messages: RefCell::new(VecDeque::new()),
            waker: RefCell::new(None),
            endpoints,
        })
    }

    pub(crate) fn id(&self) -> u16 {
        self.id
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.get()
    }

    pub(crate) fn reopen(&self) {
        self.open.set(true);
    }

    /// Stops accepting messages and releases those queued.
    pub(crate) fn close(&self, worker: sys::ucp_worker_h) {
        self.open.set(false);
        let queued: Vec<RawMessage> = match self.messages.try_borrow_mut() {
            Ok(mut m) => m.drain(..).collect(),
            Err(_) => return,
        };
        for m in &queued {
            release(worker, &m.data);
        }
    }

    fn push(&self, m: RawMessage) -> Result<(), RawMessage> {
        match self.messages.try_borrow_mut() {
            Ok(mut q) => q.push_back(m),
            Err(_) => return Err(m),
        }
        let waker = self.waker.try_borrow_mut().ok().and_then(|mut w| w.take());
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    fn pop(&self) -> Option<RawMessage> {
        self.messages
            .try_borrow_mut()
            .ok()
            .and_then(|mut q| q.pop_front())
    }
}

/// Installs the receive callback of `queue`'s id on `worker`.
pub(crate) fn set_handler(worker: sys::ucp_worker_h, queue: &Rc<AmQueue>) -> Result<(), UcxError> {
    let param = sys::ucp_am_handler_param_t {
        field_mask: (sys::UCP_AM_HANDLER_PARAM_FIELD_ID
            | sys::UCP_AM_HANDLER_PARAM_FIELD_FLAGS
            | sys::UCP_AM_HANDLER_PARAM_FIELD_CB
            | sys::UCP_AM_HANDLER_PARAM_FIELD_ARG) as u64,
        id: u32::from(queue.id),
        flags: sys::UCP_AM_FLAG_WHOLE_MSG | sys::UCP_AM_FLAG_PERSISTENT_DATA,
        cb: Some(am_received),
        arg: Rc::as_ptr(queue) as *mut c_void,
    };
    // SAFETY: the worker is live; the callback's argument is the queue, which the worker keeps
    // (in its list of queues) until it is destroyed.
    let st = unsafe { sys::ucp_worker_set_am_recv_handler(worker, &param) };
    Status(st).check("ucp_worker_set_am_recv_handler")
}

/// Status returned for a rendezvous message whose id has no open receiver: the sender's send
/// completes with it.
const NO_RECEIVER: sys::ucs_status_t = sys::UCS_ERR_NO_ELEM;

/// UCX's receive callback of every active-message id.
unsafe extern "C" fn am_received(
    arg: *mut c_void,
    header: *const c_void,
    header_length: usize,
    data: *mut c_void,
    length: usize,
    param: *const sys::ucp_am_recv_param_t,
) -> sys::ucs_status_t {
    // SAFETY: `arg` is the queue registered with this callback, alive while the worker is.
    let queue = unsafe { &*(arg as *const AmQueue) };
    // SAFETY: UCX passes a valid parameter block for the duration of the callback.
    let (attr, reply_ep) = unsafe { ((*param).recv_attr, (*param).reply_ep) };
    let rndv = attr & sys::UCP_AM_RECV_ATTR_FLAG_RNDV as u64 != 0;
    let persistent = attr & sys::UCP_AM_RECV_ATTR_FLAG_DATA as u64 != 0;
    if !queue.is_open() {
        return if rndv { NO_RECEIVER } else { sys::UCS_OK };
    }
    let header = if header_length == 0 || header.is_null() {
        Bytes::new()
    } else {
        // SAFETY: UCX passes `header_length` readable header bytes for the callback's duration.
        Bytes::copy_from_slice(unsafe {
            std::slice::from_raw_parts(header as *const u8, header_length)
        })
    };
    let (data, keep) = if rndv {
        (Data::Rendezvous(data), true)
    } else if persistent {
        (Data::Held(data), true)
    } else if length == 0 || data.is_null() {
        (Data::Copied(Bytes::new()), false)
    } else {
        // SAFETY: eager data of `length` bytes, readable for the callback's duration.
        let b = Bytes::copy_from_slice(unsafe {
            std::slice::from_raw_parts(data as *const u8, length)
        });
        (Data::Copied(b), false)
    };
    let reply = if attr & sys::UCP_AM_RECV_ATTR_FIELD_REPLY_EP as u64 != 0 && !reply_ep.is_null() {
        queue
            .endpoints
            .try_borrow()
            .ok()
            .and_then(|t| t.get(&(reply_ep as usize)).cloned())
    } else {
        None
    };
    let message = RawMessage {
        header,
        data,
        len: length,
        reply,
    };
    match queue.push(message) {
        Ok(()) if keep => sys::UCS_INPROGRESS,
        Ok(()) => sys::UCS_OK,
        // Not reachable (the queue is never borrowed across UCX calls); drop the message.
        Err(_) if rndv => NO_RECEIVER,
        Err(_) => sys::UCS_OK,
    }
}

/// The receiving end of one active-message id on one worker. Dropping it stops the
/// delivery (later messages are dropped; rendezvous senders get an error) until the id is
/// registered again.
pub struct AmReceiver {
    worker: Rc<WorkerInner>,
    queue: Rc<AmQueue>,
}

impl AmReceiver {
    pub(crate) fn new(worker: Rc<WorkerInner>, queue: Rc<AmQueue>) -> Self {
        AmReceiver { worker, queue }
    }

    /// The active-message id.
    pub fn id(&self) -> u16 {
        self.queue.id
    }

    /// The next message, if one is queued.
    pub fn try_recv(&mut self) -> Option<IncomingMessage> {
        let raw = self.queue.pop()?;
        Some(IncomingMessage::new(
            self.worker.clone(),
            self.queue.id,
            raw,
        ))
    }

    /// Waits for the next message.
    pub async fn recv(&mut self) -> IncomingMessage {
        poll_fn(|cx| {
            if let Some(m) = self.try_recv() {
                return Poll::Ready(m);
            }
            if let Ok(mut w) = self.queue.waker.try_borrow_mut() {
                match &*w {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for AmReceiver {
    fn drop(&mut self) {
        self.queue.close(self.worker.handle);
    }
}

/// One received active message: its header, the endpoint it arrived on (when that endpoint
/// is one of this worker's, created by connecting or accepting), and its payload, still to
/// be moved into a buffer. Dropping the message drops the payload (a rendezvous sender's send
/// then completes without transferring it).
pub struct IncomingMessage {
    worker: Rc<WorkerInner>,
    id: u16,
    header: Bytes,
    data: Option<Data>,
    len: usize,
    reply: Option<Endpoint>,
}

impl std::fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("id", &self.id)
            .field("header_len", &self.header.len())
            .field("payload_len", &self.len)
            .field("rendezvous", &self.is_rendezvous())
            .finish()
    }
}

impl IncomingMessage {
    fn new(worker: Rc<WorkerInner>, id: u16, raw: RawMessage) -> Self {
        let reply = raw
            .reply
            .and_then(|w| w.upgrade())
            .map(|inner| Endpoint { inner });
        IncomingMessage {
            worker,
            id,
            header: raw.header,
            data: Some(raw.data),
            len: raw.len,
            reply,
        }
    }

    /// The active-message id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The header bytes.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The payload's length.
    pub fn payload_len(&self) -> usize {
        self.len
    }

    /// True if the payload is still at the sender (rendezvous).
    pub fn is_rendezvous(&self) -> bool {
        matches!(self.data, Some(Data::Rendezvous(_)))
    }

    /// The endpoint the message arrived on, to reply on, if it is one of this worker's.
    pub fn reply_endpoint(&self) -> Option<&Endpoint> {
        self.reply.as_ref()
    }

    /// Moves the payload into the first [`IncomingMessage::payload_len`] bytes of `buf` and
    /// gives `buf` back. A rendezvous payload is written by UCX straight into `buf` (using
    /// its registration, if any); if the sending endpoint fails first, the transfer ends with
    /// its error. A `buf` shorter than the payload fails with [`UcxError::BufferTooSmall`]
    /// and the payload is dropped.
    pub fn recv_into<B: IoBufMut>(mut self, mut buf: B) -> Transfer<B> {
        const OP: &str = "ucp_am_recv_data_nbx";
        let len = self.len;
        if buf.len() < len {
            return Transfer::ready(
                OP,
                Err(UcxError::BufferTooSmall {
                    len,
                    capacity: buf.len(),
                }),
            );
        }
        match self.data.take() {
            None => Transfer::ready(
                OP,
                Err(UcxError::Call {
                    op: OP,
                    status: Status(sys::UCS_ERR_NO_ELEM),
                }),
            ),
            Some(Data::Copied(b)) => {
                if len > 0 {
                    // SAFETY: `buf` has at least `len` writable bytes (checked above), `b`
                    // holds `len` bytes, and the two do not overlap (`b` is ours).
                    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), buf.as_mut_ptr(), len) };
                }
                Transfer::ready(OP, Ok(buf))
            }
            Some(Data::Held(p)) => {
                if len > 0 {
                    // SAFETY: UCX keeps `len` bytes at `p` until released below; `buf` has at
                    // least `len` writable bytes that UCX does not own.
                    unsafe { std::ptr::copy_nonoverlapping(p as *const u8, buf.as_mut_ptr(), len) };
                }
                release(self.worker.handle, &Data::Held(p));
                Transfer::ready(OP, Ok(buf))
            }
            Some(Data::Rendezvous(desc)) => {
                let slot = RequestSlot::new(&self.worker.activity, &[]);
                let mut param = sys::ucp_request_param_t::default();
                if let Some(reg) = buf.registration() {
                    if reg.context == self.worker.context.handle() {
                        param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_MEMH;
                        param.memh = reg.memh;
                    }
                }
                let ptr = buf.as_mut_ptr() as *mut c_void;
                let worker = self.worker.handle;
                // SAFETY: `desc` is a rendezvous descriptor kept by the receive callback and not
                // yet used (taken out of `self.data`, so it is not released on drop: UCX owns it
                // after this call, whatever the outcome); `buf` owns at least `len` writable
                // bytes that stay in place until UCX completes (`IoBufMut` contract, and the
                // transfer or its slot keeps `buf`).
                let posted = post(&slot, param, Callback::RecvAm, |p| unsafe {
                    sys::ucp_am_recv_data_nbx(worker, desc, ptr, len, p)
                });
                let watch = self.reply.as_ref().map(|e| e.shared().clone());
                Transfer::posted(OP, posted, slot, buf, watch)
            }
        }
    }

    /// The payload as [`Bytes`]: without a copy if the callback already copied it, else
    /// received into a fresh buffer.
    pub async fn into_bytes(mut self) -> Result<Bytes, UcxError> {
        if let Some(Data::Copied(b)) = &self.data {
            let b = b.clone();
            self.data = None;
            return Ok(b);
        }
        let len = self.len;
        let v = self.recv_into(vec![0u8; len]).await?;
        Ok(Bytes::from(v))
    }
}

impl Drop for IncomingMessage {
    fn drop(&mut self) {
        if let Some(d) = self.data.take() {
            release(self.worker.handle, &d);
        }
    }
}
