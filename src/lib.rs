//! BenchFS: an ad-hoc distributed file system, and benchfs-bench, an IOR-compatible benchmark
//! harness that drives it (and POSIX file systems) directly through async Rust APIs.
//!
//! Modules: [`fs`] (the distributed file system), [`ior`] (the IOR-compatible engine),
//! [`comm`] (how ranks coordinate),
//! [`results`] (result documents), [`build_info`] (the exact build).

pub mod backend;
pub mod build_info;
pub mod comm;
pub mod fs;
pub mod harness;
pub mod ior;
pub mod results;
pub mod units;
