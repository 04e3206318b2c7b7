//! Access patterns of one IOR test: which rank pretends to be which (task reordering, SPEC §2.5),
//! which file offsets a rank touches in one phase (sequential §2.3, shuffled `-z` and random
//! blocks `-z -z` §2.4), the random-offset seed (§2.4) and the file names (§2.9).
//!
//! This module only computes numbers and names. It owns no I/O, no communication and no timing:
//! the engine broadcasts seeds, creates the directories named by [`unique_dir`] and drives the
//! transfers. It must not touch buffers (that is [`crate::ior::signature`]).
//!
//! # Offsets
//! [`OffsetSequence`] is built once per rank and phase and answers "offset of the i-th transfer"
//! in O(1) without allocating per call: the quotient/remainder by the transfers per segment uses a
//! precomputed reciprocal (one 64x64->128 multiply instead of a hardware division). Sequential
//! access stores nothing per transfer; shuffled access stores one slot index per transfer of one
//! segment (as IOR's offset array does), random blocks one block offset per segment.
//!
//! # Deliberate differences from IOR
//! * **PRNG.** IOR uses glibc `rand()`/`srand()` for `-z`, `-Z` and `-Z -Z`, and a 128-bit LCG
//!   (`rand64`) for `-z -z`. We use PCG-64 (`rand_pcg::Pcg64`, explicitly seeded, bounded draws by
//!   multiply-shift), so for the same seed the *sequences differ from real IOR*. They are
//!   deterministic for a given seed, on every platform. Consequence: a file written by real IOR
//!   with `-z` cannot be verified by benchfs-bench with `-z` (and vice versa); sequential files can.
//! * **Shuffle.** IOR swaps every index with `rand() % n` (a biased shuffle); we use an unbiased
//!   Fisher-Yates shuffle. The *structure* is IOR's: FPP uses one permutation of the block's
//!   transfers for every segment; SSF assigns each slot of a segment to a rank drawn from a
//!   stream shared by all ranks (so the partition is consistent and, as in IOR, unbalanced), and
//!   each rank shuffles its own slots with the continuation of that stream.
//! * **`-z -z` writes.** IOR divides by the size of the file obtained with `get_file_size`, which is
//!   0 for a write (SIGFPE, `shm_random_zz_write_SIGFPE.txt`). With `file_size == None` we use the
//!   expected size of the file (FPP `blockSize*segmentCount`, SSF `expectedAggFileSize`); a file
//!   smaller than one block is treated as one block. For `-z -z` the per-rank stream is seeded by
//!   a hash of `(seed, pretendRank)`, where IOR uses `seed*(pretendRank+1)` (identical streams on
//!   all ranks for seed 0). IOR's "write the last block first" is available through
//!   [`OffsetSequence::with_last_block_first`].
//! * **`-Z` once.** IOR redraws `rand() % numTasks` while it is below
//!   `min(Q, numNodes-1)*tasksOnNode0`; we draw uniformly from the same accepted range directly
//!   (same distribution). If the minimum is `>= numTasks` (possible with uneven nodes; IOR loops
//!   forever) the minimum is clamped to `numTasks-1`.
//! * **`-u` with a name without `/`.** IOR's `PrependDir` then produces `t0/estFile.00000000` for
//!   `-o testFile` (it never looks at index 0); we produce `0/testFile.00000000`. Names containing
//!   a `/` are identical to IOR.
//! * `-y` (dual mount, name gets the CPU socket inserted) is not applied by [`file_name`].

use crate::ior::params::{IorParams, TaskLayout};
use rand::RngCore;
use rand_pcg::Pcg64;

/// The phase a pretend rank is computed for (SPEC §2.5/§2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReorderPhase {
    /// The write phase: always rankOffset 0.
    Write,
    /// The `-W` read-back after the write: `-C` moves `Q+1` nodes, `-Z` does not apply.
    WriteCheck,
    /// The read phase (`-r`/`-R`): `-C` moves `Q` nodes, `-Z` random offset, `-Z -Z` permutation.
    Read,
}

/// Multiplier of SplitMix64 (also used to derive PCG states from 64-bit seeds).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 finaliser: a bijective, well-mixing hash of a 64-bit value.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Our PRNG for a 64-bit seed: PCG-64 with a state and stream derived from the seed by hashing,
/// so that nearby seeds (time stamps, `seed + rank`) give unrelated streams.
fn rng_from_seed(seed: u64) -> Pcg64 {
    let a = mix64(seed);
    let b = mix64(seed.wrapping_add(GOLDEN_GAMMA));
    let c = mix64(seed ^ 0x5851_f42d_4c95_7f2d);
    let state = ((a as u128) << 64) | b as u128;
    Pcg64::new(state, c as u128)
}

/// Uniform draw in `0..n` (`n >= 1`) by multiply-shift (bias < n/2^64, irrelevant here).
fn bounded(rng: &mut Pcg64, n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// Unbiased Fisher-Yates shuffle driven by `rng`.
fn shuffle<T>(v: &mut [T], rng: &mut Pcg64) {
    for i in (1..v.len()).rev() {
        let j = bounded(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// IOR's `iseed0` for `-Z`: `X >= 0 ? X : -X + rep`, in C `unsigned int` arithmetic.
fn reorder_seed(params: &IorParams, rep: usize) -> u32 {
    let x = params.reorder_tasks_random_seed as i64;
    if x < 0 {
        ((-x) as u64).wrapping_add(rep as u64) as u32
    } else {
        x as u32
    }
}

/// `-C` rank offset: `(nodes * shift) % numTasks` with `shift = blockMapping ? tasksOnNode0 : 1`.
fn constant_offset(layout: &TaskLayout, nodes: i64) -> usize {
    let n = layout.num_tasks.max(1) as i64;
    let shift = if layout.block_mapping {
        layout.tasks_on_node0.max(1) as i64
    } else {
        1
    };
    (nodes.wrapping_mul(shift)).rem_euclid(n) as usize
}

/// `pretendRank` of `rank` in `phase` of repetition `rep` (SPEC §2.2, §2.5).
///
/// * Writes: `rank` (rankOffset 0).
/// * WriteCheck (`-W`): with `-C`, rankOffset `((Q+1)*shift) % numTasks`, else 0 (`-Z` does not
///   apply to the write check, as in IOR).
/// * Read: `-C` rankOffset `(Q*shift) % numTasks` with `shift = tasksBlockMapping ?
///   tasksOnNode0 : 1` (a no-op on one node); `-Z` once: a rank-seeded random rankOffset
///   `>= min(Q, numNodes-1)*tasksOnNode0`; `-Z -Z`: `perm[rank]` of a permutation seeded by `-X`
///   (the same on all ranks). `-X < 0` uses `-X + rep` as seed.
///
/// The random draws use our PRNG, not glibc's (see the module doc).
pub fn pretend_rank(
    params: &IorParams,
    layout: &TaskLayout,
    rank: usize,
    phase: ReorderPhase,
    rep: usize,
) -> usize {
    let n = layout.num_tasks.max(1);
    let q = params.task_per_node_offset as i64;
    let rank_offset = match phase {
        ReorderPhase::Write => 0,
        ReorderPhase::WriteCheck => {
            if params.reorder_tasks != 0 {
                constant_offset(layout, q.wrapping_add(1))
            } else {
                0
            }
        }
        ReorderPhase::Read => {
            if params.reorder_tasks_random >= 2 {
                return random_permutation(n, reorder_seed(params, rep))[rank % n];
            } else if params.reorder_tasks_random == 1 {
                random_task_offset(params, layout, rank, rep)
            } else if params.reorder_tasks != 0 {
                constant_offset(layout, q)
            } else {
                0
            }
        }
    };
    (rank + rank_offset) % n
}

/// `-Z` once: the random rankOffset of `rank` (seeded by `rank + iseed0`).
fn random_task_offset(params: &IorParams, layout: &TaskLayout, rank: usize, rep: usize) -> usize {
    let n = layout.num_tasks.max(1) as i64;
    let nodes = layout.num_nodes.max(1) as i64;
    let q = params.task_per_node_offset as i64;
    let node_offset = q.min(nodes - 1);
    let min = node_offset
        .saturating_mul(layout.tasks_on_node0 as i64)
        .clamp(0, n - 1);
    let seed = (rank as u32).wrapping_add(reorder_seed(params, rep));
    let mut rng = rng_from_seed(seed as u64);
    (min + bounded(&mut rng, (n - min) as u64) as i64) as usize
}

/// `-Z -Z`: permutation of `0..n` seeded by `seed` (identical on all ranks).
pub fn random_permutation(n: usize, seed: u32) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut rng = rng_from_seed(seed as u64);
    shuffle(&mut perm, &mut rng);
    perm
}

/// IOR's `-vv` line `#File Hits Dist:` for `-Z` (print each value after a space): from the
/// read-phase pretend ranks of all ranks, `h[k]` = number of files read by exactly `k` ranks,
/// listed from `k = 0` until the listed files add up to `numTasks`. Every rank can compute it
/// (pretend ranks are deterministic), IOR prints it on rank 0.
pub fn file_hits_distribution(params: &IorParams, layout: &TaskLayout, rep: usize) -> Vec<usize> {
    let n = layout.num_tasks.max(1);
    let mut readers = vec![0usize; n];
    for rank in 0..n {
        readers[pretend_rank(params, layout, rank, ReorderPhase::Read, rep) % n] += 1;
    }
    let mut hits = vec![0usize; n];
    for &c in &readers {
        if c < n {
            hits[c] += 1;
        }
    }
    let mut out = Vec::new();
    let mut files = 0;
    for &h in &hits {
        if files >= n {
            break;
        }
        out.push(h);
        files += h;
    }
    out
}

/// The `-z` seed of one rank (SPEC §2.4).
///
/// `--random-offset-seed` of -1 means "time": `now` is used; for a shared file the engine must
/// pass rank 0's time (broadcast) so that all ranks agree on the slot partition. A given seed is
/// used as is for a shared file and as `seed + pretendRank` for file-per-process. IOR stores the
/// time seed in the test, so the engine should compute `now` once per test and pass the same value
/// to every phase (otherwise `-z -W`/`-R` on a shared file read other ranks' slots).
pub fn random_seed(params: &IorParams, pretend_rank: usize, now: u64) -> u64 {
    if params.random_offset_seed == -1 {
        now
    } else if params.file_per_proc != 0 {
        params.random_offset_seed.wrapping_add(pretend_rank as i64) as u64
    } else {
        params.random_offset_seed as u64
    }
}

/// Division by a fixed divisor via a precomputed reciprocal: `m = floor((2^64-1)/d)` makes
/// `mulhi(n, m)` either `n/d` or `n/d - 1`, fixed by one compare.
#[derive(Debug, Clone, Copy)]
struct FastDiv {
    d: u64,
    m: u64,
}

impl FastDiv {
    fn new(d: u64) -> Self {
        let d = d.max(1);
        FastDiv { d, m: u64::MAX / d }
    }

    #[inline(always)]
    fn divmod(self, n: u64) -> (u64, u64) {
        let mut q = ((n as u128 * self.m as u128) >> 64) as u64;
        let mut r = n - q * self.d;
        if r >= self.d {
            q += 1;
            r -= self.d;
        }
        (q, r)
    }
}

/// How the offset within a segment is found.
#[derive(Debug, Clone)]
enum Kind {
    /// `seg*stride + base + j*xfer`.
    Sequential,
    /// `seg*stride + slots[j]*xfer` (shuffled slot indices of one segment, `u32` when they fit).
    Shuffled32(Vec<u32>),
    /// As `Shuffled32` for segments with more than 2^32 slots.
    Shuffled64(Vec<u64>),
    /// `blocks[seg] + j*xfer` (random block byte offset per segment).
    RandomBlocks(Vec<u64>),
}

/// The file offsets one rank accesses in one phase, in access order (segments outer, transfers
/// inner). Build once per phase with [`OffsetSequence::new`], then call [`OffsetSequence::get`]
/// in the transfer loop.
#[derive(Debug, Clone)]
pub struct OffsetSequence {
    len: u64,
    div: FastDiv,
    seg_stride: u64,
    base: u64,
    xfer: u64,
    block: u64,
    nblocks: u64,
    kind: Kind,
}

impl OffsetSequence {
    /// The offsets of `pretend_rank` for `params` (`-F`, `-z` counter, sizes) and `layout`.
    ///
    /// * `random_offset == 0`: sequential (SPEC §2.3), nothing stored.
    /// * `random_offset == 1`: shuffled, every byte of the file accessed exactly once (§2.4):
    ///   FPP one permutation of the block's transfers reused by every segment; SSF the
    ///   `numTasks*T` slots of a segment are assigned to ranks by a stream seeded with `seed`
    ///   only (same on all ranks), then each rank shuffles its slots; the same slots and order
    ///   are used in every segment.
    /// * `random_offset >= 2`: per segment a random block index in `0..file_size/blockSize`
    ///   (stream seeded by `seed` and `pretend_rank`), its `T` transfers sequential.
    ///   `file_size` is the size of the file this rank accesses (FPP: its own file, not the sum);
    ///   `None` uses the expected size (FPP `blockSize*segmentCount`, SSF
    ///   `blockSize*segmentCount*numTasks`).
    ///
    /// `seed` comes from [`random_seed`] and is ignored for sequential access.
    pub fn new(
        params: &IorParams,
        layout: &TaskLayout,
        pretend_rank: usize,
        seed: u64,
        file_size: Option<u64>,
    ) -> Self {
        let xfer = params.transfer_size.max(0) as u64;
        let block = params.block_size.max(0) as u64;
        let t = block.checked_div(xfer).unwrap_or(0);
        let segs = params.segment_count.max(0) as u64;
        let n = layout.num_tasks.max(1) as u64;
        let pr = pretend_rank as u64;
        let fpp = params.file_per_proc != 0;
        let (seg_stride, base) = if fpp {
            (block, 0)
        } else {
            (n.saturating_mul(block), pr.saturating_mul(block))
        };
        let mut seq = OffsetSequence {
            len: segs.saturating_mul(t),
            div: FastDiv::new(t),
            seg_stride,
            base,
            xfer,
            block,
            nblocks: 0,
            kind: Kind::Sequential,
        };
        if t == 0 || segs == 0 {
            seq.len = 0;
            return seq;
        }
        match params.random_offset {
            r if r <= 0 => {}
            1 => {
                let mut rng = rng_from_seed(seed);
                let slots_per_segment = if fpp { t } else { n.saturating_mul(t) };
                let mut own: Vec<u64> = if fpp {
                    (0..t).collect()
                } else {
                    (0..slots_per_segment)
                        .filter(|_| bounded(&mut rng, n) == pr)
                        .collect()
                };
                shuffle(&mut own, &mut rng);
                let per = own.len() as u64;
                seq.len = segs.saturating_mul(per);
                seq.div = FastDiv::new(per);
                seq.kind = if slots_per_segment <= u32::MAX as u64 + 1 {
                    Kind::Shuffled32(own.into_iter().map(|s| s as u32).collect())
                } else {
                    Kind::Shuffled64(own)
                };
            }
            _ => {
                let size = file_size.unwrap_or(if fpp {
                    block.saturating_mul(segs)
                } else {
                    block.saturating_mul(segs).saturating_mul(n)
                });
                let nblocks = (size / block).max(1);
                let mut rng = rng_from_seed(mix64(seed) ^ pr.wrapping_mul(GOLDEN_GAMMA));
                let blocks = (0..segs)
                    .map(|_| bounded(&mut rng, nblocks) * block)
                    .collect();
                seq.nblocks = nblocks;
                seq.kind = Kind::RandomBlocks(blocks);
            }
        }
        seq
    }

    /// IOR's `-z -z` write detail: segment 0 accesses the last block of the file, so that the
    /// file reaches its full size. IOR does this for writes on every rank with `-F` and on rank 0
    /// only for a shared file. No effect unless the sequence is `-z -z`.
    pub fn with_last_block_first(mut self) -> Self {
        if let Kind::RandomBlocks(blocks) = &mut self.kind {
            if let Some(first) = blocks.first_mut() {
                *first = (self.nblocks - 1) * self.block;
            }
        }
        self
    }

    /// Number of transfers in one pass (segments x transfers of this rank per segment).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the pass has no transfer at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    /// Transfers of this rank in one segment (`blockSize/transferSize`, or its slot count for a
    /// shuffled shared file).
    pub fn transfers_per_segment(&self) -> u64 {
        if self.len == 0 {
            0
        } else {
            self.div.d
        }
    }

    /// File offset of the `i`-th transfer, O(1), no allocation. Meant for `i < len()`; larger `i`
    /// continue sequential and shuffled patterns past `segmentCount` and reuse the blocks of
    /// `-z -z` cyclically (IOR's wear-out continuation wraps at `segmentCount`: pass `i % len()`).
    /// Panics only if called on an empty sequence whose pattern stores offsets.
    #[inline(always)]
    pub fn get(&self, i: u64) -> u64 {
        self.at(self.position(i))
    }

    /// The position (segment, transfer within it) of the `i`-th transfer: the cursor that
    /// [`OffsetSequence::at`] and [`OffsetSequence::advance`] walk without a division.
    #[inline(always)]
    pub fn position(&self, i: u64) -> (u64, u64) {
        self.div.divmod(i)
    }

    /// The position after `pos`: `position(i + 1)` for `pos == position(i)`, by one increment
    /// and one compare (the serial loop's offsets without a division per transfer).
    #[inline(always)]
    pub fn advance(&self, pos: (u64, u64)) -> (u64, u64) {
        let (seg, j) = (pos.0, pos.1 + 1);
        if j == self.div.d {
            (seg + 1, 0)
        } else {
            (seg, j)
        }
    }

    /// File offset of the transfer at position `(seg, j)` (as [`OffsetSequence::get`]).
    #[inline(always)]
    pub fn at(&self, (seg, j): (u64, u64)) -> u64 {
        match &self.kind {
            Kind::Sequential => seg * self.seg_stride + self.base + j * self.xfer,
            Kind::Shuffled32(slots) => seg * self.seg_stride + slots[j as usize] as u64 * self.xfer,
            Kind::Shuffled64(slots) => seg * self.seg_stride + slots[j as usize] * self.xfer,
            Kind::RandomBlocks(blocks) => {
                let s = seg as usize;
                let start = match blocks.get(s) {
                    Some(&b) => b,
                    None => blocks[s % blocks.len()],
                };
                start + j * self.xfer
            }
        }
    }

    #[cfg(test)]
    /// All offsets of one pass, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(move |i| self.get(i))
    }
}

/// The file names of `-o` (`a@b@c`, also split at newlines; empty parts dropped as by `strtok`).
/// More than one name together with `-u` is an error in IOR ("cannot use multiple file names
/// with unique directories"); the validator can check that with this list.
pub fn test_file_names(params: &IorParams) -> Vec<String> {
    let names: Vec<String> = params
        .test_file_name
        .split(['@', '\n'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        vec![params.test_file_name.clone()]
    } else {
        names
    }
}

/// The root name a pretend rank uses: FPP `names[pretendRank % n]`, SSF the first.
fn root_name(params: &IorParams, pretend_rank: usize) -> String {
    let mut names = test_file_names(params);
    let idx = if params.file_per_proc != 0 {
        pretend_rank % names.len()
    } else {
        0
    };
    names.swap_remove(idx)
}

/// Split `root` into (unique directory of `pretend_rank`, file part) as `-u` does.
fn split_unique(root: &str, pretend_rank: usize) -> (String, String) {
    match root.rfind('/') {
        Some(i) => (
            format!("{}/{}", &root[..i], pretend_rank),
            root[i + 1..].to_string(),
        ),
        None => (pretend_rank.to_string(), root.to_string()),
    }
}

/// The file a pretend rank accesses in repetition `rep` (SPEC §2.9).
///
/// SSF: `<testFile>`; FPP: `<testFile>.%08d` of `pretend_rank`; FPP with `-u`:
/// `<dirname>/<pretendRank>/<basename>.%08d`; `-m` appends `.<rep>`; `a@b@c`: FPP uses
/// `names[pretendRank % 3]`, SSF the first. Example: `-F -u -m -o /x/uq/file`, pretend rank 1,
/// rep 0 → `/x/uq/1/file.00000001.0`. For removal with `-Z` pass the real rank.
pub fn file_name(params: &IorParams, pretend_rank: usize, rep: usize) -> String {
    let mut name = base_file_name(params, pretend_rank);
    if params.multi_file != 0 {
        name.push('.');
        name.push_str(&rep.to_string());
    }
    name
}

/// The file name outside the repetitions, without `-m`'s `.<rep>` (IOR's `repCounter` is -1
/// there): what the `Path` line shows and where the "exists already" check looks
/// (`fid_multifile_m.txt`). With `-m` no repetition accesses this file itself.
pub fn base_file_name(params: &IorParams, pretend_rank: usize) -> String {
    let root = root_name(params, pretend_rank);
    if params.file_per_proc != 0 {
        let root = if params.unique_dir != 0 {
            let (dir, file) = split_unique(&root, pretend_rank);
            format!("{dir}/{file}")
        } else {
            root
        };
        format!("{root}.{pretend_rank:08}")
    } else {
        root
    }
}

/// The directory `-u` needs for `pretend_rank` (to be created before opening), `None` without
/// `-u` or without `-F` (IOR ignores `-u` for a shared file). `-o /x/uq/file` → `/x/uq/<pr>`.
pub fn unique_dir(params: &IorParams, pretend_rank: usize) -> Option<String> {
    if params.file_per_proc == 0 || params.unique_dir == 0 {
        return None;
    }
    let root = root_name(params, pretend_rank);
    Some(split_unique(&root, pretend_rank).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const MI: u64 = 1 << 20;

    fn params(b: i64, t: i64, s: i64) -> IorParams {
        IorParams {
            block_size: b,
            transfer_size: t,
            segment_count: s,
            ..IorParams::default()
        }
    }

    fn one_node(n: usize) -> TaskLayout {
        TaskLayout {
            num_tasks: n,
            num_nodes: 1,
            tasks_on_node0: n,
            block_mapping: n > 1,
        }
    }

    fn nodes(n: usize, per_node: usize, block_mapping: bool) -> TaskLayout {
        TaskLayout {
            num_tasks: n,
            num_nodes: n.div_ceil(per_node),
            tasks_on_node0: per_node,
            block_mapping,
        }
    }

    fn offsets(p: &IorParams, l: &TaskLayout, pr: usize, seed: u64, fs: Option<u64>) -> Vec<u64> {
        OffsetSequence::new(p, l, pr, seed, fs).iter().collect()
    }

    #[test]
    fn spec_verified_example_sequential() {
        let mut p = params(2 << 20, 1 << 20, 2);
        let l = one_node(2);
        assert_eq!(offsets(&p, &l, 0, 0, None), vec![0, MI, 4 * MI, 5 * MI]);
        assert_eq!(
            offsets(&p, &l, 1, 0, None),
            vec![2 * MI, 3 * MI, 6 * MI, 7 * MI]
        );
        p.file_per_proc = 1;
        for r in 0..2 {
            assert_eq!(offsets(&p, &l, r, 0, None), vec![0, MI, 2 * MI, 3 * MI]);
        }
    }

    #[test]
    fn sequential_matches_nested_loops() {
        for &(b, t, s, n) in &[(24, 8, 3, 3), (40, 8, 5, 7), (8, 8, 4, 2), (56, 8, 1, 1)] {
            for fpp in [0, 1] {
                let mut p = params(b, t, s);
                p.file_per_proc = fpp;
                let l = one_node(n);
                for pr in 0..n {
                    let mut want = Vec::new();
                    for i in 0..s as u64 {
                        for j in 0..(b / t) as u64 {
                            want.push(if fpp == 1 {
                                i * b as u64 + j * t as u64
                            } else {
                                i * n as u64 * b as u64 + pr as u64 * b as u64 + j * t as u64
                            });
                        }
                    }
                    let seq = OffsetSequence::new(&p, &l, pr, 99, None);
                    assert_eq!(seq.len(), want.len() as u64);
                    assert_eq!(seq.iter().collect::<Vec<_>>(), want);
                    assert_eq!(seq.transfers_per_segment(), (b / t) as u64);
                }
            }
        }
    }

    #[test]
    fn advancing_a_position_walks_the_same_offsets_as_get() {
        for random in [0, 1, 2] {
            for &(b, t, s, n) in &[(24, 8, 3, 3), (8, 8, 4, 2), (64, 8, 5, 1)] {
                let mut p = params(b, t, s);
                p.random_offset = random;
                let l = one_node(n);
                let seq = OffsetSequence::new(&p, &l, n - 1, 7, None);
                // Two passes: past `len` (the wear-out continuation) as well.
                let mut pos = seq.position(0);
                for i in 0..2 * seq.len() {
                    assert_eq!(pos, seq.position(i), "random {random}, transfer {i}");
                    assert_eq!(seq.at(pos), seq.get(i));
                    pos = seq.advance(pos);
                }
            }
        }
    }

    #[test]
    fn empty_sequences() {
        let l = one_node(2);
        assert!(OffsetSequence::new(&params(16, 8, 0), &l, 0, 0, None).is_empty());
        assert!(OffsetSequence::new(&params(16, 0, 2), &l, 0, 0, None).is_empty());
        let mut p = params(16, 8, 0);
        p.random_offset = 2;
        assert_eq!(OffsetSequence::new(&p, &l, 1, 3, None).len(), 0);
    }

    #[test]
    fn fast_div_matches_hardware_division() {
        let mut rng = rng_from_seed(7);
        let divisors = [
            1u64,
            2,
            3,
            5,
            7,
            10,
            255,
            256,
            1000,
            4096,
            65_537,
            1 << 33,
            u64::MAX / 3,
            u64::MAX,
        ];
        for &d in &divisors {
            let f = FastDiv::new(d);
            let mut ns = vec![
                0,
                1,
                d - 1,
                d,
                d.wrapping_add(1),
                u64::MAX,
                u64::MAX - 1,
                u64::MAX / 2,
            ];
            ns.extend((0..2000).map(|_| rng.next_u64()));
            ns.extend((0..2000).map(|_| rng.next_u64() % 1_000_000));
            for n in ns {
                assert_eq!(f.divmod(n), (n / d, n % d), "n={n} d={d}");
            }
        }
        for _ in 0..20_000 {
            let d = (rng.next_u64() >> (rng.next_u64() % 64)).max(1);
            let n = rng.next_u64() >> (rng.next_u64() % 64);
            assert_eq!(FastDiv::new(d).divmod(n), (n / d, n % d), "n={n} d={d}");
        }
    }

    /// Every transfer slot of the file(s), each exactly once, over all ranks.
    fn assert_exact_cover(p: &IorParams, l: &TaskLayout, seed_of: impl Fn(usize) -> u64) {
        let n = l.num_tasks;
        let (b, t, s) = (
            p.block_size as u64,
            p.transfer_size as u64,
            p.segment_count as u64,
        );
        let mut hits: BTreeMap<(usize, u64), u32> = BTreeMap::new();
        for pr in 0..n {
            let file = if p.file_per_proc != 0 { pr } else { 0 };
            let seq = OffsetSequence::new(p, l, pr, seed_of(pr), None);
            for off in seq.iter() {
                assert_eq!(off % t, 0);
                *hits.entry((file, off)).or_default() += 1;
            }
        }
        let files = if p.file_per_proc != 0 { n } else { 1 };
        let per_file = if p.file_per_proc != 0 {
            b * s
        } else {
            b * s * n as u64
        };
        let mut want = BTreeMap::new();
        for f in 0..files {
            for off in (0..per_file).step_by(t as usize) {
                want.insert((f, off), 1u32);
            }
        }
        assert_eq!(hits, want);
    }

    #[test]
    fn shuffled_covers_every_slot_exactly_once() {
        for &(n, b, t, s) in &[
            (2usize, 64i64, 8i64, 3i64),
            (4, 80, 8, 5),
            (3, 16, 8, 4),
            (1, 64, 8, 2),
        ] {
            for fpp in [0, 1] {
                for base_seed in [0u64, 1, 1_700_000_000] {
                    let mut p = params(b, t, s);
                    p.random_offset = 1;
                    p.file_per_proc = fpp;
                    p.random_offset_seed = base_seed as i64;
                    let l = one_node(n);
                    assert_exact_cover(&p, &l, |pr| random_seed(&p, pr, 0));
                }
            }
        }
    }

    #[test]
    fn shuffled_fpp_same_permutation_every_segment_and_not_sorted() {
        let mut p = params(64 * 8, 8, 4);
        p.random_offset = 1;
        p.file_per_proc = 1;
        let l = one_node(2);
        let mut any_unsorted = false;
        for seed in 0..5 {
            let v = offsets(&p, &l, 0, seed, None);
            let t = 64;
            for seg in 0..4 {
                for j in 0..t {
                    assert_eq!(v[seg * t + j] - seg as u64 * 512, v[j]);
                }
            }
            let first: Vec<u64> = v[..t].to_vec();
            let mut sorted = first.clone();
            sorted.sort_unstable();
            any_unsorted |= sorted != first;
            assert_eq!(sorted, (0..t as u64).map(|x| x * 8).collect::<Vec<_>>());
        }
        assert!(any_unsorted);
    }

    #[test]
    fn shuffled_ssf_is_deterministic_and_stays_in_segment() {
        let mut p = params(8 * 16, 8, 3);
        p.random_offset = 1;
        let l = one_node(4);
        let seg = 4 * 8 * 16;
        for pr in 0..4 {
            let a = OffsetSequence::new(&p, &l, pr, 42, None);
            let b = OffsetSequence::new(&p, &l, pr, 42, None);
            assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
            let per = a.transfers_per_segment();
            assert_eq!(a.len(), 3 * per);
            for (i, off) in a.iter().enumerate() {
                assert_eq!(
                    off / seg,
                    i as u64 / per,
                    "offset {off} outside its segment"
                );
            }
        }
        let a: Vec<u64> = offsets(&p, &l, 0, 42, None);
        let c: Vec<u64> = offsets(&p, &l, 0, 43, None);
        assert_ne!(
            a, c,
            "different seeds should give different slot assignments"
        );
    }

    #[test]
    fn random_blocks_aligned_sequential_and_within_size() {
        for fpp in [0, 1] {
            let n = 3;
            let (b, t, s) = (64i64, 8i64, 50i64);
            let mut p = params(b, t, s);
            p.random_offset = 2;
            p.file_per_proc = fpp;
            let l = one_node(n);
            let expected = if fpp == 1 {
                (b * s) as u64
            } else {
                (b * s) as u64 * n as u64
            };
            for (fs, size) in [
                (None, expected),
                (Some(640u64), 640),
                (Some(100), 64),
                (Some(10), 64),
            ] {
                for pr in 0..n {
                    let seq = OffsetSequence::new(&p, &l, pr, 1234, fs);
                    assert_eq!(seq.len(), (s * b / t) as u64);
                    let v: Vec<u64> = seq.iter().collect();
                    let mut blocks = BTreeSet::new();
                    for chunk in v.chunks((b / t) as usize) {
                        assert_eq!(chunk[0] % b as u64, 0);
                        blocks.insert(chunk[0]);
                        for (j, off) in chunk.iter().enumerate() {
                            assert_eq!(*off, chunk[0] + j as u64 * t as u64);
                            assert!(off + t as u64 <= size, "offset {off} beyond {size}");
                        }
                    }
                    if size / b as u64 > 4 {
                        assert!(
                            blocks.len() > 1,
                            "50 random segments should hit several blocks"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn random_blocks_depend_on_rank_and_seed_and_last_block_first() {
        let mut p = params(64, 8, 20);
        p.random_offset = 2;
        let l = one_node(2);
        let a = offsets(&p, &l, 0, 0, None);
        let b = offsets(&p, &l, 1, 0, None);
        assert_ne!(a, b, "seed 0 must not give identical streams on all ranks");
        assert_eq!(a, offsets(&p, &l, 0, 0, None));
        assert_ne!(a, offsets(&p, &l, 0, 1, None));
        let seq = OffsetSequence::new(&p, &l, 0, 0, None).with_last_block_first();
        assert_eq!(seq.get(0), 64 * 20 * 2 - 64);
        assert_eq!(seq.get(7), 64 * 20 * 2 - 8);
        assert_eq!(seq.get(8), a[8]);
        // Beyond len(): blocks are reused cyclically.
        let plain = OffsetSequence::new(&p, &l, 0, 0, None);
        assert_eq!(plain.get(plain.len() + 9), a[9]);
        // No effect on other patterns.
        p.random_offset = 0;
        let s = OffsetSequence::new(&p, &l, 1, 0, None).with_last_block_first();
        assert_eq!(s.get(0), 64);
    }

    #[test]
    fn random_seed_rules() {
        let mut p = IorParams::default();
        assert_eq!(random_seed(&p, 3, 1_700_000_000), 1_700_000_000);
        p.file_per_proc = 1;
        assert_eq!(random_seed(&p, 3, 1_700_000_000), 1_700_000_000);
        p.random_offset_seed = 10;
        assert_eq!(random_seed(&p, 3, 99), 13);
        p.file_per_proc = 0;
        assert_eq!(random_seed(&p, 3, 99), 10);
        assert_eq!(random_seed(&p, 0, 99), 10);
    }

    #[test]
    fn writes_never_reorder() {
        let mut p = IorParams {
            reorder_tasks: 1,
            ..IorParams::default()
        };
        let l = nodes(4, 1, true);
        for r in 0..4 {
            assert_eq!(pretend_rank(&p, &l, r, ReorderPhase::Write, 0), r);
        }
        p.reorder_tasks = 0;
        p.reorder_tasks_random = 2;
        for r in 0..4 {
            assert_eq!(pretend_rank(&p, &l, r, ReorderPhase::Write, 3), r);
            assert_eq!(pretend_rank(&p, &l, r, ReorderPhase::WriteCheck, 3), r);
        }
    }

    #[test]
    fn constant_reorder_on_one_node_is_noop() {
        let p = IorParams {
            reorder_tasks: 1,
            ..IorParams::default()
        };
        for n in 1..6 {
            let l = one_node(n);
            for r in 0..n {
                assert_eq!(pretend_rank(&p, &l, r, ReorderPhase::Read, 0), r);
                assert_eq!(pretend_rank(&p, &l, r, ReorderPhase::WriteCheck, 0), r);
            }
        }
    }

    #[test]
    fn constant_reorder_fake_one_task_per_node() {
        // IOR_FAKE_TASK_PER_NODES=1, 2 ranks: task 0 reads .00000001, task 1 reads .00000000.
        let mut p = IorParams {
            reorder_tasks: 1,
            file_per_proc: 1,
            ..IorParams::default()
        };
        for bm in [true, false] {
            let l = nodes(2, 1, bm);
            let pr0 = pretend_rank(&p, &l, 0, ReorderPhase::Read, 0);
            let pr1 = pretend_rank(&p, &l, 1, ReorderPhase::Read, 0);
            assert_eq!((pr0, pr1), (1, 0));
            assert_eq!(file_name(&p, pr0, 0), "testFile.00000001");
            assert_eq!(file_name(&p, pr1, 0), "testFile.00000000");
        }
        // 8 tasks, 2 per node, block mapping: read moves Q nodes, write check Q+1.
        let l = nodes(8, 2, true);
        for q in [1, 2, 3] {
            p.task_per_node_offset = q;
            for r in 0..8 {
                let q = q as usize;
                assert_eq!(
                    pretend_rank(&p, &l, r, ReorderPhase::Read, 0),
                    (r + 2 * q) % 8
                );
                assert_eq!(
                    pretend_rank(&p, &l, r, ReorderPhase::WriteCheck, 0),
                    (r + 2 * (q + 1)) % 8
                );
            }
        }
        // Cyclic mapping: shift 1.
        let l = nodes(8, 2, false);
        p.task_per_node_offset = 1;
        assert_eq!(pretend_rank(&p, &l, 7, ReorderPhase::Read, 0), 0);
        assert_eq!(pretend_rank(&p, &l, 7, ReorderPhase::WriteCheck, 0), 1);
    }

    #[test]
    fn random_permutation_is_a_permutation() {
        for n in 1..40 {
            for x in [0, 5, -3] {
                for rep in 0..3 {
                    let p = IorParams {
                        reorder_tasks_random: 2,
                        reorder_tasks_random_seed: x,
                        ..IorParams::default()
                    };
                    let l = one_node(n);
                    let mut got: Vec<usize> = (0..n)
                        .map(|r| pretend_rank(&p, &l, r, ReorderPhase::Read, rep))
                        .collect();
                    got.sort_unstable();
                    assert_eq!(got, (0..n).collect::<Vec<_>>());
                }
            }
        }
        // X >= 0: same every repetition; X < 0: seed -X + rep changes with rep.
        let l = one_node(16);
        let run = |x: i32, rep: usize| -> Vec<usize> {
            let p = IorParams {
                reorder_tasks_random: 2,
                reorder_tasks_random_seed: x,
                ..IorParams::default()
            };
            (0..16)
                .map(|r| pretend_rank(&p, &l, r, ReorderPhase::Read, rep))
                .collect()
        };
        assert_eq!(run(4, 0), run(4, 1));
        assert_ne!(run(-4, 0), run(-4, 1));
        assert_eq!(run(-4, 1), run(5, 0));
        assert_ne!(run(4, 0), (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn random_task_offset_respects_minimum() {
        // 8 tasks, 2 per node (4 nodes). Q=2 -> min(2, 3)*2 = 4; Q=10 -> min(10, 3)*2 = 6.
        for (q, min) in [(2, 4usize), (10, 6), (0, 0), (1, 2)] {
            let mut seen = BTreeSet::new();
            for rep in 0..20 {
                let p = IorParams {
                    reorder_tasks_random: 1,
                    reorder_tasks_random_seed: -7,
                    task_per_node_offset: q,
                    ..IorParams::default()
                };
                let l = nodes(8, 2, true);
                for r in 0..8 {
                    let pr = pretend_rank(&p, &l, r, ReorderPhase::Read, rep);
                    let off = (pr + 8 - r) % 8;
                    assert!(off >= min, "rankOffset {off} < {min}");
                    seen.insert(off);
                }
            }
            assert_eq!(seen, (min..8).collect::<BTreeSet<_>>(), "q={q}");
        }
        // One node: numNodes-1 = 0, any offset allowed; minimum >= numTasks must not hang.
        let p = IorParams {
            reorder_tasks_random: 1,
            task_per_node_offset: 1,
            ..IorParams::default()
        };
        let l = TaskLayout {
            num_tasks: 4,
            num_nodes: 3,
            tasks_on_node0: 2,
            block_mapping: true,
        };
        for r in 0..4 {
            assert!(pretend_rank(&p, &l, r, ReorderPhase::Read, 0) < 4);
        }
        let uneven = IorParams {
            task_per_node_offset: 5,
            ..p.clone()
        };
        for r in 0..4 {
            assert_eq!(
                pretend_rank(&uneven, &l, r, ReorderPhase::Read, 0),
                (r + 3) % 4
            );
        }
        // Deterministic per (rank, seed).
        let l = nodes(8, 2, true);
        let a: Vec<usize> = (0..8)
            .map(|r| pretend_rank(&p, &l, r, ReorderPhase::Read, 0))
            .collect();
        let b: Vec<usize> = (0..8)
            .map(|r| pretend_rank(&p, &l, r, ReorderPhase::Read, 0))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn file_hits_distribution_counts_readers_per_file() {
        let l = one_node(6);
        let perm = IorParams {
            reorder_tasks_random: 2,
            ..IorParams::default()
        };
        assert_eq!(file_hits_distribution(&perm, &l, 0), vec![0, 6]);
        let none = IorParams::default();
        assert_eq!(file_hits_distribution(&none, &l, 0), vec![0, 6]);
        // -Z once: compare with a direct count of the pretend ranks.
        let z = IorParams {
            reorder_tasks_random: 1,
            reorder_tasks_random_seed: 3,
            ..IorParams::default()
        };
        let l = one_node(16);
        let got = file_hits_distribution(&z, &l, 0);
        let mut readers = [0usize; 16];
        for r in 0..16 {
            readers[pretend_rank(&z, &l, r, ReorderPhase::Read, 0)] += 1;
        }
        assert_eq!(got.iter().sum::<usize>(), 16, "every file counted once");
        let weighted: usize = got.iter().enumerate().map(|(k, h)| k * h).sum();
        assert_eq!(weighted, 16, "every reader counted once");
        for (k, h) in got.iter().enumerate() {
            assert_eq!(*h, readers.iter().filter(|&&c| c == k).count());
        }
        assert!(
            got[0] > 0,
            "-Z once with 16 tasks is not a permutation for this seed"
        );
    }

    #[test]
    fn file_naming_spec_example() {
        let p = IorParams {
            file_per_proc: 1,
            unique_dir: 1,
            multi_file: 1,
            repetitions: 2,
            test_file_name: "/x/uq/file".to_string(),
            ..IorParams::default()
        };
        assert_eq!(file_name(&p, 0, 0), "/x/uq/0/file.00000000.0");
        assert_eq!(file_name(&p, 0, 1), "/x/uq/0/file.00000000.1");
        assert_eq!(file_name(&p, 1, 0), "/x/uq/1/file.00000001.0");
        assert_eq!(file_name(&p, 1, 1), "/x/uq/1/file.00000001.1");
        assert_eq!(unique_dir(&p, 1).as_deref(), Some("/x/uq/1"));
        assert_eq!(
            file_name(&p, 123_456_789, 0),
            "/x/uq/123456789/file.123456789.0"
        );
    }

    #[test]
    fn file_naming_variants() {
        let mut p = IorParams::default();
        assert_eq!(file_name(&p, 5, 3), "testFile");
        assert_eq!(unique_dir(&p, 5), None);
        p.multi_file = 1;
        assert_eq!(file_name(&p, 5, 3), "testFile.3");
        p.multi_file = 0;
        p.file_per_proc = 1;
        assert_eq!(file_name(&p, 5, 3), "testFile.00000005");
        assert_eq!(unique_dir(&p, 5), None);
        p.unique_dir = 1;
        assert_eq!(file_name(&p, 5, 0), "5/testFile.00000005");
        assert_eq!(unique_dir(&p, 5).as_deref(), Some("5"));
        p.test_file_name = "/file".to_string();
        assert_eq!(file_name(&p, 2, 0), "/2/file.00000002");
        assert_eq!(unique_dir(&p, 2).as_deref(), Some("/2"));
        p.unique_dir = 0;
        p.test_file_name = "/a/x@/b/y@/c/z".to_string();
        assert_eq!(test_file_names(&p), vec!["/a/x", "/b/y", "/c/z"]);
        assert_eq!(file_name(&p, 0, 0), "/a/x.00000000");
        assert_eq!(file_name(&p, 1, 0), "/b/y.00000001");
        assert_eq!(file_name(&p, 4, 0), "/b/y.00000004");
        p.file_per_proc = 0;
        assert_eq!(file_name(&p, 4, 0), "/a/x");
        // -u is ignored for a shared file (IOR only prepends the directory with -F).
        p.unique_dir = 1;
        p.test_file_name = "/d/f".to_string();
        assert_eq!(file_name(&p, 1, 0), "/d/f");
        assert_eq!(unique_dir(&p, 1), None);
    }
}
