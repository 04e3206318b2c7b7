//! The transport abstraction: how a client sends a request (message + bulk payload) to a
//! server and gets the matching reply, and how a server hands requests to its handler.
//!
//! Owns the [`Connection`], [`Connector`], [`Handler`], [`FrameReader`] and [`FrameWriter`]
//! traits and the [`Reply`], [`FileRegion`], [`FileSink`] and [`SizePin`] types (bulk data
//! sent from, or received into, a file without a copy through user space where the
//! transport can; UCX maps pinned files, see `ucx_mapped`). TCP
//! (tokio) is implemented in [`tcp`] (with [`splice`] for receiving into files and
//! [`low_water`] for fewer wake-ups while long payloads arrive), over the
//! request-correlating stream framing in [`stream`]; UCX (cargo feature `ucx`) in
//! `ucx_rpc`, over active messages with the same frame headers; servers in the client's own
//! process are reached without a socket through [`local`]. Every transport opens a connection with the same [`handshake`] and bounds
//! what a connection may take with the same [`ConnectionLimits`]. Must not know about file
//! system operations beyond the op number.

pub(crate) mod choice;
pub(crate) mod frame_buf;
pub mod fuzz;
pub(crate) mod handshake;
pub mod io_buffer;
pub mod local;
pub(crate) mod low_water;
pub(crate) mod pending;
pub mod routed;
pub(crate) mod splice;
pub(crate) mod stream;
pub mod tcp;
#[cfg(feature = "ucx")]
pub mod ucx;
#[cfg(feature = "ucx")]
pub mod ucx_mapped;
#[cfg(feature = "ucx")]
pub(crate) mod ucx_registered;
#[cfg(feature = "ucx")]
pub mod ucx_rpc;

use super::error::FsResult;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed, sendable future (the traits here are object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A region of an open file sent as the bulk payload of a reply. Transports that can send
/// straight from the page cache (TCP: `sendfile`) do so; others read it first. If the file
/// turns out shorter than `len` when it is sent, the rest is sent as zeros (the frame length
/// was already announced).
#[derive(Debug, Clone)]
pub struct FileRegion {
    /// The open file.
    pub file: Arc<std::fs::File>,
    /// Where the region starts.
    pub offset: u64,
    /// Its length.
    pub len: usize,
    /// If given, the file is not shrunk while the pin is alive (and the region lay within
    /// it when it was made): a transport may then send the region from a mapping of the
    /// file (UCX), which keeps the pin until the send is over.
    pub pin: Option<SizePin>,
}

/// A handler's promise that a file is not shrunk while any clone of the pin is alive, so
/// that a transport's mapping of a range within the file's size can never fault past its
/// end (see [`FileRegion::pin`] and [`FileSink::pin`]).
#[derive(Clone)]
pub struct SizePin(pub Arc<dyn Send + Sync>);

impl std::fmt::Debug for SizePin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SizePin")
    }
}

/// A reply: the message part and the bulk payload (empty if none).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Encoded reply message.
    pub msg: Bytes,
    /// Bulk payload (file data of a read).
    pub bulk: Bytes,
    /// Bulk payload to send from a file instead of `bulk` (server replies only).
    pub file: Option<FileRegion>,
}

impl Reply {
    /// A reply with a message and an in-memory bulk payload.
    pub fn new(msg: Bytes, bulk: Bytes) -> Self {
        Reply {
            msg,
            bulk,
            file: None,
        }
    }
}

/// The write side of a byte stream that frames are written to: an `AsyncWrite` that can
/// also send a [`FileRegion`].
pub trait FrameWriter: tokio::io::AsyncWrite + Unpin + Send + 'static {
    /// Writes exactly `region.len` bytes: the file's bytes, then zeros if it is shorter.
    fn send_file<'a>(&'a mut self, region: &'a FileRegion) -> BoxFuture<'a, std::io::Result<()>>;

    /// Writes `head`, then `region` as [`FrameWriter::send_file`] does; a stream that can
    /// send the two together (TCP: `MSG_MORE`) does so.
    fn send_file_after<'a>(
        &'a mut self,
        head: &'a [u8],
        region: &'a FileRegion,
    ) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            tokio::io::AsyncWriteExt::write_all(self, head).await?;
            self.send_file(region).await
        })
    }
}

/// Reads a file region into new memory (zeros past the end of a file shorter than
/// announced), for transports that send or hand over a reply's region from memory.
pub(crate) fn read_region(region: &FileRegion) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; region.len];
    read_region_into(region, &mut buf)?;
    Ok(buf.into())
}

/// Reads file region `region` into `buf` (its first `buf.len()` bytes), zeros past the end
/// of a file shorter than announced (for transports that hand a reply's region over in
/// memory).
pub(crate) fn read_region_into(region: &FileRegion, buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < buf.len() {
        match region
            .file
            .read_at(&mut buf[got..], region.offset + got as u64)
        {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf[got..].fill(0);
    Ok(())
}

/// Writes a file region by reading it into memory first (for transports without a
/// zero-copy path).
pub async fn copy_file_region<W: tokio::io::AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    region: &FileRegion,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    use tokio::io::AsyncWriteExt;
    let mut buf = vec![0u8; region.len.min(1 << 20)];
    let mut done = 0usize;
    while done < region.len {
        let want = (region.len - done).min(buf.len());
        let mut got = 0;
        while got < want {
            match region
                .file
                .read_at(&mut buf[got..want], region.offset + (done + got) as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf[got..want].fill(0);
        w.write_all(&buf[..want]).await?;
        done += want;
    }
    Ok(())
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static> FrameWriter
    for tokio::io::WriteHalf<T>
{
    fn send_file<'a>(&'a mut self, region: &'a FileRegion) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(copy_file_region(self, region))
    }
}

/// Where the bulk payload of a request goes when the handler takes it straight into a file
/// (a chunk write) instead of receiving it in memory first: the transport moves the bytes
/// from the stream into `file` at `offset` (TCP: `splice(2)`, which spares the copy through
/// a user-space buffer).
pub struct FileSink {
    /// The open file the payload is written to.
    pub file: Arc<std::fs::File>,
    /// Where the payload's first byte goes.
    pub offset: u64,
    /// Whatever the handler needs kept alive until the payload is stored (dropped by the
    /// transport once it is).
    pub hold: Option<Box<dyn Send + Sync>>,
    /// If given, the file is not shrunk while the pin is alive: a transport may then extend
    /// the file over the payload's range and receive the payload through a shared mapping
    /// of it (UCX), keeping the pin and `hold` until no transfer can write there any more.
    pub pin: Option<SizePin>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("file", &self.file)
            .field("offset", &self.offset)
            .field("hold", &self.hold.is_some())
            .field("pin", &self.pin.is_some())
            .finish()
    }
}

/// The outcome of moving a payload from the stream into a file. The outer error is the
/// stream's (the connection is out of step and must close); the inner one the file's (the
/// whole payload was consumed from the stream, the request alone fails).
pub type SinkResult = std::io::Result<std::io::Result<()>>;

/// The read side of a byte stream that frames are read from: an `AsyncRead` that can also
/// move the next `len` bytes of the stream straight into a file.
pub trait FrameReader: tokio::io::AsyncRead + Unpin + Send + 'static {
    /// Moves exactly the next `len` bytes of the stream into `file` at `offset`. If writing
    /// the file fails, the rest of the payload is still consumed (and dropped), so that the
    /// stream stays in step, and the file's error is returned inside.
    fn recv_to_file<'a>(
        &'a mut self,
        file: &'a std::fs::File,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'a, SinkResult>;

    /// Tells the stream that the reader now waits for `n` more bytes of a frame that the
    /// peer is committed to send (0: the frame is complete). A stream may then hold back
    /// its wake-ups until that much has arrived, instead of waking the reader at every
    /// packet. Never asked for more than the current frame still holds, so it cannot stall.
    fn expect_bytes(&mut self, _n: usize) {}
}

/// Largest piece [`copy_to_file`] reads before writing it.
const COPY_PIECE: usize = 256 << 10;

/// Moves `len` bytes of a stream into a file by reading them into memory first (for
/// transports without a zero-copy path, and as the fallback of those with one).
pub async fn copy_to_file<R: tokio::io::AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    file: &std::fs::File,
    offset: u64,
    len: usize,
) -> SinkResult {
    use std::os::unix::fs::FileExt;
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; len.min(COPY_PIECE)];
    let mut done = 0usize;
    let mut file_result = Ok(());
    while done < len {
        let want = (len - done).min(buf.len());
        r.read_exact(&mut buf[..want]).await?;
        if file_result.is_ok() {
            file_result = file.write_all_at(&buf[..want], offset + done as u64);
        }
        done += want;
    }
    Ok(file_result)
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static> FrameReader
    for tokio::io::ReadHalf<T>
{
    fn recv_to_file<'a>(
        &'a mut self,
        file: &'a std::fs::File,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'a, SinkResult> {
        Box::pin(copy_to_file(self, file, offset, len))
    }
}

/// One client-side connection to one server. Many calls may be in flight at once; each is
/// matched to its reply by request id.
pub trait Connection: Send + Sync + 'static {
    /// Sends request `op` with `msg` and `bulk`, and waits for its reply for at most
    /// `timeout` (then `ETIMEDOUT`). An error reply from the server is returned as `Err`.
    fn call(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>>;

    /// True once the connection is known to be broken; calls then fail at once and the
    /// owner should connect again.
    fn is_closed(&self) -> bool;

    /// True if the server closed the connection saying that it had read none of the
    /// requests it did not answer (a graceful stop, a refusal): they may be sent again on a
    /// new connection.
    fn closed_unread(&self) -> bool {
        false
    }

    /// The address of the peer.
    fn peer(&self) -> &str;

    /// The store id of the server at the other end, once the handshake has told it.
    fn store(&self) -> Option<u64> {
        None
    }

    /// As [`Connection::call`], for a reply whose bulk payload belongs in `dest`: a
    /// transport that can receives it there (the reply's `bulk` is then `dest`'s bytes,
    /// see [`io_buffer::IoSlice::holds`]); others return it elsewhere, for the caller to
    /// copy. If the call ends early (a timeout), a reply still on its way may yet be
    /// written into `dest`, which the transport keeps alive until then.
    fn call_into(
        &self,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
        dest: io_buffer::IoSlice,
        timeout: Duration,
    ) -> BoxFuture<'_, FsResult<Reply>> {
        let _ = dest;
        self.call(op, msg, bulk, timeout)
    }
}

/// Opens connections to servers, presenting the cluster secret.
pub trait Connector: Send + Sync + 'static {
    /// Connects to `addr`, authenticates with `secret`, within `timeout`.
    fn connect<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: Duration,
    ) -> BoxFuture<'a, FsResult<Arc<dyn Connection>>>;

    /// A buffer of `len` bytes for file data that this transport moves without staging
    /// copies (registered with it where it registers memory; plain aligned memory else).
    fn alloc_io_buffer(&self, len: usize) -> FsResult<io_buffer::IoBuffer> {
        io_buffer::IoBuffer::new(len).ok_or_else(|| {
            crate::fs::error::FsError::OutOfMemory(format!("an I/O buffer of {len} bytes"))
        })
    }
}

/// The listening side of a transport on a server: accepts connections, checks the cluster
/// secret, and serves every connection's requests with the handler it was bound with.
pub trait Listener: Send + Sync + 'static {
    /// The transport's name (`tcp`), as clients select it.
    fn transport(&self) -> &'static str;
    /// The address clients connect to, as the registry records it.
    fn address(&self) -> String;
    /// Stops accepting, lets in-flight requests finish and their replies go out, then closes
    /// every connection.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
    /// Closes the listener and every connection at once, without replying (a crash, for
    /// tests).
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// What a server allows each connection, whatever the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a new connection has to complete the handshake (before it, the server reads
    /// nothing but the two small handshake frames).
    pub handshake_timeout: Duration,
    /// Time a frame that has begun has to arrive whole, and a reply to be taken by the peer;
    /// a connection that misses it is dropped (a stalled peer holds nothing for long).
    pub frame_timeout: Duration,
    /// Time a connection's replies may still take once the server stops (a peer that does
    /// not read cannot delay a graceful stop by more).
    pub stop_grace: Duration,
    /// Bytes of replies that may wait in memory for one connection's writer.
    pub reply_bytes: usize,
}

/// Default of [`ConnectionLimits::frame_timeout`].
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            handshake_timeout: handshake::HANDSHAKE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            stop_grace: Duration::from_secs(2),
            reply_bytes: 16 << 20,
        }
    }
}

/// What a [`Listener`] is bound with: where to listen, the secret clients must prove they
/// hold, the store id it names in the handshake, and the bounds on connections and requests.
#[derive(Clone)]
pub struct ListenOptions {
    /// Address to listen on (`127.0.0.1:0`).
    pub addr: String,
    /// The cluster secret.
    pub secret: Vec<u8>,
    /// The server's store id (told to clients by the handshake).
    pub store: u64,
    /// Most requests in progress at once across all connections.
    pub max_in_flight: usize,
    /// Most requests in progress at once from one connection.
    pub per_connection: usize,
    /// Most connections open at once; a connection beyond is refused with `EBUSY`.
    pub max_connections: usize,
    /// Most connections at once that have not completed the handshake; one beyond is
    /// refused with `EBUSY`.
    pub max_unauthenticated: usize,
    /// Time and memory per connection.
    pub limits: ConnectionLimits,
    /// UCX: handle requests with large payloads or file regions on the server's
    /// multi-threaded runtime instead of the worker's thread (see
    /// [`ServerTuning::ucx_offload`](crate::fs::ServerTuning::ucx_offload)).
    pub offload: bool,
}

/// The server side: handles one request and produces its reply (or an error, sent to the
/// client as an errno).
pub trait Handler: Send + Sync + 'static {
    /// Handles request `op` with message `msg` and bulk payload `bulk`.
    fn handle(
        self: Arc<Self>,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
    ) -> BoxFuture<'static, FsResult<Reply>>;

    /// Asked before the `len`-byte bulk payload of request `op` is read. `Some(Ok(sink))`:
    /// the transport moves the payload straight into the sink's file and then calls
    /// [`Handler::handle_stored`] instead of [`Handler::handle`]. `Some(Err(e))`: the
    /// request is refused; its payload is read and dropped and `e` goes back to the client.
    /// `None` (the default): the payload is received in memory and given to `handle`.
    fn file_sink(&self, op: u16, msg: &Bytes, len: usize) -> Option<FsResult<FileSink>> {
        let _ = (op, msg, len);
        None
    }

    /// Completes request `op` whose `len`-byte payload went to the sink that
    /// [`Handler::file_sink`] chose; `stored` says whether writing it succeeded.
    fn handle_stored(
        self: Arc<Self>,
        op: u16,
        msg: Bytes,
        len: usize,
        stored: FsResult<()>,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        let _ = (op, msg, len);
        Box::pin(async move {
            stored?;
            Err(crate::fs::error::FsError::Io(
                "this handler takes no payload into a file".into(),
            ))
        })
    }
}
