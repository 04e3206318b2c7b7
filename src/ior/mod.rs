//! The IOR-compatible workload engine: options, scripts, validation, access patterns, data
//! signatures, phases and timers, reductions, output formats and backends.
//!
//! The contract is `SPEC.md` (IOR 4.1). Each concept lives in the file named after it; the
//! engine ([`engine`]) drives the others and is the only module that sequences phases.

pub(crate) mod access;
pub(crate) mod detail_csv;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod iodepth;
pub mod options;
pub mod output;
pub mod params;
pub(crate) mod progress;
pub mod reduce;
pub mod results;
pub(crate) mod serial;
pub(crate) mod series;
pub(crate) mod signature;
pub mod stats;
pub(crate) mod transfer;
pub(crate) mod validate;
