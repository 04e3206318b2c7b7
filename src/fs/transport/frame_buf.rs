//! The receive buffer of one byte-stream connection: bytes are read from the stream into
//! one growing buffer, and each frame's message and payload are split off it as shared
//! [`Bytes`], without a copy through user space.
//!
//! Owns [`FrameBuf`]. A buffered reader that copies into the caller's memory (tokio's
//! `BufReader`) costs a second copy of every payload byte it read ahead with a frame's
//! header (the whole payload of a 64 KiB reply on loopback); here the kernel's copy is the
//! only one, except for the part of a frame that a read cut short when the buffer had no
//! room left for the rest of it. A payload that has a destination of its own (a read reply
//! into the caller's [`IoSlice`]) is read from the stream straight into it: with
//! [`FrameBuf::read_at_most_while`] the reads before it take little more than a header, so
//! that the payload is left in the stream for [`FrameBuf::take_into`]. Knows frame lengths
//! only as the caller asks for them; the frame layout belongs to [`super::stream`].

use super::io_buffer::{IoSlice, COPY_STATS};
use super::FrameReader;
use bytes::{Buf, Bytes, BytesMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncReadExt, ReadBuf};

/// The client's read room (see [`FrameBuf::new`]): several small replies, or a 64 KiB
/// payload with its header, in one read.
pub(crate) const CLIENT_ROOM: usize = 128 << 10;

/// The server's read room: payload bytes read ahead with a header go to a chunk file by a
/// copy from memory, the rest of a large write's payload is spliced from the stream.
pub(crate) const SERVER_ROOM: usize = 64 << 10;

/// A read into less free room than this first makes the buffer's full room.
const MIN_ROOM: usize = 16 << 10;

/// Payload reads at least this large tell the stream how much they wait for
/// ([`FrameReader::expect_bytes`]).
const HINT_MIN: usize = 64 << 10;

/// A stream's read side and the bytes read from it but not yet taken.
pub(crate) struct FrameBuf<R> {
    inner: R,
    buf: BytesMut,
    /// Room made for a read when there is little (at least [`MIN_ROOM`]).
    room: usize,
    /// While the counter is not zero, each read takes at most this many bytes beyond those
    /// asked for (see [`FrameBuf::read_at_most_while`]).
    at_most: Option<(usize, Arc<AtomicUsize>)>,
}

impl<R: FrameReader> FrameBuf<R> {
    /// An empty buffer over `inner` whose reads take up to about `room` bytes at a time
    /// (more when a frame needs it).
    pub(crate) fn new(inner: R, room: usize) -> Self {
        FrameBuf {
            inner,
            buf: BytesMut::new(),
            room: room.max(MIN_ROOM),
            at_most: None,
        }
    }

    /// From now on, whenever `waiting` is not zero as a read of the stream is made, the
    /// read takes at most `n` bytes, or what the caller asks for if that is more. A reader
    /// whose calls wait for payloads that go into memory of their own counts them there and
    /// sets a header's worth, so that a payload is not read ahead into this buffer (the
    /// count is looked at when the stream is read, not when the wait for it began).
    pub(crate) fn read_at_most_while(&mut self, n: usize, waiting: Arc<AtomicUsize>) {
        self.at_most = Some((n, waiting));
    }

    /// One read of the stream into the free room, capped as [`FrameBuf::read_at_most_while`]
    /// says at the moment of the read; the number of bytes read.
    async fn read_capped(&mut self, need: usize) -> std::io::Result<usize> {
        std::future::poll_fn(|cx| {
            let cap = match &self.at_most {
                Some((n, waiting)) if waiting.load(Ordering::Relaxed) > 0 => (*n).max(need),
                _ => usize::MAX,
            };
            let spare = self.buf.spare_capacity_mut();
            let room = cap.min(spare.len());
            let mut rb = ReadBuf::uninit(&mut spare[..room]);
            std::task::ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            // SAFETY: the read initialised the first `n` bytes of the spare capacity.
            unsafe { self.buf.set_len(self.buf.len() + n) };
            Poll::Ready(Ok(n))
        })
        .await
    }

    /// The bytes read ahead and not yet taken.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` buffered bytes (at most all of them).
    pub(crate) fn consume(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    /// The stream itself, for a transfer that bypasses the buffer (the caller has taken
    /// or consumed what the buffer held of it).
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// One read of the stream into free room of at least `need` bytes (more when there is
    /// little); the number of bytes read, 0 at the end of the stream.
    async fn read_more(&mut self, need: usize) -> std::io::Result<usize> {
        let free = self.buf.capacity() - self.buf.len();
        if free < need.max(MIN_ROOM) {
            // With nothing buffered this reclaims the buffer or takes a fresh one without a
            // copy; otherwise the buffered bytes (a cut frame) move along.
            self.buf.reserve(need.max(self.room));
        }
        self.read_capped(need).await
    }

    /// Moves the next `dest.len()` bytes of the stream into `dest`: what is buffered is
    /// copied, the rest is read from the stream straight into it (the kernel's copy is the
    /// only one). The stream is then at the end of those bytes; an end of stream before is
    /// `UnexpectedEof`.
    pub(crate) async fn take_into(&mut self, dest: &IoSlice) -> std::io::Result<()> {
        let len = dest.len();
        let k = self.buf.len().min(len);
        // SAFETY: `dest` keeps its buffer alive and covers `len` initialised bytes; while a
        // call has it as its reply's destination, its owner does not touch those bytes (the
        // contract of `Connection::call_into`), so this is the only access. `k <= len`, and
        // the buffered bytes are this buffer's own memory, not `dest`'s.
        let out = unsafe { std::slice::from_raw_parts_mut(dest.as_ptr(), len) };
        out[..k].copy_from_slice(&self.buf[..k]);
        self.buf.advance(k);
        COPY_STATS.staged(k);
        let mut done = k;
        while done < len {
            let n = self.inner.read(&mut out[done..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        COPY_STATS.in_place(len - k);
        Ok(())
    }

    /// Waits until at least one byte is buffered; false at the end of the stream with
    /// nothing buffered.
    pub(crate) async fn fill_some(&mut self) -> std::io::Result<bool> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        Ok(self.read_more(1).await? > 0)
    }

    /// Reads until at least `n` bytes are buffered. `Ok(false)` at the end of the stream
    /// with nothing buffered; an end of stream after some bytes is `UnexpectedEof`.
    async fn fill_to(&mut self, n: usize) -> std::io::Result<bool> {
        let mut hinted = false;
        while self.buf.len() < n {
            let want = n - self.buf.len();
            if hinted || want >= HINT_MIN {
                // Never more than the frame still holds (the caller asks for one frame's
                // bytes at most), so the stream cannot stall on it.
                self.inner.expect_bytes(want);
                hinted = true;
            }
            if self.read_more(want).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(false);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        if hinted {
            self.inner.expect_bytes(0);
        }
        Ok(true)
    }

    /// The next `n` bytes of a frame, split off the buffer (shared, not copied).
    pub(crate) async fn take(&mut self, n: usize) -> std::io::Result<Bytes> {
        if n == 0 {
            return Ok(Bytes::new());
        }
        if !self.fill_to(n).await? {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(self.buf.split_to(n).freeze())
    }

    /// The next `N` bytes, copied out (a frame header); `Ok(None)` at a clean end of
    /// stream (nothing buffered).
    pub(crate) async fn take_array<const N: usize>(&mut self) -> std::io::Result<Option<[u8; N]>> {
        if !self.fill_to(N).await? {
            return Ok(None);
        }
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[..N]);
        self.buf.advance(N);
        Ok(Some(a))
    }

    /// Reads and drops the next `n` bytes.
    pub(crate) async fn discard(&mut self, mut n: usize) -> std::io::Result<()> {
        loop {
            let k = n.min(self.buf.len());
            self.buf.advance(k);
            n -= k;
            if n == 0 {
                return Ok(());
            }
            if self.read_more(n.min(self.room)).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::transport::{BoxFuture, SinkResult};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A stream that hands out `data` in reads of at most the next of `pieces` bytes, and
    /// records where each read put its bytes and every hint it got.
    struct Script {
        data: Vec<u8>,
        at: usize,
        pieces: Vec<usize>,
        /// (address, length) of each read's destination.
        landed: Vec<(usize, usize)>,
        hints: Vec<usize>,
    }

    impl Script {
        fn new(data: Vec<u8>, pieces: Vec<usize>) -> Self {
            Script {
                data,
                at: 0,
                pieces,
                landed: Vec::new(),
                hints: Vec::new(),
            }
        }

        /// True if `b` lies within the bytes one read wrote (it was never copied since).
        fn read_in_place(&self, b: &[u8]) -> bool {
            let p = b.as_ptr() as usize;
            self.landed
                .iter()
                .any(|&(a, n)| p >= a && p + b.len() <= a + n)
        }
    }

    impl tokio::io::AsyncRead for Script {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let piece = if self.pieces.is_empty() {
                usize::MAX
            } else {
                self.pieces.remove(0)
            };
            let n = piece.min(buf.remaining()).min(self.data.len() - self.at);
            let at = self.at;
            let start = buf.filled().len();
            buf.put_slice(&self.data[at..at + n]);
            let dest = buf.filled()[start..].as_ptr() as usize;
            self.landed.push((dest, n));
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    impl FrameReader for Script {
        fn recv_to_file<'a>(
            &'a mut self,
            _: &'a std::fs::File,
            _: u64,
            _: usize,
        ) -> BoxFuture<'a, SinkResult> {
            unreachable!("not used by these tests")
        }
        fn expect_bytes(&mut self, n: usize) {
            self.hints.push(n);
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[tokio::test]
    async fn a_payload_read_with_its_header_is_split_off_where_the_stream_put_it() {
        // A 16-byte header, then a 64 KiB payload, then a small frame: all in one read, as
        // a reply arrives on loopback.
        let payload = pattern(64 << 10);
        let mut data = vec![1u8; 16];
        data.extend_from_slice(&payload);
        data.extend_from_slice(&[2u8; 16]);
        data.extend_from_slice(b"tail");
        let mut r = FrameBuf::new(Script::new(data, vec![]), CLIENT_ROOM);
        assert_eq!(r.take_array::<16>().await.unwrap(), Some([1u8; 16]));
        let p = r.take(payload.len()).await.unwrap();
        assert!(p == payload, "the payload's bytes, in order");
        assert!(
            r.get_mut().read_in_place(&p),
            "the payload was copied after the stream wrote it"
        );
        assert_eq!(r.get_mut().landed.len(), 1, "one read for all three pieces");
        assert_eq!(r.take_array::<16>().await.unwrap(), Some([2u8; 16]));
        let t = r.take(4).await.unwrap();
        assert_eq!(&t[..], b"tail");
        assert!(r.get_mut().read_in_place(&t));
        // A clean end of stream at a frame boundary.
        assert_eq!(r.take_array::<16>().await.unwrap(), None);
        assert!(!r.fill_some().await.unwrap());
    }

    #[tokio::test]
    async fn a_payload_arriving_in_pieces_is_whole_and_hints_the_stream_with_what_is_left() {
        let payload = pattern(200 << 10);
        let mut data = vec![9u8; 8];
        data.extend_from_slice(&payload);
        // The header with 1000 bytes of payload, then pieces of 30 KiB.
        let mut r = FrameBuf::new(
            Script::new(data, vec![1008, 30 << 10, 30 << 10]),
            CLIENT_ROOM,
        );
        assert_eq!(r.take_array::<8>().await.unwrap(), Some([9u8; 8]));
        let p = r.take(payload.len()).await.unwrap();
        assert!(p == payload);
        let hints = &r.get_mut().hints;
        // Each hint is what the frame still held (never more), the last one clears it.
        assert_eq!(hints.first(), Some(&(payload.len() - 1000)));
        assert_eq!(hints[1], payload.len() - 1000 - (30 << 10));
        assert_eq!(hints.last(), Some(&0));
        assert!(hints.windows(2).all(|w| w[1] < w[0]));
        // Everything after the first cut went where the stream put it.
        let (a, b) = (1000, 1000 + (30 << 10));
        for part in [&p[a..b], &p[b..b + (30 << 10)], &p[b + (30 << 10)..]] {
            assert!(r.get_mut().read_in_place(part));
        }
    }

    #[tokio::test]
    async fn while_a_payload_is_awaited_in_place_reads_stop_at_the_header_and_it_lands_there() {
        use crate::fs::transport::io_buffer::IoBuffer;
        let payload = pattern(64 << 10);
        let mut data = vec![3u8; 24];
        data.extend_from_slice(&payload);
        data.extend_from_slice(&[4u8; 24]);
        data.extend_from_slice(&payload[..100]);
        let waiting = Arc::new(AtomicUsize::new(1));
        let mut r = FrameBuf::new(Script::new(data, vec![]), CLIENT_ROOM);
        r.read_at_most_while(40, waiting.clone());
        assert_eq!(r.take_array::<24>().await.unwrap(), Some([3u8; 24]));
        assert_eq!(
            r.get_mut().landed[0].1,
            40,
            "the read stopped short of the payload"
        );
        let dest = IoSlice::new(Arc::new(IoBuffer::new(64 << 10).unwrap()), 0..64 << 10).unwrap();
        r.take_into(&dest).await.unwrap();
        assert!(dest.as_ref() == &payload[..], "the payload, byte-exact");
        let s = r.get_mut();
        assert!(
            s.read_in_place(&dest.as_ref()[16..]),
            "all but what the header's read took came straight from the stream"
        );
        // Nothing awaited in place: reads take all there is room for again.
        waiting.store(0, Ordering::Relaxed);
        assert_eq!(r.take_array::<24>().await.unwrap(), Some([4u8; 24]));
        assert_eq!(r.get_mut().landed.last().map(|l| l.1), Some(124));
        assert_eq!(&r.take(100).await.unwrap()[..], &payload[..100]);
        // A stream that ends inside the payload is an error.
        let mut r = FrameBuf::new(Script::new(vec![1u8; 1000], vec![]), CLIENT_ROOM);
        let e = r.take_into(&dest).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn an_end_of_stream_inside_a_frame_is_an_error_and_discard_keeps_step() {
        let mut r = FrameBuf::new(Script::new(vec![5u8; 10], vec![3]), SERVER_ROOM);
        let e = r.take_array::<16>().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);

        let mut data = pattern(100 << 10);
        data.extend_from_slice(b"next");
        let mut r = FrameBuf::new(Script::new(data, vec![10, 4096]), SERVER_ROOM);
        r.discard(100 << 10).await.unwrap();
        assert_eq!(&r.take(4).await.unwrap()[..], b"next");
        let e = r.discard(1).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
