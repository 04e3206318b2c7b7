//! The pending-call table of one client connection, shared by every transport: request ids,
//! the waiter of each call in flight, and the closed flag (with the reason) that fails them
//! all at once.
//!
//! Owns [`PendingCalls`] and [`PendingGuard`]; knows nothing of how requests travel (the
//! byte-stream framing in [`super::stream`], active messages in [`super::ucx_rpc`]).

use super::Reply;
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{decode_error, FrameKind};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::oneshot;

/// Where the reply of one call goes.
pub type Waiter = oneshot::Sender<FsResult<Reply>>;

/// The calls in flight on one connection, by request id.
pub struct PendingCalls {
    calls: Mutex<HashMap<u64, Waiter>>,
    closed: AtomicBool,
    /// Why it closed (the error its pending calls were failed with): calls made afterwards
    /// fail with it too, so that a refusal read before the first call is not lost.
    reason: OnceLock<FsError>,
    next_id: AtomicU64,
}

impl Default for PendingCalls {
    fn default() -> Self {
        PendingCalls {
            calls: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            reason: OnceLock::new(),
            next_id: AtomicU64::new(1),
        }
    }
}

impl PendingCalls {
    /// Registers a new call: its request id, the receiver of its reply, and a guard that
    /// removes the entry however the call ends. Fails at once if the connection is closed,
    /// with [`PendingCalls::closed_error`] (`closed` says it when no reason is known).
    pub fn register(
        &self,
        closed: impl Fn() -> FsError,
    ) -> FsResult<(u64, oneshot::Receiver<FsResult<Reply>>, PendingGuard<'_>)> {
        let closed = || self.closed_error(&closed);
        if self.is_closed() {
            return Err(closed());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.calls.lock() {
            Ok(mut m) => {
                m.insert(id, tx);
            }
            Err(_) => return Err(FsError::Io("pending-call table poisoned".into())),
        }
        let guard = PendingGuard { pending: self, id };
        if self.is_closed() {
            // Closed between the check above and the insertion: fail_all may have missed us.
            return Err(closed());
        }
        Ok((id, rx, guard))
    }

    /// Takes the waiter of call `id` (None: it already ended, e.g. timed out).
    pub fn take(&self, id: u64) -> Option<Waiter> {
        self.calls.lock().ok().and_then(|mut m| m.remove(&id))
    }

    /// Hands reply frame `id` of `kind` to its caller (`peer` names the sender if the frame
    /// is not a reply); a reply to a call that already ended (timed out) is dropped.
    pub fn deliver(
        &self,
        kind: FrameKind,
        id: u64,
        msg: Bytes,
        bulk: Bytes,
        peer: impl FnOnce() -> String,
    ) {
        let Some(w) = self.take(id) else {
            return;
        };
        let res = match kind {
            FrameKind::Reply => Ok(Reply::new(msg, bulk)),
            FrameKind::Error => Err(decode_error(&msg)),
            FrameKind::Request => Err(FsError::Protocol(format!(
                "{} sent a request to a client",
                peer()
            ))),
        };
        let _ = w.send(res);
    }

    /// Marks the connection closed and fails every pending call with `err` (the first
    /// such error stays the connection's reason).
    pub fn fail_all(&self, err: FsError) {
        let _ = self.reason.set(err.clone());
        self.closed.store(true, Ordering::SeqCst);
        let drained: Vec<Waiter> = match self.calls.lock() {
            Ok(mut m) => m.drain().map(|(_, w)| w).collect(),
            Err(_) => Vec::new(),
        };
        for w in drained {
            let _ = w.send(Err(err.clone()));
        }
    }

    /// The error of a call on the closed connection: why it closed, if known, else
    /// `fallback`'s.
    pub fn closed_error(&self, fallback: impl FnOnce() -> FsError) -> FsError {
        match self.reason.get() {
            Some(e) => e.clone(),
            None => fallback(),
        }
    }

    /// True once [`PendingCalls::fail_all`] has run.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Number of calls waiting for a reply.
    pub fn len(&self) -> usize {
        self.calls.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Removes a pending call from the table when dropped.
pub struct PendingGuard<'a> {
    pending: &'a PendingCalls,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending.take(self.id);
    }
}
