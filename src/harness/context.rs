//! What the driver records about a run beside its results: when it began and ended (RFC
//! 3339), the machine, and per test the file-system type under its path, the BenchFS cluster
//! it ran on by its settings, and the backend options as the user gave them.
//!
//! Owns the translation of a run's setup into [`RunContext`]; it learns facts through
//! [`crate::harness::host`] and reads a registry's description, and must not run tests or
//! write documents (the driver does).

use crate::backend::benchfs::BenchfsOptions;
use crate::backend::canonical_backend_name;
use crate::fs::registry::Registry;
use crate::harness::host;
use crate::ior::params::IorParams;
use crate::results::document::{ClusterSettings, RunContext, TestContext};
use std::path::Path;

/// Where the servers of BENCHFS tests without a registry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterPlacement {
    /// Inside benchfs-bench (local tasks): [`crate::harness::embedded`].
    Embedded,
    /// Inside the ranks of an MPI job: [`crate::harness::injob`].
    InJob,
}

/// The context of a run that begins now: its tests as validated, before the driver points
/// any of them at a cluster it starts.
pub fn run_context(tests: &[IorParams], placement: ClusterPlacement) -> RunContext {
    RunContext {
        began: crate::timestamp::now(),
        finished: String::new(),
        host: Some(host::host_info()),
        tests: tests.iter().map(|t| test_context(t, placement)).collect(),
        interrupted: None,
    }
}

/// The context of a run without IOR tests (mdtest, io500) that began at `began` (a ctime
/// string of this machine's clock) and ends now.
pub fn ended_now(began: &str) -> RunContext {
    RunContext {
        began: crate::timestamp::from_ctime(began, true),
        finished: crate::timestamp::now(),
        host: Some(host::host_info()),
        ..RunContext::default()
    }
}

fn test_context(t: &IorParams, placement: ClusterPlacement) -> TestContext {
    let api = canonical_backend_name(&t.api);
    let cluster = (api == Some("BENCHFS"))
        .then(|| BenchfsOptions::from_values(&t.backend_options).ok())
        .flatten()
        .map(|o| cluster_settings(&o, placement));
    let fs_type = match api {
        Some("BENCHFS") => Some("benchfs".to_string()),
        Some("DUMMY") => None,
        _ => host::fs_type_of(Path::new(&t.test_file_name)),
    };
    TestContext {
        backend_options: Some(t.backend_options.clone()),
        fs_type,
        cluster,
    }
}

/// The cluster of a BENCHFS test by its settings.
fn cluster_settings(o: &BenchfsOptions, placement: ClusterPlacement) -> ClusterSettings {
    let data_dir_fs = || {
        let dir = o
            .data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().to_string_lossy().into_owned());
        host::fs_type_of(Path::new(&dir))
    };
    match (&o.registry, placement) {
        (Some(reg), _) => {
            let info = Registry::new(reg).cluster().ok();
            ClusterSettings {
                kind: "external".into(),
                servers: info.as_ref().map(|i| i.expected_servers),
                servers_per_node: None,
                chunk_size: o
                    .chunk_size
                    .or(info.as_ref().map(|i| i.chunk_size))
                    .unwrap_or_else(|| o.cluster_chunk_size()),
                spare_chunks: None,
                transport: "tcp".into(),
                data_dir: None,
                data_dir_fs_type: None,
                registry: Some(reg.clone()),
            }
        }
        (None, placement) => ClusterSettings {
            kind: match placement {
                ClusterPlacement::Embedded => "embedded",
                ClusterPlacement::InJob => "in-job",
            }
            .into(),
            servers: (placement == ClusterPlacement::Embedded).then_some(o.servers),
            servers_per_node: (placement == ClusterPlacement::InJob).then_some(o.servers_per_node),
            chunk_size: o.cluster_chunk_size(),
            spare_chunks: Some(o.spare_chunks),
            transport: "tcp".into(),
            data_dir: o.data_dir.clone(),
            data_dir_fs_type: data_dir_fs(),
            registry: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn benchfs(opts: &[(&str, &str)]) -> IorParams {
        IorParams {
            api: "BENCHFS".into(),
            backend_options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..IorParams::default()
        }
    }

    #[test]
    fn embedded_cluster_by_its_settings() {
        let t = benchfs(&[("benchfs.servers", "3"), ("benchfs.chunk-size", "1048576")]);
        let c = test_context(&t, ClusterPlacement::Embedded);
        let cl = c.cluster.unwrap();
        assert_eq!(cl.kind, "embedded");
        assert_eq!(cl.servers, Some(3));
        assert_eq!(cl.chunk_size, 1 << 20);
        assert_eq!(cl.data_dir, None);
        assert!(cl.data_dir_fs_type.is_some());
        assert_eq!(cl.registry, None);
        assert_eq!(c.fs_type.as_deref(), Some("benchfs"));
        let injob = test_context(&t, ClusterPlacement::InJob).cluster.unwrap();
        assert_eq!((injob.kind.as_str(), injob.servers), ("in-job", None));
        assert_eq!(injob.servers_per_node, Some(1));
    }

    #[test]
    fn external_cluster_reads_its_registry() {
        let d = tempfile::tempdir().unwrap();
        let reg = d.path().join("reg");
        Registry::new(&reg).create_or_join(5, 2 << 20).unwrap();
        let t = benchfs(&[("benchfs.registry", reg.to_str().unwrap())]);
        let cl = test_context(&t, ClusterPlacement::Embedded)
            .cluster
            .unwrap();
        assert_eq!(cl.kind, "external");
        assert_eq!(cl.servers, Some(5));
        assert_eq!(cl.chunk_size, 2 << 20);
        assert_eq!(cl.registry.as_deref(), reg.to_str());
    }

    #[test]
    fn posix_path_has_its_fs_type() {
        let t = IorParams {
            api: "POSIX".into(),
            test_file_name: "/proc/self/testFile".into(),
            ..IorParams::default()
        };
        let c = test_context(&t, ClusterPlacement::Embedded);
        assert_eq!(c.fs_type.as_deref(), Some("proc"));
        assert!(c.cluster.is_none());
    }
}
