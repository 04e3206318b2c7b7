//! The application layer: what a binary runs. The process driver (local tasks or one MPI
//! rank), the embedded and in-job BenchFS clusters, and the subcommands (`mdtest`, `io500`,
//! `import`, `compare`, `report`, `export`, `sweep`, `crosscheck`).
//!
//! Owns process-level decisions (launch, world size, where results go, exit status) and the
//! wiring of engines to result documents. It must not sequence phases (the engines do), format
//! IOR output (`crate::ior::output`) or analyse results (`crate::results`). Nothing below this
//! layer imports it; `src/bin/*` import only it.

pub mod backends;
pub mod bench;
pub mod cleanup;
pub mod context;
pub mod crosscheck;
pub mod driver;
pub mod embedded;
pub mod host;
pub mod injob;
pub mod io500;
pub mod logging;
pub mod mdtest;
pub mod preflight;
pub mod results_cli;
pub mod server;
pub mod sweep;
