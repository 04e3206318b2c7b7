//! What every benchmark engine (IOR, mdtest) measures and reports with, beneath the engines:
//! the wall clock and machine facts ([`machine`]), the log stream of warnings and verbose
//! lines ([`log`]), latency histograms merged over ranks ([`latency`]), fixed-interval time
//! series of a task's transfers and its live counts ([`series`]) and the file-system
//! capacity lines ([`fsinfo`]).
//!
//! A leaf for the engines: it knows no engine, option or output format above it.

pub(crate) mod fsinfo;
pub mod latency;
pub(crate) mod log;
pub mod machine;
pub(crate) mod series;
