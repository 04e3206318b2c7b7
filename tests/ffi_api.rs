//! The C API (libbenchfs) through its exported symbols, from Rust: every function on an
//! embedded cluster, every error path with its errno and message, the thread rules (a
//! context shared by threads, one per thread, a finalize racing with calls), servers of a
//! job started over caller-provided collectives, and a read that times out while the
//! server is frozen, which must leave the caller's buffer untouched.

use benchfs::ffi::cluster::*;
use benchfs::ffi::config::benchfs_config;
use benchfs::ffi::context::*;
use benchfs::ffi::file::*;
use benchfs::ffi::namespace::*;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::process::{Child, Command, Stdio};
use std::ptr::{null, null_mut};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    // SAFETY: benchfs_get_error returns a NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(benchfs_get_error()) }
        .to_string_lossy()
        .into_owned()
}

/// An embedded cluster of `servers` servers with its data under `dir`.
fn embedded(dir: &std::path::Path, servers: u32) -> *mut benchfs_context {
    let d = c(dir.to_str().unwrap());
    let cfg = benchfs_config {
        servers,
        data_dir: d.as_ptr(),
        chunk_size: 64 << 10,
        spare_chunks: -1,
        ..Default::default()
    };
    // SAFETY: a valid config whose strings outlive the call.
    let ctx = unsafe { benchfs_init(&cfg) };
    assert!(!ctx.is_null(), "benchfs_init: {}", last_error());
    ctx
}

fn write_all(f: *mut benchfs_file, data: &[u8], off: i64) {
    // SAFETY: data is valid for its length.
    let n = unsafe { benchfs_write(f, data.as_ptr().cast(), data.len(), off) };
    assert_eq!(n, data.len() as i64, "benchfs_write: {}", last_error());
}

fn read_at(f: *mut benchfs_file, len: usize, off: i64) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf is valid for len bytes.
    let n = unsafe { benchfs_read(f, buf.as_mut_ptr().cast(), len, off) };
    assert!(n >= 0, "benchfs_read: {}", last_error());
    buf.truncate(n as usize);
    buf
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8)
        .collect()
}

unsafe extern "C" fn collect_entry(arg: *mut c_void, e: *const benchfs_dirent) -> c_int {
    // SAFETY: arg is the Vec passed by the test; e is valid during the callback.
    let (v, e) = unsafe { (&mut *arg.cast::<Vec<(String, benchfs_stat_t)>>(), &*e) };
    // SAFETY: the entry's name is NUL-terminated during the callback.
    let name = unsafe { CStr::from_ptr(e.name) }
        .to_string_lossy()
        .into_owned();
    v.push((name, e.stat));
    0
}

unsafe extern "C" fn stop_after_one(arg: *mut c_void, _e: *const benchfs_dirent) -> c_int {
    // SAFETY: arg is the test's counter.
    unsafe { *arg.cast::<u32>() += 1 };
    1
}

fn readdir(ctx: *mut benchfs_context, path: &str) -> Vec<(String, benchfs_stat_t)> {
    let mut v: Vec<(String, benchfs_stat_t)> = Vec::new();
    let p = c(path);
    // SAFETY: valid path, callback and argument.
    let n = unsafe {
        benchfs_readdir(
            ctx,
            p.as_ptr(),
            Some(collect_entry),
            (&mut v as *mut Vec<(String, benchfs_stat_t)>).cast(),
        )
    };
    assert_eq!(n, v.len() as i64, "benchfs_readdir: {}", last_error());
    v
}

#[test]
fn every_call_works_on_an_embedded_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = embedded(dir.path(), 3);
    // SAFETY (whole test): every pointer passed is valid for the call.
    unsafe {
        assert!(CStr::from_ptr(benchfs_version())
            .to_str()
            .unwrap()
            .starts_with("BenchFS "));
        let mut reg = [0 as c_char; 512];
        let n = benchfs_context_registry(ctx, reg.as_mut_ptr(), reg.len());
        assert!(n > 0 && (n as usize) < reg.len());
        let reg = CStr::from_ptr(reg.as_ptr()).to_str().unwrap().to_string();
        assert!(reg.starts_with(dir.path().to_str().unwrap()), "{reg}");

        assert_eq!(benchfs_mkdir(ctx, c("/d").as_ptr(), 0o750), 0);
        let f = benchfs_create(ctx, c("/d/f").as_ptr(), libc::O_RDWR, 0o640);
        assert!(!f.is_null(), "{}", last_error());
        // Three chunks and a bit, from offset 10.
        let data = pattern(3 * 65536 + 100, 7);
        write_all(f, &data, 10);
        assert_eq!(
            read_at(f, data.len(), 10),
            data,
            "read back through the writer"
        );
        assert_eq!(read_at(f, 10, 0), vec![0; 10], "the hole reads as zeros");
        let end = 10 + data.len() as i64;
        assert_eq!(read_at(f, 1000, end - 4).len(), 4, "short read at the end");
        assert!(read_at(f, 1000, end + 5).is_empty(), "nothing past the end");
        assert_eq!(benchfs_lseek(f, 5, libc::SEEK_SET), 5);
        assert_eq!(benchfs_lseek(f, 5, libc::SEEK_CUR), 10);
        assert_eq!(benchfs_lseek(f, -1, libc::SEEK_END), end - 1);
        assert_eq!(benchfs_fsync(f), 0, "{}", last_error());
        assert_eq!(benchfs_close(f), 0);
        assert_eq!(benchfs_get_file_size(ctx, c("/d/f").as_ptr()), end);

        let mut st = benchfs_stat_t::default();
        assert_eq!(benchfs_stat(ctx, c("/d/f").as_ptr(), &mut st), 0);
        assert_eq!(st.size, end as u64);
        assert_eq!(st.r#type, BENCHFS_TYPE_FILE);
        assert_eq!(st.mode, libc::S_IFREG | 0o640);
        assert_eq!(st.chunk_size, 65536);
        assert_eq!(st.servers, 3);
        assert!(st.mtime_sec > 1_600_000_000, "{st:?}");
        assert_eq!(benchfs_stat(ctx, c("/d").as_ptr(), &mut st), 0);
        assert_eq!(
            (st.r#type, st.mode),
            (BENCHFS_TYPE_DIR, libc::S_IFDIR | 0o750)
        );

        let r = benchfs_open(ctx, c("/d/f").as_ptr(), libc::O_RDONLY);
        assert!(!r.is_null());
        assert_eq!(read_at(r, data.len(), 10), data, "read back after close");
        assert_eq!(benchfs_close(r), 0);

        assert_eq!(benchfs_truncate(ctx, c("/d/f").as_ptr(), 100), 0);
        assert_eq!(benchfs_get_file_size(ctx, c("/d/f").as_ptr()), 100);
        assert_eq!(benchfs_access(ctx, c("/d/f").as_ptr(), libc::F_OK), 0);
        assert_eq!(
            benchfs_access(ctx, c("/d/f").as_ptr(), libc::R_OK | libc::W_OK),
            0
        );
        assert_eq!(
            benchfs_access(ctx, c("/d/f").as_ptr(), libc::X_OK),
            -libc::EACCES
        );
        assert_eq!(
            benchfs_rename(ctx, c("/d/f").as_ptr(), c("/d/g").as_ptr()),
            0
        );
        assert_eq!(
            benchfs_access(ctx, c("/d/f").as_ptr(), libc::F_OK),
            -libc::ENOENT
        );

        let e = benchfs_create(ctx, c("/d/empty").as_ptr(), libc::O_WRONLY, 0o600);
        assert_eq!(benchfs_close(e), 0);
        assert_eq!(benchfs_mkdir(ctx, c("/d/sub").as_ptr(), 0o755), 0);
        let entries = readdir(ctx, "/d");
        let got: Vec<(&str, u32, u64)> = entries
            .iter()
            .map(|(n, s)| (n.as_str(), s.r#type, s.size))
            .collect();
        assert_eq!(
            got,
            [
                ("empty", BENCHFS_TYPE_FILE, 0),
                ("g", BENCHFS_TYPE_FILE, 100),
                ("sub", BENCHFS_TYPE_DIR, 0)
            ]
        );
        let mut calls = 0u32;
        let n = benchfs_readdir(
            ctx,
            c("/d").as_ptr(),
            Some(stop_after_one),
            (&mut calls as *mut u32).cast(),
        );
        assert_eq!((n, calls), (1, 1), "a non-zero return stops the listing");

        let mut sf = benchfs_statfs_t::default();
        assert_eq!(benchfs_statfs(ctx, c("/").as_ptr(), &mut sf), 0);
        assert_eq!(sf.servers, 3);
        assert!(sf.total_bytes > 0 && sf.entries >= 4, "{sf:?}");
        assert_eq!(benchfs_sync(ctx), 0);
        assert_eq!(benchfs_settle(ctx, 1), 0);

        assert_eq!(benchfs_remove(ctx, c("/d/g").as_ptr()), 0);
        assert_eq!(benchfs_remove(ctx, c("/d/empty").as_ptr()), 0);
        assert_eq!(benchfs_rmdir(ctx, c("/d/sub").as_ptr()), 0);
        assert_eq!(benchfs_rmdir(ctx, c("/d").as_ptr()), 0);
        // A file left open is closed (its size published) by the finalize.
        let left = benchfs_create(ctx, c("/left").as_ptr(), libc::O_WRONLY, 0o644);
        write_all(left, b"abc", 0);
        assert_eq!(benchfs_finalize(ctx), 0);
        assert_eq!(benchfs_close(left), -libc::EBADF);
    }
    // The embedded cluster's data is gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn errors_are_errno_values_with_a_message_naming_the_call_path_and_server() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = embedded(dir.path(), 2);
    // SAFETY (whole test): every pointer passed is NULL or valid for the call.
    unsafe {
        let f = benchfs_open(ctx, c("/missing").as_ptr(), libc::O_RDONLY);
        assert!(f.is_null());
        assert_eq!(*libc::__errno_location(), libc::ENOENT);
        let m = last_error();
        assert!(m.starts_with("benchfs_open: /missing: no such file"), "{m}");
        assert!(m.contains("(server 127.0.0.1:"), "{m}");

        let w = benchfs_create(ctx, c("/x").as_ptr(), libc::O_WRONLY, 0o644);
        assert!(!w.is_null());
        assert!(
            benchfs_create(ctx, c("/x").as_ptr(), libc::O_WRONLY | libc::O_EXCL, 0o644).is_null()
        );
        assert_eq!(*libc::__errno_location(), libc::EEXIST);
        assert!(benchfs_open(ctx, c("/x/y").as_ptr(), libc::O_RDONLY).is_null());
        assert_eq!(
            benchfs_mkdir(ctx, c("/x/y").as_ptr(), 0o755),
            -libc::ENOTDIR
        );
        assert_eq!(benchfs_mkdir(ctx, c("/dir").as_ptr(), 0o755), 0);
        assert_eq!(benchfs_mkdir(ctx, c("/dir").as_ptr(), 0o755), -libc::EEXIST);
        assert!(benchfs_open(ctx, c("/dir").as_ptr(), libc::O_RDONLY).is_null());
        assert_eq!(*libc::__errno_location(), libc::EISDIR);
        assert_eq!(benchfs_mkdir(ctx, c("/dir/in").as_ptr(), 0o755), 0);
        assert_eq!(benchfs_rmdir(ctx, c("/dir").as_ptr()), -libc::ENOTEMPTY);
        assert_eq!(benchfs_rmdir(ctx, c("/x").as_ptr()), -libc::ENOTDIR);
        assert_eq!(benchfs_rmdir(ctx, c("/nope").as_ptr()), -libc::ENOENT);
        assert_eq!(
            benchfs_rename(ctx, c("/nope").as_ptr(), c("/n2").as_ptr()),
            -libc::ENOENT
        );
        assert!(last_error().contains("/nope -> /n2"), "{}", last_error());
        assert_eq!(benchfs_truncate(ctx, c("/x").as_ptr(), -1), -libc::EINVAL);
        assert_eq!(benchfs_access(ctx, c("/x").as_ptr(), 0o100), -libc::EINVAL);

        // Bad arguments.
        assert!(benchfs_open(ctx, null(), libc::O_RDONLY).is_null());
        assert_eq!(*libc::__errno_location(), libc::EINVAL);
        assert!(last_error().contains("path is NULL"));
        let bad = b"/\xff\xfe\0";
        assert_eq!(
            benchfs_mkdir(ctx, bad.as_ptr().cast(), 0o755),
            -libc::EINVAL
        );
        assert!(last_error().contains("not valid UTF-8"), "{}", last_error());
        assert_eq!(
            benchfs_mkdir(ctx, c("relative").as_ptr(), 0o755),
            -libc::EINVAL
        );
        assert!(benchfs_open(ctx, c("/x").as_ptr(), libc::O_RDWR | libc::O_SYNC).is_null());
        assert_eq!(*libc::__errno_location(), libc::EINVAL);
        assert_eq!(
            benchfs_write(w, b"ab".as_ptr().cast(), 2, -5),
            -(libc::EINVAL as i64)
        );
        assert_eq!(benchfs_write(w, null(), 2, 0), -(libc::EINVAL as i64));
        assert_eq!(
            benchfs_write(w, null(), 0, 0),
            0,
            "an empty write needs no buffer"
        );
        assert_eq!(benchfs_lseek(w, 0, 99), -(libc::EINVAL as i64));
        assert_eq!(benchfs_lseek(w, -1, libc::SEEK_SET), -(libc::EINVAL as i64));
        assert_eq!(
            benchfs_stat(ctx, c("/x").as_ptr(), null_mut()),
            -libc::EINVAL
        );
        assert_eq!(benchfs_statfs(ctx, null(), null_mut()), -libc::EINVAL);
        assert_eq!(
            benchfs_readdir(ctx, c("/").as_ptr(), None, null_mut()),
            -(libc::EINVAL as i64)
        );
        assert_eq!(
            benchfs_readdir(ctx, c("/x").as_ptr(), Some(collect_entry), null_mut()),
            -(libc::ENOTDIR as i64)
        );
        // A handle used for an access it was not opened for.
        let mut buf = [0u8; 4];
        assert_eq!(
            benchfs_read(w, buf.as_mut_ptr().cast(), 4, 0),
            -(libc::EBADF as i64)
        );
        assert!(
            last_error().contains("not open for reading"),
            "{}",
            last_error()
        );

        // Handles: NULL, foreign, wrong kind, closed.
        assert_eq!(benchfs_close(null_mut()), -libc::EINVAL);
        let mut on_stack = 0u64;
        let foreign = (&mut on_stack as *mut u64).cast::<benchfs_file>();
        assert_eq!(benchfs_close(foreign), -libc::EBADF);
        assert!(last_error().contains("not a handle made by libbenchfs"));
        assert_eq!(benchfs_fsync(ctx.cast()), -libc::EBADF);
        assert!(last_error().contains("is a benchfs_context, not a benchfs_file"));
        assert_eq!(benchfs_sync(w.cast()), -libc::EBADF);
        assert_eq!(benchfs_close(w), 0);
        assert_eq!(benchfs_close(w), -libc::EBADF);
        assert!(last_error().contains("is closed"), "{}", last_error());
        assert_eq!(
            benchfs_write(w, b"a".as_ptr().cast(), 1, 0),
            -(libc::EBADF as i64)
        );

        // Use after finalize.
        let kept = benchfs_open(ctx, c("/x").as_ptr(), libc::O_RDONLY);
        assert!(!kept.is_null());
        assert_eq!(benchfs_finalize(ctx), 0);
        assert_eq!(benchfs_finalize(ctx), -libc::EBADF);
        assert_eq!(benchfs_mkdir(ctx, c("/z").as_ptr(), 0o755), -libc::EBADF);
        assert_eq!(
            benchfs_read(kept, buf.as_mut_ptr().cast(), 4, 0),
            -(libc::EBADF as i64)
        );
        assert!(
            last_error().contains("context was finalized"),
            "{}",
            last_error()
        );
    }
}

#[test]
fn connecting_fails_with_refused_timed_out_or_denied() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY (whole test): valid configs whose strings outlive the calls.
    unsafe {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
        drop(l);
        let list = c(&dead);
        let secret = c("AAAA");
        let cfg = benchfs_config {
            server_list: list.as_ptr(),
            secret: secret.as_ptr(),
            timeout_ms: 2000,
            ..Default::default()
        };
        assert!(benchfs_init(&cfg).is_null());
        assert_eq!(*libc::__errno_location(), libc::ECONNREFUSED);
        assert!(last_error().contains(&dead), "{}", last_error());

        // A wrong secret.
        let d = c(dir.path().to_str().unwrap());
        let cl = benchfs_cluster_start(&benchfs_config {
            servers: 1,
            data_dir: d.as_ptr(),
            ..Default::default()
        });
        assert!(!cl.is_null(), "{}", last_error());
        let mut addrs = [0 as c_char; 256];
        assert!(benchfs_cluster_servers(cl, addrs.as_mut_ptr(), addrs.len()) > 0);
        let wrong = c("d3Jvbmcgc2VjcmV0");
        let cfg = benchfs_config {
            server_list: addrs.as_ptr(),
            secret: wrong.as_ptr(),
            ..Default::default()
        };
        assert!(benchfs_init(&cfg).is_null());
        assert_eq!(*libc::__errno_location(), libc::EACCES);
        // The right one.
        let mut sec = [0 as c_char; 128];
        assert!(benchfs_cluster_secret(cl, sec.as_mut_ptr(), sec.len()) > 0);
        let cfg = benchfs_config {
            server_list: addrs.as_ptr(),
            secret: sec.as_ptr(),
            ..Default::default()
        };
        let ctx = benchfs_init(&cfg);
        assert!(!ctx.is_null(), "{}", last_error());
        assert_eq!(
            benchfs_context_registry(ctx, null_mut(), 0),
            -(libc::ENOENT as i64)
        );
        assert_eq!(benchfs_finalize(ctx), 0);
        // A registry nobody serves: the wait for its servers times out.
        let empty = c(dir.path().join("no-registry").to_str().unwrap());
        let cfg = benchfs_config {
            registry: empty.as_ptr(),
            timeout_ms: 300,
            ..Default::default()
        };
        assert!(benchfs_init(&cfg).is_null());
        let errno = *libc::__errno_location();
        assert!(
            errno == libc::ETIMEDOUT || errno == libc::ENOENT,
            "errno {errno}: {}",
            last_error()
        );
        assert_eq!(benchfs_cluster_stop(cl), 0);
        assert_eq!(benchfs_cluster_stop(cl), -libc::EBADF);
    }
}

/// A benchfs-server process of a one-server cluster; killed on drop.
struct Server {
    child: Child,
    registry: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(dir: &std::path::Path) -> Server {
    let registry = dir.join("registry");
    let child = Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
        .arg("--registry")
        .arg(&registry)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args([
            "--servers",
            "1",
            "--chunk-size",
            "64k",
            "--spare-chunks",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start benchfs-server");
    Server { child, registry }
}

/// Waits until every thread of process `pid` is stopped (SIGSTOP takes effect
/// asynchronously).
fn wait_stopped(pid: u32) {
    let stopped = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks.filter_map(Result::ok).all(|t| {
                    std::fs::read_to_string(t.path().join("stat"))
                        .ok()
                        .and_then(|st| {
                            st.rsplit(')')
                                .next()
                                .map(|r| r.trim_start().starts_with(['T', 't']))
                        })
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !stopped() {
        assert!(
            std::time::Instant::now() < deadline,
            "server {pid} did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_read_that_times_out_leaves_the_callers_buffer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path());
    let reg = c(srv.registry.to_str().unwrap());
    let cfg = benchfs_config {
        registry: reg.as_ptr(),
        timeout_ms: 400,
        ..Default::default()
    };
    // SAFETY (whole test): every pointer passed is valid for the call.
    unsafe {
        let mut ctx = null_mut();
        for _ in 0..50 {
            // The server registers itself shortly after it starts.
            ctx = benchfs_init(&cfg);
            if !ctx.is_null() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!ctx.is_null(), "{}", last_error());
        let data = pattern(1 << 20, 3);
        let w = benchfs_create(ctx, c("/t").as_ptr(), libc::O_WRONLY, 0o644);
        write_all(w, &data, 0);
        assert_eq!(benchfs_close(w), 0);
        let r = benchfs_open(ctx, c("/t").as_ptr(), libc::O_RDONLY);
        assert!(!r.is_null());

        libc::kill(srv.child.id() as i32, libc::SIGSTOP);
        wait_stopped(srv.child.id());
        let mut buf = vec![0xAAu8; 1 << 20];
        let n = benchfs_read(r, buf.as_mut_ptr().cast(), buf.len(), 0);
        assert_eq!(n, -(libc::ETIMEDOUT as i64), "{}", last_error());
        let m = last_error();
        assert!(
            m.starts_with("benchfs_read: /t at offset 0: timed out"),
            "{m}"
        );
        assert!(m.contains("server 127.0.0.1:"), "{m}");
        libc::kill(srv.child.id() as i32, libc::SIGCONT);

        // The server now answers the calls that timed out, on the same connection, before
        // it answers this one: once this read is back, the late replies were received.
        assert_eq!(read_at(r, 16, 0), data[..16]);
        assert!(
            buf.iter().all(|&b| b == 0xAA),
            "a late reply reached the caller's buffer"
        );
        assert_eq!(read_at(r, data.len(), 0), data);
        assert_eq!(benchfs_finalize(ctx), 0);
    }
}

#[test]
fn a_dead_server_gives_an_error_naming_it_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = server(dir.path());
    let reg = c(srv.registry.to_str().unwrap());
    let cfg = benchfs_config {
        registry: reg.as_ptr(),
        timeout_ms: 2000,
        ..Default::default()
    };
    // SAFETY (whole test): every pointer passed is valid for the call.
    unsafe {
        let mut ctx = null_mut();
        for _ in 0..50 {
            ctx = benchfs_init(&cfg);
            if !ctx.is_null() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!ctx.is_null(), "{}", last_error());
        let w = benchfs_create(ctx, c("/d").as_ptr(), libc::O_WRONLY, 0o644);
        write_all(w, &pattern(100_000, 1), 0);
        srv.child.kill().unwrap();
        srv.child.wait().unwrap();
        let started = std::time::Instant::now();
        let data = pattern(100_000, 2);
        let n = benchfs_write(w, data.as_ptr().cast(), data.len(), 0);
        let errno = -n as i32;
        // A write into the dead connection's socket fails with EPIPE or a reset, both
        // reported as ECONNRESET; a new connection would be refused.
        assert!(
            [libc::ECONNRESET, libc::ECONNREFUSED, libc::ETIMEDOUT].contains(&errno),
            "errno {errno}: {}",
            last_error()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(last_error().contains("127.0.0.1:"), "{}", last_error());
        // The context still finalizes (its open file's close fails and is reported).
        assert!(benchfs_finalize(ctx) <= 0);
    }
}

/// Collectives over a [`benchfs::comm::local::LocalComm`] (ranks as threads).
unsafe extern "C" fn local_allgather(
    arg: *mut c_void,
    send: *const c_void,
    len: usize,
    recv: *mut c_void,
) -> c_int {
    use benchfs::comm::Comm;
    // SAFETY: arg is the rank's LocalComm; send/recv are valid as the contract says.
    let (comm, data) = unsafe {
        (
            &*arg.cast::<benchfs::comm::local::LocalComm>(),
            std::slice::from_raw_parts(send.cast::<u8>(), len),
        )
    };
    match comm.allgather_bytes(data) {
        Ok(all) => {
            for (r, d) in all.iter().enumerate() {
                // SAFETY: recv holds size * len bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(d.as_ptr(), recv.cast::<u8>().add(r * len), len)
                };
            }
            0
        }
        Err(_) => 1,
    }
}

unsafe extern "C" fn local_barrier(arg: *mut c_void) -> c_int {
    use benchfs::comm::Comm;
    // SAFETY: arg is the rank's LocalComm.
    let comm = unsafe { &*arg.cast::<benchfs::comm::local::LocalComm>() };
    comm.barrier().map_or(1, |_| 0)
}

#[test]
fn a_job_cluster_starts_over_caller_collectives_and_every_rank_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_string();
    // Four ranks on two emulated hosts would need two host names: one host, two servers.
    let comms = benchfs::comm::local::LocalComm::group(4, 0);
    let handles: Vec<_> = comms
        .into_iter()
        .enumerate()
        .map(|(rank, comm)| {
            let data_dir = data_dir.clone();
            std::thread::spawn(move || {
                let comm = Box::new(comm);
                let bc = benchfs_comm {
                    arg: (&*comm as *const benchfs::comm::local::LocalComm)
                        .cast_mut()
                        .cast(),
                    rank: rank as c_int,
                    size: 4,
                    allgather: Some(local_allgather),
                    barrier: Some(local_barrier),
                };
                let dd = c(&data_dir);
                let cfg = benchfs_config {
                    data_dir: dd.as_ptr(),
                    servers_per_node: 2,
                    spare_chunks: -1,
                    ..Default::default()
                };
                // SAFETY (whole closure): valid configs, comm and buffers.
                unsafe {
                    let cl = benchfs_cluster_start_job(&cfg, &bc);
                    assert!(!cl.is_null(), "rank {rank}: {}", last_error());
                    let mut addrs = [0 as c_char; 512];
                    let mut sec = [0 as c_char; 128];
                    assert!(benchfs_cluster_servers(cl, addrs.as_mut_ptr(), 512) > 0);
                    assert!(benchfs_cluster_secret(cl, sec.as_mut_ptr(), 128) > 0);
                    assert_eq!(
                        benchfs_cluster_registry(cl, null_mut(), 0),
                        -(libc::ENOENT as i64)
                    );
                    let list = CStr::from_ptr(addrs.as_ptr()).to_str().unwrap().to_string();
                    let ctx = benchfs_init(&benchfs_config {
                        server_list: addrs.as_ptr(),
                        secret: sec.as_ptr(),
                        ..Default::default()
                    });
                    assert!(!ctx.is_null(), "rank {rank}: {}", last_error());
                    let name = c(&format!("/rank{rank}"));
                    let f = benchfs_create(ctx, name.as_ptr(), libc::O_WRONLY, 0o644);
                    write_all(f, &pattern(100_000, rank as u8), 0);
                    assert_eq!(benchfs_close(f), 0);
                    local_barrier(bc.arg);
                    // Every rank reads every other rank's file.
                    for other in 0..4 {
                        let n = c(&format!("/rank{other}"));
                        let r = benchfs_open(ctx, n.as_ptr(), libc::O_RDONLY);
                        assert!(!r.is_null(), "{}", last_error());
                        assert_eq!(read_at(r, 100_000, 0), pattern(100_000, other as u8));
                        assert_eq!(benchfs_close(r), 0);
                    }
                    assert_eq!(benchfs_finalize(ctx), 0);
                    assert_eq!(benchfs_cluster_stop(cl), 0, "{}", last_error());
                    drop(comm);
                    list
                }
            })
        })
        .collect();
    let lists: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(lists.iter().all(|l| l == &lists[0]), "{lists:?}");
    assert_eq!(lists[0].split(',').count(), 2, "two servers: {}", lists[0]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "data removed"
    );
}

/// Runs `threads` threads that each write and read back their own 64 KiB blocks of one
/// shared file handle of one shared context.
fn shared_handle_by_threads(ctx_threads: u32) {
    let dir = tempfile::tempdir().unwrap();
    let d = c(dir.path().to_str().unwrap());
    let cfg = benchfs_config {
        servers: 2,
        data_dir: d.as_ptr(),
        threads: ctx_threads,
        spare_chunks: -1,
        ..Default::default()
    };
    // SAFETY: a valid config.
    let ctx = unsafe { benchfs_init(&cfg) };
    assert!(!ctx.is_null(), "{}", last_error());
    // SAFETY: valid path.
    let f = unsafe { benchfs_create(ctx, c("/shared").as_ptr(), libc::O_RDWR, 0o644) };
    assert!(!f.is_null());
    let (ctx_addr, f_addr) = (ctx as usize, f as usize);
    let workers: Vec<_> = (0..6u8)
        .map(|t| {
            std::thread::spawn(move || {
                let f = f_addr as *mut benchfs_file;
                for block in 0..8i64 {
                    let off = (block * 6 + t as i64) * 65536;
                    let data = pattern(65536, t.wrapping_add(block as u8));
                    write_all(f, &data, off);
                    assert_eq!(read_at(f, 65536, off), data);
                }
                // Metadata calls on the shared context too.
                let name = c(&format!("/t{t}"));
                let ctx = ctx_addr as *mut benchfs_context;
                // SAFETY: valid path.
                assert_eq!(unsafe { benchfs_mkdir(ctx, name.as_ptr(), 0o755) }, 0);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // SAFETY: valid handles.
    unsafe {
        assert_eq!(benchfs_close(f), 0);
        assert_eq!(
            benchfs_get_file_size(ctx, c("/shared").as_ptr()),
            48 * 65536
        );
        assert_eq!(readdir(ctx, "/").len(), 7);
        assert_eq!(benchfs_finalize(ctx), 0);
    }
}

#[test]
fn a_context_and_a_file_may_be_shared_by_threads() {
    shared_handle_by_threads(0);
    shared_handle_by_threads(2);
}

#[test]
fn each_thread_may_have_its_own_context_of_one_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let d = c(dir.path().to_str().unwrap());
    // SAFETY: a valid config.
    let cl = unsafe {
        benchfs_cluster_start(&benchfs_config {
            servers: 2,
            data_dir: d.as_ptr(),
            ..Default::default()
        })
    };
    assert!(!cl.is_null(), "{}", last_error());
    let mut reg = [0 as c_char; 512];
    // SAFETY: reg is 512 bytes.
    assert!(unsafe { benchfs_cluster_registry(cl, reg.as_mut_ptr(), 512) } > 0);
    // SAFETY: NUL-terminated by the call.
    let reg = unsafe { CStr::from_ptr(reg.as_ptr()) }.to_owned();
    let workers: Vec<_> = (0..4u8)
        .map(|t| {
            let reg = reg.clone();
            std::thread::spawn(move || {
                // SAFETY (whole closure): valid config, paths and buffers.
                unsafe {
                    let ctx = benchfs_init(&benchfs_config {
                        registry: reg.as_ptr(),
                        ..Default::default()
                    });
                    assert!(!ctx.is_null(), "{}", last_error());
                    // Errors are per thread.
                    let missing = c(&format!("/missing{t}"));
                    assert!(benchfs_open(ctx, missing.as_ptr(), libc::O_RDONLY).is_null());
                    let name = c(&format!("/own{t}"));
                    let f = benchfs_create(ctx, name.as_ptr(), libc::O_WRONLY, 0o644);
                    write_all(f, &pattern(200_000, t), 0);
                    assert_eq!(benchfs_close(f), 0);
                    assert!(
                        last_error().contains(&format!("/missing{t}")),
                        "{}",
                        last_error()
                    );
                    assert_eq!(benchfs_get_file_size(ctx, name.as_ptr()), 200_000);
                    assert_eq!(benchfs_finalize(ctx), 0);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(benchfs_cluster_stop(cl), 0);
}

#[test]
fn a_finalize_racing_with_calls_makes_them_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = embedded(dir.path(), 1);
    // SAFETY: valid path.
    let f = unsafe { benchfs_create(ctx, c("/race").as_ptr(), libc::O_RDWR, 0o644) };
    assert!(!f.is_null());
    let f_addr = f as usize;
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let f = f_addr as *mut benchfs_file;
        let data = pattern(4096, 1);
        let mut ok = 0u64;
        loop {
            // SAFETY: data is valid; the handle may be finalized meanwhile.
            let n = unsafe { benchfs_write(f, data.as_ptr().cast(), data.len(), 0) };
            if ok == 10 {
                let _ = tx.send(());
            }
            match n {
                4096 => ok += 1,
                n => return (ok, n),
            }
        }
    });
    rx.recv().unwrap();
    assert_eq!(benchfs_finalize(ctx), 0);
    let (ok, n) = worker.join().unwrap();
    assert!(ok >= 10);
    assert_eq!(
        n,
        -(libc::EBADF as i64),
        "the call after the finalize fails with EBADF"
    );
}

/// The host side of `a_killed_host_leaves_no_server_data_behind`: an embedded cluster with a
/// file written, then it waits for the SIGKILL its parent sends.
fn killed_host(dir: &std::path::Path) -> ! {
    let ctx = embedded(dir, 2);
    let p = c("/data");
    // SAFETY: ctx is live, p NUL-terminated.
    let f = unsafe { benchfs_create(ctx, p.as_ptr(), libc::O_WRONLY, 0o644) };
    assert!(!f.is_null(), "benchfs_create: {}", last_error());
    write_all(f, &pattern(1 << 20, 5), 0);
    println!("HOST-READY");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// Runs this test executable as a libbenchfs host with servers inside it, kills it with
/// SIGKILL once its data exists, and says whether its data directory was removed within
/// `secs` seconds. `server` is what `BENCHFS_SERVER` names.
fn kill_a_host(server: &str, secs: u64) -> bool {
    use std::io::BufRead;
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_killed_host_leaves_no_server_data_behind"])
        .args(["--nocapture", "--test-threads=1"])
        .env("BENCHFS_TEST_HOST", d.path())
        .env("BENCHFS_SERVER", server)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let ready = std::io::BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("HOST-READY"));
    assert!(ready, "the host did not start its cluster");
    let data: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(data.len(), 1, "one embedded cluster directory");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if std::fs::read_dir(d.path()).unwrap().next().is_none() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A host killed with SIGKILL (Open MPI's launcher does that a few milliseconds after
/// SIGTERM) runs no destructor: the cleanup guardian libbenchfs starts (benchfs-server)
/// removes its servers' data once it has ended. Without a guardian the data stays.
#[test]
fn a_killed_host_leaves_no_server_data_behind() {
    if let Some(dir) = std::env::var_os("BENCHFS_TEST_HOST") {
        killed_host(std::path::Path::new(&dir));
    }
    assert!(
        kill_a_host(env!("CARGO_BIN_EXE_benchfs-server"), 20),
        "the guardian did not remove the killed host's data"
    );
    assert!(
        // Removal takes milliseconds when it happens at all.
        !kill_a_host("/nonexistent/benchfs-server", 2),
        "without a guardian the killed host's data should have stayed (the test proves nothing)"
    );
}
