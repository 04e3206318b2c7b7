//! BenchFS, the distributed file system: async client API, servers, placement, wire
//! protocol, transports, registry and embedded cluster.
//!
//! Layers, bottom up: [`error`] (typed errors mapped to errno), [`wire`] (frames and
//! messages), [`placement`] (which server holds what), [`transport`] (moving frames: TCP,
//! with request correlation in [`rpc`]), [`server`] (chunk store and metadata store behind a
//! request handler), [`registry`] (discovery and the cluster secret), [`client`] (the API the
//! benchmark harness calls) and [`cluster`] (servers embedded in the calling process).
//! This module tree owns nothing outside `src/fs`.

pub mod error;
pub mod path;
pub mod placement;
pub mod rpc;
pub mod server;
pub mod transport;
pub mod wire;

pub use error::{FsError, FsResult};
