//! Result documents that outlive a run: the versioned `--json FILE` document, and later
//! imports of real IOR runs, comparisons and dashboards.
//!
//! Owns serialisation of finished results only; it never runs a benchmark.

pub mod document;
