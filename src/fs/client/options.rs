//! What a client is asked to do: [`ClientOptions`] (timeouts, the chunk size of new files,
//! and the benchmark-only [`Tuning`]) and [`OpenFlags`].
//!
//! Owns these plain settings and their defaults; checks nothing itself (the chunk size is
//! checked where it is used, with the one chunk-size rule). No I/O.

use crate::fs::transport::choice::ClientTransport;
use crate::fs::transport::low_water::LOW_WATER_MAX;
use std::time::Duration;

/// Default largest piece of one write request (see [`Tuning::write_piece`]).
pub const DEFAULT_WRITE_PIECE: u32 = 512 << 10;
/// Default largest piece of one read request (see [`Tuning::read_piece`]).
pub const DEFAULT_READ_PIECE: u32 = 4 << 20;

/// Knobs only benchmarks turn (`examples/fs_bench.rs` measures them): how requests are cut
/// into pieces and how the client's sockets wake. The defaults are the measured best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Largest piece of one write request: larger writes are split into pieces sent
    /// concurrently, so that the server's storing of one piece overlaps the transfer of the
    /// next (at least 4 KiB). The default is the best fs_bench measured with the servers'
    /// splice receive.
    pub write_piece: u32,
    /// Largest piece of one read request (at least 4 KiB). Servers send large reads from
    /// the page cache with `sendfile`, so there is nothing to overlap: the default (4 MiB)
    /// leaves reads split only at chunk boundaries.
    pub read_piece: u32,
    /// Highest receive low-water mark (`SO_RCVLOWAT`) of the TCP connections: while a long
    /// reply payload arrives, the client sleeps until this much of it is there instead of
    /// waking at every packet (see [`crate::fs::transport::low_water`]); 0 or 1 turns it
    /// off.
    pub recv_low_water: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            write_piece: DEFAULT_WRITE_PIECE,
            read_piece: DEFAULT_READ_PIECE,
            recv_low_water: LOW_WATER_MAX,
        }
    }
}

/// Tunables of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Timeout of every call (a server that does not answer within it gives ETIMEDOUT).
    pub timeout: Duration,
    /// Timeout of connecting and authenticating to one server.
    pub connect_timeout: Duration,
    /// How long [`super::Client::connect`] waits for the registry to list every server.
    pub registry_wait: Duration,
    /// Chunk size of files this client creates (default: the cluster's).
    pub chunk_size: Option<u32>,
    /// Request pieces and socket wake-ups, for benchmarks.
    pub tuning: Tuning,
    /// The transport to the servers of a registry (addresses given directly name their
    /// transport themselves: `ucx/...` is UCX).
    pub transport: ClientTransport,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            registry_wait: Duration::from_secs(30),
            chunk_size: None,
            tuning: Tuning::default(),
            transport: ClientTransport::Tcp,
        }
    }
}

/// How to open a file (`O_RDONLY`, `O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_EXCL`,
/// `O_APPEND`), plus the mode and chunk size of a file it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create the file if it does not exist.
    pub create: bool,
    /// Truncate an existing file to 0 (needs `write`).
    pub truncate: bool,
    /// With `create`: fail with EEXIST if the file exists.
    pub exclusive: bool,
    /// Cursor writes go to the end of the file.
    pub append: bool,
    /// Permission bits of a created file.
    pub mode: u32,
    /// Chunk size of a created file (default: the client's).
    pub chunk_size: Option<u32>,
}

impl Default for OpenFlags {
    fn default() -> Self {
        OpenFlags {
            read: true,
            write: false,
            create: false,
            truncate: false,
            exclusive: false,
            append: false,
            mode: 0o644,
            chunk_size: None,
        }
    }
}

impl OpenFlags {
    /// `O_RDONLY`.
    pub fn read_only() -> Self {
        Self::default()
    }
    /// `O_WRONLY`.
    pub fn write_only() -> Self {
        OpenFlags {
            read: false,
            write: true,
            ..Self::default()
        }
    }
    /// `O_RDWR`.
    pub fn read_write() -> Self {
        OpenFlags {
            read: true,
            write: true,
            ..Self::default()
        }
    }
    /// `O_RDWR | O_CREAT | O_TRUNC`, the flags of `creat`.
    pub fn create_truncate() -> Self {
        Self::read_write().create(true).truncate(true)
    }
    /// Sets `create`.
    pub fn create(mut self, v: bool) -> Self {
        self.create = v;
        self
    }
    /// Sets `truncate`.
    pub fn truncate(mut self, v: bool) -> Self {
        self.truncate = v;
        self
    }
    /// Sets `exclusive`.
    pub fn exclusive(mut self, v: bool) -> Self {
        self.exclusive = v;
        self
    }
    /// Sets `append`.
    pub fn append(mut self, v: bool) -> Self {
        self.append = v;
        self
    }
    /// Sets the mode of a created file.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
    /// Sets the chunk size of a created file.
    pub fn chunk_size(mut self, cs: u32) -> Self {
        self.chunk_size = Some(cs);
        self
    }
}
