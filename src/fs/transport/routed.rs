//! A connector that opens each connection over the transport its address names: `local:...`
//! in-process ([`super::local`]), `ucx/...` over UCX, anything else over TCP. A client whose
//! servers are reached over different transports (`--benchfs.transport auto`: the servers of
//! its own process locally, the others over UCX or TCP) connects through one of these.
//!
//! Owns [`RoutedConnector`], [`transport_of_address`] and [`is_server_address`]; knows nothing
//! of what the connections carry.

use super::choice::{ucx_not_built, UCX_PREFIX};
use super::io_buffer::IoBuffer;
use super::local::{is_local_address, LocalConnector, SCHEME};
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

/// True if `addr` has the form of a server address of its transport: `host:port` with a
/// nonzero port (TCP), `ucx/` followed by the address (UCX), or `local:` followed by the
/// address (in-process), as a cluster lists its servers.
pub fn is_server_address(addr: &str) -> bool {
    match transport_of_address(addr) {
        "local" => addr.len() > SCHEME.len(),
        "ucx" => addr.len() > UCX_PREFIX.len(),
        _ => matches!(
            addr.rsplit_once(':'),
            Some((host, port)) if !host.is_empty() && matches!(port.parse::<u16>(), Ok(p) if p > 0)
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_of_every_transport_are_recognised() {
        for good in [
            "127.0.0.1:4000",
            "node7:1",
            "[::1]:7000",
            "ucx/127.0.0.1-pid42-ab/5543",
            "local:42:00ff:0",
        ] {
            assert!(is_server_address(good), "{good}");
        }
        for bad in [
            "nohost",
            "host:",
            ":4000",
            "host:0",
            "host:70000",
            "ucx/",
            "local:",
        ] {
            assert!(!is_server_address(bad), "{bad}");
        }
        assert_eq!(transport_of_address("ucx/x"), "ucx");
        assert_eq!(transport_of_address("local:1:2:3"), "local");
        assert_eq!(transport_of_address("h:1"), "tcp");
    }
}
