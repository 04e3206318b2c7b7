//! The in-process transport `local`: a client reaches a server that runs in its own process
//! (the embedded cluster, in-job servers, the C API's embedded cluster) without a socket, as
//! UCX's `self` transport and MPI's `self` BTL do.
//!
//! Owns [`LocalListener`] (a server's entry in the process-wide [`table`] of local
//! listeners), [`LocalConnector`] and [`LocalConnection`]. A connection checks the cluster
//! secret with the same [`super::handshake`] as every transport (the same refusal), and a
//! call runs the server's [`Handler`] in the caller's task: no socket, no thread handoff, no
//! copy of the message or of the payload (a payload the handler takes into a file is written
//! there with `pwrite`; a reply's file region is read straight into the caller's
//! [`IoSlice`] for `call_into`). Bounds and faults are the TCP transport's: the server's
//! request slots (in all and per connection), the per-call timeout, a graceful stop that
//! finishes calls in progress and fails later ones with `EBUSY` (the client may send them
//! again elsewhere), a kill that fails every call at once with `ECONNRESET`. Knows nothing of
//! file system operations beyond the op number.

mod table;
#[cfg(test)]
mod tests;

pub use table::{add_alias, in_process, is_local_address, SCHEME};

use super::handshake::{self, ServerHandshake};
use super::io_buffer::{IoSlice, COPY_STATS};
use super::{
    read_region, read_region_into, BoxFuture, Connection, Connector, Handler, ListenOptions,
    Listener, Reply,
};
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{
    decode_error, encode_error, FrameHeader, FrameKind, Op, MAX_BULK_LEN, MAX_MSG_LEN,
};
use bytes::Bytes;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

/// The listener serves calls.
const OPEN: u8 = 0;
/// The listener stopped gracefully (or is stopping): calls fail with `EBUSY`, unread.
const STOPPED: u8 = 1;
/// The listener was killed: calls fail with `ECONNRESET`.
const KILLED: u8 = 2;

/// How long a graceful stop waits for the calls in progress, at most (then they are cut off
/// as by a kill; TCP's accept loop has the same last resort).
const DRAIN_BOUND: Duration = Duration::from_secs(30);

/// One local listener as its connections see it.
pub(crate) struct Endpoint {
    addr: String,
    secret: Arc<Vec<u8>>,
    store: u64,
    /// The server's handler; taken away when the listener stops, so that the server's
    /// stores can close.
    handler: Mutex<Option<Arc<dyn Handler>>>,
    state: AtomicU8,
    /// Woken when the listener is killed.
    killed: Notify,
    /// The server's request slots (closed once it stops).
    slots: Arc<Semaphore>,
    total: usize,
    per_connection: usize,
}

impl Endpoint {
    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    fn handler(&self) -> Option<Arc<dyn Handler>> {
        self.handler.lock().ok()?.clone()
    }

    /// Ends the listener with state `to` (unless it has ended already): no new connection,
    /// no new call.
    fn end(&self, to: u8) {
        table::remove(&self.addr);
        let _ = self
            .state
            .compare_exchange(OPEN, to, Ordering::AcqRel, Ordering::Acquire);
        if to == KILLED {
            self.state.store(KILLED, Ordering::Release);
            self.killed.notify_waiters();
        }
    }

    /// Lets go of the handler and of the slots (calls waiting for one fail).
    fn release(&self) {
        self.slots.close();
        if let Ok(mut h) = self.handler.lock() {
            *h = None;
        }
    }
}

/// A server's local listener: its entry in the process's table, under a local address no
/// other process holds and under the server's other addresses (so that a client given the
/// TCP or UCX address of a server in its own process can reach it locally).
pub struct LocalListener {
    ep: Arc<Endpoint>,
}

impl LocalListener {
    /// Enters a listener serving `handler` with the secret, store id and request slots of
    /// `opts` (its address is not used: a local address is made), also reachable by
    /// `aliases` (the server's addresses on its other transports).
    pub fn bind(opts: &ListenOptions, handler: Arc<dyn Handler>, aliases: &[String]) -> Self {
        let total = opts.max_in_flight.max(1);
        let ep = Arc::new(Endpoint {
            addr: table::new_address(),
            secret: Arc::new(opts.secret.clone()),
            store: opts.store,
            handler: Mutex::new(Some(handler)),
            state: AtomicU8::new(OPEN),
            killed: Notify::new(),
            slots: Arc::new(Semaphore::new(total)),
            total,
            per_connection: opts.per_connection.max(1),
        });
        table::insert(ep.clone(), aliases);
        LocalListener { ep }
    }

    /// The local address clients connect to.
    pub fn local_addr(&self) -> &str {
        &self.ep.addr
    }

    /// Stops taking connections and calls (those made from now on fail with `EBUSY`, as
    /// unread), lets the calls in progress finish, then lets go of the handler.
    pub async fn shutdown(self) {
        self.ep.end(STOPPED);
        let all = u32::try_from(self.ep.total).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(DRAIN_BOUND, self.ep.slots.acquire_many(all)).await;
        if drained.is_err() {
            self.ep.end(KILLED);
        }
        self.ep.release();
    }

    /// Ends the listener at once: calls in progress and later ones fail with
    /// `ECONNRESET` (a crash, for tests).
    pub async fn kill(self) {
        self.ep.end(KILLED);
        self.ep.release();
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        // Dropped without a stop: as if the server died.
        if self.ep.state() == OPEN {
            self.ep.end(KILLED);
        }
        self.ep.release();
    }
}

impl Listener for LocalListener {
    fn transport(&self) -> &'static str {
        "local"
    }
    fn address(&self) -> String {
        self.ep.addr.clone()
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(LocalListener::shutdown(*self))
    }
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(LocalListener::kill(*self))
    }
}

/// The handshake's server side driven by direct calls: what [`handshake::authenticate`]
/// talks to when the server is in this process.
struct HandshakeShim {
    hs: Mutex<ServerHandshake>,
    peer: String,
}

impl Connection for HandshakeShim {
    fn call(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        _timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        let h = FrameHeader {
            kind: FrameKind::Request,
            op,
            id: 1,
            msg_len: u32::try_from(msg.len()).unwrap_or(u32::MAX),
            bulk_len: u32::try_from(bulk.len()).unwrap_or(u32::MAX),
        };
        let r = match self.hs.lock() {
            Ok(mut hs) => hs.check_header(&h).and_then(|()| hs.step(&h, &msg)),
            Err(_) => Err(FsError::Io("handshake state poisoned".into())),
        };
        // The error the client of a TCP server would decode.
        let r = r
            .map(|m| Reply::new(m, Bytes::new()))
            .map_err(|e| decode_error(&encode_error(&e)));
        Box::pin(std::future::ready(r))
    }

    fn is_closed(&self) -> bool {
        false
    }

    fn peer(&self) -> &str {
        &self.peer
    }
}

/// Connects to servers in this process (addresses `local:...`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalConnector;

impl LocalConnector {
    /// Connects to the local listener at `addr` in this process and performs the secret
    /// handshake. An address this process does not hold is refused (`ECONNREFUSED`): one of
    /// another process is never usable here.
    pub async fn connect_to(
        &self,
        addr: &str,
        secret: &[u8],
        timeout: Duration,
    ) -> FsResult<Arc<LocalConnection>> {
        let ep = match table::lookup(addr) {
            Some(ep) if ep.state() == OPEN => ep,
            _ if table::made_here(addr) => {
                return Err(FsError::ConnectionRefused(format!(
                    "connect to {addr}: no server listens there in this process any more"
                )))
            }
            _ if is_local_address(addr) => {
                return Err(FsError::ConnectionRefused(format!(
                    "connect to {addr}: not a server of this process (pid {}); transport \
                     local reaches only servers running inside the client's own process",
                    std::process::id()
                )))
            }
            _ => {
                return Err(FsError::InvalidArgument(format!(
                    "{addr} is not a local address (expected {SCHEME}...)"
                )))
            }
        };
        let shim = HandshakeShim {
            hs: Mutex::new(ServerHandshake::new(ep.secret.clone(), ep.store)),
            peer: addr.to_string(),
        };
        let store = handshake::authenticate(&shim, secret, timeout).await?;
        Ok(Arc::new(LocalConnection {
            own: Arc::new(Semaphore::new(ep.per_connection)),
            label: format!("server {addr} (store {store:016x})"),
            peer: addr.to_string(),
            store,
            closed: OnceLock::new(),
            unread: AtomicBool::new(false),
            ep,
        }))
    }
}

impl Connector for LocalConnector {
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
}

/// A client's connection to a server in its own process.
pub struct LocalConnection {
    ep: Arc<Endpoint>,
    /// This connection's share of the server's request slots.
    own: Arc<Semaphore>,
    /// The server as errors name it.
    label: String,
    peer: String,
    store: u64,
    /// Why the connection closed, once it has.
    closed: OnceLock<FsError>,
    /// It closed because the server stopped gracefully before taking the calls it failed.
    unread: AtomicBool,
}

/// The request slots one call holds while its handler runs.
type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// Starts the handler on a request: its payload into the handler's file sink if it names
/// one (written there at once), else handed over as it is.
fn start(
    h: Arc<dyn Handler>,
    op: u16,
    msg: Bytes,
    bulk: Bytes,
) -> BoxFuture<'static, FsResult<Reply>> {
    let len = bulk.len();
    if len > 0 {
        if let Some(sink) = h.file_sink(op, &msg, len) {
            let stored = sink.and_then(|s| {
                s.file
                    .write_all_at(&bulk, s.offset)
                    .map_err(|e| FsError::from_io("store payload", &e))
            });
            return h.handle_stored(op, msg, len, stored);
        }
    }
    h.handle(op, msg, bulk)
}

/// The reply as the caller gets it: a file region read into memory, straight into `dest`
/// when it fits there.
fn materialise(reply: Reply, dest: Option<&IoSlice>) -> FsResult<Reply> {
    let Some(region) = reply.file else {
        return Ok(Reply::new(reply.msg, reply.bulk));
    };
    let io = |e: std::io::Error| FsError::from_io("read reply payload", &e);
    if let Some(target) = dest.and_then(|d| d.sub(0..region.len)) {
        if !target.is_empty() {
            // SAFETY: `target` covers `region.len` bytes of the live buffer it holds; the
            // caller of `call_into` lends that memory to this call alone (see `IoBuffer`:
            // its bytes are never lent as Rust references beyond one call's copy).
            let buf = unsafe { std::slice::from_raw_parts_mut(target.as_ptr(), target.len()) };
            read_region_into(&region, buf).map_err(io)?;
            COPY_STATS.in_place(region.len);
            return Ok(Reply::new(reply.msg, target.to_bytes()));
        }
    }
    Ok(Reply::new(reply.msg, read_region(&region).map_err(io)?))
}

impl LocalConnection {
    /// The error of a call once the server is gone (also the connection's reason from then
    /// on): `EBUSY`, unread, after a graceful stop; `ECONNRESET` after a kill.
    fn gone(&self) -> FsError {
        if let Some(e) = self.closed.get() {
            return e.clone();
        }
        let e = if self.ep.state() == STOPPED {
            self.unread.store(true, Ordering::SeqCst);
            FsError::Busy("the server is stopping".into()).context(&self.label)
        } else {
            FsError::ConnectionReset(format!("{}: closed the connection", self.label))
        };
        self.closed.get_or_init(|| e).clone()
    }

    fn late(&self, op: u16, timeout: Duration) -> FsError {
        let op = Op::from_number(op).map_or_else(|| format!("op {op}"), |o| o.name().to_string());
        FsError::TimedOut(format!(
            "{}: {op} got no reply within {timeout:?}",
            self.label
        ))
    }

    /// A slot of `sem`, waiting for one until `due`.
    async fn slot(
        &self,
        sem: &Arc<Semaphore>,
        due: Instant,
        op: u16,
        timeout: Duration,
    ) -> FsResult<OwnedSemaphorePermit> {
        match sem.clone().try_acquire_owned() {
            Ok(p) => Ok(p),
            Err(TryAcquireError::Closed) => Err(self.gone()),
            Err(TryAcquireError::NoPermits) => tokio::select! {
                p = sem.clone().acquire_owned() => p.map_err(|_| self.gone()),
                _ = tokio::time::sleep_until(due) => Err(self.late(op, timeout)),
            },
        }
    }

    async fn call_local(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: Option<&IoSlice>,
        timeout: Duration,
    ) -> FsResult<Reply> {
        // A call that completes at once never waits on anything of tokio's: it takes its
        // share of the task's budget, so that a task making calls back to back still lets
        // the other tasks of its thread run (as calls over a socket do).
        tokio::task::consume_budget().await;
        if self.closed.get().is_some() || self.ep.state() != OPEN {
            return Err(self.gone());
        }
        if msg.len() > MAX_MSG_LEN as usize || bulk.len() > MAX_BULK_LEN as usize {
            return Err(FsError::MessageTooLong(format!(
                "a request of {} + {} bytes (max {MAX_MSG_LEN} + {MAX_BULK_LEN})",
                msg.len(),
                bulk.len()
            )));
        }
        let due = Instant::now() + timeout;
        // As on TCP: a slot of the connection first, then one of the server.
        let own = self.slot(&self.own, due, op, timeout).await?;
        let all = self.slot(&self.ep.slots, due, op, timeout).await?;
        let permits: Permits = (own, all);
        let Some(h) = self.ep.handler() else {
            return Err(self.gone());
        };
        let mut fut = start(h, op, msg, bulk);
        // Most requests (metadata, page-cache I/O) complete at their first poll.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        let r = match first {
            Poll::Ready(r) => r,
            Poll::Pending => {
                let killed = self.ep.killed.notified();
                tokio::pin!(killed);
                killed.as_mut().enable();
                if self.ep.state() == KILLED {
                    return Err(self.gone());
                }
                tokio::select! {
                    biased;
                    r = &mut fut => r,
                    _ = &mut killed => return Err(self.gone()),
                    _ = tokio::time::sleep_until(due) => {
                        // The server finishes what it began, as it would for a TCP client
                        // that gave up; the reply is dropped.
                        tokio::spawn(finish(self.ep.clone(), fut, permits));
                        return Err(self.late(op, timeout));
                    }
                }
            }
        };
        drop(permits);
        match r {
            Ok(reply) => materialise(reply, dest),
            // The error a client of a TCP server would decode.
            Err(e) => Err(decode_error(&encode_error(&e))),
        }
    }
}

/// Runs a request whose caller gave up to its end (or until the server is killed), holding
/// its slots.
async fn finish(ep: Arc<Endpoint>, fut: BoxFuture<'static, FsResult<Reply>>, permits: Permits) {
    let killed = ep.killed.notified();
    tokio::pin!(killed);
    killed.as_mut().enable();
    if ep.state() != KILLED {
        tokio::select! {
            _ = fut => {}
            _ = killed => {}
        }
    }
    drop(permits);
}

impl Connection for LocalConnection {
    fn call(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(self.call_local(op, msg, bulk, None, timeout))
    }

    fn call_into(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: IoSlice,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(async move { self.call_local(op, msg, bulk, Some(&dest), timeout).await })
    }

    fn is_closed(&self) -> bool {
        self.closed.get().is_some() || self.ep.state() != OPEN
    }

    fn closed_unread(&self) -> bool {
        self.unread.load(Ordering::SeqCst)
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn store(&self) -> Option<u64> {
        Some(self.store)
    }
}
