//! Fuzzing: the decoders' fuzz target run over its corpus and a bounded number of mutated
//! inputs (the same body as the libFuzzer target in `fuzz/`, which runs millions by hand),
//! and a bounded network fuzz of a live server: its memory stays bounded and another client
//! is served throughout, with no error.

use crate::common::run::scratch;
use crate::support::{self, rss};
use benchfs::fs::transport::fuzz::decode_everything;
use benchfs::fs::wire::{FrameHeader, FrameKind, Op, Request};
use benchfs::fs::{Client, OpenFlags};
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Inputs the CI run feeds the target beyond its corpus (`BENCHFS_FUZZ_INPUTS` sets another
/// count, for long runs by hand).
const CI_INPUTS: usize = 200_000;

fn inputs() -> usize {
    std::env::var("BENCHFS_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_INPUTS)
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decoders");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 8, "the corpus is in {}", dir.display());
    seeds
}

/// One mutation of `seed` (flips, overwrites, cuts, insertions, splices with `other`).
fn mutate(rng: &mut impl Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(1..6) {
        match rng.gen_range(0..7) {
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] = [0, 1, 0x7f, 0x80, 0xff][rng.gen_range(0..5)];
            }
            2 if !v.is_empty() => {
                let n = rng.gen_range(0..v.len());
                v.truncate(n);
            }
            3 => {
                let i = rng.gen_range(0..=v.len());
                let n = rng.gen_range(1..16);
                for _ in 0..n {
                    v.insert(i.min(v.len()), rng.gen());
                }
            }
            4 if v.len() >= 4 => {
                // A length field made absurd.
                let i = rng.gen_range(0..v.len() - 3);
                v[i..i + 4].copy_from_slice(&rng.gen::<u32>().to_le_bytes());
            }
            5 => {
                let cut = rng.gen_range(0..=other.len());
                v.extend_from_slice(&other[cut..]);
            }
            _ => v.push(rng.gen()),
        }
    }
    v
}

#[test]
fn the_decoders_survive_their_corpus_and_a_bounded_fuzz_run() {
    let seeds = corpus();
    for s in &seeds {
        decode_everything(s);
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(15);
    for _ in 0..inputs() {
        let a = &seeds[rng.gen_range(0..seeds.len())];
        let b = &seeds[rng.gen_range(0..seeds.len())];
        let input = if rng.gen_ratio(1, 10) {
            (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect()
        } else {
            mutate(&mut rng, a, b)
        };
        decode_everything(&input);
    }
}

fn frame(op: u16, msg: &[u8], bulk_len: u32) -> Vec<u8> {
    let mut v = FrameHeader {
        kind: FrameKind::Request,
        op,
        id: 1,
        msg_len: msg.len() as u32,
        bulk_len,
    }
    .encode()
    .to_vec();
    v.extend_from_slice(msg);
    v
}

#[test]
fn a_live_server_under_network_fuzz_stays_bounded_and_serves_others() {
    let d = scratch();
    let servers = support::cluster(d.path(), 1, &["--chunk-size", "64k", "--spare-chunks", "2"]);
    let (pid, addr) = (servers[0].pid(), servers[0].addr());
    let reg = d.path().join("registry");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fs = rt.block_on(Client::connect(&reg)).unwrap();
    let before = rss(pid);
    let seeds = corpus();
    // 8 threads x 250 connections, each sending fuzzed frames and going away.
    let fuzzers: Vec<_> = (0..8u64)
        .map(|t| {
            let (addr, seeds) = (addr.clone(), seeds.clone());
            std::thread::spawn(move || {
                let mut rng = rand_pcg::Pcg64::seed_from_u64(t);
                for _ in 0..250 {
                    let Ok(mut c) = std::net::TcpStream::connect(&addr) else {
                        continue;
                    };
                    let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
                    let mut bytes = match rng.gen_range(0..4) {
                        0 => (0..rng.gen_range(1..300)).map(|_| rng.gen()).collect(),
                        1 => frame(
                            rng.gen_range(0..20),
                            &(0..rng.gen_range(0..64))
                                .map(|_| rng.gen())
                                .collect::<Vec<u8>>(),
                            rng.gen(),
                        ),
                        2 => {
                            let mut v = frame(
                                Op::Hello as u16,
                                &Request::Hello { nonce: rng.gen() }.encode(),
                                0,
                            );
                            v.extend(mutate(&mut rng, &seeds[0], &seeds[1]));
                            v
                        }
                        _ => {
                            let a = &seeds[rng.gen_range(0..seeds.len())];
                            mutate(&mut rng, a, a)
                        }
                    };
                    if rng.gen_ratio(1, 4) {
                        // Announce a large payload and send a piece of it.
                        bytes.extend(frame(Op::Write as u16, &[0u8; 32], 64 << 20));
                        bytes.extend(std::iter::repeat_n(0u8, 256 << 10));
                    }
                    let _ = c.write_all(&bytes);
                }
            })
        })
        .collect();
    // Meanwhile another client writes, reads back and checks files, without one error.
    rt.block_on(async {
        let mut i = 0u64;
        while fuzzers.iter().any(|f| !f.is_finished()) || i < 20 {
            let p = format!("/ok{i}");
            let data = support::pattern(i, 100_000);
            let f = fs.create(&p).await.unwrap();
            f.write_at(0, &data).await.unwrap();
            f.close().await.unwrap();
            let r = fs.open(&p, OpenFlags::read_only()).await.unwrap();
            assert_eq!(r.read_vec(0, 200_000).await.unwrap(), data);
            i += 1;
        }
    });
    for f in fuzzers {
        f.join().unwrap();
    }
    let grown = rss(pid).saturating_sub(before);
    assert!(grown < 64 << 20, "the server grew by {} MiB", grown >> 20);
    rt.block_on(async { fs.stat("/").await.unwrap() });
    // Every fuzzing connection is closed (the last within the handshake timeout).
    let sockets = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .filter(|l| l.to_string_lossy().starts_with("socket:"))
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // The listener, the legit client's connection, and a few of the runtime's.
    while sockets() > 8 {
        if std::time::Instant::now() > deadline {
            let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|l| l.display().to_string())
                .collect();
            let socks = std::process::Command::new("ss")
                .args(["-tanp"])
                .output()
                .unwrap();
            panic!(
                "the fuzzers' connections are still open: {fds:?}\n{}",
                String::from_utf8_lossy(&socks.stdout)
                    .lines()
                    .filter(|l| l.contains(&format!("pid={pid},")))
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
