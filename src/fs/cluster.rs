//! The embedded cluster: real BenchFS servers started inside the calling process (real
//! sockets on 127.0.0.1, real chunk files), registered in a registry of their own. Each also
//! offers the in-process transport `local` to the clients of this process.
//!
//! Owns [`Cluster`]: a temporary directory under the caller's data directory holding the
//! registry and one data directory per server, removed when the cluster is dropped. Tests
//! use [`Cluster::kill_server`] / [`Cluster::restart_server`] to crash and restart a server
//! on its data directory at the same address. Must be created inside a tokio runtime.
//! Also the facade through which code above the file system (backends, harness) reaches
//! server settings such as [`DEFAULT_SPARE_CHUNKS`], so that it never imports server
//! internals.

use super::client::{Client, ClientOptions};
use super::error::{FsError, FsResult};
use super::registry::{Registry, ServerEntry};
use super::server::{RunningServer, ServerConfig};
use super::transport::choice::{ClientTransport, ServerTransports};

/// Default number of spare chunk files each server keeps preallocated (for the harness and
/// backends that start servers through this module rather than reaching into the server).
pub use super::server::spare::DEFAULT_SPARE_CHUNKS;
use super::wire::DEFAULT_CHUNK_SIZE;
use std::path::{Path, PathBuf};

/// Servers running inside this process.
pub struct Cluster {
    root: PathBuf,
    registry: Registry,
    epoch: u64,
    secret: Vec<u8>,
    servers: Vec<Option<RunningServer>>,
    configs: Vec<ServerConfig>,
    /// The UCX address of each server (of its latest start), if it offers UCX.
    ucx_addrs: Vec<Option<String>>,
    /// The local address of each server (of its latest start).
    local_addrs: Vec<Option<String>>,
    /// The transport [`Cluster::client`] uses: what the servers offer (UCX if they offer
    /// both), unless [`Cluster::set_client_transport`] chose another.
    transport: ClientTransport,
}

impl Cluster {
    /// Starts `servers` servers with the default chunk size, in a new temporary directory
    /// under `data_dir` (removed on drop).
    pub async fn embedded(servers: usize, data_dir: impl AsRef<Path>) -> FsResult<Cluster> {
        Self::embedded_with(servers, data_dir, DEFAULT_CHUNK_SIZE).await
    }

    /// [`Cluster::embedded`] with a default chunk size for new files.
    pub async fn embedded_with(
        servers: usize,
        data_dir: impl AsRef<Path>,
        chunk_size: u32,
    ) -> FsResult<Cluster> {
        let base = ServerConfig::new(data_dir.as_ref(), Vec::new());
        Self::embedded_config(servers, data_dir, chunk_size, &base).await
    }

    /// [`Cluster::embedded_with`] with server settings taken from `base` (its data
    /// directory, address and secret are replaced by the cluster's own).
    pub async fn embedded_config(
        servers: usize,
        data_dir: impl AsRef<Path>,
        chunk_size: u32,
        base: &ServerConfig,
    ) -> FsResult<Cluster> {
        Self::embedded_at(Self::new_root(data_dir), servers, chunk_size, base).await
    }

    /// A new, unused name for a cluster's directory under `data_dir` (nothing is created).
    pub fn new_root(data_dir: impl AsRef<Path>) -> PathBuf {
        data_dir.as_ref().join(format!(
            "benchfs-embedded-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    /// [`Cluster::embedded_config`] in directory `root` (created, and removed on drop), so
    /// that the caller knows the directory before anything is in it.
    pub async fn embedded_at(
        root: PathBuf,
        servers: usize,
        chunk_size: u32,
        base: &ServerConfig,
    ) -> FsResult<Cluster> {
        super::server::private::make_dir(&root, true)?;
        let mut c = Cluster {
            registry: Registry::new(root.join("registry")),
            root,
            epoch: 0,
            secret: Vec::new(),
            servers: Vec::new(),
            configs: Vec::new(),
            ucx_addrs: Vec::new(),
            local_addrs: Vec::new(),
            transport: match base.transports {
                ServerTransports::Tcp => ClientTransport::Tcp,
                ServerTransports::Ucx | ServerTransports::Both => ClientTransport::Ucx,
            },
        };
        // The registry checks the number of servers and the chunk size (on an error, the
        // drop of `c` removes the directory).
        let info = c.registry.create_or_join(servers, chunk_size)?;
        c.epoch = info.epoch;
        c.secret = c.registry.secret()?;
        for i in 0..servers {
            let cfg = ServerConfig {
                data_dir: c.root.join(format!("server-{i}")),
                listen: "127.0.0.1:0".into(),
                secret: c.secret.clone(),
                spare_chunk_size: chunk_size,
                offer_local: true,
                ..base.clone()
            };
            let s = RunningServer::start(cfg.clone()).await?;
            let mut cfg = cfg;
            if let Some(a) = s.tcp_addr() {
                cfg.listen = a;
            }
            c.register(&s)?;
            c.ucx_addrs.push(s.ucx_addr());
            c.local_addrs.push(s.in_process_addr());
            c.configs.push(cfg);
            c.servers.push(Some(s));
        }
        Ok(c)
    }

    fn register(&self, s: &RunningServer) -> FsResult<()> {
        self.registry.register(&ServerEntry {
            store_id: format!("{:016x}", s.store_id()),
            addr: s.tcp_addr().unwrap_or_default(),
            ucx: s.ucx_addr(),
            local: s.in_process_addr(),
            epoch: self.epoch,
            pid: std::process::id(),
        })
    }

    /// The registry directory (what [`Client::connect`] takes).
    pub fn registry(&self) -> &Path {
        self.registry.dir()
    }

    /// The temporary directory holding everything.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// True if there are no servers (never, once created).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The TCP address of server `i` (also while it is stopped).
    pub fn addr(&self, i: usize) -> Option<&str> {
        self.configs.get(i).map(|c| c.listen.as_str())
    }

    /// The UCX address of server `i` (of its latest start), if it offers UCX.
    pub fn ucx_addr(&self, i: usize) -> Option<&str> {
        self.ucx_addrs.get(i).and_then(|a| a.as_deref())
    }

    /// The address of server `i` that [`Cluster::client`] connects to: that of its
    /// transport (local for `auto`: every server is in this process).
    pub fn client_addr(&self, i: usize) -> Option<&str> {
        match self.transport {
            ClientTransport::Tcp => self.addr(i),
            ClientTransport::Ucx => self.ucx_addr(i),
            ClientTransport::Local | ClientTransport::Auto => self.local_addr(i),
        }
    }

    /// The transport [`Cluster::client`] uses.
    pub fn transport(&self) -> ClientTransport {
        self.transport
    }

    /// Makes [`Cluster::client`] use transport `t` (`local`: in-process calls; `ucx` needs
    /// servers that offer it).
    pub fn set_client_transport(&mut self, t: ClientTransport) {
        self.transport = t;
    }

    /// The local address of server `i` (of its latest start), for clients of this process.
    pub fn local_addr(&self, i: usize) -> Option<&str> {
        self.local_addrs.get(i).and_then(|a| a.as_deref())
    }

    /// Waits (blocking the calling thread) until every running server's spare chunk pool
    /// is full or cannot fill, for at most `timeout` in all; the spares ready in all.
    pub fn wait_spares(&self, timeout: std::time::Duration) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        self.servers
            .iter()
            .flatten()
            .map(|s| s.wait_spares(deadline.saturating_duration_since(std::time::Instant::now())))
            .sum()
    }

    /// The cluster secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// A client connected to every server, over the servers' transport.
    pub async fn client(&self) -> FsResult<Client> {
        self.client_with(ClientOptions::default()).await
    }

    /// A client with options; its transport is the servers' (the one of `opts` is
    /// ignored).
    pub async fn client_with(&self, opts: ClientOptions) -> FsResult<Client> {
        let opts = ClientOptions {
            transport: self.transport,
            ..opts
        };
        Client::connect_with(self.registry(), opts).await
    }

    /// Crashes server `i`: its connections close at once, nothing is flushed.
    pub async fn kill_server(&mut self, i: usize) {
        if let Some(s) = self.servers.get_mut(i).and_then(Option::take) {
            s.kill().await;
        }
    }

    /// Stops server `i` gracefully.
    pub async fn stop_server(&mut self, i: usize) -> FsResult<()> {
        match self.servers.get_mut(i).and_then(Option::take) {
            Some(s) => s.shutdown().await,
            None => Ok(()),
        }
    }

    /// Restarts a stopped or killed server `i` on its data directory and address, then
    /// reclaims the chunks it holds of files the cluster no longer has (see
    /// [`super::reclaim`]).
    pub async fn restart_server(&mut self, i: usize) -> FsResult<()> {
        let cfg = self
            .configs
            .get(i)
            .cloned()
            .ok_or_else(|| FsError::InvalidArgument(format!("no server {i}")))?;
        if self.servers[i].is_some() {
            return Err(FsError::Busy(format!("server {i} is running")));
        }
        let s = RunningServer::start(cfg).await?;
        self.register(&s)?;
        self.ucx_addrs[i] = s.ucx_addr();
        self.local_addrs[i] = s.in_process_addr();
        // What the cluster removed while the server was down goes now (as benchfs-server
        // does once restarted); a cluster with another server down cannot tell, and keeps it.
        if s.holds_chunks() {
            match self.client().await {
                Ok(c) => {
                    super::reclaim::reclaim_dead_chunks(&s, &c).await?;
                }
                Err(e) => tracing::info!("server {i} restarted; nothing reclaimed: {e}"),
            }
        }
        self.servers[i] = Some(s);
        Ok(())
    }

    /// Stops every server gracefully (then drop removes the directory).
    pub async fn shutdown(mut self) -> FsResult<()> {
        let mut first = Ok(());
        for s in self.servers.iter_mut().filter_map(Option::take) {
            let r = s.shutdown().await;
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Dropping a running server aborts its tasks (sockets close).
        self.servers.clear();
        remove_tree(&self.root);
    }
}

/// Removes the data directory of a cluster whose servers may still be finishing a request
/// or making a spare chunk file (each can create a file during the removal): tries again,
/// for at most about a second, until the directory is gone.
pub fn remove_tree(root: &Path) {
    for _ in 0..200 {
        if std::fs::remove_dir_all(root).is_ok() || !root.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
