//! Handles given to C: opaque pointers that are never dereferenced. Each is a number naming
//! an entry of a [`Table`]; a call looks the number up and gets a counted reference to the
//! object, so a foreign pointer, a closed handle or a handle of a finalized context is an
//! `EBADF` error instead of a use of freed memory, and an object lives until the last call
//! using it returns, even when another thread closes it meanwhile.
//!
//! Owns the numbering (unique for the life of the process, never reused) and the tables; it
//! knows nothing of what the objects are.

use super::boundary::CallError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// First handle number: far from small integers and from addresses C code usually holds.
const BASE: u64 = 0x0bf5_0000_0000;
/// Handle numbers step by this much; the low bits say the kind.
const STRIDE: u64 = 16;

/// The kinds of handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `benchfs_context`.
    Context = 1,
    /// `benchfs_file`.
    File = 2,
    /// `benchfs_cluster`.
    Cluster = 3,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Context => "benchfs_context",
            Kind::File => "benchfs_file",
            Kind::Cluster => "benchfs_cluster",
        }
    }

    fn of_tag(tag: u64) -> Option<Kind> {
        [Kind::Context, Kind::File, Kind::Cluster]
            .into_iter()
            .find(|k| *k as u64 == tag)
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The live objects of one kind, by handle number.
pub struct Table<T> {
    kind: Kind,
    map: LazyLock<RwLock<HashMap<u64, Arc<T>>>>,
}

impl<T> Table<T> {
    /// An empty table of handles of `kind`.
    pub const fn new(kind: Kind) -> Self {
        Table {
            kind,
            map: LazyLock::new(|| RwLock::new(HashMap::new())),
        }
    }

    /// Registers `obj`; returns its new handle number.
    pub fn insert(&self, obj: Arc<T>) -> u64 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = BASE + n * STRIDE + self.kind as u64;
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, obj);
        id
    }

    /// Why `id` names no live object of this table.
    fn missing(&self, id: u64) -> CallError {
        let name = self.kind.name();
        if id == 0 {
            return CallError::invalid(format!("{name} is NULL"));
        }
        let issued = BASE + NEXT.load(Ordering::Relaxed) * STRIDE;
        if !(BASE..issued).contains(&id) {
            return CallError::bad_handle(format!("{id:#x} is not a handle made by libbenchfs"));
        }
        match Kind::of_tag(id % STRIDE) {
            Some(k) if k == self.kind => CallError::bad_handle(format!(
                "{name} {id:#x} is closed (or its context was finalized)"
            )),
            Some(k) => CallError::bad_handle(format!("{id:#x} is a {}, not a {name}", k.name())),
            None => CallError::bad_handle(format!("{id:#x} is not a handle made by libbenchfs")),
        }
    }

    /// The object behind handle number `id`.
    pub fn get(&self, id: u64) -> Result<Arc<T>, CallError> {
        let found = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        found.ok_or_else(|| self.missing(id))
    }

    /// Unregisters handle number `id` (later lookups fail) and returns its object.
    pub fn remove(&self, id: u64) -> Result<Arc<T>, CallError> {
        let found = self
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        found.ok_or_else(|| self.missing(id))
    }

    /// Unregisters every handle number of `ids` that is still live; returns their objects.
    pub fn remove_all(&self, ids: impl IntoIterator<Item = u64>) -> Vec<Arc<T>> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        ids.into_iter().filter_map(|id| map.remove(&id)).collect()
    }
}

/// The opaque pointer C gets for handle number `id` (an address that is never dereferenced).
pub fn to_ptr<P>(id: u64) -> *mut P {
    std::ptr::without_provenance_mut(id as usize)
}

/// The handle number of an opaque pointer from C.
pub fn of_ptr<P>(p: *const P) -> u64 {
    p.addr() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    static FILES: Table<String> = Table::new(Kind::File);
    static CONTEXTS: Table<String> = Table::new(Kind::Context);

    #[test]
    fn lookups_tell_closed_foreign_and_wrong_kind_apart() {
        let f = FILES.insert(Arc::new("f".into()));
        let c = CONTEXTS.insert(Arc::new("c".into()));
        assert_eq!(*FILES.get(f).unwrap(), "f");
        let msg = |e: CallError| (e.errno, e.message);
        let (errno, m) = msg(FILES.get(c).unwrap_err());
        assert_eq!(errno, libc::EBADF);
        assert!(
            m.contains("is a benchfs_context, not a benchfs_file"),
            "{m}"
        );
        let (errno, m) = msg(FILES.get(0x1234).unwrap_err());
        assert_eq!(errno, libc::EBADF);
        assert!(m.contains("not a handle made by libbenchfs"), "{m}");
        assert_eq!(FILES.get(0).unwrap_err().errno, libc::EINVAL);
        assert_eq!(*FILES.remove(f).unwrap(), "f");
        let (_, m) = msg(FILES.get(f).unwrap_err());
        assert!(m.contains("is closed"), "{m}");
        assert!(FILES.remove(f).is_err());
        assert_eq!(of_ptr(to_ptr::<u8>(c)), c);
        assert_eq!(CONTEXTS.remove_all([c, c]).len(), 1);
    }
}
