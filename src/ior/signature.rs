//! TEMPORARY stand-in (replaced by the signature module at merge).
use crate::ior::params::DataPacketType;
/// fill
pub fn fill_base(buf: &mut [u8], _t: DataPacketType, sig: u32, pr: u32) {
    for (i, w) in buf.chunks_exact_mut(8).enumerate() {
        let v = ((pr as u64) << 32) | (sig.wrapping_add(i as u32) as u64);
        w.copy_from_slice(&v.to_le_bytes());
    }
}
/// update
pub fn update_for_write(_b: &mut [u8], _t: DataPacketType, _s: u32, _g: i32, _pr: u32, _o: u64) {}
/// verify
pub fn verify(buf: &[u8], _t: DataPacketType, sig: u32, _g: i32, pr: u32, _o: u64) -> bool {
    buf.chunks_exact(8).enumerate().all(|(i, w)| {
        w == (((pr as u64) << 32) | (sig.wrapping_add(i as u32) as u64)).to_le_bytes()
    })
}
/// invalidate
pub fn invalidate_for_read(buf: &mut [u8]) {
    if let Some(b) = buf.first_mut() {
        *b = !*b;
    }
}
