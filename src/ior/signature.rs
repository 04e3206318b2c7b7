//! Data signatures of IOR's transfer buffers (`-l`, `-G`, SPEC §2.8): the base fill once per
//! repetition, the per-transfer update before each write, the verification of a read buffer and
//! the invalidation before a checked read.
//!
//! This module only transforms byte slices: no I/O, no allocation, no error reporting (the
//! engine counts bad transfers and prints IOR's warnings). It must not decide offsets or pretend
//! ranks (that is [`crate::ior::access`]).
//!
//! # Layout (bit-compatible with IOR for `timestamp` and `offset`)
//! The buffer is viewed as little-endian `u64` words `w[i]`, `i < len/8`; `pr` is the pretend
//! rank, `sig` the signature (`-G` value or rank 0's `time(NULL)` of the repetition), `off` the
//! file offset of the transfer.
//! * timestamp: `w[i] = (pr << 32) | (sig + i)`, where, exactly as IOR's C code, `sig` is passed
//!   as a C `int` and added to the `size_t` index: `sig` is sign-extended to 64 bits before the
//!   add. For `sig < 2^31` (every time stamp before 2038, every positive `-G`) this is the plain
//!   32-bit value `sig + i`; for a negative `-G` the high word becomes all ones, as in IOR.
//! * offset: the timestamp words, and before each write the first word of every 4 KiB
//!   (`i = 0, 512, 1024, ...`, `k = 1, 2, 3, ...`) becomes `(u32)((u32)off * k) | (pr << 32)`.
//! * trailing `len % 8` bytes: byte `j` of the buffer (its absolute index) is `j as u8`.
//!
//! Files written by real IOR with a fixed `-G` and `-l timestamp`/`offset` verify here and files
//! written here verify in IOR.
//!
//! # Deliberate differences from IOR
//! * **incompressible** (`-l i`): IOR re-seeds `rand_r` for every word, so every word is the same
//!   and the data compresses about 400:1. Here the base fill is a real pseudo-random stream
//!   (SplitMix64 over the word index, keyed by `sig` and `pr`), and every transfer is stamped like
//!   IOR's offset update (first word of every 4 KiB = `(u32)(off*k) | pr << 32`) so no two 4 KiB
//!   blocks of a file are identical. Not bit-compatible with IOR's incompressible files. The
//!   non-stamped words repeat from one transfer to the next (only the stamps change), so a
//!   compressor whose window spans two transfers could find those repeats; within one transfer
//!   the data is incompressible.
//! * **random** (`-l r`): IOR seeds the write with the `-G` value (0 when not given) but verifies
//!   with the time based signature, so `-l random` without `-G` always fails verification. Here
//!   both write and verify use `g_value` if it is non-zero, else `sig`. With `-G` the words are
//!   IOR's (`s = G + pr + off`, `x = rand_r(&s)`, then per word `x *= 0x9e37fffffffc0001;
//!   x >>= 3`, with glibc's `rand_r` algorithm), so `-l random -G N` files are compatible.

use crate::ior::params::DataPacketType;
use crate::prng::rand_r;

/// Words between two offset stamps (4 KiB).
const STAMP_STRIDE_WORDS: usize = 512;
/// Bytes between two offset stamps.
const STAMP_STRIDE_BYTES: usize = STAMP_STRIDE_WORDS * 8;
/// IOR's `RANDALGO_GOLDEN_RATIO_PRIME` of the random pattern.
const RANDOM_PATTERN_PRIME: u64 = 0x9e37_ffff_fffc_0001;
/// SplitMix64 increment.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
fn load(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_le_bytes(a)
}

#[inline(always)]
fn store(c: &mut [u8], w: u64) {
    c.copy_from_slice(&w.to_le_bytes());
}

/// `sig` as IOR adds it to a `size_t`: C `int`, sign-extended.
#[inline(always)]
fn sig_ext(sig: u32) -> u64 {
    sig as i32 as i64 as u64
}

/// Timestamp word `i`.
#[inline(always)]
fn timestamp_word(pr_hi: u64, sig: u64, i: u64) -> u64 {
    pr_hi | sig.wrapping_add(i)
}

/// Offset stamp number `k` (1-based).
#[inline(always)]
fn stamp_word(pr_hi: u64, offset: u64, k: u32) -> u64 {
    (offset as u32).wrapping_mul(k) as u64 | pr_hi
}

/// SplitMix64 output function.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Key of the incompressible stream of `(sig, pr)`.
#[inline(always)]
fn incompressible_key(sig: u32, pr: u32) -> u64 {
    mix64(((pr as u64) << 32 | sig as u64) ^ 0x243f_6a88_85a3_08d3)
}

/// Word `i` of the incompressible stream (SplitMix64 at position `i`).
#[inline(always)]
fn incompressible_word(key: u64, i: u64) -> u64 {
    mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)))
}

/// First state of the random pattern of one transfer (`rand_r(G + pr + off)`, C `unsigned`).
#[inline]
fn random_start(sig: u32, g_value: i32, pr: u32, offset: u64) -> u64 {
    let base = if g_value != 0 { g_value as u32 } else { sig };
    let mut s = base.wrapping_add(pr).wrapping_add(offset as u32);
    rand_r(&mut s) as u64
}

/// The trailing `len % 8` bytes: absolute byte index as `u8`.
fn fill_trailing(buf: &mut [u8]) {
    let start = buf.len() / 8 * 8;
    for (j, b) in buf.iter_mut().enumerate().skip(start) {
        *b = j as u8;
    }
}

/// Base fill of a transfer buffer, once per repetition (IOR's `generate_memory_pattern`).
///
/// timestamp/offset: the timestamp words; incompressible: our PRNG stream of `(sig, pr)`;
/// random: words untouched (every write overwrites them). The trailing `len % 8` bytes are set to
/// their index for every type.
pub fn fill_base(buf: &mut [u8], ptype: DataPacketType, sig: u32, pretend_rank: u32) {
    let pr_hi = (pretend_rank as u64) << 32;
    let words = buf.len() / 8 * 8;
    match ptype {
        DataPacketType::Timestamp | DataPacketType::Offset => {
            let s = sig_ext(sig);
            for (i, c) in buf[..words].chunks_exact_mut(8).enumerate() {
                store(c, timestamp_word(pr_hi, s, i as u64));
            }
        }
        DataPacketType::Incompressible => {
            let key = incompressible_key(sig, pretend_rank);
            for (i, c) in buf[..words].chunks_exact_mut(8).enumerate() {
                store(c, incompressible_word(key, i as u64));
            }
        }
        DataPacketType::Random => {}
    }
    fill_trailing(buf);
}

/// Per-transfer update before each write (IOR's `update_write_memory_pattern`).
///
/// Nothing for timestamp or buffers shorter than 8 bytes; offset/incompressible stamp the first
/// word of every 4 KiB with the offset; random regenerates all words from `(g_value or sig) + pr
/// + offset`. `sig` is only used by random when `g_value == 0` (see the module doc).
pub fn update_for_write(
    buf: &mut [u8],
    ptype: DataPacketType,
    sig: u32,
    g_value: i32,
    pretend_rank: u32,
    offset: u64,
) {
    if buf.len() < 8 {
        return;
    }
    let pr_hi = (pretend_rank as u64) << 32;
    let words = buf.len() / 8 * 8;
    match ptype {
        DataPacketType::Timestamp => {}
        DataPacketType::Offset | DataPacketType::Incompressible => {
            for (k, c) in buf[..words].chunks_mut(STAMP_STRIDE_BYTES).enumerate() {
                store(&mut c[..8], stamp_word(pr_hi, offset, k as u32 + 1));
            }
        }
        DataPacketType::Random => {
            let mut x = random_start(sig, g_value, pretend_rank, offset);
            for c in buf[..words].chunks_exact_mut(8) {
                x = x.wrapping_mul(RANDOM_PATTERN_PRIME) >> 3;
                store(c, x);
            }
        }
    }
}

/// XOR-accumulated difference of `words` (whole words, starting at word index `first`) against
/// `expected(i)`; 0 when all match. Written without early exit so it vectorises.
#[inline(always)]
fn diff_words(words: &[u8], first: u64, expected: impl Fn(u64) -> u64) -> u64 {
    words.chunks_exact(8).enumerate().fold(0u64, |acc, (i, c)| {
        acc | (load(c) ^ expected(first + i as u64))
    })
}

/// Difference of a stamped buffer (offset/incompressible): stamp `k` at the start of every
/// 4 KiB chunk, `base(i)` elsewhere.
#[inline(always)]
fn diff_stamped(words: &[u8], pr_hi: u64, offset: u64, base: impl Fn(u64) -> u64 + Copy) -> u64 {
    let mut acc = 0;
    for (k, c) in words.chunks(STAMP_STRIDE_BYTES).enumerate() {
        acc |= load(&c[..8]) ^ stamp_word(pr_hi, offset, k as u32 + 1);
        acc |= diff_words(&c[8..], (k * STAMP_STRIDE_WORDS) as u64 + 1, base);
    }
    acc
}

/// Whether `buf` holds exactly the data written for `(ptype, sig, g_value, pretend_rank,
/// offset)` (IOR's `verify_memory_pattern`, inverted: `true` = correct). Checks every word and
/// every trailing byte; one wrong bit anywhere gives `false`. No allocation.
///
/// As in IOR, the timestamp pattern does not depend on `offset`.
pub fn verify(
    buf: &[u8],
    ptype: DataPacketType,
    sig: u32,
    g_value: i32,
    pretend_rank: u32,
    offset: u64,
) -> bool {
    let pr_hi = (pretend_rank as u64) << 32;
    let n = buf.len() / 8 * 8;
    let words = &buf[..n];
    let diff = match ptype {
        DataPacketType::Timestamp => {
            let s = sig_ext(sig);
            diff_words(words, 0, |i| timestamp_word(pr_hi, s, i))
        }
        DataPacketType::Offset => {
            let s = sig_ext(sig);
            diff_stamped(words, pr_hi, offset, |i| timestamp_word(pr_hi, s, i))
        }
        DataPacketType::Incompressible => {
            let key = incompressible_key(sig, pretend_rank);
            diff_stamped(words, pr_hi, offset, |i| incompressible_word(key, i))
        }
        DataPacketType::Random => {
            let mut x = random_start(sig, g_value, pretend_rank, offset);
            words.chunks_exact(8).fold(0u64, |acc, c| {
                x = x.wrapping_mul(RANDOM_PATTERN_PRIME) >> 3;
                acc | (load(c) ^ x)
            })
        }
    };
    let trailing_ok = buf.iter().enumerate().skip(n).all(|(j, &b)| b == j as u8);
    diff == 0 && trailing_ok
}

#[cfg(test)]
/// Index of the first wrong byte of `buf` (slow; for diagnostics after [`verify`] failed), or
/// `None` if the buffer is correct.
pub fn first_mismatch(
    buf: &[u8],
    ptype: DataPacketType,
    sig: u32,
    g_value: i32,
    pretend_rank: u32,
    offset: u64,
) -> Option<usize> {
    let mut want = buf.to_vec();
    fill_base(&mut want, ptype, sig, pretend_rank);
    update_for_write(&mut want, ptype, sig, g_value, pretend_rank, offset);
    buf.iter().zip(&want).position(|(a, b)| a != b)
}

/// Invert byte 0 before a checked read, so that a read that does not touch the buffer is
/// detected (IOR's `invalidate_buffer_pattern`). No-op on an empty buffer.
pub fn invalidate_for_read(buf: &mut [u8]) {
    if let Some(b) = buf.first_mut() {
        *b = !*b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::access::OffsetSequence;
    use crate::ior::params::{IorParams, TaskLayout};

    const ALL: [DataPacketType; 4] = [
        DataPacketType::Timestamp,
        DataPacketType::Offset,
        DataPacketType::Incompressible,
        DataPacketType::Random,
    ];

    /// A transfer as the engine produces it before a write.
    fn written(len: usize, t: DataPacketType, sig: u32, g: i32, pr: u32, off: u64) -> Vec<u8> {
        let mut b = vec![0u8; len];
        fill_base(&mut b, t, sig, pr);
        update_for_write(&mut b, t, sig, g, pr, off);
        b
    }

    /// Expected IOR file bytes of `-b 8m -t 1m -s 2 -G 1234 -l offset`, SSF, 2 ranks, computed
    /// straight from SPEC §2.3/§2.8 (independently of the code under test).
    fn spec_file_ssf_offset() -> Vec<u8> {
        let (b, t, s, n, g): (u64, u64, u64, u64, u64) = (8 << 20, 1 << 20, 2, 2, 1234);
        let mut file = vec![0u8; (b * s * n) as usize];
        for seg in 0..s {
            for r in 0..n {
                for j in 0..b / t {
                    let off = seg * n * b + r * b + j * t;
                    for w in 0..t / 8 {
                        let val: u64 = if w % 512 == 0 {
                            let k = w / 512 + 1;
                            ((off as u32).wrapping_mul(k as u32) as u64) | (r << 32)
                        } else {
                            (r << 32) | (g + w)
                        };
                        let at = (off + w * 8) as usize;
                        file[at..at + 8].copy_from_slice(&val.to_le_bytes());
                    }
                }
            }
        }
        file
    }

    #[test]
    fn ssf_offset_file_matches_spec_bytes() {
        let params = IorParams {
            block_size: 8 << 20,
            transfer_size: 1 << 20,
            segment_count: 2,
            set_time_stamp_signature: 1234,
            data_packet_type: DataPacketType::Offset,
            ..IorParams::default()
        };
        let layout = TaskLayout {
            num_tasks: 2,
            num_nodes: 1,
            tasks_on_node0: 2,
            block_mapping: true,
        };
        let expected = spec_file_ssf_offset();
        let t = DataPacketType::Offset;
        let mut file = vec![0xAAu8; expected.len()];
        let mut count = 0;
        for rank in 0..2u32 {
            let mut buf = vec![0u8; 1 << 20];
            fill_base(&mut buf, t, 1234, rank);
            let seq = OffsetSequence::new(&params, &layout, rank as usize, 0, None);
            for off in seq.iter() {
                update_for_write(&mut buf, t, 1234, 1234, rank, off);
                file[off as usize..off as usize + buf.len()].copy_from_slice(&buf);
                count += 1;
            }
        }
        assert_eq!(count, 32);
        assert!(
            file == expected,
            "written file differs from the SPEC formulas"
        );
        // Every transfer of the expected file verifies for its writer; a flipped byte fails.
        for rank in 0..2u32 {
            let seq = OffsetSequence::new(&params, &layout, rank as usize, 0, None);
            for (n, off) in seq.iter().enumerate() {
                let at = off as usize;
                let mut xfer = expected[at..at + (1 << 20)].to_vec();
                assert!(verify(&xfer, t, 1234, 1234, rank, off));
                assert!(
                    !verify(&xfer, t, 1234, 1234, 1 - rank, off),
                    "wrong rank accepted"
                );
                assert!(
                    !verify(&xfer, t, 1234, 1234, rank, off + (1 << 20)),
                    "wrong offset"
                );
                assert!(
                    !verify(&xfer, t, 1235, 1235, rank, off),
                    "wrong signature accepted"
                );
                let pos = (n * 37_813 + 4096 * (n % 3)) % xfer.len();
                xfer[pos] ^= 0x10;
                assert!(
                    !verify(&xfer, t, 1234, 1234, rank, off),
                    "flip at {pos} accepted"
                );
            }
        }
    }

    #[test]
    fn timestamp_reference_values_from_c() {
        // Produced by real C (gcc, x86-64) with IOR's expression
        // `((uint64_t) pr) << 32 | rand_seed + i` with `int rand_seed`, `size_t i`, pr = 1.
        let cases: [(u32, u64, u64); 9] = [
            (1234, 0, 0x0000_0001_0000_04d2),
            (1234, 3, 0x0000_0001_0000_04d5),
            (1234, 6, 0x0000_0001_0000_04d8),
            (0xFFFF_FFFB, 0, 0xffff_ffff_ffff_fffb),
            (0xFFFF_FFFB, 3, 0xffff_ffff_ffff_fffe),
            (0xFFFF_FFFB, 6, 0x0000_0001_0000_0001),
            (0x8000_0000, 0, 0xffff_ffff_8000_0000),
            (0x8000_0000, 3, 0xffff_ffff_8000_0003),
            (0x8000_0000, 6, 0xffff_ffff_8000_0006),
        ];
        for (sig, i, want) in cases {
            let mut b = vec![0u8; 64];
            fill_base(&mut b, DataPacketType::Timestamp, sig, 1);
            let i = i as usize;
            assert_eq!(load(&b[i * 8..i * 8 + 8]), want, "sig={sig:#x} i={i}");
            assert!(verify(&b, DataPacketType::Timestamp, sig, 0, 1, 0));
        }
    }

    #[test]
    fn random_pattern_reference_values_from_glibc() {
        // glibc rand_r outputs (two calls) and final states, from a C program.
        for (seed, a, b, st) in [
            (0u32, 1_012_484u32, 1_716_955_679u32, 3_256_818_826u32),
            (1, 476_707_713, 1_186_278_907, 2_516_284_547),
            (1234, 1_584_308_507, 458_515_007, 4_265_552_588),
            (u32::MAX, 1_670_702_726, 99_100_226, 3_997_353_105),
        ] {
            let mut s = seed;
            assert_eq!(rand_r(&mut s), a);
            assert_eq!(rand_r(&mut s), b);
            assert_eq!(s, st);
        }
        // IOR's random words for -G 1234, pr 1, offset 1 MiB (from C with glibc rand_r).
        let b = written(32 + 3, DataPacketType::Random, 999, 1234, 1, 1 << 20);
        let want = [
            0x181e_cc1e_5883_ed1d_u64,
            0x157f_ad41_d481_fda3,
            0x0ec4_0b67_3bbe_bfb4,
            0x1d10_e38d_879d_d7f6,
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(load(&b[i * 8..i * 8 + 8]), *w);
        }
        assert_eq!(&b[32..], &[32, 33, 34]);
        assert!(verify(&b, DataPacketType::Random, 999, 1234, 1, 1 << 20));
        assert!(!verify(&b, DataPacketType::Random, 999, 1234, 1, 2 << 20));
    }

    #[test]
    fn random_pattern_without_g_verifies() {
        // IOR bug: write seeded with 0, verify with the time stamp. Here both use sig.
        let t = DataPacketType::Random;
        let b = written(4096, t, 1_700_000_000, 0, 3, 8192);
        assert!(verify(&b, t, 1_700_000_000, 0, 3, 8192));
        assert!(!verify(&b, t, 1_700_000_001, 0, 3, 8192));
        assert!(!verify(&b, t, 1_700_000_000, 0, 2, 8192));
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        // Two stamps (4 KiB + 512 B of words) and 5 trailing bytes.
        let len = 4096 + 512 + 5;
        for t in ALL {
            let (sig, g, pr, off) = (0x6543_2100, 77, 3, 0x1234_5000);
            let mut b = written(len, t, sig, g, pr, off);
            assert!(
                verify(&b, t, sig, g, pr, off),
                "{t:?} correct buffer rejected"
            );
            assert_eq!(first_mismatch(&b, t, sig, g, pr, off), None);
            for pos in 0..len {
                for bit in [0x01u8, 0x80] {
                    b[pos] ^= bit;
                    assert!(
                        !verify(&b, t, sig, g, pr, off),
                        "{t:?}: flip at {pos} accepted"
                    );
                    b[pos] ^= bit;
                }
            }
            b[len - 2] ^= 0xFF;
            assert_eq!(first_mismatch(&b, t, sig, g, pr, off), Some(len - 2));
            b[len - 2] ^= 0xFF;
            assert!(verify(&b, t, sig, g, pr, off));
        }
    }

    #[test]
    fn trailing_bytes_hold_their_index() {
        for t in ALL {
            let b = written(8 * 3 + 7, t, 5, 0, 0, 0);
            assert_eq!(&b[24..], &[24, 25, 26, 27, 28, 29, 30]);
        }
        // Buffers shorter than a word: only the trailing bytes.
        for t in ALL {
            let mut b = written(5, t, 5, 0, 0, 0);
            assert_eq!(b, vec![0, 1, 2, 3, 4]);
            assert!(verify(&b, t, 5, 0, 0, 0));
            b[4] = 0;
            assert!(!verify(&b, t, 5, 0, 0, 0));
        }
    }

    #[test]
    fn invalidate_detects_untouched_buffer() {
        for t in ALL {
            let mut b = written(1024, t, 42, 42, 1, 4096);
            invalidate_for_read(&mut b);
            assert!(!verify(&b, t, 42, 42, 1, 4096));
            invalidate_for_read(&mut b);
            assert!(verify(&b, t, 42, 42, 1, 4096));
        }
        invalidate_for_read(&mut []);
    }

    #[test]
    fn offset_stamps_every_4k_with_increasing_k() {
        let t = DataPacketType::Offset;
        let off: u64 = 0x1_8000_0000 + 12_345 * 8;
        let b = written(3 * 4096 + 16, t, 1000, 1000, 7, off);
        for k in 0..4u64 {
            let w = load(&b[(k * 4096) as usize..(k * 4096 + 8) as usize]);
            assert_eq!(
                w,
                ((off as u32).wrapping_mul(k as u32 + 1) as u64) | (7 << 32)
            );
        }
        // Between the stamps: timestamp words.
        assert_eq!(load(&b[8..16]), (7u64 << 32) | 1001);
        assert_eq!(load(&b[4104..4112]), (7u64 << 32) | (1000 + 513));
        // The timestamp pattern is independent of the offset (as in IOR), offset is not.
        let ts = written(4096, DataPacketType::Timestamp, 9, 9, 1, 0);
        assert!(verify(&ts, DataPacketType::Timestamp, 9, 9, 1, 1 << 30));
        let of = written(4096, t, 9, 9, 1, 0);
        assert!(!verify(&of, t, 9, 9, 1, 1 << 30));
    }

    /// Shannon entropy of the byte histogram, in bits per byte.
    fn byte_entropy(b: &[u8]) -> f64 {
        let mut h = [0u64; 256];
        for &x in b {
            h[x as usize] += 1;
        }
        let n = b.len() as f64;
        h.iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum()
    }

    #[test]
    fn incompressible_is_really_incompressible() {
        let t = DataPacketType::Incompressible;
        let len = 1 << 20;
        let b = written(len, t, 1_700_000_000, 0, 2, 3 << 20);
        let mut words: Vec<u64> = b.chunks_exact(8).map(load).collect();
        let total = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), total, "repeated 8-byte words");
        let e = byte_entropy(&b);
        assert!(e > 7.99, "entropy {e} bits/byte");
        // No repeated 4-byte sequence at any alignment beyond what chance allows
        // (an LZ compressor needs repeats of >= 3-4 bytes to gain anything).
        let mut quads: Vec<u32> = b
            .windows(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let nq = quads.len();
        quads.sort_unstable();
        quads.dedup();
        // Expected collisions for 2^20 random 32-bit values: about n^2/2^33 = 128.
        assert!(
            nq - quads.len() < 1024,
            "{} repeated 4-byte windows",
            nq - quads.len()
        );
        // Different transfers, ranks and signatures differ.
        let other = written(len, t, 1_700_000_000, 0, 2, 4 << 20);
        assert_ne!(b, other);
        assert!(verify(&other, t, 1_700_000_000, 0, 2, 4 << 20));
        assert!(!verify(&other, t, 1_700_000_000, 0, 2, 3 << 20));
        assert!(!verify(&b, t, 1_700_000_000, 0, 1, 3 << 20));
        assert!(!verify(&b, t, 1_700_000_001, 0, 2, 3 << 20));
        // Every 4 KiB block differs between two transfers of the same rank.
        for (x, y) in b.chunks(4096).zip(other.chunks(4096)) {
            assert_ne!(x, y);
        }
    }

    #[test]
    fn timestamp_pattern_is_independent_of_g_and_update() {
        let t = DataPacketType::Timestamp;
        let mut b = written(4096, t, 77, 0, 0, 0);
        let before = b.clone();
        update_for_write(&mut b, t, 77, 5, 0, 1 << 20);
        assert_eq!(b, before);
        assert_eq!(load(&b[0..8]), 77);
        assert_eq!(load(&b[8..16]), 78);
    }
}
