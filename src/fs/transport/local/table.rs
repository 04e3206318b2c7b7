//! The process-wide table of `local` listeners: which local addresses this process holds,
//! which endpoint each one names, and which other addresses (the same server's TCP and UCX
//! addresses) lead to it.
//!
//! Owns the addresses' form (`local:<pid>:<process nonce>:<n>`, unique to this process and
//! never held by another one) and the table; knows nothing of calls or handlers.

use super::Endpoint;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How every local address begins.
pub const SCHEME: &str = "local:";

#[derive(Default)]
struct Table {
    /// Endpoints by local address.
    endpoints: HashMap<String, Arc<Endpoint>>,
    /// Local address by the other addresses of the same server.
    aliases: HashMap<String, String>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// The prefix of this process's local addresses: its pid and a random nonce drawn once, so
/// that an address of an earlier process with the same pid is not taken for one of ours.
fn process_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        format!(
            "{SCHEME}{}:{:016x}",
            std::process::id(),
            rand::random::<u64>()
        )
    })
}

/// A fresh local address of this process.
pub fn new_address() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}:{}",
        process_prefix(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// True if `addr` has the form of a local address (of any process).
pub fn is_local_address(addr: &str) -> bool {
    addr.starts_with(SCHEME)
}

/// True if `addr` is a local address made by this process (whether its listener still
/// runs or not).
pub fn made_here(addr: &str) -> bool {
    addr.strip_prefix(process_prefix())
        .is_some_and(|n| n.starts_with(':'))
}

/// Enters `ep` under its address and `aliases` (the empty ones are skipped).
pub fn insert(ep: Arc<Endpoint>, aliases: &[String]) {
    if let Ok(mut t) = table().lock() {
        for a in aliases.iter().filter(|a| !a.is_empty()) {
            t.aliases.insert(a.clone(), ep.addr.clone());
        }
        t.endpoints.insert(ep.addr.clone(), ep);
    }
}

/// Enters `alias` as one more address of the listener at local address `local` (if it
/// still listens).
pub fn add_alias(local: &str, alias: &str) {
    if let Ok(mut t) = table().lock() {
        if t.endpoints.contains_key(local) {
            t.aliases.insert(alias.to_string(), local.to_string());
        }
    }
}

/// Removes the endpoint of `addr` and its aliases.
pub fn remove(addr: &str) {
    if let Ok(mut t) = table().lock() {
        t.endpoints.remove(addr);
        t.aliases.retain(|_, v| v != addr);
    }
}

/// The endpoint listening at local address `addr` in this process.
pub fn lookup(addr: &str) -> Option<Arc<Endpoint>> {
    table().lock().ok()?.endpoints.get(addr).cloned()
}

/// The local address of the server that `addr` names if that server runs in this process:
/// `addr` itself if it is one of this process's listening local addresses, else the local
/// address of the listener that has `addr` (a TCP or UCX address) as an alias.
pub fn in_process(addr: &str) -> Option<String> {
    let t = table().lock().ok()?;
    if t.endpoints.contains_key(addr) {
        return Some(addr.to_string());
    }
    t.aliases.get(addr).cloned()
}
