//! Worker addresses: the opaque bytes UCX packs to describe a worker (its transports and
//! devices), and the checked envelope they travel in (registry entries, handshakes), so that
//! a truncated or corrupted address is refused before UCX parses it.
//!
//! Owns [`WorkerAddress`]; must not create endpoints.

use super::error::{Status, UcxError};
use ucx_sys as sys;

/// Magic bytes of a packed worker address.
const MAGIC: &[u8; 4] = b"UCXA";
/// Version of the envelope format.
const VERSION: u8 = 1;
/// Envelope bytes around the address: magic, version, length (u32 LE), checksum (u64 LE).
const ENVELOPE: usize = 4 + 1 + 4 + 8;
/// Longest address accepted (UCX addresses are a few hundred bytes per device).
const MAX_ADDRESS: usize = 64 << 10;

/// The address of a UCX worker, as UCX packed it. Plain bytes: `Send`, comparable, and
/// convertible to a checked envelope ([`WorkerAddress::pack`]) or hex text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WorkerAddress {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for WorkerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerAddress({} bytes)", self.bytes.len())
    }
}

impl WorkerAddress {
    /// Wraps address bytes produced by UCX on this machine (`ucp_worker_query`).
    pub(crate) fn from_ucx(bytes: Vec<u8>) -> Self {
        WorkerAddress { bytes }
    }

    /// The raw UCX address bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The address in its checked envelope: magic, version, length, bytes, xxh3 checksum.
    pub fn pack(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&self.bytes).to_le_bytes());
        out
    }

    /// Reads an address from the envelope [`WorkerAddress::pack`] wrote, refusing anything
    /// truncated, corrupted, oversized or of another version.
    pub fn unpack(data: &[u8]) -> Result<Self, UcxError> {
        let bad = |m: String| Err(UcxError::BadAddress(m));
        if data.len() < ENVELOPE {
            return bad(format!("{} bytes is shorter than the envelope", data.len()));
        }
        if &data[..4] != MAGIC {
            return bad("missing the UCXA magic".into());
        }
        if data[4] != VERSION {
            return bad(format!("envelope version {} (expected {VERSION})", data[4]));
        }
        let mut len4 = [0u8; 4];
        len4.copy_from_slice(&data[5..9]);
        let len = u32::from_le_bytes(len4) as usize;
        if len == 0 || len > MAX_ADDRESS {
            return bad(format!("address length {len}"));
        }
        if data.len() != ENVELOPE + len {
            return bad(format!(
                "{} bytes for an address of {len} (expected {})",
                data.len(),
                ENVELOPE + len
            ));
        }
        let bytes = &data[9..9 + len];
        let mut sum8 = [0u8; 8];
        sum8.copy_from_slice(&data[9 + len..]);
        if u64::from_le_bytes(sum8) != xxhash_rust::xxh3::xxh3_64(bytes) {
            return bad("checksum mismatch".into());
        }
        Ok(WorkerAddress {
            bytes: bytes.to_vec(),
        })
    }

    /// The packed envelope as lower-case hex (for text registries and command lines).
    pub fn to_hex(&self) -> String {
        self.pack().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads the hex form of [`WorkerAddress::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self, UcxError> {
        let t = text.trim();
        if !t.len().is_multiple_of(2) {
            return Err(UcxError::BadAddress("odd number of hex digits".into()));
        }
        let bytes = (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(t.get(i..i + 2).unwrap_or("x"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| UcxError::BadAddress(format!("not hex: {e}")))?;
        Self::unpack(&bytes)
    }

    /// The unique id of the worker that the address belongs to (`ucp_worker_address_query`).
    pub fn worker_uid(&self) -> Result<u64, UcxError> {
        let mut attr = sys::ucp_worker_address_attr_t {
            field_mask: sys::UCP_WORKER_ADDRESS_ATTR_FIELD_UID as u64,
            ..Default::default()
        };
        // SAFETY: the bytes are a UCX worker address (from UCX on this machine, or from an
        // envelope whose checksum matched); UCX only reads them; `attr` is a valid out struct.
        let st = unsafe {
            sys::ucp_worker_address_query(self.bytes.as_ptr() as *mut sys::ucp_address_t, &mut attr)
        };
        Status(st).check("ucp_worker_address_query")?;
        Ok(attr.worker_uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_refuse_damage() {
        let a = WorkerAddress::from_ucx(vec![7u8; 100]);
        let packed = a.pack();
        assert_eq!(WorkerAddress::unpack(&packed).expect("intact"), a);
        assert_eq!(WorkerAddress::from_hex(&a.to_hex()).expect("hex"), a);
        for cut in [0, 5, ENVELOPE, packed.len() - 1] {
            assert!(
                WorkerAddress::unpack(&packed[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = packed.clone();
        flipped[20] ^= 1;
        let e = WorkerAddress::unpack(&flipped).expect_err("corrupt");
        assert!(e.to_string().contains("checksum"), "{e}");
        let mut longer = packed.clone();
        longer.push(0);
        assert!(WorkerAddress::unpack(&longer).is_err());
        let mut version = packed;
        version[4] = 9;
        assert!(WorkerAddress::unpack(&version).is_err());
        assert!(WorkerAddress::from_hex("abc").is_err());
        assert!(WorkerAddress::from_hex("zz").is_err());
    }
}
