//! A BenchFS server: the request handler over a chunk store and a metadata store, and the
//! running server (TCP listener, graceful shutdown, abrupt kill for tests). The stores are
//! [`store`] (chunk files, fed new chunks by the [`spare`] pool) and [`meta`].
//!
//! Owns [`ServerConfig`] (with the benchmark-only [`ServerTuning`]), [`ServerState`] (implements the transport [`Handler`]) and
//! [`RunningServer`]. Everything it stores lives under its data directory: client paths are
//! keys of the metadata store, chunk files are named from file ids. Registration in a
//! registry is done by the caller (the binary or the embedded cluster).

pub(crate) mod chunk;
pub(crate) mod descriptors;
pub(crate) mod ledger;
pub(crate) mod lock;
pub(crate) mod meta;
pub(crate) mod pins;
pub(crate) mod private;
pub mod spare;
pub(crate) mod store;
pub(crate) mod tail;

use crate::fs::error::{FsError, FsResult};
use crate::fs::path::check_normal;
use crate::fs::transport::choice::ServerTransports;
use crate::fs::transport::local::LocalListener;
use crate::fs::transport::tcp::TcpListenerTask;
use crate::fs::transport::{
    BoxFuture, ConnectionLimits, FileSink, Handler, ListenOptions, Listener, Reply, SizePin,
};
use crate::fs::wire::{
    check_chunk_size, Op, Request, Response, StatFs, DEFAULT_CHUNK_SIZE, MAX_BULK_LEN,
    MAX_CHUNK_SIZE, MAX_DIR_BATCH, MAX_MSG_LEN,
};
use bytes::Bytes;
use meta::MetaStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use store::ChunkStore;

/// Reads of at least this many bytes are sent from the chunk file with `sendfile`.
const SENDFILE_MIN: usize = 64 << 10;

/// Writes of at least this many bytes are received straight into the chunk file (the
/// transport's file sink: `splice` on TCP) instead of into memory and then `pwrite`.
pub const DEFAULT_SINK_MIN: usize = 64 << 10;

/// Default of [`ServerTuning::inline_io_max`]: one client request piece.
pub const DEFAULT_INLINE_IO: usize = 512 << 10;

/// Knobs of a server only benchmarks turn (`examples/fs_bench.rs` measures them); the
/// defaults are the measured best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTuning {
    /// Chunk reads and writes up to this size run inline on the async worker (they are
    /// memory copies to or from the page cache; handing them to the blocking pool costs
    /// more than the copy); larger ones, and all of them with O_DIRECT, run on the
    /// blocking pool.
    pub inline_io_max: usize,
    /// Writes of at least this many bytes go straight from the connection into the chunk
    /// file (see [`DEFAULT_SINK_MIN`]); `usize::MAX` turns that off.
    pub sink_min: usize,
    /// UCX: the chunk I/O of requests with large payloads (writes) or file regions (reads)
    /// runs on the server's runtime, off the worker's thread, which meanwhile moves the next
    /// request's data; false (the default): everything on the worker's thread. With one
    /// 1 MiB call in flight `fs_transports` measured no gain from it and up to a tenth more
    /// CPU per MiB written (two more thread hops per request).
    pub ucx_offload: bool,
}

impl Default for ServerTuning {
    fn default() -> Self {
        ServerTuning {
            inline_io_max: DEFAULT_INLINE_IO,
            sink_min: DEFAULT_SINK_MIN,
            ucx_offload: false,
        }
    }
}

/// How to run one server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory (created if absent); the server never touches anything outside it.
    pub data_dir: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// The transports clients may use (TCP on `listen`, UCX on a worker of its own).
    pub transports: ServerTransports,
    /// Also offer the in-process transport `local` (for servers started inside a process
    /// that has clients of its own: the embedded cluster, in-job servers), reachable by the
    /// clients of this process alone.
    pub offer_local: bool,
    /// The cluster secret clients must present.
    pub secret: Vec<u8>,
    /// Most requests in progress at once (back-pressure beyond).
    pub max_in_flight: usize,
    /// Most requests in progress at once from one connection (one client process), so that
    /// one client cannot starve the others.
    pub max_in_flight_per_connection: usize,
    /// Most client connections open at once (each takes a descriptor, and one more pair
    /// for a pipe once it writes large chunks); beyond, a connection is refused with EBUSY.
    /// Default: a quarter of the process's descriptors ([`descriptors::Budget`]).
    pub max_connections: usize,
    /// Time and memory each connection may take (handshake, frame and reply deadlines,
    /// reply memory).
    pub limits: ConnectionLimits,
    /// Most chunk files kept open.
    pub open_files: usize,
    /// Open chunk files with O_DIRECT.
    pub odirect: bool,
    /// Where chunk I/O runs and how writes are received, for benchmarks.
    pub tuning: ServerTuning,
    /// Spare chunk files kept preallocated for new chunks (see [`spare`]); 0 keeps none.
    pub spare_chunks: usize,
    /// The chunk size spares are made for: the cluster's default chunk size.
    pub spare_chunk_size: u32,
    /// A chunk made from a spare gives back the space past its end once no write has
    /// touched it for this long (see [`tail`]).
    pub trim_after: std::time::Duration,
}

impl ServerConfig {
    /// A configuration with defaults: listen on 127.0.0.1, any port; 256 requests in flight,
    /// 64 of them from one connection; 1024 open files; page cache.
    pub fn new(data_dir: impl Into<PathBuf>, secret: Vec<u8>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: "127.0.0.1:0".into(),
            transports: ServerTransports::Tcp,
            offer_local: false,
            secret,
            max_in_flight: 256,
            max_in_flight_per_connection: 64,
            max_connections: descriptors::raise_limit().connections,
            limits: ConnectionLimits::default(),
            open_files: store::DEFAULT_OPEN_FILES,
            odirect: false,
            tuning: ServerTuning::default(),
            spare_chunks: spare::DEFAULT_SPARE_CHUNKS,
            spare_chunk_size: DEFAULT_CHUNK_SIZE,
            trim_after: DEFAULT_TRIM_AFTER,
        }
    }
}

/// Most connections still in their handshake at once (of [`ServerConfig::max_connections`]):
/// peers that have not proved they hold the secret get no more than this.
pub const MAX_UNAUTHENTICATED: usize = 128;

/// Default of [`ServerConfig::trim_after`].
pub const DEFAULT_TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Trims the preallocated tails of idle chunks (see [`tail`]) until the state is dropped.
async fn trim_tails(state: std::sync::Weak<ServerState>, after: std::time::Duration) {
    let period = (after / 2).max(std::time::Duration::from_millis(50));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = state.upgrade() else {
            return;
        };
        if s.chunks.untrimmed() > 0 {
            let _ = blocking(move || Ok(s.chunks.trim_idle(after))).await;
        }
    }
}

/// The stores of one server and the request handler over them.
pub struct ServerState {
    chunks: ChunkStore,
    meta: MetaStore,
    /// Held while the stores are open (see [`lock`]).
    _lock: lock::DataDirLock,
    inline_io_max: usize,
    sink_min: usize,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> FsResult<T> + Send + 'static,
) -> FsResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FsError::Io(format!("I/O task failed: {e}")))?
}

impl ServerState {
    /// Opens the stores of `cfg.data_dir`.
    pub fn open(cfg: &ServerConfig) -> FsResult<Self> {
        // Nothing in the directory is touched before its lock is held.
        private::make_dir(&cfg.data_dir, false)?;
        let lock = lock::DataDirLock::take(&cfg.data_dir)?;
        let meta = MetaStore::open(&cfg.data_dir)?;
        let mut chunks = ChunkStore::open(&cfg.data_dir, cfg.open_files, cfg.odirect)?;
        chunks.start_spares(&cfg.data_dir, cfg.spare_chunk_size, cfg.spare_chunks)?;
        if cfg.transports.ucx() {
            chunks.pin_for_mappings();
        }
        let inline_io_max = if cfg.odirect {
            0
        } else {
            cfg.tuning.inline_io_max
        };
        Ok(ServerState {
            chunks,
            meta,
            _lock: lock,
            inline_io_max,
            sink_min: cfg.tuning.sink_min,
        })
    }

    /// The store id (stable across restarts on the same data directory).
    pub fn store_id(&self) -> u64 {
        self.meta.store_id()
    }

    /// Waits (blocking) until the spare chunk pool is full or cannot fill, for at most
    /// `timeout`; the number of spares ready (0 without a pool).
    pub fn wait_spares(&self, timeout: std::time::Duration) -> usize {
        self.chunks.spares().map_or(0, |p| p.wait_full(timeout))
    }

    /// Flushes the metadata log.
    pub fn sync_meta(&self) -> FsResult<()> {
        self.meta.sync()
    }

    async fn dispatch(self: Arc<Self>, op: u16, msg: Bytes, bulk: Bytes) -> FsResult<Reply> {
        let req = Request::decode(op, &msg)?;
        let unit = || Reply::new(Response::Unit.encode(), Bytes::new());
        let reply = |r: Response| Reply::new(r.encode(), Bytes::new());
        match req {
            Request::Hello { .. } | Request::Prove { .. } => Err(FsError::Protocol(
                "handshake frames are only accepted first on a connection".into(),
            )),
            Request::Lookup { path } => {
                check_normal(&path)?;
                Ok(reply(Response::Attr(self.meta.lookup(&path)?)))
            }
            Request::Create {
                path,
                mode,
                chunk_size,
                exclusive,
                truncate,
            } => {
                check_normal(&path)?;
                check_chunk_size(chunk_size)?;
                let (attr, created, truncated) = self
                    .meta
                    .create(&path, mode, chunk_size, exclusive, truncate)?;
                Ok(reply(Response::Created {
                    attr,
                    created,
                    truncated,
                }))
            }
            Request::Mkdir { path, mode } => {
                check_normal(&path)?;
                Ok(reply(Response::Attr(self.meta.mkdir(&path, mode)?)))
            }
            Request::Remove { path, dir, id } => {
                check_normal(&path)?;
                Ok(reply(Response::Attr(self.meta.remove(&path, dir, id)?)))
            }
            Request::SetSize {
                path,
                id,
                size,
                mode,
            } => {
                check_normal(&path)?;
                Ok(reply(Response::Attr(
                    self.meta.set_size(&path, id, size, mode)?,
                )))
            }
            Request::ReadDir { path, after, max } => {
                check_normal(&path)?;
                let (entries, more) =
                    self.meta
                        .readdir(&path, &after, max.min(MAX_DIR_BATCH) as usize)?;
                Ok(reply(Response::Dir { entries, more }))
            }
            Request::ListTree { path, after, max } => {
                check_normal(&path)?;
                let (entries, more) = self.meta.list_tree(
                    &path,
                    &after,
                    max.min(MAX_DIR_BATCH) as usize,
                    (MAX_MSG_LEN / 2) as usize,
                )?;
                Ok(reply(Response::Tree { entries, more }))
            }
            Request::Insert { path, attr } => {
                check_normal(&path)?;
                Ok(reply(Response::Replaced(self.meta.insert(&path, attr)?)))
            }
            Request::Write {
                id,
                chunk,
                offset,
                chunk_size,
            } => {
                check_write_extent(offset, bulk.len(), chunk_size)?;
                let n = if bulk.len() <= self.inline_io_max {
                    self.chunks
                        .write(id, chunk, chunk_size, offset as u64, &bulk)?
                } else {
                    let s = self.clone();
                    blocking(move || s.chunks.write(id, chunk, chunk_size, offset as u64, &bulk))
                        .await?
                };
                Ok(reply(Response::Written(n as u32)))
            }
            Request::Read {
                id,
                chunk,
                offset,
                len,
            } => {
                if len > MAX_BULK_LEN || offset as u64 + len as u64 > MAX_CHUNK_SIZE as u64 {
                    return Err(FsError::InvalidArgument("read beyond a chunk".into()));
                }
                if len as usize >= SENDFILE_MIN && !self.chunks.odirect() {
                    // Large reads leave from the page cache without a copy (sendfile).
                    let region = self
                        .chunks
                        .read_region(id, chunk, offset as u64, len as usize)?;
                    return Ok(Reply {
                        msg: Response::Unit.encode(),
                        bulk: Bytes::new(),
                        file: region,
                    });
                }
                let data = if len as usize <= self.inline_io_max {
                    self.chunks.read(id, chunk, offset as u64, len as usize)?
                } else {
                    let s = self.clone();
                    blocking(move || s.chunks.read(id, chunk, offset as u64, len as usize)).await?
                };
                Ok(Reply::new(Response::Unit.encode(), data))
            }
            Request::TruncateChunks { id, .. }
            | Request::RemoveChunks { id }
            | Request::SyncChunks { id }
                if !self.chunks.holds(id) =>
            {
                // Nothing of this file here (the common case of a broadcast): answer at once.
                Ok(unit())
            }
            Request::TruncateChunks {
                id,
                size,
                chunk_size,
            } => {
                check_chunk_size(chunk_size)?;
                let s = self.clone();
                blocking(move || s.chunks.truncate(id, size, chunk_size)).await?;
                Ok(unit())
            }
            Request::RemoveChunks { id } => {
                let s = self.clone();
                blocking(move || s.chunks.remove(id)).await?;
                Ok(unit())
            }
            Request::SyncChunks { id } => {
                let s = self.clone();
                blocking(move || s.chunks.sync(id)).await?;
                Ok(unit())
            }
            Request::SyncMeta => {
                let s = self.clone();
                blocking(move || s.meta.sync()).await?;
                Ok(unit())
            }
            Request::Settle { wait_ms } => {
                let s = self.clone();
                let wait = std::time::Duration::from_millis(wait_ms as u64);
                blocking(move || Ok(s.wait_spares(wait))).await?;
                Ok(unit())
            }
            Request::StatFs => {
                let c = self.chunks.capacity()?;
                Ok(reply(Response::StatFs(StatFs {
                    total_bytes: c.total,
                    free_bytes: c.free,
                    avail_bytes: c.avail,
                    entries: self.meta.entry_count(),
                    chunks: self.chunks.chunk_count(),
                    files: c.files,
                    files_free: c.files_free,
                    device: c.device,
                })))
            }
        }
    }
}

/// A write must name a valid chunk size and end within the chunk.
fn check_write_extent(offset: u32, len: usize, chunk_size: u32) -> FsResult<()> {
    check_chunk_size(chunk_size)?;
    if offset as u64 + len as u64 > chunk_size as u64 {
        return Err(FsError::InvalidArgument("write beyond a chunk".into()));
    }
    Ok(())
}

impl Handler for ServerState {
    fn handle(
        self: Arc<Self>,
        op: u16,
        msg: Bytes,
        bulk: Bytes,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        // Every request reaches the handler here or in `handle_stored`: the spare pool's
        // measure of activity.
        self.chunks.touch();
        Box::pin(self.dispatch(op, msg, bulk))
    }

    /// Large chunk writes are received straight into the chunk file.
    fn file_sink(&self, op: u16, msg: &Bytes, len: usize) -> Option<FsResult<FileSink>> {
        if op != Op::Write as u16 || len < self.sink_min {
            return None;
        }
        let (id, chunk, offset, chunk_size) = match Request::decode(op, msg) {
            Ok(Request::Write {
                id,
                chunk,
                offset,
                chunk_size,
            }) => (id, chunk, offset, chunk_size),
            Ok(_) => return None,
            Err(e) => return Some(Err(e)),
        };
        if let Err(e) = check_write_extent(offset, len, chunk_size) {
            return Some(Err(e));
        }
        match self.chunks.sink(id, chunk, chunk_size, offset as u64, len) {
            Ok(Some(sink)) => Some(Ok(FileSink {
                file: sink.file,
                offset: offset as u64,
                hold: Some(Box::new(sink.ticket)),
                pin: sink.pin.map(|p| SizePin(Arc::new(p))),
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn handle_stored(
        self: Arc<Self>,
        _op: u16,
        _msg: Bytes,
        len: usize,
        stored: FsResult<()>,
    ) -> BoxFuture<'static, FsResult<Reply>> {
        self.chunks.touch();
        Box::pin(async move {
            self.chunks.check_space(stored)?;
            Ok(Reply::new(
                Response::Written(len as u32).encode(),
                Bytes::new(),
            ))
        })
    }
}

/// A server listening on its transports (TCP, UCX or both, and local if asked).
pub struct RunningServer {
    listeners: Vec<Box<dyn Listener>>,
    tcp_addr: Option<SocketAddr>,
    state: Arc<ServerState>,
    config: ServerConfig,
}

impl RunningServer {
    /// Opens the stores and starts listening on `cfg.transports` (inside a tokio runtime).
    pub async fn start(cfg: ServerConfig) -> FsResult<Self> {
        if cfg.transports.ucx() && !crate::fs::transport::choice::UCX_BUILT {
            return Err(crate::fs::transport::choice::ucx_not_built());
        }
        let budget = descriptors::raise_limit();
        if cfg.max_connections > budget.connections {
            tracing::info!(
                "server on {}: up to {} connections allowed with a limit of {} descriptors: \
                 connections beyond about {} may fail to be accepted",
                cfg.listen,
                cfg.max_connections,
                budget.limit,
                budget.connections
            );
        }
        let c = cfg.clone();
        let state = Arc::new(blocking(move || ServerState::open(&c)).await?);
        if cfg.spare_chunks > 0 {
            tokio::spawn(trim_tails(Arc::downgrade(&state), cfg.trim_after));
        }
        let handler: Arc<dyn Handler> = state.clone();
        let opts = ListenOptions {
            addr: cfg.listen.clone(),
            secret: cfg.secret.clone(),
            store: state.store_id(),
            max_in_flight: cfg.max_in_flight,
            per_connection: cfg.max_in_flight_per_connection,
            max_connections: cfg.max_connections,
            max_unauthenticated: cfg.max_connections.min(MAX_UNAUTHENTICATED),
            limits: cfg.limits,
            offload: cfg.tuning.ucx_offload,
        };
        let mut listeners: Vec<Box<dyn Listener>> = Vec::new();
        let mut tcp_addr = None;
        if cfg.transports.tcp() {
            let tcp = TcpListenerTask::bind(opts.clone(), handler.clone()).await?;
            tcp_addr = Some(tcp.local_addr());
            listeners.push(Box::new(tcp));
        }
        #[cfg(feature = "ucx")]
        if cfg.transports.ucx() {
            // The UCX address names the server by its TCP address when it has one.
            let label = match tcp_addr {
                Some(a) => a.to_string(),
                None => {
                    let host = cfg.listen.rsplit_once(':').map_or("", |(h, _)| h);
                    format!(
                        "{host}-pid{}-{:08x}",
                        std::process::id(),
                        rand::random::<u32>()
                    )
                }
            };
            let ucx = crate::fs::transport::ucx_rpc::UcxListenerTask::bind(
                opts.clone(),
                handler.clone(),
                &label,
            )?;
            listeners.push(Box::new(ucx));
        }
        if cfg.offer_local {
            // A client of this process given the server's TCP or UCX address reaches it
            // locally too (with `--benchfs.transport local` or `auto`).
            let aliases: Vec<String> = listeners.iter().map(|l| l.address()).collect();
            let local = LocalListener::bind(&opts, handler, &aliases);
            listeners.push(Box::new(local));
        }
        Ok(RunningServer {
            tcp_addr,
            listeners,
            state,
            config: cfg,
        })
    }

    /// The TCP address clients connect to (`0.0.0.0:0` if the server has no TCP listener).
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The address of the TCP listener, if it has one.
    pub fn tcp_addr(&self) -> Option<String> {
        self.address("tcp")
    }

    /// The address of the UCX listener (its worker address), if it has one.
    pub fn ucx_addr(&self) -> Option<String> {
        self.address("ucx")
    }

    /// The address of the local listener (for clients of this process), if it has one.
    pub fn in_process_addr(&self) -> Option<String> {
        self.address("local")
    }

    /// The address clients of `transport` (`tcp`, `ucx`) connect to, if it is offered.
    pub fn address(&self, transport: &str) -> Option<String> {
        self.listeners
            .iter()
            .find(|l| l.transport() == transport)
            .map(|l| l.address())
    }

    /// The store id of its data directory.
    pub fn store_id(&self) -> u64 {
        self.state.store_id()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Waits (blocking the calling thread) until the spare chunk pool is full or cannot
    /// fill, for at most `timeout`; the number of spares ready (0 without a pool).
    pub fn wait_spares(&self, timeout: std::time::Duration) -> usize {
        self.state.wait_spares(timeout)
    }

    /// True if the server holds any chunk.
    pub fn holds_chunks(&self) -> bool {
        self.state.chunks.chunk_count() > 0
    }

    /// Removes the chunks of every file not in `live` (the ids of every file of the
    /// cluster, listed after `before`) whose chunk files were last modified before `before`;
    /// returns the chunks and bytes removed. See `crate::fs::reclaim`.
    pub async fn reclaim(
        &self,
        live: std::collections::HashSet<crate::fs::wire::FileId>,
        before: std::time::SystemTime,
    ) -> FsResult<(u64, u64)> {
        let s = self.state.clone();
        blocking(move || s.chunks.reclaim(&live, before)).await
    }

    /// Graceful stop: stop accepting, finish in-flight requests, give back the preallocated
    /// tails of chunks, remove the spare chunk files, flush the metadata log.
    pub async fn shutdown(self) -> FsResult<()> {
        for l in self.listeners {
            l.shutdown().await;
        }
        let s = self.state.clone();
        blocking(move || {
            // No request runs any more: every chunk made from a spare gives back its tail.
            s.chunks.trim_idle(std::time::Duration::ZERO);
            if let Some(p) = s.chunks.spares() {
                p.stop();
            }
            s.sync_meta()
        })
        .await
    }

    /// Abrupt stop (as if the process died): connections close at once, nothing is flushed.
    /// Returns once the stores are closed (the requests still running when it was called
    /// have ended, for at most 10 s), so that a server can be started on the directory again.
    pub async fn kill(self) {
        for l in self.listeners {
            l.kill().await;
        }
        let state = self.state;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&state) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // The last holder drops the stores (and the directory's lock) on a blocking thread:
        // the spare pool's thread is joined there.
        let _ = tokio::task::spawn_blocking(move || drop(state)).await;
    }
}
