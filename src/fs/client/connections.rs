//! The connections of a client: the per-server connection table (opened lazily, re-opened
//! after a failure, following a server that re-registered on another address) and one call
//! to one server.
//!
//! Owns [`Client`] itself (its shared state is private to this file), how it is built
//! (from a registry or a list of addresses, over any [`Connector`]) and [`Client::call`].
//! Knows nothing of what the calls mean: fan-out is in [`super::fanout`], namespace
//! operations in [`super::namespace`], file data in [`super::handle`]. Must not import
//! server code.

use super::options::ClientOptions;
use crate::fs::error::{FsError, FsResult};
use crate::fs::placement::Placement;
use crate::fs::registry::{Registry, ServerEntry};
use crate::fs::transport::choice::{ClientTransport, Offer};
use crate::fs::transport::io_buffer::{IoBuffer, IoSlice};
use crate::fs::transport::local;
use crate::fs::transport::routed::{transport_of_address, RoutedConnector};
use crate::fs::transport::tcp::TcpConnector;
use crate::fs::transport::{Connection, Connector, Reply};
use crate::fs::wire::{check_chunk_size, Request, Response, DEFAULT_CHUNK_SIZE};
use bytes::Bytes;
use std::path::Path;
use std::sync::{Arc, Mutex};

struct Slot {
    addr: Mutex<String>,
    /// The transport of its address (`tcp`, `ucx`, `local`): a new address the registry
    /// gives it is of the same one.
    transport: &'static str,
    /// The server's store id (hex): from the registry, or told by its last handshake.
    store: Mutex<Option<String>>,
    conn: Mutex<Option<Arc<dyn Connection>>>,
    connecting: tokio::sync::Mutex<()>,
}

/// Where a client found its servers: lets it follow a server that restarted on another
/// address (same store id, same epoch).
struct Origin {
    registry: Registry,
    epoch: u64,
    store_ids: Vec<String>,
}

/// The connector of servers reached over `transports` (each `tcp`, `ucx` or `local`).
fn connector_for(transports: &[&str], opts: &ClientOptions) -> FsResult<Arc<dyn Connector>> {
    let ucx = if transports.contains(&"ucx") {
        Some(ucx_connector()?)
    } else {
        None
    };
    let tcp = TcpConnector {
        recv_low_water: opts.tuning.recv_low_water,
    };
    Ok(Arc::new(RoutedConnector::new(tcp, ucx)))
}

/// What the server of registry entry `e` offers this client: its TCP and UCX addresses,
/// and its local one if it runs in this process (by its entry's local address, or, in a
/// registry written before entries had one, by its other addresses).
fn offer_of(e: &ServerEntry) -> Offer {
    let tcp = e.address("tcp").map(str::to_string);
    let ucx = e.address("ucx").map(str::to_string);
    let local = e
        .address("local")
        .and_then(local::in_process)
        .or_else(|| tcp.as_deref().and_then(local::in_process))
        .or_else(|| ucx.as_deref().and_then(local::in_process));
    Offer {
        name: e.store_id.clone(),
        tcp,
        ucx,
        local,
    }
}

#[cfg(feature = "ucx")]
fn ucx_connector() -> FsResult<Arc<dyn Connector>> {
    Ok(Arc::new(
        crate::fs::transport::ucx_rpc::UcxConnector::shared()?,
    ))
}

#[cfg(not(feature = "ucx"))]
fn ucx_connector() -> FsResult<Arc<dyn Connector>> {
    Err(crate::fs::transport::choice::ucx_not_built())
}

struct Inner {
    origin: Option<Origin>,
    servers: Vec<Slot>,
    placement: Placement,
    secret: Vec<u8>,
    opts: ClientOptions,
    chunk_size: u32,
    connector: Arc<dyn Connector>,
}

/// A client of one BenchFS cluster. Clone it freely: clones share connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "servers",
                &self
                    .inner
                    .servers
                    .iter()
                    .map(|s| s.addr.lock().map(|a| a.clone()).unwrap_or_default())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Client {
    /// Connects to the cluster described by the registry directory `registry` (waits until
    /// every expected server has registered).
    pub async fn connect(registry: impl AsRef<Path>) -> FsResult<Client> {
        Self::connect_with(registry, ClientOptions::default()).await
    }

    /// [`Client::connect`] with options.
    pub async fn connect_with(registry: impl AsRef<Path>, opts: ClientOptions) -> FsResult<Client> {
        let reg = Registry::new(registry.as_ref());
        let (info, entries) = reg.wait_ready(opts.registry_wait).await?;
        let secret = reg.secret()?;
        let store_ids = entries.iter().map(|e| e.store_id.clone()).collect();
        let chosen = entries
            .iter()
            .map(|e| {
                opts.transport
                    .pick(&offer_of(e))
                    .map_err(|err| err.context(format!("registry {}", reg.dir().display())))
            })
            .collect::<FsResult<Vec<_>>>()?;
        let cs = opts.chunk_size.unwrap_or(info.chunk_size);
        Self::build(
            chosen,
            secret,
            ClientOptions {
                chunk_size: Some(cs),
                ..opts
            },
            None,
            Some(Origin {
                registry: reg,
                epoch: info.epoch,
                store_ids,
            }),
        )
        .await
    }

    /// A client of the servers at `addrs` (in placement order) with `secret`, each over the
    /// transport its address names (`ucx/...`: UCX, `local:...`: in-process, else TCP);
    /// with `opts.transport` `local` or `auto`, a server of this process is reached locally
    /// whatever address it is listed by (`local` fails for one that is not). Connects to
    /// every server now, so a wrong secret or a dead server is reported here.
    pub async fn from_servers(
        addrs: Vec<String>,
        secret: Vec<u8>,
        opts: ClientOptions,
    ) -> FsResult<Client> {
        let chosen = addrs
            .iter()
            .map(|a| match opts.transport {
                ClientTransport::Local | ClientTransport::Auto => {
                    opts.transport.pick(&Offer::of_address(a))
                }
                _ => Ok((transport_of_address(a), a.clone())),
            })
            .collect::<FsResult<Vec<_>>>()?;
        Self::build(chosen, secret, opts, None, None).await
    }

    /// [`Client::from_servers`] over another transport (`connector` opens the
    /// connections; the UCX transport plugs in here).
    pub async fn from_servers_via(
        addrs: Vec<String>,
        secret: Vec<u8>,
        opts: ClientOptions,
        connector: Arc<dyn Connector>,
    ) -> FsResult<Client> {
        let chosen = addrs
            .into_iter()
            .map(|a| (transport_of_address(&a), a))
            .collect();
        Self::build(chosen, secret, opts, Some(connector), None).await
    }

    /// A client of the servers at `chosen` (transport and address of each, in placement
    /// order), through `connector` (`None`: the one of those transports).
    async fn build(
        chosen: Vec<(&'static str, String)>,
        secret: Vec<u8>,
        opts: ClientOptions,
        connector: Option<Arc<dyn Connector>>,
        origin: Option<Origin>,
    ) -> FsResult<Client> {
        if chosen.is_empty() {
            return Err(FsError::InvalidArgument("no servers".into()));
        }
        let connector = match connector {
            Some(c) => c,
            None => {
                let used: Vec<&str> = chosen.iter().map(|(t, _)| *t).collect();
                connector_for(&used, &opts)?
            }
        };
        let chunk_size = check_chunk_size(opts.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE))?;
        let known_store = |i: usize| origin.as_ref().and_then(|o| o.store_ids.get(i).cloned());
        let stores: Vec<Option<String>> = (0..chosen.len()).map(known_store).collect();
        let c = Client {
            inner: Arc::new(Inner {
                origin,
                placement: Placement::new(chosen.len()),
                servers: chosen
                    .into_iter()
                    .zip(stores)
                    .map(|((transport, addr), store)| Slot {
                        addr: Mutex::new(addr),
                        transport,
                        store: Mutex::new(store),
                        conn: Mutex::new(None),
                        connecting: tokio::sync::Mutex::new(()),
                    })
                    .collect(),
                secret,
                opts,
                chunk_size,
                connector,
            }),
        };
        for i in 0..c.inner.servers.len() {
            c.conn(i).await.map_err(|e| c.naming_server(i, e))?;
        }
        Ok(c)
    }

    /// Number of servers.
    pub fn server_count(&self) -> usize {
        self.inner.servers.len()
    }

    /// The address of server `i` in placement order.
    pub fn server_addr(&self, i: usize) -> Option<String> {
        self.inner
            .servers
            .get(i)
            .and_then(|s| s.addr.lock().ok().map(|a| a.clone()))
    }

    /// Chunk size of files this client creates.
    pub fn chunk_size(&self) -> u32 {
        self.inner.chunk_size
    }

    /// The placement this client uses.
    pub fn placement(&self) -> Placement {
        self.inner.placement
    }

    /// Its options.
    pub(super) fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    fn cached(&self, s: usize) -> Option<Arc<dyn Connection>> {
        let slot = &self.inner.servers[s];
        let g = slot.conn.lock().ok()?;
        g.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    pub(super) async fn conn(&self, s: usize) -> FsResult<Arc<dyn Connection>> {
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        let slot = &self.inner.servers[s];
        let _g = slot.connecting.lock().await;
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        let addr = slot
            .addr
            .lock()
            .map(|a| a.clone())
            .map_err(|_| FsError::Io("address lock poisoned".into()))?;
        let c = match self.connect_to(&addr).await {
            Ok(c) => c,
            Err(e) => match self.refreshed_addr(s) {
                // The server re-registered elsewhere (restarted on another port).
                Some(new) if new != addr => {
                    let c = self
                        .connect_to(&new)
                        .await
                        .map_err(|e| e.context(self.label(s, &new)))?;
                    if let Ok(mut a) = slot.addr.lock() {
                        *a = new;
                    }
                    c
                }
                _ => return Err(e.context(self.label(s, &addr))),
            },
        };
        if let (Some(id), Ok(mut known)) = (c.store(), slot.store.lock()) {
            *known = Some(format!("{id:016x}"));
        }
        tracing::debug!("connected to {} over {}", c.peer(), slot.transport);
        if let Ok(mut g) = slot.conn.lock() {
            *g = Some(c.clone());
        }
        Ok(c)
    }

    /// Server `s` at `addr` as errors name it: its address and store id (if known).
    fn label(&self, s: usize, addr: &str) -> String {
        let store = self.inner.servers[s]
            .store
            .lock()
            .ok()
            .and_then(|g| g.clone());
        match store {
            Some(id) => format!("server {addr} (store {id})"),
            None => format!("server {addr}"),
        }
    }

    async fn connect_to(&self, addr: &str) -> FsResult<Arc<dyn Connection>> {
        self.inner
            .connector
            .connect(addr, &self.inner.secret, self.inner.opts.connect_timeout)
            .await
    }

    /// The address server `s` has in the registry now, if the client came from one.
    fn refreshed_addr(&self, s: usize) -> Option<String> {
        let o = self.inner.origin.as_ref()?;
        let id = o.store_ids.get(s)?;
        let transport = self.inner.servers.get(s)?.transport;
        o.registry
            .servers(o.epoch)
            .ok()?
            .into_iter()
            .find(|e| &e.store_id == id)
            .and_then(|e| e.address(transport).map(str::to_string))
    }

    /// `e`, an error reaching server `s` (connecting, or a call that got no reply), with the
    /// server named: its address and, for a client of a registry, its registry entry. A
    /// refused connection to a registered server means its entry is stale (the server died
    /// without deregistering); the message says so. The errno is kept.
    fn naming_server(&self, s: usize, e: FsError) -> FsError {
        let addr = self.server_addr(s).unwrap_or_default();
        let entry = self.inner.origin.as_ref().and_then(|o| {
            o.store_ids
                .get(s)
                .map(|id| o.registry.entry_path(id).display().to_string())
        });
        let who = match &entry {
            Some(path) => format!("server {addr} (registry entry {path})"),
            None => format!("server {addr}"),
        };
        let msg = match (&e, &entry) {
            (FsError::ConnectionRefused(_), Some(_)) => format!(
                "{who} is not running: its registry entry is stale (the server died \
                 without deregistering; restart it or remove the entry): {}",
                e.message()
            ),
            _ => format!("{who}: {}", e.message()),
        };
        FsError::from_errno(e.errno(), msg)
    }

    /// One call to server `s`. A call the server closed the connection on without reading
    /// it (it stopped gracefully, to be restarted) is sent again once, on a new connection.
    /// An error reaching the server names it ([`Client::naming_server`]).
    pub(super) async fn call(&self, s: usize, req: &Request, bulk: Bytes) -> FsResult<Reply> {
        self.call_to(s, req, bulk, None).await
    }

    /// [`Client::call`] whose reply's bulk payload belongs in `dest` (the transport puts it
    /// there if it can: [`Connection::call_into`]).
    pub(super) async fn call_into(
        &self,
        s: usize,
        req: &Request,
        dest: IoSlice,
    ) -> FsResult<Reply> {
        self.call_to(s, req, Bytes::new(), Some(dest)).await
    }

    async fn call_to(
        &self,
        s: usize,
        req: &Request,
        bulk: Bytes,
        dest: Option<IoSlice>,
    ) -> FsResult<Reply> {
        let once = |c: Arc<dyn Connection>, bulk: Bytes| {
            let (op, msg, t) = (req.op() as u16, req.encode(), self.inner.opts.timeout);
            let dest = dest.clone();
            async move {
                match dest {
                    Some(d) => c.call_into(op, msg, bulk, d, t).await,
                    None => c.call(op, msg, bulk, t).await,
                }
            }
        };
        let c = self.conn(s).await.map_err(|e| self.naming_server(s, e))?;
        let first = once(c.clone(), bulk.clone()).await;
        match first {
            // Only the stop's own error: a call the server answered (even with EBUSY just
            // before it stopped) is not sent again.
            Err(FsError::Busy(_)) if c.closed_unread() => {
                let c = self.conn(s).await.map_err(|e| self.naming_server(s, e))?;
                once(c, bulk).await
            }
            r => r,
        }
        .map_err(|e| self.naming_server(s, e))
    }

    /// A buffer of `len` bytes for file data that this client's transport moves without
    /// staging copies (registered with UCX over UCX): reads and writes through
    /// [`super::FileHandle::read_io`] and [`super::FileHandle::write_io`].
    pub fn alloc_io_buffer(&self, len: usize) -> FsResult<IoBuffer> {
        self.inner.connector.alloc_io_buffer(len)
    }

    pub(super) async fn call_resp(&self, s: usize, req: &Request) -> FsResult<Response> {
        let r = self.call(s, req, Bytes::new()).await?;
        Response::decode(&r.msg)
    }
}
