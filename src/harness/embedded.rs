//! The embedded BenchFS cluster behind `-a BENCHFS` when no `--benchfs.registry` is given:
//! real servers on 127.0.0.1 inside this process, with real chunk files in a temporary
//! directory that is removed afterwards.
//!
//! Owns the servers' runtime and their lifetime for one run, and hands each BENCHFS test the
//! registry directory of its cluster (as the `benchfs.registry` option). A cluster's directory
//! is registered with [`crate::fs::cleanup`] before it is created, so that a signal at
//! any stage removes it. It never touches a test that names its own registry, nor any other
//! backend.

use crate::backend::benchfs::BenchfsOptions;
use crate::backend::canonical_backend_name;
use crate::fs::cleanup::{self, Registered};
use crate::fs::Cluster;
use crate::harness::backends::BackendSlot;
use crate::measure::log;

/// What tells embedded clusters apart: server count, data directory, chunk size, spare
/// chunk files, transport.
type ClusterKey = (usize, String, u32, usize, crate::fs::ClientTransport);

/// The embedded clusters of a run (one per distinct server count, data directory, chunk size
/// number of spare chunk files and transport).
pub struct EmbeddedClusters {
    runtime: tokio::runtime::Runtime,
    clusters: Vec<(ClusterKey, Cluster, Registered)>,
}

impl EmbeddedClusters {
    /// Starts the clusters the BENCHFS tests without a registry need and points those tests
    /// at them. `None` when no test needs one.
    pub fn start_for(tests: &mut [BackendSlot<'_>]) -> Result<Option<Self>, String> {
        let needs = |t: &BackendSlot<'_>| {
            canonical_backend_name(t.api) == Some("BENCHFS")
                && !t.options.contains_key("benchfs.registry")
        };
        if !tests.iter().any(needs) {
            return Ok(None);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("benchfs-server")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the embedded BenchFS cluster's runtime: {e}"))?;
        let mut me = EmbeddedClusters {
            runtime,
            clusters: Vec::new(),
        };
        for t in tests.iter_mut().filter(|t| needs(t)) {
            let o = BenchfsOptions::from_values(t.options).map_err(|e| e.to_string())?;
            let base = o
                .data_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().to_string_lossy().into_owned());
            // Spares are made for the cluster's chunk size: the test's own, if it names one.
            let chunk = o.cluster_chunk_size();
            let key = (o.servers, base.clone(), chunk, o.spare_chunks, o.transport);
            let registry = match me.clusters.iter().find(|(k, _, _)| *k == key) {
                Some((_, c, _)) => c.registry().to_string_lossy().into_owned(),
                None => {
                    std::fs::create_dir_all(&base)
                        .map_err(|e| format!("cannot create --benchfs.data-dir \"{base}\": {e}"))?;
                    // Registered before it exists: a signal from now on removes it.
                    let root = Cluster::new_root(&base);
                    let registered = cleanup::register(root.clone());
                    let cluster = {
                        let _starting = cleanup::starting();
                        me.runtime.block_on(async {
                            let mut cfg = crate::fs::ServerConfig::new(&base, Vec::new());
                            cfg.spare_chunks = o.spare_chunks;
                            cfg.transports = o.transport.servers();
                            Cluster::embedded_at(root, o.servers, chunk, &cfg).await
                        })
                    }
                    .map_err(|e| {
                        format!("cannot start the embedded BenchFS cluster in \"{base}\": {e}")
                    })?;
                    let reg = cluster.registry().to_string_lossy().into_owned();
                    if t.verbose {
                        log::line(&format!(
                            "benchfs-bench: embedded BenchFS cluster of {} servers, data in {}",
                            o.servers,
                            cluster.root().display()
                        ));
                    }
                    me.clusters.push((key, cluster, registered));
                    reg
                }
            };
            t.options.insert("benchfs.registry".into(), registry);
        }
        Ok(Some(me))
    }

    /// Stops every server gracefully and removes the data.
    pub fn shutdown(mut self) {
        let clusters = std::mem::take(&mut self.clusters);
        self.runtime.block_on(async {
            // Each registration ends after its cluster's data is removed (the drop of `c`).
            for (_, c, _registered) in clusters {
                if let Err(e) = c.shutdown().await {
                    log::warn(&format!(
                        "embedded BenchFS cluster did not stop cleanly: {e}"
                    ));
                }
            }
        });
    }
}
