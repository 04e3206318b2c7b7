//! Request correlation over a byte stream: the client's table of pending calls, and the
//! server's per-connection loop with bounded concurrency, time and memory.
//!
//! Owns [`RpcConnection`] (client side: request ids and waiters in the shared pending-call
//! table of [`super::pending`], a writer task
//! that batches small frames and writes bulk payloads without copying them, a reader task
//! that routes each reply to its caller by id and receives a large read reply's payload
//! straight into the memory the call gave for it, a timeout on every call; every error names
//! the server's address and, once the handshake told it, its store id) and
//! [`serve_connection`] (server side: the handshake of [`super::handshake`] read straight
//! from the stream, nothing buffered, within its timeout; then each request is polled once
//! in the connection loop and answered at once if it is done, else finished in a task of
//! its own). Bounds, per connection: request slots ([`RequestSlots`]) are taken before a
//! frame is read, of the connection, and once its payload has arrived, of the server (so no
//! client takes every slot, and a peer whose payload stalls holds none of the server's); a
//! frame that has begun must arrive whole within the frame timeout, and every reply must be
//! taken by the peer within it ([`ConnectionLimits`]), else the connection is dropped; the
//! replies queued for one connection hold at most [`ConnectionLimits::reply_bytes`] of
//! memory. A request whose handler names a file sink, a large chunk write, has its payload
//! moved from the stream straight into that file. Works over any byte stream whose read
//! side is a [`FrameReader`] (payloads go into files with `splice` on TCP) and whose write
//! side is a [`FrameWriter`] (file regions go out with `sendfile` on TCP); knows nothing of
//! file system operations.

use super::frame_buf::{self, FrameBuf};
use super::handshake::{self, ServerHandshake};
use super::io_buffer::IoSlice;
use super::pending::PendingCalls;
use super::{
    BoxFuture, Connection, ConnectionLimits, FileRegion, FileSink, FrameReader, FrameWriter,
    Handler, Reply,
};
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{
    decode_error, encode_error, FrameHeader, FrameKind, HEADER_LEN, MAX_HANDSHAKE_MSG,
};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Frames queued for the writer of one connection before senders wait.
const OUT_QUEUE: usize = 1024;
/// Buffer size of the writers (small frames are batched up to this size).
const IO_BUF: usize = 64 << 10;

/// One frame waiting to be written.
struct OutFrame {
    header: [u8; HEADER_LEN],
    msg: Bytes,
    bulk: Bytes,
    file: Option<FileRegion>,
    /// The share of the connection's reply memory this frame holds until it is written.
    _memory: Option<OwnedSemaphorePermit>,
}

impl OutFrame {
    fn new(kind: FrameKind, op: u16, id: u64, msg: Bytes, bulk: Bytes) -> Self {
        Self::with_file(kind, op, id, msg, bulk, None)
    }

    fn with_file(
        kind: FrameKind,
        op: u16,
        id: u64,
        msg: Bytes,
        bulk: Bytes,
        file: Option<FileRegion>,
    ) -> Self {
        let bulk_len = match &file {
            Some(r) => r.len,
            None => bulk.len(),
        };
        let header = FrameHeader {
            kind,
            op,
            id,
            msg_len: msg.len() as u32,
            bulk_len: bulk_len as u32,
        }
        .encode();
        OutFrame {
            header,
            msg,
            bulk,
            file,
            _memory: None,
        }
    }

    /// Bytes of memory the frame holds (a file region is sent from the page cache).
    fn memory(&self) -> usize {
        HEADER_LEN + self.msg.len() + self.bulk.len()
    }

    /// The header and message in one buffer (handshake replies, refusals).
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + self.msg.len());
        v.extend_from_slice(&self.header);
        v.extend_from_slice(&self.msg);
        v
    }
}

/// The bytes of an error frame for the whole connection (request id 0): what a server sends
/// a peer it is about to drop.
pub fn refusal_frame(e: &FsError) -> Vec<u8> {
    OutFrame::new(FrameKind::Error, 0, 0, encode_error(e), Bytes::new()).to_vec()
}

/// Reads a frame's header and message (not its payload); `Ok(None)` on a clean end of
/// stream at a frame boundary.
async fn read_head<R: FrameReader>(r: &mut FrameBuf<R>) -> FsResult<Option<(FrameHeader, Bytes)>> {
    let h = match r.take_array::<HEADER_LEN>().await {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FsError::ConnectionReset(
                "end of stream inside a frame".into(),
            ))
        }
        Err(e) => return Err(FsError::from_io("read frame header", &e)),
    };
    let hdr = FrameHeader::decode(&h)?;
    let msg = r
        .take(hdr.msg_len as usize)
        .await
        .map_err(|e| FsError::from_io("read frame", &e))?;
    Ok(Some((hdr, msg)))
}

/// Replies whose payload is at least this large are received straight into the memory the
/// call gave for it ([`Connection::call_into`]); smaller ones are copied there (a copy of
/// a few KiB costs less than the system call that reading its header alone takes).
pub const IN_PLACE_MIN: usize = 32 << 10;

/// Most bytes the client's reads take while a call waits for a payload in place: a header
/// and a short message (a read reply's), so that the payload stays in the stream.
const IN_PLACE_PEEK: usize = HEADER_LEN + 32;

/// Reads one frame on the client side; `Ok(None)` on a clean end of stream at a frame
/// boundary. A reply whose call gave a destination for its payload that can hold it has the
/// payload received there ([`FrameBuf::take_into`]); its `bulk` is then the destination's
/// bytes (see [`IoSlice::holds`]), and the receiver holds no clone of the destination by the
/// time the reply is delivered.
async fn read_reply<R: FrameReader>(
    r: &mut FrameBuf<R>,
    calls: &PendingCalls,
) -> FsResult<Option<(FrameHeader, Bytes, Bytes)>> {
    let Some((hdr, msg)) = read_head(r).await? else {
        return Ok(None);
    };
    let len = hdr.bulk_len as usize;
    let dest = (hdr.kind == FrameKind::Reply && len >= IN_PLACE_MIN)
        .then(|| calls.dest(hdr.id))
        .flatten()
        .and_then(|d| d.sub(0..len));
    let bulk = match dest {
        Some(d) => {
            r.take_into(&d)
                .await
                .map_err(|e| FsError::from_io("read frame payload", &e))?;
            d.to_bytes()
        }
        None => read_payload(r, len).await?,
    };
    Ok(Some((hdr, msg, bulk)))
}

async fn read_payload<R: FrameReader>(r: &mut FrameBuf<R>, len: usize) -> FsResult<Bytes> {
    r.take(len)
        .await
        .map_err(|e| FsError::from_io("read frame payload", &e))
}

/// Moves a `len`-byte payload into the handler's file sink: what the buffered reader already
/// holds is written from memory, the rest goes from the stream straight to the file
/// ([`FrameReader::recv_to_file`]). A refused sink or a failing file still consumes the
/// payload, so the stream stays in step; only a stream error is returned as `Err`.
async fn receive_payload<R: FrameReader>(
    r: &mut FrameBuf<R>,
    sink: FsResult<FileSink>,
    len: usize,
) -> FsResult<FsResult<()>> {
    use std::os::unix::fs::FileExt;
    let stream_err = |e: std::io::Error| FsError::from_io("read frame payload", &e);
    let sink = match sink {
        Ok(s) => s,
        Err(e) => {
            r.discard(len).await.map_err(stream_err)?;
            return Ok(Err(e));
        }
    };
    let buffered = r.buffered();
    let k = buffered.len().min(len);
    let mut stored = sink.file.write_all_at(&buffered[..k], sink.offset);
    r.consume(k);
    if k < len {
        // The buffer is empty now: the rest comes from the stream itself.
        if stored.is_ok() {
            stored = r
                .get_mut()
                .recv_to_file(&sink.file, sink.offset + k as u64, len - k)
                .await
                .map_err(stream_err)?;
        } else {
            r.discard(len - k).await.map_err(stream_err)?;
        }
    }
    Ok(stored.map_err(|e| FsError::from_io("store payload", &e)))
}

/// Tells the client why its connection is about to close (best effort).
async fn send_connection_error(tx: &mpsc::Sender<OutFrame>, e: &FsError) {
    let _ = tx
        .send(OutFrame::new(
            FrameKind::Error,
            0,
            0,
            encode_error(e),
            Bytes::new(),
        ))
        .await;
}

/// Waits until the next frame's first byte has arrived (an idle connection waits as long as
/// it likes); false at a clean end of stream.
async fn frame_begins<R: FrameReader>(r: &mut FrameBuf<R>) -> FsResult<bool> {
    r.fill_some()
        .await
        .map_err(|e| FsError::from_io("read frame header", &e))
}

/// How long the writer of a connection may take for one frame: `limit` (`None`: no bound),
/// and at most `grace` from when `stopping` turns true (the server stops: a peer that does
/// not read its replies must not delay it).
#[derive(Clone)]
struct WriteDeadline {
    limit: Option<Duration>,
    grace: Duration,
    stopping: Option<watch::Receiver<bool>>,
}

impl WriteDeadline {
    /// No bound (the client side: its calls have their own timeouts).
    fn none() -> Self {
        WriteDeadline {
            limit: None,
            grace: Duration::ZERO,
            stopping: None,
        }
    }

    async fn run<T>(
        &mut self,
        fut: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> std::io::Result<T> {
        let Some(limit) = self.limit else {
            return fut.await;
        };
        let late = || {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer did not take its reply in time",
            )
        };
        tokio::pin!(fut);
        let stopping = async {
            match &mut self.stopping {
                Some(s) => {
                    let _ = s.wait_for(|v| *v).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            r = tokio::time::timeout(limit, &mut fut) => r.map_err(|_| late())?,
            _ = stopping => tokio::time::timeout(self.grace, &mut fut).await.map_err(|_| late())?,
        }
    }
}

/// Writes queued frames, batching whatever is queued before each flush; each batch must be
/// taken by the peer within `deadline`.
async fn writer_loop<W: FrameWriter>(
    mut rx: mpsc::Receiver<OutFrame>,
    w: W,
    mut deadline: WriteDeadline,
) -> std::io::Result<()> {
    let mut w = Gather::new(w);
    while let Some(f) = rx.recv().await {
        deadline
            .run(async {
                w.frame(&f).await?;
                drop(f);
                while let Ok(f) = rx.try_recv() {
                    w.frame(&f).await?;
                }
                w.flush().await
            })
            .await?;
    }
    deadline.run(w.w.shutdown()).await
}

/// Payloads up to this size are copied into the batch of small frames; larger ones go to
/// the stream from their own memory.
const GATHER_BULK: usize = 16 << 10;

/// The bytes of frames on their way to the stream. Small frames are gathered and written
/// with one system call per batch. A large payload goes out in one vectored write with the
/// bytes gathered before it (its header included), so neither is copied and the header does
/// not travel as a segment of its own (with `TCP_NODELAY` it did: one more wake-up of the
/// peer per request). A file region follows the gathered bytes through
/// [`FrameWriter::send_file_after`].
struct Gather<W> {
    w: W,
    buf: Vec<u8>,
}

impl<W: FrameWriter> Gather<W> {
    fn new(w: W) -> Self {
        Gather {
            w,
            buf: Vec::with_capacity(IO_BUF),
        }
    }

    async fn frame(&mut self, f: &OutFrame) -> std::io::Result<()> {
        if self.buf.len() + HEADER_LEN + f.msg.len() > IO_BUF {
            self.write_gathered().await?;
        }
        self.buf.extend_from_slice(&f.header);
        self.buf.extend_from_slice(&f.msg);
        if let Some(region) = &f.file {
            self.w.send_file_after(&self.buf, region).await?;
            self.buf.clear();
        } else if f.bulk.len() <= GATHER_BULK && self.buf.len() + f.bulk.len() <= IO_BUF {
            self.buf.extend_from_slice(&f.bulk);
        } else {
            write_two(&mut self.w, &self.buf, &f.bulk).await?;
            self.buf.clear();
        }
        Ok(())
    }

    async fn write_gathered(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.w.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.write_gathered().await?;
        self.w.flush().await
    }
}

/// Writes `a` then `b` with vectored writes (one system call when the stream takes both).
async fn write_two<W: AsyncWrite + Unpin>(w: &mut W, a: &[u8], b: &[u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < a.len() + b.len() {
        let n = if done < a.len() {
            let parts = [std::io::IoSlice::new(&a[done..]), std::io::IoSlice::new(b)];
            w.write_vectored(&parts).await?
        } else {
            w.write(&b[done - a.len()..]).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        done += n;
    }
    Ok(())
}

/// One connection's pending calls (the table every transport shares), and who is at its
/// other end.
struct Pending {
    calls: PendingCalls,
    /// The server's address.
    peer: String,
    /// Its store id, once the handshake told it.
    store: OnceLock<u64>,
    /// The server closed the connection saying it stops (an EBUSY error for the whole
    /// connection, request id 0), which it sends only when it has read no request it did
    /// not answer.
    unread: AtomicBool,
}

impl Pending {
    /// The server as error messages name it: its address and, once known, its store id.
    fn label(&self) -> String {
        match self.store.get() {
            Some(id) => format!("server {} (store {id:016x})", self.peer),
            None => format!("server {}", self.peer),
        }
    }

    /// Marks the connection closed and fails every pending call with `err` (which the
    /// caller has already made name the server).
    fn fail_all(&self, err: FsError) {
        self.calls.fail_all(err);
    }

    /// The error of a call on a closed connection: why it closed, if known.
    fn closed_error(&self, what: &str) -> FsError {
        self.calls
            .closed_error(|| FsError::ConnectionReset(format!("{}: {what}", self.label())))
    }
}

/// Client side of one connection: many calls in flight, matched to replies by request id.
pub struct RpcConnection {
    pending: Arc<Pending>,
    tx: mpsc::Sender<OutFrame>,
    reader: JoinHandle<()>,
}

impl Drop for RpcConnection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl RpcConnection {
    /// Starts the reader and writer tasks over `r` and `w` (must be called inside a tokio
    /// runtime). `peer` (the server's address) names the other side in error messages.
    pub fn start<R, W>(r: R, w: W, peer: String) -> Arc<Self>
    where
        R: FrameReader,
        W: FrameWriter,
    {
        let pending = Arc::new(Pending {
            calls: PendingCalls::default(),
            peer,
            store: OnceLock::new(),
            unread: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let wp = pending.clone();
        tokio::spawn(async move {
            if let Err(e) = writer_loop(rx, w, WriteDeadline::none()).await {
                wp.fail_all(FsError::from_io("write", &e).context(wp.label()));
            }
        });
        let rp = pending.clone();
        let reader = tokio::spawn(async move {
            let mut r = FrameBuf::new(r, frame_buf::CLIENT_ROOM);
            r.read_at_most_while(IN_PLACE_PEEK, rp.calls.in_place_waiting());
            let err = loop {
                match read_reply(&mut r, &rp.calls).await {
                    // An error for the whole connection: the server says why it drops it.
                    // A stop (EBUSY) is sent only when nothing unanswered was read (see
                    // `serve_connection`); a protocol error is not.
                    Ok(Some((h, msg, _))) if h.kind == FrameKind::Error && h.id == 0 => {
                        let e = decode_error(&msg);
                        if matches!(e, FsError::Busy(_)) {
                            rp.unread.store(true, Ordering::SeqCst);
                        }
                        break e.context(rp.label());
                    }
                    // (A reply to a call that timed out is dropped.)
                    Ok(Some((h, msg, bulk))) => {
                        rp.calls.deliver(h.kind, h.id, msg, bulk, || rp.label())
                    }
                    Ok(None) => break rp.closed_error("closed the connection"),
                    Err(e) => break e.context(rp.label()),
                }
            };
            rp.fail_all(err);
        });
        Arc::new(RpcConnection {
            pending,
            tx,
            reader,
        })
    }

    /// Sends a request and waits for its reply, for at most `timeout`.
    pub async fn call_raw(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        timeout: Duration,
    ) -> FsResult<Reply> {
        self.call_dest(op, msg, bulk, None, timeout).await
    }

    /// [`RpcConnection::call_raw`] whose reply payload, if it is at least
    /// [`IN_PLACE_MIN`] bytes and fits, is received straight into `dest`.
    async fn call_dest(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: Option<IoSlice>,
        timeout: Duration,
    ) -> FsResult<Reply> {
        // The guard removes the entry, and with it the destination, however this call ends
        // (reply, error, timeout, or the caller dropping the future).
        let closed = || self.pending.closed_error("connection is closed");
        let dest = dest.filter(|d| d.len() >= IN_PLACE_MIN);
        let (id, wrx, _guard) = self.pending.calls.register_into(closed, dest)?;
        let frame = OutFrame::new(FrameKind::Request, op, id, msg, bulk);
        let fut = async {
            self.tx
                .send(frame)
                .await
                .map_err(|_| self.pending.closed_error("connection is closed"))?;
            match wrx.await {
                Ok(r) => r,
                Err(_) => Err(self
                    .pending
                    .closed_error("connection closed during the call")),
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                let op = crate::fs::wire::Op::from_number(op)
                    .map_or_else(|| format!("op {op}"), |o| o.name().to_string());
                Err(FsError::TimedOut(format!(
                    "{}: {op} got no reply within {timeout:?}",
                    self.pending.label()
                )))
            }
        }
    }

    /// Runs the handshake ([`handshake::authenticate`]: both sides prove they hold
    /// `secret`; the first calls on every connection). Afterwards errors name the server's
    /// store id too.
    pub async fn hello(&self, secret: &[u8], timeout: Duration) -> FsResult<()> {
        let store = handshake::authenticate(self, secret, timeout).await?;
        let _ = self.pending.store.set(store);
        Ok(())
    }

    /// Number of calls waiting for a reply.
    pub fn in_flight(&self) -> usize {
        self.pending.calls.len()
    }
}

impl Connection for RpcConnection {
    fn call(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(self.call_raw(op, msg, bulk, timeout))
    }

    fn call_into(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: IoSlice,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        Box::pin(self.call_dest(op, msg, bulk, Some(dest), timeout))
    }

    fn is_closed(&self) -> bool {
        self.pending.calls.is_closed()
    }

    fn peer(&self) -> &str {
        &self.pending.peer
    }

    fn closed_unread(&self) -> bool {
        self.pending.unread.load(Ordering::SeqCst)
    }

    fn store(&self) -> Option<u64> {
        self.pending.store.get().copied()
    }
}

/// The request slots of a server: at most `total` requests in progress across all its
/// connections, and at most `per_connection` from any one connection, so that one busy
/// client cannot take every slot and starve the others. A connection whose share is used
/// up stops being read (TCP pushes back on that client alone). A server slot is taken only
/// once a request's payload has arrived, so that a peer whose payload stalls holds none.
#[derive(Clone)]
pub struct RequestSlots {
    total: Arc<Semaphore>,
    per_connection: usize,
}

impl RequestSlots {
    /// Slots for `total` requests, at most `per_connection` of them from one connection
    /// (both at least 1).
    pub fn new(total: usize, per_connection: usize) -> Self {
        RequestSlots {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_connection: per_connection.max(1),
        }
    }
}

/// What every connection of one listener shares: the handler, the secret and store id of
/// the handshake, the limits on each connection, the request slots and the stop signal.
#[derive(Clone)]
pub struct ServeContext {
    /// Handles the requests.
    pub handler: Arc<dyn Handler>,
    /// The cluster secret the peer must prove it holds.
    pub secret: Arc<Vec<u8>>,
    /// The store id the server names in its handshake.
    pub store: u64,
    /// Time and memory each connection may take.
    pub limits: ConnectionLimits,
    /// Requests in progress, in all and per connection.
    pub slots: RequestSlots,
    /// Turns true when the server stops.
    pub shutdown: watch::Receiver<bool>,
}

/// Runs the server side of the handshake ([`ServerHandshake`]) on the raw stream: exactly the
/// bytes of the handshake frames are read (no buffer fills beyond them), each frame's header
/// is checked before its message is read, and the replies are written straight to the
/// stream. A failure is answered with an error frame (best effort) and returned.
async fn accept_handshake<R, W>(r: &mut R, w: &mut W, hs: &mut ServerHandshake) -> FsResult<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let io = |e: std::io::Error| FsError::from_io("handshake", &e);
    while !hs.is_done() {
        let mut head = [0u8; HEADER_LEN];
        r.read_exact(&mut head).await.map_err(io)?;
        let h = FrameHeader::decode(&head)?;
        let checked = hs.check_header(&h).map(|()| h.msg_len as usize);
        let mut msg = [0u8; MAX_HANDSHAKE_MSG as usize];
        let reply = match checked {
            Ok(n) => {
                r.read_exact(&mut msg[..n]).await.map_err(io)?;
                hs.step(&h, &msg[..n])
            }
            Err(e) => Err(e),
        };
        let frame = match &reply {
            Ok(m) => OutFrame::new(FrameKind::Reply, h.op, h.id, m.clone(), Bytes::new()),
            Err(e) => OutFrame::new(FrameKind::Error, h.op, h.id, encode_error(e), Bytes::new()),
        };
        let sent = w.write_all(&frame.to_vec()).await;
        let sent = match sent {
            Ok(()) => w.flush().await,
            Err(e) => Err(e),
        };
        reply?;
        sent.map_err(io)?;
    }
    Ok(())
}

/// Serves one connection: the handshake (within the handshake timeout; `unauthenticated` is
/// held until it succeeds, so that the listener can bound the peers that have not proved
/// themselves), then requests until the client closes, a protocol error, a frame or reply
/// that misses its deadline, or the stop signal (in-flight requests are then finished and
/// their replies written, within the stop grace, before the connection closes).
pub async fn serve_connection<R, W>(
    r: R,
    w: W,
    ctx: ServeContext,
    unauthenticated: Option<OwnedSemaphorePermit>,
) where
    R: FrameReader,
    W: FrameWriter,
{
    let ServeContext {
        handler,
        secret,
        store,
        limits,
        slots,
        mut shutdown,
    } = ctx;
    let (mut r, mut w) = (r, w);
    let mut hs = ServerHandshake::new(secret, store);
    let proved = tokio::select! {
        p = tokio::time::timeout(limits.handshake_timeout, accept_handshake(&mut r, &mut w, &mut hs)) => {
            matches!(p, Ok(Ok(())))
        }
        _ = shutdown.wait_for(|v| *v) => false,
    };
    drop(unauthenticated);
    if !proved {
        return;
    }
    let (tx, rx) = mpsc::channel::<OutFrame>(OUT_QUEUE);
    let deadline = WriteDeadline {
        limit: Some(limits.frame_timeout),
        grace: limits.stop_grace,
        stopping: Some(shutdown.clone()),
    };
    let writer = writer_loop(rx, w, deadline);
    let own_slots = Arc::new(Semaphore::new(slots.per_connection));
    let memory = ReplyMemory::new(limits.reply_bytes);
    let reader_memory = memory.clone();
    let stop_slots = own_slots.clone();
    let per_connection = slots.per_connection as u32;
    let mut stopping = shutdown.clone();
    let reader = async move {
        let memory = reader_memory;
        let mut r = FrameBuf::new(r, frame_buf::SERVER_ROOM);
        let late = || {
            FsError::TimedOut(format!(
                "a frame did not arrive whole within {:?}",
                limits.frame_timeout
            ))
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Back-pressure: no slot of this connection, no reading (an idle connection
            // holds no server slot, so idle clients never starve busy ones).
            let own = tokio::select! {
                p = own_slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let begun = tokio::select! {
                b = frame_begins(&mut r) => b,
                _ = shutdown.changed() => break,
            };
            match begun {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
            // A frame has begun: all of it must arrive within the frame timeout.
            let due = Instant::now() + limits.frame_timeout;
            let head = tokio::select! {
                f = tokio::time::timeout_at(due, read_head(&mut r)) => f.unwrap_or_else(|_| Err(late())),
                _ = shutdown.changed() => break,
            };
            let (h, msg) = match head {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    // The stream is no longer in step: say why, then close.
                    send_connection_error(&tx, &e).await;
                    break;
                }
            };
            if h.kind != FrameKind::Request {
                break;
            }
            let len = h.bulk_len as usize;
            let sink = if len > 0 {
                handler.file_sink(h.op, &msg, len)
            } else {
                None
            };
            // The payload into memory for `handle`, or straight into the handler's file.
            let received = match sink {
                None => tokio::select! {
                    b = tokio::time::timeout_at(due, read_payload(&mut r, len)) => {
                        b.unwrap_or_else(|_| Err(late())).map(Ok)
                    }
                    _ = shutdown.changed() => break,
                },
                Some(sink) => tokio::select! {
                    s = tokio::time::timeout_at(due, receive_payload(&mut r, sink, len)) => {
                        s.unwrap_or_else(|_| Err(late())).map(Err)
                    }
                    _ = shutdown.changed() => break,
                },
            };
            let received = match received {
                Ok(r) => r,
                Err(e) => {
                    // The stream is no longer in step: say why, then close.
                    send_connection_error(&tx, &e).await;
                    break;
                }
            };
            // The payload is here: now a slot of the server.
            let permit = tokio::select! {
                p = slots.total.clone().acquire_owned() => match p { Ok(p) => (own, p), Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let mut fut = match received {
                Ok(bulk) => handler.clone().handle(h.op, msg, bulk),
                Err(stored) => handler.clone().handle_stored(h.op, msg, len, stored),
            };
            let to_frame = move |r: FsResult<Reply>| match r {
                Ok(rep) => {
                    OutFrame::with_file(FrameKind::Reply, h.op, h.id, rep.msg, rep.bulk, rep.file)
                }
                Err(e) => {
                    OutFrame::new(FrameKind::Error, h.op, h.id, encode_error(&e), Bytes::new())
                }
            };
            // Most requests (metadata, small page-cache I/O) complete without waiting: run
            // them here and skip a task spawn; the others continue in a task of their own.
            let first = {
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                fut.as_mut().poll(&mut cx)
            };
            if let std::task::Poll::Ready(r) = first {
                if memory.queue(&tx, to_frame(r)).await.is_err() {
                    break;
                }
                drop(permit);
                continue;
            }
            let tx = tx.clone();
            let memory = memory.clone();
            tokio::spawn(async move {
                let out = to_frame(fut.await);
                let _ = memory.queue(&tx, out).await;
                drop(permit);
            });
        }
        if *stopping.borrow_and_update() {
            // A graceful stop: once every request read is answered (their replies are
            // queued when their slots come back), the last frame says so. An error frame of
            // id 0 is sent only when nothing unanswered was read: the client may send its
            // unanswered requests again elsewhere (see `Connection::closed_unread`).
            if let Ok(all) = stop_slots.acquire_many(per_connection).await {
                drop(all);
                let e = FsError::Busy("the server is stopping".into());
                send_connection_error(&tx, &e).await;
            }
        }
    };
    // The writer ends once the reader and every request task have dropped their senders,
    // or when the peer does not take its replies in time: the reader then stops too, and
    // requests still running find the reply memory closed.
    tokio::pin!(reader);
    tokio::pin!(writer);
    tokio::select! {
        _ = &mut reader => {
            let _ = (&mut writer).await;
        }
        _ = &mut writer => {}
    }
    memory.close();
}

/// The memory the replies queued for one connection may hold, in bytes.
#[derive(Clone)]
struct ReplyMemory {
    bytes: Arc<Semaphore>,
    cap: usize,
}

impl ReplyMemory {
    fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        ReplyMemory {
            bytes: Arc::new(Semaphore::new(cap)),
            cap,
        }
    }

    /// Queues a reply once there is room for it (a reply larger than all of it waits until
    /// it is alone). Fails when the writer is gone.
    async fn queue(&self, tx: &mpsc::Sender<OutFrame>, mut f: OutFrame) -> Result<(), ()> {
        let want = f.memory().min(self.cap) as u32;
        let held = self.bytes.clone().acquire_many_owned(want).await;
        f._memory = Some(held.map_err(|_| ())?);
        tx.send(f).await.map_err(|_| ())
    }

    /// No more replies: whoever waits for room gives up.
    fn close(&self) {
        self.bytes.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::wire::Op;
    use std::sync::Mutex;
    use std::time::Instant;

    /// What the test servers share: `handler`, `secret`, `slots`, the stop signal, and the
    /// default limits.
    fn ctx(
        handler: Arc<dyn Handler>,
        secret: Vec<u8>,
        slots: RequestSlots,
        shutdown: watch::Receiver<bool>,
    ) -> ServeContext {
        ServeContext {
            handler,
            secret: Arc::new(secret),
            store: 0x5eed,
            limits: ConnectionLimits::default(),
            slots,
            shutdown,
        }
    }

    /// A stream that records each write call it gets and the bytes.
    #[derive(Default)]
    struct Recorder {
        writes: usize,
        bytes: Vec<u8>,
    }
    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            b: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes += 1;
            self.bytes.extend_from_slice(b);
            std::task::Poll::Ready(Ok(b.len()))
        }
        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes += 1;
            let mut n = 0;
            for b in bufs {
                self.bytes.extend_from_slice(b);
                n += b.len();
            }
            std::task::Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }
    impl FrameWriter for Recorder {
        fn send_file<'a>(
            &'a mut self,
            region: &'a FileRegion,
        ) -> BoxFuture<'a, std::io::Result<()>> {
            Box::pin(super::super::copy_file_region(self, region))
        }
    }

    #[tokio::test]
    async fn a_large_payload_leaves_with_its_header_and_small_frames_in_one_write() {
        let frame = |id: u64, bulk: usize| {
            let msg = Bytes::from(vec![id as u8; 10]);
            OutFrame::new(FrameKind::Request, 5, id, msg, Bytes::from(vec![7u8; bulk]))
        };
        let frames = [frame(1, 0), frame(2, 100), frame(3, 200 << 10), frame(4, 9)];
        let mut want = Vec::new();
        for f in &frames {
            want.extend_from_slice(&f.header);
            want.extend_from_slice(&f.msg);
            want.extend_from_slice(&f.bulk);
        }
        let mut w = Gather::new(Recorder::default());
        for f in &frames {
            w.frame(f).await.unwrap();
        }
        w.flush().await.unwrap();
        assert!(
            w.w.bytes == want,
            "the stream's bytes are the frames', in order"
        );
        // Frames 1 and 2 and the header of 3 with its payload in one vectored write; frame
        // 4 at the flush. (A buffered writer made three: the gathered bytes, then the
        // large payload on its own, then frame 4.)
        assert_eq!(w.w.writes, 2);
    }

    #[derive(Default)]
    struct Echo {
        running: std::sync::atomic::AtomicUsize,
        max_running: std::sync::atomic::AtomicUsize,
        /// Requests of op 98 (never answered) the server has taken.
        parked: std::sync::atomic::AtomicUsize,
        /// Requests answered.
        handled: std::sync::atomic::AtomicUsize,
    }
    impl Handler for Echo {
        fn handle(
            self: Arc<Self>,
            op: u16,
            msg: Bytes,
            bulk: Bytes,
        ) -> BoxFuture<'static, FsResult<Reply>> {
            Box::pin(async move {
                if op == 99 {
                    return Err(FsError::NotEmpty("x".into()));
                }
                if op == 98 {
                    // Never answers in time.
                    self.parked.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                // Reply out of order: later requests with small payloads finish first.
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_running.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis((bulk.len() % 7) as u64)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.handled.fetch_add(1, Ordering::SeqCst);
                Ok(Reply::new(msg, bulk))
            })
        }
    }

    fn pair(secret: &[u8]) -> (Arc<RpcConnection>, watch::Sender<bool>) {
        let (c, s, _) = pair_with(secret);
        (c, s)
    }

    fn pair_with(secret: &[u8]) -> (Arc<RpcConnection>, watch::Sender<bool>, Arc<Echo>) {
        let echo = Arc::new(Echo::default());
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let (stx, srx) = watch::channel(false);
        tokio::spawn(serve_connection(
            br,
            bw,
            ctx(echo.clone(), secret.to_vec(), RequestSlots::new(4, 4), srx),
            None,
        ));
        (RpcConnection::start(ar, aw, "duplex".into()), stx, echo)
    }

    #[tokio::test]
    async fn many_calls_in_flight_get_their_own_replies() {
        let (c, _s, echo) = pair_with(b"k");
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let msg = Bytes::from(i.to_le_bytes().to_vec());
                let bulk = Bytes::from(vec![i as u8; i as usize * 13]);
                let r = c
                    .call_raw(5, msg.clone(), bulk.clone(), Duration::from_secs(10))
                    .await
                    .unwrap();
                assert_eq!(r.msg, msg);
                assert_eq!(r.bulk, bulk);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // The server never ran more requests at once than its permits (4), whatever the
        // client queued: the rest waited in the socket (back-pressure).
        let max = echo.max_running.load(Ordering::SeqCst);
        assert!((1..=4).contains(&max), "{max} requests ran at once");
        let e = c
            .call_raw(99, Bytes::new(), Bytes::new(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::ENOTEMPTY);
    }

    #[tokio::test]
    async fn a_call_that_gets_no_reply_times_out() {
        let (c, _s) = pair(b"k");
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        let e = c
            .call_raw(98, Bytes::new(), Bytes::new(), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::ETIMEDOUT);
        assert_eq!(c.in_flight(), 0);
        // The connection still works afterwards.
        c.call_raw(1, Bytes::new(), Bytes::new(), Duration::from_secs(5))
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_graceful_stop_answers_what_it_read_and_says_it_read_nothing_else() {
        let (c, stop, echo) = pair_with(b"k");
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        // 64 calls of 6 ms each through 4 slots: most are still in the socket at the stop.
        let calls: Vec<_> = (0..64usize)
            .map(|i| {
                let c = c.clone();
                let bulk = Bytes::from(vec![i as u8; 6 + 7 * i]);
                tokio::spawn(async move {
                    c.call_raw(5, Bytes::new(), bulk, Duration::from_secs(10))
                        .await
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while echo.handled.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "no call was answered");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.send(true).unwrap();
        let (mut answered, mut unread) = (0, 0);
        for t in calls {
            match t.await.unwrap() {
                Ok(_) => answered += 1,
                Err(e) => {
                    assert_eq!(e.errno(), libc::EBUSY, "{e}");
                    assert!(e.to_string().contains("duplex"), "{e}");
                    unread += 1;
                }
            }
        }
        // Every request the server ran was answered: those that failed were never run, so
        // a client may send them again.
        assert!(c.closed_unread());
        assert_eq!(answered, echo.handled.load(Ordering::SeqCst));
        assert!(unread > 0, "all 64 calls were answered before the stop");
    }

    #[tokio::test]
    async fn wrong_or_missing_secret_is_refused() {
        let (c, _s) = pair(b"right");
        let e = c.hello(b"wrong", Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.errno(), libc::EACCES);
        let (c, _s) = pair(b"right");
        // A first request that is not a Hello is refused too.
        let e = c
            .call_raw(
                Op::Lookup as u16,
                Bytes::new(),
                Bytes::new(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::EACCES);
        // And the connection is then closed.
        let e = c
            .call_raw(1, Bytes::new(), Bytes::new(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(e.errno(), libc::ECONNRESET | libc::EACCES),
            "{e:?}"
        );
    }

    /// A raw peer of a server running [`Echo`] with `limits` over a duplex stream, and the
    /// server's task.
    fn raw_peer(
        limits: ConnectionLimits,
        slots: RequestSlots,
    ) -> (tokio::io::DuplexStream, JoinHandle<()>, watch::Sender<bool>) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (br, bw) = tokio::io::split(b);
        let (stx, srx) = watch::channel(false);
        let mut c = ctx(Arc::new(Echo::default()), b"k".to_vec(), slots, srx);
        c.limits = limits;
        (a, tokio::spawn(serve_connection(br, bw, c, None)), stx)
    }

    /// Reads frames from a raw stream until it ends; the frames' (kind, id, errno if an
    /// error).
    async fn frames_until_closed<R: AsyncRead + Unpin>(r: &mut R) -> Vec<(FrameKind, u64, i32)> {
        let mut out = Vec::new();
        loop {
            let mut h = [0u8; HEADER_LEN];
            if r.read_exact(&mut h).await.is_err() {
                return out;
            }
            let h = FrameHeader::decode(&h).unwrap();
            let mut msg = vec![0u8; h.msg_len as usize + h.bulk_len as usize];
            if r.read_exact(&mut msg).await.is_err() {
                return out;
            }
            let errno = if h.kind == FrameKind::Error {
                decode_error(&msg[..h.msg_len as usize]).errno()
            } else {
                0
            };
            out.push((h.kind, h.id, errno));
        }
    }

    fn request_header(op: u16, id: u64, msg_len: u32, bulk_len: u32) -> [u8; HEADER_LEN] {
        FrameHeader {
            kind: FrameKind::Request,
            op,
            id,
            msg_len,
            bulk_len,
        }
        .encode()
    }

    #[tokio::test]
    async fn nothing_is_read_from_a_peer_before_it_proves_itself() {
        // A first frame announcing a large message or a payload is refused by its header
        // alone, at once: the server does not wait for (or buffer) what it announced.
        for (msg_len, bulk_len) in [(1 << 20, 0), (32, 64 << 20), (MAX_HANDSHAKE_MSG + 1, 0)] {
            let (mut peer, server, _stop) =
                raw_peer(ConnectionLimits::default(), RequestSlots::new(4, 4));
            peer.write_all(&request_header(Op::Hello as u16, 1, msg_len, bulk_len))
                .await
                .unwrap();
            let frames =
                tokio::time::timeout(Duration::from_secs(5), frames_until_closed(&mut peer))
                    .await
                    .expect("the server answers and closes at once");
            assert_eq!(frames, vec![(FrameKind::Error, 1, libc::EACCES)]);
            server.await.unwrap();
        }
        // A peer that says nothing is dropped after the handshake timeout.
        let limits = ConnectionLimits {
            handshake_timeout: Duration::from_millis(200),
            ..ConnectionLimits::default()
        };
        let (mut peer, server, _stop) = raw_peer(limits, RequestSlots::new(4, 4));
        peer.write_all(&request_header(Op::Hello as u16, 1, 32, 0)[..10])
            .await
            .unwrap();
        let frames = tokio::time::timeout(Duration::from_secs(5), frames_until_closed(&mut peer))
            .await
            .expect("dropped after the handshake timeout");
        assert!(frames.is_empty());
        server.await.unwrap();
    }

    /// Bytes one side of a duplex stream writes, recorded on their way to the other side.
    async fn record(
        mut from: tokio::io::ReadHalf<tokio::io::DuplexStream>,
        mut to: tokio::io::WriteHalf<tokio::io::DuplexStream>,
        seen: Arc<Mutex<Vec<u8>>>,
    ) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 || to.write_all(&buf[..n]).await.is_err() {
                return;
            }
            seen.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    }

    /// A client connection to an [`Echo`] server holding `server_secret`, with everything
    /// the client sends recorded.
    fn recorded_pair(server_secret: &[u8]) -> (Arc<RpcConnection>, Arc<Mutex<Vec<u8>>>) {
        let (client, proxy_c) = tokio::io::duplex(1 << 16);
        let (proxy_s, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let (_stx, srx) = watch::channel(false);
        std::mem::forget(_stx);
        let c = ctx(
            Arc::new(Echo::default()),
            server_secret.to_vec(),
            RequestSlots::new(4, 4),
            srx,
        );
        tokio::spawn(serve_connection(sr, sw, c, None));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (pcr, pcw) = tokio::io::split(proxy_c);
        let (psr, psw) = tokio::io::split(proxy_s);
        tokio::spawn(record(pcr, psw, seen.clone()));
        tokio::spawn(record(psr, pcw, Arc::new(Mutex::new(Vec::new()))));
        let (cr, cw) = tokio::io::split(client);
        (RpcConnection::start(cr, cw, "proxied".into()), seen)
    }

    #[tokio::test]
    async fn the_secret_never_crosses_the_wire_and_both_sides_prove_they_hold_it() {
        let secret = b"0123456789abcdef-the-cluster-secret";
        let (c, seen) = recorded_pair(secret);
        c.hello(secret, Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            c.store(),
            Some(0x5eed),
            "the handshake names the server's store"
        );
        let r = c
            .call_raw(
                5,
                Bytes::new(),
                Bytes::from_static(b"after"),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(&r.bulk[..], b"after");
        let sent = seen.lock().unwrap().clone();
        assert!(sent.len() > 2 * HEADER_LEN);
        assert!(
            !sent.windows(8).any(|w| secret.windows(8).any(|s| s == w)),
            "part of the secret went over the wire"
        );
        // A server without the secret cannot prove it: the client refuses it before it sends
        // a proof of its own (only its Hello went out).
        let (c, seen) = recorded_pair(b"another secret");
        let e = c.hello(secret, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.errno(), libc::EACCES, "{e}");
        assert!(e.to_string().contains("proxied"), "{e}");
        let sent = seen.lock().unwrap().clone();
        assert_eq!(sent.len(), HEADER_LEN + 32, "only the Hello was sent");
    }

    /// `n` authenticated connections to servers sharing `echo` and `slots`, each with
    /// `limits`.
    async fn limited_connections(
        n: usize,
        echo: &Arc<Echo>,
        slots: &RequestSlots,
        limits: ConnectionLimits,
        srx: &watch::Receiver<bool>,
    ) -> Vec<(Arc<RpcConnection>, JoinHandle<()>)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (a, b) = tokio::io::duplex(1 << 16);
            let (br, bw) = tokio::io::split(b);
            let mut c = ctx(echo.clone(), b"k".to_vec(), slots.clone(), srx.clone());
            c.limits = limits;
            let server = tokio::spawn(serve_connection(br, bw, c, None));
            let (ar, aw) = tokio::io::split(a);
            let conn = RpcConnection::start(ar, aw, "peer".into());
            conn.hello(b"k", Duration::from_secs(5)).await.unwrap();
            out.push((conn, server));
        }
        out
    }

    /// Waits (at most 10 s) until a connection's server task has ended.
    async fn ended(server: JoinHandle<()>, what: &str) {
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap_or_else(|_| panic!("{what}"))
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_payload_holds_no_server_slot_and_is_dropped() {
        // Two server slots; three peers each start a request whose payload never comes.
        let limits = ConnectionLimits {
            frame_timeout: Duration::from_millis(500),
            ..ConnectionLimits::default()
        };
        let slots = RequestSlots::new(2, 2);
        let echo = Arc::new(Echo::default());
        let (_stx, srx) = watch::channel(false);
        let peers = limited_connections(3, &echo, &slots, limits, &srx).await;
        // Each sends a request announcing 1 MiB and only 1000 bytes of it.
        for (p, _) in &peers {
            let frame = OutFrame {
                header: request_header(5, 777, 0, 1 << 20),
                msg: Bytes::new(),
                bulk: Bytes::from(vec![1u8; 1000]),
                file: None,
                _memory: None,
            };
            p.tx.send(frame).await.unwrap();
        }
        // Another client is served meanwhile.
        let other = connections(1, &echo, &slots, &srx).await;
        let r = other[0]
            .call_raw(
                5,
                Bytes::new(),
                Bytes::from_static(b"hi"),
                Duration::from_secs(5),
            )
            .await
            .expect("the stalled payloads hold no server slot");
        assert_eq!(&r.bulk[..], b"hi");
        // And the stalled peers are dropped once the frame timeout has passed, told why.
        for (p, server) in peers {
            ended(server, "a stalled peer was never dropped").await;
            let e = p
                .call_raw(5, Bytes::new(), Bytes::new(), Duration::from_secs(5))
                .await
                .unwrap_err();
            assert!(
                matches!(e.errno(), libc::ETIMEDOUT | libc::ECONNRESET),
                "{e}"
            );
        }
    }

    /// A read side that delivers nothing once closed (a peer that stops reading).
    struct Gate<R> {
        inner: R,
        open: Arc<AtomicBool>,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Gate<R> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if !self.open.load(Ordering::SeqCst) {
                return std::task::Poll::Pending;
            }
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<R: AsyncRead + Unpin + Send + 'static> FrameReader for Gate<R> {
        fn recv_to_file<'a>(
            &'a mut self,
            file: &'a std::fs::File,
            offset: u64,
            len: usize,
        ) -> BoxFuture<'a, super::super::SinkResult> {
            Box::pin(super::super::copy_to_file(self, file, offset, len))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_that_does_not_read_is_bounded_in_memory_and_dropped() {
        const REPLY: usize = 64 << 10;
        let limits = ConnectionLimits {
            frame_timeout: Duration::from_millis(500),
            reply_bytes: 4 * REPLY,
            ..ConnectionLimits::default()
        };
        let echo = Arc::new(Echo::default());
        let (a, b) = tokio::io::duplex(1 << 16);
        let (br, bw) = tokio::io::split(b);
        let (_stx, srx) = watch::channel(false);
        let mut c = ctx(echo.clone(), b"k".to_vec(), RequestSlots::new(64, 4), srx);
        c.limits = limits;
        let server = tokio::spawn(serve_connection(br, bw, c, None));
        let (ar, aw) = tokio::io::split(a);
        let open = Arc::new(AtomicBool::new(true));
        let gate = Gate {
            inner: ar,
            open: open.clone(),
        };
        let conn = RpcConnection::start(gate, aw, "deaf".into());
        conn.hello(b"k", Duration::from_secs(5)).await.unwrap();
        // From now on the client reads nothing, and asks for 100 replies of 64 KiB.
        open.store(false, Ordering::SeqCst);
        for i in 0..100u8 {
            let conn = conn.clone();
            tokio::spawn(async move {
                let _ = conn
                    .call_raw(
                        5,
                        Bytes::new(),
                        Bytes::from(vec![i; REPLY]),
                        Duration::from_secs(60),
                    )
                    .await;
            });
        }
        // The server drops the connection once a reply waits longer than the frame timeout,
        // having handled no more requests than its slots of the connection (4), the replies
        // its reply memory holds (4) and what the stream itself buffers (1) allow.
        ended(server, "a peer that does not read was never dropped").await;
        let handled = echo.handled.load(Ordering::SeqCst);
        assert!((1..=10).contains(&handled), "{handled} requests handled");
    }

    #[tokio::test]
    async fn garbage_from_the_peer_fails_calls_without_panic() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let c = RpcConnection::start(ar, aw, "garbage".into());
        let (mut br, mut bw) = tokio::io::split(b);
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let _ = br.read(&mut buf).await;
            // A header claiming a 4 GiB message.
            let mut h = FrameHeader {
                kind: FrameKind::Reply,
                op: 1,
                id: 1,
                msg_len: 0,
                bulk_len: 0,
            }
            .encode();
            h[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
            let _ = bw.write_all(&h).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let e = c.hello(b"k", Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.errno(), libc::EMSGSIZE);
        assert!(c.is_closed());
        // Not a stop: nothing says the calls it failed were not read.
        assert!(!c.closed_unread());
    }

    #[tokio::test]
    async fn a_refusal_read_before_the_first_call_is_that_calls_error() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let c = RpcConnection::start(ar, aw, "full".into());
        let (_br, mut bw) = tokio::io::split(b);
        let why = FsError::Busy("at its limit (--max-connections)".into());
        bw.write_all(&refusal_frame(&why)).await.unwrap();
        drop(bw);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !c.is_closed() {
            assert!(Instant::now() < deadline, "the refusal was never read");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Closed before the handshake began: the handshake fails with the server's reason.
        let e = c.hello(b"k", Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.errno(), libc::EBUSY, "{e}");
        assert!(e.to_string().contains("--max-connections"), "{e}");
        assert!(e.to_string().contains("full"), "{e}");
    }

    /// A handler that stores op 7's payload into a file at the offset its message names
    /// (op 8: into a read-only file, which fails; op 9: refused before the payload), and
    /// answers op 5 by echoing.
    struct Sinker {
        file: Arc<std::fs::File>,
        read_only: Arc<std::fs::File>,
    }
    impl Handler for Sinker {
        fn handle(
            self: Arc<Self>,
            _op: u16,
            msg: Bytes,
            bulk: Bytes,
        ) -> BoxFuture<'static, FsResult<Reply>> {
            Box::pin(async move { Ok(Reply::new(msg, bulk)) })
        }
        fn file_sink(&self, op: u16, msg: &Bytes, _len: usize) -> Option<FsResult<FileSink>> {
            if !(7..=9).contains(&op) {
                return None;
            }
            let offset = u64::from_le_bytes(msg.get(..8)?.try_into().ok()?);
            match op {
                7 => Some(Ok(FileSink {
                    file: self.file.clone(),
                    offset,
                    hold: None,
                    pin: None,
                })),
                8 => Some(Ok(FileSink {
                    file: self.read_only.clone(),
                    offset,
                    hold: None,
                    pin: None,
                })),
                9 => Some(Err(FsError::InvalidArgument("refused".into()))),
                _ => None,
            }
        }
        fn handle_stored(
            self: Arc<Self>,
            _op: u16,
            msg: Bytes,
            len: usize,
            stored: FsResult<()>,
        ) -> BoxFuture<'static, FsResult<Reply>> {
            Box::pin(async move {
                stored?;
                Ok(Reply::new(
                    msg,
                    Bytes::from((len as u64).to_le_bytes().to_vec()),
                ))
            })
        }
    }

    fn sinker(dir: &std::path::Path) -> Arc<Sinker> {
        let path = dir.join("sink");
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let ro = dir.join("ro");
        std::fs::write(&ro, b"").unwrap();
        Arc::new(Sinker {
            file: Arc::new(file),
            read_only: Arc::new(std::fs::File::open(ro).unwrap()),
        })
    }

    fn data(seed: u64, len: usize) -> Bytes {
        Bytes::from(
            (0..len as u64)
                .map(|i| (i.wrapping_mul(131).wrapping_add(seed * 17) % 253) as u8)
                .collect::<Vec<u8>>(),
        )
    }

    /// Payloads stored through the sink land in the file byte for byte, whether part of
    /// them was already buffered with the frame before (small frames in front) or not;
    /// a failing file and a refused sink fail their request alone, and the connection
    /// goes on in step.
    async fn check_file_sink(c: Arc<RpcConnection>, handler: Arc<Sinker>) {
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        let t = Duration::from_secs(20);
        let sizes = [1usize, 4096, 65_536, 300_001, 1 << 20, 3 << 20];
        let mut expected = Vec::new();
        let mut offset = 0u64;
        let mut calls = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            let payload = data(i as u64, len);
            expected.push((offset, payload.clone()));
            // Small echo calls around it, so that the server reads frames in batches.
            for j in 0..3u8 {
                let c = c.clone();
                calls.push(tokio::spawn(async move {
                    let r = c
                        .call_raw(5, Bytes::from(vec![j; 9]), Bytes::from(vec![j; 100]), t)
                        .await
                        .unwrap();
                    assert_eq!(r.bulk, vec![j; 100]);
                }));
            }
            let c = c.clone();
            let o = offset;
            calls.push(tokio::spawn(async move {
                let r = c
                    .call_raw(7, Bytes::from(o.to_le_bytes().to_vec()), payload, t)
                    .await
                    .unwrap();
                assert_eq!(r.bulk, (len as u64).to_le_bytes().to_vec());
            }));
            offset += len as u64 + 1000;
        }
        for call in calls {
            call.await.unwrap();
        }
        for (off, payload) in &expected {
            let mut back = vec![0u8; payload.len()];
            std::os::unix::fs::FileExt::read_exact_at(&*handler.file, &mut back, *off).unwrap();
            assert!(back == payload[..], "payload at {off} differs");
        }
        for (op, errno) in [(8u16, libc::EBADF), (9, libc::EINVAL)] {
            let e = c
                .call_raw(
                    op,
                    Bytes::from(0u64.to_le_bytes().to_vec()),
                    data(5, 700_000),
                    t,
                )
                .await
                .unwrap_err();
            assert_eq!(e.errno(), errno, "op {op}: {e}");
            let r = c
                .call_raw(
                    5,
                    Bytes::from_static(b"after"),
                    Bytes::from_static(b"ok"),
                    t,
                )
                .await
                .unwrap();
            assert_eq!(&r.bulk[..], b"ok", "the connection is still in step");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_sink_over_a_generic_stream() {
        let dir = tempfile::tempdir().unwrap();
        let h = sinker(dir.path());
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let (_stx, srx) = watch::channel(false);
        tokio::spawn(serve_connection(
            br,
            bw,
            ctx(h.clone(), b"k".to_vec(), RequestSlots::new(8, 8), srx),
            None,
        ));
        check_file_sink(RpcConnection::start(ar, aw, "duplex".into()), h).await;
    }

    /// A connection to a server running `handler` over real TCP on 127.0.0.1, both sides
    /// reading through the TCP transport's reader (splice into files, receive low-water
    /// mark); not yet authenticated.
    async fn tcp_connection(handler: Arc<dyn Handler>) -> Arc<RpcConnection> {
        use super::super::tcp::TcpFrameReader;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let (sr, sw) = server.into_split();
        // The server runs until the client closes (never told to shut down).
        let (stx, srx) = watch::channel(false);
        std::mem::forget(stx);
        tokio::spawn(serve_connection(
            TcpFrameReader::new(sr),
            sw,
            ctx(handler, b"k".to_vec(), RequestSlots::new(8, 8), srx),
            None,
        ));
        let (cr, cw) = client.into_split();
        RpcConnection::start(TcpFrameReader::new(cr), cw, addr.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_sink_over_tcp_splices() {
        let dir = tempfile::tempdir().unwrap();
        let h = sinker(dir.path());
        check_file_sink(tcp_connection(h.clone()).await, h).await;
    }

    /// An authenticated connection to an [`Echo`] server over real TCP.
    async fn tcp_echo() -> Arc<RpcConnection> {
        let c = tcp_connection(Arc::new(Echo::default())).await;
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        c
    }

    /// Payload sizes around the low-water thresholds: a mark left above what a frame still
    /// holds would stall the next frame until the call times out.
    fn awkward_sizes() -> Vec<usize> {
        use super::super::low_water::{LOW_WATER_MAX, LOW_WATER_MIN};
        vec![
            (1 << 20) + 7,
            0,
            LOW_WATER_MIN,
            3,
            LOW_WATER_MIN - 1,
            LOW_WATER_MAX + LOW_WATER_MIN - 1,
            5,
            LOW_WATER_MAX,
            LOW_WATER_MAX + 1,
            2 * LOW_WATER_MAX + 17,
            (3 << 20) + 1,
            1,
        ]
    }

    /// Sends `n` bytes of `fill` to the echo server and checks they come back, within 5 s.
    async fn echoes_back(c: &RpcConnection, n: usize, fill: u8) {
        let bulk = Bytes::from(vec![fill; n]);
        let r = c
            .call_raw(5, Bytes::new(), bulk.clone(), Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("payload of {n} bytes: {e}"));
        assert_eq!(r.bulk, bulk, "payload of {n} bytes");
    }

    /// A pattern that tells every byte of call `i` from those of other calls.
    fn pattern(i: usize, n: usize) -> Bytes {
        (0..n)
            .map(|k| (k as u64 * 31 + i as u64 * 7 + k as u64 / 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_replies_land_in_the_callers_memory_byte_exact_and_small_ones_are_copied() {
        use crate::fs::transport::io_buffer::{IoBuffer, COPY_STATS};
        let c = tcp_echo().await;
        // (payload, destination) sizes: in place when the payload is large and fits; else
        // returned in memory of the transport's own (too small, or a destination shorter
        // than the payload).
        let cases: Vec<(usize, usize)> = vec![
            (64 << 10, 64 << 10),
            (IN_PLACE_MIN, 64 << 10),
            (IN_PLACE_MIN - 1, 64 << 10),
            (4096, 4096),
            ((1 << 20) + 3, (1 << 20) + 3),
            (64 << 10, (64 << 10) - 1),
            (200 << 10, 256 << 10),
        ];
        let before = COPY_STATS.read().in_place;
        // Many at once, several rounds, plain calls between them, so that replies with and
        // without a destination follow each other in one read of the stream.
        let mut calls = Vec::new();
        for round in 0..4 {
            for (i, &(n, d)) in cases.iter().enumerate() {
                let conn = c.clone();
                let id = round * 100 + i;
                calls.push(tokio::spawn(async move {
                    let c = conn;
                    let dest = IoSlice::new(Arc::new(IoBuffer::new(d).unwrap()), 0..d).unwrap();
                    let sent = pattern(id, n);
                    let t = Duration::from_secs(10);
                    let r = c
                        .call_into(5, Bytes::new(), sent.clone(), dest.clone(), t)
                        .await
                        .unwrap();
                    assert_eq!(r.bulk, sent, "payload of {n} bytes into {d}");
                    let in_place = n >= IN_PLACE_MIN && n <= d;
                    assert_eq!(dest.holds(&r.bulk), in_place, "{n} bytes into {d}");
                    if in_place {
                        assert_eq!(&dest.as_ref()[..n], &sent[..]);
                    }
                    drop(r);
                    // Nothing of the transport holds the destination once the call is over.
                    assert_eq!(Arc::strong_count(dest.buffer()), 1, "{n} bytes into {d}");
                    in_place
                }));
                let conn = c.clone();
                calls.push(tokio::spawn(async move {
                    echoes_back(&conn, 100 + id, id as u8).await;
                    false
                }));
            }
        }
        let mut placed = 0;
        for t in calls {
            placed += t.await.unwrap() as usize;
        }
        assert_eq!(placed, 4 * 4);
        assert!(COPY_STATS.read().in_place > before);
        assert_eq!(
            c.pending.calls.in_place_waiting().load(Ordering::Relaxed),
            0
        );
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_into_memory_that_times_out_lets_go_of_it_and_the_connection_goes_on() {
        use crate::fs::transport::io_buffer::IoBuffer;
        let (c, _s) = pair(b"k");
        c.hello(b"k", Duration::from_secs(5)).await.unwrap();
        let dest = IoSlice::new(Arc::new(IoBuffer::new(64 << 10).unwrap()), 0..64 << 10).unwrap();
        let e = c
            .call_into(
                98,
                Bytes::new(),
                Bytes::new(),
                dest.clone(),
                Duration::from_millis(100),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::ETIMEDOUT);
        assert_eq!(c.in_flight(), 0);
        assert_eq!(
            c.pending.calls.in_place_waiting().load(Ordering::Relaxed),
            0
        );
        assert_eq!(Arc::strong_count(dest.buffer()), 1);
        // The next large reply is not taken for the call that gave up.
        let sent = pattern(1, 64 << 10);
        let r = c
            .call_raw(5, Bytes::new(), sent.clone(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.bulk, sent);
        assert!(!dest.holds(&r.bulk));
        assert!(dest.as_ref().iter().all(|b| *b == 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_and_short_payloads_over_tcp_never_stall() {
        let c = tcp_echo().await;
        let sizes = awkward_sizes();
        // One call at a time: each reply's payload is followed by nothing until the next
        // request, so a mark left too high would hold its last bytes back.
        for round in 0..3u8 {
            for (i, &n) in sizes.iter().enumerate() {
                echoes_back(&c, n, round ^ i as u8).await;
            }
        }
        // Many at once, replies out of order.
        let c = &c;
        let calls = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| echoes_back(c, n, i as u8));
        futures::future::join_all(calls).await;
    }

    /// `n` authenticated connections to servers sharing `echo` and `slots`.
    async fn connections(
        n: usize,
        echo: &Arc<Echo>,
        slots: &RequestSlots,
        srx: &watch::Receiver<bool>,
    ) -> Vec<Arc<RpcConnection>> {
        let mut conns = Vec::new();
        for _ in 0..n {
            let (a, b) = tokio::io::duplex(1 << 16);
            let (ar, aw) = tokio::io::split(a);
            let (br, bw) = tokio::io::split(b);
            tokio::spawn(serve_connection(
                br,
                bw,
                ctx(echo.clone(), b"k".to_vec(), slots.clone(), srx.clone()),
                None,
            ));
            let c = RpcConnection::start(ar, aw, "duplex".into());
            c.hello(b"k", Duration::from_secs(5)).await.unwrap();
            conns.push(c);
        }
        conns
    }

    /// Two connections sharing `slots`; the first floods the server with requests that are
    /// never answered. Returns whether the second still got an answer.
    async fn second_client_served(slots: RequestSlots, expect_parked: usize) -> bool {
        let echo = Arc::new(Echo::default());
        let (_stx, srx) = watch::channel(false);
        let conns = connections(2, &echo, &slots, &srx).await;
        for _ in 0..20 {
            let c = conns[0].clone();
            tokio::spawn(async move {
                let _ = c
                    .call_raw(98, Bytes::new(), Bytes::new(), Duration::from_secs(60))
                    .await;
            });
        }
        // Wait (bounded) until the server has taken all the flood it will take.
        let deadline = Instant::now() + Duration::from_secs(10);
        while echo.parked.load(Ordering::SeqCst) < expect_parked {
            assert!(
                Instant::now() < deadline,
                "the flood never reached the server ({} of {expect_parked} taken)",
                echo.parked.load(Ordering::SeqCst)
            );
            tokio::task::yield_now().await;
        }
        let served = conns[1]
            .call_raw(
                5,
                Bytes::new(),
                Bytes::from_static(b"hi"),
                Duration::from_secs(2),
            )
            .await
            .is_ok();
        assert_eq!(
            echo.parked.load(Ordering::SeqCst),
            expect_parked,
            "the flooding connection got more slots than its share"
        );
        served
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_busy_connection_cannot_take_every_slot() {
        // 8 slots, at most 3 per connection: the flood holds 3, the other client is served.
        assert!(second_client_served(RequestSlots::new(8, 3), 3).await);
        // The control: with no per-connection share the flood holds every slot and the
        // other client waits until its call times out.
        assert!(!second_client_served(RequestSlots::new(3, 3), 3).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_hold_no_server_slot() {
        // More idle connections than the server has slots: a busy one is still served.
        let echo = Arc::new(Echo::default());
        let slots = RequestSlots::new(2, 2);
        let (_stx, srx) = watch::channel(false);
        let conns = connections(5, &echo, &slots, &srx).await;
        for i in 0..20u8 {
            let r = conns[4]
                .call_raw(
                    5,
                    Bytes::new(),
                    Bytes::from(vec![i; 3]),
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
            assert_eq!(r.bulk, vec![i; 3]);
        }
    }
}
