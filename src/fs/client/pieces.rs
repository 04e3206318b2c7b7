//! Pieces: an I/O at a file offset cut at chunk boundaries and at a largest request size,
//! each piece one request to the server of its chunk.
//!
//! Owns [`pieces`] and nothing else (no I/O, no knowledge of servers).

/// One piece of an I/O split at chunk boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    /// Chunk index.
    pub(super) chunk: u64,
    /// Offset within the chunk.
    pub(super) in_chunk: u32,
    /// Offset within the caller's buffer.
    pub(super) buf_off: usize,
    /// Bytes.
    pub(super) len: usize,
}

/// Cuts `len` bytes at `offset` of a file of chunk size `cs` into pieces of at most
/// `max_piece` bytes, none crossing a chunk boundary.
pub(super) fn pieces(offset: u64, len: usize, cs: u32, max_piece: u32) -> Vec<Piece> {
    // A chunk size below the protocol minimum (only a broken server could send one) would
    // make pieces tiny or divide by zero.
    let cs = (cs as u64).max(4096);
    let max_piece = (max_piece.max(4096)) as usize;
    let mut out = Vec::new();
    let mut done = 0usize;
    while done < len {
        let pos = offset + done as u64;
        let chunk = pos / cs;
        let in_chunk = pos % cs;
        let n = ((cs - in_chunk) as usize).min(len - done).min(max_piece);
        out.push(Piece {
            chunk,
            in_chunk: in_chunk as u32,
            buf_off: done,
            len: n,
        });
        done += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_chunk_boundaries() {
        let cs = 65536u32;
        assert_eq!(pieces(1, 10 * cs as usize, cs, cs).len(), 11);
        assert_eq!(pieces(0, cs as usize, cs, 16384).len(), 4);
        assert_eq!(
            pieces(0, 10, cs, cs),
            vec![Piece {
                chunk: 0,
                in_chunk: 0,
                buf_off: 0,
                len: 10
            }]
        );
        let p = pieces(65530, 65536 + 20, cs, cs);
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].chunk, p[0].in_chunk, p[0].len), (0, 65530, 6));
        assert_eq!((p[1].chunk, p[1].in_chunk, p[1].len), (1, 0, 65536));
        assert_eq!((p[2].chunk, p[2].buf_off, p[2].len), (2, 65542, 14));
        assert!(pieces(5, 0, cs, cs).is_empty());
    }
}
