//! The chunk store of one server: one flat directory of chunk files, a bounded cache of open
//! files, and pread/pwrite through the page cache (O_DIRECT optional).
//!
//! Owns `<data>/chunks/`. A chunk file's name is derived only from the file id and chunk
//! index (`<32 hex digits>.<hex index>`), never from a client path, so nothing a client sends
//! can make the store touch a file outside that directory. Keeps an index of the chunks it
//! holds per file id (rebuilt by listing the directory at start) for truncate, unlink and
//! fsync. Calls are blocking; the server runs large ones on the blocking pool.
//!
//! A new chunk of a file with the cluster's chunk size is made from a preallocated spare of
//! the [`SparePool`] when one is ready (renamed into place, never replacing a chunk), so that
//! its storage is not allocated while the write's data arrives.

use super::chunk::{capacity_of, chunk_file_name, parse_chunk_file_name, Capacity, Key};
use super::descriptors;
use super::pins::{ChunkPin, Pins, SHRINK_WAIT};
use super::private::{self, FILE_MODE};
use super::spare::SparePool;
use super::tail::{punch_tail, Tails, WriteTicket};
use crate::fs::error::{FsError, FsResult};
use crate::fs::transport::{FileRegion, SizePin};
use crate::fs::wire::FileId;
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Alignment of O_DIRECT offsets, lengths and buffers.
const DIRECT_ALIGN: usize = 4096;

fn is_aligned(offset: u64, len: usize) -> bool {
    offset.is_multiple_of(DIRECT_ALIGN as u64) && len.is_multiple_of(DIRECT_ALIGN)
}

/// Default number of chunk files one store keeps open (all stores of the process together
/// keep at most [`descriptors::Budget::open_chunks`] open).
pub const DEFAULT_OPEN_FILES: usize = 1024;

struct Cache {
    files: HashMap<Key, (Arc<File>, u64)>,
    tick: u64,
}

/// Chunk files of one server.
pub struct ChunkStore {
    dir: PathBuf,
    cache: Mutex<Cache>,
    capacity: usize,
    index: Mutex<HashMap<FileId, BTreeSet<u64>>>,
    chunks: AtomicU64,
    odirect: bool,
    spares: Option<SparePool>,
    tails: Tails,
    /// Chunks a transport has mapped, which a truncation must not shrink meanwhile; `None`
    /// when no transport of the server maps chunk files (TCP and local only), so that their
    /// reads and writes take no pin.
    pins: Option<Pins>,
}

/// The chunk file a transport moves a write's payload into ([`ChunkStore::sink`]).
pub struct ChunkSink {
    /// The open chunk file.
    pub file: Arc<File>,
    /// Held until the payload is stored.
    pub ticket: WriteTicket,
    /// Keeps the file from being shrunk while held (`None` on a store that does not pin for
    /// mappings, or while a truncation shrinks the chunk: the file must then not be mapped).
    pub pin: Option<ChunkPin>,
}

/// A write that may create its chunk: the file's chunk size and the write's extent in the
/// chunk (a spare is used only for a write that starts a chunk and fills a good part of it).
#[derive(Debug, Clone, Copy)]
struct NewWrite {
    chunk_size: u32,
    offset: u64,
    len: usize,
}

/// A new chunk is made from a spare only for a write at its start of at least this many
/// bytes (streaming writes): small files never take one, and a larger file that ends early
/// in a chunk gives the rest back once idle (see [`super::tail`]).
pub const SPARE_MIN_WRITE: usize = 64 << 10;

fn lock<T>(m: &Mutex<T>) -> FsResult<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| FsError::Io("chunk store lock poisoned".into()))
}

impl ChunkStore {
    /// Opens (creating if needed) the chunk directory under `data_dir` and indexes the chunks
    /// already there. `open_files` bounds the cache of open files; `odirect` opens chunk
    /// files with O_DIRECT (then offsets and lengths must be aligned by the caller).
    pub fn open(data_dir: &Path, open_files: usize, odirect: bool) -> FsResult<Self> {
        let dir = data_dir.join("chunks");
        private::make_dir(&dir, true)?;
        let mut index: HashMap<FileId, BTreeSet<u64>> = HashMap::new();
        let mut n = 0u64;
        for ent in std::fs::read_dir(&dir).map_err(|e| FsError::from_io("list chunk dir", &e))? {
            let ent = ent.map_err(|e| FsError::from_io("list chunk dir", &e))?;
            if let Some((id, idx)) = ent.file_name().to_str().and_then(parse_chunk_file_name) {
                index.entry(id).or_default().insert(idx);
                n += 1;
            }
        }
        // Chunks made from spares that an earlier run was killed before trimming.
        let (tails, untrimmed) = Tails::open(data_dir)?;
        let mut trimmed = 0;
        for ((id, idx), cs) in untrimmed {
            let path = dir.join(chunk_file_name(id, idx));
            if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                if punch_tail(&f, cs as u64).is_ok() {
                    trimmed += 1;
                }
            }
        }
        if trimmed > 0 {
            tracing::info!(
                "{}: gave back the preallocated tails of {trimmed} chunks an earlier run left",
                dir.display()
            );
        }
        Ok(ChunkStore {
            dir,
            cache: Mutex::new(Cache {
                files: HashMap::new(),
                tick: 0,
            }),
            capacity: open_files.max(1),
            index: Mutex::new(index),
            chunks: AtomicU64::new(n),
            odirect,
            spares: None,
            tails,
            pins: None,
        })
    }

    /// Keeps `count` spare chunk files of `chunk_size` bytes ready for new chunks of files
    /// with that chunk size (0 keeps none).
    pub fn start_spares(&mut self, data_dir: &Path, chunk_size: u32, count: usize) -> FsResult<()> {
        self.spares = if count == 0 {
            None
        } else {
            crate::fs::wire::check_chunk_size(chunk_size)?;
            Some(SparePool::start(data_dir, chunk_size as u64, count)?)
        };
        Ok(())
    }

    /// Gives the chunks pins from now on, for a server whose transport maps chunk files
    /// (UCX): see [`super::pins`].
    pub fn pin_for_mappings(&mut self) {
        self.pins.get_or_insert_with(Pins::default);
    }

    /// Notes server activity for the spare pool (see [`SparePool::touch`]).
    pub fn touch(&self) {
        if let Some(p) = &self.spares {
            p.touch();
        }
    }

    /// The pool of spare chunk files, if the store keeps one.
    pub fn spares(&self) -> Option<&SparePool> {
        self.spares.as_ref()
    }

    /// Makes chunk file `path` from a spare if the write `w` that creates it starts the
    /// chunk with a large enough piece and a spare fits its chunk size; false if none was
    /// used (no spare, or the chunk exists already: a concurrent write made it).
    fn place_spare(&self, key: Key, path: &Path, w: NewWrite) -> bool {
        let Some(pool) = &self.spares else {
            return false;
        };
        if w.offset != 0 || w.len < SPARE_MIN_WRITE {
            return false;
        }
        let Some(spare) = pool.take(w.chunk_size) else {
            return false;
        };
        self.tails.track(key, w.chunk_size);
        match rename_no_replace(&spare, path) {
            Ok(()) => true,
            Err(_) => {
                self.tails.forget(key);
                pool.give_back(spare);
                false
            }
        }
    }

    /// Frees the preallocated space past the end of chunks made from spares that no write
    /// has touched for `idle` (see [`super::tail`]); returns how many were trimmed.
    pub fn trim_idle(&self, idle: std::time::Duration) -> usize {
        if self.tails.is_empty() {
            return 0;
        }
        self.tails.trim_idle(idle, |(id, index)| {
            self.file(id, index, None).ok().flatten()
        })
    }

    /// Number of chunks made from spares whose preallocated tail is not trimmed yet.
    pub fn untrimmed(&self) -> usize {
        self.tails.len()
    }

    fn path(&self, id: FileId, index: u64) -> PathBuf {
        self.dir.join(chunk_file_name(id, index))
    }

    /// The open file of a chunk, from the cache or opened now (created for the write
    /// `create` if absent). `Ok(None)` if it does not exist and `create` is `None`.
    fn file(
        &self,
        id: FileId,
        index: u64,
        create: Option<NewWrite>,
    ) -> FsResult<Option<Arc<File>>> {
        {
            let mut c = lock(&self.cache)?;
            c.tick += 1;
            let t = c.tick;
            if let Some((f, used)) = c.files.get_mut(&(id, index)) {
                *used = t;
                return Ok(Some(f.clone()));
            }
        }
        let path = self.path(id, index);
        if let Some(w) = create {
            let known = lock(&self.index)?
                .get(&id)
                .is_some_and(|s| s.contains(&index));
            if !known {
                self.place_spare((id, index), &path, w);
            }
        }
        let mut oo = OpenOptions::new();
        oo.read(true).write(true).mode(FILE_MODE);
        if create.is_some() {
            oo.create(true);
        }
        if self.odirect {
            oo.custom_flags(libc::O_DIRECT);
        }
        let opened = match oo.open(&path) {
            // Out of descriptors: close half of this store's cached files and try once more.
            Err(e) if descriptors::is_exhausted(&e) => {
                self.evict(lock(&self.cache)?.files.len().div_ceil(2))?;
                oo.open(&path)
            }
            r => r,
        };
        let f = match opened {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create.is_none() => {
                return Ok(None)
            }
            Err(e) => return Err(FsError::from_io("open chunk", &e)),
        };
        if create.is_some() {
            let mut idx = lock(&self.index)?;
            if idx.entry(id).or_default().insert(index) {
                self.chunks.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut c = lock(&self.cache)?;
        if c.files.contains_key(&(id, index)) {
            // Opened meanwhile by another request: use that one.
        } else if c.files.len() >= self.capacity || !descriptors::take_chunk_place() {
            // This store's cache is full, or the process's budget is: the least recently
            // used file of this store gives up its place (a scan, only on a miss then); with
            // none to give, the file is used without being kept open.
            match c.files.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| *k) {
                Some(k) => {
                    c.files.remove(&k);
                }
                None => return Ok(Some(f)),
            }
        }
        c.tick += 1;
        let t = c.tick;
        let f = c.files.entry((id, index)).or_insert((f, t)).0.clone();
        Ok(Some(f))
    }

    /// Closes the `n` least recently used files of the cache.
    fn evict(&self, n: usize) -> FsResult<()> {
        let mut c = lock(&self.cache)?;
        let mut by_age: Vec<(u64, Key)> = c.files.iter().map(|(k, v)| (v.1, *k)).collect();
        by_age.sort_unstable();
        let mut closed = 0;
        for (_, k) in by_age.into_iter().take(n) {
            if c.files.remove(&k).is_some() {
                closed += 1;
            }
        }
        descriptors::give_chunk_places(closed);
        Ok(())
    }

    /// Writes `data` at `offset` within chunk `index` of file `id` (whose chunk size is
    /// `chunk_size`).
    pub fn write(
        &self,
        id: FileId,
        index: u64,
        chunk_size: u32,
        offset: u64,
        data: &[u8],
    ) -> FsResult<usize> {
        let new = NewWrite {
            chunk_size,
            offset,
            len: data.len(),
        };
        let f = self
            .file(id, index, Some(new))?
            .ok_or_else(|| FsError::Io("chunk vanished".into()))?;
        let _running = self.tails.ticket((id, index));
        let r = if self.odirect {
            self.write_direct(&f, id, index, offset, data)
        } else {
            f.write_all_at(data, offset)
                .map(|_| data.len())
                .map_err(|e| FsError::from_io("write chunk", &e))
        };
        self.check_space(r)
    }

    /// Passes `r` on; out of space, first frees the spares' storage for the writes to come.
    pub fn check_space<T>(&self, r: FsResult<T>) -> FsResult<T> {
        if let (Err(FsError::NoSpace(_)), Some(pool)) = (&r, &self.spares) {
            pool.release();
        }
        r
    }

    /// The open chunk file (created if absent) that a write of `len` bytes at `offset` in
    /// chunk `index` of file `id` (chunk size `chunk_size`) goes into when the transport
    /// moves the payload itself, with the ticket to hold until the payload is stored and,
    /// on a store that pins for mappings unless a truncation is shrinking the chunk, a pin
    /// that keeps the file from being shrunk while it is held (the transport may then map
    /// the file: see [`super::pins`])
    /// (`None` with O_DIRECT, whose alignment rules need [`ChunkStore::write`]).
    pub fn sink(
        &self,
        id: FileId,
        index: u64,
        chunk_size: u32,
        offset: u64,
        len: usize,
    ) -> FsResult<Option<ChunkSink>> {
        if self.odirect {
            return Ok(None);
        }
        let new = NewWrite {
            chunk_size,
            offset,
            len,
        };
        Ok(self.file(id, index, Some(new))?.map(|file| ChunkSink {
            file,
            ticket: self.tails.ticket((id, index)),
            pin: self.pins.as_ref().and_then(|p| p.pin((id, index))),
        }))
    }

    /// A buffered descriptor of a chunk (O_DIRECT stores use it for unaligned I/O).
    fn buffered(&self, id: FileId, index: u64) -> FsResult<Option<File>> {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(id, index))
        {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FsError::from_io("open chunk", &e)),
        }
    }

    /// O_DIRECT write: aligned I/O goes through an aligned bounce buffer; unaligned I/O
    /// through a buffered descriptor (the kernel keeps the two coherent).
    fn write_direct(
        &self,
        f: &File,
        id: FileId,
        index: u64,
        offset: u64,
        data: &[u8],
    ) -> FsResult<usize> {
        if is_aligned(offset, data.len()) {
            let mut v = vec![0u8; data.len() + DIRECT_ALIGN];
            let a = v.as_ptr().align_offset(DIRECT_ALIGN);
            let buf = &mut v[a..a + data.len()];
            buf.copy_from_slice(data);
            f.write_all_at(buf, offset)
                .map_err(|e| FsError::from_io("write chunk (O_DIRECT)", &e))?;
        } else {
            let b = self
                .buffered(id, index)?
                .ok_or_else(|| FsError::Io("chunk vanished".into()))?;
            b.write_all_at(data, offset)
                .and_then(|_| b.sync_data())
                .map_err(|e| FsError::from_io("write chunk", &e))?;
        }
        Ok(data.len())
    }

    /// O_DIRECT read (see [`ChunkStore::write_direct`]).
    fn read_direct(
        &self,
        f: &File,
        id: FileId,
        index: u64,
        offset: u64,
        len: usize,
    ) -> FsResult<Bytes> {
        let mut v = vec![0u8; len + DIRECT_ALIGN];
        let a = v.as_ptr().align_offset(DIRECT_ALIGN);
        let aligned = is_aligned(offset, len);
        let other;
        let src: &File = if aligned {
            f
        } else {
            match self.buffered(id, index)? {
                Some(b) => {
                    other = b;
                    &other
                }
                None => return Ok(Bytes::new()),
            }
        };
        let buf = &mut v[a..a + len];
        let mut done = 0;
        while done < len {
            match src.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FsError::from_io("read chunk", &e)),
            }
            if aligned && done % DIRECT_ALIGN != 0 {
                break; // a short O_DIRECT read ends at the end of the file
            }
        }
        Ok(Bytes::copy_from_slice(&buf[..done]))
    }

    /// Reads up to `len` bytes at `offset` within a chunk; fewer (possibly none) if the chunk
    /// file is shorter or absent (the client reads the missing part as zeros). The buffer
    /// is filled by the kernel directly, without zeroing it first.
    pub fn read(&self, id: FileId, index: u64, offset: u64, len: usize) -> FsResult<Bytes> {
        let Some(f) = self.file(id, index, None)? else {
            return Ok(Bytes::new());
        };
        if self.odirect {
            return self.read_direct(&f, id, index, offset, len);
        }
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            let done = buf.len();
            let spare = &mut buf.spare_capacity_mut()[..len - done];
            // SAFETY: the pointer and length describe writable (uninitialised) memory owned by
            // `buf`; pread writes at most that many bytes and reports how many.
            let n = unsafe {
                libc::pread(
                    f.as_raw_fd(),
                    spare.as_mut_ptr().cast::<libc::c_void>(),
                    spare.len(),
                    (offset + done as u64) as libc::off_t,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(FsError::from_io("read chunk", &e));
            }
            if n == 0 {
                break;
            }
            // SAFETY: the kernel initialised `n` more bytes right after the current length.
            unsafe { buf.set_len(done + n as usize) };
        }
        Ok(buf.freeze())
    }

    /// The region of a chunk file to send for a read of up to `len` bytes at `offset`
    /// (clipped to the chunk file's current length), or `None` if nothing is there.
    pub fn read_region(
        &self,
        id: FileId,
        index: u64,
        offset: u64,
        len: usize,
    ) -> FsResult<Option<FileRegion>> {
        let Some(f) = self.file(id, index, None)? else {
            return Ok(None);
        };
        // Pinned before the size is read: the region then stays within the file.
        let pin = self.pins.as_ref().and_then(|p| p.pin((id, index)));
        let size = f
            .metadata()
            .map_err(|e| FsError::from_io("stat chunk", &e))?
            .len();
        let n = (size.saturating_sub(offset)).min(len as u64) as usize;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(FileRegion {
            file: f,
            offset,
            len: n,
            pin: pin.map(|p| SizePin(Arc::new(p))),
        }))
    }

    /// True if chunk files are opened with O_DIRECT.
    pub fn odirect(&self) -> bool {
        self.odirect
    }

    /// True if this store holds any chunk of `id` (cheap: an index lookup).
    pub fn holds(&self, id: FileId) -> bool {
        self.index
            .lock()
            .map(|i| i.get(&id).is_some_and(|s| !s.is_empty()))
            .unwrap_or(true)
    }

    fn chunks_of(&self, id: FileId) -> FsResult<Vec<u64>> {
        Ok(lock(&self.index)?
            .get(&id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default())
    }

    fn drop_chunk(&self, id: FileId, index: u64) -> FsResult<()> {
        if lock(&self.cache)?.files.remove(&(id, index)).is_some() {
            descriptors::give_chunk_places(1);
        }
        self.tails.forget((id, index));
        {
            let mut idx = lock(&self.index)?;
            if let Some(s) = idx.get_mut(&id) {
                if s.remove(&index) {
                    self.chunks.fetch_sub(1, Ordering::Relaxed);
                }
                if s.is_empty() {
                    idx.remove(&id);
                }
            }
        }
        let r = match std::fs::remove_file(self.path(id, index)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FsError::from_io("remove chunk", &e)),
        };
        if let Some(pool) = &self.spares {
            pool.resume(); // space was freed
        }
        r
    }

    /// Drops the chunks of `id` that lie wholly at or beyond `size` and shortens the one
    /// that contains `size`.
    pub fn truncate(&self, id: FileId, size: u64, chunk_size: u32) -> FsResult<()> {
        let cs = chunk_size.max(1) as u64;
        for index in self.chunks_of(id)? {
            let start = index.saturating_mul(cs);
            if start >= size {
                self.drop_chunk(id, index)?;
            } else if start.saturating_add(cs) > size {
                if let Some(f) = self.file(id, index, None)? {
                    // Not under a mapping of the chunk (a transfer to or from its pages).
                    let _shrinking = self
                        .pins
                        .as_ref()
                        .map(|p| p.shrink((id, index), SHRINK_WAIT))
                        .transpose()?;
                    let _running = self.tails.ticket((id, index));
                    f.set_len(size - start)
                        .map_err(|e| FsError::from_io("truncate chunk", &e))?;
                }
            }
        }
        Ok(())
    }

    /// Removes every chunk of `id`.
    pub fn remove(&self, id: FileId) -> FsResult<()> {
        for index in self.chunks_of(id)? {
            self.drop_chunk(id, index)?;
        }
        Ok(())
    }

    /// The ids of the files this store holds chunks of.
    pub fn file_ids(&self) -> FsResult<Vec<FileId>> {
        Ok(lock(&self.index)?.keys().copied().collect())
    }

    /// Removes every chunk of the files not in `live` whose chunk files were all last
    /// modified before `before` (a chunk written since may belong to a file created after
    /// `live` was listed). Returns the chunks and bytes removed.
    pub fn reclaim(
        &self,
        live: &std::collections::HashSet<FileId>,
        before: std::time::SystemTime,
    ) -> FsResult<(u64, u64)> {
        let (mut chunks, mut bytes) = (0u64, 0u64);
        for id in self.file_ids()? {
            if live.contains(&id) {
                continue;
            }
            let indexes = self.chunks_of(id)?;
            let mut sizes = Vec::with_capacity(indexes.len());
            let mut old = true;
            for &i in &indexes {
                match std::fs::metadata(self.path(id, i)) {
                    Ok(m) => {
                        old &= m.modified().is_ok_and(|t| t < before);
                        sizes.push(std::os::unix::fs::MetadataExt::blocks(&m) * 512);
                    }
                    Err(_) => sizes.push(0),
                }
            }
            if !old {
                continue;
            }
            for &i in &indexes {
                self.drop_chunk(id, i)?;
            }
            chunks += indexes.len() as u64;
            bytes += sizes.iter().sum::<u64>();
        }
        Ok((chunks, bytes))
    }

    /// Flushes every chunk of `id` to stable storage.
    pub fn sync(&self, id: FileId) -> FsResult<()> {
        for index in self.chunks_of(id)? {
            if let Some(f) = self.file(id, index, None)? {
                f.sync_data()
                    .map_err(|e| FsError::from_io("fsync chunk", &e))?;
            }
        }
        Ok(())
    }

    /// Number of chunk files held.
    pub fn chunk_count(&self) -> u64 {
        self.chunks.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    /// Number of files currently open in the cache.
    pub fn open_files(&self) -> usize {
        self.cache.lock().map(|c| c.files.len()).unwrap_or(0)
    }

    /// Capacity of the file system holding the store: (total, free, available) bytes. The
    /// space held by spare chunk files counts as free: any write can have it.
    pub fn capacity(&self) -> FsResult<Capacity> {
        let c = capacity_of(&self.dir)?;
        let held = self.spares.as_ref().map_or(0, |p| p.held_bytes());
        Ok(Capacity {
            free: c.free.saturating_add(held).min(c.total),
            avail: c.avail.saturating_add(held).min(c.total),
            ..c
        })
    }
}

impl Drop for ChunkStore {
    fn drop(&mut self) {
        let n = self.cache.get_mut().map(|c| c.files.len()).unwrap_or(0);
        descriptors::give_chunk_places(n);
    }
}

/// Renames `from` to `to` unless `to` exists (`renameat2` with `RENAME_NOREPLACE`).
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: both are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    const CS: u32 = 1 << 20;

    fn store_with_spares(dir: &Path, count: usize) -> ChunkStore {
        let mut s = ChunkStore::open(dir, 8, false).unwrap();
        s.start_spares(dir, CS, count).unwrap();
        let ready = s.spares().unwrap().wait_full(Duration::from_secs(30));
        assert_eq!(ready, count, "the pool fills");
        s
    }

    #[test]
    fn new_chunks_come_from_spares_and_read_like_new_files() {
        let d = tempfile::tempdir().unwrap();
        let s = store_with_spares(d.path(), 2);
        let id = FileId { store: 3, seq: 4 };
        let pool = s.spares().unwrap();
        let big = (CS / 8) as usize;
        // A write that starts a new chunk with an eighth of it: the chunk is a renamed spare
        // (the pool has one less until the thread replaces it), its size is the written
        // end, and a read ends there.
        s.write(id, 0, CS, 0, &vec![7u8; big]).unwrap();
        let path = s.path(id, 0);
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.len(), big as u64);
        assert!(
            m.blocks() * 512 >= CS as u64,
            "the chunk has the spare's whole allocation ({} blocks)",
            m.blocks()
        );
        assert_eq!(s.untrimmed(), 1);
        // A write past a hole: the hole reads as zeros.
        s.write(id, 0, CS, big as u64 + 8192, &[9u8; 100]).unwrap();
        let r = s.read(id, 0, 0, CS as usize).unwrap();
        assert_eq!(r.len(), big + 8192 + 100, "a read ends at the written end");
        assert!(r[..big].iter().all(|&b| b == 7));
        assert!(r[big..big + 8192].iter().all(|&b| b == 0));
        assert!(r[big + 8192..].iter().all(|&b| b == 9));
        // Spares are made again in the background.
        assert_eq!(pool.wait_full(Duration::from_secs(30)), 2);
        // Writing an existing chunk takes no spare.
        let before = std::fs::read_dir(pool.dir()).unwrap().count();
        s.write(id, 0, CS, 0, &vec![1u8; big]).unwrap();
        assert_eq!(pool.ready(), 2);
        assert_eq!(std::fs::read_dir(pool.dir()).unwrap().count(), before);
        // No spare for: a file of another chunk size, a small first write (a small file
        // must not hold a whole chunk), a first write that does not start the chunk.
        let other = FileId { store: 3, seq: 5 };
        s.write(other, 0, CS / 2, 0, &vec![1u8; big]).unwrap();
        s.write(other, 1, CS, 0, &[1u8; 4096]).unwrap();
        s.write(other, 2, CS, 4096, &vec![1u8; big]).unwrap();
        assert_eq!(pool.ready(), 2);
        assert_eq!(s.untrimmed(), 1);
        assert_eq!(pool.counts().0, 1, "one spare used in all");
    }

    #[test]
    fn idle_chunks_give_back_their_preallocated_tail_but_never_under_a_write() {
        let d = tempfile::tempdir().unwrap();
        let s = store_with_spares(d.path(), 2);
        let id = FileId { store: 9, seq: 9 };
        let big = (CS / 4) as usize;
        s.write(id, 0, CS, 0, &vec![5u8; big]).unwrap();
        let blocks = || std::fs::metadata(s.path(id, 0)).unwrap().blocks() * 512;
        assert!(blocks() >= CS as u64);
        // A write in progress (its ticket held) keeps the tail.
        let running = s.tails.ticket((id, 0));
        assert_eq!(s.trim_idle(Duration::ZERO), 0);
        assert_eq!(s.untrimmed(), 1);
        // Not idle long enough: kept too.
        drop(running);
        assert_eq!(s.trim_idle(Duration::from_secs(3600)), 0);
        // Idle: the space past the end is freed, the data and the size stay.
        assert_eq!(s.trim_idle(Duration::ZERO), 1);
        assert_eq!(s.untrimmed(), 0);
        assert!(
            blocks() < CS as u64 / 2,
            "{} bytes still allocated after the trim",
            blocks()
        );
        let r = s.read(id, 0, 0, CS as usize).unwrap();
        assert_eq!(r.len(), big);
        assert!(r.iter().all(|&b| b == 5));
        // Later writes past the end allocate as usual.
        s.write(id, 0, CS, big as u64, &vec![6u8; big]).unwrap();
        assert_eq!(s.read(id, 0, 0, CS as usize).unwrap().len(), 2 * big);
        // Removing a chunk forgets its tail.
        let other = FileId { store: 9, seq: 10 };
        s.write(other, 0, CS, 0, &vec![5u8; big]).unwrap();
        assert_eq!(s.untrimmed(), 1);
        s.remove(other).unwrap();
        assert_eq!(s.untrimmed(), 0);
    }

    #[test]
    fn a_spare_never_replaces_a_chunk_made_meanwhile() {
        let d = tempfile::tempdir().unwrap();
        let s = store_with_spares(d.path(), 1);
        let id = FileId { store: 5, seq: 6 };
        let big = (CS / 8) as usize;
        // Another writer made the chunk file behind the index's back (as a concurrent
        // write on another thread can): the rename must fail, the spare go back to the
        // pool, and the data already there survive.
        let mut old = vec![0u8; big];
        old.extend_from_slice(b"already here");
        std::fs::write(s.path(id, 1), &old).unwrap();
        s.write(id, 1, CS, 0, &vec![3u8; big]).unwrap();
        let r = s.read(id, 1, 0, CS as usize).unwrap();
        assert_eq!(r.len(), big + 12);
        assert!(r[..big].iter().all(|&b| b == 3));
        assert_eq!(&r[big..], b"already here");
        assert_eq!(s.spares().unwrap().ready(), 1, "the spare went back");
        assert_eq!(s.untrimmed(), 0);
    }

    #[test]
    fn out_of_space_gives_up_spares_until_a_chunk_is_freed() {
        let d = tempfile::tempdir().unwrap();
        let s = store_with_spares(d.path(), 2);
        let id = FileId { store: 7, seq: 8 };
        s.write(id, 0, CS, 0, b"x").unwrap();
        let pool = s.spares().unwrap();
        assert_eq!(pool.wait_full(Duration::from_secs(30)), 2);
        let r = s.check_space::<()>(Err(FsError::NoSpace("test".into())));
        assert!(
            matches!(r, Err(FsError::NoSpace(_))),
            "the error is passed on"
        );
        assert_eq!(pool.ready(), 0);
        assert_eq!(std::fs::read_dir(pool.dir()).unwrap().count(), 0);
        // Other errors leave the spares alone.
        s.remove(id).unwrap();
        assert_eq!(
            pool.wait_full(Duration::from_secs(30)),
            2,
            "freeing a chunk resumes"
        );
        let _ = s.check_space::<()>(Err(FsError::Io("other".into())));
        assert_eq!(pool.ready(), 2);
    }

    #[test]
    fn dropping_the_store_removes_its_spares() {
        let d = tempfile::tempdir().unwrap();
        let s = store_with_spares(d.path(), 3);
        let dir = s.spares().unwrap().dir().to_path_buf();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        drop(s);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn write_read_truncate_remove_and_reindex() {
        let d = tempfile::tempdir().unwrap();
        let id = FileId { store: 1, seq: 2 };
        let cs = 65536u32;
        {
            let s = ChunkStore::open(d.path(), 2, false).unwrap();
            assert!(s.read(id, 0, 0, 10).unwrap().is_empty());
            for i in 0..4u64 {
                s.write(id, i, CS, 100, &[i as u8 + 1; 50]).unwrap();
            }
            assert!(s.open_files() <= 2);
            let r = s.read(id, 2, 90, 100).unwrap();
            assert_eq!(r.len(), 60);
            assert_eq!(&r[..10], &[0u8; 10]);
            assert_eq!(&r[10..], &[3u8; 50]);
            s.sync(id).unwrap();
            assert_eq!(s.chunk_count(), 4);
        }
        let s = ChunkStore::open(d.path(), 2, false).unwrap();
        assert_eq!(s.chunk_count(), 4);
        s.truncate(id, cs as u64 + 120, cs).unwrap();
        assert_eq!(s.chunk_count(), 2);
        assert_eq!(s.read(id, 1, 0, 1000).unwrap().len(), 120);
        assert!(s.read(id, 2, 0, 1000).unwrap().is_empty());
        s.remove(id).unwrap();
        assert_eq!(s.chunk_count(), 0);
        assert_eq!(
            std::fs::read_dir(d.path().join("chunks")).unwrap().count(),
            0
        );
    }

    #[test]
    fn odirect_store_handles_aligned_and_unaligned_io() {
        // O_DIRECT needs a file system that supports it: use the target directory's.
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let d = tempfile::tempdir_in(base).unwrap();
        let s = match ChunkStore::open(d.path(), 4, true) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let id = FileId { store: 5, seq: 6 };
        let block: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        match s.write(id, 0, CS, 4096, &block) {
            Ok(n) => assert_eq!(n, 8192),
            // A file system without O_DIRECT: nothing more to check here.
            Err(e) if e.errno() == libc::EINVAL => return,
            Err(e) => panic!("{e}"),
        }
        s.write(id, 0, CS, 100, b"unaligned").unwrap();
        assert_eq!(&s.read(id, 0, 100, 9).unwrap()[..], b"unaligned");
        let r = s.read(id, 0, 4096, 16384).unwrap();
        assert_eq!(r.len(), 8192, "short read at the end of the chunk");
        assert_eq!(&r[..], &block[..]);
    }

    #[test]
    fn chunk_names_parse_back() {
        let id = FileId {
            store: u64::MAX,
            seq: 3,
        };
        let n = chunk_file_name(id, 0xabc);
        assert_eq!(parse_chunk_file_name(&n), Some((id, 0xabc)));
        assert_eq!(parse_chunk_file_name("../../etc"), None);
    }
}
