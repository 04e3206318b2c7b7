//! Reclaiming the space of files that no longer exist, when a server starts again on its data
//! directory: chunks it holds of a file whose entry is gone from the whole cluster (the file
//! was unlinked while this server was down, or written by a handle after another client
//! unlinked it) are removed.
//!
//! A chunk server cannot tell by itself whether a file exists (its entry lives on the server
//! its path hashes to): [`reclaim_dead_chunks`] lists the ids of every file of the cluster
//! through a client, twice (an entry that a rename moves between servers during one listing
//! is seen by the other), and has the server remove the chunks of the other ids, except
//! those written since the listing began (their file may be newer than it). Used by
//! benchfs-server and by the embedded cluster's restart; owns nothing but this procedure.

use super::client::Client;
use super::error::FsResult;
use super::server::RunningServer;

/// What [`reclaim_dead_chunks`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Chunk files removed.
    pub chunks: u64,
    /// Bytes they occupied.
    pub bytes: u64,
}

/// Removes from `server` the chunks of files that `client`'s cluster no longer has (see the
/// module). Does nothing if the server holds no chunk.
pub async fn reclaim_dead_chunks(server: &RunningServer, client: &Client) -> FsResult<Reclaimed> {
    if !server.holds_chunks() {
        return Ok(Reclaimed::default());
    }
    let before = std::time::SystemTime::now();
    let mut live = client.file_ids().await?;
    live.extend(client.file_ids().await?);
    let (chunks, bytes) = server.reclaim(live, before).await?;
    if chunks > 0 {
        tracing::info!(
            "server {}: reclaimed {chunks} chunks ({bytes} bytes) of files that no longer exist",
            server.local_addr()
        );
    }
    Ok(Reclaimed { chunks, bytes })
}
