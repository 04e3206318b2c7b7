//! Typed errors of the UCX wrapper: [`Status`] (a UCX status code) and [`UcxError`], and their
//! mapping to [`FsError`] by kind ([`UcxError::to_fs_error`], never by message text).
//!
//! Owns the error values only; must not call into UCX beyond `ucs_status_string`.

use crate::fs::error::FsError;
use thiserror::Error;
use ucx_sys as sys;

/// A UCX status code (`ucs_status_t`), as returned by a UCX call or a completed request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Status(pub(crate) sys::ucs_status_t);

impl Status {
    /// The raw `ucs_status_t` value (0 is `UCS_OK`, negative values are errors).
    pub fn code(self) -> i8 {
        self.0
    }

    /// True for `UCS_OK`.
    pub fn is_ok(self) -> bool {
        self.0 == sys::UCS_OK
    }

    /// UCX's own description of the status.
    pub fn describe(self) -> String {
        // SAFETY: `ucs_status_string` returns a pointer to a static NUL-terminated string for
        // every value (an "unknown" text for values it does not know).
        let s = unsafe { std::ffi::CStr::from_ptr(sys::ucs_status_string(self.0)) };
        s.to_string_lossy().into_owned()
    }

    /// Converts a status into `Ok(())` or an error of operation `op`.
    pub(crate) fn check(self, op: &'static str) -> Result<(), UcxError> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(UcxError::Call { op, status: self })
        }
    }

    /// True if the status says that the peer or the connection to it is gone.
    pub fn is_peer_failure(self) -> bool {
        let c = self.0;
        c == sys::UCS_ERR_CONNECTION_RESET
            || c == sys::UCS_ERR_ENDPOINT_TIMEOUT
            || c == sys::UCS_ERR_NOT_CONNECTED
            || c == sys::UCS_ERR_CANCELED
            || (sys::UCS_ERR_LAST_ENDPOINT_FAILURE..=sys::UCS_ERR_FIRST_ENDPOINT_FAILURE)
                .contains(&c)
            || (sys::UCS_ERR_LAST_LINK_FAILURE..=sys::UCS_ERR_FIRST_LINK_FAILURE).contains(&c)
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Status({}: {})", self.0, self.describe())
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (UCX status {})", self.describe(), self.0)
    }
}

/// An error of the UCX wrapper.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum UcxError {
    /// A UCX call failed, or a request completed with an error status.
    #[error("UCX {op}: {status}")]
    Call {
        /// The UCX call or request kind.
        op: &'static str,
        /// The status it returned.
        status: Status,
    },
    /// The endpoint to `peer` failed (the peer died, reset or refused the connection).
    #[error("UCX endpoint to {peer} failed: {status}")]
    EndpointFailed {
        /// The peer's label (socket address or worker id).
        peer: String,
        /// The error UCX reported on the endpoint.
        status: Status,
    },
    /// The endpoint to `peer` was closed by this side.
    #[error("UCX endpoint to {peer} is closed")]
    Closed {
        /// The peer's label.
        peer: String,
    },
    /// A payload does not fit the buffer offered to receive it.
    #[error("UCX payload of {len} bytes does not fit a receive buffer of {capacity} bytes")]
    BufferTooSmall {
        /// The payload's length.
        len: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// An active-message header longer than the worker accepts.
    #[error("UCX active-message header of {len} bytes exceeds the worker's maximum of {max}")]
    HeaderTooLong {
        /// The header's length.
        len: usize,
        /// The worker's maximum.
        max: usize,
    },
    /// An active-message handler registered after an endpoint or listener was created
    /// (libucp 1.13 can crash when handlers change under live endpoints).
    #[error("UCX active-message handler {id} registered after endpoints or listeners exist")]
    HandlerAfterEndpoint {
        /// The active-message id.
        id: u16,
    },
    /// An active-message id registered twice on one worker.
    #[error("UCX active-message id {id} is already registered on this worker")]
    DuplicateHandler {
        /// The active-message id.
        id: u16,
    },
    /// A packed worker address that is truncated, corrupted or of another format.
    #[error("invalid UCX worker address: {0}")]
    BadAddress(String),
    /// A socket address UCX cannot use.
    #[error("invalid socket address for UCX: {0}")]
    BadSocketAddress(String),
    /// A UCX configuration setting that UCX refuses.
    #[error("invalid UCX setting: {0}")]
    BadSetting(String),
    /// The thread that owns a worker has stopped.
    #[error("UCX worker thread {0} has stopped")]
    WorkerGone(String),
    /// An operating-system call made for UCX failed (event fd, memory stream).
    #[error("UCX {op}: {message}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        message: String,
    },
}

impl UcxError {
    pub(crate) fn os(op: &'static str, e: &std::io::Error) -> Self {
        UcxError::Os {
            op,
            message: e.to_string(),
        }
    }

    /// The UCX status carried by the error, if any.
    pub fn status(&self) -> Option<Status> {
        match self {
            UcxError::Call { status, .. } | UcxError::EndpointFailed { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The file system error this stands for, by kind: a failed or closed endpoint is
    /// `ECONNRESET` (`ECONNREFUSED` if the peer could not be reached), a payload or header
    /// too long `EMSGSIZE`, a bad address `EINVAL`; the message is kept.
    pub fn to_fs_error(&self) -> FsError {
        let m = self.to_string();
        match self {
            UcxError::EndpointFailed { status, .. } if is_refusal(*status) => {
                FsError::ConnectionRefused(m)
            }
            UcxError::EndpointFailed { .. } | UcxError::Closed { .. } => {
                FsError::ConnectionReset(m)
            }
            UcxError::Call { status, .. } => match status.0 {
                s if s == sys::UCS_ERR_TIMED_OUT => FsError::TimedOut(m),
                s if s == sys::UCS_ERR_MESSAGE_TRUNCATED || s == sys::UCS_ERR_EXCEEDS_LIMIT => {
                    FsError::MessageTooLong(m)
                }
                s if s == sys::UCS_ERR_INVALID_PARAM || s == sys::UCS_ERR_INVALID_ADDR => {
                    FsError::InvalidArgument(m)
                }
                s if s == sys::UCS_ERR_NO_MEMORY || s == sys::UCS_ERR_NO_RESOURCE => {
                    FsError::NoSpace(m)
                }
                s if s == sys::UCS_ERR_BUSY => FsError::Busy(m),
                _ if is_refusal(*status) => FsError::ConnectionRefused(m),
                _ if status.is_peer_failure() => FsError::ConnectionReset(m),
                _ => FsError::Io(m),
            },
            UcxError::BufferTooSmall { .. } | UcxError::HeaderTooLong { .. } => {
                FsError::MessageTooLong(m)
            }
            UcxError::BadAddress(_) | UcxError::BadSocketAddress(_) | UcxError::BadSetting(_) => {
                FsError::InvalidArgument(m)
            }
            UcxError::WorkerGone(_) => FsError::ConnectionReset(m),
            UcxError::HandlerAfterEndpoint { .. }
            | UcxError::DuplicateHandler { .. }
            | UcxError::Os { .. } => FsError::Io(m),
        }
    }
}

/// A status that means the peer could not be reached: UCX 1.13 reports a refused TCP
/// connection as "not connected", a rejected connection request as "rejected".
fn is_refusal(status: Status) -> bool {
    let c = status.0;
    c == sys::UCS_ERR_UNREACHABLE || c == sys::UCS_ERR_REJECTED || c == sys::UCS_ERR_NOT_CONNECTED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_describe_themselves() {
        let s = Status(sys::UCS_ERR_CONNECTION_RESET);
        assert!(s.is_peer_failure());
        assert!(!s.is_ok());
        assert!(
            s.describe().to_lowercase().contains("reset"),
            "{}",
            s.describe()
        );
        assert!(Status(sys::UCS_OK).check("x").is_ok());
        assert!(!Status(sys::UCS_ERR_NO_MEMORY).is_peer_failure());
    }

    #[test]
    fn errors_map_to_errno_by_kind() {
        let failed = |c| UcxError::EndpointFailed {
            peer: "127.0.0.1:1".into(),
            status: Status(c),
        };
        let errno = |e: UcxError| e.to_fs_error().errno();
        assert_eq!(errno(failed(sys::UCS_ERR_UNREACHABLE)), libc::ECONNREFUSED);
        assert_eq!(
            errno(failed(sys::UCS_ERR_CONNECTION_RESET)),
            libc::ECONNRESET
        );
        assert_eq!(
            errno(UcxError::Closed { peer: "p".into() }),
            libc::ECONNRESET
        );
        let call = |c| UcxError::Call {
            op: "x",
            status: Status(c),
        };
        assert_eq!(errno(call(sys::UCS_ERR_TIMED_OUT)), libc::ETIMEDOUT);
        assert_eq!(errno(call(sys::UCS_ERR_MESSAGE_TRUNCATED)), libc::EMSGSIZE);
        assert_eq!(errno(call(sys::UCS_ERR_ENDPOINT_TIMEOUT)), libc::ECONNRESET);
        assert_eq!(errno(call(sys::UCS_ERR_IO_ERROR)), libc::EIO);
        let small = UcxError::BufferTooSmall {
            len: 2,
            capacity: 1,
        };
        assert_eq!(errno(small), libc::EMSGSIZE);
        assert_eq!(errno(UcxError::BadAddress("x".into())), libc::EINVAL);
        // The message names the peer.
        let m = failed(sys::UCS_ERR_CONNECTION_RESET)
            .to_fs_error()
            .to_string();
        assert!(m.contains("127.0.0.1:1"), "{m}");
    }
}
