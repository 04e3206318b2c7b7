//! libbenchfs, the C API of BenchFS (`libbenchfs.so`, `libbenchfs.a`; header
//! `ior-compat/include/benchfs.h`, generated from this module by cbindgen; pkg-config name
//! `benchfs`). It lets C programs, above all real IOR and mdtest through
//! `ior-compat/aiori-BENCHFS.c`, use the same clusters benchfs-bench uses.
//!
//! Layout: [`boundary`] (panics, errno, the thread-local error message, argument checks),
//! [`handles`] (opaque handles as numbers in tables), [`config`] (`benchfs_config`),
//! [`context`] (`benchfs_init`/`benchfs_finalize` and context-wide calls), [`file`] (open
//! files), [`io_buffer`] (buffers the transports move data without staging copies),
//! [`namespace`] (calls on paths), [`cluster`] (embedded and MPI-job servers inside the
//! calling process), [`guardian`] (the process that removes their data if the host is
//! killed). This layer sits at the top beside the harness: it uses the file
//! system's client API and the harness's in-job server start-up; nothing in the crate uses
//! it.
//!
//! # Soundness rules
//! - Every call returns a value or `-errno` (NULL for the functions returning handles, with
//!   `errno` set); errno values come from the type of the file system's error, never from
//!   its text. `benchfs_get_error` gives the message: function, path, errno text, server.
//! - No panic crosses into C (each body runs under `catch_unwind`; a panic is `-EIO`).
//! - Handles are numbers, never dereferenced: NULL is `EINVAL`; a closed, finalized or
//!   foreign handle is `EBADF` with a message saying which.
//! - Each context owns its tokio runtime and its client. A call blocks the calling thread on
//!   a future that borrows the caller's memory, inside the call: when the call returns, the
//!   future is finished and dropped, so nothing borrowed outlives it. No lifetime is ever
//!   extended (no `'static` laundering, no `transmute`). Written data is copied into the
//!   request; read data is received into the transport's own buffer and copied into the
//!   caller's inside the call, so a timed-out read leaves nothing writing into the buffer.
//!
//! # Thread rules
//! Any thread may call any function. A context may be shared by threads, and so may a file
//! (pread/pwrite semantics); with `benchfs_config.threads` 0 (the default) each call does its
//! network I/O on the calling thread, which suits one thread per context best. Finalize a
//! context once, when its threads are done with it: a call racing with it either completes
//! or fails with `EBADF`. The error message is per thread.

#![allow(non_camel_case_types)]

pub(crate) mod boundary;
pub mod cluster;
pub mod config;
pub mod context;
pub mod file;
pub(crate) mod guardian;
pub(crate) mod handles;
pub mod io_buffer;
pub mod namespace;
