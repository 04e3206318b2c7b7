//! The frame of the BenchFS wire protocol: the 24-byte [`FrameHeader`], the [`FrameKind`],
//! and the bounds every length on the wire must respect.
//!
//! Owns the header layout (little endian: magic, version, kind, op, two reserved bytes that
//! must be zero, id, message length, bulk length) and the limits ([`MAX_MSG_LEN`], [`MAX_BULK_LEN`], [`MAX_PATH_LEN`], ...).
//! Knows nothing of what the message part holds (that is [`super::requests`] and
//! [`super::responses`]); does no I/O.

use crate::fs::error::{FsError, FsResult};

/// Magic number opening every frame.
pub const MAGIC: u16 = 0xBF5A;
/// Protocol version carried in every frame; a frame of another version is refused.
/// Version 3: the challenge-response handshake (`Hello`, `Prove`, `Challenge`) and reserved
/// header bytes that must be zero.
pub const PROTOCOL_VERSION: u8 = 3;
/// Size of an encoded [`FrameHeader`].
pub const HEADER_LEN: usize = 24;
/// Largest message part of a frame (requests and replies other than bulk data).
pub const MAX_MSG_LEN: u32 = 1 << 20;
/// Largest bulk part of a frame: one whole chunk of the largest chunk size.
pub const MAX_BULK_LEN: u32 = 64 << 20;
/// Longest path accepted anywhere.
pub const MAX_PATH_LEN: usize = 4096;
/// Longest path component.
pub const MAX_NAME_LEN: usize = 255;
/// Longest cluster secret (the registry's secret file, the key of the handshake's HMAC).
pub const MAX_SECRET_LEN: usize = 256;
/// Longest message part of a handshake frame (`Hello`, `Prove`): the server reads no more
/// than this, and no payload, from a peer that has not proved it holds the secret.
pub const MAX_HANDSHAKE_MSG: u32 = 64;
/// Most directory entries returned by one `ReadDir` call.
pub const MAX_DIR_BATCH: u32 = 1024;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A request from a client.
    Request = 0,
    /// A successful reply.
    Reply = 1,
    /// An error reply: the message is an errno and a text.
    Error = 2,
}

/// The fixed header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Request, reply or error.
    pub kind: FrameKind,
    /// The operation ([`super::Op`] as a number); replies repeat the op of their request.
    pub op: u16,
    /// Request id chosen by the client; a reply carries the id of its request.
    pub id: u64,
    /// Length of the message part.
    pub msg_len: u32,
    /// Length of the bulk part.
    pub bulk_len: u32,
}

impl FrameHeader {
    /// Encodes the header into its 24 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&MAGIC.to_le_bytes());
        b[2] = PROTOCOL_VERSION;
        b[3] = self.kind as u8;
        b[4..6].copy_from_slice(&self.op.to_le_bytes());
        // b[6..8] reserved (flags), zero.
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..20].copy_from_slice(&self.msg_len.to_le_bytes());
        b[20..24].copy_from_slice(&self.bulk_len.to_le_bytes());
        b
    }

    /// Decodes and validates a header: magic, version, kind, reserved bytes (zero) and both
    /// length bounds.
    pub fn decode(b: &[u8]) -> FsResult<Self> {
        if b.len() < HEADER_LEN {
            return Err(FsError::Protocol("short frame header".into()));
        }
        let magic = u16::from_le_bytes([b[0], b[1]]);
        if magic != MAGIC {
            return Err(FsError::Protocol(format!("bad magic {magic:#06x}")));
        }
        if b[2] != PROTOCOL_VERSION {
            return Err(FsError::Protocol(format!(
                "protocol version {} (expected {PROTOCOL_VERSION})",
                b[2]
            )));
        }
        let kind = match b[3] {
            0 => FrameKind::Request,
            1 => FrameKind::Reply,
            2 => FrameKind::Error,
            k => return Err(FsError::Protocol(format!("bad frame kind {k}"))),
        };
        let op = u16::from_le_bytes([b[4], b[5]]);
        if b[6] != 0 || b[7] != 0 {
            return Err(FsError::Protocol(format!(
                "reserved header bytes {:#04x} {:#04x} are not zero",
                b[6], b[7]
            )));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[8..16]);
        let msg_len = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
        let bulk_len = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
        if msg_len > MAX_MSG_LEN {
            return Err(FsError::MessageTooLong(format!(
                "message of {msg_len} bytes (max {MAX_MSG_LEN})"
            )));
        }
        if bulk_len > MAX_BULK_LEN {
            return Err(FsError::MessageTooLong(format!(
                "bulk payload of {bulk_len} bytes (max {MAX_BULK_LEN})"
            )));
        }
        Ok(FrameHeader {
            kind,
            op,
            id: u64::from_le_bytes(id),
            msg_len,
            bulk_len,
        })
    }
}
