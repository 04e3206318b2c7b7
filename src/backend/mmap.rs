//! The MMAP backend: each open file mapped into memory (`mmap(MAP_SHARED)`), transfers are
//! memory copies (IOR's `aiori-MMAP.c`).
//!
//! Owns the options `--mmap.madv_dont_need` and `--mmap.madv_pattern` and the mapping of one
//! task's open files. Metadata calls (remove, size, statfs, mkdir, rmdir, access, stat, rename,
//! readdir) are POSIX's, as in IOR. It must not print, retry short transfers (the engine does),
//! or know about IOR's phases.
//!
//! IOR's behaviours kept:
//! * `create` opens with `O_CREAT|O_RDWR`, sets the file's size with `ftruncate` and maps it
//!   read-write; `open` maps read-only (read-write when asked to write).
//! * `--mmap.madv_pattern` advises the kernel of the access pattern of the whole mapping
//!   (`POSIX_MADV_RANDOM` with `-z`, else `POSIX_MADV_SEQUENTIAL`); `--mmap.madv_dont_need`
//!   advises `POSIX_MADV_DONTNEED` right after mapping (pages are dropped, so reads come
//!   from the file system again).
//! * `-Y` (`XferHints::fsync_per_write`): each write is followed by `msync(MS_SYNC)` of its
//!   range and `POSIX_MADV_DONTNEED`; this needs a transfer size that is a multiple of the page
//!   size (`check_params`, IOR's wording). `fsync` (`-e`) is `msync(MS_SYNC)` of the mapping.
//!
//! Deliberate differences (README): the mapping of a file written with `-F` is the size of that
//! task's data (`segments * blockSize`; IOR truncates every file to the aggregate size of all
//! tasks, then warns that the stat size is N times too large); an opened file is mapped at its
//! own size, so a read past its end is a short read like `pread` (IOR maps the expected size and
//! dies of `SIGBUS`), and a write past the mapping is an error (IOR overruns it).
use super::*;
use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::ptr::NonNull;

/// Options of the MMAP backend.
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "mmap",
        name: "madv_dont_need",
        kind: OptionKind::Flag,
        help: "Use advise don't need",
        default: "",
    },
    ModuleOption {
        module: "mmap",
        name: "madv_pattern",
        kind: OptionKind::Flag,
        help: "Use advise to indicate the pattern random/sequential",
        default: "",
    },
];

/// MMAP backend state of one task.
#[derive(Debug, Clone, Default)]
pub struct MmapBackend {
    madv_dont_need: bool,
    madv_pattern: bool,
    hints: XferHints,
    /// Metadata calls go to POSIX, as in IOR.
    posix: posix::PosixBackend,
}

/// A shared mapping of a whole file, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain memory shared with the file; it is only accessed through raw
// copies within `[ptr, ptr + len)` (never through references), so moving or sharing the
// pointer between threads is sound. Concurrent transfers of one task touch disjoint ranges.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`: `&Mapping` only allows bounded raw copies.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; unmapped once, here.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// An open file of the MMAP backend.
#[derive(Debug)]
pub struct MmapFile {
    /// `None` under `--dryRun`: nothing was opened.
    file: Option<File>,
    /// `None` for an empty file (nothing to map) or under `--dryRun`.
    map: Option<Mapping>,
    path: String,
}

impl MmapFile {
    /// Bytes mapped (0 for an empty file).
    pub fn mapped_len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len)
    }
}

/// The system's page size.
fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

impl MmapBackend {
    /// Build from the test's backend options (`mmap.madv_dont_need`, `mmap.madv_pattern`).
    pub fn new(opts: &BTreeMap<String, String>) -> BackendResult<Self> {
        let o = OptionValues::new("mmap", opts);
        Ok(MmapBackend {
            madv_dont_need: o.flag("madv_dont_need")?,
            madv_pattern: o.flag("madv_pattern")?,
            hints: XferHints::default(),
            posix: posix::PosixBackend::default(),
        })
    }

    #[cfg(test)]
    /// Whether `--mmap.madv_dont_need` is set.
    pub fn madv_dont_need(&self) -> bool {
        self.madv_dont_need
    }

    #[cfg(test)]
    /// Whether `--mmap.madv_pattern` is set.
    pub fn madv_pattern(&self) -> bool {
        self.madv_pattern
    }

    /// The size a created file is given and mapped at: this task's data with `-F`, the
    /// aggregate of all tasks for a shared file.
    fn created_len(&self) -> u64 {
        let h = &self.hints;
        let len = if h.file_per_proc {
            h.segment_count.saturating_mul(h.block_size)
        } else {
            h.expected_agg_file_size
        };
        u64::try_from(len).unwrap_or(0)
    }

    fn advise(&self, path: &str, map: &Mapping, advice: libc::c_int) -> BackendResult<()> {
        // SAFETY: the whole range is a live mapping owned by `map`.
        let r = unsafe { libc::posix_madvise(map.ptr.as_ptr().cast(), map.len, advice) };
        if r != 0 {
            return Err(BackendError::io(
                "posix_madvise",
                path,
                io::Error::from_raw_os_error(r),
            ));
        }
        Ok(())
    }

    /// Maps `len` bytes of `file` (nothing for 0) and applies the advice options.
    fn map(
        &self,
        file: &File,
        path: &str,
        len: u64,
        writable: bool,
    ) -> BackendResult<Option<Mapping>> {
        if len == 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| {
            BackendError::io(
                "mmap",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"),
            )
        })?;
        let ptr = crate::file_map::map_shared(file, 0, len, writable, false)
            .map_err(|e| BackendError::io("mmap", path, e))?;
        let map = Mapping { ptr, len, writable };
        if self.madv_pattern {
            let advice = if self.hints.random_offset != 0 {
                libc::POSIX_MADV_RANDOM
            } else {
                libc::POSIX_MADV_SEQUENTIAL
            };
            self.advise(path, &map, advice)?;
        }
        if self.madv_dont_need {
            self.advise(path, &map, libc::POSIX_MADV_DONTNEED)?;
        }
        Ok(Some(map))
    }

    fn msync(&self, path: &str, map: &Mapping, offset: usize, len: usize) -> BackendResult<()> {
        // SAFETY: `[offset, offset + len)` lies within the live mapping (callers check).
        let r = unsafe { libc::msync(map.ptr.as_ptr().add(offset).cast(), len, libc::MS_SYNC) };
        if r != 0 {
            return Err(BackendError::io("msync", path, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// One memory copy between `buf` and the mapping at `offset`, as IOR's MMAP xfer.
    fn xfer_now(
        &self,
        file: &MmapFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        if file.file.is_none() {
            return Ok(buf.len()); // --dryRun
        }
        let mapped = file.mapped_len() as u64;
        let write = access.is_write();
        if write {
            let end = offset.checked_add(buf.len() as u64);
            let Some(map) = file
                .map
                .as_ref()
                .filter(|_| end.is_some_and(|e| e <= mapped))
            else {
                return Err(BackendError::io(
                    "write into the mapping",
                    file.path.as_str(),
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{} bytes at offset {offset} end past the {mapped} bytes mapped",
                            buf.len()
                        ),
                    ),
                ));
            };
            if !map.writable {
                return Err(BackendError::io(
                    "write into the mapping",
                    file.path.as_str(),
                    io::Error::from_raw_os_error(libc::EBADF),
                ));
            }
            let off = offset as usize;
            // SAFETY: `off + buf.len() <= map.len` (checked above); the mapping is writable and
            // `buf` is a separate allocation, so the ranges do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(buf.as_ptr(), map.ptr.as_ptr().add(off), buf.len());
            }
            if self.hints.fsync_per_write {
                self.msync(&file.path, map, off, buf.len())?;
                // SAFETY: the same in-bounds range of the live mapping.
                let r = unsafe {
                    libc::posix_madvise(
                        map.ptr.as_ptr().add(off).cast(),
                        buf.len(),
                        libc::POSIX_MADV_DONTNEED,
                    )
                };
                if r != 0 {
                    return Err(BackendError::io(
                        "posix_madvise",
                        file.path.as_str(),
                        io::Error::from_raw_os_error(r),
                    ));
                }
            }
            Ok(buf.len())
        } else {
            // Past the end of the file: a short read, as pread.
            let Some(map) = file.map.as_ref().filter(|_| offset < mapped) else {
                return Ok(0);
            };
            let n = buf.len().min((mapped - offset) as usize);
            // SAFETY: `offset + n <= map.len`; `buf` does not overlap the mapping.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    map.ptr.as_ptr().add(offset as usize),
                    buf.as_mut_ptr(),
                    n,
                );
            }
            Ok(n)
        }
    }

    fn open_file(&self, path: &str, create: bool, writable: bool) -> BackendResult<File> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(writable || create).mode(0o664);
        if create {
            o.create(true);
        }
        o.open(path).map_err(|e| BackendError::io("open", path, e))
    }
}

impl Backend for MmapBackend {
    type File = MmapFile;

    fn name(&self) -> &'static str {
        "MMAP"
    }

    fn set_hints(&mut self, hints: XferHints) {
        self.hints = hints;
        self.posix.set_hints(hints);
    }

    /// `-Y` needs page-aligned transfers (msync works on whole pages), as IOR checks.
    fn check_params(&self) -> BackendResult<()> {
        let page = page_size() as i64;
        if self.hints.fsync_per_write && self.hints.transfer_size % page != 0 {
            return Err(BackendError::Unsupported(format!(
                "transfer size must be aligned with PAGESIZE for MMAP with fsyncPerWrite \
                 (-t {} is not a multiple of {page})",
                self.hints.transfer_size
            )));
        }
        Ok(())
    }

    /// `O_CREAT|O_RDWR`, `ftruncate` to the file's size, read-write mapping.
    async fn create(&self, path: &str, flags: OpenFlags) -> BackendResult<MmapFile> {
        let _ = flags;
        if self.hints.dry_run {
            return Ok(MmapFile {
                file: None,
                map: None,
                path: path.to_string(),
            });
        }
        let file = self.open_file(path, true, true)?;
        let len = self.created_len();
        file.set_len(len)
            .map_err(|e| BackendError::io("ftruncate", path, e))?;
        let map = self.map(&file, path, len, true)?;
        Ok(MmapFile {
            file: Some(file),
            map,
            path: path.to_string(),
        })
    }

    /// Maps the whole existing file; read-write only when `flags` ask for writing.
    async fn open(&self, path: &str, flags: OpenFlags) -> BackendResult<MmapFile> {
        if self.hints.dry_run {
            return Ok(MmapFile {
                file: None,
                map: None,
                path: path.to_string(),
            });
        }
        let writable = flags.write_only || flags.read_write;
        let file = self.open_file(path, flags.create, writable)?;
        let len = file
            .metadata()
            .map_err(|e| BackendError::io("fstat", path, e))?
            .len();
        let map = self.map(&file, path, len, writable)?;
        Ok(MmapFile {
            file: Some(file),
            map,
            path: path.to_string(),
        })
    }

    /// A memory copy completes before it returns: the engine calls this directly.
    #[inline]
    fn xfer_sync(
        &self,
        file: &MmapFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> Option<BackendResult<usize>> {
        Some(self.xfer_now(file, access, buf, offset))
    }

    /// Unmaps, then closes the descriptor.
    async fn close(&self, file: MmapFile) -> BackendResult<()> {
        let MmapFile { file, map, path } = file;
        drop(map);
        match file {
            Some(f) => posix::close_file(f, &path),
            None => Ok(()),
        }
    }

    /// `msync(MS_SYNC)` of the whole mapping.
    async fn fsync(&self, file: &MmapFile) -> BackendResult<()> {
        match &file.map {
            Some(map) => self.msync(&file.path, map, 0, map.len),
            None => Ok(()),
        }
    }

    async fn remove(&self, path: &str) -> BackendResult<()> {
        self.posix.remove(path).await
    }
    async fn get_file_size(&self, path: &str) -> BackendResult<u64> {
        self.posix.get_file_size(path).await
    }
    async fn statfs(&self, path: &str) -> BackendResult<StatFs> {
        self.posix.statfs(path).await
    }
    async fn mkdir(&self, path: &str, mode: u32) -> BackendResult<()> {
        self.posix.mkdir(path, mode).await
    }
    async fn rmdir(&self, path: &str) -> BackendResult<()> {
        self.posix.rmdir(path).await
    }
    async fn access(&self, path: &str, mode: AccessMode) -> BackendResult<bool> {
        self.posix.access(path, mode).await
    }
    async fn stat(&self, path: &str) -> BackendResult<FileStat> {
        self.posix.stat(path).await
    }
    async fn rename(&self, from: &str, to: &str) -> BackendResult<()> {
        self.posix.rename(from, to).await
    }
    async fn readdir(&self, path: &str) -> BackendResult<Vec<DirEntry>> {
        self.posix.readdir(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn backend(opts: &[(&str, &str)], hints: XferHints) -> MmapBackend {
        let m: BTreeMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut b = MmapBackend::new(&m).unwrap();
        b.set_hints(hints);
        b
    }

    fn shared(tasks: usize, block: i64, segs: i64) -> XferHints {
        XferHints {
            num_tasks: tasks,
            segment_count: segs,
            block_size: block,
            transfer_size: 4096,
            expected_agg_file_size: block * segs * tasks as i64,
            ..Default::default()
        }
    }

    #[test]
    fn options_are_read() {
        let b = backend(&[], XferHints::default());
        assert!(!b.madv_dont_need() && !b.madv_pattern());
        let b = backend(
            &[("mmap.madv_dont_need", "1"), ("mmap.madv_pattern", "1")],
            XferHints::default(),
        );
        assert!(b.madv_dont_need() && b.madv_pattern());
        let m: BTreeMap<String, String> = [("mmap.madv_pattern".into(), "x".into())].into();
        assert!(matches!(
            MmapBackend::new(&m),
            Err(BackendError::InvalidOption { .. })
        ));
    }

    #[test]
    fn shared_file_is_sized_to_the_aggregate_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_str().unwrap().to_string();
        for opts in [
            vec![],
            vec![("mmap.madv_dont_need", "1"), ("mmap.madv_pattern", "1")],
        ] {
            let b = backend(&opts, shared(2, 8192, 2));
            rt().block_on(async {
                let f = b
                    .create(&path, OpenFlags::create_for_write())
                    .await
                    .unwrap();
                assert_eq!(f.mapped_len(), 32768);
                let mut w: Vec<u8> = (0..4096).map(|i| (i % 251) as u8).collect();
                assert_eq!(
                    b.xfer(&f, Access::Write, &mut w, 12288).await.unwrap(),
                    4096
                );
                b.fsync(&f).await.unwrap();
                b.close(f).await.unwrap();
                assert_eq!(b.get_file_size(&path).await.unwrap(), 32768);
                // Through the file system: the bytes are in the file.
                let on_disk = std::fs::read(&path).unwrap();
                assert_eq!(&on_disk[12288..16384], &w[..]);
                assert!(on_disk[..12288].iter().all(|&x| x == 0));

                let f = b.open(&path, OpenFlags::read()).await.unwrap();
                let mut r = vec![0u8; 4096];
                assert_eq!(b.xfer(&f, Access::Read, &mut r, 12288).await.unwrap(), 4096);
                assert_eq!(r, w);
                // Short read at the end of the file, nothing past it.
                assert_eq!(b.xfer(&f, Access::Read, &mut r, 30720).await.unwrap(), 2048);
                assert_eq!(b.xfer(&f, Access::Read, &mut r, 40000).await.unwrap(), 0);
                // A read-only mapping refuses writes (IOR would fault).
                let e = b.xfer(&f, Access::Write, &mut r, 0).await.unwrap_err();
                assert_eq!(e.errno(), Some(libc::EBADF), "{e}");
                b.close(f).await.unwrap();
                b.remove(&path).await.unwrap();
            });
        }
    }

    #[test]
    fn an_owned_buffer_transfer_reaches_the_mapping_through_any_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_str().unwrap().to_string();
        let mut b = AnyBackend::new("MMAP", &BTreeMap::new()).unwrap();
        b.set_hints(shared(1, 8192, 1));
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut w = buffer::AlignedBuf::new(4096).unwrap();
            w.fill(7);
            let (w, r) = b.xfer_owned(&f, Access::Write, w, 4096).await;
            assert_eq!(r.unwrap(), 4096);
            assert_eq!(w.len(), 4096);
            b.close(f).await.unwrap();
        });
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk[4096..].iter().all(|&x| x == 7));
        assert!(on_disk[..4096].iter().all(|&x| x == 0));
    }

    #[test]
    fn file_per_process_is_sized_to_its_own_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.00000001").to_str().unwrap().to_string();
        let mut h = shared(4, 8192, 3);
        h.file_per_proc = true;
        let b = backend(&[], h);
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            assert_eq!(f.mapped_len(), 3 * 8192);
            // A write past the mapping is an error naming the sizes, not a fault.
            let mut w = vec![1u8; 4096];
            let e = b
                .xfer(&f, Access::Write, &mut w, 3 * 8192 - 100)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("past the 24576 bytes mapped"), "{e}");
            b.close(f).await.unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 8192);
        });
    }

    #[test]
    fn fsync_per_write_needs_page_aligned_transfers_and_syncs_each_write() {
        let mut h = shared(1, 1 << 20, 1);
        h.fsync_per_write = true;
        h.transfer_size = 1000;
        let e = backend(&[], h).check_params().unwrap_err();
        assert!(
            e.to_string()
                .contains("transfer size must be aligned with PAGESIZE"),
            "{e}"
        );
        h.transfer_size = page_size() as i64;
        let b = backend(&[], h);
        b.check_params().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_str().unwrap().to_string();
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut w = vec![7u8; page_size()];
            let off = 3 * page_size() as u64;
            assert_eq!(
                b.xfer(&f, Access::Write, &mut w, off).await.unwrap(),
                w.len()
            );
            // Dropped from the mapping after msync: the data is read back from the file.
            let mut r = vec![0u8; w.len()];
            assert_eq!(
                b.xfer(&f, Access::WriteCheck, &mut r, off).await.unwrap(),
                w.len()
            );
            assert_eq!(r, w);
            b.close(f).await.unwrap();
        });
    }

    #[test]
    fn empty_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty").to_str().unwrap().to_string();
        std::fs::write(&path, b"").unwrap();
        let b = backend(&[], shared(1, 8192, 1));
        rt().block_on(async {
            let f = b.open(&path, OpenFlags::read()).await.unwrap();
            assert_eq!(f.mapped_len(), 0);
            let mut r = vec![0u8; 16];
            assert_eq!(b.xfer(&f, Access::Read, &mut r, 0).await.unwrap(), 0);
            b.close(f).await.unwrap();
            let missing = dir.path().join("missing").to_str().unwrap().to_string();
            let e = b.open(&missing, OpenFlags::read()).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT));
            assert!(e.to_string().contains(&missing), "{e}");
        });
    }

    #[test]
    fn dry_run_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_str().unwrap().to_string();
        let mut h = shared(1, 8192, 1);
        h.dry_run = true;
        let b = backend(&[], h);
        rt().block_on(async {
            let f = b
                .create(&path, OpenFlags::create_for_write())
                .await
                .unwrap();
            let mut w = vec![1u8; 4096];
            assert_eq!(b.xfer(&f, Access::Write, &mut w, 0).await.unwrap(), 4096);
            b.fsync(&f).await.unwrap();
            b.close(f).await.unwrap();
            assert!(!std::path::Path::new(&path).exists());
        });
    }
}
