//! The md-workbench-compatible metadata workbench (hpc/ior 4.1 `md-workbench.c`, the io500
//! app's `mdworkbench-*` phases): options, phases (precreate, benchmark iterations of stat,
//! read, delete and create over a sliding working set, cleanup), latency statistics and
//! md-workbench's text, on the shared backends.
//!
//! The library call is [`engine::run`] (or [`engine::run_on`] with a backend of the caller's):
//! every rank of a communicator calls it with the same [`options::MdwParams`] and gets the
//! typed results ([`results::MdwRun`]). [`engine`] is the only module that sequences phases.

pub(crate) mod engine;
pub(crate) mod options;
pub(crate) mod output;
pub(crate) mod results;
pub(crate) mod stats;

pub use engine::{run, Context};
pub use options::MdwParams;
pub use results::MdwRun;
