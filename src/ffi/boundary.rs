//! The edge between C and Rust: every exported function runs its body through [`int_call`]
//! or [`ptr_call`], which catch panics, turn a [`CallError`] into `-errno` (or NULL) and
//! record the message for `benchfs_get_error`; plus the checked conversions of C arguments
//! (strings, buffers, offsets).
//!
//! Owns the thread-local last-error message and the errno mapping of the C API. Errors of the
//! file system are mapped by their type ([`FsError::errno`]), never by their text. It must not
//! know any BenchFS operation: callers say which operation, path and server a failure concerns.

use crate::fs::FsError;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A failed call: the errno it returns and the message `benchfs_get_error` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// Positive errno (`ENOENT`, `EBADF`, ...).
    pub errno: i32,
    /// Human-readable message (without the function name).
    pub message: String,
}

impl CallError {
    /// An error with an errno and a message.
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        CallError {
            errno,
            message: message.into(),
        }
    }

    /// `EINVAL`: a bad argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(libc::EINVAL, message)
    }

    /// `EBADF`: a handle that is not (or no longer) one of ours.
    pub fn bad_handle(message: impl Into<String>) -> Self {
        Self::new(libc::EBADF, message)
    }

    /// A file-system error of operation on `path`, naming the server it concerns (if known).
    pub fn fs(path: &str, server: Option<String>, e: FsError) -> Self {
        let errno = e.errno();
        let mut message = format!("{path}: {e}");
        if let Some(s) = server {
            message.push_str(&format!(" (server {s})"));
        }
        CallError { errno, message }
    }
}

thread_local! {
    /// Message of the last failed call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `e` as the last error of this thread (for function `op`), sets the C `errno` and
/// returns the positive errno.
fn record(op: &str, e: CallError) -> i32 {
    let text = format!("{op}: {}", e.message).replace('\0', "\\0");
    let c = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
    // SAFETY: `__errno_location` returns the address of this thread's errno, valid for the
    // thread's lifetime; writing an int there is what every libc function does.
    unsafe { *libc::__errno_location() = e.errno };
    e.errno
}

/// The message of the last failed call on this thread, as a pointer into thread-local
/// storage that stays valid until the next failed call on this thread ("" if none failed).
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `body` for C function `op`: its value, or `-errno` after recording the error. A
/// panic becomes `-EIO` ("internal error") and never crosses into C.
pub fn int_call(op: &str, body: impl FnOnce() -> Result<i64, CallError>) -> i64 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => -(record(op, e) as i64),
        Err(p) => {
            let msg = format!("internal error (panic): {}", panic_message(p.as_ref()));
            -(record(op, CallError::new(libc::EIO, msg)) as i64)
        }
    }
}

/// [`int_call`] for functions returning `int`: errno values always fit.
pub fn status_call(op: &str, body: impl FnOnce() -> Result<(), CallError>) -> i32 {
    int_call(op, || body().map(|()| 0)) as i32
}

/// Runs `body` for C function `op` returning a handle: the handle, or NULL after recording
/// the error (and setting `errno`). Panics as in [`int_call`].
pub fn ptr_call<T>(op: &str, body: impl FnOnce() -> Result<*mut T, CallError>) -> *mut T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            record(op, e);
            std::ptr::null_mut()
        }
        Err(p) => {
            let msg = format!("internal error (panic): {}", panic_message(p.as_ref()));
            record(op, CallError::new(libc::EIO, msg));
            std::ptr::null_mut()
        }
    }
}

/// The UTF-8 string behind a C string argument named `what`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged for `'a`
/// (the duration of the C call).
pub unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, CallError> {
    if p.is_null() {
        return Err(CallError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-null, NUL-terminated and valid for 'a by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| CallError::invalid(format!("{what} is not valid UTF-8: {:?}", c)))
}

/// An optional C string: NULL and "" are `None`.
///
/// # Safety
/// As [`c_str`].
pub unsafe fn opt_c_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, CallError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    let s = unsafe { c_str(p, what)? };
    Ok((!s.is_empty()).then_some(s))
}

/// A non-negative file offset.
pub fn offset(off: i64) -> Result<u64, CallError> {
    u64::try_from(off).map_err(|_| CallError::invalid(format!("negative offset {off}")))
}

/// A byte count that fits a Rust slice and a 64-bit signed return value.
pub fn length(len: usize) -> Result<usize, CallError> {
    if len > isize::MAX as usize {
        return Err(CallError::invalid(format!("length {len} is too large")));
    }
    Ok(len)
}

/// Copies `text` into the caller's buffer `buf` of `len` bytes like `snprintf`: at most
/// `len - 1` bytes and a NUL; returns the full length of `text` (so a caller can size a
/// buffer with `len` 0 and `buf` NULL).
///
/// # Safety
/// `buf` is NULL (only with `len` 0) or valid for writes of `len` bytes.
pub unsafe fn copy_out(text: &str, buf: *mut c_char, len: usize) -> Result<i64, CallError> {
    if len > 0 {
        if buf.is_null() {
            return Err(CallError::invalid("buffer is NULL"));
        }
        let n = text.len().min(len - 1);
        // SAFETY: `buf` is valid for `len` bytes and n + 1 <= len; the source is a distinct
        // Rust string, so the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    Ok(text.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last() -> String {
        // SAFETY: the pointer is this thread's NUL-terminated last-error string.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn errors_become_negative_errno_with_a_message() {
        let r = int_call("benchfs_x", || {
            Err(CallError::fs(
                "/a",
                Some("127.0.0.1:9".into()),
                FsError::NotFound("/a".into()),
            ))
        });
        assert_eq!(r, -(libc::ENOENT as i64));
        let m = last();
        assert!(m.starts_with("benchfs_x: /a: no such file"), "{m}");
        assert!(m.ends_with("(server 127.0.0.1:9)"), "{m}");
        // SAFETY: reading this thread's errno.
        assert_eq!(unsafe { *libc::__errno_location() }, libc::ENOENT);
        assert_eq!(int_call("benchfs_y", || Ok(7)), 7);
        assert!(
            last().starts_with("benchfs_x"),
            "a success keeps the last error"
        );
    }

    #[test]
    fn panics_do_not_cross() {
        let p: *mut u8 = ptr_call("benchfs_p", || panic!("boom"));
        assert!(p.is_null());
        assert!(last().contains("internal error (panic): boom"));
        assert_eq!(status_call("benchfs_q", || panic!("again")), -libc::EIO);
    }

    #[test]
    fn strings_are_checked() {
        // SAFETY: NULL and valid NUL-terminated literals.
        unsafe {
            assert_eq!(
                c_str(std::ptr::null(), "path").unwrap_err().errno,
                libc::EINVAL
            );
            let bad = b"\xff\xfe\0";
            assert_eq!(
                c_str(bad.as_ptr().cast(), "path").unwrap_err().errno,
                libc::EINVAL
            );
            assert_eq!(c_str(c"/x".as_ptr(), "path").unwrap(), "/x");
            assert_eq!(opt_c_str(c"".as_ptr(), "r").unwrap(), None);
        }
        assert!(offset(-1).is_err());
        let mut buf = [0x55 as c_char; 4];
        // SAFETY: buf is 4 bytes.
        let n = unsafe { copy_out("hello", buf.as_mut_ptr(), buf.len()) }.unwrap();
        assert_eq!(n, 5);
        // SAFETY: copy_out NUL-terminated it.
        assert_eq!(
            unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
            "hel"
        );
    }
}
