//! TEMPORARY stand-in (replaced by the latency module at merge).
use crate::ior::results::LatencySummary;
/// rec
#[derive(Default)]
pub struct LatencyRecorder {
    n: u64,
}
impl LatencyRecorder {
    /// new
    pub fn new() -> Self {
        Self::default()
    }
    /// record
    pub fn record(&mut self, _ns: u64) {
        self.n += 1;
    }
    /// reset
    pub fn reset(&mut self) {
        self.n = 0;
    }
    /// ser
    pub fn serialize(&self) -> Vec<u8> {
        self.n.to_le_bytes().to_vec()
    }
    /// merge
    pub fn merge_serialized(_p: &[Vec<u8>]) -> Result<LatencySummary, String> {
        Ok(LatencySummary::default())
    }
}
