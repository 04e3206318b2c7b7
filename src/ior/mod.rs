//! The IOR-compatible workload engine: options, scripts, validation, access patterns, data
//! signatures, phases and timers, reductions, output formats and backends.
//!
//! The contract is `SPEC.md` (IOR 4.1). Each concept lives in the file named after it; the
//! engine ([`engine`]) drives the others and is the only module that sequences phases.

pub mod access;
pub mod detail_csv;
pub mod engine;
pub mod error;
pub mod iodepth;
pub mod options;
pub mod output;
pub mod params;
pub mod progress;
pub mod reduce;
pub mod results;
pub mod serial;
pub mod signature;
pub mod stats;
pub mod transfer;
pub mod validate;
