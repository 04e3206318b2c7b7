//! Which transports a server offers and which one a client uses: [`ServerTransports`]
//! (`benchfs-server --transport tcp|ucx|both`) and [`ClientTransport`]
//! (`--benchfs.transport tcp|ucx|auto`), parsed once here with the error wording every
//! front end shows, and whether this build has UCX at all.
//!
//! Owns these two choices and [`UCX_BUILT`]; opens no connection and binds nothing.

use crate::fs::error::{FsError, FsResult};

/// True if this build has the UCX transport (cargo feature `ucx`).
pub const UCX_BUILT: bool = cfg!(feature = "ucx");

/// The error of asking for UCX from a build without it.
pub fn ucx_not_built() -> FsError {
    FsError::InvalidArgument(
        "this build of BenchFS has no UCX transport (rebuild with cargo feature 'ucx')".into(),
    )
}

/// The transports a server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerTransports {
    /// TCP only.
    #[default]
    Tcp,
    /// UCX only.
    Ucx,
    /// TCP and UCX, each client choosing.
    Both,
}

impl ServerTransports {
    /// Parses `tcp`, `ucx` or `both` (any case).
    pub fn parse(s: &str) -> FsResult<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(ServerTransports::Tcp),
            "ucx" => Ok(ServerTransports::Ucx),
            "both" => Ok(ServerTransports::Both),
            _ => Err(FsError::InvalidArgument(format!(
                "unknown server transport '{s}' (expected tcp, ucx or both)"
            ))),
        }
    }

    /// True if TCP is offered.
    pub fn tcp(self) -> bool {
        matches!(self, ServerTransports::Tcp | ServerTransports::Both)
    }

    /// True if UCX is offered.
    pub fn ucx(self) -> bool {
        matches!(self, ServerTransports::Ucx | ServerTransports::Both)
    }
}

/// The transport a client talks to its servers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientTransport {
    /// TCP.
    #[default]
    Tcp,
    /// UCX (every server must offer it).
    Ucx,
    /// UCX when this build has it and every server offers it, else TCP.
    Auto,
}

impl ClientTransport {
    /// Parses `tcp`, `ucx` or `auto` (any case).
    pub fn parse(s: &str) -> FsResult<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(ClientTransport::Tcp),
            "ucx" => Ok(ClientTransport::Ucx),
            "auto" => Ok(ClientTransport::Auto),
            _ => Err(FsError::InvalidArgument(format!(
                "unknown transport '{s}' (expected tcp, ucx or auto)"
            ))),
        }
    }

    /// The transports servers started for this client must offer (in-job and embedded
    /// clusters): UCX for `ucx`, and for `auto` when the build has it.
    pub fn servers(self) -> ServerTransports {
        match self {
            ClientTransport::Tcp => ServerTransports::Tcp,
            ClientTransport::Ucx => ServerTransports::Ucx,
            ClientTransport::Auto if UCX_BUILT => ServerTransports::Both,
            ClientTransport::Auto => ServerTransports::Tcp,
        }
    }

    /// Resolves the choice against what the servers offer: `offers_ucx` is true if every
    /// server has a UCX address. `ucx` fails without UCX (in the build or at a server).
    pub fn resolve(self, offers_ucx: bool) -> FsResult<&'static str> {
        match self {
            ClientTransport::Tcp => Ok("tcp"),
            ClientTransport::Ucx if !UCX_BUILT => Err(ucx_not_built()),
            ClientTransport::Ucx if !offers_ucx => Err(FsError::InvalidArgument(
                "transport ucx asked, but not every server offers UCX (start them with \
                 --transport ucx or both)"
                    .into(),
            )),
            ClientTransport::Ucx => Ok("ucx"),
            ClientTransport::Auto if UCX_BUILT && offers_ucx => Ok("ucx"),
            ClientTransport::Auto => Ok("tcp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_resolve() {
        assert_eq!(
            ServerTransports::parse("BOTH").unwrap(),
            ServerTransports::Both
        );
        let e = ServerTransports::parse("rdma").unwrap_err();
        assert!(e.to_string().contains("'rdma'"), "{e}");
        assert_eq!(
            ClientTransport::parse("auto").unwrap(),
            ClientTransport::Auto
        );
        assert!(ClientTransport::parse("ucp").is_err());
        assert_eq!(ClientTransport::Tcp.resolve(true).unwrap(), "tcp");
        assert_eq!(ClientTransport::Auto.resolve(false).unwrap(), "tcp");
        assert_eq!(
            ClientTransport::Auto.resolve(true).unwrap(),
            if UCX_BUILT { "ucx" } else { "tcp" }
        );
        assert!(ClientTransport::Ucx.resolve(false).is_err());
    }
}
