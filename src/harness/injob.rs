//! The ad-hoc BenchFS cluster inside an MPI job, as burst-buffer file systems are used: with
//! `-a BENCHFS` and no `--benchfs.registry` under mpirun/srun, the first
//! `--benchfs.servers-per-node K` ranks of every node start a server inside their own process,
//! the addresses and the cluster secret travel through MPI (no shared directory), and every
//! rank is a client.
//!
//! Owns the decision to start the servers (the first BENCHFS test without a registry), their
//! settings (from that test's `--benchfs.*` options), how long they live (until the job's tests
//! are done) and the hand-over of addresses to the BENCHFS backend; the servers themselves start
//! in [`crate::fs::job`]. It never touches tests that name a registry, nor local runs (those use
//! [`crate::harness::embedded`]).

use crate::backend::benchfs::{set_in_job_cluster, BenchfsOptions};
use crate::backend::canonical_backend_name;
use crate::comm::Comm;
use crate::fs::job::{self, JobError, JobServers};
use crate::harness::backends::BackendUse;
use crate::harness::driver::{RankSetup, SetupError};
use std::any::Any;

/// The [`RankSetup`] that starts the in-job cluster when a test needs it.
pub struct InJobCluster;

/// What `before_tests` hands the driver: the job's servers, and the BENCHFS backend pointed
/// at them until the tests are done.
struct Handover(#[allow(dead_code)] JobServers);

impl Drop for Handover {
    fn drop(&mut self) {
        set_in_job_cluster(None);
    }
}

fn needs_cluster(b: &BackendUse) -> bool {
    canonical_backend_name(&b.api) == Some("BENCHFS") && !b.options.contains_key("benchfs.registry")
}

impl RankSetup for InJobCluster {
    fn before_tests(
        &self,
        comm: &dyn Comm,
        backends: &[BackendUse],
    ) -> Result<Box<dyn Any>, SetupError> {
        let Some(first) = backends.iter().find(|b| needs_cluster(b)) else {
            return Ok(Box::new(()));
        };
        let o = BenchfsOptions::from_values(&first.options)
            .map_err(|e| SetupError::Failed(e.to_string()))?;
        let servers = job::start(comm, &o.job_settings(crate::measure::machine::hostname()))
            .map_err(|e| match e {
                JobError::Comm(c) => SetupError::Comm(c),
                other => SetupError::Failed(other.to_string()),
            })?;
        set_in_job_cluster(Some((servers.addrs.clone(), servers.secret.clone())));
        Ok(Box::new(Handover(servers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::local::LocalComm;

    #[test]
    fn ranks_start_servers_and_share_addresses() {
        // Two emulated nodes of two tasks, one server per node: ranks 0 and 2 serve.
        let mut t = BackendUse {
            api: "BENCHFS".into(),
            options: Default::default(),
        };
        let data = tempfile::tempdir().expect("temp dir");
        t.options.insert(
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
