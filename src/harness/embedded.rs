//! The embedded BenchFS cluster behind `-a BENCHFS` when no `--benchfs.registry` is given:
//! real servers on 127.0.0.1 inside this process, with real chunk files in a temporary
//! directory that is removed afterwards.
//!
//! Owns the servers' runtime and their lifetime for one run, and hands each BENCHFS test the
//! registry directory of its cluster (as the `benchfs.registry` option). It never touches a
//! test that names its own registry, nor any other backend.

use crate::backend::benchfs::BenchfsOptions;
use crate::backend::canonical_backend_name;
use crate::fs::Cluster;
use crate::harness::backends::BackendSlot;
use crate::measure::log;

/// Data directories of live embedded clusters, removed if the run is interrupted by a signal
/// (destructors do not run then).
static LIVE_DIRS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// On SIGINT, SIGTERM or SIGHUP: remove the live clusters' data, then exit with 128 + signal.
/// Installed once, when the first embedded cluster starts.
fn install_signal_cleanup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                let spawned = std::thread::Builder::new()
                    .name("benchfs-signals".into())
                    .spawn(move || {
                        if let Some(sig) = signals.forever().next() {
                            let dirs = std::mem::take(&mut *LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner()));
                            for d in dirs {
                                crate::fs::cluster::remove_tree(&d);
                            }
                            log::line(&format!("benchfs-bench: interrupted (signal {sig}); embedded cluster data removed"));
                            std::process::exit(128 + sig);
                        }
                    });
                if let Err(e) = spawned {
                    log::warn(&format!("cannot watch for signals ({e}): an interrupted run may leave its embedded cluster data behind"));
                }
            }
            Err(e) => log::warn(&format!(
                "cannot watch for signals ({e}): an interrupted run may leave its embedded cluster data behind"
            )),
        }
    });
}

/// The embedded clusters of a run (one per distinct server count, data directory, chunk size
/// and number of spare chunk files).
pub struct EmbeddedClusters {
    runtime: tokio::runtime::Runtime,
    clusters: Vec<((usize, String, u32, usize), Cluster)>,
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
            let key = (o.servers, base.clone(), chunk, o.spare_chunks);
            let registry = match me.clusters.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.registry().to_string_lossy().into_owned(),
                None => {
                    std::fs::create_dir_all(&base)
                        .map_err(|e| format!("cannot create --benchfs.data-dir \"{base}\": {e}"))?;
                    let cluster = me
                        .runtime
                        .block_on(async {
                            let mut cfg = crate::fs::ServerConfig::new(&base, Vec::new());
                            cfg.spare_chunks = o.spare_chunks;
                            Cluster::embedded_config(o.servers, &base, chunk, &cfg).await
                        })
                        .map_err(|e| {
                            format!("cannot start the embedded BenchFS cluster in \"{base}\": {e}")
                        })?;
                    install_signal_cleanup();
                    LIVE_DIRS
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(cluster.root().to_path_buf());
                    let reg = cluster.registry().to_string_lossy().into_owned();
                    if t.verbose {
                        log::line(&format!(
                            "benchfs-bench: embedded BenchFS cluster of {} servers, data in {}",
                            o.servers,
                            cluster.root().display()
                        ));
                    }
                    me.clusters.push((key, cluster));
                    reg
                }
            };
            t.options.insert("benchfs.registry".into(), registry);
        }
        Ok(Some(me))
    }

    /// Number of clusters started.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether none was started.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Stops every server gracefully and removes the data.
    pub fn shutdown(mut self) {
        let clusters = std::mem::take(&mut self.clusters);
        LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.runtime.block_on(async {
            for (_, c) in clusters {
                if let Err(e) = c.shutdown().await {
                    log::warn(&format!(
                        "embedded BenchFS cluster did not stop cleanly: {e}"
                    ));
                }
            }
        });
    }
}
