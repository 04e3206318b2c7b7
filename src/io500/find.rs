//! The find phases: a parallel find over any backend with pfind's criteria as io500 passes
//! them (`-newer FILE`, `-size Nc`, `-name PATTERN`), counting files scanned and matched.
//!
//! A backend that lists its tree in shares ([`Backend::list_share`]: BENCHFS, each rank a
//! share of the servers through the async API) is listed so, with sizes and ctimes, no stat
//! per file. Other backends are walked level by level: the directories of a level are dealt
//! round-robin to the ranks, each lists its share with [`Backend::readdir`], checks the names
//! of the files there and stats only the files whose name matches (pfind's order: name
//! first, then ctime and size), and the subdirectories found are shared with every rank for
//! the next level. It must not print (the engine writes the phase's files).

use crate::backend::Backend;
use crate::comm::{Comm, CommError, ReduceOp};
use crate::io500::commands::FindQuery;
use std::time::Instant;

/// What a find counted (summed over ranks, except the per-rank rows).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindCounts {
    /// Files that met every criterion.
    pub found: u64,
    /// Files (non-directories) seen.
    pub total_files: u64,
    /// Directory entries checked.
    pub checked_dirents: u64,
    /// Entries that could not be listed or stated.
    pub errors: u64,
    /// Seconds from the start barrier to the last rank's end.
    pub runtime: f64,
    /// Every rank's own counts: found, total files, entries, errors.
    pub per_rank: Vec<[u64; 4]>,
    /// The backend listed its tree in shares (each rank a share of the BENCHFS servers)
    /// instead of the tree being walked.
    #[serde(default)]
    pub listed_by_share: bool,
}

impl FindCounts {
    /// pfind's rate, files scanned per second.
    pub fn rate(&self) -> f64 {
        if self.runtime > 0.0 {
            self.total_files as f64 / self.runtime
        } else {
            0.0
        }
    }
}

/// Whether `name` matches pfind's `-name` pattern: `*` matches anything and the pattern is
/// not anchored (pfind turns it into an unanchored regular expression), so the literal pieces
/// between the stars must appear in order.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let mut rest = name;
    for piece in pattern.split('*').filter(|p| !p.is_empty()) {
        let piece: String = piece.chars().filter(|&c| c != '"').collect();
        match rest.find(&piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The timestamp `-newer` compares with: the file's ctime in whole seconds (pfind's
/// `st_ctime`), read on the local file system where the result directory is.
pub fn newer_than_seconds(path: &str) -> std::io::Result<i64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.ctime())
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Runs `query` on every rank of `comm` over `backend`; `newer` is the `-newer` file's ctime
/// in seconds (the same on every rank). Returns the counts of all ranks on every rank.
pub async fn run<B: Backend>(
    comm: &dyn Comm,
    backend: &B,
    query: &FindQuery,
    newer: Option<i64>,
) -> Result<FindCounts, CommError> {
    let (rank, size) = (comm.rank(), comm.size());
    comm.barrier()?;
    let start = Instant::now();
    let mut mine = [0u64; 4];
    // The same backend on every rank: all list by share, or all walk.
    let listed_by_share = match backend.list_share(&query.root, rank, size).await {
        Some(listed) => {
            count_listing(listed, query, newer, &mut mine);
            true
        }
        None => {
            walk(comm, backend, query, newer, &mut mine).await?;
            false
        }
    };
    let elapsed = start.elapsed().as_secs_f64();
    let runtime = comm.allreduce_f64(elapsed, ReduceOp::Max)?;
    let gathered: Vec<Vec<i64>> = mine
        .iter()
        .map(|&v| comm.allgather_i64(v as i64))
        .collect::<Result<_, _>>()?;
    let per_rank: Vec<[u64; 4]> = (0..size)
        .map(|r| [0, 1, 2, 3].map(|i| gathered[i][r] as u64))
        .collect();
    let sum = |i: usize| per_rank.iter().map(|c| c[i]).sum();
    Ok(FindCounts {
        found: sum(0),
        total_files: sum(1),
        checked_dirents: sum(2),
        errors: sum(3),
        runtime,
        per_rank,
        listed_by_share,
    })
}

/// Whether a file of ctime `ctime_ns` and `size` meets `query`'s `-newer` (`newer`, seconds)
/// and `-size` criteria.
fn meets(query: &FindQuery, newer: Option<i64>, ctime_ns: i64, size: u64) -> bool {
    let old = newer.is_some_and(|t| ctime_ns.div_euclid(1_000_000_000) < t);
    let wrong_size = query.size.is_some_and(|s| size != s);
    !old && !wrong_size
}

/// Counts this rank's share of a tree listing into `mine` (found, files, entries, errors).
fn count_listing(
    listed: crate::backend::BackendResult<Vec<crate::backend::TreeEntry>>,
    query: &FindQuery,
    newer: Option<i64>,
    mine: &mut [u64; 4],
) {
    let entries = match listed {
        Ok(e) => e,
        Err(_) => {
            mine[3] += 1;
            return;
        }
    };
    for e in entries {
        mine[2] += 1;
        if e.is_dir {
            continue;
        }
        mine[1] += 1;
        if name_matches(&query.name, e.name()) && meets(query, newer, e.ctime_ns, e.size) {
            mine[0] += 1;
        }
    }
}

/// Walks the tree level by level (see the module documentation), counting this rank's
/// share into `mine`.
async fn walk<B: Backend>(
    comm: &dyn Comm,
    backend: &B,
    query: &FindQuery,
    newer: Option<i64>,
    mine: &mut [u64; 4],
) -> Result<(), CommError> {
    let (rank, size) = (comm.rank(), comm.size());
    let mut level = vec![query.root.clone()];
    while !level.is_empty() {
        let mut subdirs: Vec<String> = Vec::new();
        for dir in level.iter().skip(rank).step_by(size) {
            let entries = match backend.readdir(dir).await {
                Ok(e) => e,
                Err(_) => {
                    mine[3] += 1;
                    continue;
                }
            };
            for e in entries {
                mine[2] += 1;
                let path = join(dir, &e.name);
                if e.is_dir {
                    subdirs.push(path);
                    continue;
                }
                mine[1] += 1;
                if !name_matches(&query.name, &e.name) {
                    continue;
                }
                if newer.is_none() && query.size.is_none() {
                    mine[0] += 1;
                    continue;
                }
                match backend.stat(&path).await {
                    Ok(st) => {
                        if meets(query, newer, st.ctime_ns, st.size) {
                            mine[0] += 1;
                        }
                    }
                    Err(_) => mine[3] += 1,
                }
            }
        }
        // Every rank learns the next level (names joined by NUL, rank order, then sorted so
        // that the deal is the same everywhere).
        let packed = subdirs.join("\0");
        let all = comm.allgather_bytes(packed.as_bytes())?;
        level = all
            .iter()
            .flat_map(|b| {
                String::from_utf8_lossy(b)
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        level.sort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::posix::PosixBackend;
    use crate::comm::local::LocalComm;

    #[test]
    fn pfind_name_patterns() {
        assert!(name_matches("*01*", "file.mdtest.0.101"));
        assert!(name_matches("*01*", "01"));
        assert!(!name_matches("*01*", "file.mdtest.0.10"));
        // Unanchored, as pfind's regular expression.
        assert!(name_matches("file*7", "a.file.x7y"));
        assert!(!name_matches("a*b", "ba"));
    }

    #[test]
    fn two_ranks_count_a_tree_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        let stamp = dir.path().join("stamp");
        std::fs::write(&stamp, b"").unwrap();
        let mut expected_found = 0;
        for (i, d) in ["a", "a/b", "c", "."].iter().enumerate() {
            for n in 0..30 {
                let name = format!("file.{i}.{n}");
                let len = if n % 2 == 0 { 3901 } else { 10 };
                std::fs::write(root.join(d).join(&name), vec![0u8; len]).unwrap();
                if name_matches("*1*", &name) && len == 3901 {
                    expected_found += 1;
                }
            }
        }
        let query = FindQuery {
            root: root.display().to_string(),
            newer: Some(stamp.display().to_string()),
            size: Some(3901),
            name: "*1*".into(),
        };
        let newer = newer_than_seconds(&stamp.display().to_string()).unwrap();
        let counts: Vec<FindCounts> = std::thread::scope(|s| {
            LocalComm::group(2, 0)
                .into_iter()
                .map(|comm| {
                    let q = query.clone();
                    s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        let b = PosixBackend::default();
                        rt.block_on(run(&comm, &b, &q, Some(newer))).unwrap()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(counts[0], counts[1]);
        let c = &counts[0];
        assert_eq!(c.total_files, 120);
        assert_eq!(c.found, expected_found);
        assert_eq!(c.checked_dirents, 120 + 3, "files plus a, a/b, c");
        assert_eq!(c.errors, 0);
        // Both ranks did a share of the work.
        assert!(c.per_rank.iter().all(|r| r[2] > 0), "{:?}", c.per_rank);
    }

    /// Runs `query` on `ranks` local ranks, each with its own backend made by `backend`.
    fn find_on<B: Backend>(
        ranks: usize,
        query: &FindQuery,
        newer: Option<i64>,
        backend: impl Fn() -> B + Sync,
    ) -> Vec<FindCounts> {
        std::thread::scope(|s| {
            LocalComm::group(ranks, 0)
                .into_iter()
                .map(|comm| {
                    let (q, backend) = (query.clone(), &backend);
                    s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        rt.block_on(async {
                            let mut b = backend();
                            b.initialize().await.unwrap();
                            let c = run(&comm, &b, &q, newer).await.unwrap();
                            b.finalize().await.unwrap();
                            c
                        })
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect()
        })
    }

    #[test]
    fn benchfs_ranks_list_their_share_of_the_servers_exactly() {
        use crate::backend::benchfs::BenchfsBackend;
        use crate::backend::OpenFlags;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cluster = rt
            .block_on(crate::fs::Cluster::embedded(3, dir.path()))
            .unwrap();
        let registry = cluster.registry().to_str().unwrap().to_string();
        let backend = || {
            let opts = [("benchfs.registry".to_string(), registry.clone())];
            BenchfsBackend::new(&opts.into_iter().collect()).unwrap()
        };
        // 4 directories of 30 files, every other one of 3901 bytes.
        let mut expected_found = 0;
        let mut named = 0;
        rt.block_on(async {
            let mut b = backend();
            b.initialize().await.unwrap();
            for d in ["/data", "/data/a", "/data/a/b", "/data/c"] {
                b.mkdir(d, 0o755).await.unwrap();
            }
            for (i, d) in ["/data/a", "/data/a/b", "/data/c", "/data"]
                .iter()
                .enumerate()
            {
                for n in 0..30 {
                    let name = format!("file.{i}.{n}");
                    let len = if n % 2 == 0 { 3901 } else { 10 };
                    let path = format!("{d}/{name}");
                    let f = b
                        .create(&path, OpenFlags::create_for_write())
                        .await
                        .unwrap();
                    b.write_bytes(&f, bytes::Bytes::from(vec![7u8; len]), 0)
                        .await
                        .unwrap();
                    b.close(f).await.unwrap();
                    if name_matches("*1*", &name) {
                        named += 1;
                        if len == 3901 {
                            expected_found += 1;
                        }
                    }
                }
            }
            b.finalize().await.unwrap();
        });
        let query = FindQuery {
            root: "/data".into(),
            newer: Some("stamp".into()),
            size: Some(3901),
            name: "*1*".into(),
        };
        // As many ranks as servers, fewer, and more (a rank with no server has no share).
        for ranks in [3, 2, 4] {
            let counts = find_on(ranks, &query, Some(0), backend);
            assert!(counts.windows(2).all(|w| w[0] == w[1]));
            let c = &counts[0];
            assert!(c.listed_by_share, "BENCHFS lists by server");
            assert_eq!(c.total_files, 120, "{ranks} ranks: {:?}", c.per_rank);
            assert_eq!(c.found, expected_found, "{ranks} ranks");
            assert_eq!(c.checked_dirents, 120 + 3, "files plus a, a/b, c");
            assert_eq!(c.errors, 0);
            let busy = c.per_rank.iter().filter(|r| r[2] > 0).count();
            assert_eq!(busy, ranks.min(3), "{:?}", c.per_rank);
        }
        // The criteria: -newer in the future finds nothing; without -newer and -size only
        // the name counts.
        let future = chrono::Utc::now().timestamp() + 3600;
        assert_eq!(find_on(2, &query, Some(future), backend)[0].found, 0);
        let by_name = FindQuery {
            newer: None,
            size: None,
            ..query.clone()
        };
        assert_eq!(find_on(2, &by_name, None, backend)[0].found, named);
        // A backend without shares walks the tree.
        let posix_root = dir.path().join("posix");
        std::fs::create_dir(&posix_root).unwrap();
        std::fs::write(posix_root.join("x01"), b"").unwrap();
        let q = FindQuery {
            root: posix_root.display().to_string(),
            ..by_name
        };
        let c = &find_on(2, &q, None, PosixBackend::default)[0];
        assert!(!c.listed_by_share);
        assert_eq!((c.total_files, c.found), (1, 1));
        rt.block_on(cluster.shutdown()).unwrap();
    }
}
