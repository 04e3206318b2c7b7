//! Servers inside the calling process: an embedded cluster (`benchfs_cluster_start`, and what
//! `benchfs_init` starts when it is given no registry) and the servers of an MPI job
//! (`benchfs_cluster_start_job`), whose ranks exchange addresses and the secret through
//! collectives the caller provides (`benchfs_comm`, e.g. two MPI calls), as benchfs-bench's
//! in-job mode does (both start them in [`crate::fs::job`]).
//!
//! Owns the lifetime of those servers (their runtime, their data directories) and the
//! adapter from `benchfs_comm` to [`Comm`]. It does not connect clients: contexts do.

use super::boundary::{copy_out, int_call, ptr_call, status_call, CallError};
use super::config::{benchfs_config, encode_secret, Config};
use super::handles::{of_ptr, to_ptr, Kind, Table};
use crate::comm::{Comm, CommError};
use crate::fs::cleanup::{self, Registered};
use crate::fs::job::{self, JobServers};
use crate::fs::{Cluster, ServerConfig};
use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};

/// Servers of an embedded cluster and the runtime they run on (threads of their own, so
/// they serve whether or not the caller is inside a call).
pub struct EmbeddedServers {
    runtime: tokio::runtime::Runtime,
    cluster: Option<Cluster>,
    registry: String,
    addrs: Vec<String>,
    secret: Vec<u8>,
    /// The data directory, removed by the cleanup guardian if this process is killed.
    _registered: Registered,
}

impl EmbeddedServers {
    /// Starts `cfg.opts.servers` servers on 127.0.0.1 with their data in a new directory
    /// under `cfg.opts.data_dir` (or the temporary directory).
    pub fn start(cfg: &Config) -> Result<Self, CallError> {
        let o = &cfg.opts;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.servers.clamp(1, 2))
            .thread_name("benchfs-server")
            .enable_all()
            .build()
            .map_err(|e| CallError::new(libc::EIO, format!("cannot start a runtime: {e}")))?;
        let base = o
            .data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().to_string_lossy().into_owned());
        std::fs::create_dir_all(&base).map_err(|e| {
            CallError::new(
                e.raw_os_error().unwrap_or(libc::EIO),
                format!("cannot create data directory \"{base}\": {e}"),
            )
        })?;
        // Registered before it exists: from now on a killed host leaves nothing behind.
        super::guardian::install();
        let root = Cluster::new_root(&base);
        let registered = cleanup::register(root.clone());
        let cluster = {
            let _starting = cleanup::starting();
            runtime.block_on(async {
                let mut sc = ServerConfig::new(&base, Vec::new());
                sc.spare_chunks = o.spare_chunks;
                sc.transports = o.transport.servers();
                Cluster::embedded_at(root, o.servers, o.cluster_chunk_size(), &sc).await
            })
        }
        .map_err(|e| CallError::fs(&base, None, e))?;
        Ok(EmbeddedServers {
            runtime,
            registry: cluster.registry().to_string_lossy().into_owned(),
            addrs: (0..cluster.len())
                .filter_map(|i| cluster.addr(i).map(str::to_string))
                .collect(),
            secret: cluster.secret().to_vec(),
            cluster: Some(cluster),
            _registered: registered,
        })
    }

    /// The cluster's registry directory.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Every server's address, in placement order.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The cluster secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Stops every server gracefully and removes the data.
    pub fn stop(mut self) -> Result<(), CallError> {
        let Some(c) = self.cluster.take() else {
            return Ok(());
        };
        let root = c.root().to_string_lossy().into_owned();
        self.runtime
            .block_on(c.shutdown())
            .map_err(|e| CallError::fs(&root, None, e))
    }
}

impl Drop for EmbeddedServers {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            let _ = self.runtime.block_on(c.shutdown());
        }
    }
}

/// Collectives a caller provides for `benchfs_cluster_start_job`: every rank of the job
/// calls the cluster functions with its own `benchfs_comm`, all with the same `size`. Both
/// callbacks are called on the thread that called the cluster function, return 0 on
/// success, and must stay usable (with `arg`) until `benchfs_cluster_stop`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct benchfs_comm {
    /// Passed to both callbacks (e.g. a pointer to an `MPI_Comm`).
    pub arg: *mut c_void,
    /// This rank, `0..size`.
    pub rank: c_int,
    /// Number of ranks.
    pub size: c_int,
    /// All-gather of `len` bytes per rank (the same `len` on every rank): rank r's `send`
    /// lands at `recv + r * len`; `recv` holds `size * len` bytes (`MPI_Allgather` with
    /// `MPI_BYTE`).
    pub allgather: Option<
        unsafe extern "C" fn(
            arg: *mut c_void,
            send: *const c_void,
            len: usize,
            recv: *mut c_void,
        ) -> c_int,
    >,
    /// Barrier of every rank (`MPI_Barrier`).
    pub barrier: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
}

/// [`Comm`] over a `benchfs_comm`.
struct CComm {
    c: benchfs_comm,
    allgather: unsafe extern "C" fn(*mut c_void, *const c_void, usize, *mut c_void) -> c_int,
    barrier: unsafe extern "C" fn(*mut c_void) -> c_int,
}

// SAFETY: `Comm` must be `Send` because the harness may hand communicators to other threads;
// a CComm never leaves the thread that called the cluster function (it is used during that
// call, and again in benchfs_cluster_stop, whose caller promises the callbacks work there).
unsafe impl Send for CComm {}

impl CComm {
    fn new(c: &benchfs_comm) -> Result<CComm, CallError> {
        let (Some(allgather), Some(barrier)) = (c.allgather, c.barrier) else {
            return Err(CallError::invalid("benchfs_comm has a NULL callback"));
        };
        if c.size < 1 || c.rank < 0 || c.rank >= c.size {
            return Err(CallError::invalid(format!(
                "benchfs_comm: rank {} of size {} is impossible",
                c.rank, c.size
            )));
        }
        Ok(CComm {
            c: *c,
            allgather,
            barrier,
        })
    }

    fn failed(&self, what: &str, rc: c_int) -> CommError {
        CommError::Aborted {
            rank: self.rank(),
            message: format!("benchfs_comm {what} callback returned {rc}"),
        }
    }

    /// All-gather of exactly `data.len()` bytes per rank.
    fn allgather_fixed(&self, data: &[u8]) -> Result<Vec<u8>, CommError> {
        let mut recv = vec![0u8; data.len() * self.size()];
        // SAFETY: `send` is valid for data.len() bytes and `recv` for size * len bytes, as
        // the callback's contract requires; both outlive the synchronous call.
        let rc = unsafe {
            (self.allgather)(
                self.c.arg,
                data.as_ptr().cast(),
                data.len(),
                recv.as_mut_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(self.failed("allgather", rc));
        }
        Ok(recv)
    }
}

impl Comm for CComm {
    fn rank(&self) -> usize {
        self.c.rank as usize
    }

    fn size(&self) -> usize {
        self.c.size as usize
    }

    fn barrier(&self) -> Result<(), CommError> {
        // SAFETY: the callback's contract: callable with `arg` on this thread.
        let rc = unsafe { (self.barrier)(self.c.arg) };
        if rc != 0 {
            return Err(self.failed("barrier", rc));
        }
        Ok(())
    }

    fn allgather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
        // Lengths first, then every contribution padded to the longest.
        let lens = self.allgather_fixed(&(data.len() as u64).to_le_bytes())?;
        let lens: Vec<usize> = lens
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
            .collect();
        let max = lens.iter().copied().max().unwrap_or(0);
        let mut padded = data.to_vec();
        padded.resize(max, 0);
        let all = if max == 0 {
            Vec::new()
        } else {
            self.allgather_fixed(&padded)?
        };
        Ok(lens
            .iter()
            .enumerate()
            .map(|(r, &n)| all[r * max..r * max + n].to_vec())
            .collect())
    }

    fn node_of_ranks(&self) -> Vec<usize> {
        // Ranks on one host form one node.
        match self.allgather_bytes(crate::measure::machine::hostname().as_bytes()) {
            Ok(hosts) => hosts
                .iter()
                .map(|h| hosts.iter().position(|x| x == h).unwrap_or(0))
                .collect(),
            Err(_) => (0..self.size()).collect(),
        }
    }

    fn split_first(&self, _n: usize) -> Result<Option<Box<dyn Comm>>, CommError> {
        Err(CommError::Mismatch(
            "sub-communicators are not available through benchfs_comm".into(),
        ))
    }

    fn abort(&self, message: &str) {
        tracing::error!("rank {}: {message}", self.rank());
    }
}

/// Servers this process runs for a `benchfs_cluster`.
enum Servers {
    Embedded(Box<EmbeddedServers>),
    Job {
        servers: Box<JobServers>,
        comm: CComm,
    },
}

/// What a `benchfs_cluster` handle names.
pub struct ClusterObj {
    servers: Mutex<Option<Servers>>,
    addrs: Vec<String>,
    secret: Vec<u8>,
    registry: Option<String>,
}

/// A cluster of servers running inside this process (opaque).
pub struct benchfs_cluster {
    _private: [u8; 0],
}

static CLUSTERS: Table<ClusterObj> = Table::new(Kind::Cluster);

fn register(obj: ClusterObj) -> *mut benchfs_cluster {
    to_ptr(CLUSTERS.insert(Arc::new(obj)))
}

/// Starts an embedded cluster: `cfg->servers` servers (default 4) inside this process,
/// listening on 127.0.0.1, with their data in a new directory under `cfg->data_dir`.
/// Contexts join it through `benchfs_cluster_registry` (or `_servers` and `_secret`), from
/// this process or another one. Returns NULL on error (see `benchfs_get_error`). Stop it
/// with `benchfs_cluster_stop`.
///
/// # Safety
/// `cfg` is NULL or a valid `benchfs_config`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_cluster_start(cfg: *const benchfs_config) -> *mut benchfs_cluster {
    ptr_call("benchfs_cluster_start", || {
        // SAFETY: forwarded contract.
        let cfg = unsafe { Config::from_c(cfg)? };
        let s = EmbeddedServers::start(&cfg)?;
        Ok(register(ClusterObj {
            addrs: s.addrs().to_vec(),
            secret: s.secret().to_vec(),
            registry: Some(s.registry().to_string()),
            servers: Mutex::new(Some(Servers::Embedded(Box::new(s)))),
        }))
    })
}

/// Collective over the ranks of `comm`: starts the servers of a job. The first
/// `cfg->servers_per_node` ranks of every host each start one server inside their process
/// (data under `cfg->data_dir`, address `cfg->listen_host`), rank 0 makes the secret, and
/// every rank learns every address. Every rank gets a handle (serving or not) from which
/// `benchfs_cluster_servers` and `benchfs_cluster_secret` give what `benchfs_init` needs.
/// If any rank's server cannot start, every rank gets NULL.
///
/// # Safety
/// `cfg` is NULL or a valid `benchfs_config`; `comm` is a valid `benchfs_comm` whose
/// callbacks work as documented until `benchfs_cluster_stop`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_cluster_start_job(
    cfg: *const benchfs_config,
    comm: *const benchfs_comm,
) -> *mut benchfs_cluster {
    ptr_call("benchfs_cluster_start_job", || {
        // SAFETY: forwarded contract.
        let cfg = unsafe { Config::from_c(cfg)? };
        // SAFETY: `comm` is NULL or valid by the caller's contract.
        let Some(c) = (unsafe { comm.as_ref() }) else {
            return Err(CallError::invalid("benchfs_comm is NULL"));
        };
        let comm = CComm::new(c)?;
        let settings = cfg.opts.job_settings(crate::measure::machine::hostname());
        super::guardian::install();
        let servers =
            job::start(&comm, &settings).map_err(|e| CallError::new(libc::EIO, e.to_string()))?;
        Ok(register(ClusterObj {
            addrs: servers.addrs.clone(),
            secret: servers.secret.clone(),
            registry: None,
            servers: Mutex::new(Some(Servers::Job {
                servers: Box::new(servers),
                comm,
            })),
        }))
    })
}

/// Writes the comma-separated addresses of the cluster's servers (placement order) into
/// `buf` (`len` bytes, NUL-terminated, truncated like `snprintf`); returns the full length
/// (without the NUL), or a negative errno.
///
/// # Safety
/// `buf` is valid for `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn benchfs_cluster_servers(
    cluster: *const benchfs_cluster,
    buf: *mut c_char,
    len: usize,
) -> i64 {
    int_call("benchfs_cluster_servers", || {
        let c = CLUSTERS.get(of_ptr(cluster))?;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&c.addrs.join(","), buf, len) }
    })
}

/// Writes the cluster secret (base64 text, for `benchfs_config.secret`) into `buf` like
/// `benchfs_cluster_servers`; returns its full length or a negative errno.
///
/// # Safety
/// As `benchfs_cluster_servers`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_cluster_secret(
    cluster: *const benchfs_cluster,
    buf: *mut c_char,
    len: usize,
) -> i64 {
    int_call("benchfs_cluster_secret", || {
        let c = CLUSTERS.get(of_ptr(cluster))?;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&encode_secret(&c.secret), buf, len) }
    })
}

/// Writes the registry directory of an embedded cluster into `buf` like
/// `benchfs_cluster_servers`; returns its full length, or `-ENOENT` for a job cluster (which
/// has no registry).
///
/// # Safety
/// As `benchfs_cluster_servers`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_cluster_registry(
    cluster: *const benchfs_cluster,
    buf: *mut c_char,
    len: usize,
) -> i64 {
    int_call("benchfs_cluster_registry", || {
        let c = CLUSTERS.get(of_ptr(cluster))?;
        let Some(r) = &c.registry else {
            return Err(CallError::new(
                libc::ENOENT,
                "a job cluster has no registry: use benchfs_cluster_servers and _secret",
            ));
        };
        // SAFETY: forwarded contract.
        unsafe { copy_out(r, buf, len) }
    })
}

/// Stops the servers this process runs for `cluster` and removes their data; the handle is
/// invalid afterwards. For a job cluster this is collective: every rank calls it, and it
/// waits (barrier) until every rank has, so that no server stops while another rank still
/// uses it. Finalize this process's contexts of the cluster first. Returns 0 or a negative
/// errno (the servers are stopped either way).
#[no_mangle]
pub extern "C" fn benchfs_cluster_stop(cluster: *mut benchfs_cluster) -> c_int {
    status_call("benchfs_cluster_stop", || {
        let c = CLUSTERS.remove(of_ptr(cluster))?;
        let servers = c.servers.lock().unwrap_or_else(|p| p.into_inner()).take();
        match servers {
            Some(Servers::Embedded(s)) => s.stop(),
            Some(Servers::Job { servers, comm }) => {
                let waited = comm.barrier();
                drop(servers);
                waited.map_err(|e| CallError::new(libc::EIO, e.to_string()))
            }
            None => Ok(()),
        }
    })
}
