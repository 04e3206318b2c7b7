//! The mdtest-compatible metadata workload engine (mdtest 4.1, SPEC §7): options, checks,
//! names, phases, timers, reductions, text output, CSV files, on the shared backends.
//!
//! The library call is [`engine::run`] (or [`engine::run_on`] with a backend of the caller's,
//! as IO500 does): every rank of a communicator calls it with the same [`params::MdtestParams`]
//! and gets the typed results ([`results::MdtestRun`]). Each concept lives in the file named
//! after it; [`engine`] is the only module that sequences phases.

pub(crate) mod detail_csv;
pub(crate) mod engine;
pub(crate) mod names;
pub(crate) mod ops;
pub(crate) mod options;
pub mod output;
pub mod params;
pub(crate) mod pattern;
pub(crate) mod phase;
pub mod results;
pub mod stats;
pub(crate) mod validate;

pub use engine::{run, run_on, Context, Failure, MdtestReport};
pub use params::{MdtestParams, Op};
pub use results::MdtestRun;
pub use validate::MdtestError;
