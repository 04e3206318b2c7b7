//! Shared mappings of file ranges (`mmap(MAP_SHARED)`), as the MMAP backend maps its files
//! and a UCX server its chunk files. Owns that system call and its flags; must not know
//! what a mapping is for or when it may be unmapped (its callers do).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// Maps `len > 0` bytes of `file` from `offset` (a multiple of the page size), shared,
/// writable if asked, with its pages mapped up front if `populate` (`MAP_POPULATE`: one
/// call instead of a fault per page). The caller unmaps it (`munmap` of the same length).
pub(crate) fn map_shared(
    file: &File,
    offset: u64,
    len: usize,
    writable: bool,
    populate: bool,
) -> io::Result<NonNull<u8>> {
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    let flags = if populate {
        libc::MAP_SHARED | libc::MAP_POPULATE
    } else {
        libc::MAP_SHARED
    };
    let off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large to map"))?;
    // SAFETY: a fresh shared mapping of a valid descriptor (`file` owns it); the kernel
    // picks the address, so no existing mapping is replaced.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            flags,
            file.as_raw_fd(),
            off,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned a null mapping"))
}
