//! TCP transport over tokio: the connector clients use and the listener servers run.
//!
//! Owns [`TcpConnector`] and [`TcpListenerTask`] (accept loop, one task per connection, caps
//! on open and on unauthenticated connections with a clear refusal beyond them, back-off
//! when accept fails (out of descriptors) instead of spinning, graceful shutdown or abrupt
//! kill). Framing and correlation are in [`crate::fs::transport::stream`].
//! Sockets use `TCP_NODELAY`; small frames are batched by the RPC writer instead. Both
//! sides read through [`TcpFrameReader`], which raises the socket's receive low-water mark
//! while a long payload arrives ([`super::low_water`]).

use crate::fs::error::{FsError, FsResult};
use crate::fs::transport::low_water::{LowWater, LOW_WATER_MAX};
use crate::fs::transport::splice::{splice_to_file, SplicePipe};
use crate::fs::transport::stream::{
    refusal_frame, serve_connection, RequestSlots, RpcConnection, ServeContext,
};
use crate::fs::transport::{
    copy_to_file, BoxFuture, Connection, Connector, FileRegion, FrameReader, FrameWriter, Handler,
    ListenOptions, Listener, SinkResult,
};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// Sends `region` with `sendfile(2)`: the kernel hands page-cache pages to the socket
/// without copying them through user space.
async fn sendfile_region(w: &mut OwnedWriteHalf, region: &FileRegion) -> std::io::Result<()> {
    let mut off = region.offset as libc::off_t;
    let mut left = region.len;
    let src = region.file.as_raw_fd();
    while left > 0 {
        let sock = w.as_ref();
        sock.writable().await?;
        let r = sock.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the duration of the call, and `off` is a
            // valid offset variable the kernel advances.
            let n = unsafe { libc::sendfile(sock.as_raw_fd(), src, &mut off, left) };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match r {
            Ok(0) => {
                // The file is shorter than announced (truncated meanwhile): pad with zeros.
                let zeros = vec![0u8; left.min(1 << 20)];
                while left > 0 {
                    let n = left.min(zeros.len());
                    w.write_all(&zeros[..n]).await?;
                    left -= n;
                }
            }
            Ok(n) => left -= n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `head` with `MSG_MORE`: the kernel holds it back for the bytes that follow (a
/// `sendfile`), so header and payload leave in the same segments.
async fn send_more(w: &mut OwnedWriteHalf, head: &[u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < head.len() {
        let sock = w.as_ref();
        sock.writable().await?;
        let rest = &head[done..];
        let r = sock.try_io(Interest::WRITABLE, || {
            // SAFETY: the socket is open for the duration of the call and `rest` is valid
            // for reads of its length.
            let n = unsafe {
                libc::send(
                    sock.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match r {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl FrameWriter for OwnedWriteHalf {
    fn send_file<'a>(&'a mut self, region: &'a FileRegion) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(sendfile_region(self, region))
    }

    fn send_file_after<'a>(
        &'a mut self,
        head: &'a [u8],
        region: &'a FileRegion,
    ) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            if region.len == 0 {
                // Nothing follows to carry the held-back bytes out.
                self.write_all(head).await?;
            } else {
                send_more(self, head).await?;
            }
            sendfile_region(self, region).await
        })
    }
}

/// The read side of a server's TCP connection: reads frames, and moves write payloads
/// into chunk files with `splice` (through a pipe created on first use).
pub struct TcpFrameReader {
    half: OwnedReadHalf,
    pipe: Option<SplicePipe>,
    /// Set when no pipe could be created (descriptor limits): payloads then go through a
    /// buffer.
    no_pipe: bool,
    /// The socket's receive low-water mark.
    low_water: LowWater,
}

impl TcpFrameReader {
    /// Wraps the read half of a connection (the receive low-water mark raised up to
    /// [`LOW_WATER_MAX`] for long payloads).
    pub fn new(half: OwnedReadHalf) -> Self {
        Self::with_low_water(half, LOW_WATER_MAX)
    }

    /// Wraps the read half of a connection whose receive low-water mark is raised up to
    /// `max` bytes for long payloads (0 or 1: left at the kernel's default).
    pub fn with_low_water(half: OwnedReadHalf, max: usize) -> Self {
        TcpFrameReader {
            half,
            pipe: None,
            no_pipe: false,
            low_water: LowWater::new(max),
        }
    }

    async fn receive(&mut self, file: &std::fs::File, offset: u64, len: usize) -> SinkResult {
        if self.pipe.is_none() && !self.no_pipe {
            match SplicePipe::new() {
                Ok(p) => self.pipe = Some(p),
                Err(e) => {
                    tracing::warn!("no pipe for splice ({e}); payloads go through a buffer");
                    self.no_pipe = true;
                }
            }
        }
        match self.pipe.as_mut() {
            Some(pipe) => splice_to_file(pipe, self.half.as_ref(), file, offset, len).await,
            None => copy_to_file(&mut self.half, file, offset, len).await,
        }
    }
}

impl AsyncRead for TcpFrameReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.half).poll_read(cx, buf)
    }
}

impl FrameReader for TcpFrameReader {
    fn recv_to_file<'a>(
        &'a mut self,
        file: &'a std::fs::File,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'a, SinkResult> {
        Box::pin(self.receive(file, offset, len))
    }

    fn expect_bytes(&mut self, n: usize) {
        self.low_water.expect(self.half.as_ref().as_raw_fd(), n);
    }
}

/// Connects to BenchFS servers over TCP.
#[derive(Debug, Clone, Copy)]
pub struct TcpConnector {
    /// Highest receive low-water mark of the connections' sockets (see [`LowWater`]).
    pub recv_low_water: usize,
}

impl Default for TcpConnector {
    fn default() -> Self {
        TcpConnector {
            recv_low_water: LOW_WATER_MAX,
        }
    }
}

impl TcpConnector {
    /// Connects to `addr` and performs the secret handshake.
    pub async fn connect_to(
        &self,
        addr: &str,
        secret: &[u8],
        timeout: Duration,
    ) -> FsResult<Arc<RpcConnection>> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(FsError::from_io(&format!("connect to {addr}"), &e)),
            Err(_) => return Err(FsError::TimedOut(format!("connect to {addr}"))),
        };
        stream
            .set_nodelay(true)
            .map_err(|e| FsError::from_io("set TCP_NODELAY", &e))?;
        let (r, w) = stream.into_split();
        let r = TcpFrameReader::with_low_water(r, self.recv_low_water);
        let conn = RpcConnection::start(r, w, addr.to_string());
        conn.hello(secret, timeout).await?;
        Ok(conn)
    }
}

impl Connector for TcpConnector {
    fn connect<'a>(
        &'a self,
        addr: &'a str,
        secret: &'a [u8],
        timeout: Duration,
    ) -> BoxFuture<'a, FsResult<Arc<dyn Connection>>> {
        Box::pin(async move {
            let c: Arc<dyn Connection> = self.connect_to(addr, secret, timeout).await?;
            Ok(c)
        })
    }
}

/// The bounds on a listener's connections.
struct Caps {
    /// Most connections open at once.
    connections: usize,
    /// Permits of the connections still in their handshake.
    unauthenticated: Arc<Semaphore>,
}

/// Refusals being written at once, at most (beyond, a refused connection is just closed).
const MAX_REFUSING: usize = 64;

/// How the accept loop backs off after a failed accept instead of spinning on it: a short
/// pause after any error, doubling up to a second while the process is out of descriptors
/// or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), which is logged once per listener.
#[derive(Default)]
struct AcceptBackoff {
    delay: Duration,
    until: Option<tokio::time::Instant>,
    warned: bool,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    fn failed(&mut self, e: &std::io::Error, addr: SocketAddr) {
        let exhausted = matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        );
        if exhausted {
            if !self.warned {
                tracing::warn!(
                    "server {addr}: cannot accept connections: {e}; backing off (raise the \
                     descriptor limit, or lower --max-connections); the clients already \
                     connected are still served"
                );
                self.warned = true;
            } else {
                tracing::debug!("server {addr}: accept: {e}");
            }
            self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MOST);
        } else {
            tracing::debug!("server {addr}: accept: {e}");
            self.delay = Self::FIRST;
        }
        self.until = Some(tokio::time::Instant::now() + self.delay);
    }

    fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }
}

/// Tells a connection the listener will not serve why (an error frame for the whole
/// connection), then closes it. The peer's first frame is read and dropped first, so that
/// closing does not reset the connection before the peer has read the error.
async fn refuse(mut s: TcpStream, e: FsError) {
    let frame = refusal_frame(&e);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        s.write_all(&frame).await?;
        s.shutdown().await?;
        let mut sink = [0u8; 512];
        while s.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Accepts connections until the stop signal, serving each in a task of its own within the
/// caps; then lets every connection finish (see [`serve_connection`]).
async fn accept_loop(listener: TcpListener, addr: SocketAddr, ctx: ServeContext, caps: Caps) {
    let mut conns = JoinSet::new();
    let mut refusing = JoinSet::new();
    let mut shutdown = ctx.shutdown.clone();
    let mut backoff = AcceptBackoff::default();
    loop {
        let paused = backoff.until;
        tokio::select! {
            a = listener.accept(), if paused.is_none() => match a {
                Ok((s, _)) => {
                    backoff.succeeded();
                    let permit = if conns.len() >= caps.connections {
                        Err(FsError::Busy(format!(
                            "server {addr} has {} connections open, its limit (--max-connections)",
                            caps.connections
                        )))
                    } else {
                        caps.unauthenticated.clone().try_acquire_owned().map_err(|_| {
                            FsError::Busy(format!(
                                "server {addr} has too many connections still in their handshake"
                            ))
                        })
                    };
                    match permit {
                        Ok(permit) => {
                            let _ = s.set_nodelay(true);
                            let (r, w) = s.into_split();
                            conns.spawn(serve_connection(
                                TcpFrameReader::new(r), w, ctx.clone(), Some(permit)));
                        }
                        Err(e) if refusing.len() < MAX_REFUSING => {
                            refusing.spawn(refuse(s, e));
                        }
                        Err(_) => drop(s),
                    }
                }
                Err(e) => backoff.failed(&e, addr),
            },
            _ = tokio::time::sleep_until(paused.unwrap_or_else(tokio::time::Instant::now)), if paused.is_some() => {
                backoff.until = None;
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            Some(_) = refusing.join_next(), if !refusing.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    refusing.abort_all();
    // Graceful: every connection finishes its in-flight requests, then closes (each within
    // its stop grace); the bound here is only a last resort.
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
}

/// A listening server socket and its accept loop.
pub struct TcpListenerTask {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for TcpListenerTask {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl TcpListenerTask {
    /// Binds `opts.addr` and serves every connection with `handler` (see [`ListenOptions`]).
    pub async fn bind(opts: ListenOptions, handler: Arc<dyn Handler>) -> FsResult<Self> {
        let ListenOptions {
            addr,
            secret,
            store,
            max_in_flight,
            per_connection,
            max_connections,
            max_unauthenticated,
            limits,
            ..
        } = opts;
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| FsError::from_io(&format!("bind {addr}"), &e))?;
        let local = listener
            .local_addr()
            .map_err(|e| FsError::from_io("local_addr", &e))?;
        let (stx, srx) = watch::channel(false);
        let ctx = ServeContext {
            handler,
            secret: Arc::new(secret),
            store,
            limits,
            slots: RequestSlots::new(max_in_flight, per_connection),
            shutdown: srx,
        };
        let caps = Caps {
            connections: max_connections.max(1),
            unauthenticated: Arc::new(Semaphore::new(max_unauthenticated.max(1))),
        };
        let task = tokio::spawn(accept_loop(listener, local, ctx, caps));
        Ok(TcpListenerTask {
            addr: local,
            shutdown: stx,
            task: Some(task),
        })
    }

    /// The bound address (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish and their replies go out, then
    /// closes every connection.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Closes the listener and every connection at once, without replying (a crash, for
    /// tests).
    pub async fn kill(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Listener for TcpListenerTask {
    fn transport(&self) -> &'static str {
        "tcp"
    }
    fn address(&self) -> String {
        self.addr.to_string()
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(TcpListenerTask::shutdown(*self))
    }
    fn kill(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(TcpListenerTask::kill(*self))
    }
}
