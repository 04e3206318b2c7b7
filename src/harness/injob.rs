//! The ad-hoc BenchFS cluster inside an MPI job, as burst-buffer file systems are used: with
//! `-a BENCHFS` and no `--benchfs.registry` under mpirun/srun, the first
//! `--benchfs.servers-per-node K` ranks of every node start a server inside their own process,
//! the addresses and the cluster secret travel through MPI (no shared directory), and every
//! rank is a client.
//!
//! Owns the servers' lifetime within the job: their runtime (separate threads, so a server keeps
//! serving while its rank blocks in an MPI collective), their data directories (removed when the
//! job's tests are done) and the hand-over of addresses to the BENCHFS backend. It never touches
//! tests that name a registry, nor local runs (those use [`crate::harness::embedded`]).

use crate::backend::benchfs::{set_in_job_cluster, BenchfsOptions};
use crate::backend::canonical_backend_name;
use crate::comm::Comm;
use crate::fs::{RunningServer, ServerConfig};
use crate::harness::driver::{RankSetup, SetupError};
use crate::ior::params::IorParams;
use std::any::Any;
use std::path::PathBuf;

/// The [`RankSetup`] that starts the in-job cluster when a test needs it.
pub struct InJobCluster;

/// What a rank keeps while the tests run: its server (if it runs one) and the runtime serving it.
struct Guard {
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<RunningServer>,
    data_dir: Option<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        set_in_job_cluster(None);
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

fn needs_cluster(t: &IorParams) -> bool {
    canonical_backend_name(&t.api) == Some("BENCHFS")
        && !t.backend_options.contains_key("benchfs.registry")
}

/// This rank's index among the ranks of its node.
fn local_index(nodes: &[usize], rank: usize) -> usize {
    nodes[..rank].iter().filter(|&&n| n == nodes[rank]).count()
}

impl RankSetup for InJobCluster {
    fn before_tests(
        &self,
        comm: &dyn Comm,
        tests: &[IorParams],
    ) -> Result<Box<dyn Any>, SetupError> {
        let Some(first) = tests.iter().find(|t| needs_cluster(t)) else {
            return Ok(Box::new(()));
        };
        let o = BenchfsOptions::from_values(&first.backend_options)
            .map_err(|e| SetupError::Failed(e.to_string()))?;
        let rank = comm.rank();
        let nodes = comm.node_of_ranks();
        // Loopback is enough while every rank runs on this machine (emulated nodes included);
        // only real hosts need an address the others can reach.
        let hosts = comm.allgather_bytes(crate::ior::machine::hostname().as_bytes())?;
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
        };
        let mut my_addr = String::new();
        let mut failure = String::new();
        if serves {
            let base = o
                .data_dir
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let dir = base.join(format!("benchfs-injob-{job:016x}-r{rank}"));
            let (bind, advertise) = match (&o.listen_host, multi_host) {
                (Some(h), _) => (h.clone(), h.clone()),
                (None, false) => ("127.0.0.1".to_string(), "127.0.0.1".to_string()),
                (None, true) => ("0.0.0.0".to_string(), crate::ior::machine::hostname()),
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
                    cfg.spare_chunk_size = o.cluster_chunk_size();
                    let server = rt.block_on(RunningServer::start(cfg)).map_err(|e| {
                        format!(
                            "cannot start a BenchFS server in \"{}\": {e}",
                            dir.display()
                        )
                    })?;
                    Ok((rt, server))
                });
            guard.data_dir = Some(dir);
            match started {
                Ok((rt, server)) => {
                    my_addr = format!("{advertise}:{}", server.local_addr().port());
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
                return Err(SetupError::Failed(err.to_string()));
            }
            if let Some(a) = r.strip_prefix('+').filter(|a| !a.is_empty()) {
                addrs.push(a.to_string());
            }
        }
        if addrs.is_empty() {
            return Err(SetupError::Failed(
                "no BenchFS server started in the job".into(),
            ));
        }
        set_in_job_cluster(Some((addrs, secret)));
        Ok(Box::new(guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::local::LocalComm;

    #[test]
    fn local_index_counts_ranks_of_the_same_node() {
        let nodes = [0, 0, 1, 1, 0, 1];
        let idx: Vec<usize> = (0..nodes.len()).map(|r| local_index(&nodes, r)).collect();
        assert_eq!(idx, [0, 1, 0, 1, 2, 2]);
    }

    #[test]
    fn ranks_start_servers_and_share_addresses() {
        // Two emulated nodes of two tasks, one server per node: ranks 0 and 2 serve.
        let mut t = IorParams {
            api: "BENCHFS".into(),
            ..IorParams::default()
        };
        let data = tempfile::tempdir().expect("temp dir");
        t.backend_options.insert(
            "benchfs.data-dir".into(),
            data.path().to_string_lossy().into_owned(),
        );
        let tests = vec![t];
        let handles: Vec<_> = LocalComm::group(4, 2)
            .into_iter()
            .map(|c| {
                let tests = tests.clone();
                std::thread::spawn(move || {
                    let g = InJobCluster.before_tests(&c, &tests).expect("setup");
                    let info = crate::backend::benchfs::in_job_cluster();
                    c.barrier().expect("barrier");
                    drop(g);
                    c.barrier().expect("barrier");
                    info
                })
            })
            .collect();
        for h in handles {
            let (addrs, secret) = h.join().expect("rank").expect("cluster info");
            assert_eq!(addrs.len(), 2);
            assert!(addrs.iter().all(|a| a.starts_with("127.0.0.1:")));
            assert_eq!(secret.len(), 32);
        }
        // Every server removed its data.
        assert_eq!(std::fs::read_dir(data.path()).expect("dir").count(), 0);
    }
}
