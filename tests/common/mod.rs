//! Helpers shared by the integration tests.
#![allow(dead_code)]
pub mod golden;
pub mod io500;
pub mod mpi;
pub mod run;
pub mod servers;
