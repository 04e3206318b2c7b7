//! The file handle of a client: [`FileHandle`] with positioned and cursor reads and writes,
//! fsync, fstat, set_len and close.
//!
//! Owns what a handle knows of its file (the size at open, the end of what it wrote, the
//! servers it wrote to, the cursor) and the close-to-open rule: the size of what was
//! written is published to the metadata server on close and fsync (or, best effort, when
//! the last clone is dropped). Data goes straight to the chunk servers, split into
//! [`super::pieces`]. `write_at` copies the caller's slice once; `write_at_bytes` and
//! `write_io` do not. `read_at` copies each reply into the caller's slice; `read_io` lets
//! the transport receive replies straight into an I/O buffer where it can. Copies are
//! counted in the transport's [`COPY_STATS`].
//! Must not import server code.

use super::connections::Client;
use super::options::OpenFlags;
use super::pieces::{pieces, Piece};
use crate::fs::error::{FsError, FsResult};
use crate::fs::transport::io_buffer::{IoSlice, COPY_STATS};
use crate::fs::wire::{Attr, FileId, Request, SizeMode};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;

struct HandleInner {
    client: Client,
    path: String,
    attr: Attr,
    flags: OpenFlags,
    size_at_open: AtomicU64,
    written_end: AtomicU64,
    dirty: AtomicBool,
    touched: Mutex<BTreeSet<usize>>,
    closed: AtomicBool,
    pos: AtomicU64,
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        // A handle dropped without close still publishes what it wrote, if a runtime is
        // there to do it (best effort; close reports errors, this cannot).
        if self.closed.load(Ordering::Acquire) || !self.dirty.load(Ordering::Acquire) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let c = self.client.clone();
        let req = Request::SetSize {
            path: self.path.clone(),
            id: self.attr.id,
            size: self.written_end.load(Ordering::Acquire),
            mode: SizeMode::Extend,
        };
        rt.spawn(async move {
            let s = c.placement().meta_server(match &req {
                Request::SetSize { path, .. } => path,
                _ => "/",
            });
            let _ = c.call_resp(s, &req).await;
        });
    }
}

/// An open file. Clones share the handle (and its cursor); `Send + Sync`, so many tasks
/// may read and write one handle at different offsets concurrently. Call
/// [`FileHandle::close`] to publish the size of what was written (close-to-open).
#[derive(Clone)]
pub struct FileHandle {
    inner: Arc<HandleInner>,
}

impl std::fmt::Debug for FileHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileHandle")
            .field("path", &self.inner.path)
            .field("id", &self.inner.attr.id)
            .finish()
    }
}

impl FileHandle {
    /// A handle on the file `path` (normalised) with attributes `attr`, opened with `flags`.
    pub(super) fn new(client: Client, path: String, attr: Attr, flags: OpenFlags) -> Self {
        FileHandle {
            inner: Arc::new(HandleInner {
                client,
                path,
                attr,
                flags,
                written_end: AtomicU64::new(0),
                dirty: AtomicBool::new(false),
                touched: Mutex::new(BTreeSet::new()),
                closed: AtomicBool::new(false),
                pos: AtomicU64::new(0),
                size_at_open: AtomicU64::new(attr.size),
            }),
        }
    }

    /// The path it was opened with (normalised).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The file's id.
    pub fn id(&self) -> FileId {
        self.inner.attr.id
    }

    /// The file's chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.inner.attr.chunk_size
    }

    fn check_open(&self) -> FsResult<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(FsError::BadHandle(format!("{} is closed", self.inner.path)));
        }
        Ok(())
    }

    /// The end of the file as this handle knows it.
    fn known_size(&self) -> u64 {
        self.inner
            .size_at_open
            .load(Ordering::Acquire)
            .max(self.inner.written_end.load(Ordering::Acquire))
    }

    /// Writes `data` at `offset`; returns the number of bytes written (all of them).
    pub async fn write_at(&self, offset: u64, data: &[u8]) -> FsResult<usize> {
        COPY_STATS.staged(data.len());
        self.write_at_bytes(offset, Bytes::copy_from_slice(data))
            .await
    }

    /// Writes the bytes of I/O buffer range `data` at `offset`, sent from the buffer itself
    /// (with its registration, over UCX). The bytes must not change until the call is over.
    pub async fn write_io(&self, offset: u64, data: &IoSlice) -> FsResult<usize> {
        self.write_at_bytes(offset, data.to_bytes()).await
    }

    /// Writes `data` at `offset` without copying it.
    pub async fn write_at_bytes(&self, offset: u64, data: Bytes) -> FsResult<usize> {
        self.check_open()?;
        if !self.inner.flags.write {
            return Err(FsError::BadHandle(format!(
                "{} is not open for writing",
                self.inner.path
            )));
        }
        let len = data.len();
        let end = offset
            .checked_add(len as u64)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or_else(|| FsError::FileTooLarge(format!("write at {offset}")))?;
        if len == 0 {
            return Ok(0);
        }
        let c = &self.inner.client;
        let id = self.inner.attr.id;
        let chunk_size = self.inner.attr.chunk_size;
        let ps = pieces(offset, len, chunk_size, c.options().tuning.write_piece);
        let servers: Vec<usize> = ps
            .iter()
            .map(|p| c.placement().chunk_server(id, p.chunk))
            .collect();
        if let Ok(mut t) = self.inner.touched.lock() {
            t.extend(servers.iter().copied());
        }
        let write_piece = |(p, s): (Piece, usize)| {
            let req = Request::Write {
                id,
                chunk: p.chunk,
                offset: p.in_chunk,
                chunk_size,
            };
            let bulk = data.slice(p.buf_off..p.buf_off + p.len);
            async move { c.call(s, &req, bulk).await.map(|_| ()) }
        };
        if let [p] = ps[..] {
            write_piece((p, servers[0])).await?;
        } else {
            // The pieces are driven by this task (no task per piece: a spawned task is one
            // more cross-thread wake-up per call on the path of every write).
            futures::future::try_join_all(ps.into_iter().zip(servers).map(write_piece)).await?;
        }
        self.inner.written_end.fetch_max(end, Ordering::AcqRel);
        self.inner.dirty.store(true, Ordering::Release);
        Ok(len)
    }

    /// Reads into `buf` from `offset`; returns the bytes read, fewer than asked at the end
    /// of the file (0 at or past it). Holes read as zeros.
    pub async fn read_at(&self, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        self.read_to(offset, ReadDest::Memory(buf)).await
    }

    /// As [`FileHandle::read_at`], into I/O buffer range `buf`: the transport receives each
    /// reply straight into it where it can (UCX; TCP for replies of 32 KiB or more), else it
    /// is copied there. If the read fails early (a timeout), a reply still on its way may yet
    /// be written into `buf`.
    pub async fn read_io(&self, offset: u64, buf: &IoSlice) -> FsResult<usize> {
        self.read_to(offset, ReadDest::Io(buf)).await
    }

    async fn read_to(&self, offset: u64, mut dest: ReadDest<'_>) -> FsResult<usize> {
        self.check_open()?;
        if !self.inner.flags.read {
            return Err(FsError::BadHandle(format!(
                "{} is not open for reading",
                self.inner.path
            )));
        }
        let size = self.known_size();
        if offset >= size || dest.is_empty() {
            return Ok(0);
        }
        let len = ((size - offset) as usize).min(dest.len());
        let c = &self.inner.client;
        let id = self.inner.attr.id;
        let ps = pieces(
            offset,
            len,
            self.inner.attr.chunk_size,
            c.options().tuning.read_piece,
        );
        let io = dest.io();
        let read_piece = |p: Piece| {
            let into = io.and_then(|b| b.sub(p.buf_off..p.buf_off + p.len));
            async move {
                let s = c.placement().chunk_server(id, p.chunk);
                let req = Request::Read {
                    id,
                    chunk: p.chunk,
                    offset: p.in_chunk,
                    len: p.len as u32,
                };
                let r = match into {
                    Some(d) => c.call_into(s, &req, d).await?,
                    None => c.call(s, &req, Bytes::new()).await?,
                };
                Ok::<_, FsError>((p, r.bulk))
            }
        };
        if let [p] = ps[..] {
            let (p, data) = read_piece(p).await?;
            dest.fill(&p, &data);
        } else {
            for (p, data) in futures::future::try_join_all(ps.into_iter().map(read_piece)).await? {
                dest.fill(&p, &data);
            }
        }
        Ok(len)
    }

    /// Reads `len` bytes (or up to the end of the file) from `offset` into a new buffer.
    pub async fn read_vec(&self, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        let mut v = vec![0u8; len];
        let n = self.read_at(offset, &mut v).await?;
        v.truncate(n);
        Ok(v)
    }

    /// Writes at the cursor (at the end of the file in append mode) and advances it.
    pub async fn write(&self, data: &[u8]) -> FsResult<usize> {
        let off = if self.inner.flags.append {
            self.known_size()
        } else {
            self.inner
                .pos
                .fetch_add(data.len() as u64, Ordering::AcqRel)
        };
        let n = self.write_at(off, data).await?;
        if self.inner.flags.append {
            self.inner.pos.store(off + n as u64, Ordering::Release);
        }
        Ok(n)
    }

    /// Reads at the cursor and advances it by the bytes read.
    pub async fn read(&self, buf: &mut [u8]) -> FsResult<usize> {
        let off = self.inner.pos.load(Ordering::Acquire);
        let n = self.read_at(off, buf).await?;
        self.inner.pos.fetch_add(n as u64, Ordering::AcqRel);
        Ok(n)
    }

    /// Moves the cursor to `pos`.
    pub fn seek(&self, pos: u64) {
        self.inner.pos.store(pos, Ordering::Release);
    }

    async fn publish_size(&self) -> FsResult<()> {
        if !self.inner.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let c = &self.inner.client;
        let s = c.placement().meta_server(&self.inner.path);
        let r = c
            .call_resp(
                s,
                &Request::SetSize {
                    path: self.inner.path.clone(),
                    id: self.inner.attr.id,
                    size: self.inner.written_end.load(Ordering::Acquire),
                    mode: SizeMode::Extend,
                },
            )
            .await;
        if r.is_err() {
            self.inner.dirty.store(true, Ordering::Release);
        }
        r.map(|_| ())
    }

    /// Makes everything written through this handle durable: its chunks on every server it
    /// wrote to, and the file's size in the metadata log.
    pub async fn fsync(&self) -> FsResult<()> {
        self.check_open()?;
        let c = &self.inner.client;
        let touched: Vec<usize> = self
            .inner
            .touched
            .lock()
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default();
        let id = self.inner.attr.id;
        let mut set = JoinSet::new();
        for s in touched {
            let c = c.clone();
            set.spawn(async move { c.call_resp(s, &Request::SyncChunks { id }).await });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| FsError::Io(format!("task failed: {e}")))??;
        }
        self.publish_size().await?;
        let s = c.placement().meta_server(&self.inner.path);
        c.call_resp(s, &Request::SyncMeta).await?;
        Ok(())
    }

    /// Attributes of the open file, with the size including this handle's writes.
    pub async fn fstat(&self) -> FsResult<Attr> {
        self.check_open()?;
        let mut a = self.inner.client.lookup_norm(&self.inner.path).await?;
        if a.id == self.inner.attr.id {
            a.size = a.size.max(self.inner.written_end.load(Ordering::Acquire));
        } else {
            a = self.inner.attr;
            a.size = self.known_size();
        }
        Ok(a)
    }

    /// Sets the size of the open file (as [`Client::truncate`]).
    pub async fn set_len(&self, size: u64) -> FsResult<()> {
        self.check_open()?;
        if !self.inner.flags.write {
            return Err(FsError::BadHandle(format!(
                "{} is not open for writing",
                self.inner.path
            )));
        }
        let c = &self.inner.client;
        // The chunks to drop reach as far as anyone published or this handle wrote.
        let mut a = self.inner.attr;
        a.size = self.known_size();
        if let Ok(now) = c.lookup_norm(&self.inner.path).await {
            if now.id == a.id {
                a.size = a.size.max(now.size);
            }
        }
        c.truncate_attr(&self.inner.path, a, size).await?;
        self.inner.written_end.fetch_min(size, Ordering::AcqRel);
        self.inner.size_at_open.store(size, Ordering::Release);
        Ok(())
    }

    /// Closes the handle, publishing the size of what it wrote. Later calls on any clone
    /// fail with EBADF.
    pub async fn close(&self) -> FsResult<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Err(FsError::BadHandle(format!("{} is closed", self.inner.path)));
        }
        self.publish_size().await
    }
}

/// Where the data of a read goes.
enum ReadDest<'a> {
    /// The caller's memory: replies are copied into it.
    Memory(&'a mut [u8]),
    /// An I/O buffer range: replies the transport received in place stay where they are.
    Io(&'a IoSlice),
}

impl ReadDest<'_> {
    fn len(&self) -> usize {
        match self {
            ReadDest::Memory(b) => b.len(),
            ReadDest::Io(s) => s.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn io(&self) -> Option<&IoSlice> {
        match self {
            ReadDest::Memory(_) => None,
            ReadDest::Io(s) => Some(s),
        }
    }

    /// Puts the reply `data` of piece `p` in place (zeros past a short reply: a hole or
    /// the end of a chunk).
    fn fill(&mut self, p: &Piece, data: &[u8]) {
        let n = data.len().min(p.len);
        match self {
            ReadDest::Memory(buf) => {
                buf[p.buf_off..p.buf_off + n].copy_from_slice(&data[..n]);
                buf[p.buf_off + n..p.buf_off + p.len].fill(0);
                COPY_STATS.staged(n);
            }
            ReadDest::Io(s) => {
                if let Some(t) = s.sub(p.buf_off..p.buf_off + p.len) {
                    if t.holds(data) {
                        t.zero_from(n);
                    } else {
                        t.fill_from(&data[..n]);
                    }
                }
            }
        }
    }
}
