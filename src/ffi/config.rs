//! `benchfs_config`, the plain struct a C caller zero-initialises and fills, and its checked
//! translation into the client options and the `--benchfs.*` settings that benchfs-bench
//! uses (so a value means the same, and is refused with the same words, in both).
//!
//! Owns the meaning of every field and of zero ("the default"). It starts nothing.

use super::boundary::{opt_c_str, status_call, CallError};
use crate::backend::benchfs::BenchfsOptions;
use crate::fs::transport::routed::is_server_address;
use crate::fs::ClientOptions;
use base64::Engine;
use std::collections::BTreeMap;
use std::ffi::c_char;
use std::time::Duration;

/// Settings of `benchfs_init` and of the cluster functions.
/// Zero-initialise it (`benchfs_config cfg = {0};`), then set what you need: every zero or
/// NULL field means its default. Strings are copied during the call.
#[repr(C)]
#[derive(Debug)]
pub struct benchfs_config {
    /// Registry directory of a running cluster (`benchfs-server --registry DIR`). NULL or ""
    /// (and no `server_list`): `benchfs_init` starts an embedded cluster of `servers`
    /// servers inside the calling process, removed by `benchfs_finalize`.
    pub registry: *const c_char,
    /// Comma-separated addresses of the servers, in placement order, as
    /// `benchfs_cluster_servers` gives them (`host:port`, or `ucx/...` for a cluster started
    /// with the UCX transport): join these servers without a registry. Needs `secret`;
    /// ignored when `registry` is set.
    pub server_list: *const c_char,
    /// The cluster secret for `server_list`, as `benchfs_cluster_secret` gives it (base64).
    pub secret: *const c_char,
    /// Chunk size of files created through this context (a power of two, 64 KiB..64 MiB);
    /// 0: the cluster's default.
    pub chunk_size: u32,
    /// Milliseconds before a call to a server that does not answer fails with `ETIMEDOUT`;
    /// 0: 30000.
    pub timeout_ms: u32,
    /// Transport to the servers: NULL, "" or "tcp"; "ucx" (builds with UCX); "local"
    /// (in-process calls, for servers in this process: the embedded cluster); "auto" (per
    /// server: local when it runs in this process, else UCX when offered, else TCP).
    pub transport: *const c_char,
    /// Servers of an embedded cluster; 0: 4.
    pub servers: u32,
    /// Directory under which embedded and job clusters keep their data (in a new directory
    /// removed when they stop); NULL: `$TMPDIR` or /tmp.
    pub data_dir: *const c_char,
    /// Chunk files each embedded or job server keeps preallocated; 0: the default (64);
    /// negative: none.
    pub spare_chunks: i32,
    /// Worker threads of the context's runtime. 0: none; each call does its network I/O on
    /// the calling thread (lowest latency for one thread per context). N > 0: N threads
    /// serve the context's connections (better when many threads share one context).
    pub threads: u32,
    /// Job clusters: servers started on each node (by its first ranks); 0: 1.
    pub servers_per_node: u32,
    /// Job clusters: address the servers listen on and advertise; NULL: 127.0.0.1 when every
    /// rank runs on one host, the host name otherwise.
    pub listen_host: *const c_char,
}

impl Default for benchfs_config {
    /// Every field zero or NULL: every default.
    fn default() -> Self {
        benchfs_config {
            registry: std::ptr::null(),
            server_list: std::ptr::null(),
            secret: std::ptr::null(),
            chunk_size: 0,
            timeout_ms: 0,
            transport: std::ptr::null(),
            servers: 0,
            data_dir: std::ptr::null(),
            spare_chunks: 0,
            threads: 0,
            servers_per_node: 0,
            listen_host: std::ptr::null(),
        }
    }
}

/// A checked `benchfs_config`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings shared with benchfs-bench's BENCHFS backend.
    pub opts: BenchfsOptions,
    /// Servers and secret given directly (`server_list`, `secret`).
    pub servers: Option<(Vec<String>, Vec<u8>)>,
    /// Call timeout.
    pub timeout: Duration,
    /// Worker threads of a context's runtime.
    pub threads: usize,
}

/// Default call timeout, milliseconds.
pub const BENCHFS_DEFAULT_TIMEOUT_MS: u32 = 30_000;
/// Most worker threads a context may ask for.
pub const BENCHFS_MAX_THREADS: u32 = 256;

impl Config {
    /// Reads and checks `*p` (NULL: every default).
    ///
    /// # Safety
    /// `p` is NULL or points to a `benchfs_config` whose string fields are NULL or
    /// NUL-terminated, valid for the duration of the call.
    pub unsafe fn from_c(p: *const benchfs_config) -> Result<Config, CallError> {
        // SAFETY: `p` is NULL or valid by the caller's contract; a reference lives only here.
        let Some(c) = (unsafe { p.as_ref() }) else {
            return Self::from_values(&BTreeMap::new(), None, 0, 0);
        };
        let mut v = BTreeMap::new();
        let mut put = |k: &str, val: String| {
            v.insert(format!("benchfs.{k}"), val);
        };
        // SAFETY (each opt_c_str): the string fields are NULL or valid C strings, as above.
        unsafe {
            if let Some(r) = opt_c_str(c.registry, "benchfs_config.registry")? {
                put("registry", r.to_string());
            }
            if let Some(t) = opt_c_str(c.transport, "benchfs_config.transport")? {
                put("transport", t.to_string());
            }
            if let Some(d) = opt_c_str(c.data_dir, "benchfs_config.data_dir")? {
                put("data-dir", d.to_string());
            }
            if let Some(h) = opt_c_str(c.listen_host, "benchfs_config.listen_host")? {
                put("listen-host", h.to_string());
            }
        }
        if c.chunk_size != 0 {
            put("chunk-size", c.chunk_size.to_string());
        }
        if c.servers != 0 {
            put("servers", c.servers.to_string());
        }
        if c.servers_per_node != 0 {
            put("servers-per-node", c.servers_per_node.to_string());
        }
        match c.spare_chunks {
            0 => {}
            n if n < 0 => put("spare-chunks", "0".into()),
            n => put("spare-chunks", n.to_string()),
        }
        // SAFETY: as above.
        let list = unsafe { opt_c_str(c.server_list, "benchfs_config.server_list")? };
        // SAFETY: as above.
        let secret = unsafe { opt_c_str(c.secret, "benchfs_config.secret")? };
        let servers = match (list, secret) {
            (None, None) => None,
            (Some(l), Some(s)) => Some((parse_server_list(l)?, decode_secret(s)?)),
            (Some(_), None) => {
                return Err(CallError::invalid(
                    "benchfs_config.server_list needs benchfs_config.secret",
                ))
            }
            (None, Some(_)) => {
                return Err(CallError::invalid(
                    "benchfs_config.secret given without benchfs_config.server_list",
                ))
            }
        };
        Self::from_values(&v, servers, c.timeout_ms, c.threads)
    }

    fn from_values(
        values: &BTreeMap<String, String>,
        servers: Option<(Vec<String>, Vec<u8>)>,
        timeout_ms: u32,
        threads: u32,
    ) -> Result<Config, CallError> {
        let mut values = values.clone();
        let timeout_ms = if timeout_ms == 0 {
            BENCHFS_DEFAULT_TIMEOUT_MS
        } else {
            timeout_ms
        };
        // The backend's option counts whole seconds; the C API takes milliseconds.
        values.insert(
            "benchfs.timeout".into(),
            timeout_ms.div_ceil(1000).to_string(),
        );
        let opts =
            BenchfsOptions::from_values(&values).map_err(|e| CallError::invalid(e.to_string()))?;
        if threads > BENCHFS_MAX_THREADS {
            return Err(CallError::invalid(format!(
                "benchfs_config.threads {threads}: must be 0..{BENCHFS_MAX_THREADS}"
            )));
        }
        Ok(Config {
            opts,
            servers,
            timeout: Duration::from_millis(timeout_ms as u64),
            threads: threads as usize,
        })
    }

    /// Options of the context's client.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            timeout: self.timeout,
            connect_timeout: self.timeout.min(ClientOptions::default().connect_timeout),
            registry_wait: self.timeout,
            chunk_size: self.opts.chunk_size,
            transport: self.opts.transport,
            ..ClientOptions::default()
        }
    }
}

/// Checks `*cfg` as `benchfs_init` would, without connecting or starting anything: 0, or
/// `-EINVAL` with `benchfs_get_error` naming the bad setting (the same words as
/// benchfs-bench's `--benchfs.*` options).
///
/// # Safety
/// `cfg` is NULL or points to a valid `benchfs_config`.
#[no_mangle]
pub unsafe extern "C" fn benchfs_check_config(cfg: *const benchfs_config) -> std::ffi::c_int {
    status_call("benchfs_check_config", || {
        // SAFETY: forwarded contract.
        unsafe { Config::from_c(cfg) }.map(|_| ())
    })
}

/// Splits `a:1,b:2` into addresses (each `host:port`, or a UCX or local address as
/// `benchfs_cluster_servers` lists the servers of a cluster started with that transport).
fn parse_server_list(list: &str) -> Result<Vec<String>, CallError> {
    let addrs: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    if addrs.is_empty() {
        return Err(CallError::invalid("benchfs_config.server_list is empty"));
    }
    if let Some(a) = addrs.iter().find(|a| !is_server_address(a)) {
        return Err(CallError::invalid(format!(
            "benchfs_config.server_list: \"{a}\" is not host:port (nor a ucx/ or local: address)"
        )));
    }
    Ok(addrs)
}

/// The text form of a cluster secret (base64).
pub fn encode_secret(secret: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(secret)
}

fn decode_secret(text: &str) -> Result<Vec<u8>, CallError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| CallError::invalid(format!("benchfs_config.secret is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed() -> benchfs_config {
        benchfs_config::default()
    }

    #[test]
    fn zero_means_defaults() {
        // SAFETY: NULL and a zeroed config are valid inputs.
        let (a, b) = unsafe {
            (
                Config::from_c(std::ptr::null()).unwrap(),
                Config::from_c(&zeroed()).unwrap(),
            )
        };
        for c in [a, b] {
            assert_eq!(c.timeout, Duration::from_millis(30_000));
            assert_eq!(c.opts.servers, 4);
            assert_eq!(c.opts.registry, None);
            assert_eq!(c.opts.chunk_size, None);
            assert_eq!(c.threads, 0);
            assert!(c.servers.is_none());
        }
    }

    #[test]
    fn values_are_checked_like_benchfs_bench_options() {
        let mut c = zeroed();
        c.chunk_size = 3 << 20;
        // SAFETY: a valid config.
        let e = unsafe { Config::from_c(&c) }.unwrap_err();
        assert_eq!(e.errno, libc::EINVAL);
        assert!(e.message.contains("benchfs.chunk-size"), "{}", e.message);
        c.chunk_size = 1 << 20;
        c.transport = c"pigeon".as_ptr();
        // SAFETY: as above.
        let e = unsafe { Config::from_c(&c) }.unwrap_err();
        assert!(e.message.contains("pigeon"), "{}", e.message);
        c.transport = c"local".as_ptr();
        // SAFETY: as above.
        let local = unsafe { Config::from_c(&c) }.unwrap();
        assert_eq!(local.opts.transport, crate::fs::ClientTransport::Local);
        c.transport = c"tcp".as_ptr();
        c.spare_chunks = -1;
        c.timeout_ms = 250;
        // SAFETY: as above.
        let ok = unsafe { Config::from_c(&c) }.unwrap();
        assert_eq!(ok.opts.spare_chunks, 0);
        assert_eq!(ok.opts.chunk_size, Some(1 << 20));
        assert_eq!(ok.client_options().timeout, Duration::from_millis(250));
    }

    #[test]
    fn server_lists_need_a_secret() {
        let mut c = zeroed();
        c.server_list = c"127.0.0.1:4000,127.0.0.1:4001".as_ptr();
        // SAFETY: a valid config.
        assert!(unsafe { Config::from_c(&c) }.is_err());
        let secret = std::ffi::CString::new(encode_secret(&[7; 32])).unwrap();
        c.secret = secret.as_ptr();
        // SAFETY: as above.
        let ok = unsafe { Config::from_c(&c) }.unwrap();
        let (addrs, s) = ok.servers.unwrap();
        assert_eq!(addrs.len(), 2);
        assert_eq!(s, vec![7; 32]);
        c.server_list = c"nohost".as_ptr();
        // SAFETY: as above.
        assert!(unsafe { Config::from_c(&c) }.is_err());
        // The UCX addresses a UCX cluster lists are taken as they are.
        c.server_list = c"ucx/127.0.0.1-pid1-ab/5543,ucx/127.0.0.1-pid1-ab/6654".as_ptr();
        // SAFETY: as above.
        let ok = unsafe { Config::from_c(&c) }.unwrap();
        assert_eq!(ok.servers.unwrap().0[1], "ucx/127.0.0.1-pid1-ab/6654");
    }
}
