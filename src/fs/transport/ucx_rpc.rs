//! The UCX transport: [`UcxConnector`] (clients) and [`UcxListenerTask`] (servers), the
//! [`Connector`] and [`Listener`] traits over UCX active messages.
//!
//! Every frame is one active message: its header carries a route (which connection it
//! belongs to at the receiver), the same [`FrameHeader`] as TCP (kind, op, request id,
//! lengths) and, when small, the frame's message; its payload is the bulk data (eager when
//! small, rendezvous when large: UCX then moves it from the sender's buffer straight into the
//! buffer the receiver allocates for it, with no staging copy). A server receives a large
//! payload that its handler takes into a file ([`Handler::file_sink`]: a chunk write)
//! straight into a mapping of the file's range, and sends a large reply's file region from
//! a mapping of it when the request is its only one in progress ([`super::ucx_mapped`]),
//! so that the rendezvous transfer is the payload's only copy on the server; otherwise it
//! goes through a pooled buffer. Replies are matched
//! to calls by request id in the same pending-call table as TCP ([`super::pending`]), so
//! concurrent calls never swap replies. A client holds at most [`MAX_IN_FLIGHT`] calls in
//! flight per connection; a server bounds its requests in progress in all and per
//! connection (a request waiting for a slot leaves its rendezvous payload at the client).
//!
//! Connections: a server publishes its worker address (`ucx/<label>/<hex>`, see
//! [`server_address`]); a client connects an endpoint to it and presents the cluster secret
//! and its own worker addresses in a Hello, and the server connects back for the replies.
//! Data endpoints use no UCX error handling, so that shared-memory lanes are used on a node.
//! Each side also keeps a peer-failure endpoint to the other (TCP lanes, no traffic; on a
//! separate client worker, since UCX 1.13 refuses both modes between one pair of workers):
//! when it fails, every pending call fails with an error naming the peer, so that a killed
//! server never leaves a client waiting beyond its timeouts, and a server forgets a dead
//! client. A graceful stop answers the requests in progress, then sends each client a
//! goodbye (request id 0) saying how many replies preceded it; the client takes its leave
//! once they have all arrived (a client closing a connection takes its leave the same way).
//! A client connection opened on a current-thread runtime is carried by that thread's own
//! worker ([`DIRECT`], an [`InlineWorker`]): a call made there posts its request and
//! progresses the worker itself while it waits (a short poll, then the worker's event fd in
//! the runtime's reactor), so that it wakes its thread once, for its reply; an idle direct
//! connection takes its leave over its peer-failure endpoint, whose thread is always
//! progressed. Other client connections, calls made on another thread (over a second
//! connection opened for them) and the servers' workers live on threads of their own
//! ([`WorkerThread`]). Owns the framing over active messages and the connection tables;
//! must not know about file system operations beyond Hello.

use super::handshake::{self, ServerHandshake};
use super::io_buffer::{IoBuffer, IoSlice, COPY_STATS};
use super::pending::PendingCalls;
use super::ucx::{
    Context, ContextBuilder, Endpoint, ErrorMode, IncomingMessage, InlineStats, InlineWorker,
    IoBuf, ProgressConfig, Protocol, Spawner, UcxError, Waiting, Worker, WorkerAddress,
    WorkerThread,
};
use super::ucx_mapped::{MappedRegion, MappedSink, MAP_STATS};
use super::ucx_registered::{self, BufferPool, RecvSlice, SendPayload, POOL_MIN};
use super::{
    read_region, read_region_into, BoxFuture, Connection, Connector, FileRegion, Handler,
    ListenOptions, Listener, Reply,
};
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{encode_error, FrameHeader, FrameKind, Response, HEADER_LEN};
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The op of the attach frame that opens a connection (a transport frame, no wire op): it
/// carries the client's worker addresses; the reply carries the connection's route at the
/// server. The handshake ([`handshake`]) follows on that route.
const ATTACH_OP: u16 = u16::MAX;
/// Active-message id of requests (client to server).
const AM_REQUEST: u16 = 0xbf01;
/// Active-message id of replies (server to client).
const AM_REPLY: u16 = 0xbf02;
/// Bytes of the route in front of every frame header.
const ROUTE_LEN: usize = 8;
/// Largest active-message header used (route, frame header and an inline message): longer
/// messages travel at the front of the payload.
const MAX_INLINE_HEADER: usize = 4096;
/// Most calls in flight on one client connection (further calls wait for a slot).
pub const MAX_IN_FLIGHT: usize = 256;
/// Prefix of UCX addresses in registry entries and client address lists.
pub const ADDRESS_PREFIX: &str = super::choice::UCX_PREFIX;
/// Most pooled buffers of one server ([`BufferPool`]): requests with large payloads in
/// progress at once beyond this many use fresh memory.
const POOL_BUFFERS: usize = 32;
/// Most pooled buffers of a client's worker, for replies received for plain memory.
const CLIENT_POOL_BUFFERS: usize = 16;
/// How long a graceful stop waits for requests in progress.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The process's UCP context, once made.
static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);

/// The process's UCP context: the one [`use_context`] installed, else one made from UCX's
/// `UCX_*` environment at the first use.
pub fn context() -> FsResult<Context> {
    let mut g = CONTEXT
        .lock()
        .map_err(|_| FsError::Io("UCX context lock poisoned".into()))?;
    if let Some(c) = g.as_ref() {
        return Ok(c.clone());
    }
    let c = ContextBuilder::new().build().map_err(|e| e.to_fs_error())?;
    *g = Some(c.clone());
    Ok(c)
}

/// Makes `ctx` the process's UCP context (e.g. one restricted to the loopback device in
/// tests), unless a context is already in use; true if it was installed.
pub fn use_context(ctx: Context) -> bool {
    match CONTEXT.lock() {
        Ok(mut g) if g.is_none() => {
            *g = Some(ctx);
            true
        }
        _ => false,
    }
}

/// The address a server with worker `address` publishes: `ucx/<label>/<hex>`, where
/// `label` names the server in error messages.
pub fn server_address(label: &str, address: &WorkerAddress) -> String {
    format!(
        "{ADDRESS_PREFIX}{}/{}",
        label.replace('/', "_"),
        address.to_hex()
    )
}

/// Splits an address of [`server_address`] into the server's name (`ucx/<label>`) and its
/// worker address.
pub fn parse_address(addr: &str) -> FsResult<(String, WorkerAddress)> {
    let bad = |why: &str| FsError::InvalidArgument(format!("bad UCX address '{addr}': {why}"));
    let rest = addr
        .strip_prefix(ADDRESS_PREFIX)
        .ok_or_else(|| bad("it does not start with 'ucx/'"))?;
    let (label, hex) = rest
        .rsplit_once('/')
        .ok_or_else(|| bad("no worker address after the label"))?;
    let worker = WorkerAddress::from_hex(hex).map_err(|e| bad(&e.to_string()))?;
    Ok((format!("{ADDRESS_PREFIX}{label}"), worker))
}

/// The start of a frame's active-message header: the route and the frame header (room
/// left for the message, if it goes inline).
fn frame_head(
    route: u64,
    kind: FrameKind,
    op: u16,
    id: u64,
    msg_len: usize,
    bulk_len: usize,
) -> Vec<u8> {
    let fh = FrameHeader {
        kind,
        op,
        id,
        msg_len: msg_len as u32,
        bulk_len: bulk_len as u32,
    }
    .encode();
    let mut header = Vec::with_capacity(ROUTE_LEN + HEADER_LEN + msg_len);
    header.extend_from_slice(&route.to_le_bytes());
    header.extend_from_slice(&fh);
    header
}

/// True if a message of `msg_len` bytes travels inside the active-message header (of at
/// most `max_header` bytes on this worker).
fn fits_inline(msg_len: usize, max_header: usize) -> bool {
    ROUTE_LEN + HEADER_LEN + msg_len <= max_header.min(MAX_INLINE_HEADER)
}

/// Encodes one frame as an active message: its header (route, frame header, the message if
/// it fits) and its payload (the bulk data, after the message if that did not fit).
fn encode_frame(
    route: u64,
    kind: FrameKind,
    op: u16,
    id: u64,
    msg: &Bytes,
    bulk: Bytes,
    max_header: usize,
) -> (Vec<u8>, Bytes) {
    let mut header = frame_head(route, kind, op, id, msg.len(), bulk.len());
    if fits_inline(msg.len(), max_header) {
        header.extend_from_slice(msg);
        return (header, bulk);
    }
    if bulk.is_empty() {
        return (header, msg.clone());
    }
    let mut joined = Vec::with_capacity(msg.len() + bulk.len());
    joined.extend_from_slice(msg);
    joined.extend_from_slice(&bulk);
    (header, Bytes::from(joined))
}

/// A received frame's header: route, frame header, and the message if it came inline.
struct Head {
    route: u64,
    frame: FrameHeader,
    inline: Option<Bytes>,
}

/// Decodes the header of a received active message whose payload has `payload_len` bytes.
fn decode_head(header: &Bytes, payload_len: usize) -> FsResult<Head> {
    if header.len() < ROUTE_LEN + HEADER_LEN {
        return Err(FsError::Protocol(format!(
            "UCX frame header of {} bytes",
            header.len()
        )));
    }
    let mut r = [0u8; ROUTE_LEN];
    r.copy_from_slice(&header[..ROUTE_LEN]);
    let route = u64::from_le_bytes(r);
    let frame = FrameHeader::decode(&header[ROUTE_LEN..])?;
    let rest = header.len() - ROUTE_LEN - HEADER_LEN;
    let (m, b) = (frame.msg_len as usize, frame.bulk_len as usize);
    let inline = if rest == m && payload_len == b {
        Some(header.slice(ROUTE_LEN + HEADER_LEN..))
    } else if rest == 0 && payload_len == m + b {
        None
    } else {
        return Err(FsError::Protocol(format!(
            "UCX frame of {m}+{b} bytes arrived as {rest}+{payload_len}"
        )));
    };
    Ok(Head {
        route,
        frame,
        inline,
    })
}

/// Receives a message's payload (by rendezvous into a fresh buffer when it is large) and
/// splits it into the frame's message and bulk data.
async fn receive_frame(m: IncomingMessage, head: &Head) -> FsResult<(Bytes, Bytes)> {
    let payload = if m.payload_len() == 0 {
        Bytes::new()
    } else {
        m.into_bytes().await.map_err(|e| e.to_fs_error())?
    };
    Ok(match &head.inline {
        Some(msg) => (msg.clone(), payload),
        None => {
            let m = head.frame.msg_len as usize;
            (payload.slice(..m), payload.slice(m..))
        }
    })
}

/// As [`receive_frame`], a large rendezvous payload (with its message inline) into a
/// buffer of `pool` (no allocation, zeroing or registration per message).
async fn receive_pooled(
    pool: &BufferPool,
    m: IncomingMessage,
    head: &Head,
) -> FsResult<(Bytes, Bytes)> {
    if let (Some(msg), true) = (&head.inline, m.is_rendezvous()) {
        if let Some(lease) = pool.lend(m.payload_len()) {
            let filled = m.recv_into(lease).await.map_err(|e| e.to_fs_error())?;
            return Ok((msg.clone(), Bytes::from_owner(filled)));
        }
    }
    receive_frame(m, head).await
}

/// True if a reply with this head and a `payload_len`-byte payload can be received into
/// `dest`: a reply (not an error) whose message came inline and whose data fits.
fn fits_in_place(head: &Head, payload_len: usize, dest: &IoSlice) -> bool {
    head.frame.kind == FrameKind::Reply
        && head.inline.is_some()
        && payload_len > 0
        && payload_len <= dest.len()
}

/// Receives a reply's payload straight into the caller's buffer `dest` (by rendezvous with
/// the buffer's registration when it is large); the bulk returned is `dest`'s bytes.
async fn receive_in_place(
    m: IncomingMessage,
    head: &Head,
    dest: IoSlice,
) -> FsResult<(Bytes, Bytes)> {
    let n = m.payload_len();
    let Some(target) = dest.sub(0..n) else {
        return receive_frame(m, head).await;
    };
    let slice = RecvSlice(target);
    let registered = m.is_rendezvous() && slice.is_registered();
    let RecvSlice(filled) = m.recv_into(slice).await.map_err(|e| e.to_fs_error())?;
    COPY_STATS.in_place(n);
    if registered {
        COPY_STATS.registered(n);
    }
    let msg = head.inline.clone().unwrap_or_default();
    Ok((msg, filled.to_bytes()))
}

/// Waits until the first of two endpoints fails or closes.
async fn first_failure(a: &Endpoint, b: Option<&Endpoint>) -> UcxError {
    match b {
        Some(b) => tokio::select! {
            e = a.failed() => e,
            e = b.failed() => e,
        },
        None => a.failed().await,
    }
}

/// Closes an endpoint, waiting at most a second for UCX to flush it.
async fn close_soon(ep: &Endpoint) {
    let _ = tokio::time::timeout(Duration::from_secs(1), ep.close()).await;
}

// ---------------------------------------------------------------------------------------
// Client side.

/// One client connection as its worker thread sees it.
struct ClientRoute {
    pending: Arc<PendingCalls>,
    ep: Endpoint,
    peer: String,
    /// Replies of this route being received (a server's goodbye waits for them).
    receiving: Rc<Cell<usize>>,
    /// Replies of this route that arrived so far (a goodbye says how many were sent).
    received: Rc<Cell<u64>>,
    /// The connection's route at the server (known once the Hello is answered).
    server_route: Rc<Cell<u64>>,
    /// Where the bulk payload of a call's reply goes, by request id (calls that gave one).
    dests: Rc<RefCell<HashMap<u64, IoSlice>>>,
}

/// The client worker thread's state: its connections by route.
struct ClientState {
    routes: RefCell<HashMap<u64, ClientRoute>>,
    /// Registered buffers for large replies received for plain memory.
    pool: BufferPool,
    next: Cell<u64>,
    /// Replies this worker has delivered to their calls so far.
    replies: Cell<u64>,
}

impl ClientState {
    /// Calls of every connection waiting for their replies.
    fn awaited(&self) -> usize {
        match self.routes.try_borrow() {
            Ok(r) => r.values().map(|r| r.pending.len()).sum(),
            Err(_) => 1,
        }
    }
}

type ClientThread = WorkerThread<Rc<ClientState>>;

/// The guard worker thread's state: the peer-failure endpoint of each connection, by route.
/// (UCX 1.13 refuses endpoints of both error-handling modes between one pair of workers,
/// so these live on a worker of their own.)
#[derive(Default)]
struct GuardState {
    eps: RefCell<HashMap<u64, Endpoint>>,
}

type GuardThread = WorkerThread<Rc<GuardState>>;

/// Delivers one reply to the call waiting for it; a frame with request id 0 is the server's
/// goodbye (a graceful stop, after every reply).
async fn client_reply(st: Rc<ClientState>, m: IncomingMessage) {
    let head = match decode_head(m.header(), m.payload_len()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("dropped a UCX reply: {e}");
            return;
        }
    };
    let (pending, peer, counts, server_route, dest) = match st.routes.borrow().get(&head.route) {
        Some(r) => (
            r.pending.clone(),
            r.peer.clone(),
            (r.receiving.clone(), r.received.clone()),
            r.server_route.clone(),
            r.dests.borrow_mut().remove(&head.frame.id),
        ),
        None => return,
    };
    let (receiving, received) = counts;
    if head.frame.id == 0 {
        let sent = head
            .inline
            .as_ref()
            .and_then(|m| <[u8; 8]>::try_from(m.as_ref()).ok())
            .map_or(0, u64::from_le_bytes);
        drop(m);
        let arrived = move || received.get() >= sent && receiving.get() == 0;
        return goodbye(st, head.route, pending, peer, arrived).await;
    }
    received.set(received.get() + 1);
    receiving.set(receiving.get() + 1);
    st.replies.set(st.replies.get() + 1);
    let got = match dest {
        Some(d) if fits_in_place(&head, m.payload_len(), &d) => receive_in_place(m, &head, d).await,
        _ => receive_pooled(&st.pool, m, &head).await,
    };
    match got {
        Ok((msg, bulk)) => {
            if head.frame.op == ATTACH_OP && head.frame.kind == FrameKind::Reply {
                if let Ok(key) = <[u8; 8]>::try_from(bulk.as_ref()) {
                    server_route.set(u64::from_le_bytes(key));
                }
            }
            pending.deliver(head.frame.kind, head.frame.id, msg, bulk, || peer)
        }
        Err(e) => {
            if let Some(w) = pending.take(head.frame.id) {
                let _ = w.send(Err(e));
            }
        }
    }
    receiving.set(receiving.get() - 1);
}

/// The server of `route` stops gracefully: once every reply it sent before has arrived
/// (`arrived`), the calls still waiting fail, and the client takes its leave.
async fn goodbye(
    st: Rc<ClientState>,
    route: u64,
    pending: Arc<PendingCalls>,
    peer: String,
    arrived: impl Fn() -> bool,
) {
    let deadline = tokio::time::Instant::now() + GOODBYE_WAIT;
    while !arrived() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    pending.fail_all(FsError::ConnectionReset(format!("{peer} shut down")));
    drop_route(st, route, Leave::Tell).await;
}

/// Longest wait of a goodbye for the replies before it, and of a server for its clients
/// to take their leave.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// How a route ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leave {
    /// The client closes it: the server is told, so that it forgets the connection.
    Tell,
    /// The server is dead: the endpoint is marked failed, nothing is sent.
    Failed,
    /// The server was told already (over the peer-failure endpoint): the endpoint closes.
    Quiet,
}

/// Forgets route `route` of the client's worker and closes its endpoint.
async fn drop_route(st: Rc<ClientState>, route: u64, how: Leave) {
    let r = st.routes.borrow_mut().remove(&route);
    let Some(r) = r else {
        return;
    };
    match how {
        Leave::Failed => r.ep.mark_failed(),
        Leave::Quiet => {}
        Leave::Tell => {
            let to = r.server_route.get();
            let (h, p) = encode_frame(to, FrameKind::Request, 0, 0, &Bytes::new(), Bytes::new(), 0);
            let sent = r.ep.send_am(AM_REQUEST, &h, p, Protocol::Eager);
            let _ = tokio::time::timeout(GOODBYE_WAIT, sent).await;
        }
    }
    close_soon(&r.ep).await;
}

/// How long replies already on their way may still arrive after a server's peer-failure
/// endpoint failed (a graceful stop flushes them before closing it), before the calls still
/// waiting fail.
const FAILURE_GRACE: Duration = Duration::from_millis(100);

/// On the guard thread: once the server's peer-failure endpoint fails, fails every call of
/// the connection with an error naming the server (on the data thread, after the replies
/// already received are delivered), and drops its route.
async fn watch_server(
    gst: Rc<GuardState>,
    route: u64,
    guard: Endpoint,
    pending: Arc<PendingCalls>,
    peer: String,
    data: Home,
) {
    let e = guard.failed().await;
    let err = FsError::ConnectionReset(format!("connection to {peer} lost: {e}"));
    match data {
        Home::Thread(data) => {
            data.post(move |_, st| async move {
                tokio::time::sleep(FAILURE_GRACE).await;
                pending.fail_all(err);
                drop_route((*st).clone(), route, Leave::Failed).await;
            });
        }
        Home::Direct(dead) => {
            // The calls fail from here (their waiters are woken across threads); the
            // route is dropped by its own thread at its next drive.
            tokio::task::spawn_local(async move {
                tokio::time::sleep(FAILURE_GRACE).await;
                pending.fail_all(err);
                dead.push(route, Leave::Failed);
            });
        }
    }
    gst.eps.borrow_mut().remove(&route);
    close_soon(&guard).await;
}

/// The Hello payload: the client's data worker address and its guard worker address.
fn hello_payload(data: &WorkerAddress, guard: &WorkerAddress) -> Bytes {
    let (d, g) = (data.pack(), guard.pack());
    let mut out = Vec::with_capacity(4 + d.len() + g.len());
    out.extend_from_slice(&(d.len() as u32).to_le_bytes());
    out.extend_from_slice(&d);
    out.extend_from_slice(&g);
    Bytes::from(out)
}

/// Reads [`hello_payload`].
fn parse_hello_payload(b: &[u8]) -> Result<(WorkerAddress, WorkerAddress), UcxError> {
    let short = || UcxError::BadAddress(format!("Hello payload of {} bytes", b.len()));
    let len: [u8; 4] = b
        .get(..4)
        .and_then(|x| x.try_into().ok())
        .ok_or_else(short)?;
    let n = u32::from_le_bytes(len) as usize;
    let d = b.get(4..4 + n).ok_or_else(short)?;
    let g = b.get(4 + n..).ok_or_else(short)?;
    Ok((WorkerAddress::unpack(d)?, WorkerAddress::unpack(g)?))
}

/// An error of connecting to `peer`, named after it: a reset or failed endpoint means that
/// nothing answers there (ECONNREFUSED, as a TCP connect would say).
/// One step of opening a connection to `peer`, run on a worker thread: its result within
/// `timeout`, an error of the step or of the worker named as a failed connect.
async fn connect_step<T>(
    peer: &str,
    timeout: Duration,
    step: impl Future<Output = Result<FsResult<T>, UcxError>>,
) -> FsResult<T> {
    match tokio::time::timeout(timeout, step).await {
        Ok(r) => r
            .map_err(|e| e.to_fs_error())
            .and_then(|r| r)
            .map_err(|e| connect_error(peer, e)),
        Err(_) => Err(FsError::TimedOut(format!("connect to {peer}"))),
    }
}

fn connect_error(peer: &str, e: FsError) -> FsError {
    let m = format!("connect to {peer}: {}", e.message());
    match e {
        FsError::ConnectionReset(_) | FsError::ConnectionRefused(_) => {
            FsError::ConnectionRefused(m)
        }
        other => FsError::from_errno(other.errno(), m),
    }
}

/// Connects to BenchFS servers over UCX. One worker thread carries every connection of the
/// connector, a second one their peer-failure endpoints; [`UcxConnector::shared`] is the
/// process's.
#[derive(Clone)]
pub struct UcxConnector {
    worker: Arc<ClientThread>,
    guard: Arc<GuardThread>,
}

impl std::fmt::Debug for UcxConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UcxConnector").finish_non_exhaustive()
    }
}

/// Progress of the guard worker: it carries no traffic, so it never spins.
const GUARD_PROGRESS: ProgressConfig = ProgressConfig {
    spin: Duration::ZERO,
    linger: Duration::ZERO,
    busy_wait: Duration::from_millis(10),
    idle_wait: Duration::from_millis(200),
};

/// Progress of the workers that carry calls, a client's and a server's: while requests are
/// outstanding (on a client, also while calls await their replies) each keeps polling for
/// `spin` after the last event, then sleeps on the event fd. The window is short because on
/// a machine with few cores a polling thread takes the CPU that the other side's thread and
/// the caller need (`fs_transports` at load 4-6 on 2 cores: 1000 us halved 1 MiB writes and
/// 4 KiB IOPS at 32 in flight; 10 us beat the former 50 us). `BENCHFS_UCX_CLIENT_*` and
/// `BENCHFS_UCX_SERVER_*` (`_SPIN_US`, `_LINGER_US`) override the windows of each side, for
/// benchmarks, e.g. a longer spin where cores are to spare.
const DATA_PROGRESS: ProgressConfig = ProgressConfig {
    spin: Duration::from_micros(10),
    linger: Duration::ZERO,
    busy_wait: Duration::from_millis(1),
    idle_wait: Duration::from_millis(50),
};

/// `base` with its spin and linger windows taken from `<prefix>_SPIN_US` and
/// `<prefix>_LINGER_US` (microseconds) where those are set to a number (any other value is
/// named in a warning and ignored).
fn progress_from_env(base: ProgressConfig, prefix: &str) -> ProgressConfig {
    let us = |name: &str| {
        let var = format!("{prefix}_{name}_US");
        let v = std::env::var(&var).ok()?;
        match v.trim().parse::<u64>() {
            Ok(n) => Some(Duration::from_micros(n)),
            Err(_) => {
                tracing::warn!("{var}={v:?} is not a number of microseconds: ignored");
                None
            }
        }
    };
    ProgressConfig {
        spin: us("SPIN").unwrap_or(base.spin),
        linger: us("LINGER").unwrap_or(base.linger),
        ..base
    }
}

impl UcxConnector {
    /// A connector with worker threads of its own.
    pub fn new() -> FsResult<Self> {
        let ctx = context()?;
        let pool_ctx = ctx.clone();
        let worker = WorkerThread::spawn(
            &ctx,
            "benchfs-ucx-client",
            progress_from_env(DATA_PROGRESS, "BENCHFS_UCX_CLIENT"),
            |w: &Worker| {
                let mut rx = w.register_am(AM_REPLY)?;
                let st = Rc::new(ClientState {
                    routes: RefCell::default(),
                    next: Cell::default(),
                    pool: BufferPool::new(pool_ctx, CLIENT_POOL_BUFFERS),
                    replies: Cell::default(),
                });
                let weak = Rc::downgrade(&st);
                w.set_awaiting(move || weak.upgrade().map_or(0, |s| s.awaited()));
                let s = st.clone();
                tokio::task::spawn_local(async move {
                    loop {
                        let m = rx.recv().await;
                        tokio::task::spawn_local(client_reply(s.clone(), m));
                    }
                });
                Ok(st)
            },
        )
        .map_err(|e| e.to_fs_error())?;
        let guard = WorkerThread::spawn(&ctx, "benchfs-ucx-guard", GUARD_PROGRESS, |_: &Worker| {
            Ok(Rc::new(GuardState::default()))
        })
        .map_err(|e| e.to_fs_error())?;
        Ok(UcxConnector {
            worker: Arc::new(worker),
            guard: Arc::new(guard),
        })
    }

    /// The process's connector (created at the first use).
    pub fn shared() -> FsResult<Self> {
        static SHARED: Mutex<Option<UcxConnector>> = Mutex::new(None);
        let mut g = SHARED
            .lock()
            .map_err(|_| FsError::Io("UCX connector lock poisoned".into()))?;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = UcxConnector::new()?;
        *g = Some(c.clone());
        Ok(c)
    }

    /// Connects to the server at `addr` (see [`server_address`]) and presents `secret`.
    /// On a current-thread runtime the connection is carried by this thread's own worker
    /// ([`DIRECT`]): its calls made here progress it themselves (no hop to a worker
    /// thread); `BENCHFS_UCX_DIRECT=0` turns that off. Elsewhere, and for calls made on
    /// another thread, the connector's worker thread carries it.
    pub async fn connect_to(
        &self,
        addr: &str,
        secret: &[u8],
        timeout: Duration,
    ) -> FsResult<Arc<UcxConnection>> {
        self.connect_lane(addr, secret, timeout, direct_wanted())
            .await
    }

    /// [`UcxConnector::connect_to`], on this thread's worker if `direct`.
    fn connect_lane<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: Duration,
        direct: bool,
    ) -> BoxFuture<'a, FsResult<Arc<UcxConnection>>> {
        Box::pin(self.open_lane(addr, secret, timeout, direct))
    }

    /// The body of [`UcxConnector::connect_lane`].
    async fn open_lane(
        &self,
        addr: &str,
        secret: &[u8],
        timeout: Duration,
        direct: bool,
    ) -> FsResult<Arc<UcxConnection>> {
        let (peer, server) = parse_address(addr)?;
        let pending = Arc::new(PendingCalls::default());
        let (route, lane, data_addr, home) = if direct {
            // No handle of this thread's worker is kept across an await (the future is Send).
            let (id, route, dead, address) = {
                let d = direct_worker().map_err(|e| connect_error(&peer, e))?;
                let route = open_route(
                    d.inline.state(),
                    d.inline.worker(),
                    &server,
                    &pending,
                    &peer,
                )
                .map_err(|e| connect_error(&peer, e))?;
                (d.id, route, d.dead.clone(), d.address.clone())
            };
            let lane = Lane::Direct {
                worker: id,
                dead: dead.clone(),
                fallback: tokio::sync::OnceCell::new(),
                connector: self.clone(),
                addr: addr.to_string(),
                secret: secret.to_vec(),
            };
            (route, lane, address, Home::Direct(dead))
        } else {
            let (p, name, srv) = (pending.clone(), peer.clone(), server.clone());
            let setup = self
                .worker
                .run(move |w, st| async move { open_route(&st, &w, &srv, &p, &name) });
            let route = connect_step(&peer, timeout, setup).await?;
            let home = Home::Thread(self.worker.clone());
            (
                route,
                Lane::Thread(self.worker.clone()),
                self.worker.address().clone(),
                home,
            )
        };
        // From here on, dropping `conn` releases the route (and the guard endpoint).
        let conn = Arc::new(UcxConnection {
            lane,
            guard: self.guard.clone(),
            route,
            server_route: AtomicU64::new(0),
            pending: pending.clone(),
            peer: peer.clone(),
            slots: Semaphore::new(MAX_IN_FLIGHT),
            store: std::sync::OnceLock::new(),
        });
        // The peer-failure endpoint: a server that is gone refuses it at once.
        let name = peer.clone();
        let guarded = self.guard.run(move |w, gst| async move {
            let g = w
                .connect(&server, ErrorMode::Peer)
                .map_err(|e| e.to_fs_error())?;
            g.flush().await.map_err(|e| e.to_fs_error())?;
            gst.eps.borrow_mut().insert(route, g.clone());
            tokio::task::spawn_local(watch_server((*gst).clone(), route, g, pending, name, home));
            w.address().map_err(|e| e.to_fs_error())
        });
        let guard_addr = connect_step(&peer, timeout, guarded).await?;
        let payload = hello_payload(&data_addr, &guard_addr);
        let r = conn
            .call_ucx(ATTACH_OP, Bytes::new(), payload, None, timeout)
            .await
            .map_err(|e| connect_error(&peer, e))?;
        let key: [u8; 8] = r.bulk.as_ref().try_into().map_err(|_| {
            FsError::Protocol(format!("{} answered the attach without a route", conn.peer))
        })?;
        conn.server_route
            .store(u64::from_le_bytes(key), Ordering::SeqCst);
        let store = handshake::authenticate(&*conn, secret, timeout).await?;
        let _ = conn.store.set(store);
        Ok(conn)
    }

    /// Replies the connector's worker thread has delivered so far (those of connections
    /// it carries).
    pub async fn thread_replies(&self) -> FsResult<u64> {
        self.worker
            .run(|_, st| async move { st.replies.get() })
            .await
            .map_err(|e| e.to_fs_error())
    }
}

/// Opens a route to `server` on `w`, the worker of `st`: an endpoint (no error handling,
/// so that shared memory is used) and the route's entry.
fn open_route(
    st: &ClientState,
    w: &Worker,
    server: &WorkerAddress,
    pending: &Arc<PendingCalls>,
    peer: &str,
) -> FsResult<u64> {
    let ep = w
        .connect(server, ErrorMode::None)
        .map_err(|e| e.to_fs_error())?;
    let route = st.next.get() + 1;
    st.next.set(route);
    st.routes.borrow_mut().insert(
        route,
        ClientRoute {
            pending: pending.clone(),
            ep,
            peer: peer.to_string(),
            receiving: Rc::new(Cell::new(0)),
            received: Rc::new(Cell::new(0)),
            server_route: Rc::new(Cell::new(0)),
            dests: Rc::new(RefCell::new(HashMap::new())),
        },
    );
    Ok(route)
}

/// Whether a connection opened now is carried by this thread's own worker: on a
/// current-thread runtime (a multi-threaded one moves a call's future between threads),
/// unless `BENCHFS_UCX_DIRECT=0`.
fn direct_wanted() -> bool {
    let current = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    current && std::env::var("BENCHFS_UCX_DIRECT").map_or(true, |v| v != "0")
}

/// Routes of a thread's own worker to drop, posted from other threads (a connection
/// dropped elsewhere, a server found dead by the guard thread); its thread drops them at
/// its next drive.
#[derive(Default)]
struct DeadRoutes(Mutex<Vec<(u64, Leave)>>);

impl DeadRoutes {
    fn push(&self, route: u64, how: Leave) {
        if let Ok(mut v) = self.0.lock() {
            v.push((route, how));
        }
    }

    fn take(&self) -> Vec<(u64, Leave)> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// Where a connection's data route lives, as its guard sees it.
enum Home {
    /// On the connector's worker thread.
    Thread(Arc<ClientThread>),
    /// On the worker of the thread that opened it.
    Direct(Arc<DeadRoutes>),
}

/// A thread's own client worker (see [`DIRECT`]).
struct DirectWorker {
    /// Tells this worker from those of other threads (connections name theirs).
    id: u64,
    inline: InlineWorker<ClientState>,
    address: WorkerAddress,
    dead: Arc<DeadRoutes>,
}

impl DirectWorker {
    /// Drops the routes other threads gave up.
    fn reap(&self) {
        for (route, how) in self.dead.take() {
            let st = self.inline.state().clone();
            self.inline.spawner().spawn(drop_route(st, route, how));
        }
    }
}

thread_local! {
    /// This thread's own client worker, made by the first connection opened here on a
    /// current-thread runtime: the calls made here progress it while they wait (a bounded
    /// poll, then its event fd through the runtime's reactor), so that a call wakes this
    /// thread once, for its reply, with no worker thread between.
    static DIRECT: RefCell<Option<Rc<DirectWorker>>> = const { RefCell::new(None) };
}

/// This thread's [`DIRECT`] worker, made if there is none.
fn direct_worker() -> FsResult<Rc<DirectWorker>> {
    if let Some(d) = DIRECT.with(|d| d.borrow().clone()) {
        return Ok(d);
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let ctx = context()?;
    let pool_ctx = ctx.clone();
    let inline = InlineWorker::new(
        &ctx,
        "benchfs-ucx-direct",
        progress_from_env(DATA_PROGRESS, "BENCHFS_UCX_CLIENT"),
        |w: &Worker, spawner: &Spawner| {
            let mut rx = w.register_am(AM_REPLY)?;
            let st = Rc::new(ClientState {
                routes: RefCell::default(),
                next: Cell::default(),
                pool: BufferPool::new(pool_ctx, CLIENT_POOL_BUFFERS),
                replies: Cell::default(),
            });
            let (s, sp) = (st.clone(), spawner.clone());
            spawner.spawn(async move {
                loop {
                    let m = rx.recv().await;
                    sp.spawn(client_reply(s.clone(), m));
                }
            });
            Ok(st)
        },
    )
    .map_err(|e| e.to_fs_error())?;
    let address = inline.worker().address().map_err(|e| e.to_fs_error())?;
    let d = Rc::new(DirectWorker {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        inline,
        address,
        dead: Arc::default(),
    });
    DIRECT.with(|c| *c.borrow_mut() = Some(d.clone()));
    Ok(d)
}

/// This thread's own worker if it is worker `id`.
fn direct_home(id: u64) -> Option<Rc<DirectWorker>> {
    DIRECT
        .try_with(|d| d.borrow().as_ref().filter(|d| d.id == id).cloned())
        .ok()
        .flatten()
}

/// What this thread's own client worker ([`DIRECT`]) has done so far, if it has one: its
/// driving, and the replies it has delivered.
pub fn direct_stats() -> Option<(InlineStats, u64)> {
    DIRECT
        .try_with(|d| {
            d.borrow()
                .as_ref()
                .map(|d| (d.inline.stats(), d.inline.state().replies.get()))
        })
        .ok()
        .flatten()
}

impl Connector for UcxConnector {
    fn connect<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: Duration,
    ) -> BoxFuture<'a, FsResult<Arc<dyn Connection>>> {
        Box::pin(async move {
            let c: Arc<dyn Connection> = self.connect_to(addr, secret, timeout).await?;
            Ok(c)
        })
    }

    fn alloc_io_buffer(&self, len: usize) -> FsResult<IoBuffer> {
        ucx_registered::alloc(&context()?, len)
    }
}

/// Client side of one UCX connection: many calls in flight, matched to replies by id.
pub struct UcxConnection {
    lane: Lane,
    guard: Arc<GuardThread>,
    /// This connection's route at the client's worker (replies carry it).
    route: u64,
    /// Its route at the server (requests carry it; 0 until the Hello is answered).
    server_route: AtomicU64,
    pending: Arc<PendingCalls>,
    peer: String,
    slots: Semaphore,
    /// The server's store id, once the handshake told it.
    store: std::sync::OnceLock<u64>,
}

/// Which worker carries a connection's calls.
enum Lane {
    /// The connector's worker thread: every call is posted there.
    Thread(Arc<ClientThread>),
    /// The worker of the thread that opened the connection ([`DIRECT`]), driven by the
    /// calls made there; a call made on another thread goes over `fallback`, a connection
    /// of the worker thread to the same server, opened at the first such call.
    Direct {
        worker: u64,
        dead: Arc<DeadRoutes>,
        fallback: tokio::sync::OnceCell<Arc<UcxConnection>>,
        connector: UcxConnector,
        addr: String,
        secret: Vec<u8>,
    },
}

impl Drop for UcxConnection {
    fn drop(&mut self) {
        let route = self.route;
        match &self.lane {
            Lane::Thread(worker) => {
                worker.post(move |_, st| drop_route((*st).clone(), route, Leave::Tell));
                self.guard.post(move |_, gst| async move {
                    let g = gst.eps.borrow_mut().remove(&route);
                    if let Some(g) = g {
                        close_soon(&g).await;
                    }
                });
            }
            Lane::Direct { dead, .. } => {
                // The leave goes over the peer-failure endpoint, whose thread is always
                // progressed (this thread's worker may not be progressed again soon, and
                // this may not be its thread); the route is dropped by its own thread.
                dead.push(route, Leave::Quiet);
                let to = self.server_route.load(Ordering::SeqCst);
                self.guard.post(move |_, gst| async move {
                    let g = gst.eps.borrow_mut().remove(&route);
                    if let Some(g) = g {
                        if to != 0 {
                            let (h, p) = encode_frame(
                                to,
                                FrameKind::Request,
                                0,
                                0,
                                &Bytes::new(),
                                Bytes::new(),
                                0,
                            );
                            let sent = g.send_am(AM_REQUEST, &h, p, Protocol::Eager);
                            let _ = tokio::time::timeout(GOODBYE_WAIT, sent).await;
                        }
                        close_soon(&g).await;
                    }
                });
            }
        }
    }
}

/// One call to post: where it goes and what it carries.
struct Posting {
    /// The connection's route at the client.
    route: u64,
    /// The route the request carries (the server's, or the client's for the attach).
    to: u64,
    op: u16,
    id: u64,
    msg: Bytes,
    bulk: Bytes,
    dest: Option<IoSlice>,
}

/// Posts one call's request on the worker of `st` (its thread); a failed send fails the
/// call at once through the pending table.
async fn post_call(
    st: Rc<ClientState>,
    max_header: usize,
    c: Posting,
    pending: Arc<PendingCalls>,
    peer: String,
) {
    let ep = st.routes.borrow().get(&c.route).map(|r| {
        if let Some(d) = c.dest {
            r.dests.borrow_mut().insert(c.id, d);
        }
        r.ep.clone()
    });
    let sent = match ep {
        None => Err(FsError::ConnectionReset(format!(
            "connection to {peer} is closed"
        ))),
        Some(ep) => {
            let (h, payload) = encode_frame(
                c.to,
                FrameKind::Request,
                c.op,
                c.id,
                &c.msg,
                c.bulk,
                max_header,
            );
            ep.send_am(AM_REQUEST, &h, SendPayload::new(payload), Protocol::Auto)
                .await
                .map(|_| ())
                .map_err(|e| e.to_fs_error())
        }
    };
    if let Err(e) = sent {
        if let Some(r) = st.routes.borrow().get(&c.route) {
            r.dests.borrow_mut().remove(&c.id);
        }
        if let Some(waiter) = pending.take(c.id) {
            let _ = waiter.send(Err(e));
        }
    }
}

/// The wait of a call on its thread's own worker: posts the request at the first poll,
/// then drives the worker until the reply is in (see [`InlineWorker::poll_until`]). `Send`:
/// it touches the worker only through [`DIRECT`], on the worker's thread; polled on
/// another thread, it only waits for its reply (which the guard fails if the server dies).
struct DirectCall<'a> {
    conn: &'a UcxConnection,
    worker: u64,
    posting: Option<Posting>,
    reply: tokio::sync::oneshot::Receiver<FsResult<Reply>>,
    waiting: Option<Waiting>,
}

impl std::future::Future for DirectCall<'_> {
    type Output = Result<FsResult<Reply>, tokio::sync::oneshot::error::RecvError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        let Some(d) = direct_home(this.worker) else {
            return std::pin::Pin::new(&mut this.reply).poll(cx);
        };
        d.reap();
        if let Some(posting) = this.posting.take() {
            let st = d.inline.state().clone();
            let max = d.inline.worker().max_am_header();
            let (pending, peer) = (this.conn.pending.clone(), this.conn.peer.clone());
            d.inline
                .spawner()
                .spawn(post_call(st, max, posting, pending, peer));
        }
        let waiting = this.waiting.get_or_insert_with(|| d.inline.waiting());
        let reply = &mut this.reply;
        d.inline
            .poll_until(waiting, cx, |cx| std::pin::Pin::new(&mut *reply).poll(cx))
    }
}

impl UcxConnection {
    /// Sends a request and waits for its reply, for at most `timeout`; the reply's bulk
    /// payload goes into `dest` if one is given and it fits (see [`Connection::call_into`]).
    pub async fn call_ucx(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: Option<IoSlice>,
        timeout: Duration,
    ) -> FsResult<Reply> {
        if let Lane::Direct {
            worker,
            fallback,
            connector,
            addr,
            secret,
            ..
        } = &self.lane
        {
            if direct_home(*worker).is_none() {
                let other = fallback
                    .get_or_try_init(|| connector.connect_lane(addr, secret, timeout, false))
                    .await?;
                return other.call_lane(op, msg, bulk, dest, timeout).await;
            }
        }
        self.call_lane(op, msg, bulk, dest, timeout).await
    }

    /// [`UcxConnection::call_ucx`] on the connection's own lane (on a direct one, from the
    /// thread whose worker it is).
    async fn call_lane(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: Option<IoSlice>,
        timeout: Duration,
    ) -> FsResult<Reply> {
        let fut = async {
            let _slot = self.slots.acquire().await.map_err(|_| {
                FsError::ConnectionReset(format!("connection to {} is closed", self.peer))
            })?;
            let (id, reply, _guard) = self.pending.register_into(
                || FsError::ConnectionReset(format!("connection to {} is closed", self.peer)),
                None,
            )?;
            let (route, server_route) = (self.route, self.server_route.load(Ordering::SeqCst));
            // The attach goes on the client's route (the server has none for us yet).
            let to = if op == ATTACH_OP { route } else { server_route };
            let posting = Posting {
                route,
                to,
                op,
                id,
                msg,
                bulk,
                dest,
            };
            let got = match &self.lane {
                Lane::Direct { worker, .. } => {
                    DirectCall {
                        conn: self,
                        worker: *worker,
                        posting: Some(posting),
                        reply,
                        waiting: None,
                    }
                    .await
                }
                Lane::Thread(worker) => {
                    let (pending, peer) = (self.pending.clone(), self.peer.clone());
                    // Posted on the worker's thread; its outcome comes back through the
                    // pending table (a failed send fails the call at once).
                    let posted = worker.post(move |w, st| {
                        post_call((*st).clone(), w.max_am_header(), posting, pending, peer)
                    });
                    if !posted {
                        return Err(FsError::ConnectionReset(format!(
                            "connection to {}: the UCX worker thread has stopped",
                            self.peer
                        )));
                    }
                    reply.await
                }
            };
            match got {
                Ok(r) => r,
                Err(_) => Err(FsError::ConnectionReset(format!(
                    "connection to {} closed during the call",
                    self.peer
                ))),
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(FsError::TimedOut(format!(
                "op {op} to {} after {:?}",
                self.peer, timeout
            ))),
        }
    }

    /// True if the connection is carried by the worker of the thread that opened it (its
    /// calls made there progress that worker themselves), false if by a worker thread.
    pub fn is_direct(&self) -> bool {
        matches!(self.lane, Lane::Direct { .. })
    }

    /// Number of calls waiting for a reply.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

impl Connection for UcxConnection {
    fn call(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(self.call_ucx(op, msg, bulk, None, timeout))
    }

    fn call_into(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: IoSlice,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(self.call_ucx(op, msg, bulk, Some(dest), timeout))
    }

    fn is_closed(&self) -> bool {
        self.pending.is_closed()
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn store(&self) -> Option<u64> {
        self.store.get().copied()
    }
}

// ---------------------------------------------------------------------------------------
// Server side.

/// One client connection as the server's worker thread sees it.
struct ServerConn {
    /// The endpoint replies go on.
    ep: Endpoint,
    /// The peer-failure endpoint to the client.
    guard: Option<Endpoint>,
    /// The connection's route at the client.
    client_route: u64,
    /// Its share of the server's request slots.
    own: Arc<Semaphore>,
    /// Signalled when the client takes its leave after a goodbye.
    left: tokio::sync::Notify,
    /// Replies posted to the client so far (the goodbye tells it how many to wait for).
    sent: Cell<u64>,
    /// The handshake; nothing else is served before it is done.
    hs: RefCell<ServerHandshake>,
}

/// The server worker thread's state.
struct ServerState {
    worker: Worker,
    handler: Arc<dyn Handler>,
    /// Registered buffers for large request payloads and file regions.
    pool: BufferPool,
    /// The server's multi-threaded runtime, where requests with large payloads or file
    /// regions are handled (see [`ServerState::off_worker`]); none: on the worker's thread.
    offload: Option<tokio::runtime::Handle>,
    secret: Arc<Vec<u8>>,
    store: u64,
    handshake_timeout: Duration,
    total: Arc<Semaphore>,
    max_total: u32,
    per_connection: usize,
    /// Most connections at once (`--max-connections`), and of them most still in their
    /// handshake; an attach beyond is refused with `EBUSY`.
    max_connections: usize,
    max_unauthenticated: usize,
    /// The server's name in refusals.
    label: String,
    conns: RefCell<HashMap<u64, Rc<ServerConn>>>,
    next: Cell<u64>,
    stopping: Cell<bool>,
}

type ServerThread = WorkerThread<Rc<ServerState>>;

impl ServerState {
    /// Sends one reply frame to `conn` (a client that went away fails the send, which is
    /// only logged).
    async fn reply(
        &self,
        conn: &ServerConn,
        kind: FrameKind,
        h: &FrameHeader,
        msg: Bytes,
        bulk: Bytes,
    ) {
        let (header, payload) = encode_frame(
            conn.client_route,
            kind,
            h.op,
            h.id,
            &msg,
            bulk,
            self.worker.max_am_header(),
        );
        if h.id != 0 {
            conn.sent.set(conn.sent.get() + 1);
        }
        let payload = SendPayload::uncounted(payload);
        if let Err(e) = conn
            .ep
            .send_am(AM_REPLY, &header, payload, Protocol::Auto)
            .await
        {
            tracing::debug!("UCX reply to {} not sent: {e}", conn.ep.peer());
        }
    }

    /// Why a new connection is refused now, if it is: the server is stopping, or has its
    /// most connections open (all, or still in their handshake).
    fn refusal(&self) -> Option<FsError> {
        if self.stopping.get() {
            return Some(FsError::Busy("the server is shutting down".into()));
        }
        let conns = self.conns.borrow();
        if conns.len() >= self.max_connections {
            return Some(FsError::Busy(format!(
                "server {ADDRESS_PREFIX}{} has {} connections open, its limit (--max-connections)",
                self.label, self.max_connections
            )));
        }
        let waiting = conns.values().filter(|c| !c.hs.borrow().is_done()).count();
        (waiting >= self.max_unauthenticated).then(|| {
            FsError::Busy(format!(
                "server {ADDRESS_PREFIX}{} has too many connections still in their handshake",
                self.label
            ))
        })
    }

    /// Runs `work` (a large request's handling: chunk I/O) on the server's runtime, so that
    /// the worker's thread goes on moving data meanwhile (the next piece's rendezvous); on
    /// the worker's thread if the server has no multi-threaded runtime.
    async fn off_worker<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = FsResult<T>> + Send + 'static,
    ) -> FsResult<T> {
        match &self.offload {
            Some(rt) => rt
                .spawn(work)
                .await
                .map_err(|e| FsError::Io(format!("request task failed: {e}")))?,
            None => work.await,
        }
    }

    /// The bytes of a reply's file region: a large one read into a pooled buffer, off the
    /// worker's thread.
    async fn region_bytes(&self, region: FileRegion) -> FsResult<Bytes> {
        let fail = |e: std::io::Error| FsError::from_io("read chunk", &e);
        if region.len < POOL_MIN {
            return read_region(&region).map_err(fail);
        }
        let lease = self.pool.lend(region.len);
        self.off_worker(async move {
            match lease {
                Some(mut l) => {
                    read_region_into(&region, l.as_mut_slice()).map_err(fail)?;
                    Ok(Bytes::from_owner(l))
                }
                None => read_region(&region).map_err(fail),
            }
        })
        .await
    }

    /// True if the request being answered is the only one in progress at this server.
    fn alone(&self) -> bool {
        self.total.available_permits() + 1 >= self.max_total as usize
    }

    /// Sends the reply the handler made (its file region, if any, from a mapping of the
    /// file when it is large and the request is the server's only one in progress, else
    /// read into memory), or its error. A mapped region moves the copy out of the page
    /// cache from the server to the client (which pulls cold pages where it pulled the
    /// server's cache-hot buffer): with one read in flight that shortens the chain
    /// (`fs_transports`: 1 MiB reads +17-23%), but with several in flight from one client
    /// the client's thread became the bottleneck (-21%), where the copy on the server
    /// overlaps the client's pulls.
    async fn answer(&self, conn: &ServerConn, h: &FrameHeader, handled: FsResult<Reply>) {
        let reply = match handled {
            Ok(Reply {
                msg,
                file: None,
                bulk,
            }) => Ok((msg, bulk)),
            Ok(Reply {
                msg,
                file: Some(region),
                ..
            }) => {
                let region = if region.len >= POOL_MIN
                    && fits_inline(msg.len(), self.worker.max_am_header())
                    && self.alone()
                {
                    match MappedRegion::new(region) {
                        Ok(map) => return self.reply_mapped(conn, h, msg, map).await,
                        Err(region) => region,
                    }
                } else {
                    region
                };
                self.region_bytes(region).await.map(|b| (msg, b))
            }
            Err(e) => Err(e),
        };
        match reply {
            Ok((msg, bulk)) => self.reply(conn, FrameKind::Reply, h, msg, bulk).await,
            Err(e) => self.reply_error(conn, h, &e).await,
        }
    }

    /// Sends a reply whose message fits in the header and whose payload is a mapped file
    /// region (the client pulls it from the page cache); the mapping goes once the send is
    /// over.
    async fn reply_mapped(
        &self,
        conn: &ServerConn,
        h: &FrameHeader,
        msg: Bytes,
        map: MappedRegion,
    ) {
        let len = map.len();
        let mut header = frame_head(
            conn.client_route,
            FrameKind::Reply,
            h.op,
            h.id,
            msg.len(),
            len,
        );
        header.extend_from_slice(&msg);
        conn.sent.set(conn.sent.get() + 1);
        let detacher = map.detacher();
        match conn
            .ep
            .send_am(AM_REPLY, &header, map, Protocol::Auto)
            .await
        {
            Ok(map) => {
                drop(map);
                MAP_STATS.sent(len);
            }
            Err(e) => {
                // As in `receive_mapped`: a send that may never complete pins no file.
                detacher.detach();
                tracing::debug!("UCX reply to {} not sent: {e}", conn.ep.peer());
            }
        }
    }

    /// Replies with error `e`.
    async fn reply_error(&self, conn: &ServerConn, h: &FrameHeader, e: &FsError) {
        self.reply(conn, FrameKind::Error, h, encode_error(e), Bytes::new())
            .await;
    }
}

/// Serves one request message.
async fn serve_message(st: Rc<ServerState>, m: IncomingMessage) {
    let head = match decode_head(m.header(), m.payload_len()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("dropped a UCX request: {e}");
            return;
        }
    };
    if head.frame.kind != FrameKind::Request {
        return;
    }
    if head.frame.id == 0 {
        // A client closing its connection (after the server's goodbye, or of its own).
        let c = st.conns.borrow().get(&head.route).cloned();
        if let Some(c) = c {
            c.left.notify_one();
            forget(&st, head.route).await;
        }
        return;
    }
    if head.frame.op == ATTACH_OP {
        return attach(st, m, head).await;
    }
    let Some(conn) = st.conns.borrow().get(&head.route).cloned() else {
        // Not attached (or the connection is gone): nothing is served.
        tracing::debug!("UCX request on unknown route {}", head.route);
        return;
    };
    if !conn.hs.borrow().is_done() {
        return handshake_step(&st, &conn, m, head).await;
    }
    let h = head.frame;
    // Back-pressure: the payload of a request waiting for a slot stays at the client.
    let Ok(_own) = conn.own.clone().acquire_owned().await else {
        return;
    };
    let Ok(_slot) = st.total.clone().acquire_owned().await else {
        return;
    };
    if st.stopping.get() {
        let e = FsError::ConnectionReset("the server is shutting down".into());
        return st.reply_error(&conn, &h, &e).await;
    }
    // A large rendezvous payload that the handler takes into a file goes straight into
    // the file's pages (no staging buffer, no pwrite); one it refuses stays at the client.
    if let (Some(msg), true) = (&head.inline, m.is_rendezvous()) {
        match st.handler.file_sink(h.op, msg, m.payload_len()) {
            Some(Err(e)) => return st.reply_error(&conn, &h, &e).await,
            Some(Ok(sink)) => {
                if let Ok(map) = MappedSink::new(sink, m.payload_len()) {
                    let handled = receive_mapped(&st, m, h.op, msg.clone(), map).await;
                    return st.answer(&conn, &h, handled).await;
                }
                // Not mappable: received into memory below, and written by the handler.
            }
            None => {}
        }
    }
    let (msg, bulk) = match receive_pooled(&st.pool, m, &head).await {
        Ok(x) => x,
        Err(e) => return st.reply_error(&conn, &h, &e).await,
    };
    // A large payload's chunk I/O runs off the worker's thread, overlapping the next
    // request's transfer; small requests stay here (a thread hop would cost more).
    let handled = if bulk.len() >= POOL_MIN {
        st.off_worker(st.handler.clone().handle(h.op, msg, bulk))
            .await
    } else {
        st.handler.clone().handle(h.op, msg, bulk).await
    };
    st.answer(&conn, &h, handled).await
}

/// Receives a request's payload into the mapping of its chunk file range (`map`, which
/// goes, unmapped, once UCX is done with it) and completes the request with the handler.
async fn receive_mapped(
    st: &ServerState,
    m: IncomingMessage,
    op: u16,
    msg: Bytes,
    map: MappedSink,
) -> FsResult<Reply> {
    let len = m.payload_len();
    let detacher = map.detacher();
    match m.recv_into(map).await {
        Ok(map) => drop(map),
        Err(e) => {
            // UCX may still hold the mapping (a dead client's request may never complete):
            // it keeps anonymous memory instead, and the chunk file is free again.
            detacher.detach();
            return Err(e.to_fs_error());
        }
    }
    MAP_STATS.received(len);
    st.handler.clone().handle_stored(op, msg, len, Ok(())).await
}

/// One handshake frame of connection `conn` ([`ServerHandshake`]); a failed handshake
/// closes the connection.
async fn handshake_step(
    st: &Rc<ServerState>,
    conn: &Rc<ServerConn>,
    m: IncomingMessage,
    head: Head,
) {
    let h = head.frame;
    let checked = conn.hs.borrow_mut().check_header(&h);
    let res = match checked {
        Ok(()) => match receive_frame(m, &head).await {
            Ok((msg, _)) => conn.hs.borrow_mut().step(&h, &msg),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match res {
        Ok(reply) => {
            st.reply(conn, FrameKind::Reply, &h, reply, Bytes::new())
                .await
        }
        Err(e) => {
            st.reply_error(conn, &h, &e).await;
            forget(st, head.route).await;
        }
    }
}

/// Forgets connection `key` and closes its endpoints.
async fn forget(st: &ServerState, key: u64) {
    let c = st.conns.borrow_mut().remove(&key);
    if let Some(c) = c {
        close_soon(&c.ep).await;
        if let Some(g) = &c.guard {
            close_soon(g).await;
        }
    }
}

/// An attach: connects back to the client's workers and opens the connection's route; the
/// handshake must follow within the handshake timeout.
async fn attach(st: Rc<ServerState>, m: IncomingMessage, head: Head) {
    let (_, bulk) = match receive_frame(m, &head).await {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!("UCX attach not received: {e}");
            return;
        }
    };
    let (client, client_guard) = match parse_hello_payload(&bulk) {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!("UCX attach without usable client addresses: {e}");
            return;
        }
    };
    let ep = match st.worker.connect(&client, ErrorMode::None) {
        Ok(ep) => ep,
        Err(e) => {
            tracing::debug!("cannot connect back to a UCX client: {e}");
            return;
        }
    };
    let h = head.frame;
    let mut conn = ServerConn {
        ep,
        guard: None,
        client_route: head.route,
        own: Arc::new(Semaphore::new(st.per_connection)),
        left: tokio::sync::Notify::new(),
        sent: Cell::new(0),
        hs: RefCell::new(ServerHandshake::new(st.secret.clone(), st.store)),
    };
    if let Some(e) = st.refusal() {
        st.reply_error(&conn, &h, &e).await;
        close_soon(&conn.ep).await;
        return;
    }
    conn.guard = st.worker.connect(&client_guard, ErrorMode::Peer).ok();
    let key = st.next.get() + 1;
    st.next.set(key);
    let conn = Rc::new(conn);
    st.conns.borrow_mut().insert(key, conn.clone());
    tokio::task::spawn_local(watch_client(st.clone(), key, conn.clone()));
    // A connection that does not complete the handshake in time is dropped.
    let (s, c) = (st.clone(), conn.clone());
    tokio::task::spawn_local(async move {
        tokio::time::sleep(s.handshake_timeout).await;
        if !c.hs.borrow().is_done() {
            forget(&s, key).await;
        }
    });
    st.reply(
        &conn,
        FrameKind::Reply,
        &h,
        Response::Unit.encode(),
        Bytes::copy_from_slice(&key.to_le_bytes()),
    )
    .await;
}

/// Forgets a client connection once the client is known dead or closed it.
async fn watch_client(st: Rc<ServerState>, key: u64, conn: Rc<ServerConn>) {
    let _ = first_failure(&conn.ep, conn.guard.as_ref()).await;
    st.conns.borrow_mut().remove(&key);
    close_soon(&conn.ep).await;
    if let Some(g) = &conn.guard {
        close_soon(g).await;
    }
}

/// Graceful stop on the server's thread: no new requests, in-flight ones finish and their
/// replies go out, then every client is told (a goodbye frame after the replies) and each
/// connection closes once its client has taken its leave (or after [`GOODBYE_WAIT`]).
async fn drain(st: Rc<ServerState>) {
    st.stopping.set(true);
    let all = st.total.clone();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, all.acquire_many(st.max_total)).await;
    let conns: Vec<Rc<ServerConn>> = st.conns.borrow().values().cloned().collect();
    let bye = FrameHeader {
        kind: FrameKind::Error,
        op: 0,
        id: 0,
        msg_len: 0,
        bulk_len: 0,
    };
    for c in &conns {
        let sent = Bytes::copy_from_slice(&c.sent.get().to_le_bytes());
        st.reply(c, FrameKind::Error, &bye, sent, Bytes::new())
            .await;
    }
    // The clients take their leave at once when they are waiting for replies; an idle
    // client driving its own worker ([`DIRECT`]) sees the goodbye only at its next call, so
    // the waits run together (the longest is [`GOODBYE_WAIT`] in all).
    futures::future::join_all(conns.iter().map(|c| {
        tokio::time::timeout(GOODBYE_WAIT, async {
            tokio::select! {
                _ = c.left.notified() => {}
                _ = first_failure(&c.ep, c.guard.as_ref()) => {}
            }
        })
    }))
    .await;
    st.conns.borrow_mut().clear();
    for c in &conns {
        close_soon(&c.ep).await;
        if let Some(g) = &c.guard {
            close_soon(g).await;
        }
    }
}

/// A UCX server: a worker thread whose address clients connect to, serving their requests
/// with one handler.
pub struct UcxListenerTask {
    thread: Option<ServerThread>,
    address: String,
}

impl UcxListenerTask {
    /// Starts serving with `handler` (`opts.addr` is not bound: UCX picks its own lanes;
    /// `label` names the server in the address clients see).
    pub fn bind(opts: ListenOptions, handler: Arc<dyn Handler>, label: &str) -> FsResult<Self> {
        let ctx = context()?;
        let ListenOptions {
            secret,
            store,
            max_in_flight,
            per_connection,
            max_connections,
            max_unauthenticated,
            limits,
            offload,
            ..
        } = opts;
        let name = label.replace('/', "_");
        let secret = Arc::new(secret);
        let pool_ctx = ctx.clone();
        // Only a multi-threaded runtime runs offloaded work while the caller's thread is
        // busy elsewhere (a current-thread one runs only while its owner waits on it).
        let offload = tokio::runtime::Handle::try_current().ok().filter(|h| {
            offload && h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        let max_total = max_in_flight.clamp(1, u32::MAX as usize >> 3);
        let thread = WorkerThread::spawn(
            &ctx,
            "benchfs-ucx-server",
            progress_from_env(DATA_PROGRESS, "BENCHFS_UCX_SERVER"),
            move |w: &Worker| {
                let mut rx = w.register_am(AM_REQUEST)?;
                let st = Rc::new(ServerState {
                    worker: w.clone(),
                    handler,
                    pool: BufferPool::new(pool_ctx, POOL_BUFFERS),
                    offload,
                    secret,
                    store,
                    handshake_timeout: limits.handshake_timeout,
                    total: Arc::new(Semaphore::new(max_total)),
                    max_total: max_total as u32,
                    per_connection: per_connection.max(1),
                    max_connections: max_connections.max(1),
                    max_unauthenticated: max_unauthenticated.max(1),
                    label: name,
                    conns: RefCell::new(HashMap::new()),
                    next: Cell::new(0),
                    stopping: Cell::new(false),
                });
                let s = st.clone();
                tokio::task::spawn_local(async move {
                    loop {
                        let m = rx.recv().await;
                        tokio::task::spawn_local(serve_message(s.clone(), m));
                    }
                });
                Ok(st)
            },
        )
        .map_err(|e| e.to_fs_error())?;
        let address = server_address(label, thread.address());
        Ok(UcxListenerTask {
            thread: Some(thread),
            address,
        })
    }

    /// The address clients connect to (`ucx/<label>/<hex>`).
    pub fn local_address(&self) -> &str {
        &self.address
    }

    /// Stops the worker thread and waits for it to end.
    async fn stop_thread(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
        }
    }

    /// Stops accepting requests, lets in-flight ones finish and their replies go out, then
    /// closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(t) = &self.thread {
            let _ = t.run(|_, st| drain((*st).clone())).await;
        }
        self.stop_thread().await;
    }

    /// Stops at once, without replying (a crash, for tests): the worker and its endpoints
    /// are destroyed, so clients see their connections fail.
    pub async fn kill(mut self) {
        self.stop_thread().await;
    }
}

impl Listener for UcxListenerTask {
    fn transport(&self) -> &'static str {
        "ucx"
    }
    fn address(&self) -> String {
        self.address.clone()
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(UcxListenerTask::shutdown(*self))
    }
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(UcxListenerTask::kill(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_inline_and_in_the_payload() {
        let msg = Bytes::from_static(b"hello message");
        let bulk = Bytes::from(vec![7u8; 1000]);
        for max in [4096, 40] {
            let (h, p) = encode_frame(9, FrameKind::Reply, 3, 77, &msg, bulk.clone(), max);
            let head = decode_head(&Bytes::from(h), p.len()).unwrap();
            assert_eq!(head.route, 9);
            assert_eq!(head.frame.id, 77);
            assert_eq!(head.frame.op, 3);
            assert_eq!(head.inline.is_some(), max == 4096);
            let (m, b) = match &head.inline {
                Some(m) => (m.clone(), p),
                None => (p.slice(..msg.len()), p.slice(msg.len()..)),
            };
            assert_eq!(m, msg);
            assert_eq!(b, bulk);
        }
    }

    #[test]
    fn a_frame_whose_lengths_disagree_is_refused() {
        let msg = Bytes::from_static(b"abc");
        let (h, p) = encode_frame(1, FrameKind::Request, 3, 1, &msg, Bytes::new(), 4096);
        let e = decode_head(&Bytes::from(h), p.len() + 5).err().unwrap();
        assert!(matches!(e, FsError::Protocol(_)), "{e:?}");
        let e = decode_head(&Bytes::from_static(&[0u8; 10]), 0)
            .err()
            .unwrap();
        assert!(matches!(e, FsError::Protocol(_)), "{e:?}");
    }

    #[test]
    fn progress_windows_are_overridden_by_numbers_in_the_environment_only() {
        let prefix = "BENCHFS_UCX_TEST_PROGRESS";
        std::env::set_var(format!("{prefix}_SPIN_US"), "250");
        std::env::set_var(format!("{prefix}_LINGER_US"), "not a number");
        let c = progress_from_env(DATA_PROGRESS, prefix);
        assert_eq!(c.spin, Duration::from_micros(250));
        assert_eq!(c.linger, DATA_PROGRESS.linger);
        assert_eq!(c.busy_wait, DATA_PROGRESS.busy_wait);
        let s = progress_from_env(DATA_PROGRESS, "BENCHFS_UCX_TEST_UNSET");
        assert_eq!(s, DATA_PROGRESS);
    }

    #[test]
    fn addresses_name_their_server_and_bad_ones_are_refused() {
        let e = parse_address("127.0.0.1:80").unwrap_err();
        assert!(e.to_string().contains("127.0.0.1:80"), "{e}");
        let e = parse_address("ucx/srv/zz").unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
    }
}
