//! Shared helpers of the UCX integration tests: contexts that keep traffic on loopback,
//! a local runtime with progress drivers, payload patterns.
#![allow(dead_code)]

use benchfs::fs::transport::ucx::{Context, ContextBuilder, Worker};
use std::future::Future;
use std::time::Duration;

/// Bound on any single exchange in these tests: reaching it means a hang, not slowness.
pub const HANG: Duration = Duration::from_secs(60);

/// A context restricted to transports `tls` (UCX_TLS syntax) and to the loopback device,
/// whatever the environment says.
pub fn context(tls: &str) -> Context {
    ContextBuilder::new()
        .set("NET_DEVICES", "lo")
        .set("TLS", tls)
        .build()
        .expect("UCX context")
}

/// Runs `f` on a current-thread runtime inside a `LocalSet` (UCX workers are not `Send`),
/// failing the test if it takes longer than [`HANG`].
pub fn run_local<F: Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        tokio::time::timeout(HANG, f).await.expect("test hung");
    });
}

/// A worker with its progress driver spawned on the current `LocalSet`.
pub fn worker(ctx: &Context, name: &str) -> Worker {
    let (w, progress) = Worker::new(ctx, name).expect("worker");
    tokio::task::spawn_local(async move {
        progress.run().await.expect("progress");
    });
    w
}

/// Deterministic bytes for message `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An 16-byte header: message id and seed.
pub fn header(id: u64, seed: u64) -> Vec<u8> {
    let mut h = id.to_le_bytes().to_vec();
    h.extend_from_slice(&seed.to_le_bytes());
    h
}

/// Reads a header written by [`header`].
pub fn parse_header(h: &[u8]) -> (u64, u64) {
    let id = u64::from_le_bytes(h[0..8].try_into().expect("8 bytes"));
    let seed = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
    (id, seed)
}
