//! BenchFS, the distributed file system: async client API, servers, placement, wire
//! protocol, transports, registry and embedded cluster.
//!
//! Layers, bottom up: [`error`] (typed errors mapped to errno), [`path`] (path rules),
//! [`wire`] (frames and messages: one table of operations), [`placement`] (which server
//! holds what), [`transport`] (moving frames: TCP, with request correlation in
//! [`transport::stream`]), [`server`] (chunk store and metadata store behind a request
//! handler), [`registry`] (discovery and the cluster secret), [`client`] (the API the
//! benchmark harness calls; never imports [`server`]), [`cluster`] (servers embedded in
//! the calling process, and the facade for server settings code above needs), [`job`]
//! (servers started by the ranks of a job), [`cleanup`] (their data directories, for the
//! exit paths no destructor sees) and [`reclaim`] (the space of files that no longer exist,
//! after a server restarts). This module tree owns nothing outside `src/fs`.

pub(crate) mod cleanup;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod error;
pub(crate) mod job;
pub(crate) mod path;
pub(crate) mod placement;
pub(crate) mod reclaim;
pub mod registry;
pub mod server;
pub mod transport;
pub mod wire;

pub use client::{Client, ClientOptions, FileHandle, FsStat, OpenFlags, Tuning};
pub use cluster::Cluster;
pub use error::{FsError, FsResult};
pub use registry::Registry;
pub use server::{RunningServer, ServerConfig, ServerTuning};
pub use transport::choice::{ClientTransport, ServerTransports, UCX_BUILT};
pub use wire::{Attr, DirEntry, FileId, FileKind};
