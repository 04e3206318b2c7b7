//! BenchFS: an ad-hoc distributed file system, and benchfs-bench, an IOR-compatible benchmark
//! harness that drives it (and POSIX file systems) directly through async Rust APIs.
//!
//! Layers, top down; each module imports only the layers below it:
//! - [`harness`]: the application layer (process driver, embedded and in-job clusters,
//!   subcommands, the binaries' `main`s); `src/bin/*` call only this layer;
//! - [`ffi`]: libbenchfs, the C API (beside the harness: nothing in the crate uses it);
//! - [`results`]: result documents, imports of real IOR output, compare, report, export;
//! - [`ior`], [`mdtest`]: the IOR- and mdtest-compatible workload engines, and [`io500`]
//!   on top of them;
//! - [`backend`]: the storage backends the engines drive (POSIX, DUMMY, MMAP, BENCHFS);
//! - [`fs`]: the distributed file system (client, transports, servers, stores);
//! - leaves that know nothing above them: [`measure`] (clock, log stream, latency histograms
//!   and capacity lines of the engines), [`optparse`] (IOR's option token rules, for any
//!   engine's table), [`comm`] (how ranks coordinate), [`cpus`] (binding tasks to CPUs),
//!   [`units`] (sizes), [`prng`] (glibc's generators), [`build_info`] (the exact build).

#![warn(missing_docs)]

pub(crate) mod backend;
pub(crate) mod build_info;
pub mod comm;
pub mod cpus;
pub mod ffi;
pub(crate) mod file_map;
pub mod fs;
pub mod harness;
pub mod io500;
pub mod ior;
pub mod mdtest;
pub(crate) mod mdworkbench;
pub mod measure;
pub(crate) mod optparse;
pub(crate) mod prng;
pub mod results;
pub(crate) mod timestamp;
pub(crate) mod units;
