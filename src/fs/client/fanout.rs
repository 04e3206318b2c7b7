//! Fan-out: one request to many servers at once ([`Client::broadcast`],
//! [`Client::multicast`]), listings paged from every server
//! ([`Client::page_all_servers`]), and which servers can hold a file's chunks.
//!
//! Owns the concurrency of multi-server calls (every reply or the first error). Knows
//! nothing of what the requests mean; calls go through [`Client::call_resp`].

use super::connections::Client;
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{FileId, Request, Response};
use std::collections::BTreeSet;
use tokio::task::JoinSet;

impl Client {
    /// Sends `req` to every server concurrently; returns every reply, or the first error.
    pub(super) async fn broadcast(&self, req: Request) -> FsResult<Vec<Response>> {
        self.multicast((0..self.server_count()).collect(), req)
            .await
    }

    /// Sends `req` to the servers `to` concurrently; returns every reply, or the first error.
    pub(super) async fn multicast(&self, to: Vec<usize>, req: Request) -> FsResult<Vec<Response>> {
        let mut set = JoinSet::new();
        for s in to {
            let c = self.clone();
            let r = req.clone();
            set.spawn(async move { c.call_resp(s, &r).await });
        }
        let mut out = Vec::with_capacity(self.server_count());
        let mut first_err = None;
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(v)) => out.push(v),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(FsError::Io(format!("task failed: {e}")));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The servers that can hold chunks `first..end` of file `id` (every server if there
    /// are at least as many chunks as servers).
    pub(super) fn chunk_holders(&self, id: FileId, first: u64, end: u64) -> Vec<usize> {
        let n = self.server_count();
        if end.saturating_sub(first) >= n as u64 {
            return (0..n).collect();
        }
        let set: BTreeSet<usize> = (first..end)
            .map(|i| self.placement().chunk_server(id, i))
            .collect();
        set.into_iter().collect()
    }

    /// Number of chunks a file of `size` bytes spans.
    pub(super) fn chunks_for(size: u64, chunk_size: u32) -> u64 {
        size.div_ceil((chunk_size as u64).max(1))
    }

    /// Asks every server concurrently for a listing in pages of [`MAX_DIR_BATCH`]: `request`
    /// builds the request resuming after a key, `page` unpacks a reply into entries and
    /// "more", `key` gives the resume key of an entry. Returns all entries, unsorted.
    pub(super) async fn page_all_servers<T, Q, P, K>(
        &self,
        request: Q,
        page: P,
        key: K,
    ) -> FsResult<Vec<T>>
    where
        T: Send + 'static,
        Q: Fn(String) -> Request + Clone + Send + 'static,
        P: Fn(Response) -> FsResult<(Vec<T>, bool)> + Copy + Send + 'static,
        K: Fn(&T) -> String + Copy + Send + 'static,
    {
        self.page_servers((0..self.server_count()).collect(), request, page, key)
            .await
    }

    /// [`Client::page_all_servers`] over the servers `servers` only.
    pub(super) async fn page_servers<T, Q, P, K>(
        &self,
        servers: Vec<usize>,
        request: Q,
        page: P,
        key: K,
    ) -> FsResult<Vec<T>>
    where
        T: Send + 'static,
        Q: Fn(String) -> Request + Clone + Send + 'static,
        P: Fn(Response) -> FsResult<(Vec<T>, bool)> + Copy + Send + 'static,
        K: Fn(&T) -> String + Copy + Send + 'static,
    {
        let mut set = JoinSet::new();
        for s in servers {
            let c = self.clone();
            let request = request.clone();
            set.spawn(async move {
                let mut out = Vec::new();
                let mut after = String::new();
                loop {
                    let reply = c.call_resp(s, &request(after.clone())).await?;
                    let (entries, more) = page(reply)?;
                    if let Some(l) = entries.last() {
                        after = key(l);
                    }
                    let empty = entries.is_empty();
                    out.extend(entries);
                    if !more || empty {
                        return Ok(out);
                    }
                }
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r.map_err(|e| FsError::Io(format!("task failed: {e}")))??);
        }
        Ok(all)
    }
}
