//! Random sequences of file system calls applied to an embedded BenchFS cluster and to a
//! simple in-memory model; every result (data, sizes, listings, errno) must agree.

use benchfs::fs::{Client, Cluster, FsError, OpenFlags};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const CS: u32 = 64 << 10;

#[derive(Default)]
struct Model {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
}

fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

impl Model {
    fn new() -> Self {
        let mut m = Model::default();
        m.dirs.insert("/".into());
        m
    }

    /// errno for using `p`'s parent as a directory.
    fn parent_err(&self, p: &str) -> Option<i32> {
        let d = parent(p);
        if self.dirs.contains(d) {
            None
        } else if self.files.contains_key(d) {
            Some(libc::ENOTDIR)
        } else {
            // A missing ancestor (or a file further up) both count as missing here.
            Some(libc::ENOENT)
        }
    }

    fn children(&self, d: &str) -> Vec<String> {
        let prefix = if d == "/" {
            "/".to_string()
        } else {
            format!("{d}/")
        };
        self.files
            .keys()
            .chain(self.dirs.iter())
            .filter(|p| p.as_str() != "/" && parent(p) == d && p.starts_with(&prefix))
            .map(|p| p[prefix.len()..].to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

fn code<T>(r: &Result<T, FsError>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.errno(),
    }
}

const PATHS: &[&str] = &[
    "/f0",
    "/f1",
    "/f2",
    "/d0",
    "/d1",
    "/d0/f0",
    "/d0/f1",
    "/d0/e0",
    "/d0/e0/f0",
    "/d1/f0",
    "/f0/x",
];

async fn run(seed: u64, fs: &Client, steps: usize) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut m = Model::new();
    for step in 0..steps {
        let p = PATHS[rng.gen_range(0..PATHS.len())].to_string();
        let op = rng.gen_range(0..10);
        let ctx = format!("seed {seed} step {step} op {op} path {p}");
        match op {
            0 => {
                // create (O_RDWR|O_CREAT|O_TRUNC) and close
                let expect = if let Some(e) = m.parent_err(&p) {
                    e
                } else if m.dirs.contains(&p) {
                    libc::EISDIR
                } else {
                    0
                };
                let r = match fs.create(&p).await {
                    Ok(h) => h.close().await,
                    Err(e) => Err(e),
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                if expect == 0 {
                    m.files.insert(p, Vec::new());
                }
            }
            1 | 2 => {
                // write at a random offset (possibly making a hole), then close
                let off = rng.gen_range(0..(3 * CS as usize));
                let len = rng.gen_range(1..(2 * CS as usize));
                let byte = rng.gen::<u8>() | 1;
                let data: Vec<u8> = (0..len).map(|i| byte.wrapping_add(i as u8)).collect();
                let expect = if m.files.contains_key(&p) {
                    0
                } else if m.dirs.contains(&p) {
                    libc::EISDIR
                } else {
                    libc::ENOENT
                };
                let r = match fs.open(&p, OpenFlags::read_write()).await {
                    Ok(h) => match h.write_at(off as u64, &data).await {
                        Ok(_) => h.close().await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                if let Some(f) = m.files.get_mut(&p) {
                    if f.len() < off + len {
                        f.resize(off + len, 0);
                    }
                    f[off..off + len].copy_from_slice(&data);
                }
            }
            3 => {
                // read everything back; stat agrees
                match m.files.get(&p) {
                    Some(want) => {
                        let h = fs.open(&p, OpenFlags::read_only()).await.unwrap();
                        let got = h.read_vec(0, want.len() + 100).await.unwrap();
                        assert!(got == *want, "{ctx}: contents differ");
                        h.close().await.unwrap();
                        assert_eq!(fs.stat(&p).await.unwrap().size, want.len() as u64, "{ctx}");
                    }
                    None => {
                        let r = fs.stat(&p).await;
                        let expect = if m.dirs.contains(&p) { 0 } else { libc::ENOENT };
                        assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                    }
                }
            }
            4 => {
                let n = rng.gen_range(0..(4 * CS as u64));
                let r = fs.truncate(&p, n).await;
                let expect = if m.files.contains_key(&p) {
                    0
                } else if m.dirs.contains(&p) {
                    libc::EISDIR
                } else {
                    libc::ENOENT
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                if let Some(f) = m.files.get_mut(&p) {
                    f.resize(n as usize, 0);
                }
            }
            5 => {
                let r = fs.unlink(&p).await;
                let expect = if m.files.contains_key(&p) {
                    0
                } else if m.dirs.contains(&p) {
                    libc::EISDIR
                } else {
                    libc::ENOENT
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                m.files.remove(&p);
            }
            6 => {
                let r = fs.mkdir(&p, 0o755).await;
                let expect = if let Some(e) = m.parent_err(&p) {
                    e
                } else if m.dirs.contains(&p) || m.files.contains_key(&p) {
                    libc::EEXIST
                } else {
                    0
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                if expect == 0 {
                    m.dirs.insert(p);
                }
            }
            7 => {
                let r = fs.rmdir(&p).await;
                let expect = if m.files.contains_key(&p) {
                    libc::ENOTDIR
                } else if !m.dirs.contains(&p) {
                    libc::ENOENT
                } else if !m.children(&p).is_empty() {
                    libc::ENOTEMPTY
                } else {
                    0
                };
                assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                if expect == 0 {
                    m.dirs.remove(&p);
                }
            }
            8 => {
                // rename a file or a directory (with its whole tree) somewhere
                let dirs: Vec<String> = m.dirs.iter().filter(|d| *d != "/").cloned().collect();
                let use_dir = rng.gen_bool(0.4) && !dirs.is_empty();
                let src = if use_dir {
                    dirs[rng.gen_range(0..dirs.len())].clone()
                } else {
                    match m.files.keys().nth(rng.gen_range(0..m.files.len().max(1))) {
                        Some(f) => f.clone(),
                        None => continue,
                    }
                };
                let r = fs.rename(&src, &p).await;
                let under = format!("{src}/");
                let expect = if src == p {
                    0
                } else if use_dir && p.starts_with(&under) {
                    libc::EINVAL
                } else if let Some(e) = m.parent_err(&p) {
                    e
                } else if use_dir && m.files.contains_key(&p) {
                    libc::ENOTDIR
                } else if !use_dir && m.dirs.contains(&p) {
                    libc::EISDIR
                } else if use_dir && m.dirs.contains(&p) && !m.children(&p).is_empty() {
                    libc::ENOTEMPTY
                } else {
                    0
                };
                assert_eq!(code(&r), expect, "{ctx} from {src}: {r:?}");
                if expect == 0 && src != p {
                    if use_dir {
                        m.dirs.remove(&p);
                        let moved_files: Vec<String> = m
                            .files
                            .keys()
                            .filter(|k| k.starts_with(&under))
                            .cloned()
                            .collect();
                        for k in moved_files {
                            let v = m.files.remove(&k).unwrap_or_default();
                            m.files.insert(format!("{p}{}", &k[src.len()..]), v);
                        }
                        let moved_dirs: Vec<String> = m
                            .dirs
                            .iter()
                            .filter(|k| k.starts_with(&under) || **k == src)
                            .cloned()
                            .collect();
                        for k in moved_dirs {
                            m.dirs.remove(&k);
                            m.dirs.insert(format!("{p}{}", &k[src.len()..]));
                        }
                    } else {
                        let data = m.files.remove(&src).unwrap_or_default();
                        m.files.insert(p, data);
                    }
                }
            }
            _ => {
                let r = fs.readdir(&p).await;
                if m.dirs.contains(&p) {
                    let got: Vec<String> = r.unwrap().into_iter().map(|e| e.name).collect();
                    assert_eq!(got, m.children(&p), "{ctx}");
                } else {
                    let expect = if m.files.contains_key(&p) {
                        libc::ENOTDIR
                    } else {
                        libc::ENOENT
                    };
                    assert_eq!(code(&r), expect, "{ctx}: {r:?}");
                }
            }
        }
    }
    // Finally every file, and the chunk count, agree with the model.
    for (p, want) in &m.files {
        let h = fs.open(p, OpenFlags::read_only()).await.unwrap();
        assert!(h.read_vec(0, want.len() + 1).await.unwrap() == *want, "{p}");
    }
    let chunks: u64 = m
        .files
        .values()
        .map(|f| f.len().div_ceil(CS as usize) as u64)
        .sum();
    let held = fs.statfs().await.unwrap().chunks;
    // Holes may leave chunks absent; truncate and unlink must leave none beyond the files.
    assert!(
        held <= chunks,
        "seed {seed}: {held} chunks held, files need {chunks}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_calls_agree_with_a_model() {
    let d = tempfile::tempdir().unwrap();
    for seed in 0..10u64 {
        let c = Cluster::embedded_with(3, d.path(), CS).await.unwrap();
        let fs = c.client().await.unwrap();
        run(seed, &fs, 400).await;
    }
}
