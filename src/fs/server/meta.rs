//! The metadata store of one server: the entries (files and directories) whose path hashes
//! to this server, their attributes, and per-directory indexes of the children it holds.
//!
//! Owns `<data>/meta.log` and `<data>/store_id`. Every change is appended to the log (one
//! checksummed record per change) before the call returns, so a server stopped or killed
//! after a close serves that file again when restarted on the same directory; `sync` makes
//! the log durable against a machine crash. At start the log is replayed (a torn tail is
//! ignored) and compacted (snapshot written, fsynced, renamed over the log). Paths are only
//! keys here: nothing in this module builds a file system path from one. File ids are the
//! store's random 64-bit id plus a sequence number whose high-water mark is logged before
//! use, so an id is never handed out twice.

use super::private;
use crate::fs::error::{FsError, FsResult};
use crate::fs::path::split_parent;
use crate::fs::wire::{
    encode_attr, encode_str, Attr, DirEntry, FileId, FileKind, Reader, SizeMode, MAX_PATH_LEN,
};
use bytes::{BufMut, BytesMut};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use xxhash_rust::xxh3::xxh3_64;

const TAG_PUT: u8 = 1;
const TAG_DEL: u8 = 2;
const TAG_SEQ: u8 = 3;
/// Sequence numbers reserved per log record.
const SEQ_BLOCK: u64 = 4096;
/// Largest log record accepted on replay.
const MAX_RECORD: usize = MAX_PATH_LEN + 256;

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Attributes of the root directory (which every server knows implicitly).
pub fn root_attr() -> Attr {
    Attr {
        id: FileId::default(),
        kind: FileKind::Dir,
        mode: 0o755,
        size: 0,
        chunk_size: 0,
        atime_ns: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    }
}

struct Inner {
    entries: HashMap<String, Attr>,
    children: HashMap<String, BTreeMap<String, FileKind>>,
    store_id: u64,
    next_seq: u64,
    reserved: u64,
    log: File,
}

/// Metadata of one server.
pub struct MetaStore {
    inner: Mutex<Inner>,
}

fn record(tag: u8, path: &str, attr: Option<&Attr>, seq: u64) -> Vec<u8> {
    let mut p = BytesMut::with_capacity(96);
    p.put_u8(tag);
    match tag {
        TAG_SEQ => p.put_u64_le(seq),
        _ => {
            encode_str(&mut p, path);
            if let Some(a) = attr {
                encode_attr(&mut p, a);
            }
        }
    }
    let mut out = Vec::with_capacity(p.len() + 12);
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
    out.extend_from_slice(&xxh3_64(&p).to_le_bytes());
    out
}

impl Inner {
    fn append(&mut self, rec: &[u8]) -> FsResult<()> {
        self.log
            .write_all(rec)
            .map_err(|e| FsError::from_io("append metadata log", &e))
    }

    fn put(&mut self, path: &str, a: Attr) -> FsResult<()> {
        self.append(&record(TAG_PUT, path, Some(&a), 0))?;
        self.apply_put(path, a);
        Ok(())
    }

    fn del(&mut self, path: &str) -> FsResult<()> {
        self.append(&record(TAG_DEL, path, None, 0))?;
        self.apply_del(path);
        Ok(())
    }

    fn apply_put(&mut self, path: &str, a: Attr) {
        if let Some((parent, name)) = split_parent(path) {
            self.children
                .entry(parent.to_string())
                .or_default()
                .insert(name.to_string(), a.kind);
        }
        self.entries.insert(path.to_string(), a);
    }

    fn apply_del(&mut self, path: &str) {
        self.entries.remove(path);
        if let Some((parent, name)) = split_parent(path) {
            if let Some(c) = self.children.get_mut(parent) {
                c.remove(name);
                if c.is_empty() {
                    self.children.remove(parent);
                }
            }
        }
    }

    fn new_id(&mut self) -> FsResult<FileId> {
        if self.next_seq >= self.reserved {
            let r = self.next_seq + SEQ_BLOCK;
            self.append(&record(TAG_SEQ, "", None, r))?;
            self.reserved = r;
        }
        let id = FileId {
            store: self.store_id,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        Ok(id)
    }
}

/// Creates (or truncates) `path` with the server's private file mode.
fn private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(private::FILE_MODE)
        .open(path)
}

fn load_store_id(dir: &Path) -> FsResult<u64> {
    let p = dir.join("store_id");
    match std::fs::read_to_string(&p) {
        Ok(s) => u64::from_str_radix(s.trim(), 16)
            .map_err(|_| FsError::Io(format!("corrupt store id in {}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Never 0: id 0 is the root.
            let id = rand::random::<u64>() | 1;
            let tmp = dir.join("store_id.tmp");
            private_file(&tmp)
                .and_then(|mut f| f.write_all(format!("{id:016x}\n").as_bytes()))
                .map_err(|e| FsError::from_io("write store id", &e))?;
            std::fs::rename(&tmp, &p).map_err(|e| FsError::from_io("rename store id", &e))?;
            Ok(id)
        }
        Err(e) => Err(FsError::from_io("read store id", &e)),
    }
}

/// Replays a log image into entries and the sequence high-water mark; stops at the first
/// torn or corrupt record.
fn replay(data: &[u8]) -> (HashMap<String, Attr>, u64) {
    let mut entries = HashMap::new();
    let mut seq = 1u64;
    let mut pos = 0usize;
    while pos + 4 <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        if len > MAX_RECORD || pos + 4 + len + 8 > data.len() {
            break;
        }
        let p = &data[pos + 4..pos + 4 + len];
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&data[pos + 4 + len..pos + 12 + len]);
        if u64::from_le_bytes(sum) != xxh3_64(p) {
            break;
        }
        let mut r = Reader::new(p);
        let ok = (|| -> FsResult<()> {
            match r.u8()? {
                TAG_PUT => {
                    let path = r.string(MAX_PATH_LEN)?;
                    let a = r.attr()?;
                    entries.insert(path, a);
                }
                TAG_DEL => {
                    let path = r.string(MAX_PATH_LEN)?;
                    entries.remove(&path);
                }
                TAG_SEQ => seq = seq.max(r.u64()?),
                t => return Err(FsError::Protocol(format!("bad log tag {t}"))),
            }
            Ok(())
        })();
        if ok.is_err() {
            break;
        }
        pos += 12 + len;
    }
    (entries, seq)
}

impl MetaStore {
    /// Opens the metadata of `data_dir` (created if absent), replaying and compacting its log.
    pub fn open(data_dir: &Path) -> FsResult<Self> {
        private::make_dir(data_dir, false)?;
        let store_id = load_store_id(data_dir)?;
        let log_path = data_dir.join("meta.log");
        let data = match std::fs::read(&log_path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(FsError::from_io("read metadata log", &e)),
        };
        let (entries, seq) = replay(&data);
        // Compact: a snapshot of the live entries, made durable, then renamed over the log.
        let tmp: PathBuf = data_dir.join("meta.log.tmp");
        let mut snap = Vec::new();
        snap.extend_from_slice(&record(TAG_SEQ, "", None, seq));
        let mut paths: Vec<&String> = entries.keys().collect();
        paths.sort();
        for p in paths {
            snap.extend_from_slice(&record(TAG_PUT, p, entries.get(p), 0));
        }
        {
            let mut f = private_file(&tmp).map_err(|e| FsError::from_io("write snapshot", &e))?;
            f.write_all(&snap)
                .and_then(|_| f.sync_all())
                .map_err(|e| FsError::from_io("write snapshot", &e))?;
        }
        std::fs::rename(&tmp, &log_path).map_err(|e| FsError::from_io("install snapshot", &e))?;
        if let Ok(d) = File::open(data_dir) {
            let _ = d.sync_all();
        }
        let log = OpenOptions::new()
            .append(true)
            .open(&log_path)
            .map_err(|e| FsError::from_io("open metadata log", &e))?;
        let mut inner = Inner {
            entries: HashMap::new(),
            children: HashMap::new(),
            store_id,
            next_seq: seq,
            reserved: seq,
            log,
        };
        for (p, a) in entries {
            inner.apply_put(&p, a);
        }
        Ok(MetaStore {
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> FsResult<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| FsError::Io("metadata lock poisoned".into()))
    }

    /// This store's random id (the high half of the file ids it hands out).
    pub fn store_id(&self) -> u64 {
        self.inner.lock().map(|i| i.store_id).unwrap_or(0)
    }

    /// Attributes of `path`.
    pub fn lookup(&self, path: &str) -> FsResult<Attr> {
        if path == "/" {
            return Ok(root_attr());
        }
        self.lock()?
            .entries
            .get(path)
            .copied()
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    /// Creates file `path`, or opens it if it exists and `exclusive` is false (truncating it
    /// if `truncate`). Returns the attributes, whether it was created, whether truncated.
    pub fn create(
        &self,
        path: &str,
        mode: u32,
        chunk_size: u32,
        exclusive: bool,
        truncate: bool,
    ) -> FsResult<(Attr, bool, bool)> {
        if path == "/" {
            return Err(FsError::IsDir(path.into()));
        }
        let mut g = self.lock()?;
        if let Some(a) = g.entries.get(path).copied() {
            if exclusive {
                return Err(FsError::AlreadyExists(path.into()));
            }
            if a.kind == FileKind::Dir {
                return Err(FsError::IsDir(path.into()));
            }
            if truncate {
                let mut a = a;
                a.size = 0;
                a.mtime_ns = now_ns();
                a.ctime_ns = a.mtime_ns;
                g.put(path, a)?;
                return Ok((a, false, true));
            }
            return Ok((a, false, false));
        }
        let now = now_ns();
        let a = Attr {
            id: g.new_id()?,
            kind: FileKind::File,
            mode: mode & 0o7777,
            size: 0,
            chunk_size,
            atime_ns: now,
            mtime_ns: now,
            ctime_ns: now,
        };
        g.put(path, a)?;
        Ok((a, true, false))
    }

    /// Creates directory `path`.
    pub fn mkdir(&self, path: &str, mode: u32) -> FsResult<Attr> {
        let mut g = self.lock()?;
        if path == "/" || g.entries.contains_key(path) {
            return Err(FsError::AlreadyExists(path.into()));
        }
        let now = now_ns();
        let a = Attr {
            id: g.new_id()?,
            kind: FileKind::Dir,
            mode: mode & 0o7777,
            size: 0,
            chunk_size: 0,
            atime_ns: now,
            mtime_ns: now,
            ctime_ns: now,
        };
        g.put(path, a)?;
        Ok(a)
    }

    /// Removes entry `path` (a directory if `dir`, else a file); if `id` is not the default
    /// id, only if the entry has that id.
    pub fn remove(&self, path: &str, dir: bool, id: FileId) -> FsResult<Attr> {
        if path == "/" {
            return Err(FsError::Busy("cannot remove the root".into()));
        }
        let mut g = self.lock()?;
        let a = g
            .entries
            .get(path)
            .copied()
            .ok_or_else(|| FsError::NotFound(path.into()))?;
        if id != FileId::default() && a.id != id {
            return Err(FsError::NotFound(format!("{path} (replaced)")));
        }
        match (dir, a.kind) {
            (true, FileKind::File) => return Err(FsError::NotDir(path.into())),
            (false, FileKind::Dir) => return Err(FsError::IsDir(path.into())),
            _ => {}
        }
        g.del(path)?;
        Ok(a)
    }

    /// Sets (or extends to) the size of file `path` with id `id`.
    pub fn set_size(&self, path: &str, id: FileId, size: u64, mode: SizeMode) -> FsResult<Attr> {
        let mut g = self.lock()?;
        let mut a = g
            .entries
            .get(path)
            .copied()
            .ok_or_else(|| FsError::NotFound(path.into()))?;
        if a.kind == FileKind::Dir {
            return Err(FsError::IsDir(path.into()));
        }
        if a.id != id {
            return Err(FsError::NotFound(format!("{path} (replaced)")));
        }
        let new = match mode {
            SizeMode::Extend => a.size.max(size),
            SizeMode::Exact => size,
        };
        if new == a.size && mode == SizeMode::Extend {
            return Ok(a);
        }
        a.size = new;
        a.mtime_ns = now_ns();
        a.ctime_ns = a.mtime_ns;
        g.put(path, a)?;
        Ok(a)
    }

    /// Entries of directory `path` held here, after `after`, at most `max`; and whether
    /// more follow.
    pub fn readdir(&self, path: &str, after: &str, max: usize) -> FsResult<(Vec<DirEntry>, bool)> {
        let g = self.lock()?;
        let Some(c) = g.children.get(path) else {
            return Ok((Vec::new(), false));
        };
        let mut it = c
            .range::<str, _>((
                if after.is_empty() {
                    std::ops::Bound::Unbounded
                } else {
                    std::ops::Bound::Excluded(after)
                },
                std::ops::Bound::Unbounded,
            ))
            .map(|(n, k)| DirEntry {
                name: n.clone(),
                kind: *k,
            });
        let out: Vec<DirEntry> = it.by_ref().take(max).collect();
        let more = it.next().is_some();
        Ok((out, more))
    }

    /// Entries under directory `path` at any depth, in path order, after `after`: at most
    /// `max` entries and about `max_bytes` of paths; and whether more follow. A scan of
    /// every entry held (rename of a directory is rare).
    pub fn list_tree(
        &self,
        path: &str,
        after: &str,
        max: usize,
        max_bytes: usize,
    ) -> FsResult<(Vec<(String, Attr)>, bool)> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        let g = self.lock()?;
        let mut all: Vec<(&String, &Attr)> = g
            .entries
            .iter()
            .filter(|(p, _)| p.starts_with(&prefix) && p.as_str() > after)
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (p, a) in &all {
            if out.len() >= max || (bytes > 0 && bytes + p.len() + 64 > max_bytes) {
                return Ok((out, true));
            }
            bytes += p.len() + 64;
            out.push(((*p).clone(), **a));
        }
        Ok((out, false))
    }

    /// Inserts `attr` at `path` (a rename target). An existing entry of the same kind is
    /// replaced and returned; a directory over a file gives ENOTDIR, a file over a directory
    /// EISDIR.
    pub fn insert(&self, path: &str, attr: Attr) -> FsResult<Option<Attr>> {
        if path == "/" {
            return Err(FsError::Busy("cannot replace the root".into()));
        }
        let mut g = self.lock()?;
        let old = g.entries.get(path).copied();
        if let Some(o) = old {
            match (o.kind, attr.kind) {
                (FileKind::Dir, FileKind::File) => return Err(FsError::IsDir(path.into())),
                (FileKind::File, FileKind::Dir) => return Err(FsError::NotDir(path.into())),
                _ => {}
            }
        }
        let mut a = attr;
        a.ctime_ns = now_ns();
        g.put(path, a)?;
        Ok(old.filter(|o| o.id != attr.id))
    }

    /// Flushes the log to stable storage.
    pub fn sync(&self) -> FsResult<()> {
        self.lock()?
            .log
            .sync_data()
            .map_err(|e| FsError::from_io("fsync metadata log", &e))
    }

    /// Number of entries held.
    pub fn entry_count(&self) -> u64 {
        self.inner
            .lock()
            .map(|g| g.entries.len() as u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_restart_and_ids_are_not_reused() {
        let d = tempfile::tempdir().unwrap();
        let (id1, sid) = {
            let m = MetaStore::open(d.path()).unwrap();
            m.mkdir("/d", 0o755).unwrap();
            let (a, created, _) = m.create("/d/f", 0o644, 65536, true, false).unwrap();
            assert!(created);
            m.set_size("/d/f", a.id, 100, SizeMode::Extend).unwrap();
            m.set_size("/d/f", a.id, 50, SizeMode::Extend).unwrap();
            let (g, _, _) = m.create("/g", 0o644, 65536, false, false).unwrap();
            m.remove("/g", false, g.id).unwrap();
            (a.id, m.store_id())
        };
        let m = MetaStore::open(d.path()).unwrap();
        assert_eq!(m.store_id(), sid);
        let a = m.lookup("/d/f").unwrap();
        assert_eq!((a.id, a.size, a.chunk_size), (id1, 100, 65536));
        assert_eq!(m.lookup("/g").unwrap_err().errno(), libc::ENOENT);
        let (b, _, _) = m.create("/h", 0o644, 65536, true, false).unwrap();
        assert!(b.id.seq > id1.seq + 1, "sequence reused: {b:?}");
        let (ents, more) = m.readdir("/d", "", 10).unwrap();
        assert_eq!(ents.len(), 1);
        assert!(!more);
    }

    #[test]
    fn torn_log_tail_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        {
            let m = MetaStore::open(d.path()).unwrap();
            m.create("/a", 0o644, 65536, true, false).unwrap();
        }
        let p = d.path().join("meta.log");
        let mut data = std::fs::read(&p).unwrap();
        data.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
        std::fs::write(&p, data).unwrap();
        let m = MetaStore::open(d.path()).unwrap();
        assert!(m.lookup("/a").is_ok());
    }

    #[test]
    fn errors() {
        let d = tempfile::tempdir().unwrap();
        let m = MetaStore::open(d.path()).unwrap();
        m.mkdir("/d", 0o755).unwrap();
        assert_eq!(m.mkdir("/d", 0o755).unwrap_err().errno(), libc::EEXIST);
        assert_eq!(
            m.create("/d", 0, 65536, false, false).unwrap_err().errno(),
            libc::EISDIR
        );
        m.create("/f", 0, 65536, false, false).unwrap();
        assert_eq!(
            m.create("/f", 0, 65536, true, false).unwrap_err().errno(),
            libc::EEXIST
        );
        assert_eq!(
            m.remove("/f", true, FileId::default()).unwrap_err().errno(),
            libc::ENOTDIR
        );
        assert_eq!(
            m.remove("/d", false, FileId::default())
                .unwrap_err()
                .errno(),
            libc::EISDIR
        );
        assert_eq!(
            m.remove("/", true, FileId::default()).unwrap_err().errno(),
            libc::EBUSY
        );
        let mut names: Vec<String> = Vec::new();
        for i in 0..5 {
            m.create(&format!("/d/x{i}"), 0, 65536, false, false)
                .unwrap();
        }
        let mut after = String::new();
        loop {
            let (e, more) = m.readdir("/d", &after, 2).unwrap();
            names.extend(e.iter().map(|e| e.name.clone()));
            after = names.last().cloned().unwrap_or_default();
            if !more {
                break;
            }
        }
        assert_eq!(names, vec!["x0", "x1", "x2", "x3", "x4"]);
    }
}
