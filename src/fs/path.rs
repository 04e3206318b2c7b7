//! Path rules of BenchFS: every path is absolute, normalised ("/a/b"), with no `.` or `..`
//! component, no NUL byte, components of at most 255 bytes and at most 4096 bytes in all.
//!
//! Owns [`normalize`] and [`split_parent`]. Clients normalise before sending; servers refuse any path that is not
//! already normal. A path is only ever a key: no module builds a local file name from it.

use super::error::{FsError, FsResult};
use super::wire::{MAX_NAME_LEN, MAX_PATH_LEN};

/// Normalises `path`: collapses repeated and trailing slashes; refuses relative paths,
/// `.` and `..` components (EINVAL), NUL bytes (EINVAL) and over-long paths or components
/// (ENAMETOOLONG).
pub fn normalize(path: &str) -> FsResult<String> {
    if path.len() > MAX_PATH_LEN {
        return Err(FsError::NameTooLong(format!(
            "path of {} bytes",
            path.len()
        )));
    }
    if !path.starts_with('/') {
        return Err(FsError::InvalidArgument(format!(
            "path {path:?} is not absolute"
        )));
    }
    if path.contains('\0') {
        return Err(FsError::InvalidArgument("path contains a NUL byte".into()));
    }
    let mut out = String::with_capacity(path.len());
    for c in path.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." {
            return Err(FsError::InvalidArgument(format!(
                "path {path:?} has a '{c}' component"
            )));
        }
        if c.len() > MAX_NAME_LEN {
            return Err(FsError::NameTooLong(format!(
                "component of {} bytes",
                c.len()
            )));
        }
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Fails unless `path` is already normal (what servers require of clients).
pub fn check_normal(path: &str) -> FsResult<()> {
    if normalize(path)? == path {
        Ok(())
    } else {
        Err(FsError::InvalidArgument(format!(
            "path {path:?} is not normalised"
        )))
    }
}

/// The parent directory and last component of a normalised path ("/" has none).
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    if path == "/" {
        return None;
    }
    let i = path.rfind('/')?;
    let parent = if i == 0 { "/" } else { &path[..i] };
    Some((parent, &path[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_and_refusals() {
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("//a///b/").unwrap(), "/a/b");
        assert_eq!(normalize("/a/../b").unwrap_err().errno(), libc::EINVAL);
        assert_eq!(normalize("/a/./b").unwrap_err().errno(), libc::EINVAL);
        assert_eq!(normalize("a/b").unwrap_err().errno(), libc::EINVAL);
        assert_eq!(normalize("/a\0b").unwrap_err().errno(), libc::EINVAL);
        let long = format!("/{}", "x".repeat(300));
        assert_eq!(normalize(&long).unwrap_err().errno(), libc::ENAMETOOLONG);
        let huge = "/ab".repeat(2000);
        assert_eq!(normalize(&huge).unwrap_err().errno(), libc::ENAMETOOLONG);
        assert!(check_normal("/a/b").is_ok());
        assert!(check_normal("/a//b").is_err());
    }
}
