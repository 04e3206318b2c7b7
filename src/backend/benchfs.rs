//! The BENCHFS backend: IOR's backend table over the async client API of BenchFS
//! ([`crate::fs::Client`]), with no C layer in between.
//!
//! Owns the translation of IOR's calls (create, open, xfer at an offset, close, fsync, remove,
//! sizes, statfs, directories, rename) into client calls, and the `--benchfs.*` options. It does
//! not start servers: the driver starts an embedded cluster (or joins one through
//! `--benchfs.registry`) and hands this backend the registry directory.
//!
//! Paths are BenchFS paths; a relative IOR file name (`-o testFile`) is taken from the root.
//! `create` opens read-write with create and without truncation, like IOR's POSIX backend,
//! so every task of a shared file can create it at once.

use super::*;
use crate::fs::cluster::DEFAULT_SPARE_CHUNKS;
use crate::fs::transport::io_buffer::{IoBuffer, IoSlice, IO_BUFFER_ALIGN};
use crate::fs::wire::{check_chunk_size, DEFAULT_CHUNK_SIZE, MAX_SETTLE_MS};
use crate::fs::{
    Client, ClientOptions, ClientTransport, FileHandle, FsError, OpenFlags as FsOpenFlags,
    UCX_BUILT,
};
use std::sync::Arc;
use std::time::Duration;

/// Options of the BENCHFS backend (`--benchfs.<name>`).
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "benchfs",
        name: "registry",
        kind: OptionKind::Str,
        help: "Registry directory of a running cluster (default: start an embedded cluster)",
        default: "",
    },
    ModuleOption {
        module: "benchfs",
        name: "servers",
        kind: OptionKind::Int,
        help: "Servers of the embedded cluster",
        default: "4",
    },
    ModuleOption {
        module: "benchfs",
        name: "servers-per-node",
        kind: OptionKind::Int,
        help: "Under MPI without a registry: servers started inside the job on each node",
        default: "1",
    },
    ModuleOption {
        module: "benchfs",
        name: "listen-host",
        kind: OptionKind::Str,
        help: "Under MPI: address the in-job servers listen on and advertise (default: 127.0.0.1 on one node, the host name on several)",
        default: "",
    },
    ModuleOption {
        module: "benchfs",
        name: "data-dir",
        kind: OptionKind::Str,
        help: "Where the embedded cluster stores its data (a temporary directory inside it is removed afterwards)",
        default: "",
    },
    ModuleOption {
        module: "benchfs",
        name: "chunk-size",
        kind: OptionKind::Int,
        help: "Chunk size of created files (power of two, 64k..64m; 0 = the cluster's default)",
        default: "",
    },
    ModuleOption {
        module: "benchfs",
        name: "spare-chunks",
        kind: OptionKind::Int,
        help: "Chunk files each embedded or in-job server keeps preallocated for new chunks, made while it is idle (0: none)",
        default: "64",
    },
    ModuleOption {
        module: "benchfs",
        name: "settle",
        kind: OptionKind::Int,
        help: "Seconds the servers may take, untimed, before each write phase to get their spare chunk files ready (0: do not wait)",
        default: "5",
    },
    ModuleOption {
        module: "benchfs",
        name: "transport",
        kind: OptionKind::Str,
        help: "Transport to the servers: tcp, ucx, local (in-process calls without a socket; every server must run in this process: the embedded cluster, this rank's in-job server), or auto (per server: local when it runs in this process, else UCX when it offers it and this build has it, else TCP); embedded and in-job servers offer what it asks and local. The default tcp makes the embedded cluster measure the network stack",
        default: "tcp",
    },
    ModuleOption {
        module: "benchfs",
        name: "timeout",
        kind: OptionKind::Int,
        help: "Seconds before a call to a server that does not answer fails",
        default: "30",
    },
];

/// Default number of servers of the embedded cluster.
pub const DEFAULT_SERVERS: usize = 4;
/// Default of `--benchfs.settle`, seconds.
pub const DEFAULT_SETTLE_S: i64 = 5;
/// Default call timeout, seconds.
pub const DEFAULT_TIMEOUT_S: i64 = 30;

/// The `--benchfs.*` settings of a test, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchfsOptions {
    /// Registry of the cluster to use (set by the driver for the embedded cluster).
    pub registry: Option<String>,
    /// Servers of the embedded cluster.
    pub servers: usize,
    /// Base directory of the embedded cluster's data.
    pub data_dir: Option<String>,
    /// Chunk size of created files.
    pub chunk_size: Option<u32>,
    /// Call timeout.
    pub timeout: Duration,
    /// Servers per node of a cluster started inside an MPI job.
    pub servers_per_node: usize,
    /// Address in-job servers listen on and advertise.
    pub listen_host: Option<String>,
    /// Spare chunk files each embedded or in-job server keeps preallocated.
    pub spare_chunks: usize,
    /// Longest untimed wait, before each write phase, for the servers' spares (zero: none).
    pub settle: Duration,
    /// The transport to the servers (and what embedded and in-job servers offer).
    pub transport: ClientTransport,
}

impl BenchfsOptions {
    /// The chunk size servers started for this test make spares for: the test's own, else
    /// the default.
    pub fn cluster_chunk_size(&self) -> u32 {
        self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE)
    }

    /// The settings of servers started inside an MPI job for this test, on host `host`.
    pub fn job_settings(&self, host: String) -> crate::fs::job::JobSettings {
        crate::fs::job::JobSettings {
            servers_per_node: self.servers_per_node,
            data_dir: self.data_dir.clone().map(Into::into),
            listen_host: self.listen_host.clone(),
            spare_chunks: self.spare_chunks,
            chunk_size: self.cluster_chunk_size(),
            transports: self.transport.servers(),
            host,
        }
    }

    /// Reads and checks the `--benchfs.*` values of a test.
    pub fn from_values(values: &BTreeMap<String, String>) -> BackendResult<Self> {
        let o = OptionValues::new("benchfs", values);
        let servers = o.int("servers", DEFAULT_SERVERS as i64)?;
        if !(1..=4096).contains(&servers) {
            return Err(BackendError::InvalidOption {
                option: "benchfs.servers".into(),
                message: format!("{servers} servers: must be 1..4096"),
            });
        }
        let chunk_size = match o.int("chunk-size", 0)? {
            0 => None,
            cs => Some(
                u32::try_from(cs)
                    .ok()
                    .and_then(|c| check_chunk_size(c).ok())
                    .ok_or_else(|| BackendError::InvalidOption {
                        option: "benchfs.chunk-size".into(),
                        message: format!("{cs}: must be a power of two from 64k to 64m"),
                    })?,
            ),
        };
        let transport_name = o.string("transport").unwrap_or("tcp");
        let transport = ClientTransport::parse(transport_name)
            .ok()
            .filter(|t| *t != ClientTransport::Ucx || UCX_BUILT)
            .ok_or_else(|| BackendError::InvalidOption {
                option: "benchfs.transport".into(),
                message: if UCX_BUILT {
                    format!("\"{transport_name}\": must be tcp, ucx, local or auto")
                } else {
                    format!(
                        "\"{transport_name}\": this build supports tcp, local and auto (ucx needs cargo feature ucx)"
                    )
                },
            })?;
        let timeout = o.int("timeout", DEFAULT_TIMEOUT_S)?;
        if timeout <= 0 {
            return Err(BackendError::InvalidOption {
                option: "benchfs.timeout".into(),
                message: format!("{timeout}: must be at least 1 second"),
            });
        }
        let servers_per_node = o.int("servers-per-node", 1)?;
        if !(1..=256).contains(&servers_per_node) {
            return Err(BackendError::InvalidOption {
                option: "benchfs.servers-per-node".into(),
                message: format!("{servers_per_node}: must be 1..256"),
            });
        }
        let spare_chunks = o.int("spare-chunks", DEFAULT_SPARE_CHUNKS as i64)?;
        if !(0..=1024).contains(&spare_chunks) {
            return Err(BackendError::InvalidOption {
                option: "benchfs.spare-chunks".into(),
                message: format!("{spare_chunks}: must be 0..1024"),
            });
        }
        let settle = o.int("settle", DEFAULT_SETTLE_S)?;
        if !(0..=(MAX_SETTLE_MS / 1000) as i64).contains(&settle) {
            return Err(BackendError::InvalidOption {
                option: "benchfs.settle".into(),
                message: format!("{settle}: must be 0..{}", MAX_SETTLE_MS / 1000),
            });
        }
        Ok(BenchfsOptions {
            spare_chunks: spare_chunks as usize,
            settle: Duration::from_secs(settle as u64),
            servers_per_node: servers_per_node as usize,
            listen_host: o.string("listen-host").map(str::to_string),
            registry: o.string("registry").map(str::to_string),
            servers: servers as usize,
            data_dir: o.string("data-dir").map(str::to_string),
            chunk_size,
            timeout: Duration::from_secs(timeout as u64),
            transport,
        })
    }
}

/// BENCHFS backend state of one task: its own client of the cluster.
pub struct BenchfsBackend {
    opts: BenchfsOptions,
    client: Option<Client>,
}

impl BenchfsBackend {
    /// Build from the test's backend options (no connection yet: see `initialize`).
    pub fn new(values: &BTreeMap<String, String>) -> BackendResult<Self> {
        Ok(BenchfsBackend {
            opts: BenchfsOptions::from_values(values)?,
            client: None,
        })
    }

    fn client(&self) -> BackendResult<&Client> {
        self.client.as_ref().ok_or_else(|| {
            BackendError::Other("BenchFS client not connected (initialize not called)".into())
        })
    }
}

/// The cluster started inside this MPI job: server addresses (placement order) and secret.
static IN_JOB: std::sync::Mutex<Option<(Vec<String>, Vec<u8>)>> = std::sync::Mutex::new(None);

/// Record (or clear) the cluster started inside this job, for tests without a registry.
pub fn set_in_job_cluster(cluster: Option<(Vec<String>, Vec<u8>)>) {
    *IN_JOB.lock().unwrap_or_else(|p| p.into_inner()) = cluster;
}

/// The cluster started inside this job, if any.
pub fn in_job_cluster() -> Option<(Vec<String>, Vec<u8>)> {
    IN_JOB.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

// The engine's buffers become the client's I/O buffers and back without a copy.
const _: () = assert!(buffer::BUFFER_ALIGN == IO_BUFFER_ALIGN);

/// Reads into `buf` at `offset` with the buffer lent to the client as an I/O buffer for the
/// call ([`FileHandle::read_io`]): the buffer comes back with the result, the same memory
/// unless the transport still held it when the call ended (a timeout: then a new buffer,
/// with a copy of what it held). `Err(buf)` for a buffer without bytes.
async fn read_in_place(
    file: &FileHandle,
    buf: buffer::AlignedBuf,
    offset: u64,
) -> Result<(buffer::AlignedBuf, Result<usize, FsError>), buffer::AlignedBuf> {
    let (ptr, len) = buf.into_raw_parts()?;
    // SAFETY: an `AlignedBuf`'s allocation: `len` (> 0) initialised bytes, from the global
    // allocator with the layout of `len` bytes aligned to BUFFER_ALIGN (= IO_BUFFER_ALIGN),
    // owned by the new buffer alone from now on.
    let io = Arc::new(unsafe { IoBuffer::from_raw_parts(ptr, len) });
    let r = match IoSlice::new(io.clone(), 0..len) {
        Some(s) => file.read_io(offset, &s).await,
        None => Err(FsError::Io("I/O buffer range".into())),
    };
    // A new buffer: with a copy of the bytes after a read that succeeded (the transport
    // wrote them before it delivered the reply), else zeroed (a reply that comes late may
    // still be written into the old memory, never read again).
    let copy = |shared: Arc<IoBuffer>| {
        let mut b = buffer::AlignedBuf::new(len).ok()?;
        if r.is_ok() {
            b.copy_from_slice(IoSlice::new(shared, 0..len)?.as_ref());
        }
        Some(b)
    };
    // Every range of it the call made is gone by now, unless the transport still holds one.
    let back = match Arc::try_unwrap(io) {
        Ok(io) => match io.into_raw_parts() {
            // SAFETY: the parts of the allocation taken over above, handed back whole.
            Ok((ptr, len)) => Some(unsafe { buffer::AlignedBuf::from_raw_parts(ptr, len) }),
            Err(io) => copy(Arc::new(io)),
        },
        // The transport still holds the memory (the call ended before its reply).
        Err(shared) => copy(shared),
    };
    match back {
        Some(b) => Ok((b, r)),
        None => Ok((
            buffer::AlignedBuf::empty(),
            r.and(Err(FsError::OutOfMemory(format!(
                "a transfer buffer of {len} bytes"
            )))),
        )),
    }
}

/// A BenchFS path for an IOR file name.
fn fs_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{}", path.trim_start_matches("./"))
    }
}

/// A backend error carrying the file system error's errno and message.
fn fs_err(op: &'static str, path: &str, e: FsError) -> BackendError {
    BackendError::Remote {
        op,
        path: path.to_string(),
        errno: e.errno(),
        message: e.to_string(),
    }
}

impl Backend for BenchfsBackend {
    type File = FileHandle;

    fn name(&self) -> &'static str {
        "BENCHFS"
    }

    fn version(&self) -> String {
        format!("BenchFS {}", crate::build_info::VERSION)
    }

    async fn initialize(&mut self) -> BackendResult<()> {
        if self.client.is_some() {
            return Ok(());
        }
        let opts = ClientOptions {
            timeout: self.opts.timeout,
            // --benchfs.timeout bounds the wait for the servers to register too.
            registry_wait: self.opts.timeout,
            chunk_size: self.opts.chunk_size,
            transport: self.opts.transport,
            ..ClientOptions::default()
        };
        let Some(registry) = self.opts.registry.clone() else {
            let Some((addrs, secret)) = in_job_cluster() else {
                return Err(BackendError::Other(
                    "no BenchFS cluster: give --benchfs.registry DIR, or let benchfs-bench start one".into(),
                ));
            };
            let client = Client::from_servers(addrs, secret, opts)
                .await
                .map_err(|e| {
                    BackendError::Other(format!(
                        "cannot connect to the BenchFS servers of this job: {e}"
                    ))
                })?;
            self.client = Some(client);
            return Ok(());
        };
        let client = Client::connect_with(&registry, opts).await.map_err(|e| {
            BackendError::Other(format!(
                "cannot connect to the BenchFS cluster of registry \"{registry}\": {e}"
            ))
        })?;
        self.client = Some(client);
        Ok(())
    }

    async fn finalize(&mut self) -> BackendResult<()> {
        self.client = None;
        Ok(())
    }

    async fn create(&self, path: &str, _flags: OpenFlags) -> BackendResult<FileHandle> {
        let p = fs_path(path);
        let mut flags = FsOpenFlags::read_write().create(true);
        if let Some(cs) = self.opts.chunk_size {
            flags = flags.chunk_size(cs);
        }
        self.client()?
            .open(&p, flags)
            .await
            .map_err(|e| fs_err("create", &p, e))
    }

    async fn open(&self, path: &str, flags: OpenFlags) -> BackendResult<FileHandle> {
        let p = fs_path(path);
        let mut f = if flags.read_write || (flags.write_only && flags.read_only) {
            FsOpenFlags::read_write()
        } else if flags.write_only {
            FsOpenFlags::write_only()
        } else {
            FsOpenFlags::read_only()
        };
        f = f
            .create(flags.create)
            .truncate(flags.truncate)
            .exclusive(flags.exclusive)
            .append(flags.append);
        self.client()?
            .open(&p, f)
            .await
            .map_err(|e| fs_err("open", &p, e))
    }

    #[inline]
    async fn xfer(
        &self,
        file: &FileHandle,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        if access.is_write() {
            file.write_at(offset, buf)
                .await
                .map_err(|e| fs_err("write", file.path(), e))
        } else {
            file.read_at(offset, buf)
                .await
                .map_err(|e| fs_err("read", file.path(), e))
        }
    }

    /// Writes go to the client's send queue as shared bytes: no copy of the transfer buffer.
    fn takes_write_bytes(&self) -> bool {
        true
    }

    /// The deep loop hands its buffers over, so that a read's reply is received straight
    /// into the buffer (see [`BenchfsBackend::xfer_owned`]).
    fn queues_owned(&self) -> bool {
        true
    }

    /// A read goes into the buffer itself, lent to the client as an I/O buffer for the
    /// call: the transport receives the reply's payload straight into it (TCP, UCX) instead
    /// of copying it there from memory of its own. (The engine sends writes as shared bytes,
    /// [`Backend::write_bytes`]; one given here is an ordinary [`Backend::xfer`].)
    async fn xfer_owned(
        &self,
        file: &FileHandle,
        access: Access,
        mut buf: buffer::AlignedBuf,
        offset: u64,
    ) -> (buffer::AlignedBuf, BackendResult<usize>) {
        if access.is_write() {
            let r = self.xfer(file, access, &mut buf, offset).await;
            return (buf, r);
        }
        match read_in_place(file, buf, offset).await {
            Ok((buf, r)) => (buf, r.map_err(|e| fs_err("read", file.path(), e))),
            // An empty buffer: nothing to receive in place.
            Err(mut buf) => {
                let r = self.xfer(file, access, &mut buf, offset).await;
                (buf, r)
            }
        }
    }

    async fn write_bytes(
        &self,
        file: &FileHandle,
        data: bytes::Bytes,
        offset: u64,
    ) -> BackendResult<usize> {
        file.write_at_bytes(offset, data)
            .await
            .map_err(|e| fs_err("write", file.path(), e))
    }

    async fn close(&self, file: FileHandle) -> BackendResult<()> {
        file.close()
            .await
            .map_err(|e| fs_err("close", file.path(), e))
    }

    async fn fsync(&self, file: &FileHandle) -> BackendResult<()> {
        file.fsync()
            .await
            .map_err(|e| fs_err("fsync", file.path(), e))
    }

    async fn remove(&self, path: &str) -> BackendResult<()> {
        let p = fs_path(path);
        self.client()?
            .unlink(&p)
            .await
            .map_err(|e| fs_err("unlink", &p, e))
    }

    async fn get_file_size(&self, path: &str) -> BackendResult<u64> {
        let p = fs_path(path);
        Ok(self
            .client()?
            .stat(&p)
            .await
            .map_err(|e| fs_err("stat", &p, e))?
            .size)
    }

    /// Lets every server get its spare chunk files ready (`--benchfs.settle`), so that
    /// each write phase, not only the first, starts with storage allocated ahead.
    async fn settle(&self) -> BackendResult<()> {
        if self.opts.settle.is_zero() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        self.client()?
            .settle(self.opts.settle)
            .await
            .map_err(|e| fs_err("settle", "/", e))?;
        tracing::debug!(
            "servers settled before a write phase in {:.3} s",
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }

    async fn statfs(&self, _path: &str) -> BackendResult<StatFs> {
        let s = self
            .client()?
            .statfs()
            .await
            .map_err(|e| fs_err("statfs", "/", e))?;
        const BSIZE: u64 = 4096;
        Ok(StatFs {
            f_bsize: BSIZE,
            f_blocks: s.total_bytes / BSIZE,
            f_bfree: s.free_bytes / BSIZE,
            f_bavail: s.avail_bytes / BSIZE,
            // BenchFS has no inode table of its own: its files use the stores' inodes.
            f_files: s.files,
            f_ffree: s.files_free,
        })
    }

    async fn mkdir(&self, path: &str, mode: u32) -> BackendResult<()> {
        let p = fs_path(path);
        self.client()?
            .mkdir(&p, mode)
            .await
            .map_err(|e| fs_err("mkdir", &p, e))
    }

    async fn rmdir(&self, path: &str) -> BackendResult<()> {
        let p = fs_path(path);
        self.client()?
            .rmdir(&p)
            .await
            .map_err(|e| fs_err("rmdir", &p, e))
    }

    async fn access(&self, path: &str, _mode: AccessMode) -> BackendResult<bool> {
        let p = fs_path(path);
        match self.client()?.stat(&p).await {
            Ok(_) => Ok(true),
            Err(FsError::NotFound(_)) | Err(FsError::NotDir(_)) => Ok(false),
            Err(e) => Err(fs_err("stat", &p, e)),
        }
    }

    async fn stat(&self, path: &str) -> BackendResult<FileStat> {
        let p = fs_path(path);
        let a = self
            .client()?
            .stat(&p)
            .await
            .map_err(|e| fs_err("stat", &p, e))?;
        Ok(FileStat {
            size: a.size,
            is_dir: a.kind == crate::fs::FileKind::Dir,
            mode: a.mode,
            ctime_ns: a.ctime_ns,
        })
    }

    async fn rename(&self, from: &str, to: &str) -> BackendResult<()> {
        let (f, t) = (fs_path(from), fs_path(to));
        self.client()?
            .rename(&f, &t)
            .await
            .map_err(|e| fs_err("rename", &f, e))
    }

    async fn list_share(
        &self,
        path: &str,
        share: usize,
        of: usize,
    ) -> Option<BackendResult<Vec<TreeEntry>>> {
        let p = fs_path(path);
        let listed = async {
            let entries = self
                .client()?
                .list_tree_share(&p, share, of)
                .await
                .map_err(|e| fs_err("list", &p, e))?;
            Ok(entries
                .into_iter()
                .map(|(path, a)| TreeEntry {
                    path,
                    is_dir: a.kind == crate::fs::FileKind::Dir,
                    size: a.size,
                    ctime_ns: a.ctime_ns,
                })
                .collect())
        };
        Some(listed.await)
    }

    async fn readdir(&self, path: &str) -> BackendResult<Vec<DirEntry>> {
        let p = fs_path(path);
        let entries = self
            .client()?
            .readdir(&p)
            .await
            .map_err(|e| fs_err("readdir", &p, e))?;
        Ok(entries
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                is_dir: e.kind == crate::fs::FileKind::Dir,
            })
            .collect())
    }

    /// Flushes every server's metadata log to stable storage (chunk data is flushed per file
    /// by `fsync`).
    async fn sync(&self) -> BackendResult<()> {
        self.client()?
            .sync_all()
            .await
            .map_err(|e| fs_err("sync", "/", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_validated() {
        let o = BenchfsOptions::from_values(&opts(&[])).unwrap();
        assert_eq!(
            (o.servers, o.chunk_size, o.registry),
            (DEFAULT_SERVERS, None, None)
        );
        let o = BenchfsOptions::from_values(&opts(&[
            ("benchfs.chunk-size", "1m"),
            ("benchfs.servers", "3"),
        ]))
        .unwrap();
        assert_eq!((o.servers, o.chunk_size), (3, Some(1 << 20)));
        assert_eq!(o.spare_chunks, DEFAULT_SPARE_CHUNKS);
        let o = BenchfsOptions::from_values(&opts(&[("benchfs.spare-chunks", "0")])).unwrap();
        assert_eq!(o.spare_chunks, 0);
        assert_eq!(o.settle, Duration::from_secs(DEFAULT_SETTLE_S as u64));
        let o = BenchfsOptions::from_values(&opts(&[("benchfs.settle", "0")])).unwrap();
        assert!(o.settle.is_zero());
        for bad in [
            ("benchfs.settle", "-1"),
            ("benchfs.settle", "21"),
            ("benchfs.spare-chunks", "-1"),
            ("benchfs.spare-chunks", "100000"),
            ("benchfs.chunk-size", "3m"),
            ("benchfs.chunk-size", "32k"),
            ("benchfs.servers", "0"),
            ("benchfs.transport", "carrier-pigeon"),
            ("benchfs.timeout", "0"),
        ] {
            assert!(
                matches!(
                    BenchfsOptions::from_values(&opts(&[bad])),
                    Err(BackendError::InvalidOption { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn readdir_lists_entries_with_their_kind_sorted() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            let cluster = crate::fs::Cluster::embedded(2, dir.path()).await.unwrap();
            let registry = cluster.registry().to_str().unwrap().to_string();
            let mut b =
                BenchfsBackend::new(&opts(&[("benchfs.registry", registry.as_str())])).unwrap();
            b.initialize().await.unwrap();
            b.mkdir("/d", 0o755).await.unwrap();
            b.mkdir("/d/sub", 0o755).await.unwrap();
            for name in ["/d/b", "/d/a"] {
                let f = b.create(name, OpenFlags::create_for_write()).await.unwrap();
                b.close(f).await.unwrap();
            }
            let entries = b.readdir("/d").await.unwrap();
            let got: Vec<(&str, bool)> = entries
                .iter()
                .map(|e| (e.name.as_str(), e.is_dir))
                .collect();
            assert_eq!(got, [("a", false), ("b", false), ("sub", true)]);
            let e = b.readdir("/d/a").await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOTDIR));
            b.finalize().await.unwrap();
            cluster.shutdown().await.unwrap();
        });
    }

    #[test]
    fn owned_reads_land_in_the_buffer_itself_byte_exact() {
        use crate::fs::transport::io_buffer::COPY_STATS;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            let cluster = crate::fs::Cluster::embedded(2, dir.path()).await.unwrap();
            let registry = cluster.registry().to_str().unwrap().to_string();
            let mut b = BenchfsBackend::new(&opts(&[
                ("benchfs.registry", registry.as_str()),
                ("benchfs.chunk-size", "64k"),
            ]))
            .unwrap();
            b.initialize().await.unwrap();
            assert!(b.queues_owned());
            let f = b
                .create("/owned", OpenFlags::create_for_write())
                .await
                .unwrap();
            // 3 chunks and a half, written through the owned path.
            let size = (3 << 16) + (1 << 15);
            let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 65536) as u8).collect();
            let mut w = buffer::AlignedBuf::new(size).unwrap();
            w.copy_from_slice(&data);
            let (w, r) = b.xfer_owned(&f, Access::Write, w, 0).await;
            assert_eq!(r.unwrap(), size);
            assert_eq!(&w[..], &data[..], "a write leaves its buffer as it was");
            let before = COPY_STATS.read().in_place;
            // Reads of one chunk, across chunks, and past the end (short).
            for (offset, len, expect) in [
                (0usize, 1usize << 16, 1usize << 16),
                (1 << 15, 1 << 17, 1 << 17),
                (3 << 16, 1 << 16, 1 << 15),
            ] {
                let mut buf = buffer::AlignedBuf::new(len).unwrap();
                buf.fill(0xee);
                let addr = buf.as_ptr();
                let (buf, r) = b.xfer_owned(&f, Access::Read, buf, offset as u64).await;
                assert_eq!(r.unwrap(), expect, "read of {len} at {offset}");
                assert_eq!(buf.as_ptr(), addr, "the same buffer comes back");
                assert_eq!(buf.len(), len);
                assert_eq!(&buf[..expect], &data[offset..offset + expect]);
            }
            // (Less what one read took with a reply's header.)
            let placed = COPY_STATS.read().in_place - before;
            assert!(
                placed >= (1 << 16) + (1 << 17) + (1 << 15) - 4 * 64,
                "the replies were received in place: {placed} bytes"
            );
            // An empty buffer reads nothing.
            let (e, r) = b
                .xfer_owned(&f, Access::Read, buffer::AlignedBuf::empty(), 0)
                .await;
            assert_eq!((e.len(), r.unwrap()), (0, 0));
            b.close(f).await.unwrap();
            b.finalize().await.unwrap();
            cluster.shutdown().await.unwrap();
        });
    }

    #[test]
    fn relative_names_start_at_the_root() {
        assert_eq!(fs_path("testFile"), "/testFile");
        assert_eq!(fs_path("./a/b"), "/a/b");
        assert_eq!(fs_path("/x/y"), "/x/y");
    }
}
