//! BenchFS's metadata under mdtest-like load, on embedded clusters of several servers with
//! several clients (each its own connections, as tasks have): 100 000 entries of one directory
//! created concurrently by four clients list completely through paged readdir from every client
//! (and again after two clients removed a quarter at once);
//! a file created (and written) by one client is seen at once by every other; directory rename
//! and remove give what POSIX gives, step by step against a real directory of this machine.

use benchfs::fs::wire::FileKind;
use benchfs::fs::{Client, Cluster, FsError};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeSet;

const CS: u32 = 64 << 10;

async fn clients(c: &Cluster, n: usize) -> Vec<Client> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(c.client().await.expect("client"));
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_entries_from_four_clients_list_completely_from_each() {
    const PER: usize = 25_000;
    let d = tempfile::tempdir().unwrap();
    let c = Cluster::embedded_with(3, d.path(), CS).await.unwrap();
    let fs = clients(&c, 4).await;
    fs[0].mkdir("/shared", 0o755).await.unwrap();
    // Every client creates its quarter, 64 creates in flight each, all four at once.
    let tasks: Vec<_> = fs
        .iter()
        .cloned()
        .enumerate()
        .map(|(k, client)| {
            tokio::spawn(async move {
                stream::iter(0..PER)
                    .map(|i| {
                        let client = client.clone();
                        async move {
                            let f = client.create(&format!("/shared/f.{k}.{i}")).await?;
                            f.close().await
                        }
                    })
                    .buffer_unordered(64)
                    .try_collect::<Vec<()>>()
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let expect: BTreeSet<String> = (0..4)
        .flat_map(|k| (0..PER).map(move |i| format!("f.{k}.{i}")))
        .collect();
    for (k, client) in fs.iter().enumerate() {
        let entries = client.readdir("/shared").await.unwrap();
        assert_eq!(entries.len(), 4 * PER, "client {k}");
        assert!(entries.iter().all(|e| e.kind == FileKind::File));
        let names: BTreeSet<String> = entries.into_iter().map(|e| e.name).collect();
        assert_eq!(names.len(), 4 * PER, "client {k}: duplicates");
        assert!(names == expect, "client {k}: other names");
    }
    // Two clients remove the first quarter at once: every client then lists the other three.
    let halves: Vec<_> = [0usize, 1]
        .into_iter()
        .map(|h| {
            let client = fs[h * 2].clone();
            tokio::spawn(async move {
                stream::iter((h * PER / 2)..((h + 1) * PER / 2))
                    .map(|i| {
                        let client = client.clone();
                        async move { client.unlink(&format!("/shared/f.0.{i}")).await }
                    })
                    .buffer_unordered(64)
                    .try_collect::<Vec<()>>()
                    .await
            })
        })
        .collect();
    for t in halves {
        t.await.unwrap().unwrap();
    }
    let rest: BTreeSet<String> = expect
        .into_iter()
        .filter(|n| !n.starts_with("f.0."))
        .collect();
    for (k, client) in fs.iter().enumerate() {
        let names: Vec<String> = client
            .readdir("/shared")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names.len(), 3 * PER, "client {k}");
        assert!(
            names.into_iter().collect::<BTreeSet<_>>() == rest,
            "client {k}"
        );
    }
    assert_eq!(
        fs[1].rmdir("/shared").await.unwrap_err().errno(),
        libc::ENOTEMPTY
    );
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_after_create_sees_the_new_file_from_every_client() {
    let d = tempfile::tempdir().unwrap();
    let c = Cluster::embedded_with(4, d.path(), CS).await.unwrap();
    let fs = clients(&c, 3).await;
    fs[0].mkdir("/d", 0o755).await.unwrap();
    for i in 0..300usize {
        let creator = &fs[i % 3];
        let path = format!("/d/file.mdtest.{}.{i}", i % 3);
        let f = creator.create(&path).await.unwrap();
        f.write(&vec![7u8; i]).await.unwrap();
        f.close().await.unwrap();
        for (k, other) in fs.iter().enumerate() {
            let a = other
                .stat(&path)
                .await
                .unwrap_or_else(|e| panic!("client {k} cannot stat {path}: {e}"));
            assert_eq!(
                (a.kind, a.size),
                (FileKind::File, i as u64),
                "client {k} {path}"
            );
        }
        // And a directory made by one is a directory for all, at once.
        let dir = format!("/d/dir.mdtest.{i}");
        fs[(i + 1) % 3].mkdir(&dir, 0o700).await.unwrap();
        for other in &fs {
            assert_eq!(other.stat(&dir).await.unwrap().kind, FileKind::Dir);
        }
    }
    assert_eq!(fs[2].readdir("/d").await.unwrap().len(), 600);
    c.shutdown().await.unwrap();
}

/// One step of the rename/remove scenario.
#[derive(Debug, Clone, Copy)]
enum Step {
    Mkdir(&'static str),
    Create(&'static str),
    Rmdir(&'static str),
    Unlink(&'static str),
    Rename(&'static str, &'static str),
    Stat(&'static str),
    List(&'static str),
}

/// What a step gave: the error number, or the kind (stat) or the sorted names (list).
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Errno(i32),
    Kind(bool),
    Names(Vec<String>),
}

const SCENARIO: &[Step] = &[
    Step::Mkdir("/a"),
    Step::Mkdir("/a/b"),
    Step::Create("/a/b/f"),
    Step::Mkdir("/a/b/c"),
    Step::Create("/a/b/c/g"),
    Step::Mkdir("/empty"),
    Step::Create("/file"),
    Step::Mkdir("/full"),
    Step::Create("/full/x"),
    Step::Mkdir("/a"),
    Step::Rmdir("/a"),
    Step::Rmdir("/file"),
    Step::Rmdir("/missing"),
    Step::Unlink("/a"),
    Step::Rename("/a", "/a/b/inside"),
    Step::Rename("/a", "/file"),
    Step::Rename("/file", "/empty"),
    Step::Rename("/a", "/full"),
    Step::Rename("/missing", "/m2"),
    Step::Rename("/a", "/nodir/a"),
    Step::Rename("/a", "/a"),
    // A non-empty directory moves onto an empty one, with everything under it.
    Step::Rename("/a", "/empty"),
    Step::Stat("/a"),
    Step::Stat("/a/b/f"),
    Step::Stat("/empty/b/f"),
    Step::Stat("/empty/b/c/g"),
    Step::List("/empty/b"),
    Step::List("/"),
    // And to a new name in another directory.
    Step::Rename("/empty/b", "/full/moved"),
    Step::List("/full"),
    Step::List("/full/moved/c"),
    Step::Stat("/empty/b"),
    // A file onto a file replaces it.
    Step::Rename("/file", "/full/x"),
    Step::Stat("/file"),
    Step::Stat("/full/x"),
    // Removal bottom up; out of order fails.
    Step::Rmdir("/full/moved"),
    Step::Unlink("/full/moved/c/g"),
    Step::Rmdir("/full/moved/c"),
    Step::Unlink("/full/moved/f"),
    Step::Rmdir("/full/moved"),
    Step::Unlink("/full/x"),
    Step::Rmdir("/full"),
    Step::Rmdir("/empty"),
    Step::List("/"),
];

fn posix_step(root: &std::path::Path, s: Step) -> Outcome {
    let p = |x: &str| root.join(x.trim_start_matches('/'));
    let r = match s {
        Step::Mkdir(a) => std::fs::create_dir(p(a)),
        Step::Create(a) => std::fs::File::create(p(a)).map(drop),
        Step::Rmdir(a) => std::fs::remove_dir(p(a)),
        Step::Unlink(a) => std::fs::remove_file(p(a)),
        Step::Rename(a, b) => std::fs::rename(p(a), p(b)),
        Step::Stat(a) => {
            return match std::fs::metadata(p(a)) {
                Ok(m) => Outcome::Kind(m.is_dir()),
                Err(e) => Outcome::Errno(e.raw_os_error().unwrap_or(-1)),
            }
        }
        Step::List(a) => {
            return match std::fs::read_dir(p(a)) {
                Ok(rd) => {
                    let mut v: Vec<String> = rd
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    v.sort();
                    Outcome::Names(v)
                }
                Err(e) => Outcome::Errno(e.raw_os_error().unwrap_or(-1)),
            }
        }
    };
    match r {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Errno(e.raw_os_error().unwrap_or(-1)),
    }
}

async fn benchfs_step(fs: &Client, s: Step) -> Outcome {
    let done = |r: Result<(), FsError>| match r {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Errno(e.errno()),
    };
    match s {
        Step::Mkdir(a) => done(fs.mkdir(a, 0o755).await),
        Step::Create(a) => match fs.create(a).await {
            Ok(f) => done(f.close().await),
            Err(e) => Outcome::Errno(e.errno()),
        },
        Step::Rmdir(a) => done(fs.rmdir(a).await),
        Step::Unlink(a) => done(fs.unlink(a).await),
        Step::Rename(a, b) => done(fs.rename(a, b).await),
        Step::Stat(a) => match fs.stat(a).await {
            Ok(at) => Outcome::Kind(at.kind == FileKind::Dir),
            Err(e) => Outcome::Errno(e.errno()),
        },
        Step::List(a) => match fs.readdir(a).await {
            Ok(v) => Outcome::Names(v.into_iter().map(|e| e.name).collect()),
            Err(e) => Outcome::Errno(e.errno()),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_rename_and_remove_behave_as_posix() {
    let posix = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    let c = Cluster::embedded_with(3, d.path(), CS).await.unwrap();
    // Two clients take turns: what one did, the other sees.
    let fs = clients(&c, 2).await;
    let mut failures = 0;
    for (i, step) in SCENARIO.iter().enumerate() {
        let want = posix_step(posix.path(), *step);
        let got = benchfs_step(&fs[i % 2], *step).await;
        assert_eq!(
            got, want,
            "step {i} {step:?}: BenchFS gave {got:?}, POSIX {want:?}"
        );
        if matches!(want, Outcome::Errno(_)) {
            failures += 1;
        }
    }
    // The scenario really exercised the error paths.
    assert!(failures >= 12, "{failures} failing steps");
    c.shutdown().await.unwrap();
}

/// Counts the calls of a client and the most it had in flight at once. While `hold` is set,
/// a lookup's reply is held until another call has begun (for at most 5 s), so that two calls a client makes
/// at once are seen in flight together however the threads are scheduled (on two busy
/// cores the reply of the first could otherwise arrive before the second is sent).
struct CallCount {
    calls: std::sync::atomic::AtomicUsize,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    started: tokio::sync::watch::Sender<usize>,
    hold: std::sync::atomic::AtomicBool,
}

impl CallCount {
    fn new() -> Self {
        CallCount {
            calls: Default::default(),
            now: Default::default(),
            most: Default::default(),
            started: tokio::sync::watch::channel(0).0,
            hold: Default::default(),
        }
    }

    /// (calls, most in flight at once) since the last take.
    fn take(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::SeqCst;
        self.started.send_replace(0);
        (self.calls.swap(0, SeqCst), self.most.swap(0, SeqCst))
    }
}

/// TCP connections whose calls are counted in one [`CallCount`].
struct Counting {
    count: std::sync::Arc<CallCount>,
}

struct CountedConnection {
    inner: std::sync::Arc<dyn benchfs::fs::transport::Connection>,
    count: std::sync::Arc<CallCount>,
}

impl benchfs::fs::transport::Connection for CountedConnection {
    fn call(
        &self,
        op: u16,
        msg: bytes::Bytes,
        bulk: bytes::Bytes,
        timeout: std::time::Duration,
    ) -> benchfs::fs::transport::BoxFuture<'_, benchfs::fs::FsResult<benchfs::fs::transport::Reply>>
    {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            let c = &self.count;
            c.calls.fetch_add(1, SeqCst);
            let now = c.now.fetch_add(1, SeqCst) + 1;
            c.most.fetch_max(now, SeqCst);
            let mut started = c.started.subscribe();
            c.started.send_modify(|n| *n += 1);
            let r = self.inner.call(op, msg, bulk, timeout).await;
            if op == benchfs::fs::wire::Op::Lookup as u16 && c.hold.load(SeqCst) {
                let another = started.wait_for(|n| *n >= 2);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), another).await;
            }
            c.now.fetch_sub(1, SeqCst);
            r
        })
    }
    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
}

impl benchfs::fs::transport::Connector for Counting {
    fn connect<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: std::time::Duration,
    ) -> benchfs::fs::transport::BoxFuture<
        'a,
        benchfs::fs::FsResult<std::sync::Arc<dyn benchfs::fs::transport::Connection>>,
    > {
        Box::pin(async move {
            let inner = benchfs::fs::transport::tcp::TcpConnector::default()
                .connect(addr, secret, timeout)
                .await?;
            let c: std::sync::Arc<dyn benchfs::fs::transport::Connection> =
                std::sync::Arc::new(CountedConnection {
                    inner,
                    count: self.count.clone(),
                });
            Ok(c)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_mkdir_check_the_parent_in_the_same_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let c = Cluster::embedded_with(3, d.path(), CS).await.unwrap();
    let count = std::sync::Arc::new(CallCount::new());
    let addrs = (0..3).map(|i| c.addr(i).unwrap().to_string()).collect();
    let fs = Client::from_servers_via(
        addrs,
        c.secret().to_vec(),
        benchfs::fs::ClientOptions::default(),
        std::sync::Arc::new(Counting {
            count: count.clone(),
        }),
    )
    .await
    .unwrap();
    fs.mkdir("/d", 0o755).await.unwrap();
    assert_eq!(
        count.take(),
        (1, 1),
        "mkdir in the root: no parent to check"
    );
    let create = || benchfs::fs::OpenFlags::read_write().create(true);
    count.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    for i in 0..10 {
        let g = fs.open(&format!("/d/f{i}"), create()).await.unwrap();
        g.close().await.unwrap();
        assert_eq!(
            count.take(),
            (2, 2),
            "create: lookup of /d and create at once"
        );
        fs.mkdir(&format!("/d/s{i}"), 0o755).await.unwrap();
        assert_eq!(
            count.take(),
            (2, 2),
            "mkdir: lookup of /d and mkdir at once"
        );
    }
    count.hold.store(false, std::sync::atomic::Ordering::SeqCst);
    // With truncation the parent is checked first (a truncation is not undone).
    let f = fs.create("/d/t").await.unwrap();
    f.close().await.unwrap();
    assert_eq!(count.take(), (2, 1));
    // A missing parent (or a file as parent) fails as before, and what was made in it
    // meanwhile is gone again.
    for (path, errno) in [
        ("/none/f", libc::ENOENT),
        ("/d/f0/f", libc::ENOTDIR),
        ("/none/s/f", libc::ENOENT),
    ] {
        let e = fs.open(path, create()).await.unwrap_err();
        assert_eq!(e.errno(), errno, "create {path}: {e}");
        assert_eq!(
            fs.stat(path).await.unwrap_err().errno(),
            libc::ENOENT,
            "{path}"
        );
        let e = fs.mkdir(path, 0o755).await.unwrap_err();
        assert_eq!(e.errno(), errno, "mkdir {path}: {e}");
        assert_eq!(
            fs.stat(path).await.unwrap_err().errno(),
            libc::ENOENT,
            "{path}"
        );
    }
    // An exclusive create in a missing parent says ENOENT, as POSIX does.
    let e = fs
        .open("/none/f", create().exclusive(true))
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    let names = fs.readdir("/d").await.unwrap();
    assert_eq!(names.len(), 21, "{names:?}");
}
