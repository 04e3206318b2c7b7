//! Faults of storage: the space of a failed or aborted write and of a kill comes back, a full
//! file system gives a clear error and recovers, spare preallocation stays within its share
//! however many servers share a file system, one server per data directory, data private
//! whatever the umask.

use crate::common::run::scratch;
use crate::support::{self, allocated, files_under, Tmpfs};
use benchfs::fs::{Client, Cluster, OpenFlags, ServerConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Chunk files of every server of an embedded cluster in `root`.
fn chunk_files(root: &Path) -> usize {
    files_under(root)
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("chunks")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_frees_chunks_beyond_the_published_size() {
    let d = scratch();
    let c = Cluster::embedded_with(3, d.path(), 64 << 10).await.unwrap();
    let fs = c.client().await.unwrap();
    // A writer that never closes (it died, or its write failed): the size published is 0,
    // and its 16 chunks are spread over every server.
    let w = fs.create("/unclosed").await.unwrap();
    w.write_at(0, &support::pattern(3, 16 * 64 * KIB))
        .await
        .unwrap();
    assert_eq!(fs.stat("/unclosed").await.unwrap().size, 0);
    assert_eq!(chunk_files(c.root()), 16);
    fs.unlink("/unclosed").await.unwrap();
    assert_eq!(chunk_files(c.root()), 0, "chunks left behind by unlink");
    assert_eq!(fs.statfs().await.unwrap().chunks, 0);
    // The same for a file replaced by a rename.
    let w = fs.create("/victim").await.unwrap();
    w.write_at(0, &support::pattern(4, 8 * 64 * KIB))
        .await
        .unwrap();
    let f = fs.create("/new").await.unwrap();
    f.write_at(0, b"new").await.unwrap();
    f.close().await.unwrap();
    fs.rename("/new", "/victim").await.unwrap();
    assert_eq!(chunk_files(c.root()), 1, "only the renamed file's chunk");
    drop(w);
}

/// A cluster of `n` servers with spare chunks of 1 MiB that are never trimmed while running.
async fn cluster_keeping_tails(n: usize, dir: &Path) -> Cluster {
    let mut base = ServerConfig::new(dir, Vec::new());
    base.spare_chunks = 8;
    base.trim_after = Duration::from_secs(3600);
    let c = Cluster::embedded_config(n, dir, MIB as u32, &base)
        .await
        .unwrap();
    c.wait_spares(Duration::from_secs(30));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_gives_back_its_preallocated_tails_when_restarted() {
    let d = scratch();
    let mut c = cluster_keeping_tails(1, d.path()).await;
    let fs = c.client().await.unwrap();
    // Four files of 128 KiB, each a chunk made from a 1 MiB spare.
    for i in 0..4u64 {
        let f = fs.create(&format!("/t{i}")).await.unwrap();
        f.write_at(0, &support::pattern(i, 128 * KIB))
            .await
            .unwrap();
        f.close().await.unwrap();
    }
    let chunks = c.root().join("server-0/chunks");
    assert!(
        allocated(&chunks) >= 4 * MIB as u64,
        "chunks made from spares"
    );
    c.kill_server(0).await;
    c.restart_server(0).await.unwrap();
    let after = allocated(&chunks);
    assert!(
        after < 2 * MIB as u64,
        "{} KiB still allocated to 512 KiB of chunks after a kill and a restart",
        after >> 10
    );
    let fs = c.client().await.unwrap();
    for i in 0..4u64 {
        let r = fs
            .open(&format!("/t{i}"), OpenFlags::read_only())
            .await
            .unwrap();
        assert_eq!(
            r.read_vec(0, MIB).await.unwrap(),
            support::pattern(i, 128 * KIB)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_reclaims_chunks_of_files_deleted_while_it_was_down() {
    let d = scratch();
    let mut c = Cluster::embedded_with(3, d.path(), 64 << 10).await.unwrap();
    let fs = c.client().await.unwrap();
    let f = fs.create("/gone").await.unwrap();
    f.write_at(0, &support::pattern(5, 12 * 64 * KIB))
        .await
        .unwrap();
    f.close().await.unwrap();
    let keep = fs.create("/kept").await.unwrap();
    keep.write_at(0, &support::pattern(6, 6 * 64 * KIB))
        .await
        .unwrap();
    keep.close().await.unwrap();
    let on = |i: usize| chunk_files(&c.root().join(format!("server-{i}")));
    // A server that holds chunks of the file but not its entry (so the unlink gets as far
    // as removing the entry).
    let meta = fs.server_addr(fs.placement().meta_server("/gone")).unwrap();
    let victim = (0..3)
        .filter(|&i| c.addr(i) != Some(meta.as_str()))
        .max_by_key(|&i| on(i))
        .unwrap();
    let before = on(victim);
    c.kill_server(victim).await;
    // The unlink fails on the dead server (naming it), after its entry is gone.
    let e = fs.unlink("/gone").await.unwrap_err();
    assert!(e.to_string().contains(c.addr(victim).unwrap()), "{e}");
    assert_eq!(fs.stat("/gone").await.unwrap_err().errno(), libc::ENOENT);
    c.restart_server(victim).await.unwrap();
    let fs = c.client().await.unwrap();
    let r = fs.open("/kept", OpenFlags::read_only()).await.unwrap();
    assert_eq!(
        r.read_vec(0, MIB).await.unwrap(),
        support::pattern(6, 6 * 64 * KIB)
    );
    assert_eq!(
        fs.statfs().await.unwrap().chunks,
        6,
        "only the kept file's chunks remain (the victim held {before})"
    );
}

#[test]
fn a_full_file_system_names_the_server_and_its_space_comes_back() {
    let d = scratch();
    let Some(t) = Tmpfs::mount(d.path(), "32m") else {
        return;
    };
    let data = t.path.join("data");
    let reg = d.path().join("registry");
    let s = support::Server::start(
        &reg,
        &data,
        1,
        &["--chunk-size", "1m", "--spare-chunks", "4"],
    );
    let free_before = t.avail();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fs = Client::connect(&reg).await.unwrap();
        let f = fs.create("/big").await.unwrap();
        let piece = support::pattern(7, MIB);
        let mut err = None;
        for i in 0..64u64 {
            if let Err(e) = f.write_at(i * MIB as u64, &piece).await {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("64 MiB fit on a 32 MiB file system");
        assert_eq!(e.errno(), libc::ENOSPC, "{e}");
        let _ = f.close().await;
        fs.unlink("/big").await.unwrap();
        // Everything it took comes back (the spares, made again, within their share).
        support::wait_until_async("the space came back", Duration::from_secs(30), || {
            let free = t.avail();
            async move { free + 4 * MIB as u64 >= free_before }
        })
        .await;
        // And the file system is usable again.
        let f = fs.create("/after").await.unwrap();
        let data = support::pattern(8, 8 * MIB);
        f.write_at(0, &data).await.unwrap();
        f.close().await.unwrap();
        let r = fs.open("/after", OpenFlags::read_only()).await.unwrap();
        assert_eq!(r.read_vec(0, 16 * MIB).await.unwrap(), data);
    });
    drop(s);
}

/// The same through the C API, as real IOR sees it: `benchfs_write` returns `-ENOSPC`,
/// `benchfs_get_error` names the call and the server, nothing written before is lost, and the
/// space comes back once the file is removed.
#[test]
fn the_c_api_returns_enospc_naming_the_server_and_the_space_comes_back() {
    use benchfs::ffi::config::benchfs_config;
    use benchfs::ffi::context::{benchfs_finalize, benchfs_get_error, benchfs_init};
    use benchfs::ffi::file::{
        benchfs_close, benchfs_create, benchfs_open, benchfs_read, benchfs_write,
    };
    use benchfs::ffi::namespace::benchfs_remove;
    use std::ffi::{CStr, CString};
    let d = scratch();
    let Some(t) = Tmpfs::mount(d.path(), "32m") else {
        return;
    };
    let last_error = || {
        // SAFETY: benchfs_get_error returns a NUL-terminated thread-local string.
        unsafe { CStr::from_ptr(benchfs_get_error()) }
            .to_string_lossy()
            .into_owned()
    };
    let dir = CString::new(t.path.to_str().unwrap()).unwrap();
    let cfg = benchfs_config {
        servers: 1,
        data_dir: dir.as_ptr(),
        chunk_size: 1 << 20,
        spare_chunks: 4,
        ..Default::default()
    };
    let free_before = t.avail();
    // SAFETY: a valid config whose strings outlive the call.
    let ctx = unsafe { benchfs_init(&cfg) };
    assert!(!ctx.is_null(), "benchfs_init: {}", last_error());
    let path = CString::new("/big").unwrap();
    // SAFETY: ctx is live, path NUL-terminated.
    let f = unsafe { benchfs_create(ctx, path.as_ptr(), libc::O_WRONLY, 0o644) };
    assert!(!f.is_null(), "benchfs_create: {}", last_error());
    let piece = support::pattern(9, MIB);
    let mut written = 0usize;
    let mut failure = None;
    for i in 0..64usize {
        // SAFETY: f is live; piece is valid for its length.
        let n = unsafe { benchfs_write(f, piece.as_ptr().cast(), MIB, (i * MIB) as i64) };
        if n < 0 {
            failure = Some((n, last_error()));
            break;
        }
        assert_eq!(n, MIB as i64);
        written += 1;
    }
    let (n, msg) = failure.expect("64 MiB fit on a 32 MiB file system");
    assert_eq!(n, -(libc::ENOSPC as i64), "{msg}");
    assert!(
        msg.contains("benchfs_write") && msg.contains("127.0.0.1:"),
        "{msg}"
    );
    assert!(written > 0, "the first MiB fits");
    // f is live; closed once.
    benchfs_close(f);
    // What was written before the failure reads back.
    let ro = CString::new("/big").unwrap();
    // SAFETY: ctx is live, ro NUL-terminated.
    let r = unsafe { benchfs_open(ctx, ro.as_ptr(), libc::O_RDONLY) };
    assert!(!r.is_null(), "benchfs_open: {}", last_error());
    let mut back = vec![0u8; MIB];
    // SAFETY: r is live; back is valid for MIB bytes.
    let got = unsafe { benchfs_read(r, back.as_mut_ptr().cast(), MIB, 0) };
    assert_eq!(got, MIB as i64, "{}", last_error());
    assert!(back == piece, "the first MiB reads back as written");
    // r is live; closed once.
    benchfs_close(r);
    // SAFETY: ctx is live, path NUL-terminated.
    assert_eq!(
        unsafe { benchfs_remove(ctx, path.as_ptr()) },
        0,
        "{}",
        last_error()
    );
    support::wait_until("the space came back", Duration::from_secs(30), || {
        t.avail() + 4 * MIB as u64 >= free_before
    });
    // ctx is live; finalized once.
    benchfs_finalize(ctx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_of_every_server_on_one_file_system_stay_within_an_eighth() {
    let d = scratch();
    let Some(t) = Tmpfs::mount(d.path(), "256m") else {
        return;
    };
    let free = t.avail();
    // 16 servers in this process, 64 spares of 1 MiB each wanted by each.
    let mut base = ServerConfig::new(&t.path, Vec::new());
    base.spare_chunks = 64;
    let c = Cluster::embedded_config(16, &t.path, MIB as u32, &base)
        .await
        .unwrap();
    c.wait_spares(Duration::from_secs(60));
    let spares: u64 = (0..16)
        .map(|i| allocated(&c.root().join(format!("server-{i}/spare"))))
        .sum();
    assert!(
        spares <= free / 8 + MIB as u64,
        "16 servers hold {} MiB of spares on a file system with {} MiB free",
        spares >> 20,
        free >> 20
    );
    assert!(spares >= MIB as u64, "some spares are made");
    drop(c);
    // The same with 4 server processes sharing another small file system.
    let Some(t2) = Tmpfs::mount(d.path(), "128m") else {
        return;
    };
    let free = t2.avail();
    let servers = support::cluster(&t2.path, 4, &["--chunk-size", "1m", "--spare-chunks", "64"]);
    let fs = Client::connect(t2.path.join("registry")).await.unwrap();
    fs.settle(Duration::from_secs(20)).await.unwrap();
    let spares: u64 = (0..4)
        .map(|i| allocated(&t2.path.join(format!("data{i}/spare"))))
        .sum();
    assert!(
        spares <= free / 8 + 4 * MIB as u64,
        "4 server processes hold {} MiB of spares on a file system with {} MiB free",
        spares >> 20,
        free >> 20
    );
    drop(servers);
}

#[test]
fn a_second_server_on_a_data_directory_fails_at_once() {
    let d = scratch();
    let reg = d.path().join("registry");
    let data = d.path().join("data");
    let mut first = support::Server::start(&reg, &data, 1, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fs = Client::connect(&reg).await.unwrap();
        let f = fs.create("/precious").await.unwrap();
        f.write_at(0, b"still here").await.unwrap();
        f.close().await.unwrap();
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
        .arg("--registry")
        .arg(d.path().join("other-registry"))
        .arg("--data-dir")
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another BenchFS server") && err.contains(&first.pid().to_string()),
        "{err}"
    );
    // The first server's files are untouched: it serves them again after a restart.
    first.restart();
    rt.block_on(async {
        let fs = Client::connect(&reg).await.unwrap();
        let r = fs.open("/precious", OpenFlags::read_only()).await.unwrap();
        assert_eq!(r.read_vec(0, 100).await.unwrap(), b"still here");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_private_whatever_the_umask() {
    let d = scratch();
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0) };
    let c = Cluster::embedded_with(2, d.path(), 64 << 10).await;
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let c = c.unwrap();
    let fs = c.client().await.unwrap();
    let f = fs.create("/secret-data").await.unwrap();
    f.write_at(0, &support::pattern(9, 4 * 64 * KIB))
        .await
        .unwrap();
    f.close().await.unwrap();
    fs.sync_all().await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for i in 0..2 {
        let data = c.root().join(format!("server-{i}"));
        for dir in [data.clone(), data.join("chunks"), data.join("spare")] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
        for file in files_under(&data) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
