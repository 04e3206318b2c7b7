//! Placement of metadata and chunks over the server list.
//!
//! Owns the hash functions (xxh3-64 of the path for metadata, of the 16-byte file id plus the
//! chunk index for chunks) and the choice of server by jump consistent hashing (Lamping and
//! Veach): no table, perfectly balanced in expectation, and when a server joins at the end
//! of the list only about 1/(N+1) of the keys move. A virtual-node ring and rendezvous
//! hashing are kept here too, only so that the placement simulation can measure them side by
//! side. Placement depends only on the ordered server list, which every client reads from the
//! registry in the same order. Must not do I/O.

use super::wire::FileId;
use xxhash_rust::xxh3::xxh3_64;

/// Hash of a normalised path (selects its metadata server).
pub fn hash_path(path: &str) -> u64 {
    xxh3_64(path.as_bytes())
}

/// Hash of chunk `index` of file `id` (selects the server holding that chunk).
pub fn hash_chunk(id: FileId, index: u64) -> u64 {
    let mut b = [0u8; 24];
    b[..16].copy_from_slice(&id.to_bytes());
    b[16..].copy_from_slice(&index.to_le_bytes());
    xxh3_64(&b)
}

/// Jump consistent hash: the bucket in `0..n` for `key` (`n` must be at least 1).
pub fn jump(mut key: u64, n: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < n as i64 {
        b = j;
        key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as u32
}

#[cfg(test)]
/// Rendezvous (highest random weight) hashing over `n` servers; O(n) per key. Measurement only.
pub fn rendezvous(key: u64, n: u32) -> u32 {
    let mut best = 0u32;
    let mut best_w = 0u64;
    for s in 0..n {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&key.to_le_bytes());
        b[8..].copy_from_slice(&s.to_le_bytes());
        let w = xxh3_64(&b);
        if s == 0 || w > best_w {
            best = s;
            best_w = w;
        }
    }
    best
}

#[cfg(test)]
/// A consistent-hash ring with virtual nodes. Measurement only.
pub struct VnodeRing {
    points: Vec<(u64, u32)>,
}

#[cfg(test)]
impl VnodeRing {
    /// A ring of `n` servers with `vnodes` points each.
    pub fn new(n: u32, vnodes: u32) -> Self {
        let mut points = Vec::with_capacity(n as usize * vnodes as usize);
        for s in 0..n {
            for v in 0..vnodes {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&s.to_le_bytes());
                b[4..].copy_from_slice(&v.to_le_bytes());
                points.push((xxh3_64(&b), s));
            }
        }
        points.sort_unstable();
        VnodeRing { points }
    }

    /// The server owning `key`: the first point at or after it, wrapping around.
    pub fn lookup(&self, key: u64) -> u32 {
        let i = self.points.partition_point(|p| p.0 < key);
        self.points
            .get(i)
            .or_else(|| self.points.first())
            .map_or(0, |p| p.1)
    }
}

/// Placement over a fixed, ordered list of `n` servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    servers: u32,
}

impl Placement {
    /// Placement over `servers` servers (at least 1).
    pub fn new(servers: usize) -> Self {
        Placement {
            servers: servers.clamp(1, u32::MAX as usize) as u32,
        }
    }

    /// Number of servers.
    pub fn servers(&self) -> usize {
        self.servers as usize
    }

    /// The server holding the metadata of `path`.
    pub fn meta_server(&self, path: &str) -> usize {
        jump(hash_path(path), self.servers) as usize
    }

    /// The server holding chunk `index` of file `id`.
    pub fn chunk_server(&self, id: FileId, index: u64) -> usize {
        jump(hash_chunk(id, index), self.servers) as usize
    }
}

#[cfg(test)]
/// Balance figures of one placement scheme for one cluster size.
#[derive(Debug, Clone, Copy)]
pub struct BalanceFigures {
    /// Chunks placed.
    pub chunks: u64,
    /// Most chunks on one server divided by the mean.
    pub max_over_mean: f64,
    /// Fewest chunks on one server divided by the mean.
    pub min_over_mean: f64,
    /// Fraction of chunks that moved when one server joined.
    pub moved_on_join: f64,
}

#[cfg(test)]
/// The expected load of the most loaded of `n` servers when `chunks` chunks are placed
/// independently and uniformly at random: the best a placement that decides each chunk by a
/// hash alone (no table, no coordination between clients) can expect, since a perfect hash
/// does exactly that. Balls into bins: `E[max] = ceil(mean) + sum over x >= ceil(mean) of
/// P(max > x)`, with `P(max > x) = 1 - F(x)^n` for `F` the Binomial(chunks, 1/n) CDF (the
/// loads taken as independent, which overstates the maximum very slightly).
pub fn expected_max_uniform(n: u32, chunks: u64) -> f64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    if n <= 1 || chunks == 0 {
        return chunks as f64;
    }
    let Ok(b) = Binomial::new(1.0 / n as f64, chunks) else {
        return chunks as f64;
    };
    let start = chunks.div_ceil(n as u64);
    let mut sum = start as f64;
    for x in start..chunks {
        // P(max > x) from the survival function, precise where 1 - F(x) is tiny.
        let tail = -(n as f64 * (-b.sf(x)).ln_1p()).exp_m1();
        sum += tail;
        if tail < 1e-9 {
            break;
        }
    }
    sum
}

#[cfg(test)]
/// Simulates placing `chunks` chunks (of 64 files) over `n` then `n + 1` servers with
/// `place(key, servers)`, and reports balance and movement.
pub fn simulate(n: u32, chunks: u64, place: &dyn Fn(u64, u32) -> u32) -> BalanceFigures {
    let mut counts = vec![0u64; n as usize];
    let mut moved = 0u64;
    let files = 64u64;
    for c in 0..chunks {
        let id = FileId {
            store: 0x5eed,
            seq: c % files,
        };
        let key = hash_chunk(id, c / files);
        let a = place(key, n);
        counts[a as usize] += 1;
        if place(key, n + 1) != a {
            moved += 1;
        }
    }
    let mean = chunks as f64 / n as f64;
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let min = counts.iter().copied().min().unwrap_or(0) as f64;
    BalanceFigures {
        chunks,
        max_over_mean: max / mean,
        min_over_mean: min / mean,
        moved_on_join: moved as f64 / chunks as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_is_in_range_and_stable() {
        for k in 0..1000u64 {
            let key = xxh3_64(&k.to_le_bytes());
            assert_eq!(jump(key, 1), 0);
            let b = jump(key, 17);
            assert!(b < 17);
            assert_eq!(jump(key, 17), b);
            // Growing the cluster moves a key only to the new server.
            let c = jump(key, 18);
            assert!(c == b || c == 17);
        }
    }

    #[test]
    fn placement_differs_per_file_and_chunk() {
        let p = Placement::new(16);
        let a = FileId { store: 1, seq: 1 };
        let servers: std::collections::HashSet<usize> =
            (0..64).map(|i| p.chunk_server(a, i)).collect();
        assert!(
            servers.len() > 8,
            "64 chunks over 16 servers used {servers:?}"
        );
        assert!(p.meta_server("/a") < 16);
    }

    #[test]
    fn expected_max_of_uniform_placement() {
        // One server holds everything; many chunks per server approach the mean.
        assert_eq!(expected_max_uniform(1, 1000), 1000.0);
        let m = expected_max_uniform(16, 1_000_000) / 62_500.0;
        assert!(m > 1.005 && m < 1.03, "{m}");
        // Few chunks per server: the most loaded is far above the mean (about 1.2-1.3 for
        // 244 chunks per server over 4096 servers), never below it.
        let m = expected_max_uniform(4096, 1_000_000) / (1_000_000.0 / 4096.0);
        assert!(m > 1.15 && m < 1.40, "{m}");
        // Against a simulation of truly random placement (a seeded generator).
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let (n, chunks) = (256u32, 50_000u64);
        let mut maxes = Vec::new();
        for _ in 0..40 {
            let mut c = vec![0u32; n as usize];
            for _ in 0..chunks {
                c[rng.gen_range(0..n) as usize] += 1;
            }
            maxes.push(*c.iter().max().unwrap() as f64);
        }
        let sim = maxes.iter().sum::<f64>() / maxes.len() as f64;
        let model = expected_max_uniform(n, chunks);
        assert!((sim / model - 1.0).abs() < 0.03, "sim {sim} model {model}");
    }

    /// The placement simulation: prints balance and movement for 16 to 4096 servers, with the
    /// best max/mean a hash placement can expect for as many chunks per server.
    /// Uses 1M chunks (set BENCHFS_PLACEMENT_CHUNKS to change); the jump-hash figures are also
    /// asserted loosely (statistical bounds far from the expected values).
    #[test]
    fn placement_simulation() {
        let chunks: u64 = std::env::var("BENCHFS_PLACEMENT_CHUNKS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if cfg!(debug_assertions) {
                250_000
            } else {
                1_000_000
            });
        println!("placement simulation, {chunks} chunks");
        println!(
            "scheme      servers  max/mean  min/mean  moved-on-join  (1/(N+1))  best max/mean  ratio"
        );
        for n in [16u32, 64, 256, 1024, 4096] {
            let j = simulate(n, chunks, &jump);
            let mean = chunks as f64 / n as f64;
            let best = expected_max_uniform(n, chunks) / mean;
            println!(
                "jump        {:>7}  {:>8.3}  {:>8.3}  {:>13.5}  ({:.5})  {:>13.3}  {:>5.3}",
                n,
                j.max_over_mean,
                j.min_over_mean,
                j.moved_on_join,
                1.0 / (n as f64 + 1.0),
                best,
                j.max_over_mean / best
            );
            // Issue 20: within 1.10 of the best possible for that many chunks per server, and
            // about 1/(N+1) of the chunks move when a server joins.
            assert!(j.max_over_mean <= 1.10 * best, "{j:?}, best {best}");
            let expect = 1.0 / (n as f64 + 1.0);
            let (moved, moves) = (j.moved_on_join * chunks as f64, expect * chunks as f64);
            assert!((moved - moves).abs() <= 4.0 * moves.sqrt(), "{j:?}");
            assert!(j.moved_on_join > expect * 0.5 && j.moved_on_join < expect * 1.5);
            // max/mean within 8 standard deviations of a binomial count.
            assert!(j.max_over_mean < 1.0 + 8.0 / mean.sqrt(), "{j:?}");
            let ring_n = VnodeRing::new(n, 128);
            let ring_n1 = VnodeRing::new(n + 1, 128);
            let v = simulate(n, chunks, &|k, s| {
                if s == n {
                    ring_n.lookup(k)
                } else {
                    ring_n1.lookup(k)
                }
            });
            println!(
                "vnodes-128  {:>7}  {:>8.3}  {:>8.3}  {:>13.5}",
                n, v.max_over_mean, v.min_over_mean, v.moved_on_join
            );
            if n <= 256 {
                let r = simulate(n, chunks.min(100_000), &rendezvous);
                println!(
                    "rendezvous  {:>7}  {:>8.3}  {:>8.3}  {:>13.5}  ({} chunks)",
                    n, r.max_over_mean, r.min_over_mean, r.moved_on_join, r.chunks
                );
            }
        }
    }
}
