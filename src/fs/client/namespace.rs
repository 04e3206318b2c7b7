//! The namespace operations of a client: stat, open and create, unlink, mkdir, rmdir,
//! readdir, rename, truncate, statfs, settle and sync_all.
//!
//! Owns what each operation asks of which server, in which order (entries live on the
//! server their path hashes to; readdir and the emptiness check of rmdir ask every server;
//! a create or mkdir checks the parent in the same round trip as it makes the entry).
//! File data is [`super::handle`]'s; connections and fan-out are reached only through
//! [`Client`]'s call methods. Must not import server code.

use super::connections::Client;
use super::handle::FileHandle;
use super::options::OpenFlags;
use crate::fs::error::{FsError, FsResult};
use crate::fs::path::{normalize, split_parent};
use crate::fs::wire::{
    check_chunk_size, Attr, DirEntry, FileId, FileKind, Request, Response, SizeMode, StatFs,
    MAX_DIR_BATCH, MAX_SETTLE_MS,
};
use std::time::Duration;

/// Capacity over every server: storage shared by several servers (same device on one
/// machine) counted once; `entries` and `chunks` summed over servers; `device` 0.
pub type FsStat = StatFs;

fn expect_attr(r: Response) -> FsResult<Attr> {
    match r {
        Response::Attr(a) => Ok(a),
        other => Err(FsError::Protocol(format!("unexpected reply {other:?}"))),
    }
}

impl Client {
    pub(super) async fn lookup_norm(&self, path: &str) -> FsResult<Attr> {
        let s = self.placement().meta_server(path);
        expect_attr(
            self.call_resp(
                s,
                &Request::Lookup {
                    path: path.to_string(),
                },
            )
            .await?,
        )
    }

    /// Fails with ENOENT if the parent of `path` does not exist, ENOTDIR if it is a file.
    async fn check_parent(&self, path: &str) -> FsResult<()> {
        match split_parent(path) {
            None => Err(FsError::Busy("the root has no parent".into())),
            Some(("/", _)) => Ok(()),
            Some((parent, _)) => match self.lookup_norm(parent).await {
                Ok(a) if a.kind == FileKind::Dir => Ok(()),
                Ok(_) => Err(FsError::NotDir(parent.to_string())),
                Err(FsError::NotFound(_)) => Err(FsError::NotFound(format!("parent of {path}"))),
                Err(e) => Err(e),
            },
        }
    }

    /// Runs `make`, the request that creates the entry `path`, beside the check of its
    /// parent ([`Client::check_parent`]): both calls are in flight at once, so a create
    /// costs one round trip, not two. When the parent check fails, its error is returned
    /// (as if it had run first), and an entry `make` created is removed again, by its id
    /// (`made` names it: is it a directory, and its id), so that nothing another client
    /// put there meanwhile is touched.
    async fn beside_parent_check<T>(
        &self,
        path: &str,
        make: impl std::future::Future<Output = FsResult<T>>,
        made: impl FnOnce(&T) -> Option<(bool, FileId)>,
    ) -> FsResult<T> {
        // Both are polled at every wake-up (tokio's `join!` may leave the second unpolled
        // once the task's budget is spent, which would send it a round trip later).
        let (parent, made_it) = futures::future::join(self.check_parent(path), make).await;
        let Err(e) = parent else {
            return made_it;
        };
        if let Some((dir, id)) = made_it.as_ref().ok().and_then(made) {
            let s = self.placement().meta_server(path);
            let undo = Request::Remove {
                path: path.to_string(),
                dir,
                id,
            };
            if let Err(u) = self.call_resp(s, &undo).await {
                tracing::warn!("{path} was made in a missing parent and stays: {u}");
            }
        }
        Err(e)
    }

    /// Attributes of `path` (for a file, the size as of its last close, fsync or truncate).
    pub async fn stat(&self, path: &str) -> FsResult<Attr> {
        let p = normalize(path)?;
        self.lookup_norm(&p).await
    }

    /// Opens (or creates) a file.
    pub async fn open(&self, path: &str, flags: OpenFlags) -> FsResult<FileHandle> {
        let p = normalize(path)?;
        if !flags.read && !flags.write {
            return Err(FsError::InvalidArgument(
                "open for neither read nor write".into(),
            ));
        }
        if (flags.truncate || flags.append) && !flags.write {
            return Err(FsError::InvalidArgument(
                "truncate or append without write".into(),
            ));
        }
        if flags.exclusive && !flags.create {
            return Err(FsError::InvalidArgument("exclusive without create".into()));
        }
        if p == "/" {
            return Err(FsError::IsDir(p));
        }
        let meta = self.placement().meta_server(&p);
        let attr = if flags.create {
            // The client's own chunk size was checked when it was built.
            let cs = match flags.chunk_size {
                Some(cs) => check_chunk_size(cs)?,
                None => self.chunk_size(),
            };
            let create = Request::Create {
                path: p.clone(),
                mode: flags.mode,
                chunk_size: cs,
                exclusive: flags.exclusive,
                truncate: flags.truncate,
            };
            let r = if flags.truncate {
                // A truncation is not undone: the parent is checked first.
                self.check_parent(&p).await?;
                self.call_resp(meta, &create).await?
            } else {
                let created = |r: &Response| match r {
                    Response::Created {
                        attr,
                        created: true,
                        ..
                    } => Some((false, attr.id)),
                    _ => None,
                };
                self.beside_parent_check(&p, self.call_resp(meta, &create), created)
                    .await?
            };
            match r {
                Response::Created {
                    attr, truncated, ..
                } => {
                    if truncated {
                        self.broadcast(Request::TruncateChunks {
                            id: attr.id,
                            size: 0,
                            chunk_size: attr.chunk_size,
                        })
                        .await?;
                    }
                    attr
                }
                other => return Err(FsError::Protocol(format!("unexpected reply {other:?}"))),
            }
        } else {
            let a = self.lookup_norm(&p).await?;
            if a.kind == FileKind::Dir {
                return Err(FsError::IsDir(p));
            }
            if flags.truncate {
                // Also drops chunks of writers that have not closed yet.
                self.truncate_attr(&p, a, 0).await?
            } else {
                a
            }
        };
        if attr.kind == FileKind::Dir {
            return Err(FsError::IsDir(p));
        }
        Ok(FileHandle::new(self.clone(), p, attr, flags))
    }

    /// Creates `path` for writing (`O_RDWR|O_CREAT|O_TRUNC`).
    pub async fn create(&self, path: &str) -> FsResult<FileHandle> {
        self.open(path, OpenFlags::create_truncate()).await
    }

    /// Removes file `path` and every one of its chunks.
    pub async fn unlink(&self, path: &str) -> FsResult<()> {
        let p = normalize(path)?;
        let s = self.placement().meta_server(&p);
        let a = expect_attr(
            self.call_resp(
                s,
                &Request::Remove {
                    path: p,
                    dir: false,
                    id: FileId::default(),
                },
            )
            .await?,
        )?;
        self.remove_chunks(a.id).await
    }

    /// Removes every chunk of file `id` from every server: not only those below the size
    /// published at close (a write that failed, or a writer that died, leaves chunks beyond
    /// it). Servers holding none of the file answer at once.
    async fn remove_chunks(&self, id: FileId) -> FsResult<()> {
        self.broadcast(Request::RemoveChunks { id })
            .await
            .map(|_| ())
    }

    /// The ids of every file in the cluster (every server's entries), for reclaiming the
    /// chunks of files that no longer exist.
    pub async fn file_ids(&self) -> FsResult<std::collections::HashSet<FileId>> {
        Ok(self
            .list_tree("/")
            .await?
            .into_iter()
            .filter(|(_, a)| a.kind == FileKind::File)
            .map(|(_, a)| a.id)
            .collect())
    }

    /// Creates directory `path` (its parent must exist).
    pub async fn mkdir(&self, path: &str, mode: u32) -> FsResult<()> {
        let p = normalize(path)?;
        if p == "/" {
            return Err(FsError::AlreadyExists(p));
        }
        let s = self.placement().meta_server(&p);
        let mkdir = Request::Mkdir {
            path: p.clone(),
            mode,
        };
        let made = |r: &Response| match r {
            Response::Attr(a) => Some((true, a.id)),
            _ => None,
        };
        self.beside_parent_check(&p, self.call_resp(s, &mkdir), made)
            .await?;
        Ok(())
    }

    async fn has_entries(&self, dir: &str) -> FsResult<bool> {
        let replies = self
            .broadcast(Request::ReadDir {
                path: dir.to_string(),
                after: String::new(),
                max: 1,
            })
            .await?;
        Ok(replies
            .iter()
            .any(|r| matches!(r, Response::Dir { entries, .. } if !entries.is_empty())))
    }

    /// Every entry under directory `dir` (any depth, every server), sorted by path.
    async fn list_tree(&self, dir: &str) -> FsResult<Vec<(String, Attr)>> {
        let mut all = self.list_tree_share(dir, 0, 1).await?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// Share `share` of `of` of the entries under directory `dir` (any depth, with their
    /// attributes, unsorted): those the servers `s` with `s % of == share` hold. Every entry
    /// is held by one server, so the shares of `0..of` together list each entry once (a
    /// parallel find's ranks each take one; a share may be empty when `of` exceeds the
    /// servers).
    pub async fn list_tree_share(
        &self,
        dir: &str,
        share: usize,
        of: usize,
    ) -> FsResult<Vec<(String, Attr)>> {
        let dir = normalize(dir)?;
        let of = of.max(1);
        let servers: Vec<usize> = (0..self.server_count())
            .filter(|s| s % of == share)
            .collect();
        self.page_servers(
            servers,
            move |after| Request::ListTree {
                path: dir.clone(),
                after,
                max: MAX_DIR_BATCH,
            },
            |r| match r {
                Response::Tree { entries, more } => Ok((entries, more)),
                _ => Err(FsError::Protocol("unexpected reply to ListTree".into())),
            },
            |e: &(String, Attr)| e.0.clone(),
        )
        .await
    }

    /// Removes the empty directory `path` (ENOTEMPTY if any server holds an entry in it).
    pub async fn rmdir(&self, path: &str) -> FsResult<()> {
        let p = normalize(path)?;
        if p == "/" {
            return Err(FsError::Busy("cannot remove the root".into()));
        }
        let a = self.lookup_norm(&p).await?;
        if a.kind != FileKind::Dir {
            return Err(FsError::NotDir(p));
        }
        if self.has_entries(&p).await? {
            return Err(FsError::NotEmpty(p));
        }
        let s = self.placement().meta_server(&p);
        self.call_resp(
            s,
            &Request::Remove {
                path: p,
                dir: true,
                id: a.id,
            },
        )
        .await?;
        Ok(())
    }

    /// Every entry of directory `path`, from every server, sorted by name.
    pub async fn readdir(&self, path: &str) -> FsResult<Vec<DirEntry>> {
        let p = normalize(path)?;
        let a = self.lookup_norm(&p).await?;
        if a.kind != FileKind::Dir {
            return Err(FsError::NotDir(p));
        }
        let path = p.clone();
        let mut all = self
            .page_all_servers(
                move |after| Request::ReadDir {
                    path: path.clone(),
                    after,
                    max: MAX_DIR_BATCH,
                },
                |r| match r {
                    Response::Dir { entries, more } => Ok((entries, more)),
                    _ => Err(FsError::Protocol("unexpected reply to ReadDir".into())),
                },
                |e: &DirEntry| e.name.clone(),
            )
            .await?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Renames `from` to `to`. A file keeps its id, so every chunk stays reachable; a file
    /// replaced at `to` is removed with its chunks. A directory moves with everything under
    /// it (each entry is re-inserted on the server its new path hashes to, then the old
    /// entries are removed; not atomic against concurrent calls in that tree).
    pub async fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        let from = normalize(from)?;
        let to = normalize(to)?;
        if from == "/" || to == "/" {
            return Err(FsError::Busy("cannot rename the root".into()));
        }
        let src = self.lookup_norm(&from).await?;
        if from == to {
            return Ok(());
        }
        if src.kind == FileKind::Dir && to.starts_with(&format!("{from}/")) {
            return Err(FsError::InvalidArgument(format!(
                "cannot move {from} into itself"
            )));
        }
        self.check_parent(&to).await?;
        // A directory's entries live on the servers their own paths hash to: they all move.
        let tree = if src.kind == FileKind::Dir {
            self.list_tree(&from).await?
        } else {
            Vec::new()
        };
        match self.lookup_norm(&to).await {
            Ok(dst) => match (src.kind, dst.kind) {
                (FileKind::File, FileKind::Dir) => return Err(FsError::IsDir(to)),
                (FileKind::Dir, FileKind::File) => return Err(FsError::NotDir(to)),
                (FileKind::Dir, FileKind::Dir) if self.has_entries(&to).await? => {
                    return Err(FsError::NotEmpty(to));
                }
                _ => {}
            },
            Err(FsError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let dst_server = self.placement().meta_server(&to);
        let replaced = match self
            .call_resp(
                dst_server,
                &Request::Insert {
                    path: to.clone(),
                    attr: src,
                },
            )
            .await?
        {
            Response::Replaced(r) => r,
            other => return Err(FsError::Protocol(format!("unexpected reply {other:?}"))),
        };
        // Parents sort before their children: insert in order, remove in reverse.
        for (p, a) in &tree {
            let np = format!("{to}{}", &p[from.len()..]);
            let s = self.placement().meta_server(&np);
            self.call_resp(s, &Request::Insert { path: np, attr: *a })
                .await?;
        }
        for (p, a) in tree.iter().rev() {
            let s = self.placement().meta_server(p);
            self.call_resp(
                s,
                &Request::Remove {
                    path: p.clone(),
                    dir: a.kind == FileKind::Dir,
                    id: a.id,
                },
            )
            .await?;
        }
        let src_server = self.placement().meta_server(&from);
        self.call_resp(
            src_server,
            &Request::Remove {
                path: from,
                dir: src.kind == FileKind::Dir,
                id: src.id,
            },
        )
        .await?;
        if let Some(old) = replaced {
            if old.kind == FileKind::File {
                self.remove_chunks(old.id).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn truncate_attr(&self, p: &str, a: Attr, size: u64) -> FsResult<Attr> {
        let s = self.placement().meta_server(p);
        let na = expect_attr(
            self.call_resp(
                s,
                &Request::SetSize {
                    path: p.to_string(),
                    id: a.id,
                    size,
                    mode: SizeMode::Exact,
                },
            )
            .await?,
        )?;
        // Chunks from the one containing the new end up to the old end change.
        let cs = (a.chunk_size as u64).max(1);
        let end = Self::chunks_for(a.size, a.chunk_size);
        if size < a.size {
            let holders = self.chunk_holders(a.id, size / cs, end);
            self.multicast(
                holders,
                Request::TruncateChunks {
                    id: a.id,
                    size,
                    chunk_size: a.chunk_size,
                },
            )
            .await?;
        }
        Ok(na)
    }

    /// Sets the size of file `path`: chunks beyond it are dropped on every server, the one
    /// containing it is shortened; growing leaves a hole that reads as zeros.
    pub async fn truncate(&self, path: &str, size: u64) -> FsResult<()> {
        let p = normalize(path)?;
        let a = self.lookup_norm(&p).await?;
        if a.kind == FileKind::Dir {
            return Err(FsError::IsDir(p));
        }
        self.truncate_attr(&p, a, size).await.map(|_| ())
    }

    /// Capacity and usage summed over every server.
    pub async fn statfs(&self) -> FsResult<FsStat> {
        let mut sum = StatFs::default();
        let mut devices = std::collections::HashSet::new();
        for r in self.broadcast(Request::StatFs).await? {
            if let Response::StatFs(s) = r {
                sum.entries += s.entries;
                sum.chunks += s.chunks;
                if devices.insert(s.device) {
                    sum.total_bytes += s.total_bytes;
                    sum.free_bytes += s.free_bytes;
                    sum.avail_bytes += s.avail_bytes;
                    sum.files += s.files;
                    sum.files_free += s.files_free;
                }
            }
        }
        Ok(sum)
    }

    /// Waits until every server has its spare chunk files ready, so that a timed write
    /// that follows finds storage allocated ahead instead of allocating it while data
    /// arrives (see `server::spare`). A server fills its pool only once it has been idle
    /// for a moment: call this when no other client is writing. Each server waits at most
    /// `wait` (and at most [`MAX_SETTLE_MS`]); a server whose pool cannot fill (out of
    /// space, no preallocation, pool turned off) answers at once.
    pub async fn settle(&self, wait: Duration) -> FsResult<()> {
        // Answered well within the call timeout.
        let wait = wait.min(self.options().timeout * 3 / 4);
        let wait_ms = wait.as_millis().min(MAX_SETTLE_MS as u128) as u32;
        self.broadcast(Request::Settle { wait_ms })
            .await
            .map(|_| ())
    }

    /// Flushes the metadata of every server to stable storage.
    pub async fn sync_all(&self) -> FsResult<()> {
        self.broadcast(Request::SyncMeta).await.map(|_| ())
    }
}
