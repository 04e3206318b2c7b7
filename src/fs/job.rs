//! The servers of an MPI job, as burst-buffer file systems are used: the first ranks of every
//! node start a BenchFS server inside their own process, and the addresses and the cluster
//! secret travel through the job's collectives (no shared directory). benchfs-bench's in-job
//! mode (`crate::harness::injob`) and libbenchfs's job clusters (`crate::ffi::cluster`) both
//! start their servers here.
//!
//! Owns the servers' lifetime within the job: their runtime (separate threads, so a server
//! keeps serving while its rank blocks in a collective) and their data directories (removed
//! when the servers stop, and registered with [`super::cleanup`] before they exist, so that a
//! signal or an MPI abort removes them too). It connects no client.

use super::cleanup::{self, Registered};
use super::server::{RunningServer, ServerConfig};
use super::transport::choice::ServerTransports;
use crate::comm::{Comm, CommError};
use std::path::PathBuf;

/// How the servers of a job are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Servers started on each node, by its first ranks.
    pub servers_per_node: usize,
    /// Directory under which each server keeps its data (default: the temporary directory).
    pub data_dir: Option<PathBuf>,
    /// Address the servers listen on and advertise (default: 127.0.0.1 when every rank runs
    /// on one host, this host's name otherwise).
    pub listen_host: Option<String>,
    /// Chunk files each server keeps preallocated.
    pub spare_chunks: usize,
    /// Chunk size the spares are made for.
    pub chunk_size: u32,
    /// The transports the servers offer (they advertise UCX when they offer it).
    pub transports: ServerTransports,
    /// This rank's host name.
    pub host: String,
}

/// Why the servers of a job did not start.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A server could not start (on this rank or another one; the message says which).
    #[error("{0}")]
    Start(String),
    /// A collective failed (another rank aborted).
    #[error(transparent)]
    Comm(#[from] CommError),
}

/// The server this rank started for the job (if any) and the runtime serving it, stopped
/// (and its data removed) on drop.
struct Guard {
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<RunningServer>,
    data_dir: Option<PathBuf>,
    /// The data directory's registration for removal on a signal or an MPI abort (dropped
    /// after `drop` has removed it).
    _registered: Option<Registered>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let (Some(rt), Some(server)) = (self.runtime.take(), self.server.take()) {
            // A clean stop flushes metadata; the data is removed right after anyway.
            let _ = rt.block_on(server.shutdown());
            rt.shutdown_background();
        }
        if let Some(dir) = &self.data_dir {
            crate::fs::cluster::remove_tree(dir);
        }
    }
}

/// The cluster of an MPI job as one rank sees it: every server's address and the secret, and
/// this rank's own server, which runs until this value is dropped (drop it on every rank only
/// once no rank uses the cluster any more, e.g. after a barrier).
pub struct JobServers {
    _guard: Guard,
    /// Address of every server of the job, in placement order.
    pub addrs: Vec<String>,
    /// The cluster secret.
    pub secret: Vec<u8>,
}

impl JobServers {}

/// This rank's index among the ranks of its node.
fn local_index(nodes: &[usize], rank: usize) -> usize {
    nodes[..rank].iter().filter(|&&n| n == nodes[rank]).count()
}

/// Starts the servers of a job, collectively over `comm`: the first `o.servers_per_node`
/// ranks of every node each start one (data under `o.data_dir`, listening on
/// `o.listen_host`, loopback when every rank shares one host), rank 0 makes the secret, and
/// every rank learns every address. A server that fails to start fails the call on every
/// rank.
pub fn start(comm: &dyn Comm, o: &JobSettings) -> Result<JobServers, JobError> {
    let rank = comm.rank();
    let nodes = comm.node_of_ranks();
    // Loopback is enough while every rank runs on this machine (emulated nodes included);
    // only real hosts need an address the others can reach.
    let hosts = comm.allgather_bytes(o.host.as_bytes())?;
    let multi_host = hosts.iter().any(|h| h != &hosts[0]);
    let serves = local_index(&nodes, rank) < o.servers_per_node;

    // One secret and one job id for the whole job, from rank 0.
    let mut secret = vec![0u8; 32];
    if rank == 0 {
        for b in secret.iter_mut() {
            *b = rand::random();
        }
    }
    let secret = comm.bcast_bytes(&secret, 0)?;
    let job = comm.bcast_u64(
        (std::process::id() as u64) << 32 | rand::random::<u32>() as u64,
        0,
    )?;

    let mut guard = Guard {
        runtime: None,
        server: None,
        data_dir: None,
        _registered: None,
    };
    let mut my_addr = String::new();
    let mut failure = String::new();
    if serves {
        let base = o.data_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("benchfs-injob-{job:016x}-r{rank}"));
        // Registered before it exists: a signal or an abort from now on removes it.
        guard._registered = Some(cleanup::register(dir.clone()));
        let starting = cleanup::starting();
        let (bind, advertise) = match (&o.listen_host, multi_host) {
            (Some(h), _) => (h.clone(), h.clone()),
            (None, false) => ("127.0.0.1".to_string(), "127.0.0.1".to_string()),
            (None, true) => ("0.0.0.0".to_string(), o.host.clone()),
        };
        let started = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("benchfs-injob-server")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a server runtime: {e}"))
            .and_then(|rt| {
                let mut cfg = ServerConfig::new(&dir, secret.clone());
                cfg.listen = format!("{bind}:0");
                cfg.spare_chunks = o.spare_chunks;
                cfg.spare_chunk_size = o.chunk_size;
                cfg.transports = o.transports;
                cfg.offer_local = true;
                let server = rt.block_on(RunningServer::start(cfg)).map_err(|e| {
                    format!(
                        "cannot start a BenchFS server in \"{}\": {e}",
                        dir.display()
                    )
                })?;
                Ok((rt, server))
            });
        drop(starting);
        guard.data_dir = Some(dir);
        match started {
            Ok((rt, server)) => {
                // UCX addresses carry the worker's own reachable interfaces.
                my_addr = match server.ucx_addr() {
                    Some(ucx) => ucx,
                    None => format!("{advertise}:{}", server.local_addr().port()),
                };
                // This rank's clients reach their own server in-process by the address
                // the job lists it by (`--benchfs.transport local` or `auto`).
                if let Some(local) = server.in_process_addr() {
                    crate::fs::transport::local::add_alias(&local, &my_addr);
                }
                guard.runtime = Some(rt);
                guard.server = Some(server);
            }
            Err(e) => failure = format!("rank {rank}: {e}"),
        }
    }
    // Every rank learns every address (and whether any server failed to start).
    let report = if failure.is_empty() {
        format!("+{my_addr}")
    } else {
        format!("!{failure}")
    };
    let all = comm.allgather_bytes(report.as_bytes())?;
    let mut addrs = Vec::new();
    for r in &all {
        let r = String::from_utf8_lossy(r);
        if let Some(err) = r.strip_prefix('!') {
            return Err(JobError::Start(err.to_string()));
        }
        if let Some(a) = r.strip_prefix('+').filter(|a| !a.is_empty()) {
            addrs.push(a.to_string());
        }
    }
    if addrs.is_empty() {
        return Err(JobError::Start(
            "no BenchFS server started in the job".into(),
        ));
    }
    Ok(JobServers {
        _guard: guard,
        addrs,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_index_counts_ranks_of_the_same_node() {
        let nodes = [0, 0, 1, 1, 0, 1];
        let idx: Vec<usize> = (0..nodes.len()).map(|r| local_index(&nodes, r)).collect();
        assert_eq!(idx, [0, 1, 0, 1, 2, 2]);
    }
}
