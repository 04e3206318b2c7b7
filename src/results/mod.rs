//! Result documents that outlive a run: the versioned `--json FILE` document, imports of real
//! IOR runs, noise-aware comparisons, dashboards, CI exports and transfer-size sweeps.
//!
//! Owns serialisation and analysis of finished results; only [`sweep`] runs benchmarks, and it
//! does so through [`crate::harness::driver`] like the command line would.

pub mod compare;
pub mod document;
pub(crate) mod export;
pub mod import;
pub mod report;
pub(crate) mod samples;
