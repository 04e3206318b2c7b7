//! The transport abstraction: how a client sends a request (message + bulk payload) to a
//! server and gets the matching reply, and how a server hands requests to its handler.
//!
//! Owns the [`Connection`], [`Connector`] and [`Handler`] traits and the [`Reply`] type. TCP
//! (tokio) is implemented in [`tcp`], over the request-correlating RPC layer in
//! [`super::rpc`]; the UCX transport will implement the same traits. Must not know about
//! file system operations beyond the op number.

pub mod tcp;

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

    /// The address of the peer.
    fn peer(&self) -> &str;
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
}
