//! The application layer: what a binary runs. The process driver (local tasks or one MPI
//! rank), the embedded and in-job BenchFS clusters, and the subcommands (`mdtest`, `md-workbench`, `io500`,
//! `import`, `compare`, `report`, `export`, `sweep`, `crosscheck`).
//!
//! Owns process-level decisions (launch, world size, where results go, exit status) and the
//! wiring of engines to result documents. It must not sequence phases (the engines do), format
//! IOR output (`crate::ior::output`) or analyse results (`crate::results`). Nothing below this
//! layer imports it; `src/bin/*` import only it.

pub(crate) mod backends;
pub mod bench;
pub mod cleanup;
pub(crate) mod cli_docs;
pub(crate) mod context;
pub(crate) mod crosscheck;
pub mod driver;
pub(crate) mod embedded;
pub(crate) mod host;
pub(crate) mod injob;
pub(crate) mod io500;
pub mod logging;
pub(crate) mod mdtest;
pub(crate) mod mdworkbench;
pub(crate) mod preflight;
pub(crate) mod record;
pub(crate) mod results_cli;
pub mod server;
pub(crate) mod sweep;
