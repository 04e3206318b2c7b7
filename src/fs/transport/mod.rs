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

/// A reply: the message part and the bulk payload (empty if none).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Encoded reply message.
    pub msg: Bytes,
    /// Bulk payload (file data of a read).
    pub bulk: Bytes,
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
