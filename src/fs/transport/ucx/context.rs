//! The UCP context: one per process (or per configuration), shared by the workers of every
//! thread, built from UCX's environment configuration plus explicit overrides.
//!
//! Owns [`Context`] and [`ContextBuilder`]; must not create workers or endpoints itself.

use super::error::{Status, UcxError};
use std::ffi::CString;
use std::sync::Arc;
use ucx_sys as sys;

/// A UCP context (features: active messages and wake-up), shareable across threads: it is
/// created with `mt_workers_shared`, so that workers on different threads may use it (memory
/// registration takes its lock). Cloning is cheap.
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    handle: sys::ucp_context_h,
}

// SAFETY: the context is created with `mt_workers_shared = 1`: UCX then guards the context's
// shared state (memory registration, worker creation) with its own lock, so the handle may be
// used from any thread. Nothing else is reachable through `ContextInner`.
unsafe impl Send for ContextInner {}
// SAFETY: as for `Send`: every use through a shared reference is a UCX call that takes the
// context lock.
unsafe impl Sync for ContextInner {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: the handle came from `ucp_init`; every worker and registered buffer holds a
        // clone of the `Context`, so none is left when the last reference drops here.
        unsafe { sys::ucp_cleanup(self.handle) };
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Builds a [`Context`]: UCX reads its `UCX_*` environment variables, then the overrides
/// given here (names without the `UCX_` prefix, e.g. `TLS`, `NET_DEVICES`) replace them for
/// this context only.
#[derive(Debug, Default, Clone)]
pub struct ContextBuilder {
    overrides: Vec<(String, String)>,
    estimated_endpoints: Option<usize>,
}

impl ContextBuilder {
    /// A builder with no overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides UCX setting `name` (without the `UCX_` prefix) with `value` for this context.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.overrides.retain(|(n, _)| n != name);
        self.overrides.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `name` to `value` unless the environment already sets `UCX_<name>`.
    pub fn set_default(self, name: &str, value: &str) -> Self {
        if std::env::var_os(format!("UCX_{name}")).is_some() {
            self
        } else {
            self.set(name, value)
        }
    }

    /// Tells UCX how many endpoints to expect (it sizes its tables with it).
    pub fn estimated_endpoints(mut self, n: usize) -> Self {
        self.estimated_endpoints = Some(n);
        self
    }

    /// Reads the configuration, applies the overrides and initialises the context.
    pub fn build(&self) -> Result<Context, UcxError> {
        let mut config: *mut sys::ucp_config_t = std::ptr::null_mut();
        // SAFETY: NULL prefix and file name select the defaults (`UCX_` and no file); the out
        // pointer is a valid local.
        let st = unsafe { sys::ucp_config_read(std::ptr::null(), std::ptr::null(), &mut config) };
        Status(st).check("ucp_config_read")?;
        let result = self.init_with(config);
        // SAFETY: `config` came from `ucp_config_read` and is released exactly once, after
        // `ucp_init` (which copies what it needs).
        unsafe { sys::ucp_config_release(config) };
        result
    }

    fn init_with(&self, config: *mut sys::ucp_config_t) -> Result<Context, UcxError> {
        for (name, value) in &self.overrides {
            let bad = |_| UcxError::BadSetting(format!("{name}={value:?} holds a NUL byte"));
            let n = CString::new(name.as_str()).map_err(bad)?;
            let v = CString::new(value.as_str()).map_err(bad)?;
            // SAFETY: `config` is a live configuration; both strings are NUL-terminated and
            // outlive the call (UCX copies the value).
            let st = unsafe { sys::ucp_config_modify(config, n.as_ptr(), v.as_ptr()) };
            Status(st).check("ucp_config_modify").map_err(|e| match e {
                UcxError::Call { status, .. } => {
                    UcxError::BadSetting(format!("{name}={value}: {status}"))
                }
                other => other,
            })?;
        }
        let mut params = sys::ucp_params_t {
            field_mask: (sys::UCP_PARAM_FIELD_FEATURES | sys::UCP_PARAM_FIELD_MT_WORKERS_SHARED)
                as u64,
            features: (sys::UCP_FEATURE_AM | sys::UCP_FEATURE_WAKEUP) as u64,
            mt_workers_shared: 1,
            ..Default::default()
        };
        if let Some(n) = self.estimated_endpoints {
            params.field_mask |= sys::UCP_PARAM_FIELD_ESTIMATED_NUM_EPS as u64;
            params.estimated_num_eps = n;
        }
        let mut handle: sys::ucp_context_h = std::ptr::null_mut();
        // SAFETY: `params` is fully initialised (zeroed beyond the fields its mask names),
        // `config` is live, and the out pointer is a valid local.
        let st = unsafe { sys::ucp_init(&params, config, &mut handle) };
        Status(st).check("ucp_init")?;
        Ok(Context {
            inner: Arc::new(ContextInner { handle }),
        })
    }
}

impl Context {
    /// A context configured from the environment only.
    pub fn new() -> Result<Context, UcxError> {
        ContextBuilder::new().build()
    }

    pub(crate) fn handle(&self) -> sys::ucp_context_h {
        self.inner.handle
    }

    /// The version of the UCX library in use (e.g. "1.13.1").
    pub fn library_version() -> String {
        // SAFETY: returns a pointer to a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(sys::ucp_get_version_string()) };
        s.to_string_lossy().into_owned()
    }
}
