//! Integration tests of BenchFS over embedded clusters of several real servers (TCP on
//! 127.0.0.1, chunk files on disk): every call and every error of the client API.

use benchfs::fs::wire::FileKind;
use benchfs::fs::{
    Client, ClientOptions, ClientTransport, Cluster, FsError, OpenFlags, ServerConfig,
};
use std::time::{Duration, Instant};

const CS: u32 = 64 << 10;
const MIB: usize = 1 << 20;

#[test]
fn client_and_handles_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Client>();
    check::<benchfs::fs::FileHandle>();
}

/// `n` servers offering what a client of transport `t` needs (the cluster's clients use
/// `t`; `local`: in-process calls to servers that also listen on TCP).
async fn servers(t: ClientTransport, n: usize, dir: &std::path::Path) -> Cluster {
    ucx_loopback();
    let mut base = ServerConfig::new(dir, Vec::new());
    base.transports = t.servers();
    let mut c = Cluster::embedded_config(n, dir, CS, &base).await.unwrap();
    c.set_client_transport(t);
    c
}

async fn cluster(t: ClientTransport, n: usize, dir: &std::path::Path) -> (Cluster, Client) {
    let c = servers(t, n, dir).await;
    let client = c.client().await.unwrap();
    (c, client)
}

/// UCX traffic of these tests stays on the loopback device, whatever the environment says.
fn ucx_loopback() {
    #[cfg(feature = "ucx")]
    benchfs::fs::transport::ucx_rpc::use_context(
        benchfs::fs::transport::ucx::ContextBuilder::new()
            .set("NET_DEVICES", "lo")
            .build()
            .expect("UCX context"),
    );
}

/// Runs scenario `$body` over TCP, in-process (`local`) and, in builds with UCX, over UCX
/// (same test, same assertions), as `$body::tcp`, `$body::local` and `$body::ucx`.
macro_rules! over_each_transport {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            use benchfs::fs::ClientTransport;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tcp() {
                super::$body(ClientTransport::Tcp).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                super::$body(ClientTransport::Local).await
            }
            #[cfg(feature = "ucx")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ucx() {
                super::$body(ClientTransport::Ucx).await
            }
        }
    )*};
}

over_each_transport!(
    files_span_servers_holes_short_reads_and_sizes,
    open_flags_and_their_errors,
    directories_are_real,
    unlink_rename_truncate_reach_every_server,
    a_dropped_handle_still_publishes_its_size,
    bad_paths_are_rejected,
    many_writers_of_one_shared_file,
    killed_server_gives_errors_within_the_timeout_and_restart_serves_fsynced_data,
    wrong_or_missing_secret_is_refused_and_restart_keeps_closed_files,
    a_server_that_is_gone_refuses_connections,
    servers_refuse_bad_requests_from_raw_clients,
);

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(31).wrapping_add(seed * 7919) % 251) as u8)
        .collect()
}

fn errno<T: std::fmt::Debug>(r: Result<T, FsError>) -> i32 {
    r.unwrap_err().errno()
}

async fn files_span_servers_holes_short_reads_and_sizes(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (c, fs) = cluster(t, 4, d.path()).await;
    let f = fs.create("/big").await.unwrap();
    // 10 chunks of data written at an offset, leaving a hole at the start.
    let data = pattern(1, 10 * CS as usize + 123);
    f.write_at(1000, &data).await.unwrap();
    f.close().await.unwrap();
    let st = fs.stat("/big").await.unwrap();
    assert_eq!(st.size, 1000 + data.len() as u64);
    assert_eq!(st.kind, FileKind::File);
    assert_eq!(st.chunk_size, CS);
    // The chunks really are spread: more than one server holds chunks.
    let sf = fs.statfs().await.unwrap();
    assert!(sf.chunks >= 10, "{sf:?}");
    assert!(sf.total_bytes > 0 && sf.entries >= 1);

    let r = fs.open("/big", OpenFlags::read_only()).await.unwrap();
    let all = r.read_vec(0, st.size as usize + 500).await.unwrap();
    assert_eq!(all.len() as u64, st.size, "short read at EOF");
    assert!(all[..1000].iter().all(|b| *b == 0), "hole reads as zeros");
    assert_eq!(&all[1000..], &data[..]);
    assert_eq!(r.read_vec(st.size, 10).await.unwrap().len(), 0);
    assert_eq!(r.read_vec(st.size + 100, 10).await.unwrap().len(), 0);
    // Read-only handle refuses writes, closed handle refuses everything.
    assert_eq!(errno(r.write_at(0, b"x").await), libc::EBADF);
    r.close().await.unwrap();
    assert_eq!(errno(r.read_vec(0, 1).await), libc::EBADF);
    assert_eq!(errno(r.close().await), libc::EBADF);
    let w = fs.open("/big", OpenFlags::write_only()).await.unwrap();
    assert_eq!(errno(w.read_vec(0, 1).await), libc::EBADF);
    w.close().await.unwrap();

    // A sparse file: one byte far away; everything before reads as zeros.
    let s = fs.create("/sparse").await.unwrap();
    s.write_at(5 * CS as u64 + 7, b"z").await.unwrap();
    let fst = s.fstat().await.unwrap();
    assert_eq!(fst.size, 5 * CS as u64 + 8, "fstat includes own writes");
    s.close().await.unwrap();
    let s = fs.open("/sparse", OpenFlags::read_only()).await.unwrap();
    let v = s.read_vec(0, 10 * CS as usize).await.unwrap();
    assert_eq!(v.len(), 5 * CS as usize + 8);
    assert!(v[..v.len() - 1].iter().all(|b| *b == 0));
    assert_eq!(v[v.len() - 1], b'z');

    // Large chunks: writes split into several pieces inside one chunk, reads of a chunk.
    let big = pattern(11, 3 * MIB + 4321);
    let g = fs
        .open(
            "/bigchunks",
            OpenFlags::read_write().create(true).chunk_size(MIB as u32),
        )
        .await
        .unwrap();
    g.write_at(777, &big).await.unwrap();
    assert_eq!(g.read_vec(777, big.len()).await.unwrap(), big);
    g.close().await.unwrap();
    drop(c);
}

async fn open_flags_and_their_errors(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (_c, fs) = cluster(t, 3, d.path()).await;
    assert_eq!(
        errno(fs.open("/nope", OpenFlags::read_only()).await),
        libc::ENOENT
    );
    let rwc = OpenFlags::read_write().create(true);
    let f = fs.open("/f", rwc).await.unwrap();
    f.write_at(0, b"hello world").await.unwrap();
    f.close().await.unwrap();
    // Exclusive create of an existing file.
    assert_eq!(
        errno(fs.open("/f", rwc.exclusive(true)).await),
        libc::EEXIST
    );
    // Exclusive without create, nothing to open for, truncate without write.
    assert_eq!(
        errno(fs.open("/f", OpenFlags::read_only().exclusive(true)).await),
        libc::EINVAL
    );
    assert_eq!(
        errno(
            fs.open(
                "/f",
                OpenFlags {
                    read: false,
                    ..OpenFlags::read_only()
                }
            )
            .await
        ),
        libc::EINVAL
    );
    assert_eq!(
        errno(fs.open("/f", OpenFlags::read_only().truncate(true)).await),
        libc::EINVAL
    );
    // Open without create keeps the data; with truncate drops it.
    let f = fs.open("/f", OpenFlags::read_write()).await.unwrap();
    assert_eq!(f.read_vec(0, 100).await.unwrap(), b"hello world");
    f.close().await.unwrap();
    let f = fs
        .open("/f", OpenFlags::read_write().truncate(true))
        .await
        .unwrap();
    assert_eq!(f.read_vec(0, 100).await.unwrap(), b"");
    f.write_at(0, b"ab").await.unwrap();
    f.close().await.unwrap();
    assert_eq!(fs.stat("/f").await.unwrap().size, 2);
    // Create+truncate of an existing file drops its chunks too.
    let f = fs.create("/f").await.unwrap();
    assert_eq!(f.read_vec(0, 10).await.unwrap(), b"");
    f.close().await.unwrap();
    let f = fs.open("/f", OpenFlags::read_write()).await.unwrap();
    f.write_at(0, b"xyz").await.unwrap();
    f.close().await.unwrap();
    // Append: cursor writes go to the end.
    let a = fs
        .open("/f", OpenFlags::write_only().append(true))
        .await
        .unwrap();
    a.write(b"123").await.unwrap();
    a.write(b"45").await.unwrap();
    a.close().await.unwrap();
    let r = fs.open("/f", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 100).await.unwrap(), b"xyz12345");
    // Cursor reads.
    let mut b = [0u8; 4];
    assert_eq!(r.read(&mut b).await.unwrap(), 4);
    assert_eq!(&b, b"xyz1");
    assert_eq!(r.read(&mut b).await.unwrap(), 4);
    assert_eq!(r.read(&mut b).await.unwrap(), 0);
    // Missing parent, parent that is a file, directories are not files.
    assert_eq!(errno(fs.create("/missing/x").await), libc::ENOENT);
    assert_eq!(errno(fs.create("/f/x").await), libc::ENOTDIR);
    fs.mkdir("/d", 0o755).await.unwrap();
    assert_eq!(errno(fs.create("/d").await), libc::EISDIR);
    assert_eq!(
        errno(fs.open("/d", OpenFlags::read_only()).await),
        libc::EISDIR
    );
    assert_eq!(
        errno(fs.open("/", OpenFlags::read_only()).await),
        libc::EISDIR
    );
    // Chunk size per file, recorded in its metadata.
    let g = fs.open("/d/g", rwc.chunk_size(1 << 20)).await.unwrap();
    assert_eq!(g.chunk_size(), 1 << 20);
    g.close().await.unwrap();
    assert_eq!(fs.stat("/d/g").await.unwrap().chunk_size, 1 << 20);
    assert_eq!(
        errno(fs.open("/d/h", rwc.chunk_size(100_000)).await),
        libc::EINVAL
    );
}

async fn directories_are_real(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (_c, fs) = cluster(t, 4, d.path()).await;
    assert_eq!(errno(fs.mkdir("/a/b", 0o755).await), libc::ENOENT);
    fs.mkdir("/a", 0o755).await.unwrap();
    assert_eq!(errno(fs.mkdir("/a", 0o755).await), libc::EEXIST);
    assert_eq!(errno(fs.mkdir("/", 0o755).await), libc::EEXIST);
    fs.mkdir("/a/b", 0o700).await.unwrap();
    let st = fs.stat("/a/b").await.unwrap();
    assert_eq!((st.kind, st.mode), (FileKind::Dir, 0o700));
    // 200 files in one directory: their entries land on every server.
    for i in 0..200 {
        let f = fs.create(&format!("/a/f{i:03}")).await.unwrap();
        f.close().await.unwrap();
    }
    let names: Vec<String> = fs
        .readdir("/a")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let mut expect: Vec<String> = (0..200).map(|i| format!("f{i:03}")).collect();
    expect.push("b".into());
    expect.sort();
    assert_eq!(names, expect);
    let root = fs.readdir("/").await.unwrap();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].name, "a");
    assert_eq!(root[0].kind, FileKind::Dir);
    assert_eq!(errno(fs.readdir("/nope").await), libc::ENOENT);
    assert_eq!(errno(fs.readdir("/a/f000").await), libc::ENOTDIR);
    // rmdir errors.
    assert_eq!(errno(fs.rmdir("/a").await), libc::ENOTEMPTY);
    assert_eq!(errno(fs.rmdir("/a/f000").await), libc::ENOTDIR);
    assert_eq!(errno(fs.rmdir("/zzz").await), libc::ENOENT);
    assert_eq!(errno(fs.rmdir("/").await), libc::EBUSY);
    assert_eq!(errno(fs.unlink("/a/b").await), libc::EISDIR);
    assert_eq!(errno(fs.unlink("/a/nope").await), libc::ENOENT);
    for i in 0..200 {
        fs.unlink(&format!("/a/f{i:03}")).await.unwrap();
    }
    assert_eq!(errno(fs.rmdir("/a").await), libc::ENOTEMPTY);
    fs.rmdir("/a/b").await.unwrap();
    fs.rmdir("/a").await.unwrap();
    assert!(fs.readdir("/").await.unwrap().is_empty());
    assert_eq!(errno(fs.stat("/a").await), libc::ENOENT);
}

async fn unlink_rename_truncate_reach_every_server(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (_c, fs) = cluster(t, 4, d.path()).await;
    let data = pattern(3, 16 * CS as usize);
    let f = fs.create("/r").await.unwrap();
    f.write_at(0, &data).await.unwrap();
    f.close().await.unwrap();
    let before = fs.statfs().await.unwrap().chunks;
    assert_eq!(before, 16);

    // Rename: the new name reads every byte; the old name is gone.
    fs.mkdir("/dir", 0o755).await.unwrap();
    fs.rename("/r", "/dir/r2").await.unwrap();
    assert_eq!(errno(fs.stat("/r").await), libc::ENOENT);
    let g = fs.open("/dir/r2", OpenFlags::read_only()).await.unwrap();
    assert_eq!(g.read_vec(0, data.len()).await.unwrap(), data);
    g.close().await.unwrap();
    assert_eq!(errno(fs.rename("/nope", "/x").await), libc::ENOENT);
    assert_eq!(errno(fs.rename("/dir/r2", "/nodir/x").await), libc::ENOENT);
    assert_eq!(errno(fs.rename("/dir/r2", "/dir").await), libc::EISDIR);
    fs.mkdir("/e", 0o755).await.unwrap();
    assert_eq!(errno(fs.rename("/e", "/dir/r2").await), libc::ENOTDIR);
    assert_eq!(errno(fs.rename("/e", "/dir").await), libc::ENOTEMPTY);
    assert_eq!(errno(fs.rename("/dir", "/dir/sub").await), libc::EINVAL);
    // A non-empty directory moves with everything under it, at any depth.
    fs.mkdir("/dir/sub", 0o755).await.unwrap();
    fs.mkdir("/dir/sub/deeper", 0o755).await.unwrap();
    for i in 0..20 {
        let f = fs.create(&format!("/dir/sub/deeper/f{i}")).await.unwrap();
        f.write_at(0, format!("file {i}").as_bytes()).await.unwrap();
        f.close().await.unwrap();
    }
    fs.rename("/dir", "/moved").await.unwrap();
    assert_eq!(errno(fs.stat("/dir").await), libc::ENOENT);
    assert_eq!(errno(fs.stat("/dir/sub/deeper/f3").await), libc::ENOENT);
    let names: Vec<String> = fs
        .readdir("/moved")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["r2", "sub"]);
    assert_eq!(fs.readdir("/moved/sub/deeper").await.unwrap().len(), 20);
    let f = fs
        .open("/moved/sub/deeper/f7", OpenFlags::read_only())
        .await
        .unwrap();
    assert_eq!(f.read_vec(0, 100).await.unwrap(), b"file 7");
    for i in 0..20 {
        fs.unlink(&format!("/moved/sub/deeper/f{i}")).await.unwrap();
    }
    fs.rmdir("/moved/sub/deeper").await.unwrap();
    fs.rmdir("/moved/sub").await.unwrap();
    fs.rename("/moved", "/dir").await.unwrap();
    fs.rename("/e", "/e2").await.unwrap();
    assert_eq!(fs.stat("/e2").await.unwrap().kind, FileKind::Dir);
    // Rename over an existing file replaces it and removes its chunks.
    let h = fs.create("/victim").await.unwrap();
    h.write_at(0, &[9u8; 3 * CS as usize]).await.unwrap();
    h.close().await.unwrap();
    assert_eq!(fs.statfs().await.unwrap().chunks, 19);
    fs.rename("/dir/r2", "/victim").await.unwrap();
    assert_eq!(fs.statfs().await.unwrap().chunks, 16);
    let v = fs.open("/victim", OpenFlags::read_only()).await.unwrap();
    assert_eq!(v.read_vec(0, data.len()).await.unwrap(), data);

    // Truncate: shrink drops chunks on every server and zero-fills on regrowth.
    let cut = 5 * CS as u64 + 100;
    fs.truncate("/victim", cut).await.unwrap();
    assert_eq!(fs.stat("/victim").await.unwrap().size, cut);
    assert_eq!(fs.statfs().await.unwrap().chunks, 6);
    fs.truncate("/victim", 8 * CS as u64).await.unwrap();
    let v = fs.open("/victim", OpenFlags::read_only()).await.unwrap();
    let back = v.read_vec(0, 16 * CS as usize).await.unwrap();
    assert_eq!(back.len(), 8 * CS as usize);
    assert_eq!(&back[..cut as usize], &data[..cut as usize]);
    assert!(back[cut as usize..].iter().all(|b| *b == 0));
    assert_eq!(errno(fs.truncate("/e2", 0).await), libc::EISDIR);
    assert_eq!(errno(fs.truncate("/none", 0).await), libc::ENOENT);
    // set_len on a handle.
    let w = fs.open("/victim", OpenFlags::read_write()).await.unwrap();
    w.set_len(10).await.unwrap();
    assert_eq!(w.fstat().await.unwrap().size, 10);
    w.close().await.unwrap();
    assert_eq!(fs.statfs().await.unwrap().chunks, 1);
    // set_len of what this very handle wrote (not yet published) drops those chunks too.
    let w = fs.create("/fresh").await.unwrap();
    w.write_at(0, &data).await.unwrap();
    w.set_len(CS as u64 + 1).await.unwrap();
    w.close().await.unwrap();
    assert_eq!(fs.stat("/fresh").await.unwrap().size, CS as u64 + 1);
    assert_eq!(fs.statfs().await.unwrap().chunks, 1 + 2);
    fs.unlink("/fresh").await.unwrap();

    // Unlink removes every chunk on every server.
    fs.unlink("/victim").await.unwrap();
    assert_eq!(fs.statfs().await.unwrap().chunks, 0);
    assert_eq!(errno(fs.stat("/victim").await), libc::ENOENT);
}

async fn a_dropped_handle_still_publishes_its_size(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (_c, fs) = cluster(t, 2, d.path()).await;
    let f = fs.create("/dropped").await.unwrap();
    f.write_at(0, &[1u8; 5000]).await.unwrap();
    drop(f);
    // The size is published by a task; wait for it by polling the metadata.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut size = 0;
    while Instant::now() < deadline {
        size = fs.stat("/dropped").await.unwrap().size;
        if size == 5000 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(size, 5000);
}

async fn bad_paths_are_rejected(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (c, fs) = cluster(t, 2, d.path()).await;
    assert_eq!(errno(fs.create("/a/../../etc/passwd").await), libc::EINVAL);
    assert_eq!(errno(fs.create("/a/./b").await), libc::EINVAL);
    assert_eq!(errno(fs.create("relative").await), libc::EINVAL);
    assert_eq!(errno(fs.create("/nul\0byte").await), libc::EINVAL);
    assert_eq!(
        errno(fs.mkdir(&format!("/{}", "n".repeat(256)), 0o755).await),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno(fs.stat(&"/abcd".repeat(2000)).await),
        libc::ENAMETOOLONG
    );
    // Odd but valid names are only keys: nothing appears outside the cluster directory.
    let f = fs.create("/..hidden").await.unwrap();
    f.write_at(0, b"x").await.unwrap();
    f.close().await.unwrap();
    assert!(fs.stat("//..hidden//").await.is_ok());
    let outside: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside.len(), 1, "only the cluster directory: {outside:?}");
    drop(c);
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "removed on drop"
    );
}

/// IOR N-1: many tasks write interleaved blocks of one shared file through their own
/// handles (and some through clones of one client); afterwards every byte is checked.
async fn many_writers_of_one_shared_file(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (c, fs) = cluster(t, 4, d.path()).await;
    let tasks = 8u64;
    let segments = 6u64;
    let block = 3 * CS as u64 / 2 + 17; // unaligned blocks straddling chunk boundaries
    let f = fs.create("/shared").await.unwrap();
    f.close().await.unwrap();
    let other = c.client().await.unwrap();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let fs = if t % 2 == 0 {
            fs.clone()
        } else {
            other.clone()
        };
        handles.push(tokio::spawn(async move {
            let h = fs.open("/shared", OpenFlags::write_only()).await.unwrap();
            for s in 0..segments {
                let off = (s * tasks + t) * block;
                h.write_at(off, &pattern(s * tasks + t, block as usize))
                    .await
                    .unwrap();
            }
            h.close().await.unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let total = tasks * segments * block;
    assert_eq!(fs.stat("/shared").await.unwrap().size, total);
    let r = fs.open("/shared", OpenFlags::read_only()).await.unwrap();
    let all = r.read_vec(0, total as usize + 10).await.unwrap();
    assert_eq!(all.len() as u64, total);
    for b in 0..tasks * segments {
        let s = (b * block) as usize;
        assert!(
            all[s..s + block as usize] == pattern(b, block as usize)[..],
            "block {b} differs"
        );
    }
}

async fn killed_server_gives_errors_within_the_timeout_and_restart_serves_fsynced_data(
    t: ClientTransport,
) {
    let d = tempfile::tempdir().unwrap();
    let mut c = servers(t, 3, d.path()).await;
    let timeout = Duration::from_secs(3);
    let fs = c
        .client_with(ClientOptions {
            timeout,
            connect_timeout: timeout,
            ..ClientOptions::default()
        })
        .await
        .unwrap();
    let data = pattern(5, 12 * CS as usize);
    let f = fs.create("/durable").await.unwrap();
    f.write_at(0, &data).await.unwrap();
    f.fsync().await.unwrap();
    f.close().await.unwrap();

    // Writers busy on a file spread over every server while server 1 is killed.
    let mut writers = Vec::new();
    for t in 0..4u64 {
        let fs = fs.clone();
        writers.push(tokio::spawn(async move {
            let h = fs.create(&format!("/busy{t}")).await?;
            let buf = vec![t as u8; CS as usize];
            // Over and over the same 64 chunks: busy until the kill however fast the
            // transport is (in-process calls write 10,000 chunks in well under a second).
            for i in 0..10_000_000u64 {
                h.write_at((i % 64) * CS as u64, &buf).await?;
            }
            Ok::<(), FsError>(())
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Server 1 of the cluster, in the client's placement order.
    let dead_addr = c.client_addr(1).map(str::to_string);
    let dead = (0..fs.server_count())
        .find(|i| fs.server_addr(*i) == dead_addr)
        .expect("the client knows server 1");
    let killed_at = Instant::now();
    c.kill_server(1).await;
    for w in writers {
        let r = w.await.unwrap();
        let e = r.expect_err("a writer touching the dead server must fail");
        assert!(
            matches!(
                e.errno(),
                libc::ECONNRESET | libc::ECONNREFUSED | libc::ETIMEDOUT | libc::EIO
            ),
            "{e:?}"
        );
    }
    assert!(
        killed_at.elapsed() < timeout * 3,
        "errors came within the timeout"
    );
    // Reading the durable file now fails if one of its chunks is on the dead server, which
    // depends on the file's id (random: its store id is). A chunk elsewhere reads back.
    let r = fs.open("/durable", OpenFlags::read_only()).await;
    if let Ok(r) = r {
        let placement = fs.placement();
        for chunk in 0..12u64 {
            let got = r.read_vec(chunk * CS as u64, CS as usize).await;
            if placement.chunk_server(r.id(), chunk) == dead {
                assert!(
                    got.is_err(),
                    "chunk {chunk} is on the dead server: {:?}",
                    got.map(|v| v.len())
                );
            } else {
                let want = &data[(chunk * CS as u64) as usize..][..CS as usize];
                assert_eq!(got.unwrap(), want, "chunk {chunk} on a live server");
            }
        }
    }

    // Restart on the same data directory and address: the same client reconnects.
    c.restart_server(1).await.unwrap();
    let r = fs.open("/durable", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, data.len()).await.unwrap(), data);
    assert_eq!(fs.stat("/durable").await.unwrap().size, data.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    // A listener that accepts and then never replies: connecting must fail by timeout.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            keep.push(s);
        }
    });
    let start = Instant::now();
    let e = Client::from_servers(
        vec![addr],
        b"k".to_vec(),
        ClientOptions {
            timeout: Duration::from_millis(300),
            connect_timeout: Duration::from_millis(300),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    assert!(start.elapsed() < Duration::from_secs(5));
}

async fn wrong_or_missing_secret_is_refused_and_restart_keeps_closed_files(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let mut c = servers(t, 2, d.path()).await;
    let addrs: Vec<String> = (0..2)
        .map(|i| c.client_addr(i).unwrap().to_string())
        .collect();
    let e = Client::from_servers(addrs.clone(), b"wrong".to_vec(), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::EACCES);
    let e = Client::from_servers(addrs.clone(), Vec::new(), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::EACCES);
    if t == ClientTransport::Tcp {
        // A raw connection that sends garbage instead of a handshake is closed.
        let mut s = tokio::net::TcpStream::connect(&addrs[0]).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(&[0xffu8; 64]).await.unwrap();
        let mut buf = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert!(n < 200, "no data served to an unauthenticated peer");
    }

    // Graceful stop and restart of every server: closed files and directories survive.
    let fs = c.client().await.unwrap();
    fs.mkdir("/keep", 0o755).await.unwrap();
    let f = fs.create("/keep/f").await.unwrap();
    f.write_at(0, &pattern(9, 300_000)).await.unwrap();
    f.close().await.unwrap();
    c.stop_server(0).await.unwrap();
    c.stop_server(1).await.unwrap();
    c.restart_server(0).await.unwrap();
    c.restart_server(1).await.unwrap();
    let fs = c.client().await.unwrap();
    assert_eq!(fs.readdir("/keep").await.unwrap().len(), 1);
    let r = fs.open("/keep/f", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 400_000).await.unwrap(), pattern(9, 300_000));
}

async fn a_server_that_is_gone_refuses_connections(t: ClientTransport) {
    // A port with no listener.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let e = Client::from_servers(vec![addr], b"k".to_vec(), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.errno(), libc::ECONNREFUSED);

    // A killed server: calls needing it fail with ECONNRESET (in flight) or ECONNREFUSED
    // (reconnecting), calls not needing it still work.
    let d = tempfile::tempdir().unwrap();
    let mut c = servers(t, 2, d.path()).await;
    let fs = c.client().await.unwrap();
    c.kill_server(0).await;
    let e = fs.statfs().await.unwrap_err();
    assert!(
        matches!(e.errno(), libc::ECONNREFUSED | libc::ECONNRESET),
        "{e:?}"
    );
    let e = fs.statfs().await.unwrap_err();
    assert_eq!(e.errno(), libc::ECONNREFUSED, "{e:?}");
    // Cluster indexes are start order; placement order is by store id.
    let dead = (0..2)
        .find(|i| fs.server_addr(*i).as_deref() == c.client_addr(0))
        .unwrap();
    let placement = fs.placement();
    let alive = (0..100)
        .map(|i| format!("/p{i}"))
        .find(|p| placement.meta_server(p) != dead)
        .unwrap();
    assert_eq!(errno(fs.stat(&alive).await), libc::ENOENT);
}

/// The embedded cluster also works on a single-threaded runtime (servers and client share
/// one thread).
#[tokio::test]
async fn works_on_a_current_thread_runtime() {
    current_thread(ClientTransport::Tcp).await
}

/// As [`works_on_a_current_thread_runtime`], over UCX (the UCX workers have threads of
/// their own).
#[cfg(feature = "ucx")]
#[tokio::test]
async fn works_on_a_current_thread_runtime_over_ucx() {
    current_thread(ClientTransport::Ucx).await
}

/// As [`works_on_a_current_thread_runtime`], in-process (the handlers run in the client's
/// task, on the one thread).
#[tokio::test]
async fn works_on_a_current_thread_runtime_over_local() {
    current_thread(ClientTransport::Local).await
}

async fn current_thread(t: ClientTransport) {
    let d = tempfile::tempdir().unwrap();
    let (_c, fs) = cluster(t, 3, d.path()).await;
    let data = pattern(42, 5 * CS as usize + 99);
    let f = fs.create("/ct").await.unwrap();
    f.write_at(10, &data).await.unwrap();
    f.fsync().await.unwrap();
    f.close().await.unwrap();
    let r = fs.open("/ct", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(10, data.len()).await.unwrap(), data);
    fs.unlink("/ct").await.unwrap();
    assert_eq!(fs.statfs().await.unwrap().chunks, 0);
}

/// A client that skips the client library's checks: the server itself refuses paths that are
/// not normal and I/O outside a chunk, and nothing appears outside its data directory.
async fn servers_refuse_bad_requests_from_raw_clients(t: ClientTransport) {
    use benchfs::fs::transport::tcp::TcpConnector;
    use benchfs::fs::transport::Connector;
    use benchfs::fs::wire::{FileId, Request, MAX_CHUNK_SIZE};
    use bytes::Bytes;
    let d = tempfile::tempdir().unwrap();
    let c = servers(t, 1, d.path()).await;
    let connector: Box<dyn Connector> = match t {
        #[cfg(feature = "ucx")]
        ClientTransport::Ucx => {
            Box::new(benchfs::fs::transport::ucx_rpc::UcxConnector::shared().unwrap())
        }
        ClientTransport::Local => Box::new(benchfs::fs::transport::local::LocalConnector),
        _ => Box::new(TcpConnector::default()),
    };
    let conn = connector
        .connect(
            c.client_addr(0).unwrap(),
            c.secret(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let t = Duration::from_secs(5);
    let call = |req: Request, bulk: Bytes| {
        let conn = conn.clone();
        async move {
            conn.call(req.op() as u16, req.encode(), bulk, t)
                .await
                .map(|_| ())
        }
    };
    for path in [
        "/../escape",
        "/a/../../b",
        "relative",
        "/nul\0",
        "//double",
        "/trailing/",
    ] {
        let r = call(
            Request::Create {
                path: path.into(),
                mode: 0o644,
                chunk_size: CS,
                exclusive: false,
                truncate: false,
            },
            Bytes::new(),
        )
        .await;
        assert_eq!(code_of(&r), libc::EINVAL, "{path:?}");
    }
    let r = call(
        Request::Create {
            path: "/ok".into(),
            mode: 0o644,
            chunk_size: 1000,
            exclusive: false,
            truncate: false,
        },
        Bytes::new(),
    )
    .await;
    assert_eq!(code_of(&r), libc::EINVAL, "bad chunk size");
    let id = FileId { store: 1, seq: 1 };
    let r = call(
        Request::Write {
            id,
            chunk: 0,
            offset: MAX_CHUNK_SIZE,
            chunk_size: MAX_CHUNK_SIZE,
        },
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(code_of(&r), libc::EINVAL, "write beyond a chunk");
    let r = call(
        Request::Write {
            id,
            chunk: 0,
            offset: (1 << 20) - 1,
            chunk_size: 1 << 20,
        },
        Bytes::from_static(b"xy"),
    )
    .await;
    assert_eq!(
        code_of(&r),
        libc::EINVAL,
        "write beyond the file's chunk size"
    );
    let r = call(
        Request::Write {
            id,
            chunk: 0,
            offset: 0,
            chunk_size: 3 << 20,
        },
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(code_of(&r), libc::EINVAL, "not a chunk size");
    // The same with a payload large enough to be received straight into a chunk file: it
    // is refused before any byte is stored, and the connection stays in step.
    let r = call(
        Request::Write {
            id,
            chunk: 0,
            offset: MAX_CHUNK_SIZE - 1000,
            chunk_size: MAX_CHUNK_SIZE,
        },
        Bytes::from(vec![9u8; MIB]),
    )
    .await;
    assert_eq!(code_of(&r), libc::EINVAL, "large write beyond a chunk");
    let r = call(
        Request::Read {
            id,
            chunk: 0,
            offset: 0,
            len: u32::MAX,
        },
        Bytes::new(),
    )
    .await;
    assert_eq!(code_of(&r), libc::EINVAL, "absurd read");
    // A chunk index far out is only a file name.
    call(
        Request::Write {
            id,
            chunk: u64::MAX,
            offset: 0,
            chunk_size: 1 << 20,
        },
        Bytes::from_static(b"y"),
    )
    .await
    .unwrap();
    call(
        Request::TruncateChunks {
            id,
            size: 0,
            chunk_size: CS,
        },
        Bytes::new(),
    )
    .await
    .unwrap();
    let outside: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(outside.len(), 1, "only the cluster directory");
}

fn code_of(r: &Result<(), FsError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno(),
    }
}

/// Bytes allocated to the chunk files under `dir` (every server's `chunks/`).
fn chunk_allocation(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if d.file_name().is_some_and(|n| n == "chunks") {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// Chunk size of the spare tests: large enough that a file's last piece (a quarter chunk)
/// is a streaming write that takes a spare.
const SPARE_CS: usize = 1 << 20;

/// A cluster of 2 servers whose chunks made from spares give their tail back after
/// `trim_after`, once both servers have all their spares (so that the writes use them).
async fn cluster_with_spares(dir: &std::path::Path, trim_after: Duration) -> (Cluster, Client) {
    let mut base = benchfs::fs::ServerConfig::new(dir, Vec::new());
    base.trim_after = trim_after;
    base.spare_chunks = 4;
    let c = Cluster::embedded_config(2, dir, SPARE_CS as u32, &base)
        .await
        .unwrap();
    let spares = |root: &std::path::Path| {
        (0..2)
            .map(|i| {
                std::fs::read_dir(root.join(format!("server-{i}/spare")))
                    .map(|r| r.count())
                    .unwrap_or(0)
            })
            .sum::<usize>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while spares(c.root()) < 8 {
        assert!(Instant::now() < deadline, "no spares");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fs = c.client().await.unwrap();
    (c, fs)
}

/// Writes 4 files, each ending a quarter into its last chunk, in large pieces; returns
/// their length.
async fn write_files_ending_inside_a_chunk(fs: &Client) -> usize {
    let len = 2 * SPARE_CS + SPARE_CS / 4;
    for i in 0..4 {
        let f = fs.create(&format!("/f{i}")).await.unwrap();
        f.write_at(0, &pattern(i, len)).await.unwrap();
        f.close().await.unwrap();
    }
    len
}

/// The files of [`write_files_ending_inside_a_chunk`] read back whole.
async fn files_hold_what_was_written(fs: &Client, len: usize) {
    for i in 0..4 {
        let r = fs
            .open(&format!("/f{i}"), OpenFlags::read_only())
            .await
            .unwrap();
        assert_eq!(r.read_vec(0, 4 * SPARE_CS).await.unwrap(), pattern(i, len));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_returns_once_every_server_has_its_spares_again() {
    let d = tempfile::tempdir().unwrap();
    let mut base = benchfs::fs::ServerConfig::new(d.path(), Vec::new());
    base.spare_chunks = 6;
    let c = Cluster::embedded_config(2, d.path(), SPARE_CS as u32, &base)
        .await
        .unwrap();
    let fs = c.client().await.unwrap();
    fs.settle(Duration::from_secs(20)).await.unwrap();
    assert_eq!(c.wait_spares(Duration::ZERO), 12, "both pools full");
    // A burst of new chunks drains the pools (each keeps only a few while busy)...
    let data = pattern(7, 16 * SPARE_CS);
    let f = fs.create("/burst").await.unwrap();
    f.write_at(0, &data).await.unwrap();
    f.close().await.unwrap();
    // ...and settling waits until the idle servers have made them all again.
    fs.settle(Duration::from_secs(20)).await.unwrap();
    assert_eq!(c.wait_spares(Duration::ZERO), 12, "both pools full again");
    let r = fs.open("/burst", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 32 * SPARE_CS).await.unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_made_from_spares_give_back_the_space_past_the_end() {
    let d = tempfile::tempdir().unwrap();
    let (c, fs) = cluster_with_spares(d.path(), Duration::from_millis(50)).await;
    let len = write_files_ending_inside_a_chunk(&fs).await;
    // The idle chunks give back what lies past their end: the allocation shrinks to about
    // the data (4 last chunks hold 3/4 of a chunk less each).
    let data_bytes = 4 * len as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = chunk_allocation(c.root());
        if a < data_bytes + 4 * 4096 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{a} bytes still allocated for {data_bytes} bytes of data"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    files_hold_what_was_written(&fs, len).await;
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_trims_every_chunk_made_from_a_spare() {
    let d = tempfile::tempdir().unwrap();
    let (mut c, fs) = cluster_with_spares(d.path(), Duration::from_secs(3600)).await;
    let len = write_files_ending_inside_a_chunk(&fs).await;
    let data_bytes = 4 * len as u64;
    assert!(
        chunk_allocation(c.root()) > data_bytes + 4 * 4096,
        "the tails are still allocated (no trim within the hour): {} bytes",
        chunk_allocation(c.root())
    );
    c.stop_server(0).await.unwrap();
    c.stop_server(1).await.unwrap();
    let a = chunk_allocation(c.root());
    assert!(
        a < data_bytes + 4 * 4096,
        "{a} bytes allocated after the stop"
    );
    // Restarted, they serve the same bytes.
    c.restart_server(0).await.unwrap();
    c.restart_server(1).await.unwrap();
    files_hold_what_was_written(&fs, len).await;
    c.shutdown().await.unwrap();
}

/// An embedded cluster of `servers` UCX-only servers in `dir` (1 MiB chunks), their
/// configuration changed by `tune`.
#[cfg(feature = "ucx")]
async fn ucx_cluster(
    dir: &std::path::Path,
    servers: usize,
    tune: impl FnOnce(&mut ServerConfig),
) -> Cluster {
    ucx_loopback();
    let mut base = ServerConfig::new(dir, Vec::new());
    base.transports = benchfs::fs::ServerTransports::Ucx;
    tune(&mut base);
    Cluster::embedded_config(servers, dir, MIB as u32, &base)
        .await
        .unwrap()
}

/// UCX servers that do large requests' chunk I/O on their runtime, off the worker's thread
/// (`ServerTuning::ucx_offload`), store and serve the same bytes with many calls in flight,
/// reads past the end of what was written included.
#[cfg(feature = "ucx")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ucx_servers_offloading_chunk_io_store_and_serve_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let c = ucx_cluster(d.path(), 2, |base| base.tuning.ucx_offload = true).await;
    let fs = c.client().await.unwrap();
    let f = fs.create("/offloaded").await.unwrap();
    let data = pattern(3, 6 * MIB + 4321);
    let writes = data.chunks(MIB).enumerate().map(|(i, part)| {
        let f = f.clone();
        async move { (f.write_at((i * MIB) as u64, part).await, part.len()) }
    });
    for (r, len) in futures::future::join_all(writes).await {
        assert_eq!(r.unwrap(), len);
    }
    f.close().await.unwrap();
    let r = fs.open("/offloaded", OpenFlags::read_only()).await.unwrap();
    let reads = (0..8).map(|i| {
        let r = r.clone();
        async move { r.read_vec((i * MIB) as u64, MIB).await }
    });
    let mut back = Vec::new();
    for part in futures::future::join_all(reads).await {
        back.extend(part.unwrap());
    }
    assert_eq!(back.len(), data.len(), "short read at the end of the file");
    assert!(back == data, "read back what was written");
    // The last chunk file is shorter than a chunk: a read across its end is cut there.
    assert_eq!(
        r.read_vec(6 * MIB as u64, MIB).await.unwrap(),
        &data[6 * MIB..]
    );
    r.close().await.unwrap();
}

/// Over UCX, a server receives large writes straight into the chunk files' pages and sends
/// large reads from them (counted in `MAP_STATS`): at unaligned offsets, past the end of a
/// chunk file (which grows, leaving zeros in the gap) and inside it, and what is read back,
/// whole and from an unaligned offset, is what was written.
#[cfg(feature = "ucx")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ucx_servers_move_large_payloads_through_chunk_file_mappings() {
    use benchfs::fs::transport::ucx_mapped::MAP_STATS;
    let d = tempfile::tempdir().unwrap();
    let c = ucx_cluster(d.path(), 1, |_| {}).await;
    let fs = c.client().await.unwrap();
    let f = fs.create("/mapped").await.unwrap();
    let before = MAP_STATS.read();
    let mut expected = vec![0u8; 520_000];
    let writes = [
        (12_345usize, pattern(1, 300_000)),
        (313_344, pattern(2, 200_001)),
        (50_001, pattern(3, 70_000)),
    ];
    let mut written = 0;
    for (at, data) in &writes {
        assert_eq!(f.write_at(*at as u64, data).await.unwrap(), data.len());
        expected[*at..*at + data.len()].copy_from_slice(data);
        written += data.len() as u64;
    }
    let size = 313_344 + 200_001;
    expected.truncate(size);
    f.close().await.unwrap();
    let r = fs.open("/mapped", OpenFlags::read_only()).await.unwrap();
    // A server maps a read only when it has no other request in progress, and the slot of
    // the read before may not be given back yet when the next one arrives (the client has
    // its reply first): such a read is copied, which is right too. So each read is repeated
    // (a few times at most) until one is sent from a mapping; every copy read must match.
    let expected_at = |at: u64, n: usize| &expected[at as usize..at as usize + n];
    let mapped_read = |at: u64, len: usize| {
        let r = r.clone();
        async move {
            for _ in 0..20 {
                let sent = MAP_STATS.read().sent;
                let got = r.read_vec(at, len).await.unwrap();
                if MAP_STATS.read().sent > sent {
                    return got;
                }
                assert!(got == expected_at(at, got.len()), "a copied read at {at}");
            }
            panic!("no read at {at} was sent from a mapping in 20 tries");
        }
    };
    let whole = mapped_read(0, MIB).await;
    assert_eq!(whole.len(), size);
    assert!(whole == expected, "read back what was written");
    let part = mapped_read(4097, 400_000).await;
    assert!(part == expected[4097..404_097], "an unaligned read");
    r.close().await.unwrap();
    let after = MAP_STATS.read();
    // Other tests of this binary may add theirs, never take away.
    assert!(
        after.received - before.received >= written,
        "writes received into mappings: {before:?} -> {after:?}"
    );
    assert!(
        after.sent - before.sent >= (size + 400_000) as u64,
        "reads sent from mappings: {before:?} -> {after:?}"
    );
    c.shutdown().await.unwrap();
}
