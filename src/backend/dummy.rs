//! The DUMMY backend: no I/O, optional delays; measures the harness itself (IOR's
//! `aiori-DUMMY.c`).
//!
//! Owns the `--dummy.*` options and the delays. A transfer without a delay does no work at all
//! (it returns `buf.len()`), so a DUMMY run measures only the engine's own cost per transfer.
//! Like IOR's DUMMY: `get_file_size` and `stat` report size 0 (hence the "Expected aggregate
//! file size" warnings), `statfs` reports zeros, `access` always answers "exists", and
//! `mkdir`/`rmdir`/`rename`/`remove`/`mknod` succeed without doing anything, and `readdir` lists nothing. It must not print (the
//! engine prints IOR's `WARNING: DUMMY initialized`).
//!
//! Delays are in microseconds and honoured precisely: the thread sleeps for the bulk of a delay
//! and spins for the last stretch, since tokio timers (1 ms granularity) and plain sleeps
//! (tens of µs of timer slack) are too coarse for µs delays. Each task has its own OS thread,
//! so blocking it is correct.
use super::*;
use std::time::{Duration, Instant};

/// Options of the DUMMY backend.
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "dummy",
        name: "delay-create",
        kind: OptionKind::Int,
        help: "Delay per create in usec",
        default: "",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-close",
        kind: OptionKind::Int,
        help: "Delay per close in usec",
        default: "",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-sync",
        kind: OptionKind::Int,
        help: "Delay for sync in usec",
        default: "",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-xfer",
        kind: OptionKind::Int,
        help: "Delay per xfer in usec",
        default: "",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-only-rank0",
        kind: OptionKind::Flag,
        help: "Delay only Rank0",
        default: "",
    },
];

/// The part of a delay spent spinning rather than sleeping (covers the kernel's timer slack).
const SPIN_TAIL: Duration = Duration::from_micros(200);

/// Blocks the calling thread for at least `d`, with µs precision.
fn precise_delay(d: Duration) {
    let deadline = Instant::now() + d;
    if d > SPIN_TAIL {
        std::thread::sleep(d - SPIN_TAIL);
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// DUMMY backend state of one task.
#[derive(Debug, Clone, Default)]
pub struct DummyBackend {
    delay_create: Duration,
    delay_close: Duration,
    delay_sync: Duration,
    delay_xfer: Duration,
    only_rank0: bool,
    /// Whether this task delays at all (false for ranks other than 0 with `delay-only-rank0`).
    delays_apply: bool,
    /// Whether this task delays its transfers (one test in the transfer loop, not two).
    xfer_delayed: bool,
}

/// An "open file" of the DUMMY backend (holds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DummyFile;

fn delay_option(o: &OptionValues<'_>, name: &str) -> BackendResult<Duration> {
    let v = o.int(name, 0)?;
    let us = u64::try_from(v).map_err(|_| BackendError::InvalidOption {
        option: format!("dummy.{name}"),
        message: format!("delay must not be negative (got {v})"),
    })?;
    Ok(Duration::from_micros(us))
}

impl DummyBackend {
    /// Build from the test's backend options (`dummy.delay-*`, in microseconds, and
    /// `dummy.delay-only-rank0`). Until [`Backend::set_hints`] gives the rank, the task counts
    /// as rank 0.
    pub fn new(opts: &BTreeMap<String, String>) -> BackendResult<Self> {
        let o = OptionValues::new("dummy", opts);
        Ok(DummyBackend {
            delay_create: delay_option(&o, "delay-create")?,
            delay_close: delay_option(&o, "delay-close")?,
            delay_sync: delay_option(&o, "delay-sync")?,
            delay_xfer: delay_option(&o, "delay-xfer")?,
            only_rank0: o.flag("delay-only-rank0")?,
            delays_apply: true,
            xfer_delayed: !delay_option(&o, "delay-xfer")?.is_zero(),
        })
    }

    #[cfg(test)]
    /// The delay per transfer (zero when this task does not delay).
    pub fn xfer_delay(&self) -> Duration {
        if self.delays_apply {
            self.delay_xfer
        } else {
            Duration::ZERO
        }
    }

    #[inline]
    fn delay(&self, d: Duration) {
        if !d.is_zero() && self.delays_apply {
            precise_delay(d);
        }
    }
}

impl Backend for DummyBackend {
    type File = DummyFile;

    fn name(&self) -> &'static str {
        "DUMMY"
    }

    /// None: nothing created can be listed later.
    fn keeps_namespace(&self) -> bool {
        false
    }

    /// IOR's DUMMY version string.
    fn version(&self) -> String {
        "0.5".to_string()
    }

    fn set_hints(&mut self, hints: XferHints) {
        self.delays_apply = !self.only_rank0 || hints.rank == 0;
        self.xfer_delayed = self.delays_apply && !self.delay_xfer.is_zero();
    }

    async fn create(&self, _path: &str, _flags: OpenFlags) -> BackendResult<DummyFile> {
        self.delay(self.delay_create);
        Ok(DummyFile)
    }

    /// Opening is free (IOR's DUMMY delays only create).
    async fn open(&self, _path: &str, _flags: OpenFlags) -> BackendResult<DummyFile> {
        Ok(DummyFile)
    }

    /// Completes at once: the engine calls this directly.
    #[inline]
    fn xfer_sync(
        &self,
        _file: &DummyFile,
        _access: Access,
        buf: &mut [u8],
        _offset: u64,
    ) -> Option<BackendResult<usize>> {
        if self.xfer_delayed {
            precise_delay(self.delay_xfer);
        }
        Some(Ok(buf.len()))
    }

    async fn close(&self, _file: DummyFile) -> BackendResult<()> {
        self.delay(self.delay_close);
        Ok(())
    }

    /// Free, as IOR's DUMMY: `--dummy.delay-sync` delays [`Backend::sync`] only.
    async fn fsync(&self, _file: &DummyFile) -> BackendResult<()> {
        Ok(())
    }

    /// IOR's backend-wide sync (mdtest's `-Y`): the one call `--dummy.delay-sync` delays.
    async fn sync(&self) -> BackendResult<()> {
        self.delay(self.delay_sync);
        Ok(())
    }

    async fn remove(&self, _path: &str) -> BackendResult<()> {
        Ok(())
    }

    /// Always 0, as IOR's DUMMY.
    async fn get_file_size(&self, _path: &str) -> BackendResult<u64> {
        Ok(0)
    }

    /// All zeros, as IOR's DUMMY (`FS : 0.0 GiB`).
    async fn statfs(&self, _path: &str) -> BackendResult<StatFs> {
        Ok(StatFs::default())
    }

    async fn mkdir(&self, _path: &str, _mode: u32) -> BackendResult<()> {
        Ok(())
    }

    async fn rmdir(&self, _path: &str) -> BackendResult<()> {
        Ok(())
    }

    /// Always true: IOR's DUMMY reports every path as existing (hence "exists already and
    /// will be deleted" in its output).
    async fn access(&self, _path: &str, _mode: AccessMode) -> BackendResult<bool> {
        Ok(true)
    }

    /// A regular file of size 0.
    async fn stat(&self, _path: &str) -> BackendResult<FileStat> {
        Ok(FileStat {
            size: 0,
            is_dir: false,
            mode: libc::S_IFREG | 0o644,
            ctime_ns: 0,
        })
    }

    async fn rename(&self, _from: &str, _to: &str) -> BackendResult<()> {
        Ok(())
    }

    /// Empty: DUMMY keeps no namespace.
    async fn readdir(&self, _path: &str) -> BackendResult<Vec<DirEntry>> {
        Ok(Vec::new())
    }

    /// Nothing (with `--dummy.delay-create`, as a create).
    async fn mknod(&self, _path: &str) -> BackendResult<()> {
        self.delay(self.delay_create);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn backend(opts: &[(&str, &str)]) -> BackendResult<DummyBackend> {
        let m: BTreeMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DummyBackend::new(&m)
    }

    #[test]
    fn readdir_lists_nothing() {
        let b = DummyBackend::new(&BTreeMap::new()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(b.readdir("/any")).unwrap(), []);
    }

    #[test]
    fn no_delay_moves_everything_and_reports_ior_values() {
        let b = backend(&[]).unwrap();
        assert_eq!(b.name(), "DUMMY");
        assert_eq!(b.version(), "0.5");
        rt().block_on(async {
            let f = b.create("/x", OpenFlags::create_for_write()).await.unwrap();
            let mut buf = vec![9u8; 12345];
            assert_eq!(
                b.xfer(&f, Access::Write, &mut buf, 77).await.unwrap(),
                12345
            );
            assert_eq!(b.xfer(&f, Access::Read, &mut buf, 0).await.unwrap(), 12345);
            assert!(
                buf.iter().all(|&x| x == 9),
                "DUMMY must not touch the buffer"
            );
            b.fsync(&f).await.unwrap();
            b.close(f).await.unwrap();
            assert_eq!(b.get_file_size("/x").await.unwrap(), 0);
            assert_eq!(b.stat("/x").await.unwrap().size, 0);
            assert_eq!(b.statfs("/").await.unwrap(), StatFs::default());
            assert!(b
                .access("/never/created", AccessMode::Exists)
                .await
                .unwrap());
            b.mkdir("/d", 0o755).await.unwrap();
            b.rmdir("/d").await.unwrap();
            b.rename("/a", "/b").await.unwrap();
            b.remove("/x").await.unwrap();
        });
    }

    #[test]
    fn bad_delays_are_rejected() {
        assert!(matches!(
            backend(&[("dummy.delay-xfer", "-5")]),
            Err(BackendError::InvalidOption { .. })
        ));
        assert!(matches!(
            backend(&[("dummy.delay-create", "abc")]),
            Err(BackendError::InvalidOption { .. })
        ));
    }

    #[test]
    fn delays_are_honoured() {
        let b = backend(&[
            ("dummy.delay-create", "3000"),
            ("dummy.delay-close", "2000"),
            ("dummy.delay-sync", "1500"),
            ("dummy.delay-xfer", "50"),
        ])
        .unwrap();
        rt().block_on(async {
            let t = Instant::now();
            let f = b.create("/x", OpenFlags::create_for_write()).await.unwrap();
            assert!(t.elapsed() >= Duration::from_micros(3000));

            let t = Instant::now();
            let mut buf = [0u8; 16];
            for _ in 0..20 {
                assert_eq!(b.xfer(&f, Access::Write, &mut buf, 0).await.unwrap(), 16);
            }
            assert!(t.elapsed() >= Duration::from_micros(20 * 50));

            let t = Instant::now();
            b.sync().await.unwrap();
            assert!(t.elapsed() >= Duration::from_micros(1500));

            let t = Instant::now();
            b.close(f).await.unwrap();
            assert!(t.elapsed() >= Duration::from_micros(2000));
        });
    }

    #[test]
    fn delay_sync_delays_sync_but_not_fsync() {
        // A delay far beyond anything an undelayed call could take on a loaded machine.
        let b = backend(&[("dummy.delay-sync", "3000000")]).unwrap();
        rt().block_on(async {
            let t = Instant::now();
            b.fsync(&DummyFile).await.unwrap();
            assert!(t.elapsed() < Duration::from_secs(3), "fsync was delayed");
        });
    }

    #[test]
    fn only_rank0_delays() {
        let opts = [
            ("dummy.delay-xfer", "1000"),
            ("dummy.delay-only-rank0", "1"),
        ];
        let mut r0 = backend(&opts).unwrap();
        r0.set_hints(XferHints {
            rank: 0,
            ..Default::default()
        });
        let mut r1 = backend(&opts).unwrap();
        r1.set_hints(XferHints {
            rank: 1,
            ..Default::default()
        });
        assert_eq!(r0.xfer_delay(), Duration::from_micros(1000));
        assert_eq!(r1.xfer_delay(), Duration::ZERO);
        // Without the flag every rank delays.
        let mut r1_all = backend(&[("dummy.delay-xfer", "1000")]).unwrap();
        r1_all.set_hints(XferHints {
            rank: 1,
            ..Default::default()
        });
        assert_eq!(r1_all.xfer_delay(), Duration::from_micros(1000));
        rt().block_on(async {
            let t = Instant::now();
            let mut buf = [0u8; 8];
            r0.xfer(&DummyFile, Access::Read, &mut buf, 0)
                .await
                .unwrap();
            assert!(t.elapsed() >= Duration::from_micros(1000));
            let t = Instant::now();
            r1_all
                .xfer(&DummyFile, Access::Read, &mut buf, 0)
                .await
                .unwrap();
            assert!(t.elapsed() >= Duration::from_micros(1000));
        });
    }

    #[test]
    fn precise_delay_is_at_least_the_request() {
        for us in [1u64, 10, 150, 250, 1200] {
            let d = Duration::from_micros(us);
            let t = Instant::now();
            precise_delay(d);
            assert!(t.elapsed() >= d, "{us} us");
        }
    }
}
