//! Receiving a TCP payload straight into a file with `splice(2)`: socket -> pipe (the
//! kernel hands over references to the received pages, no copy) -> file (one copy, into the
//! page cache). A server storing a chunk write this way copies each byte once, as a plain
//! `recv` into a buffer would, instead of twice (`recv`, then `pwrite`).
//!
//! Owns [`SplicePipe`] (the per-connection pipe) and [`splice_to_file`]. Knows nothing of
//! frames or of what the file is; used by the TCP transport's [`super::FrameReader`].
//! Falls back to `read` + `pwrite` through a buffer when the file system cannot take a
//! splice (the first refusal turns splicing off for that pipe).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Capacity asked for the pipe. The server stores a payload one pipeful behind the network,
/// so a smaller pipe shortens the wait after the last byte arrives (figures in
/// `examples/fs_bench.rs`). A small pipe also leaves more of the per-user pipe page budget (`pipe-user-pages-soft`, 64 MiB by default)
/// for servers with many client connections. The kernel may grant less (that budget, or
/// `pipe-max-size`); the pipe then works in smaller steps.
const PIPE_SIZE: usize = 128 << 10;

/// A pipe used as the kernel-side staging area of one connection's spliced payloads.
pub struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
    /// Cleared when the target file system refused a splice (`EINVAL`): then the data goes
    /// through a buffer and `pwrite`.
    file_splice: bool,
    scratch: Vec<u8>,
}

impl SplicePipe {
    /// Creates the pipe (non-blocking, close-on-exec) and tries to enlarge it.
    pub fn new() -> io::Result<Self> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own; failure only leaves the default size.
        unsafe {
            libc::fcntl(
                write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                PIPE_SIZE as libc::c_int,
            )
        };
        // SAFETY: as above; F_GETPIPE_SZ only reads the pipe's size.
        let got = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        let capacity = if got > 0 { got as usize } else { 64 << 10 };
        Ok(SplicePipe {
            read,
            write,
            capacity,
            file_splice: true,
            scratch: Vec::new(),
        })
    }

    /// Moves up to `max` bytes from the socket into the (empty) pipe; waits until the socket
    /// has data. `Ok(0)` is the end of the stream.
    async fn fill(&self, sock: &TcpStream, max: usize) -> io::Result<usize> {
        loop {
            sock.readable().await?;
            let r = sock.try_io(Interest::READABLE, || {
                // SAFETY: both descriptors are open for the duration of the call; null
                // offsets are required for sockets and pipes.
                let n = unsafe {
                    libc::splice(
                        sock.as_raw_fd(),
                        std::ptr::null_mut(),
                        self.write.as_raw_fd(),
                        std::ptr::null_mut(),
                        max,
                        libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(n) => return Ok(n),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves exactly `n` bytes, all in the pipe, into `file` at `offset` (or, once the file
    /// failed, drops them). Returns the file's error, if any.
    fn drain(&mut self, file: Option<&File>, mut offset: u64, mut n: usize) -> io::Result<()> {
        let mut result = Ok(());
        while n > 0 {
            if let (Some(f), true, true) = (file, self.file_splice, result.is_ok()) {
                let mut off = offset as libc::loff_t;
                // SAFETY: both descriptors are open; `off` is a valid offset variable the
                // kernel advances (the file's own position is not used).
                let k = unsafe {
                    libc::splice(
                        self.read.as_raw_fd(),
                        std::ptr::null_mut(),
                        f.as_raw_fd(),
                        &mut off,
                        n,
                        libc::SPLICE_F_MOVE,
                    )
                };
                if k > 0 {
                    n -= k as usize;
                    offset += k as u64;
                    continue;
                }
                let e = if k == 0 {
                    io::Error::new(io::ErrorKind::WriteZero, "splice wrote nothing")
                } else {
                    io::Error::last_os_error()
                };
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // This file system takes no splice: go through the buffer from now on.
                    Some(libc::EINVAL) => self.file_splice = false,
                    _ => result = Err(e),
                }
                continue;
            }
            // Through user space: read from the pipe, then pwrite (or drop).
            if self.scratch.len() < self.capacity.min(n) {
                self.scratch.resize(self.capacity.min(n), 0);
            }
            let want = n.min(self.scratch.len());
            // SAFETY: `scratch` has at least `want` writable bytes; the pipe is open.
            let k = unsafe {
                libc::read(
                    self.read.as_raw_fd(),
                    self.scratch.as_mut_ptr().cast::<libc::c_void>(),
                    want,
                )
            };
            if k <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The pipe holds `n` bytes we put there: failing to read them is a broken
                // pipe, and the stream can no longer be trusted.
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    format!("splice pipe: {e}"),
                ));
            }
            let k = k as usize;
            if let (Some(f), true) = (file, result.is_ok()) {
                result = f.write_all_at(&self.scratch[..k], offset);
            }
            n -= k;
            offset += k as u64;
        }
        result
    }
}

/// Moves exactly `len` bytes from `sock` into `file` at `offset` through `pipe`. The outer
/// error is the stream's; the inner one the file's (the payload is consumed all the same).
pub async fn splice_to_file(
    pipe: &mut SplicePipe,
    sock: &TcpStream,
    file: &File,
    mut offset: u64,
    mut len: usize,
) -> io::Result<io::Result<()>> {
    let mut result = Ok(());
    while len > 0 {
        let n = pipe.fill(sock, len.min(pipe.capacity)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let target = if result.is_ok() { Some(file) } else { None };
        match pipe.drain(target, offset, n) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(e),
            Err(e) => result = Err(e),
        }
        len -= n;
        offset += n as u64;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        let c = TcpStream::connect(a).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    /// Sends `data` then `tail` on `c` (in a task: the receiver works meanwhile); gives the
    /// stream back so that it stays open.
    fn send(
        mut c: TcpStream,
        data: Vec<u8>,
        tail: &'static [u8],
    ) -> tokio::task::JoinHandle<TcpStream> {
        tokio::spawn(async move {
            c.write_all(&data).await.unwrap();
            c.write_all(tail).await.unwrap();
            c
        })
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    #[tokio::test]
    async fn payload_lands_in_the_file_byte_for_byte_and_the_stream_stays_in_step() {
        let (c, mut s) = pair().await;
        let dir = tempfile::tempdir().unwrap();
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        let data = pattern(3 << 20 | 123);
        let w = send(c, data.clone(), b"next");
        let mut pipe = SplicePipe::new().unwrap();
        splice_to_file(&mut pipe, &s, &f, 4096, data.len())
            .await
            .unwrap()
            .unwrap();
        assert!(
            pipe.file_splice,
            "a regular file takes splice; no fallback expected"
        );
        let _c = w.await.unwrap();
        let mut back = vec![0u8; data.len()];
        f.read_exact_at(&mut back, 4096).unwrap();
        assert!(back == data, "file differs from the payload");
        let mut next = [0u8; 4];
        s.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"next");
    }

    #[tokio::test]
    async fn a_failing_file_consumes_the_payload_and_reports_the_error() {
        let (c, mut s) = pair().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro");
        std::fs::write(&path, b"").unwrap();
        let ro = File::open(&path).unwrap(); // read-only: every write fails with EBADF
        let data = pattern(600 << 10);
        let w = send(c, data.clone(), b"tail");
        let mut pipe = SplicePipe::new().unwrap();
        let inner = splice_to_file(&mut pipe, &s, &ro, 0, data.len())
            .await
            .unwrap();
        assert!(inner.is_err(), "writing a read-only file must fail");
        let _c = w.await.unwrap();
        let mut next = [0u8; 4];
        s.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"tail");
    }

    #[tokio::test]
    async fn end_of_stream_inside_the_payload_is_a_stream_error() {
        let (mut c, s) = pair().await;
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("f")).unwrap();
        c.write_all(&[1u8; 1000]).await.unwrap();
        drop(c);
        let mut pipe = SplicePipe::new().unwrap();
        let r = splice_to_file(&mut pipe, &s, &f, 0, 5000).await;
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_file_system_that_refuses_splice_gets_the_payload_through_a_buffer() {
        // splice(2) refuses files opened for appending (EINVAL), as some file systems refuse
        // it altogether: the payload must still land, written through a buffer.
        let (c, mut s) = pair().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("append");
        let f = File::options()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        let data = pattern((2 << 20) + 4097);
        let w = send(c, data.clone(), b"more");
        let mut pipe = SplicePipe::new().unwrap();
        splice_to_file(&mut pipe, &s, &f, 0, data.len())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !pipe.file_splice,
            "splicing into an O_APPEND file should have been refused"
        );
        let _c = w.await.unwrap();
        assert!(
            std::fs::read(&path).unwrap() == data,
            "file differs from the payload"
        );
        let mut next = [0u8; 4];
        s.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"more");
    }
}
