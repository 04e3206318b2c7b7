//! TEMPORARY stand-in (replaced by the buffer module at merge).
/// buf
pub struct AlignedBuf(Vec<u8>);
impl AlignedBuf {
    /// new
    pub fn new(n: usize) -> Result<Self, String> {
        Ok(AlignedBuf(vec![0; n]))
    }
}
impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}
impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}
