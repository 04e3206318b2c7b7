//! The registry: a directory (on a shared file system for multi-host use) through which
//! servers announce themselves and clients find them.
//!
//! Layout: `cluster.json` (expected number of servers, epoch, default chunk size), `secret`
//! (random per-cluster secret, mode 0600) and `servers/<store id>.json` (one entry per
//! server: store id, address, epoch, pid). Every file appears atomically: written to a
//! temporary name, then linked (create-if-absent: whoever links first wins, everyone reads
//! the winner's) or renamed (entries) into place, so a reader never sees a partial file.
//! Clients wait until exactly the expected number of entries of the current epoch exist and
//! order them by store id, so every client sees the same server list, and a server
//! restarted on its data directory keeps its place. Owns nothing else.

use super::error::{FsError, FsResult};
use super::wire::{check_chunk_size, MAX_SECRET_LEN};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a client waits for a registry before it says what it is waiting for.
const WAIT_NOTICE: Duration = Duration::from_secs(2);

/// The cluster description shared by all servers and clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Number of servers the cluster has.
    pub expected_servers: usize,
    /// Random id of this incarnation of the registry; entries of other epochs are ignored.
    pub epoch: u64,
    /// Chunk size of new files unless a client asks for another.
    pub chunk_size: u32,
}

/// One server's registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEntry {
    /// Store id of its data directory (hex), stable across restarts.
    pub store_id: String,
    /// TCP address clients connect to (empty if the server offers no TCP).
    pub addr: String,
    /// UCX address (`ucx/<name>/<worker address>`), if the server offers UCX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ucx: Option<String>,
    /// Local address (`local:<pid>:<nonce>:<n>`), if the server runs inside a client's
    /// process (embedded cluster): usable by clients of that process only. Absent from
    /// entries of servers of their own and of registries written before it existed (both
    /// stay readable; readers that do not know it ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Epoch of the cluster it joined.
    pub epoch: u64,
    /// Process id (informational).
    pub pid: u32,
}

impl ServerEntry {
    /// The address for `transport` (`tcp`, `ucx` or `local`), if the server offers it.
    pub fn address(&self, transport: &str) -> Option<&str> {
        match transport {
            "tcp" => Some(self.addr.as_str()).filter(|a| !a.is_empty()),
            "ucx" => self.ucx.as_deref(),
            "local" => self.local.as_deref(),
            _ => None,
        }
    }
}

/// A registry directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

fn io(ctx: &str, e: std::io::Error) -> FsError {
    FsError::from_io(ctx, &e)
}

fn tmp_name(dir: &Path, base: &str) -> PathBuf {
    dir.join(format!(
        ".{base}.tmp.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ))
}

/// Writes `data` to a temporary file in `dir` with `mode`, flushed to disk.
fn write_tmp(dir: &Path, base: &str, data: &[u8], mode: u32) -> FsResult<PathBuf> {
    let tmp = tmp_name(dir, base);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io("create registry file", e))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| io("write registry file", e))?;
    Ok(tmp)
}

/// Atomically creates `dir/name` with `data` unless it exists; returns true if created.
fn create_if_absent(dir: &Path, name: &str, data: &[u8], mode: u32) -> FsResult<bool> {
    let tmp = write_tmp(dir, name, data, mode)?;
    let r = std::fs::hard_link(&tmp, dir.join(name));
    let _ = std::fs::remove_file(&tmp);
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io("link registry file", e)),
    }
}

impl Registry {
    /// The registry at `dir` (nothing is read yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Registry { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Server side: creates the cluster (secret, then description) if absent, or joins the
    /// existing one, which must expect the same number of servers.
    pub fn create_or_join(&self, expected: usize, chunk_size: u32) -> FsResult<ClusterInfo> {
        if expected == 0 {
            return Err(FsError::InvalidArgument(
                "a cluster needs at least one server".into(),
            ));
        }
        check_chunk_size(chunk_size)?;
        std::fs::create_dir_all(self.dir.join("servers")).map_err(|e| io("create registry", e))?;
        let secret: [u8; 32] = rand::random();
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        create_if_absent(&self.dir, "secret", hex.as_bytes(), 0o600)?;
        let info = ClusterInfo {
            expected_servers: expected,
            epoch: rand::random::<u64>() | 1,
            chunk_size,
        };
        let json = serde_json::to_vec_pretty(&info)
            .map_err(|e| FsError::Io(format!("encode cluster.json: {e}")))?;
        create_if_absent(&self.dir, "cluster.json", &json, 0o644)?;
        let have = self.cluster()?;
        if have.expected_servers != expected {
            return Err(FsError::InvalidArgument(format!(
                "registry {} is for {} servers, not {expected}",
                self.dir.display(),
                have.expected_servers
            )));
        }
        Ok(have)
    }

    /// The cluster description.
    pub fn cluster(&self) -> FsResult<ClusterInfo> {
        let p = self.dir.join("cluster.json");
        let data = std::fs::read(&p).map_err(|e| io(&format!("read {}", p.display()), e))?;
        serde_json::from_slice(&data)
            .map_err(|e| FsError::Io(format!("corrupt {}: {e}", p.display())))
    }

    /// The cluster secret. Refused (EACCES) unless the file is private to its owner.
    pub fn secret(&self) -> FsResult<Vec<u8>> {
        let p = self.dir.join("secret");
        let meta = std::fs::metadata(&p).map_err(|e| io("stat secret", e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(FsError::PermissionDenied(format!(
                "{} is readable by others (mode {:o})",
                p.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let s = std::fs::read_to_string(&p).map_err(|e| io("read secret", e))?;
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_SECRET_LEN {
            return Err(FsError::Io("malformed secret file".into()));
        }
        Ok(s.as_bytes().to_vec())
    }

    /// Registers (or re-registers) a server, atomically.
    pub fn register(&self, entry: &ServerEntry) -> FsResult<()> {
        let dir = self.dir.join("servers");
        std::fs::create_dir_all(&dir).map_err(|e| io("create registry", e))?;
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| FsError::Io(format!("encode entry: {e}")))?;
        let name = format!("{}.json", entry.store_id);
        let tmp = write_tmp(&dir, &name, &json, 0o644)?;
        std::fs::rename(&tmp, dir.join(&name)).map_err(|e| io("rename entry", e))
    }

    /// The file of the entry of the server with store id `store_id`.
    pub fn entry_path(&self, store_id: &str) -> PathBuf {
        self.dir.join("servers").join(format!("{store_id}.json"))
    }

    /// Removes a server's entry.
    pub fn deregister(&self, store_id: &str) -> FsResult<()> {
        match std::fs::remove_file(self.dir.join("servers").join(format!("{store_id}.json"))) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove entry", e)),
        }
    }

    /// The entries of epoch `epoch`, ordered by store id.
    pub fn servers(&self, epoch: u64) -> FsResult<Vec<ServerEntry>> {
        let dir = self.dir.join("servers");
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("list registry", e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| io("list registry", e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let data = match std::fs::read(ent.path()) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read entry", e)),
            };
            if let Ok(e) = serde_json::from_slice::<ServerEntry>(&data) {
                if e.epoch == epoch {
                    out.push(e);
                }
            }
        }
        out.sort_by(|a, b| a.store_id.cmp(&b.store_id));
        Ok(out)
    }

    /// Client side: waits (up to `timeout`) for the cluster description and for exactly the
    /// expected number of servers of its epoch; returns both.
    /// Servers and clients may be started together, so a registry that does not exist yet
    /// is waited for too; what is missing is logged once after a moment, and named in the
    /// error at the timeout.
    pub async fn wait_ready(&self, timeout: Duration) -> FsResult<(ClusterInfo, Vec<ServerEntry>)> {
        let start = Instant::now();
        let mut told = false;
        loop {
            let state = match self.cluster() {
                Ok(info) => {
                    let s = self.servers(info.epoch)?;
                    if s.len() == info.expected_servers {
                        return Ok((info, s));
                    }
                    if s.len() > info.expected_servers {
                        return Err(FsError::Io(format!(
                            "registry {} lists {} servers, expected {}",
                            self.dir.display(),
                            s.len(),
                            info.expected_servers
                        )));
                    }
                    format!(
                        "{} of {} servers registered",
                        s.len(),
                        info.expected_servers
                    )
                }
                Err(FsError::NotFound(_)) if !self.dir.is_dir() => format!(
                    "the directory does not exist yet (no benchfs-server --registry {} has \
                     started)",
                    self.dir.display()
                ),
                Err(FsError::NotFound(_)) => {
                    "no cluster.json yet (no benchfs-server has joined it)".to_string()
                }
                Err(e) => return Err(e),
            };
            if !told && start.elapsed() >= WAIT_NOTICE.min(timeout / 2) {
                tracing::warn!(
                    "waiting up to {timeout:?} for the BenchFS cluster of registry {}: {state}",
                    self.dir.display()
                );
                told = true;
            }
            if start.elapsed() >= timeout {
                return Err(FsError::TimedOut(format!(
                    "registry {}: {state}",
                    self.dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_or_empty_registry_says_what_is_missing() {
        let d = tempfile::tempdir().unwrap();
        let missing = Registry::new(d.path().join("nope"));
        let e = missing
            .wait_ready(Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::ETIMEDOUT);
        assert!(e.to_string().contains("does not exist yet"), "{e}");
        let empty = Registry::new(d.path());
        let e = empty
            .wait_ready(Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), libc::ETIMEDOUT);
        assert!(e.to_string().contains("no cluster.json"), "{e}");
    }

    #[tokio::test]
    async fn create_join_register_wait() {
        let d = tempfile::tempdir().unwrap();
        let r = Registry::new(d.path().join("reg"));
        let a = r.create_or_join(2, 1 << 20).unwrap();
        let b = r.create_or_join(2, 4 << 20).unwrap();
        assert_eq!(a, b, "the second server joins the first one's cluster");
        assert!(r.create_or_join(3, 1 << 20).is_err());
        let mode = std::fs::metadata(d.path().join("reg/secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(r.secret().unwrap().len(), 64);
        let e = |id: &str| ServerEntry {
            store_id: id.into(),
            addr: "127.0.0.1:1".into(),
            ucx: None,
            local: None,
            epoch: a.epoch,
            pid: 1,
        };
        r.register(&e("bb")).unwrap();
        let err = r.wait_ready(Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.errno(), libc::ETIMEDOUT);
        assert!(err.to_string().contains("1 of 2 servers"), "{err}");
        r.register(&e("aa")).unwrap();
        // A stale entry of another epoch is ignored.
        let mut stale = e("cc");
        stale.epoch = a.epoch + 1;
        r.register(&stale).unwrap();
        let (_, s) = r.wait_ready(Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            s.iter().map(|e| e.store_id.as_str()).collect::<Vec<_>>(),
            ["aa", "bb"]
        );
        r.deregister("aa").unwrap();
        assert_eq!(r.servers(a.epoch).unwrap().len(), 1);
        std::fs::set_permissions(
            d.path().join("reg/secret"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(r.secret().unwrap_err().errno(), libc::EACCES);
    }

    #[test]
    fn entries_without_newer_addresses_stay_readable_and_local_ones_round_trip() {
        // An entry as registries written before UCX and local addresses hold it.
        let old = r#"{"store_id":"ab","addr":"127.0.0.1:7","epoch":3,"pid":9}"#;
        let e: ServerEntry = serde_json::from_str(old).unwrap();
        assert_eq!((e.ucx.as_deref(), e.local.as_deref()), (None, None));
        assert_eq!(e.address("tcp"), Some("127.0.0.1:7"));
        assert_eq!(e.address("local"), None);
        let with = ServerEntry {
            local: Some("local:9:00:1".into()),
            ..e
        };
        let json = serde_json::to_string(&with).unwrap();
        let back: ServerEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back.address("local"), Some("local:9:00:1"));
        // A reader that knows no local address (older code) still reads the entry.
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Older {
            store_id: String,
            addr: String,
            epoch: u64,
            pid: u32,
        }
        let o: Older = serde_json::from_str(&json).unwrap();
        assert_eq!(o.addr, "127.0.0.1:7");
        // Entries without one do not write the field.
        let none = ServerEntry {
            local: None,
            ..back
        };
        assert!(!serde_json::to_string(&none).unwrap().contains("local"));
    }
}
