//! Why an IOR run stopped: the engine's error type, shared by every engine module (phases,
//! transfer loops, detail files) and read by the process driver for the exit status.
//!
//! A leaf of the engine: it names the failures, it never decides what to do about them.

use crate::backend::BackendError;
use crate::comm::CommError;
use thiserror::Error;

/// Why a run stopped.
#[derive(Debug, Error)]
pub enum EngineError {
    /// A backend call failed.
    #[error("{op} failed: {source}")]
    Backend {
        /// The engine step (`create`, `write`, ...).
        op: &'static str,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// Another rank failed (or a collective could not complete).
    #[error(transparent)]
    Comm(#[from] CommError),
    /// A fatal condition in IOR's wording (printed as `ERROR: <msg>`).
    #[error("{0}")]
    Fatal(String),
    /// Writing the result stream or a result file failed.
    #[error("cannot write results: {0}")]
    Output(#[from] std::io::Error),
}

impl EngineError {
    /// Wraps a backend error of engine step `op`.
    pub fn backend(op: &'static str, source: BackendError) -> Self {
        EngineError::Backend { op, source }
    }
}
