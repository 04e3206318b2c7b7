//! The POSIX backend: any mounted file system through `pread`/`pwrite` at explicit offsets
//! (IOR's `aiori-POSIX.c`).
//!
//! Owns the options `--posix.odirect` and `--posix.rangelocks` and the system calls on one
//! task's files. Every call is a blocking system call made directly inside the async fn: each
//! task runs on its own OS thread with its own current-thread runtime, so blocking is correct
//! there and avoids the cost of `spawn_blocking` per transfer. It must not print, retry short
//! transfers (the engine does), or know about IOR's phases.
//!
//! Deliberate IOR behaviours kept:
//! * [`Backend::create`] ignores the flags it receives and opens with `O_CREAT|O_RDWR`
//!   (no `O_TRUNC`), adding `O_DIRECT` with `--posix.odirect` (SPEC §2.6). The engine removes
//!   an existing file before the write phase unless `-E`, so this only matters with `-E`.
//! * `--posix.rangelocks` takes an `fcntl(F_SETLKW)` lock (read lock for reads, write lock for
//!   writes) on exactly `[offset, offset + len)` around each transfer and releases it after.
//! * With `-Y` (`XferHints::fsync_per_write`) each write is followed by an `fsync` inside
//!   `xfer`, as IOR's POSIX backend does (SPEC §2.10).
//! * With `--dryRun` (`XferHints::dry_run`) create/open/xfer/close/fsync/remove touch nothing
//!   (xfer reports the full length, `get_file_size` 0); the metadata calls stay real.
//! * `statfs` reports `f_frsize` as the block size so that `blocks * bsize` is the capacity.
//!
//! Beyond IOR: with `--iodepth N` above 1 the transfers of the deep loop are queued to the
//! kernel on one io_uring per task ([`super::uring`]), up to N at once, so that the depth
//! means what it means in fio. Where the kernel refuses io_uring, and with
//! `--posix.rangelocks` (a lock around each transfer), the transfers stay pread/pwrite (one at
//! a time, as at depth 1).
use super::buffer::AlignedBuf;
use super::uring::Queue;
use super::*;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt};
use std::sync::Arc;

/// Options of the POSIX backend.
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "posix",
        name: "odirect",
        kind: OptionKind::Flag,
        help: "Direct I/O Mode",
        default: "",
    },
    ModuleOption {
        module: "posix",
        name: "rangelocks",
        kind: OptionKind::Flag,
        help: "Use range locks (read locks for read ops)",
        default: "",
    },
];

/// Alignment the POSIX backend demands of transfer sizes, offsets and buffer addresses under
/// `O_DIRECT` before asking the kernel (the smallest logical block size of Linux devices;
/// devices with 4 KiB logical blocks are checked by the kernel, which then fails with
/// `EINVAL`).
pub const DIRECT_IO_ALIGN: u64 = 512;

/// Operation name of an `open` with `O_DIRECT`, so that its failure says what was tried.
/// The mode of created files (IOR's POSIX backend: 0664).
const MODE: u32 = 0o664;

const OP_OPEN_DIRECT: &str = "open with O_DIRECT (does the file system support direct I/O?)";

/// POSIX backend state of one task.
#[derive(Debug, Clone, Default)]
pub struct PosixBackend {
    odirect: bool,
    rangelocks: bool,
    hints: XferHints,
    /// The io_uring of `--iodepth` above 1, when the kernel gives one.
    queue: Option<Arc<Queue>>,
}

/// An open file of the POSIX backend.
#[derive(Debug)]
pub struct PosixFile {
    /// `None` under `--dryRun`: nothing was opened.
    file: Option<File>,
    path: String,
    direct: bool,
}

impl PosixFile {
    #[cfg(test)]
    /// Whether this is a `--dryRun` handle (no descriptor behind it).
    pub fn is_dry_run(&self) -> bool {
        self.file.is_none()
    }

    #[cfg(test)]
    /// Whether the file was opened with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }
}

impl PosixBackend {
    /// Build from the test's backend options (`posix.odirect`, `posix.rangelocks`).
    pub fn new(opts: &BTreeMap<String, String>) -> BackendResult<Self> {
        let o = OptionValues::new("posix", opts);
        Ok(PosixBackend {
            odirect: o.flag("odirect")?,
            rangelocks: o.flag("rangelocks")?,
            hints: XferHints::default(),
            queue: None,
        })
    }

    #[cfg(test)]
    /// Whether `--posix.odirect` is set.
    pub fn odirect(&self) -> bool {
        self.odirect
    }

    #[cfg(test)]
    /// Whether `--posix.rangelocks` is set.
    pub fn rangelocks(&self) -> bool {
        self.rangelocks
    }

    fn open_raw(
        &self,
        op: &'static str,
        path: &str,
        oflags: libc::c_int,
        direct: bool,
    ) -> BackendResult<PosixFile> {
        if self.hints.dry_run {
            cpath(op, path)?;
            return Ok(PosixFile {
                file: None,
                path: path.to_string(),
                direct,
            });
        }
        let mut flags = oflags | libc::O_CLOEXEC;
        if direct {
            flags |= libc::O_DIRECT;
        }
        let fd = loop {
            let fd = with_cpath(op, path, |c| {
                // SAFETY: `c` is a valid NUL-terminated string; the mode is passed as the
                // variadic third argument, as open(2) expects with O_CREAT.
                unsafe { libc::open(c.as_ptr(), flags, MODE as libc::c_uint) }
            })?;
            if fd >= 0 {
                break fd;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                // File systems without direct I/O (tmpfs, ...) refuse O_DIRECT with EINVAL.
                if direct && e.raw_os_error() == Some(libc::EINVAL) {
                    return Err(BackendError::io(OP_OPEN_DIRECT, path, e));
                }
                return Err(BackendError::Open {
                    path: path.to_string(),
                    flags: flags & !libc::O_CLOEXEC,
                    mode: (flags & libc::O_CREAT != 0).then_some(MODE),
                    source: e,
                });
            }
        };
        // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(PosixFile {
            file: Some(file),
            path: path.to_string(),
            direct,
        })
    }

    fn check_direct(&self, file: &PosixFile, buf: &[u8], offset: u64) -> BackendResult<()> {
        let a = DIRECT_IO_ALIGN;
        if !(buf.len() as u64).is_multiple_of(a)
            || !offset.is_multiple_of(a)
            || !(buf.as_ptr() as u64).is_multiple_of(a)
        {
            return Err(BackendError::Unsupported(format!(
                "O_DIRECT (--posix.odirect) on \"{}\" needs transfer size, offset and buffer \
                 address aligned to {a} bytes; got size {}, offset {offset}, buffer address {:#x}",
                file.path,
                buf.len(),
                buf.as_ptr() as usize
            )));
        }
        Ok(())
    }

    fn lock(
        &self,
        file: &PosixFile,
        fd: &File,
        kind: libc::c_int,
        offset: u64,
        len: usize,
    ) -> BackendResult<()> {
        // SAFETY: `flock` is plain data; all-zero is a valid value.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = to_off(offset, &file.path)?;
        fl.l_len = to_off(len as u64, &file.path)?;
        loop {
            // SAFETY: valid fd and a valid `flock` pointer for the duration of the call.
            let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLKW, &fl) };
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                let op = if kind == libc::F_UNLCK {
                    "fcntl(F_SETLKW, F_UNLCK)"
                } else {
                    "fcntl(F_SETLKW)"
                };
                return Err(BackendError::io(op, file.path.as_str(), e));
            }
        }
    }

    fn xfer_once(
        &self,
        file: &PosixFile,
        fd: &File,
        write: bool,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        loop {
            let r = if write {
                fd.write_at(buf, offset)
            } else {
                fd.read_at(buf, offset)
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let op = match (write, file.direct) {
                        (true, false) => "pwrite",
                        (false, false) => "pread",
                        (true, true) => "pwrite with O_DIRECT",
                        (false, true) => "pread with O_DIRECT",
                    };
                    return Err(BackendError::io(op, file.path.as_str(), e));
                }
            }
        }
    }
}

/// Closes `file` and reports a failing `close(2)` (which `drop` would hide).
pub(super) fn close_file(file: File, path: &str) -> BackendResult<()> {
    let fd = file.into_raw_fd();
    // SAFETY: we own `fd` (taken from the `File`), and close it exactly once.
    if unsafe { libc::close(fd) } != 0 {
        return Err(BackendError::io("close", path, io::Error::last_os_error()));
    }
    Ok(())
}

/// `path` as a C string; a NUL byte inside is an `InvalidInput` error, not a panic.
fn cpath(op: &'static str, path: &str) -> BackendResult<CString> {
    CString::new(path).map_err(|_| {
        BackendError::io(
            op,
            path.replace('\0', "\\0"),
            io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        )
    })
}

/// Paths shorter than this are made C strings on the stack ([`with_cpath`]).
const STACK_PATH: usize = 384;

/// Runs `f` on `path` as a C string: on the stack for a short path (the open of every
/// mdtest item: no allocation per operation), else in a [`CString`]. A NUL byte inside is
/// an `InvalidInput` error, as [`cpath`] says it.
fn with_cpath<T>(op: &'static str, path: &str, f: impl FnOnce(&CStr) -> T) -> BackendResult<T> {
    let b = path.as_bytes();
    if b.len() >= STACK_PATH {
        return Ok(f(&cpath(op, path)?));
    }
    let mut buf = [0u8; STACK_PATH];
    buf[..b.len()].copy_from_slice(b);
    match CStr::from_bytes_with_nul(&buf[..=b.len()]) {
        Ok(c) => Ok(f(c)),
        Err(_) => cpath(op, path).map(|c| f(&c)),
    }
}

fn to_off(v: u64, path: &str) -> BackendResult<libc::off_t> {
    libc::off_t::try_from(v).map_err(|_| {
        BackendError::io(
            "fcntl(F_SETLKW)",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "range beyond off_t"),
        )
    })
}

/// Translates IOR's open flags to `open(2)` flags (without `O_DIRECT`).
fn oflags(flags: OpenFlags) -> libc::c_int {
    let mut f = if flags.read_write || (flags.read_only && flags.write_only) {
        libc::O_RDWR
    } else if flags.write_only {
        libc::O_WRONLY
    } else {
        libc::O_RDONLY
    };
    if flags.append {
        f |= libc::O_APPEND;
    }
    if flags.create {
        f |= libc::O_CREAT;
    }
    if flags.truncate {
        f |= libc::O_TRUNC;
    }
    if flags.exclusive {
        f |= libc::O_EXCL;
    }
    f
}

impl PosixBackend {
    /// One pread/pwrite (with range locks and `-Y` when asked), as IOR's POSIX xfer.
    #[inline]
    fn xfer_now(
        &self,
        file: &PosixFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        let Some(fd) = &file.file else {
            return Ok(buf.len());
        };
        if file.direct {
            self.check_direct(file, buf, offset)?;
        }
        let write = access.is_write();
        let n = if !self.rangelocks || buf.is_empty() {
            self.xfer_once(file, fd, write, buf, offset)?
        } else {
            let kind = if write { libc::F_WRLCK } else { libc::F_RDLCK };
            self.lock(file, fd, kind as libc::c_int, offset, buf.len())?;
            let r = self.xfer_once(file, fd, write, buf, offset);
            let u = self.lock(file, fd, libc::F_UNLCK as libc::c_int, offset, buf.len());
            let n = r?;
            u?;
            n
        };
        if write && self.hints.fsync_per_write {
            fd.sync_all()
                .map_err(|e| BackendError::io("fsync", file.path.as_str(), e))?;
        }
        Ok(n)
    }
}

impl Backend for PosixBackend {
    type File = PosixFile;

    fn name(&self) -> &'static str {
        "POSIX"
    }

    fn set_hints(&mut self, hints: XferHints) {
        self.queue = None;
        if hints.iodepth > 1 && !hints.dry_run && !self.rangelocks {
            match Queue::new(hints.iodepth) {
                Ok(q) => self.queue = Some(Arc::new(q)),
                Err(e) => tracing::warn!(
                    "io_uring unavailable ({e}): --iodepth {} uses pread/pwrite, one at a time",
                    hints.iodepth
                ),
            }
        }
        self.hints = hints;
    }

    fn check_params(&self) -> BackendResult<()> {
        if self.odirect {
            let a = DIRECT_IO_ALIGN as i64;
            let t = self.hints.transfer_size;
            let b = self.hints.block_size;
            if t % a != 0 || b % a != 0 {
                return Err(BackendError::Unsupported(format!(
                    "O_DIRECT (--posix.odirect) needs transfer size and block size that are \
                     multiples of {a} bytes (got -t {t}, -b {b})"
                )));
            }
        }
        Ok(())
    }

    /// Opens with `O_CREAT|O_RDWR` whatever `flags` say (IOR's behaviour, SPEC §2.6): an
    /// existing file is not truncated.
    async fn create(&self, path: &str, flags: OpenFlags) -> BackendResult<PosixFile> {
        let _ = flags;
        self.open_raw("open", path, libc::O_CREAT | libc::O_RDWR, self.odirect)
    }

    async fn open(&self, path: &str, flags: OpenFlags) -> BackendResult<PosixFile> {
        self.open_raw("open", path, oflags(flags), self.odirect || flags.direct)
    }

    /// One `pread`/`pwrite` (retried on `EINTR` only); a short count is returned as such.
    /// With `-Y` a write is followed by an `fsync`, as IOR's POSIX backend does (the engine's
    /// own `-Y` fsync comes on top: SPEC §2.10). Under `--dryRun` nothing happens and the whole
    /// length is reported. pread/pwrite complete before they return: the engine calls this
    /// directly (and [`Backend::xfer`] runs it).
    #[inline]
    fn xfer_sync(
        &self,
        file: &PosixFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> Option<BackendResult<usize>> {
        Some(self.xfer_now(file, access, buf, offset))
    }

    fn queues_owned(&self) -> bool {
        self.queue.is_some()
    }

    /// pread/pwrite complete before they return, and a transfer on the io_uring waits for a
    /// completion in `io_uring_enter` ([`super::uring`]): nothing waits on the runtime.
    fn progresses_on_thread(&self) -> bool {
        true
    }

    /// With the io_uring of `--iodepth`: the transfer queued to the kernel (then `-Y`'s fsync);
    /// else [`Backend::xfer`].
    async fn xfer_owned(
        &self,
        file: &PosixFile,
        access: Access,
        mut buf: AlignedBuf,
        offset: u64,
    ) -> (AlignedBuf, BackendResult<usize>) {
        let (Some(queue), Some(fd)) = (&self.queue, &file.file) else {
            let r = self.xfer_now(file, access, &mut buf, offset);
            return (buf, r);
        };
        if file.direct {
            if let Err(e) = self.check_direct(file, &buf, offset) {
                return (buf, Err(e));
            }
        }
        let write = access.is_write();
        // The descriptor stays open until the transfer completes: `file` is borrowed for it.
        let (buf, r) = queue.xfer(fd.as_raw_fd(), write, buf, offset).await;
        let op = match (write, file.direct) {
            (true, false) => "pwrite (io_uring)",
            (false, false) => "pread (io_uring)",
            (true, true) => "pwrite with O_DIRECT (io_uring)",
            (false, true) => "pread with O_DIRECT (io_uring)",
        };
        let r = r.map_err(|e| BackendError::io(op, file.path.as_str(), e));
        if let (true, true, Ok(_)) = (write, self.hints.fsync_per_write, &r) {
            if let Err(e) = fd.sync_all() {
                return (buf, Err(BackendError::io("fsync", file.path.as_str(), e)));
            }
        }
        (buf, r)
    }

    /// Closes the descriptor and reports a failing `close(2)` (which `drop` would hide).
    async fn close(&self, file: PosixFile) -> BackendResult<()> {
        let PosixFile { file, path, .. } = file;
        match file {
            Some(file) => close_file(file, &path),
            None => Ok(()),
        }
    }

    async fn fsync(&self, file: &PosixFile) -> BackendResult<()> {
        match &file.file {
            None => Ok(()),
            Some(fd) => fd
                .sync_all()
                .map_err(|e| BackendError::io("fsync", file.path.as_str(), e)),
        }
    }

    /// `sync(2)`, as IOR's POSIX backend (mdtest's `-Y`); nothing under `--dryRun`.
    async fn sync(&self) -> BackendResult<()> {
        if !self.hints.dry_run {
            // SAFETY: sync(2) takes no arguments and cannot fail.
            unsafe { libc::sync() };
        }
        Ok(())
    }

    /// `unlink(2)`; nothing under `--dryRun`.
    async fn remove(&self, path: &str) -> BackendResult<()> {
        if self.hints.dry_run {
            return Ok(());
        }
        std::fs::remove_file(path).map_err(|e| BackendError::io("unlink", path, e))
    }

    /// `stat(2)` size; 0 under `--dryRun` (as IOR).
    async fn get_file_size(&self, path: &str) -> BackendResult<u64> {
        if self.hints.dry_run {
            return Ok(0);
        }
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| BackendError::io("stat", path, e))
    }

    async fn statfs(&self, path: &str) -> BackendResult<StatFs> {
        let c = cpath("statvfs", path)?;
        // SAFETY: `statvfs` is plain data; all-zero is a valid value.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid C string and a valid out-pointer.
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return Err(BackendError::io(
                "statvfs",
                path,
                io::Error::last_os_error(),
            ));
        }
        #[allow(clippy::unnecessary_cast)] // field widths differ between platforms
        let frsize = if s.f_frsize != 0 {
            s.f_frsize as u64
        } else {
            s.f_bsize as u64
        };
        #[allow(clippy::unnecessary_cast)]
        Ok(StatFs {
            f_bsize: frsize,
            f_blocks: s.f_blocks as u64,
            f_bfree: s.f_bfree as u64,
            f_bavail: s.f_bavail as u64,
            f_files: s.f_files as u64,
            f_ffree: s.f_ffree as u64,
        })
    }

    async fn mkdir(&self, path: &str, mode: u32) -> BackendResult<()> {
        std::fs::DirBuilder::new()
            .mode(mode)
            .create(path)
            .map_err(|e| BackendError::io("mkdir", path, e))
    }

    async fn rmdir(&self, path: &str) -> BackendResult<()> {
        std::fs::remove_dir(path).map_err(|e| BackendError::io("rmdir", path, e))
    }

    /// `access(2)`: `Ok(false)` when the answer is "no" (`ENOENT`, `ENOTDIR`, `EACCES`,
    /// `EROFS`, `ETXTBSY`), an error for anything else (e.g. `ENAMETOOLONG`, `EIO`).
    async fn access(&self, path: &str, mode: AccessMode) -> BackendResult<bool> {
        let c = cpath("access", path)?;
        let m = match mode {
            AccessMode::Exists => libc::F_OK,
            AccessMode::Read => libc::R_OK,
            AccessMode::Write => libc::W_OK,
            AccessMode::Execute => libc::X_OK,
        };
        // SAFETY: valid C string.
        if unsafe { libc::access(c.as_ptr(), m) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::EROFS | libc::ETXTBSY) => {
                Ok(false)
            }
            _ => Err(BackendError::io("access", path, e)),
        }
    }

    async fn stat(&self, path: &str) -> BackendResult<FileStat> {
        let m = std::fs::metadata(path).map_err(|e| BackendError::io("stat", path, e))?;
        Ok(FileStat {
            size: m.len(),
            is_dir: m.is_dir(),
            mode: m.mode(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        })
    }

    async fn rename(&self, from: &str, to: &str) -> BackendResult<()> {
        // Reject a NUL in the destination under its own name, not the source's.
        cpath("rename", to)?;
        std::fs::rename(from, to).map_err(|e| BackendError::io("rename", from, e))
    }

    async fn readdir(&self, path: &str) -> BackendResult<Vec<DirEntry>> {
        let io_err = |e| BackendError::io("readdir", path, e);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // The entry's own type (d_type), without following a symlink.
            let is_dir = entry.file_type().map_err(io_err)?.is_dir();
            out.push(DirEntry { name, is_dir });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `mknod(path, S_IFREG | S_IRUSR, 0)`, as IOR's POSIX backend.
    async fn mknod(&self, path: &str) -> BackendResult<()> {
        let c = cpath("mknod", path)?;
        // SAFETY: valid C string; mknod only reads it.
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFREG | libc::S_IRUSR, 0) } != 0 {
            return Err(BackendError::io("mknod", path, io::Error::last_os_error()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::buffer::AlignedBuf;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn backend(opts: &[(&str, &str)]) -> PosixBackend {
        let m: BTreeMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PosixBackend::new(&m).unwrap()
    }

    fn p(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).to_str().unwrap().to_string()
    }

    #[test]
    fn mknod_makes_an_empty_regular_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(&[]);
        rt().block_on(async {
            let f = p(&dir, "node");
            b.mknod(&f).await.unwrap();
            let st = b.stat(&f).await.unwrap();
            assert_eq!((st.size, st.is_dir), (0, false));
            assert_eq!(st.mode & libc::S_IFMT, libc::S_IFREG);
            assert_eq!(st.mode & 0o777, 0o400);
            let e = b.mknod(&f).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EEXIST));
            b.sync().await.unwrap();
        });
    }

    #[test]
    fn readdir_lists_entries_with_their_kind_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(&[]);
        rt().block_on(async {
            b.mkdir(&p(&dir, "sub"), 0o755).await.unwrap();
            for name in ["b", "a"] {
                let f = b
                    .create(&p(&dir, name), OpenFlags::create_for_write())
                    .await
                    .unwrap();
                b.close(f).await.unwrap();
            }
            let entries = b.readdir(dir.path().to_str().unwrap()).await.unwrap();
            let got: Vec<(&str, bool)> = entries
                .iter()
                .map(|e| (e.name.as_str(), e.is_dir))
                .collect();
            assert_eq!(got, [("a", false), ("b", false), ("sub", true)]);
            assert_eq!(b.readdir(&p(&dir, "sub")).await.unwrap(), []);
            let e = b.readdir(&p(&dir, "missing")).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
        });
    }

    #[test]
    fn options_are_read() {
        let b = backend(&[]);
        assert!(!b.odirect() && !b.rangelocks());
        let b = backend(&[("posix.odirect", "1"), ("posix.rangelocks", "1")]);
        assert!(b.odirect() && b.rangelocks());
        let m: BTreeMap<String, String> = [("posix.odirect".to_string(), "x".to_string())].into();
        assert!(matches!(
            PosixBackend::new(&m),
            Err(BackendError::InvalidOption { .. })
        ));
    }

    #[test]
    fn write_read_back_at_offsets_and_short_read_at_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        let b = backend(&[]);
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut a = vec![0xAAu8; 4096];
            let mut c = vec![0xCCu8; 4096];
            assert_eq!(b.xfer(&f, Access::Write, &mut c, 8192).await.unwrap(), 4096);
            assert_eq!(b.xfer(&f, Access::Write, &mut a, 0).await.unwrap(), 4096);
            b.fsync(&f).await.unwrap();
            b.close(f).await.unwrap();
            assert_eq!(b.get_file_size(&path).await.unwrap(), 12288);

            let f = b.open(&path, OpenFlags::read()).await.unwrap();
            let mut r = vec![0u8; 4096];
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 8192).await.unwrap(), 4096);
            assert!(r.iter().all(|&x| x == 0xCC));
            // The hole between the two writes reads as zeros.
            assert_eq!(
                b.xfer(&f, Access::ReadCheck, &mut r, 4096).await.unwrap(),
                4096
            );
            assert!(r.iter().all(|&x| x == 0));
            assert_eq!(
                b.xfer(&f, Access::WriteCheck, &mut r, 0).await.unwrap(),
                4096
            );
            assert!(r.iter().all(|&x| x == 0xAA));
            // Short read at EOF, then 0 past EOF.
            assert_eq!(
                b.xfer(&f, Access::Read, &mut r, 12288 - 100).await.unwrap(),
                100
            );
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 20000).await.unwrap(), 0);
            // A write on a read-only descriptor fails with EBADF.
            let e = b.xfer(&f, Access::Write, &mut r, 0).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EBADF));
            b.close(f).await.unwrap();
        });
    }

    #[test]
    fn create_does_not_truncate_like_ior() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let b = backend(&[]);
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            // Opened read-write: reading works on the created handle.
            let mut r = vec![0u8; 10];
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 0).await.unwrap(), 10);
            assert_eq!(r, vec![7u8; 10]);
            b.close(f).await.unwrap();
            assert_eq!(b.get_file_size(&path).await.unwrap(), 1000);
            // `open` honours O_TRUNC.
            let flags = OpenFlags {
                write_only: true,
                truncate: true,
                ..Default::default()
            };
            let f = b.open(&path, flags).await.unwrap();
            b.close(f).await.unwrap();
            assert_eq!(b.get_file_size(&path).await.unwrap(), 0);
        });
    }

    #[test]
    fn open_flags_translate() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        let b = backend(&[]);
        rt().block_on(async {
            // Open without O_CREAT of a missing file: ENOENT.
            let e = b.open(&path, OpenFlags::read()).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
            assert!(e.to_string().contains(&path), "{e}");
            let excl = OpenFlags {
                write_only: true,
                create: true,
                exclusive: true,
                ..Default::default()
            };
            let f = b.open(&path, excl).await.unwrap();
            b.close(f).await.unwrap();
            let e = b.open(&path, excl).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EEXIST));
            // Append: writes go to the end whatever the offset.
            let app = OpenFlags {
                write_only: true,
                append: true,
                ..Default::default()
            };
            let f = b.open(&path, app).await.unwrap();
            let mut d = vec![1u8; 10];
            b.xfer(&f, Access::Write, &mut d, 0).await.unwrap();
            b.xfer(&f, Access::Write, &mut d, 0).await.unwrap();
            b.close(f).await.unwrap();
            assert_eq!(b.get_file_size(&path).await.unwrap(), 20);
        });
    }

    #[test]
    fn rangelocks_transfer_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        let b = backend(&[("posix.rangelocks", "1")]);
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut d = vec![5u8; 1000];
            assert_eq!(b.xfer(&f, Access::Write, &mut d, 500).await.unwrap(), 1000);
            let mut r = vec![0u8; 1000];
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 500).await.unwrap(), 1000);
            assert_eq!(r, d);
            b.close(f).await.unwrap();
            // A read lock needs a readable descriptor, a write lock a writable one: a read
            // through a write-only descriptor is refused by the lock (EBADF).
            let f = b.open(&path, OpenFlags::write()).await.unwrap();
            let e = b.xfer(&f, Access::Read, &mut r, 0).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EBADF));
            assert!(e.to_string().contains("fcntl"), "{e}");
            b.close(f).await.unwrap();
        });
    }

    #[test]
    fn metadata_calls() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(&[]);
        let d = p(&dir, "sub");
        let f = p(&dir, "sub/file");
        let g = p(&dir, "sub/renamed");
        rt().block_on(async {
            assert!(!b.access(&d, AccessMode::Exists).await.unwrap());
            b.mkdir(&d, 0o755).await.unwrap();
            assert!(b.access(&d, AccessMode::Exists).await.unwrap());
            assert!(b.access(&d, AccessMode::Execute).await.unwrap());
            let st = b.stat(&d).await.unwrap();
            assert!(st.is_dir);
            assert_eq!(st.mode & libc::S_IFMT, libc::S_IFDIR);
            let e = b.mkdir(&d, 0o755).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::EEXIST));

            let h = b.create(&f, OpenFlags::create_for_write()).await.unwrap();
            b.xfer(&h, Access::Write, &mut [1u8; 33], 0).await.unwrap();
            b.close(h).await.unwrap();
            let st = b.stat(&f).await.unwrap();
            assert_eq!(st.size, 33);
            assert!(!st.is_dir);
            assert_eq!(st.mode & 0o777, 0o664 & !umask());
            assert!(b.access(&f, AccessMode::Read).await.unwrap());
            assert!(b.access(&f, AccessMode::Write).await.unwrap());
            assert!(!b.access(&f, AccessMode::Execute).await.unwrap());

            let e = b.rmdir(&d).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOTEMPTY));
            b.rename(&f, &g).await.unwrap();
            assert!(!b.access(&f, AccessMode::Exists).await.unwrap());
            assert_eq!(b.get_file_size(&g).await.unwrap(), 33);
            b.remove(&g).await.unwrap();
            let e = b.remove(&g).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
            assert!(e.to_string().contains("unlink"), "{e}");
            let e = b.stat(&g).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
            let e = b.get_file_size(&g).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
            b.rmdir(&d).await.unwrap();
            assert!(!b.access(&d, AccessMode::Exists).await.unwrap());
        });
    }

    /// The process umask, read without changing it (other tests create files concurrently).
    fn umask() -> u32 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = s.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }

    #[test]
    fn dry_run_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        let mut b = backend(&[]);
        b.set_hints(XferHints {
            dry_run: true,
            ..Default::default()
        });
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            assert!(f.is_dry_run());
            let mut d = vec![1u8; 100];
            assert_eq!(b.xfer(&f, Access::Write, &mut d, 7).await.unwrap(), 100);
            b.fsync(&f).await.unwrap();
            b.close(f).await.unwrap();
            assert!(!b.access(&path, AccessMode::Exists).await.unwrap());
            assert_eq!(b.get_file_size(&path).await.unwrap(), 0);
            b.remove(&path).await.unwrap();
            let f = b.open(&path, OpenFlags::read()).await.unwrap();
            assert_eq!(b.xfer(&f, Access::Read, &mut d, 0).await.unwrap(), 100);
            b.close(f).await.unwrap();
        });
    }

    #[test]
    fn fsync_per_write_still_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = p(&dir, "f");
        let mut b = backend(&[]);
        b.set_hints(XferHints {
            fsync_per_write: true,
            ..Default::default()
        });
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut d = vec![3u8; 512];
            assert_eq!(b.xfer(&f, Access::Write, &mut d, 0).await.unwrap(), 512);
            let mut r = vec![0u8; 512];
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 0).await.unwrap(), 512);
            assert_eq!(r, d);
            b.close(f).await.unwrap();
        });
    }

    #[test]
    fn statfs_is_sane() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(&[]);
        let s = rt()
            .block_on(b.statfs(dir.path().to_str().unwrap()))
            .unwrap();
        assert!(s.f_bsize > 0);
        assert!(s.f_blocks > 0);
        assert!(s.f_bfree <= s.f_blocks);
        assert!(s.f_bavail <= s.f_blocks);
        assert!(s.f_ffree <= s.f_files);
        let e = rt().block_on(b.statfs(&p(&dir, "missing/x"))).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
    }

    #[test]
    fn nul_in_path_is_an_error() {
        let b = backend(&[]);
        let bad = "/tmp/a\0b";
        rt().block_on(async {
            let e = b.create(bad, OpenFlags::create_for_write()).await.unwrap_err();
            assert!(matches!(&e, BackendError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidInput), "{e}");
            assert!(b.open(bad, OpenFlags::read()).await.is_err());
            assert!(b.remove(bad).await.is_err());
            assert!(b.get_file_size(bad).await.is_err());
            assert!(b.statfs(bad).await.is_err());
            assert!(b.mkdir(bad, 0o755).await.is_err());
            assert!(b.rmdir(bad).await.is_err());
            assert!(b.access(bad, AccessMode::Exists).await.is_err());
            assert!(b.stat(bad).await.is_err());
            assert!(b.rename(bad, "/tmp/x").await.is_err());
            assert!(b.rename("/tmp/x", bad).await.is_err());
        });
    }

    #[test]
    fn odirect_check_params() {
        let mut b = backend(&[("posix.odirect", "1")]);
        b.set_hints(XferHints {
            transfer_size: 1000,
            block_size: 4000,
            ..Default::default()
        });
        let e = b.check_params().unwrap_err();
        assert!(e.to_string().contains("O_DIRECT"), "{e}");
        b.set_hints(XferHints {
            transfer_size: 4096,
            block_size: 1 << 20,
            ..Default::default()
        });
        b.check_params().unwrap();
        // Without odirect anything goes.
        let mut b = backend(&[]);
        b.set_hints(XferHints {
            transfer_size: 1000,
            block_size: 4000,
            ..Default::default()
        });
        b.check_params().unwrap();
    }

    /// Runs aligned and misaligned direct I/O in `dir` when the file system accepts O_DIRECT;
    /// otherwise checks that the refusal is a clear error. Returns whether O_DIRECT worked.
    fn direct_io_in(dir: &std::path::Path) -> bool {
        let b = backend(&[("posix.odirect", "1")]);
        let path = dir.join("direct").to_str().unwrap().to_string();
        rt().block_on(async {
            let f = match b.create(&path, OpenFlags::create_for_write()).await {
                Ok(f) => f,
                Err(e) => {
                    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
                    assert!(e.to_string().contains("O_DIRECT"), "{e}");
                    return false;
                }
            };
            assert!(f.is_direct());
            let mut w = AlignedBuf::new(8192).unwrap();
            w.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
            assert_eq!(b.xfer(&f, Access::Write, &mut w, 4096).await.unwrap(), 8192);
            let mut r = AlignedBuf::new(8192).unwrap();
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 4096).await.unwrap(), 8192);
            assert_eq!(&r[..], &w[..]);
            // Misaligned size, offset and buffer address are refused before the kernel.
            let e = b
                .xfer(&f, Access::Write, &mut w[..1000], 0)
                .await
                .unwrap_err();
            assert!(matches!(e, BackendError::Unsupported(_)), "{e}");
            assert!(e.to_string().contains("O_DIRECT"), "{e}");
            let e = b
                .xfer(&f, Access::Read, &mut r[..4096], 100)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("offset 100"), "{e}");
            let e = b
                .xfer(&f, Access::Read, &mut r[1..4097], 0)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("buffer address"), "{e}");
            b.close(f).await.unwrap();
            b.remove(&path).await.unwrap();
            true
        })
    }

    #[test]
    fn odirect_io_or_clear_error() {
        // The temporary directory's file system (ext4 here) normally supports O_DIRECT.
        let dir = tempfile::tempdir().unwrap();
        let disk = direct_io_in(dir.path());
        // tmpfs before Linux 6.6 refuses O_DIRECT; newer ones accept it. Either way the
        // behaviour must be one of the two checked in `direct_io_in`.
        let shm = std::path::Path::new("/dev/shm");
        let tmpfs = if shm.is_dir() {
            let d = tempfile::tempdir_in(shm).unwrap();
            Some(direct_io_in(d.path()))
        } else {
            None
        };
        eprintln!("O_DIRECT supported: work dir {disk}, /dev/shm {tmpfs:?}");
        // procfs never accepts O_DIRECT: the refusal must say what was tried.
        let b = backend(&[("posix.odirect", "1")]);
        let e = rt()
            .block_on(b.open("/proc/self/status", OpenFlags::read()))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        assert!(e.to_string().contains("O_DIRECT"), "{e}");
        assert!(e.to_string().contains("/proc/self/status"), "{e}");
    }
}
