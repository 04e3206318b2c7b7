//! Typed errors of BenchFS and their one-to-one mapping to errno values.
//!
//! Owns [`FsError`] and [`FsResult`]. Every error that crosses the wire travels as its errno
//! plus a message, and is rebuilt on the other side with [`FsError::from_errno`]; no error is
//! ever recognised by matching message text. Must not touch anything outside error values.

use thiserror::Error;

/// An error of a BenchFS call. Each variant maps to exactly one errno ([`FsError::errno`]).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FsError {
    /// `ENOENT`: the path (or a parent directory) does not exist.
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// `EEXIST`: the path exists (exclusive create, mkdir of an existing entry).
    #[error("file exists: {0}")]
    AlreadyExists(String),
    /// `EISDIR`: a directory where a file was required.
    #[error("is a directory: {0}")]
    IsDir(String),
    /// `ENOTDIR`: a file where a directory was required.
    #[error("not a directory: {0}")]
    NotDir(String),
    /// `ENOTEMPTY`: rmdir (or rename onto) a non-empty directory.
    #[error("directory not empty: {0}")]
    NotEmpty(String),
    /// `EINVAL`: an invalid argument (bad path, bad flags, bad chunk size, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `ENAMETOOLONG`: a path or path component that is too long.
    #[error("name too long: {0}")]
    NameTooLong(String),
    /// `EBADF`: a handle used for an access it was not opened for, or already closed.
    #[error("bad file handle: {0}")]
    BadHandle(String),
    /// `EIO`: an input/output error on a server or on a connection.
    #[error("input/output error: {0}")]
    Io(String),
    /// `ETIMEDOUT`: a call did not complete within its timeout.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// `ECONNREFUSED`: a server could not be reached.
    #[error("connection refused: {0}")]
    ConnectionRefused(String),
    /// `ECONNRESET`: a server closed the connection while calls were in flight.
    #[error("connection reset: {0}")]
    ConnectionReset(String),
    /// `EACCES`: the cluster secret was wrong or missing.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// `EPROTO`: a malformed or unexpected frame.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// `EMSGSIZE`: a frame whose length exceeds the protocol bounds.
    #[error("message too long: {0}")]
    MessageTooLong(String),
    /// `EFBIG`: an offset or size beyond what a file may hold.
    #[error("file too large: {0}")]
    FileTooLarge(String),
    /// `ENOSPC`: a server is out of space.
    #[error("no space left on device: {0}")]
    NoSpace(String),
    /// `EXDEV`: an operation that cannot be done across the devices involved.
    #[error("operation not supported across servers: {0}")]
    CrossDevice(String),
    /// `EBUSY`: the resource is busy (renaming the root, a server shutting down).
    #[error("resource busy: {0}")]
    Busy(String),
    /// `ENOMEM`: memory for a buffer could not be had.
    #[error("cannot allocate memory: {0}")]
    OutOfMemory(String),
}

/// Result of a BenchFS call.
pub type FsResult<T> = Result<T, FsError>;

impl FsError {
    /// The errno this error stands for (positive, as in `errno.h`).
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound(_) => libc::ENOENT,
            FsError::AlreadyExists(_) => libc::EEXIST,
            FsError::IsDir(_) => libc::EISDIR,
            FsError::NotDir(_) => libc::ENOTDIR,
            FsError::NotEmpty(_) => libc::ENOTEMPTY,
            FsError::InvalidArgument(_) => libc::EINVAL,
            FsError::NameTooLong(_) => libc::ENAMETOOLONG,
            FsError::BadHandle(_) => libc::EBADF,
            FsError::Io(_) => libc::EIO,
            FsError::TimedOut(_) => libc::ETIMEDOUT,
            FsError::ConnectionRefused(_) => libc::ECONNREFUSED,
            FsError::ConnectionReset(_) => libc::ECONNRESET,
            FsError::PermissionDenied(_) => libc::EACCES,
            FsError::Protocol(_) => libc::EPROTO,
            FsError::MessageTooLong(_) => libc::EMSGSIZE,
            FsError::FileTooLarge(_) => libc::EFBIG,
            FsError::NoSpace(_) => libc::ENOSPC,
            FsError::CrossDevice(_) => libc::EXDEV,
            FsError::Busy(_) => libc::EBUSY,
            FsError::OutOfMemory(_) => libc::ENOMEM,
        }
    }

    /// The message carried by the error (without the errno description).
    pub fn message(&self) -> &str {
        match self {
            FsError::NotFound(m)
            | FsError::AlreadyExists(m)
            | FsError::IsDir(m)
            | FsError::NotDir(m)
            | FsError::NotEmpty(m)
            | FsError::InvalidArgument(m)
            | FsError::NameTooLong(m)
            | FsError::BadHandle(m)
            | FsError::Io(m)
            | FsError::TimedOut(m)
            | FsError::ConnectionRefused(m)
            | FsError::ConnectionReset(m)
            | FsError::PermissionDenied(m)
            | FsError::Protocol(m)
            | FsError::MessageTooLong(m)
            | FsError::FileTooLarge(m)
            | FsError::NoSpace(m)
            | FsError::CrossDevice(m)
            | FsError::Busy(m)
            | FsError::OutOfMemory(m) => m,
        }
    }

    /// Rebuilds an error from its errno and message (the inverse of [`FsError::errno`]);
    /// an errno with no variant of its own becomes [`FsError::Io`].
    pub fn from_errno(errno: i32, message: impl Into<String>) -> Self {
        let m = message.into();
        match errno {
            libc::ENOENT => FsError::NotFound(m),
            libc::EEXIST => FsError::AlreadyExists(m),
            libc::EISDIR => FsError::IsDir(m),
            libc::ENOTDIR => FsError::NotDir(m),
            libc::ENOTEMPTY => FsError::NotEmpty(m),
            libc::EINVAL => FsError::InvalidArgument(m),
            libc::ENAMETOOLONG => FsError::NameTooLong(m),
            libc::EBADF => FsError::BadHandle(m),
            libc::EIO => FsError::Io(m),
            libc::ETIMEDOUT => FsError::TimedOut(m),
            libc::ECONNREFUSED => FsError::ConnectionRefused(m),
            libc::ECONNRESET => FsError::ConnectionReset(m),
            libc::EACCES => FsError::PermissionDenied(m),
            libc::EPROTO => FsError::Protocol(m),
            libc::EMSGSIZE => FsError::MessageTooLong(m),
            libc::EFBIG => FsError::FileTooLarge(m),
            libc::ENOSPC => FsError::NoSpace(m),
            libc::EXDEV => FsError::CrossDevice(m),
            libc::EBUSY => FsError::Busy(m),
            libc::ENOMEM => FsError::OutOfMemory(m),
            _ => FsError::Io(format!("errno {errno}: {m}")),
        }
    }

    /// The same error with `ctx` (what was being done, or who did it) before its message.
    pub fn context(self, ctx: impl std::fmt::Display) -> Self {
        let m = format!("{ctx}: {}", self.message());
        match self {
            // Its errno is not its own: keep the message's record of it.
            FsError::Io(_) => FsError::Io(m),
            e => FsError::from_errno(e.errno(), m),
        }
    }

    /// Maps an operating-system error (from a server's own file I/O) to an [`FsError`],
    /// keeping its errno where a variant exists for it.
    pub fn from_io(context: &str, e: &std::io::Error) -> Self {
        // A peer gone while we wrote to it (EPIPE, ECONNABORTED) is a reset connection, as
        // the peer's RST would have been: callers and the C API see ECONNRESET either way.
        if matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionAborted
        ) {
            return FsError::ConnectionReset(format!("{context}: {e}"));
        }
        match e.raw_os_error() {
            Some(code) => FsError::from_errno(code, format!("{context}: {e}")),
            None => match e.kind() {
                std::io::ErrorKind::NotFound => FsError::NotFound(format!("{context}: {e}")),
                std::io::ErrorKind::TimedOut => FsError::TimedOut(format!("{context}: {e}")),
                std::io::ErrorKind::ConnectionRefused => {
                    FsError::ConnectionRefused(format!("{context}: {e}"))
                }
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => {
                    FsError::ConnectionReset(format!("{context}: {e}"))
                }
                _ => FsError::Io(format!("{context}: {e}")),
            },
        }
    }
}

impl From<FsError> for std::io::Error {
    fn from(e: FsError) -> Self {
        std::io::Error::new(std::io::Error::from_raw_os_error(e.errno()).kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gone_during_a_write_is_a_reset_connection() {
        for code in [libc::EPIPE, libc::ECONNABORTED, libc::ECONNRESET] {
            let e = FsError::from_io("write", &std::io::Error::from_raw_os_error(code));
            assert_eq!(e.errno(), libc::ECONNRESET, "{code}: {e}");
        }
        let e = FsError::from_io("write", &std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.errno(), libc::ENOSPC);
    }

    fn all() -> Vec<FsError> {
        let m = || "x".to_string();
        vec![
            FsError::NotFound(m()),
            FsError::AlreadyExists(m()),
            FsError::IsDir(m()),
            FsError::NotDir(m()),
            FsError::NotEmpty(m()),
            FsError::InvalidArgument(m()),
            FsError::NameTooLong(m()),
            FsError::BadHandle(m()),
            FsError::Io(m()),
            FsError::TimedOut(m()),
            FsError::ConnectionRefused(m()),
            FsError::ConnectionReset(m()),
            FsError::PermissionDenied(m()),
            FsError::Protocol(m()),
            FsError::MessageTooLong(m()),
            FsError::FileTooLarge(m()),
            FsError::NoSpace(m()),
            FsError::CrossDevice(m()),
            FsError::Busy(m()),
        ]
    }

    #[test]
    fn errno_round_trip_is_one_to_one() {
        let errs = all();
        let mut seen = std::collections::HashSet::new();
        for e in &errs {
            assert!(seen.insert(e.errno()), "duplicate errno for {e:?}");
            assert_eq!(&FsError::from_errno(e.errno(), "x"), e);
        }
        assert_eq!(FsError::NotFound("a".into()).errno(), libc::ENOENT);
        assert_eq!(FsError::NotEmpty("a".into()).errno(), libc::ENOTEMPTY);
    }

    #[test]
    fn unknown_errno_becomes_eio_and_io_errors_keep_errno() {
        assert_eq!(FsError::from_errno(9999, "m").errno(), libc::EIO);
        let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(FsError::from_io("write", &e).errno(), libc::ENOSPC);
        let io: std::io::Error = FsError::NotDir("d".into()).into();
        assert_eq!(io.kind(), std::io::ErrorKind::NotADirectory);
    }
}
