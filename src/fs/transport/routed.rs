//! A connector that opens each connection over the transport its address names: `local:...`
//! in-process ([`super::local`]), `ucx/...` over UCX, anything else over TCP. A client whose
//! servers are reached over different transports (`--benchfs.transport auto`: the servers of
//! its own process locally, the others over UCX or TCP) connects through one of these.
//!
//! Owns [`RoutedConnector`] and [`transport_of_address`]; knows nothing of what the
//! connections carry.

use super::choice::{ucx_not_built, UCX_PREFIX};
use super::io_buffer::IoBuffer;
use super::local::{is_local_address, LocalConnector};
use super::tcp::TcpConnector;
use super::{BoxFuture, Connection, Connector};
use crate::fs::error::FsResult;
use std::sync::Arc;
use std::time::Duration;

/// The transport (`tcp`, `ucx`, `local`) whose address `addr` is.
pub fn transport_of_address(addr: &str) -> &'static str {
    if is_local_address(addr) {
        "local"
    } else if addr.starts_with(UCX_PREFIX) {
        "ucx"
    } else {
        "tcp"
    }
}

/// Opens each connection with the connector of its address's transport.
pub struct RoutedConnector {
    tcp: TcpConnector,
    /// The UCX connector, if any server is reached over UCX.
    ucx: Option<Arc<dyn Connector>>,
}

impl RoutedConnector {
    /// Connections to TCP addresses with `tcp`, to UCX addresses with `ucx` (`None`: none
    /// are expected, and one is refused as this build's lack of UCX would be), to local
    /// addresses in-process.
    pub fn new(tcp: TcpConnector, ucx: Option<Arc<dyn Connector>>) -> Self {
        RoutedConnector { tcp, ucx }
    }
}

impl Connector for RoutedConnector {
    fn connect<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: Duration,
    ) -> BoxFuture<'a, FsResult<Arc<dyn Connection>>> {
        match (transport_of_address(addr), &self.ucx) {
            ("local", _) => LocalConnector.connect(addr, secret, timeout),
            ("ucx", Some(u)) => u.connect(addr, secret, timeout),
            ("ucx", None) => Box::pin(std::future::ready(Err(ucx_not_built()))),
            _ => self.tcp.connect(addr, secret, timeout),
        }
    }

    /// Registered with UCX when servers are reached over UCX (a buffer registered there is
    /// plain memory to the other transports).
    fn alloc_io_buffer(&self, len: usize) -> FsResult<IoBuffer> {
        match &self.ucx {
            Some(u) => u.alloc_io_buffer(len),
            None => self.tcp.alloc_io_buffer(len),
        }
    }
}
