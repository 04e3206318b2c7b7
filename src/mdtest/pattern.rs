//! mdtest's data pattern of the bytes written to and read from each file (`-w`, `-e`, `-X`,
//! `--verify-write`, `--dataPacketType`, `-G`): the base fill, the per-item update before each
//! write, and the verification of what was read, bit for bit as mdtest 4.1
//! (`generate_memory_pattern`, `update_write_memory_pattern`, `verify_memory_pattern`), so that
//! files written by mdtest verify here and the other way round.
//!
//! The buffer is little-endian `u64` words `w[i]`; `pr` is the pretend rank, `seed` the `-G`
//! value (or rank 0's `time(NULL)`), `item` the item number:
//! * timestamp and offset base: `w[i] = (pr << 32) | (seed + i)` (`seed` sign-extended, as C
//!   adds an `int` to a `size_t`); incompressible base: every word `rand_r(seed + pr)` twice
//!   (high, low); random: no base;
//! * update before a write (not for timestamp, nor below 8 bytes): offset and incompressible
//!   stamp the first word of every 4 KiB (`k = 1, 2, ...`) with `(u32)(item * k) | pr << 32`;
//!   random words are `x = rand_r(seed + pr + item)`, then per word `x *= 0x9e37fffffffc0001;
//!   x >>= 3`;
//! * trailing `len % 8` bytes: byte `j` is `j as u8`.
//!
//! Pure functions on byte slices: no I/O, no allocation.

use crate::ior::params::DataPacketType;
use crate::prng::rand_r;

const STAMP_STRIDE: usize = 512;
const PRIME: u64 = 0x9e37_ffff_fffc_0001;

fn word(buf: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&buf[i * 8..i * 8 + 8]);
    u64::from_le_bytes(a)
}

fn set_word(buf: &mut [u8], i: usize, w: u64) {
    buf[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
}

fn base_word(ptype: DataPacketType, seed: i32, pr: u32, i: usize) -> u64 {
    match ptype {
        DataPacketType::Random => 0,
        DataPacketType::Incompressible => {
            let mut s = (seed as u32).wrapping_add(pr);
            let hi = u64::from(rand_r(&mut s)) << 32;
            hi | u64::from(rand_r(&mut s))
        }
        DataPacketType::Offset | DataPacketType::Timestamp => {
            (u64::from(pr) << 32) | (seed as i64 as u64).wrapping_add(i as u64)
        }
    }
}

fn stamp(item: u64, k: u32, pr: u32) -> u64 {
    u64::from((item as u32).wrapping_mul(k)) | (u64::from(pr) << 32)
}

fn random_state(seed: i32, pr: u32, item: u64) -> u64 {
    let mut s = (seed as u32).wrapping_add(pr).wrapping_add(item as u32);
    u64::from(rand_r(&mut s))
}

/// Fills `buf` with the base pattern of rank `pr` (once per run).
pub fn generate(buf: &mut [u8], seed: i32, pr: u32, ptype: DataPacketType) {
    let words = buf.len() / 8;
    for i in 0..words {
        set_word(buf, i, base_word(ptype, seed, pr, i));
    }
    for (j, b) in buf.iter_mut().enumerate().skip(words * 8) {
        *b = j as u8;
    }
}

/// Stamps the base pattern in `buf` for `item` before it is written.
pub fn update_for_write(buf: &mut [u8], item: u64, seed: i32, pr: u32, ptype: DataPacketType) {
    if ptype == DataPacketType::Timestamp || buf.len() < 8 {
        return;
    }
    let words = buf.len() / 8;
    if ptype == DataPacketType::Random {
        let mut x = random_state(seed, pr, item);
        for i in 0..words {
            x = x.wrapping_mul(PRIME) >> 3;
            set_word(buf, i, x);
        }
        return;
    }
    for (k, i) in (0..words).step_by(STAMP_STRIDE).enumerate() {
        set_word(buf, i, stamp(item, k as u32 + 1, pr));
    }
}

/// Whether `buf` holds what rank `pr` wrote for `item` (all of it is checked, as mdtest does,
/// so that verifying costs the same whether the data is right or not).
pub fn verify(buf: &[u8], item: u64, seed: i32, pr: u32, ptype: DataPacketType) -> bool {
    let words = buf.len() / 8;
    let mut ok = true;
    let mut x = random_state(seed, pr, item);
    let mut k = 1u32;
    for i in 0..words {
        let mut want = match ptype {
            DataPacketType::Random => {
                x = x.wrapping_mul(PRIME) >> 3;
                x
            }
            other => base_word(other, seed, pr, i),
        };
        if i % STAMP_STRIDE == 0
            && ptype != DataPacketType::Timestamp
            && ptype != DataPacketType::Random
        {
            want = stamp(item, k, pr);
            k += 1;
        }
        ok &= word(buf, i) == want;
    }
    for (j, b) in buf.iter().enumerate().skip(words * 8) {
        ok &= *b == j as u8;
    }
    ok
}

/// Changes `buf` so that a read that does not overwrite it cannot verify
/// (`invalidate_buffer_pattern`: the first byte is inverted).
pub fn invalidate(buf: &mut [u8]) {
    if let Some(b) = buf.first_mut() {
        *b = !*b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DataPacketType; 4] = [
        DataPacketType::Timestamp,
        DataPacketType::Offset,
        DataPacketType::Incompressible,
        DataPacketType::Random,
    ];

    fn written(len: usize, item: u64, seed: i32, pr: u32, t: DataPacketType) -> Vec<u8> {
        let mut b = vec![0u8; len];
        generate(&mut b, seed, pr, t);
        update_for_write(&mut b, item, seed, pr, t);
        b
    }

    #[test]
    fn round_trip_and_corruption_detected() {
        for t in ALL {
            for len in [3901usize, 4096, 8192 + 5, 16] {
                let b = written(len, 17, 1_764_000_000, 1, t);
                assert!(verify(&b, 17, 1_764_000_000, 1, t), "{t:?} {len}");
                let mut bad = b.clone();
                bad[len - 1] ^= 1;
                assert!(!verify(&bad, 17, 1_764_000_000, 1, t), "{t:?} {len} tail");
                let mut inv = b.clone();
                invalidate(&mut inv);
                assert!(!verify(&inv, 17, 1_764_000_000, 1, t), "{t:?} {len} first");
                if t != DataPacketType::Timestamp {
                    assert!(!verify(&b, 18, 1_764_000_000, 1, t), "{t:?} other item");
                }
                assert!(!verify(&b, 17, 1_764_000_000, 0, t), "{t:?} other rank");
            }
        }
    }

    #[test]
    fn words_as_mdtest_writes_them() {
        // timestamp: (pr << 32) | (seed + i); trailing bytes are their index.
        let b = written(20, 5, 100, 2, DataPacketType::Timestamp);
        assert_eq!(word(&b, 0), (2u64 << 32) | 100);
        assert_eq!(word(&b, 1), (2u64 << 32) | 101);
        assert_eq!(&b[16..], &[16, 17, 18, 19]);
        // offset: the first word of each 4 KiB is stamped with item * k.
        let o = written(8192, 7, 100, 1, DataPacketType::Offset);
        assert_eq!(word(&o, 0), (1u64 << 32) | 7);
        assert_eq!(word(&o, 512), (1u64 << 32) | 14);
        assert_eq!(word(&o, 1), (1u64 << 32) | 101);
        // a negative -G is sign-extended into the high word.
        let n = written(8, 0, -1, 0, DataPacketType::Timestamp);
        assert_eq!(word(&n, 0), u64::MAX);
        // random: rand_r(seed + pr + item), then x *= prime, x >>= 3.
        let r = written(16, 3, 10, 2, DataPacketType::Random);
        let mut s = 15u32;
        let x0 = u64::from(rand_r(&mut s));
        let w0 = x0.wrapping_mul(PRIME) >> 3;
        assert_eq!(word(&r, 0), w0);
        assert_eq!(word(&r, 1), w0.wrapping_mul(PRIME) >> 3);
    }
}
