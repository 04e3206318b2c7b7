//! The BenchFS client: the async API the benchmark harness (and the C API) calls.
//!
//! Owns [`Client`] (cheap to clone, `Send + Sync`; one multiplexed connection per server,
//! opened lazily and re-opened after a failure), [`OpenFlags`] and [`FileHandle`].
//!
//! Semantics: close-to-open consistency (a file's size is published to its metadata server
//! on close and fsync; a later open sees it), writes at explicit offsets go straight to the
//! chunk servers (so concurrent writers of disjoint ranges of one file each get exactly
//! their bytes), holes read as zeros, reads stop at the size known to the handle. Directory
//! entries live on the server owning the entry's path; readdir and the emptiness check of
//! rmdir ask every server. Every call has a timeout. Must not hold any server state.
//!
//! Limits: calls that touch several servers are not atomic (a create racing an rmdir of
//! its parent can leave an orphan entry; rename inserts the new name before removing the
//! old one, and a directory's entries one by one); unlink and truncate drop
//! the chunks below the file's published size (and what the truncating handle wrote), so
//! chunks written by a handle that never closes, or after its file was unlinked, are
//! orphans. `write_at` copies the caller's slice once; `write_at_bytes` does not.
//!
//! The parts, by job: [`options`] (what a client is asked to do), `connections` (the
//! connection table, reconnecting, one call), `fanout` (one request to many servers),
//! `namespace` (path operations), `handle` (file data) and `pieces` (cutting I/O at chunk
//! boundaries). This module only re-exports them; none of them imports server code.

mod connections;
mod fanout;
mod handle;
mod namespace;
pub(crate) mod options;
mod pieces;

pub use connections::Client;
pub use handle::FileHandle;
pub use namespace::FsStat;
pub use options::{ClientOptions, OpenFlags, Tuning};
