//! Which transports a server offers and which one a client uses: [`ServerTransports`]
//! (`benchfs-server --transport tcp|ucx|both`) and [`ClientTransport`]
//! (`--benchfs.transport tcp|ucx|local|auto`), parsed once here with the error wording
//! every front end shows, whether this build has UCX at all, and the choice for each server
//! from what it offers ([`Offer`], [`ClientTransport::pick`]).
//!
//! Owns these choices and [`UCX_BUILT`]; opens no connection and binds nothing (whether a
//! server runs in this process is asked of [`super::local`]'s table).

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
    /// In-process calls, without a socket (every server must run in the client's process:
    /// the embedded cluster, in-job servers of this rank).
    Local,
    /// For each server: local when it runs in this process, else UCX when it offers it and
    /// this build has it, else TCP.
    Auto,
}

/// What one server offers a client: its address on each transport (`None`: not offered),
/// and a name for errors (its store id or address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// The server as errors name it.
    pub name: String,
    /// Its TCP address.
    pub tcp: Option<String>,
    /// Its UCX address.
    pub ucx: Option<String>,
    /// Its local address, if it runs in this process (see [`super::local::in_process`]).
    pub local: Option<String>,
}

impl Offer {
    /// What the server of address `addr` (TCP, UCX or local, as an in-job cluster lists its
    /// servers) offers: that address, and the local address of the same server when it
    /// runs in this process.
    pub fn of_address(addr: &str) -> Offer {
        let local = super::local::in_process(addr);
        let (tcp, ucx) = if addr.starts_with(UCX_PREFIX) {
            (None, Some(addr.to_string()))
        } else if super::local::is_local_address(addr) {
            (None, None)
        } else {
            (Some(addr.to_string()), None)
        };
        Offer {
            name: addr.to_string(),
            tcp,
            ucx,
            local,
        }
    }
}

/// How UCX addresses begin.
pub const UCX_PREFIX: &str = "ucx/";

impl ClientTransport {
    /// Parses `tcp`, `ucx`, `local` or `auto` (any case).
    pub fn parse(s: &str) -> FsResult<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(ClientTransport::Tcp),
            "ucx" => Ok(ClientTransport::Ucx),
            "local" => Ok(ClientTransport::Local),
            "auto" => Ok(ClientTransport::Auto),
            _ => Err(FsError::InvalidArgument(format!(
                "unknown transport '{s}' (expected tcp, ucx, local or auto)"
            ))),
        }
    }

    /// The transports servers started for this client must offer (in-job and embedded
    /// clusters, which offer `local` besides): UCX for `ucx`, and for `auto` when the build
    /// has it.
    pub fn servers(self) -> ServerTransports {
        match self {
            ClientTransport::Tcp | ClientTransport::Local => ServerTransports::Tcp,
            ClientTransport::Ucx => ServerTransports::Ucx,
            ClientTransport::Auto if UCX_BUILT => ServerTransports::Both,
            ClientTransport::Auto => ServerTransports::Tcp,
        }
    }

    /// The transport (`tcp`, `ucx`, `local`) and address this client uses for a server
    /// that offers `o`. `ucx` fails without UCX (in the build or at the server), `local`
    /// for a server that does not run in this process, `tcp` for one without a TCP
    /// address; each error names the server.
    pub fn pick(self, o: &Offer) -> FsResult<(&'static str, String)> {
        let name = &o.name;
        match self {
            ClientTransport::Tcp => match &o.tcp {
                Some(a) => Ok(("tcp", a.clone())),
                None => Err(FsError::InvalidArgument(format!(
                    "server {name} offers no tcp address"
                ))),
            },
            ClientTransport::Ucx if !UCX_BUILT => Err(ucx_not_built()),
            ClientTransport::Ucx => match &o.ucx {
                Some(a) => Ok(("ucx", a.clone())),
                None => Err(FsError::InvalidArgument(format!(
                    "transport ucx asked, but not every server offers UCX (server {name} \
                     does not; start them with --transport ucx or both)"
                ))),
            },
            ClientTransport::Local => match &o.local {
                Some(a) => Ok(("local", a.clone())),
                None => Err(FsError::InvalidArgument(format!(
                    "transport local asked, but server {name} does not run in this process \
                     (local reaches only servers started inside it: the embedded cluster, \
                     this rank's in-job server; use tcp, ucx or auto)"
                ))),
            },
            ClientTransport::Auto => match (&o.local, &o.ucx, &o.tcp) {
                (Some(a), _, _) => Ok(("local", a.clone())),
                (None, Some(a), _) if UCX_BUILT => Ok(("ucx", a.clone())),
                (None, _, Some(a)) => Ok(("tcp", a.clone())),
                (None, Some(_), None) => Err(ucx_not_built()),
                (None, None, None) => Err(FsError::InvalidArgument(format!(
                    "server {name} offers no address"
                ))),
            },
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
        assert_eq!(
            ClientTransport::parse("Local").unwrap(),
            ClientTransport::Local
        );
        let e = ClientTransport::parse("ucp").unwrap_err();
        assert!(e.to_string().contains("tcp, ucx, local or auto"), "{e}");
        assert_eq!(ClientTransport::Local.servers(), ServerTransports::Tcp);
    }

    #[test]
    fn each_server_gets_the_transport_it_offers_best() {
        let tcp = || Some("127.0.0.1:1".to_string());
        let ucx = || Some("ucx/x/00".to_string());
        let local = || Some("local:1:2:3".to_string());
        let o = |tcp, ucx, local| Offer {
            name: "s0".into(),
            tcp,
            ucx,
            local,
        };
        let pick = |t: ClientTransport, o: &Offer| t.pick(o).map(|(t, _)| t);
        let all = o(tcp(), ucx(), local());
        assert_eq!(pick(ClientTransport::Tcp, &all).unwrap(), "tcp");
        assert_eq!(pick(ClientTransport::Local, &all).unwrap(), "local");
        assert_eq!(pick(ClientTransport::Auto, &all).unwrap(), "local");
        let remote = o(tcp(), ucx(), None);
        assert_eq!(
            pick(ClientTransport::Auto, &remote).unwrap(),
            if UCX_BUILT { "ucx" } else { "tcp" }
        );
        assert_eq!(
            pick(ClientTransport::Auto, &o(tcp(), None, None)).unwrap(),
            "tcp"
        );
        let e = pick(ClientTransport::Local, &remote).unwrap_err();
        assert!(
            e.to_string()
                .contains("server s0 does not run in this process"),
            "{e}"
        );
        assert!(pick(ClientTransport::Ucx, &o(tcp(), None, local())).is_err());
        assert!(pick(ClientTransport::Tcp, &o(None, ucx(), None)).is_err());
        // An address list's entry: the address as it is, and no local address here.
        let a = Offer::of_address("ucx/x/00");
        assert_eq!(
            (a.ucx.as_deref(), a.tcp, a.local),
            (Some("ucx/x/00"), None, None)
        );
        let a = Offer::of_address("127.0.0.1:9");
        assert_eq!((a.tcp.as_deref(), a.local), (Some("127.0.0.1:9"), None));
    }
}
