//! The engine as a whole, through [`run_tests`] with local ranks (threads on a
//! [`LocalComm`] group), on DUMMY and on POSIX in a temporary directory.

use super::{run_tests, RankContext, RunOutcome};
use crate::comm::local::LocalComm;
use crate::comm::Comm;
use crate::ior::output::Reporter;
use crate::ior::params::IorParams;
use crate::ior::progress::Progress;
use crate::ior::results::{Phase, ResultEntry, RunInfo, TestResults};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Records which reporter calls rank 0 makes, in order.
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn push(&self, s: impl Into<String>) -> io::Result<()> {
        self.0.lock().unwrap().push(s.into());
        Ok(())
    }
}

impl Reporter for Calls {
    fn run_begin(&mut self, _: &RunInfo, _: &IorParams) -> io::Result<()> {
        self.push("run_begin")
    }
    fn test_begin(&mut self, _: &TestResults) -> io::Result<()> {
        self.push("test_begin")
    }
    fn table_header(&mut self, _: &TestResults) -> io::Result<()> {
        self.push("table_header")
    }
    fn entry(&mut self, _: &TestResults, e: &ResultEntry) -> io::Result<()> {
        self.push(row(e))
    }
    fn test_end(&mut self, _: &TestResults) -> io::Result<()> {
        self.push("test_end")
    }
    fn run_end(&mut self, _: &RunInfo, tests: &[TestResults], _: &str) -> io::Result<()> {
        self.push(format!("run_end {}", tests.len()))
    }
    fn run_interrupted(
        &mut self,
        _: &RunInfo,
        _: &[TestResults],
        _: &str,
        r: &str,
    ) -> io::Result<()> {
        self.push(format!("run_interrupted {r}"))
    }
}

/// A row as `write 0`, `read 1`, `remove 2`.
fn row(e: &ResultEntry) -> String {
    match e {
        ResultEntry::Phase(p) => format!("{} {}", p.access.as_str(), p.iteration),
        ResultEntry::Remove(r) => format!("remove {}", r.iteration),
    }
}

/// Runs `tests` on `ranks` local ranks; returns rank 0's outcome and its reporter calls.
fn run(tests: Vec<IorParams>, ranks: usize) -> (RunOutcome, Vec<String>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let tests = Arc::new(tests);
    let handles: Vec<_> = LocalComm::group(ranks, 0)
        .into_iter()
        .map(|comm| {
            let tests = tests.clone();
            let mut reporter = (comm.rank() == 0).then(|| Calls(calls.clone()));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let run = RunInfo::default();
                let progress = Progress::disabled();
                let ctx = RankContext {
                    comm: &comm,
                    run: &run,
                    reporter: reporter
                        .as_mut()
                        .map(|r| r as &mut (dyn Reporter + Send + 'static)),
                    progress: &progress,
                };
                rt.block_on(run_tests(ctx, &tests))
            })
        })
        .collect();
    let mut outcomes: Vec<RunOutcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = outcomes.remove(0);
    // Only rank 0 collects rows.
    assert!(outcomes
        .iter()
        .all(|o| o.tests.iter().all(|t| t.entries.is_empty())));
    let calls = calls.lock().unwrap().clone();
    (first, calls)
}

/// `-b 64k -t 4k -s 2` on `api`, file `file`, other settings from `f`.
fn params(api: &str, file: &str, f: impl FnOnce(&mut IorParams)) -> IorParams {
    let mut p = IorParams {
        api: api.into(),
        test_file_name: file.into(),
        block_size: 64 << 10,
        transfer_size: 4 << 10,
        segment_count: 2,
        ..IorParams::default()
    };
    f(&mut p);
    p
}

fn rows(t: &TestResults) -> Vec<String> {
    t.entries.iter().map(row).collect()
}

fn path_in(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn phases_and_rows_per_repetition() {
    let p = params("DUMMY", "/nowhere/f", |p| {
        p.write_file = 1;
        p.read_file = 1;
        p.repetitions = 3;
        p.verbose = 1;
    });
    let (out, calls) = run(vec![p], 2);
    assert_eq!(out.error, None);
    assert_eq!(out.data_errors, 0);
    assert_eq!(out.tests.len(), 1);
    let t = &out.tests[0];
    assert_eq!(
        rows(t),
        [
            "write 0", "read 0", "remove 0", "write 1", "read 1", "remove 1", "write 2", "read 2",
            "remove 2"
        ]
    );
    for phase in [Phase::Write, Phase::Read] {
        for r in t.phase_rows(phase) {
            // 2 ranks x 2 segments x 64 KiB, in 4 KiB transfers.
            assert_eq!(r.agg_bytes, 2 * 2 * (64 << 10));
            assert_eq!(r.per_rank.len(), 2);
            assert!(r.per_rank.iter().all(|f| f.transfers == 32));
            assert_eq!(r.errors, 0);
        }
    }
    let mut expected = vec!["run_begin", "test_begin", "table_header"];
    let entries: Vec<String> = rows(t);
    expected.extend(entries.iter().map(String::as_str));
    expected.extend(["test_end", "run_end 1"]);
    assert_eq!(calls, expected);
}

#[test]
fn only_the_asked_phases_run() {
    let w = params("DUMMY", "f", |p| p.write_file = 1);
    let r = params("DUMMY", "f", |p| {
        p.read_file = 1;
        p.repetitions = 2;
    });
    let (out, _) = run(vec![w, r], 1);
    assert_eq!(out.error, None);
    assert_eq!(rows(&out.tests[0]), ["write 0"]);
    assert_eq!(rows(&out.tests[1]), ["read 0", "read 1"]);
}

#[test]
fn ranks_beyond_num_tasks_only_wait() {
    let p = params("DUMMY", "f", |p| {
        p.write_file = 1;
        p.num_tasks = 1;
    });
    let (out, _) = run(vec![p], 3);
    assert_eq!(out.error, None);
    let w = out.tests[0].phase_rows(Phase::Write).next().unwrap();
    assert_eq!(w.per_rank.len(), 1);
    assert_eq!(w.agg_bytes, 2 * (64 << 10));
}

#[test]
fn posix_write_check_and_read_check_pass_and_keep_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = path_in(dir.path(), "f");
    let p = params("POSIX", &file, |p| {
        p.write_file = 1;
        p.check_write = 1;
        p.read_file = 1;
        p.check_read = 1;
        p.file_per_proc = 1;
        p.keep_file = 1;
        p.set_time_stamp_signature = 99;
    });
    let (out, _) = run(vec![p], 2);
    assert_eq!(out.error, None);
    assert_eq!(out.data_errors, 0);
    for rank in 0..2 {
        let len = std::fs::metadata(format!("{file}.{rank:08}"))
            .unwrap()
            .len();
        assert_eq!(len, 2 * (64 << 10));
    }
}

#[test]
fn posix_files_are_removed_without_keep() {
    let dir = tempfile::tempdir().unwrap();
    let file = path_in(dir.path(), "f");
    let p = params("POSIX", &file, |p| {
        p.write_file = 1;
        p.read_file = 1;
    });
    let (out, _) = run(vec![p], 2);
    assert_eq!(out.error, None);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn write_check_catches_data_the_storage_does_not_return() {
    // The test file is /dev/zero: writes vanish, the -W pass reads zeros.
    let dir = tempfile::tempdir().unwrap();
    let file = path_in(dir.path(), "f");
    std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
    let p = params("POSIX", &file, |p| {
        p.write_file = 1;
        p.check_write = 1;
        p.use_existing_test_file = 1;
    });
    let (out, _) = run(vec![p], 2);
    assert_eq!(out.error, None);
    // Every transfer of both ranks is wrong; the write row itself has none.
    assert_eq!(out.data_errors, 2 * 32);
    let w = out.tests[0].phase_rows(Phase::Write).next().unwrap();
    assert_eq!(w.errors, 0);
}

#[test]
fn read_check_catches_a_corrupted_transfer_and_keep_with_error_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = path_in(dir.path(), "f");
    let write = params("POSIX", &file, |p| {
        p.write_file = 1;
        p.keep_file = 1;
        p.set_time_stamp_signature = 7;
    });
    let (out, _) = run(vec![write], 2);
    assert_eq!((out.error, out.data_errors), (None, 0));

    // One byte of the 4th transfer of the file changes.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[3 * 4096 + 100] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let check = |keep_with_error| {
        params("POSIX", &file, |p| {
            p.read_file = 1;
            p.check_read = 1;
            p.use_existing_test_file = 1;
            p.keep_file_with_error = keep_with_error;
            p.set_time_stamp_signature = 7;
        })
    };
    let (out, _) = run(vec![check(1)], 2);
    assert_eq!(out.error, None);
    assert_eq!(out.data_errors, 1);
    let r = out.tests[0].phase_rows(Phase::Read).next().unwrap();
    assert_eq!(r.errors, 1);
    assert!(Path::new(&file).exists(), "-K keeps the file with errors");

    let (out, _) = run(vec![check(0)], 2);
    assert_eq!(out.data_errors, 1);
    assert!(!Path::new(&file).exists(), "without -K it is removed");
}

#[test]
fn deadline_stops_the_phase_and_wear_out_evens_the_ranks() {
    // 1 ms per transfer, 2048 transfers per rank: at least 2 s without the wall.
    let p = |wear_out| {
        params("DUMMY", "f", |p| {
            p.write_file = 1;
            p.block_size = 8 << 20;
            p.segment_count = 1;
            p.deadline_for_stonewalling = 1;
            p.stone_walling_wear_out = wear_out;
            p.backend_options
                .insert("dummy.delay-xfer".into(), "1000".into());
        })
    };
    let (out, _) = run(vec![p(0), p(1)], 2);
    assert_eq!(out.error, None);
    let plain = out.tests[0].phase_rows(Phase::Write).next().unwrap();
    for f in &plain.per_rank {
        assert!(f.transfers > 0 && f.transfers < 2048, "{}", f.transfers);
    }
    assert!(plain.stonewall.is_none());
    let worn = out.tests[1].phase_rows(Phase::Write).next().unwrap();
    let sw = worn.stonewall.as_ref().expect("wear-out figures");
    assert!(sw.pairs_max < 2048);
    assert!(worn.per_rank.iter().all(|f| f.transfers == sw.pairs_max));
}

#[test]
fn multi_file_and_unique_dir_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = path_in(dir.path(), "f");
    let p = params("POSIX", &file, |p| {
        p.write_file = 1;
        p.file_per_proc = 1;
        p.unique_dir = 1;
        p.multi_file = 1;
        p.keep_file = 1;
        p.repetitions = 2;
    });
    let (out, _) = run(vec![p], 2);
    assert_eq!(out.error, None);
    let mut found: Vec<String> = walk(dir.path())
        .into_iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "0/f.00000000.0",
            "0/f.00000000.1",
            "1/f.00000001.0",
            "1/f.00000001.1"
        ]
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn iodepth_writes_the_same_file_as_the_serial_loop() {
    let dir = tempfile::tempdir().unwrap();
    let file = |d: i32| path_in(dir.path(), &format!("f{d}"));
    let p = |d: i32| {
        params("POSIX", &file(d), |p| {
            p.write_file = 1;
            p.read_file = 1;
            p.check_read = 1;
            p.keep_file = 1;
            p.iodepth = d;
            p.set_time_stamp_signature = 5;
            p.data_packet_type = crate::ior::params::DataPacketType::Offset;
        })
    };
    let (out, _) = run(vec![p(1), p(4)], 2);
    assert_eq!((out.error, out.data_errors), (None, 0));
    let serial = std::fs::read(file(1)).unwrap();
    assert_eq!(serial.len(), 2 * 2 * (64 << 10));
    assert_eq!(std::fs::read(file(4)).unwrap(), serial);
    for t in &out.tests {
        for r in t.phase_rows(Phase::Read) {
            assert!(r.per_rank.iter().all(|f| f.transfers == 32));
        }
    }
}

#[test]
fn posix_iodepth_runs_on_its_thread_without_turns_of_the_runtime() {
    // The deep loop polls POSIX's io_uring transfers itself: a task spawned beside the run on
    // the same current-thread runtime gets no turn while the transfers run. Before, every
    // wake-up between two completions was a turn of the runtime (one per ~2 transfers).
    if let Err(e) = crate::backend::uring::Queue::new(8) {
        eprintln!("io_uring unavailable here ({e}): the deep loop uses pread/pwrite");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = params("POSIX", &path_in(dir.path(), "f"), |p| {
        p.write_file = 1;
        p.read_file = 1;
        p.check_read = 1;
        p.block_size = 4 << 20;
        p.segment_count = 1;
        p.iodepth = 8;
    });
    let comm = LocalComm::group(1, 0).pop().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let turns = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ticker = {
        let turns = turns.clone();
        rt.spawn(async move {
            loop {
                turns.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    let run = RunInfo::default();
    let progress = Progress::disabled();
    let ctx = RankContext {
        comm: &comm,
        run: &run,
        reporter: None,
        progress: &progress,
    };
    let out = rt.block_on(run_tests(ctx, &[p]));
    ticker.abort();
    assert_eq!((out.error, out.data_errors), (None, 0));
    // 1024 transfers written, 1024 read back: the ticker may run around the phases (their
    // set-up and the barriers), never once per transfer.
    let turns = turns.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        turns < 64,
        "{turns} turns of the runtime for 2048 transfers"
    );
}

#[test]
fn a_failing_test_stops_the_run_and_keeps_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let ok = params("DUMMY", "f", |p| p.write_file = 1);
    let missing = params("POSIX", &path_in(dir.path(), "absent"), |p| p.read_file = 1);
    let never = params("DUMMY", "f", |p| p.write_file = 1);
    let (out, calls) = run(vec![ok, missing, never], 2);
    let err = out.error.expect("the run stops");
    // IOR's POSIX wording (aiori-POSIX.c: `open64("…", 0) failed: …`).
    assert!(err.starts_with("open64(\""), "{err}");
    assert!(err.contains("absent\", 0) failed: No such file"), "{err}");
    assert_eq!(out.tests.len(), 2);
    assert_eq!(rows(&out.tests[0]), ["write 0"]);
    assert!(out.tests[1].entries.is_empty());
    // The summary is still produced, of the two tests that ran.
    assert_eq!(calls.last().map(String::as_str), Some("run_end 2"));
}
