//! TEMPORARY stand-in (replaced by the progress module at merge).
/// p
pub struct Progress;
impl Progress {
    /// new
    pub fn new(_f: Option<bool>) -> Self {
        Progress
    }
    /// disabled
    pub fn disabled() -> Self {
        Progress
    }
    /// enabled
    pub fn enabled(&self) -> bool {
        false
    }
    /// begin
    pub fn phase_begin(&self, _t: i32, _p: &str, _i: usize, _b: u64) {}
    /// adv
    pub fn advance(&self, _b: u64) {}
    /// end
    pub fn phase_end(&self) {}
}
