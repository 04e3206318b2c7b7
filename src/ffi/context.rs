//! `benchfs_context`: one client of one cluster with the tokio runtime its calls run on,
//! and the files opened through it; `benchfs_init`, `benchfs_finalize` and the calls about
//! the context as a whole (errors, version, sync, settle, registry).
//!
//! Owns the runtime and the client of each context, the tables of live contexts and files,
//! and [`Context::run`], the one place a C call waits for a future: on the calling thread,
//! until the future is done, so that the future (and everything it borrows from the caller,
//! such as a read buffer) never outlives the call. It does not translate file operations
//! (that is [`super::file`] and [`super::namespace`]).

use super::boundary::{copy_out, int_call, last_error_ptr, ptr_call, status_call, CallError};
use super::cluster::EmbeddedServers;
use super::config::{benchfs_config, Config};
use super::handles::{of_ptr, to_ptr, Kind, Table};
use crate::fs::{Client, FileHandle, FsError};
use std::collections::HashSet;
use std::ffi::{c_char, c_int};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A context (opaque): one client of one BenchFS cluster.
pub struct benchfs_context {
    _private: [u8; 0],
}

/// An open file (opaque).
pub struct benchfs_file {
    _private: [u8; 0],
}

/// What a `benchfs_context` handle names.
pub struct Context {
    // Dropped in this order: the client's connections, then the runtime that served them,
    // then the embedded servers (if this context started them).
    client: Client,
    runtime: tokio::runtime::Runtime,
    embedded: Mutex<Option<EmbeddedServers>>,
    registry: Option<String>,
    files: Mutex<HashSet<u64>>,
}

/// What a `benchfs_file` handle names.
pub struct OpenFile {
    /// The context it was opened through (kept alive while the file is used).
    pub ctx: Arc<Context>,
    /// The file system's handle.
    pub handle: FileHandle,
    /// Position for `benchfs_lseek`.
    pub pos: Mutex<u64>,
}

/// Live contexts.
pub static CONTEXTS: Table<Context> = Table::new(Kind::Context);
/// Live files.
pub static FILES: Table<OpenFile> = Table::new(Kind::File);

impl Context {
    /// Runs `fut` to completion on the calling thread, inside this context's runtime.
    /// Returning means the future is finished and dropped: nothing it borrowed is used after.
    pub fn run<F: Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(fut)
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The address of the server holding the metadata of `path` (for error messages).
    pub fn meta_server(&self, path: &str) -> Option<String> {
        let mut p = String::with_capacity(path.len());
        for part in path.split('/').filter(|s| !s.is_empty()) {
            p.push('/');
            p.push_str(part);
        }
        if p.is_empty() {
            p.push('/');
        }
        self.client
            .server_addr(self.client.placement().meta_server(&p))
    }

    /// The error of operation on `path` whose metadata server is the one it concerns.
    pub fn fs_error(&self, path: &str, e: FsError) -> CallError {
        CallError::fs(path, self.meta_server(path), e)
    }

    /// Registers a file opened through this context; returns its handle.
    pub fn add_file(self: &Arc<Self>, handle: FileHandle) -> *mut benchfs_file {
        let id = FILES.insert(Arc::new(OpenFile {
            ctx: self.clone(),
            handle,
            pos: Mutex::new(0),
        }));
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        to_ptr(id)
    }

    /// Forgets file handle number `id` (closed).
    pub fn forget_file(&self, id: u64) {
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Closes every file still open, then stops the embedded servers (if any); the first
    /// error, if one failed.
    fn shut_down(&self) -> Result<(), CallError> {
        let ids: Vec<u64> = self
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        let mut first = Ok(());
        for f in FILES.remove_all(ids) {
            match self.run(f.handle.close()) {
                // Closed meanwhile by a benchfs_close racing with this finalize.
                Ok(()) | Err(FsError::BadHandle(_)) => {}
                Err(e) => {
                    if first.is_ok() {
                        first = Err(self.fs_error(f.handle.path(), e));
                    }
                }
            }
        }
        let embedded = self
            .embedded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(s) = embedded {
            let r = s.stop();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// The context behind a C handle.
pub fn context(ctx: *const benchfs_context) -> Result<Arc<Context>, CallError> {
    CONTEXTS.get(of_ptr(ctx))
}

/// The open file behind a C handle.
pub fn file(f: *const benchfs_file) -> Result<Arc<OpenFile>, CallError> {
    FILES.get(of_ptr(f))
}

fn build_runtime(threads: usize) -> Result<tokio::runtime::Runtime, CallError> {
    let mut b = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.thread_name("benchfs-client")
        .enable_all()
        .build()
        .map_err(|e| CallError::new(libc::EIO, format!("cannot start a runtime: {e}")))
}

fn init(cfg: &Config) -> Result<Context, CallError> {
    let runtime = build_runtime(cfg.threads)?;
    let opts = cfg.client_options();
    let (embedded, registry, servers) = match (&cfg.opts.registry, &cfg.servers) {
        (Some(r), _) => (None, Some(r.clone()), None),
        (None, Some(s)) => (None, None, Some(s.clone())),
        (None, None) => {
            let e = EmbeddedServers::start(cfg)?;
            let r = e.registry().to_string();
            (Some(e), Some(r), None)
        }
    };
    let client = match (&registry, servers) {
        (_, Some((addrs, secret))) => {
            let first = addrs.first().cloned();
            runtime
                .block_on(Client::from_servers(addrs, secret, opts))
                .map_err(|e| CallError::fs("/", first, e))?
        }
        (Some(r), None) => runtime
            .block_on(Client::connect_with(r, opts))
            .map_err(|e| CallError::fs(&format!("registry {r}"), None, e))?,
        (None, None) => return Err(CallError::invalid("no cluster to connect to")),
    };
    Ok(Context {
        client,
        runtime,
        embedded: Mutex::new(embedded),
        registry,
        files: Mutex::new(HashSet::new()),
    })
}

/// Connects to a BenchFS cluster: the one whose registry is `cfg->registry`, else the
/// servers of `cfg->server_list`, else a new embedded cluster of `cfg->servers` servers
/// inside this process (stopped and removed by `benchfs_finalize`). `cfg` may be NULL (every
/// default: an embedded cluster). Returns a context, or NULL with `errno` set and
/// `benchfs_get_error` saying why (`ECONNREFUSED`, `ETIMEDOUT`, `EACCES` for a wrong secret,
/// `EINVAL` for a bad setting, ...).
///
/// Thread rules: a context may be used by any number of threads at once, and so may each of
/// its files (reads and writes at explicit offsets do not interfere). One context per
/// thread is just as valid. A context is finalized once, by one thread, when no other
/// thread uses it any more; a call racing with the finalize fails with `EBADF` or completes,
/// and never touches freed memory.
///
/// # Safety
/// `cfg` is NULL or points to a valid `benchfs_config` (string fields NULL or
/// NUL-terminated).
#[no_mangle]
pub unsafe extern "C" fn benchfs_init(cfg: *const benchfs_config) -> *mut benchfs_context {
    ptr_call("benchfs_init", || {
        // SAFETY: forwarded contract.
        let cfg = unsafe { Config::from_c(cfg)? };
        let ctx = init(&cfg)?;
        Ok(to_ptr(CONTEXTS.insert(Arc::new(ctx))))
    })
}

/// Closes every file still open through `ctx` (publishing what was written), disconnects,
/// stops the embedded cluster if `benchfs_init` started one, and frees the context. The
/// handle and its files' handles are invalid afterwards (`EBADF`). Returns 0, or the first
/// error of closing (the context is freed either way).
#[no_mangle]
pub extern "C" fn benchfs_finalize(ctx: *mut benchfs_context) -> c_int {
    status_call("benchfs_finalize", || {
        let c = CONTEXTS.remove(of_ptr(ctx))?;
        c.shut_down()
    })
}

/// The message of the last failed call on the calling thread: the function, the path, the
/// errno's text and the server concerned. The string belongs to the library and stays
/// valid until the next failed call on this thread; "" if none failed yet.
#[no_mangle]
pub extern "C" fn benchfs_get_error() -> *const c_char {
    last_error_ptr()
}

/// The library's version and build ("BenchFS 0.1.0 (commit ...)"); a static string.
#[no_mangle]
pub extern "C" fn benchfs_version() -> *const c_char {
    static VERSION: &str = concat!(
        "BenchFS ",
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("BENCHFS_GIT_COMMIT"),
        ")\0"
    );
    VERSION.as_ptr().cast()
}

/// Flushes the metadata of every server of the cluster to stable storage (`sync`). Returns
/// 0 or a negative errno.
#[no_mangle]
pub extern "C" fn benchfs_sync(ctx: *mut benchfs_context) -> c_int {
    status_call("benchfs_sync", || {
        let c = context(ctx)?;
        c.run(c.client().sync_all())
            .map_err(|e| CallError::fs("/", None, e))
    })
}

/// Waits, at most `seconds`, until every server has its spare chunk files ready, so that
/// timed writes that follow find storage allocated ahead (what benchfs-bench does before
/// each write phase). Call it when no other client writes. Returns 0 or a negative errno.
#[no_mangle]
pub extern "C" fn benchfs_settle(ctx: *mut benchfs_context, seconds: u32) -> c_int {
    status_call("benchfs_settle", || {
        let c = context(ctx)?;
        c.run(c.client().settle(Duration::from_secs(seconds as u64)))
            .map_err(|e| CallError::fs("/", None, e))
    })
}

/// Writes the registry directory of the context's cluster into `buf` (`len` bytes,
/// NUL-terminated, truncated like `snprintf`); returns its full length, `-ENOENT` if the
/// context joined servers by address, or another negative errno.
///
/// # Safety
/// `buf` is valid for `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn benchfs_context_registry(
    ctx: *mut benchfs_context,
    buf: *mut c_char,
    len: usize,
) -> i64 {
    int_call("benchfs_context_registry", || {
        let c = context(ctx)?;
        let Some(r) = &c.registry else {
            return Err(CallError::new(
                libc::ENOENT,
                "this context joined its servers by address, not through a registry",
            ));
        };
        // SAFETY: forwarded contract.
        unsafe { copy_out(r, buf, len) }
    })
}
