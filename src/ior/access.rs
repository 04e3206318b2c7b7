//! TEMPORARY stand-in (replaced by the access-pattern module at merge).
use crate::ior::params::{IorParams, TaskLayout};
/// Phase for reordering.
pub enum ReorderPhase {
    /** w */
    Write,
    /** wc */
    WriteCheck,
    /** r */
    Read,
}
/// pretend rank.
pub fn pretend_rank(
    _p: &IorParams,
    _l: &TaskLayout,
    rank: usize,
    _ph: ReorderPhase,
    _rep: usize,
) -> usize {
    rank
}
/// Offsets.
pub struct OffsetSequence {
    n: u64,
    t: u64,
    b: u64,
    base: u64,
    stride: u64,
}
impl OffsetSequence {
    /// new
    pub fn new(p: &IorParams, l: &TaskLayout, pr: usize, _seed: u64, _fs: Option<u64>) -> Self {
        let t = p.transfers_per_block() as u64;
        let ssf = p.file_per_proc == 0;
        OffsetSequence {
            n: p.segment_count as u64 * t,
            t,
            b: p.block_size as u64,
            base: if ssf {
                pr as u64 * p.block_size as u64
            } else {
                0
            },
            stride: if ssf {
                l.num_tasks as u64 * p.block_size as u64
            } else {
                p.block_size as u64
            },
        }
    }
    /// len
    pub fn len(&self) -> u64 {
        self.n
    }
    /// is_empty
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// get
    pub fn get(&self, i: u64) -> u64 {
        let s = i / self.t;
        let j = i % self.t;
        s * self.stride + self.base + j * (self.b / self.t)
    }
}
/// seed
pub fn random_seed(_p: &IorParams, _pr: usize, now: u64) -> u64 {
    now
}
/// name
pub fn file_name(p: &IorParams, pr: usize, _rep: usize) -> String {
    if p.file_per_proc != 0 {
        format!("{}.{:08}", p.test_file_name, pr)
    } else {
        p.test_file_name.clone()
    }
}
/// dir
pub fn unique_dir(_p: &IorParams, _pr: usize) -> Option<String> {
    None
}
