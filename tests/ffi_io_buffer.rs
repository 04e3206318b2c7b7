//! I/O buffers of the C API (`benchfs_alloc_io_buffer`, `benchfs_free_io_buffer`,
//! `benchfs_get_io_stats`) through its exported symbols: data written and read through them
//! over TCP and UCX, verified; the copies each path makes, counted by the transport's
//! counters (a buffer of the API is sent as it is over both transports and received in place
//! over both, over UCX with its registration; plain memory is copied both ways); a double free, a
//! foreign or interior pointer and bad arguments give errors, not crashes.
//!
//! The counters are process-wide: the tests of this file take turns (one lock).

use benchfs::ffi::config::benchfs_config;
use benchfs::ffi::context::*;
use benchfs::ffi::file::*;
use benchfs::ffi::io_buffer::*;
use std::ffi::{c_void, CStr, CString};
use std::ptr::null_mut;
use std::sync::Mutex;

static TURN: Mutex<()> = Mutex::new(());

fn last_error() -> String {
    // SAFETY: benchfs_get_error returns a NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(benchfs_get_error()) }
        .to_string_lossy()
        .into_owned()
}

fn stats() -> benchfs_io_stats {
    let mut s = benchfs_io_stats::default();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { benchfs_get_io_stats(&mut s) }, 0);
    s
}

fn delta(a: benchfs_io_stats, b: benchfs_io_stats) -> (u64, u64, u64) {
    (
        b.staged_bytes - a.staged_bytes,
        b.in_place_bytes - a.in_place_bytes,
        b.registered_bytes - a.registered_bytes,
    )
}

/// An embedded cluster of 2 servers over `transport`, 1 MiB chunks.
fn embedded(dir: &std::path::Path, transport: &str) -> *mut benchfs_context {
    #[cfg(feature = "ucx")]
    benchfs::fs::transport::ucx_rpc::use_context(
        benchfs::fs::transport::ucx::ContextBuilder::new()
            .set("NET_DEVICES", "lo")
            .build()
            .expect("UCX context"),
    );
    let d = CString::new(dir.to_str().unwrap()).unwrap();
    let t = CString::new(transport).unwrap();
    let cfg = benchfs_config {
        servers: 2,
        data_dir: d.as_ptr(),
        chunk_size: 1 << 20,
        spare_chunks: -1,
        transport: t.as_ptr(),
        ..Default::default()
    };
    // SAFETY: a valid config whose strings outlive the call.
    let ctx = unsafe { benchfs_init(&cfg) };
    assert!(!ctx.is_null(), "benchfs_init: {}", last_error());
    ctx
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(131).wrapping_add(seed as u32) as u8)
        .collect()
}

fn transports() -> Vec<&'static str> {
    if benchfs::fs::UCX_BUILT {
        vec!["tcp", "local", "ucx"]
    } else {
        vec!["tcp", "local"]
    }
}

/// Writes and reads 3 MiB + 5 bytes (pieces on both servers, a short last chunk) through I/O
/// buffers and through plain memory; checks the data and what each path copied.
#[test]
fn io_buffers_carry_data_with_fewer_copies_over_each_transport() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    for transport in transports() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = embedded(dir.path(), transport);
        let len = (3 << 20) + 5;
        let data = pattern(len, 3);
        let wbuf = benchfs_alloc_io_buffer(ctx, len);
        assert!(!wbuf.is_null(), "alloc: {}", last_error());
        assert_eq!(wbuf as usize % 4096, 0, "page-aligned");
        // SAFETY: the buffer has len bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), wbuf.cast::<u8>(), len) };
        let path = CString::new("/io").unwrap();
        // SAFETY: a valid path.
        let f = unsafe { benchfs_create(ctx, path.as_ptr(), libc::O_RDWR, 0o644) };
        assert!(!f.is_null(), "create: {}", last_error());

        // Writes from the buffer are not copied on either transport.
        let s0 = stats();
        // SAFETY: wbuf holds len bytes.
        let n = unsafe { benchfs_write(f, wbuf, len, 0) };
        assert_eq!(n, len as i64, "write: {}", last_error());
        let (staged, _, registered) = delta(s0, stats());
        assert_eq!(
            staged, 0,
            "{transport}: a write from an I/O buffer is sent as it is"
        );
        if transport == "ucx" {
            assert_eq!(
                registered, len as u64,
                "ucx: sent with the buffer's memory handle"
            );
        }

        // A read into a buffer, at an offset inside it, asking for more than the file
        // holds: received in place over both (over TCP all but the few bytes that each
        // reply's header read took with it, which are copied).
        let rbuf = benchfs_alloc_io_buffer(ctx, len + 8192);
        assert!(!rbuf.is_null(), "alloc: {}", last_error());
        // SAFETY: rbuf has len + 8192 bytes; fill the tail with junk the read must zero.
        unsafe { std::ptr::write_bytes(rbuf.cast::<u8>(), 0xee, len + 8192) };
        let dest = rbuf.cast::<u8>().wrapping_add(100).cast::<c_void>();
        let s1 = stats();
        // SAFETY: dest has len + 8092 bytes inside rbuf.
        let n = unsafe { benchfs_read(f, dest, len + 4000, 0) };
        assert_eq!(n, len as i64, "read: {}", last_error());
        let (staged, in_place, registered) = delta(s1, stats());
        // SAFETY: rbuf has len + 8192 initialised bytes.
        let got = unsafe { std::slice::from_raw_parts(rbuf.cast::<u8>(), len + 8192) };
        assert!(
            got[..100].iter().all(|&b| b == 0xee),
            "before dest untouched"
        );
        assert!(
            got[100..100 + len] == data[..],
            "{transport}: data read back"
        );
        if transport == "ucx" {
            assert_eq!(
                (staged, in_place),
                (0, len as u64),
                "ucx: received in place"
            );
            assert!(registered > 0, "ucx: rendezvous into the registered buffer");
        } else if transport == "local" {
            // Chunk reads the server answers from the file are read straight into the
            // buffer; only the short last piece (answered from memory) is copied.
            assert!(
                in_place >= 3 << 20 && staged < 64 << 10 && staged + in_place == len as u64,
                "local: read in place ({staged} staged, {in_place} in place)"
            );
        } else {
            assert_eq!(staged + in_place, len as u64, "tcp: every byte once");
            assert!(
                staged < 4096,
                "tcp: received in place but for the bytes read with the headers: {staged}"
            );
        }

        // The same through plain memory: copied both ways.
        let s2 = stats();
        // SAFETY: data holds len bytes.
        let n = unsafe { benchfs_write(f, data.as_ptr().cast(), len, 0) };
        assert_eq!(n, len as i64, "write: {}", last_error());
        let mut plain = vec![0u8; len];
        // SAFETY: plain holds len bytes.
        let n = unsafe { benchfs_read(f, plain.as_mut_ptr().cast(), len, 0) };
        assert_eq!(n, len as i64, "read: {}", last_error());
        assert!(plain == data);
        let (plain_staged, plain_in_place, _) = delta(s2, stats());
        assert_eq!((plain_staged, plain_in_place), (2 * len as u64, 0));
        assert!(
            plain_staged > staged,
            "{transport}: the I/O buffer path copies less"
        );

        assert_eq!(benchfs_close(f), 0, "close: {}", last_error());
        assert_eq!(benchfs_free_io_buffer(wbuf), 0);
        assert_eq!(benchfs_free_io_buffer(rbuf), 0);
        assert_eq!(benchfs_finalize(ctx), 0, "finalize: {}", last_error());
    }
}

#[test]
fn double_frees_foreign_pointers_and_bad_arguments_are_errors() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let ctx = embedded(dir.path(), "tcp");
    assert!(benchfs_alloc_io_buffer(null_mut(), 10).is_null());
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EINVAL)
    );
    assert!(benchfs_alloc_io_buffer(ctx, 0).is_null());
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EINVAL)
    );
    assert!(last_error().contains("length 0"), "{}", last_error());

    let b = benchfs_alloc_io_buffer(ctx, 4096);
    assert!(!b.is_null(), "alloc: {}", last_error());
    let inside = b.cast::<u8>().wrapping_add(8).cast::<c_void>();
    assert_eq!(benchfs_free_io_buffer(inside), -libc::EINVAL);
    assert!(
        last_error().contains("not a buffer of benchfs_alloc_io_buffer"),
        "{}",
        last_error()
    );
    assert_eq!(benchfs_free_io_buffer(b), 0);
    assert_eq!(benchfs_free_io_buffer(b), -libc::EINVAL, "double free");
    assert!(last_error().contains("already freed"), "{}", last_error());
    let mut foreign = vec![0u8; 64];
    assert_eq!(
        benchfs_free_io_buffer(foreign.as_mut_ptr().cast()),
        -libc::EINVAL
    );
    assert_eq!(
        benchfs_free_io_buffer(null_mut()),
        0,
        "NULL is nothing to free"
    );
    // SAFETY: NULL is refused before any write.
    assert_eq!(unsafe { benchfs_get_io_stats(null_mut()) }, -libc::EINVAL);

    // A freed buffer's memory is plain memory again for reads and writes (still correct).
    let path = CString::new("/after").unwrap();
    // SAFETY: a valid path.
    let f = unsafe { benchfs_create(ctx, path.as_ptr(), libc::O_RDWR, 0o644) };
    assert!(!f.is_null(), "create: {}", last_error());
    // SAFETY: foreign holds 64 bytes.
    assert_eq!(
        unsafe { benchfs_write(f, foreign.as_ptr().cast(), 64, 0) },
        64
    );
    assert_eq!(benchfs_close(f), 0);
    assert_eq!(benchfs_finalize(ctx), 0, "finalize: {}", last_error());
}
