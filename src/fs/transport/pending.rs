//! The pending-call table of one client connection, shared by every transport: request ids,
//! the waiter of each call in flight, and the closed flag (with the reason) that fails them
//! all at once.
//!
//! Owns [`PendingCalls`] and [`PendingGuard`], and the destination a call may give for its
//! reply's payload (an [`IoSlice`] that a transport receiving in place writes into); knows
//! nothing of how requests travel (the byte-stream framing in [`super::stream`], active
//! messages in [`super::ucx_rpc`]).

use super::io_buffer::IoSlice;
use super::Reply;
use crate::fs::error::{FsError, FsResult};
use crate::fs::wire::{decode_error, FrameKind};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

/// Where the reply of one call goes.
pub type Waiter = oneshot::Sender<FsResult<Reply>>;

/// One call in flight: who waits for the reply, and where its payload may be received.
struct Entry {
    waiter: Waiter,
    dest: Option<IoSlice>,
}

/// The calls in flight on one connection, by request id.
pub struct PendingCalls {
    calls: Mutex<HashMap<u64, Entry>>,
    /// How many of them gave a destination for their payload.
    with_dest: Arc<AtomicUsize>,
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
            with_dest: Arc::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
            reason: OnceLock::new(),
            next_id: AtomicU64::new(1),
        }
    }
}

impl PendingCalls {
    /// Registers a new call: its request id, the receiver of its reply, and a guard that
    /// removes the entry however the call ends. Fails at once if the connection is closed,
    /// with [`PendingCalls::closed_error`] (`closed` says it when no reason is known). A call
    /// whose reply payload belongs in `dest` gives it: until the call ends,
    /// [`PendingCalls::dest`] gives it to the transport's receiver.
    pub fn register_into(
        &self,
        closed: impl Fn() -> FsError,
        dest: Option<IoSlice>,
    ) -> FsResult<(u64, oneshot::Receiver<FsResult<Reply>>, PendingGuard<'_>)> {
        let closed = || self.closed_error(&closed);
        if self.is_closed() {
            return Err(closed());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.calls.lock() {
            Ok(mut m) => {
                if dest.is_some() {
                    self.with_dest.fetch_add(1, Ordering::Relaxed);
                }
                m.insert(id, Entry { waiter: tx, dest });
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

    /// Takes the waiter of call `id` (None: it already ended, e.g. timed out); its
    /// destination is forgotten.
    pub fn take(&self, id: u64) -> Option<Waiter> {
        let e = self.calls.lock().ok().and_then(|mut m| m.remove(&id))?;
        if e.dest.is_some() {
            self.with_dest.fetch_sub(1, Ordering::Relaxed);
        }
        Some(e.waiter)
    }

    /// The destination call `id` gave for its reply's payload, if it is still waiting and
    /// gave one (the clone keeps the memory alive while the receiver writes into it).
    pub fn dest(&self, id: u64) -> Option<IoSlice> {
        self.calls
            .lock()
            .ok()
            .and_then(|m| m.get(&id).and_then(|e| e.dest.clone()))
    }

    /// The number of calls in flight that gave a destination, as it changes (for a
    /// receiver that reads differently while there are some).
    pub fn in_place_waiting(&self) -> Arc<AtomicUsize> {
        self.with_dest.clone()
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
        let drained: Vec<Entry> = match self.calls.lock() {
            Ok(mut m) => m.drain().map(|(_, e)| e).collect(),
            Err(_) => Vec::new(),
        };
        let dests = drained.iter().filter(|e| e.dest.is_some()).count();
        self.with_dest.fetch_sub(dests, Ordering::Relaxed);
        for w in drained.into_iter().map(|e| e.waiter) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::transport::io_buffer::IoBuffer;

    fn expects_in_place(p: &PendingCalls) -> bool {
        p.in_place_waiting().load(Ordering::Relaxed) > 0
    }

    fn slice() -> IoSlice {
        IoSlice::new(Arc::new(IoBuffer::new(4096).unwrap()), 0..4096).unwrap()
    }

    #[test]
    fn a_destination_is_given_while_its_call_waits_and_forgotten_however_it_ends() {
        let p = PendingCalls::default();
        let closed = || FsError::ConnectionReset("closed".into());
        let d = slice();
        let (plain, _rx0, g0) = p.register_into(closed, None).unwrap();
        let (a, _rx1, g1) = p.register_into(closed, Some(d.clone())).unwrap();
        let (b, rx2, g2) = p.register_into(closed, Some(d.clone())).unwrap();
        assert!(expects_in_place(&p));
        assert!(p.dest(plain).is_none());
        assert!(p.dest(a).is_some_and(|s| s.as_ptr() == d.as_ptr()));
        // A reply delivered: its entry and destination go.
        p.deliver(FrameKind::Reply, b, Bytes::new(), Bytes::new(), String::new);
        assert!(rx2.blocking_recv().unwrap().is_ok());
        assert!(p.dest(b).is_none());
        drop(g2);
        // A call that ends early (its guard dropped): the same.
        drop(g1);
        assert!(p.dest(a).is_none());
        assert!(!expects_in_place(&p));
        assert_eq!(Arc::strong_count(d.buffer()), 1);
        // Closing the connection forgets them all.
        let (c, _rx3, g3) = p.register_into(closed, Some(d.clone())).unwrap();
        p.fail_all(closed());
        assert!(p.dest(c).is_none() && !expects_in_place(&p));
        assert_eq!(Arc::strong_count(d.buffer()), 1);
        drop((g0, g3));
        assert!(!expects_in_place(&p));
    }
}
