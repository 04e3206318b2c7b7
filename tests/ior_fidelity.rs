//! IOR fidelity (issue 21): benchfs-bench against outputs of real IOR 4.1.0+dev captured by hand
//! in `tests/data/ior-fidelity/` (commands and exit statuses in its README). Each test is one
//! behaviour where IOR is the reference: the text stream is compared line for line and column
//! for column with numbers, dates, hosts and command lines masked (tests/common/golden.rs),
//! or the behaviour is checked directly where the captured output shows it.

mod common;

use common::golden::masked_diff;
use common::run::{run_in, run_in_env, run_once, scratch, Run};
use std::path::{Path, PathBuf};

/// The captures of real IOR.
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ior-fidelity")
}

fn capture(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).unwrap_or_else(|e| panic!("capture {name}: {e}"))
}

/// Lines real IOR prints that benchfs-bench deliberately does not (README: differences):
/// the DUMMY backend's and the MMAP backend's initialisation noise.
fn is_deliberately_absent(line: &str) -> bool {
    line.starts_with("WARNING: DUMMY initialized")
        || line.starts_with("WARNING: DUMMY finalized")
        || line.starts_with("WARNING: assuming POSIX-based backend for MMAP")
}

/// IOR's stream of a capture, up to and including its `Finished` line (mpirun's own lines
/// and the deliberately absent ones removed).
fn ior_stream(name: &str) -> String {
    let mut out = String::new();
    for line in capture(name).lines() {
        if is_deliberately_absent(line) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Finished") {
            break;
        }
    }
    out
}

/// `args` with `{D}` replaced by `dir`.
fn with_dir(args: &[&str], dir: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{D}", dir)).collect()
}

/// Runs benchfs-bench in a scratch directory (`{D}` in `args`), returns the run and the
/// directory (kept alive by the caller).
fn run_here(args: &[&str]) -> (Run, tempfile::TempDir, String) {
    run_here_env(&[], args)
}

/// [`run_here`] with environment variables.
fn run_here_env(env: &[(&str, &str)], args: &[&str]) -> (Run, tempfile::TempDir, String) {
    let dir = scratch();
    let d = dir.path().to_str().expect("utf-8 path").to_string();
    let args = with_dir(args, &d);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    (run_in_env(dir.path(), env, &argv), dir, d)
}

/// Runs `args` again in the same directory `d`.
fn run_again(d: &str, args: &[&str]) -> Run {
    let args = with_dir(args, d);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(Path::new(d), &argv)
}

/// The value of a `"%-20s: "` key line.
fn key_value<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key:<20}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// Compares our interleaved stream (`{D}` replaced by IOR's directory) with the capture.
fn assert_same_stream(capture_name: &str, ours: &str, our_dir: &str, ior_dir: &str) {
    let exp = ior_stream(capture_name);
    let actual = ours.replace(our_dir, ior_dir);
    if let Some(diff) = masked_diff(&exp, &actual) {
        panic!("{capture_name}: output differs from IOR's\n{diff}\n--- actual ---\n{actual}");
    }
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ------------------------------------------------------------------------------ item 14: MMAP

#[test]
fn mmap_backend_matches_ior() {
    let (run, _dir, d) = run_here(&[
        "-a", "MMAP", "-N", "2", "-w", "-r", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_mmap.txt", &run.merged, &d, "/dev/shm/cap/mm");
}

#[test]
fn mmap_writes_data_that_verifies_with_advice_options() {
    // IOR's own basic-tests.sh line, plus verification and both advice flags.
    let dir = scratch();
    let f = dir.path().join("m");
    let f = f.to_str().unwrap();
    for extra in [
        &[][..],
        &["--mmap.madv_dont_need", "--mmap.madv_pattern"][..],
    ] {
        let mut args = vec![
            "-a",
            "MMAP",
            "-N",
            "2",
            "-w",
            "-r",
            "-W",
            "-R",
            "-G",
            "99",
            "-z",
            "-F",
            "-k",
            "-e",
            "-i1",
            "-m",
            "-t",
            "100k",
            "-b",
            "200k",
            "-o",
            f,
            "--random-offset-seed=7",
        ];
        args.extend_from_slice(extra);
        let run = run_once(dir.path(), &args);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(!run.merged.contains("Incorrect data"), "{}", run.merged);
        // Each file holds its own task's data only (IOR sizes every file to the aggregate).
        for name in ["m.00000000.0", "m.00000001.0"] {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(len, 200 * 1024, "{name}");
        }
    }
    // A POSIX read verifies what MMAP wrote, and the reverse.
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-r",
            "-R",
            "-G",
            "99",
            "-z",
            "-F",
            "-k",
            "-i1",
            "-m",
            "-t",
            "100k",
            "-b",
            "200k",
            "-o",
            f,
            "--random-offset-seed=7",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = run_once(
        dir.path(),
        &[
            "-a", "POSIX", "-N", "2", "-w", "-G", "5", "-k", "-t", "64k", "-b", "256k", "-o", f,
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = run_once(
        dir.path(),
        &[
            "-a", "MMAP", "-N", "2", "-r", "-R", "-G", "5", "-k", "-t", "64k", "-b", "256k", "-o",
            f,
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.merged.contains("Incorrect data"), "{}", run.merged);
    assert!(files_in(dir.path()).contains(&"m".to_string()));
}

/// The value of column `col` (0 = access) of the first Results row of `phase`.
fn row_value(text: &str, phase: &str, col: usize) -> f64 {
    let row = lines_starting(text, &format!("{phase:<10}"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {phase} row in\n{text}"));
    let tok = row.split_whitespace().nth(col).expect("column");
    tok.parse()
        .unwrap_or_else(|_| panic!("column {col} of `{row}` is not a number"))
}

// ----------------------------------------------------------------- item 5: --dummy.delay-sync

#[test]
fn dummy_delay_sync_does_not_delay_fsync() {
    // IOR delays only the backend's sync call, which IOR's transfers never make: -e is not
    // delayed (fid_dummy_delay_sync.txt: wr/rd 0.000002 s with a 60 ms delay). A 5 s delay
    // here leaves no doubt on a loaded machine.
    let (run, _dir, d) = run_here(&[
        "-a",
        "DUMMY",
        "-w",
        "-e",
        "-b",
        "512k",
        "-t",
        "64k",
        "--dummy.delay-sync=5000000",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_dummy_delay_sync.txt", &run.merged, &d, "");
    let total = row_value(&run.stdout, "write", 9);
    assert!(
        total < 2.5,
        "fsync was delayed: total {total} s\n{}",
        run.stdout
    );
}

// ------------------------------------------------------------- item 16: the Latency(s) column

#[test]
fn latency_column_is_rank_zeros_value() {
    // Rank 0 waits 20 ms per transfer, rank 1 not at all: IOR prints rank 0's 0.020129
    // (fid_latency_rank0.txt), not the minimum over tasks (~0).
    let (run, _dir, d) = run_here(&[
        "-a",
        "DUMMY",
        "-N",
        "2",
        "-w",
        "-b",
        "1m",
        "-t",
        "256k",
        "--dummy.delay-xfer=20000",
        "--dummy.delay-only-rank0",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_latency_rank0.txt", &run.merged, &d, "");
    let ior = row_value(&ior_stream("fid_latency_rank0.txt"), "write", 3);
    let ours = row_value(&run.stdout, "write", 3);
    assert!(ior >= 0.020, "capture: {ior}");
    assert!(
        ours >= 0.020,
        "Latency(s) {ours} is not rank 0's\n{}",
        run.stdout
    );
}

// ------------------------------------------------------------ item 17: unmeasurable phases

mod unmeasurable {
    use super::*;
    use benchfs::ior::output::reporter_for;
    use benchfs::ior::params::{IorParams, SummaryFormat, TaskLayout};
    use benchfs::ior::reduce::{self, Gathered, RankTimes};
    use benchfs::ior::results::{FsInfo, Phase, ResultEntry, RunInfo, TestResults};
    use benchfs::results::document::ResultDocument;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The run of fid_zero_duration.txt (`-a DUMMY -w -r -b 8 -t 8 -i 2`, one task) rebuilt
    /// from its timers: every phase took one microsecond (gettimeofday's grid) except the
    /// second read, which took none. The rows go through the engine's own reduction.
    fn zero_duration_run() -> (RunInfo, TestResults) {
        let params = IorParams {
            api: "DUMMY".into(),
            block_size: 8,
            transfer_size: 8,
            repetitions: 2,
            write_file: 1,
            read_file: 1,
            ..IorParams::default()
        };
        let mut test = TestResults {
            params: params.clone(),
            layout: TaskLayout {
                num_tasks: 1,
                num_nodes: 1,
                tasks_on_node0: 1,
                block_mapping: true,
            },
            api_version: "0.5".into(),
            start_time: "Tue Dec  1 11:00:00 2026".into(),
            path: "testFile".into(),
            fs: Some(FsInfo {
                capacity_bytes: 0.0,
                used_capacity_pct: 0.0,
                inodes: 0.0,
                used_inodes_pct: 0.0,
            }),
            entries: Vec::new(),
        };
        let t0 = 1_796_122_000.0_f64;
        let phases = [
            (Phase::Write, 0, 2e-6),
            (Phase::Read, 0, 1e-6),
            (Phase::Write, 1, 1e-6),
            (Phase::Read, 1, 0.0),
        ];
        for (phase, rep, took) in phases {
            let stop = t0 + took;
            let g = Gathered {
                ranks: vec![RankTimes {
                    t: [t0, t0, t0, stop, stop, stop],
                    bytes: 8,
                    pairs: 1,
                    errors: 0,
                }],
                histograms: vec![Vec::new()],
            };
            let row = reduce::phase_result(&params, phase, rep, &g, None);
            test.entries.push(ResultEntry::Phase(row));
        }
        let run = RunInfo {
            began: "Tue Dec  1 11:00:00 2026".into(),
            command_line: "benchfs-bench -a DUMMY -w -r -b 8 -t 8 -i 2".into(),
            machine: "Linux vm".into(),
            machine_long: "Linux vm".into(),
            hostname: "vm".into(),
            sysname: "Linux".into(),
        };
        (run, test)
    }

    fn render(format: SummaryFormat, run: &RunInfo, test: &TestResults) -> String {
        let buf = Buf::default();
        let mut rep = reporter_for(format, Box::new(buf.clone()));
        rep.run_begin(run, &test.params).unwrap();
        let mut cur = test.clone();
        cur.entries.clear();
        rep.test_begin(&cur).unwrap();
        rep.table_header(&cur).unwrap();
        for e in &test.entries {
            cur.entries.push(e.clone());
            rep.entry(&cur, e).unwrap();
        }
        rep.test_end(&cur).unwrap();
        rep.run_end(run, std::slice::from_ref(test), "Tue Dec  1 11:00:01 2026")
            .unwrap();
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_prints_what_ior_prints() {
        let (run, test) = zero_duration_run();
        let ours = render(SummaryFormat::Default, &run, &test);
        // IOR's result stream: its log lines (warnings) are not part of it.
        let ior: String = ior_stream("fid_zero_duration.txt")
            .lines()
            .filter(|l| !l.starts_with("WARNING:"))
            .map(|l| format!("{l}\n"))
            .collect();
        if let Some(diff) = masked_diff(&ior, &ours) {
            panic!("differs from IOR's\n{diff}\n--- ours ---\n{ours}");
        }
        assert!(
            ours.contains("read      inf        inf        0.000000"),
            "{ours}"
        );
        assert!(ours.lines().any(|l| l.starts_with("read ")
            && l.split_whitespace().collect::<Vec<_>>()[1..9]
                == [
                    "inf",
                    "8.00",
                    "inf",
                    "-nan",
                    "inf",
                    "1048576.00",
                    "inf",
                    "-nan"
                ]));
    }

    #[test]
    fn json_is_null_and_valid() {
        let (run, test) = zero_duration_run();
        let ours = render(SummaryFormat::Json, &run, &test);
        let v: serde_json::Value =
            serde_json::from_str(&ours).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{ours}"));
        let rows = v["tests"][0]["Results"].as_array().expect("Results");
        assert_eq!(rows.len(), 4);
        assert!(
            rows[3]["bwMiB"].is_null() && rows[3]["iops"].is_null(),
            "{ours}"
        );
        assert_eq!(rows[3]["totalTime"], 0.0);
        for r in &rows[..3] {
            assert!(r["bwMiB"].as_f64().is_some_and(|b| b > 0.0), "{r}");
        }
        let read = &v["summary"][1];
        assert_eq!(read["operation"], "read");
        for k in [
            "bwMaxMIB",
            "bwMeanMIB",
            "bwStdMIB",
            "OPsMax",
            "OPsMean",
            "OPsSD",
        ] {
            assert!(read[k].is_null(), "{k}: {read}");
        }
        assert!(read["bwMinMIB"].as_f64().is_some_and(|b| b > 0.0));
        // IOR's JSON of the same run: `"inf"` strings and a bare -nan, not JSON at all.
        let ior = capture("fid_zero_duration_json.stdout");
        assert!(ior.contains("\"bwMiB\": \"inf\"") && ior.contains("-nan"));
    }

    #[test]
    fn document_marks_the_row_and_compare_skips_it() {
        let (run, test) = zero_duration_run();
        let doc =
            ResultDocument::from_run(&run, std::slice::from_ref(&test), &[], &Default::default());
        let json = serde_json::to_value(&doc).unwrap();
        let rows = json["tests"][0]["results"].as_array().unwrap();
        let measured: Vec<bool> = rows.iter().map(|r| r["measured"] == true).collect();
        assert_eq!(measured, [true, true, true, false]);
        assert!(rows[3]["bw_mib"].is_null(), "{}", rows[3]);
        let by_workload = benchfs::results::compare::rows_by_workload(&doc);
        let kept: usize = by_workload.iter().map(|(_, r)| r.len()).sum();
        assert_eq!(kept, 3);
        // Written, read back, compared and drawn through the CLI.
        let dir = scratch();
        let a = dir.path().join("a.json");
        doc.write_to(&a).unwrap();
        let back = ResultDocument::read_from(&a).unwrap();
        assert!(!back.tests[0].results.iter().all(|e| match e {
            ResultEntry::Phase(p) => p.measured,
            _ => true,
        }));
        let a = a.to_str().unwrap();
        let cmp = run_once(dir.path(), &["compare", a, a]);
        assert!(
            cmp.code == 0 || cmp.code == 4,
            "{}{}",
            cmp.stdout,
            cmp.stderr
        );
        assert!(
            !cmp.stdout.contains("inf") && !cmp.stdout.contains("NaN"),
            "{}",
            cmp.stdout
        );
        let out = dir.path().join("report");
        let rep = run_once(dir.path(), &["report", a, "--out", out.to_str().unwrap()]);
        assert_eq!(rep.code, 0, "{}{}", rep.stdout, rep.stderr);
    }
}

// ---------------------------------------------------------------------- item 1: -m multiFile

#[test]
fn multifile_path_and_exists_check_use_the_name_without_suffix() {
    let args = [
        "-a", "POSIX", "-w", "-m", "-k", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ];
    let (run, _dir, d) = run_here(&args);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_multifile_m.txt", &run.merged, &d, "/dev/shm/cap/m");
    assert_eq!(key_value(&run.stdout, "Path"), [format!("{d}/f")]);
    assert_eq!(files_in(Path::new(&d)), ["f.0"]);
    // Again, with f.0 kept: IOR looks at f (absent) and does not warn.
    let again = run_again(&d, &args);
    assert_eq!(again.code, 0, "{}", again.merged);
    assert_same_stream(
        "fid_multifile_m_again.txt",
        &again.merged,
        &d,
        "/dev/shm/cap/m2",
    );
    // Two repetitions: f.0 and f.1, the Path still f; JSON's Path too.
    let (run, _dir, d) = run_here(&[
        "-a", "POSIX", "-w", "-r", "-m", "-k", "-i", "2", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_multifile_m_i2.txt", &run.merged, &d, "/dev/shm/cap/mi");
    assert_eq!(files_in(Path::new(&d)), ["f.0", "f.1"]);
    let json = run_again(
        &d,
        &[
            "-a",
            "POSIX",
            "-w",
            "-m",
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "{D}/f",
            "-O",
            "summaryFormat=JSON",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["tests"][0]["Path"], format!("{d}/f"));
    // DUMMY answers every stat: IOR warns about testFile, not testFile.0.
    let (run, _dir, _d) = run_here(&["-a", "DUMMY", "-w", "-m", "-b", "1m", "-t", "256k"]);
    assert!(
        run.stdout
            .contains("WARNING: The file \"testFile\" exists already and will be deleted\n"),
        "{}",
        run.stdout
    );
}

// ------------------------------------------------------------------ item 2: -u unique dirs

#[test]
fn unique_dir_exists_before_the_statfs_of_the_header() {
    let (run, _dir, d) = run_here(&[
        "-a", "POSIX", "-N", "2", "-w", "-F", "-u", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert!(!run.merged.contains("statfs"), "{}", run.merged);
    assert_same_stream("fid_unique_dir_u.txt", &run.merged, &d, "/dev/shm/cap/u");
    assert_eq!(
        key_value(&run.stdout, "Path"),
        [format!("{d}/0/f.00000000")]
    );
    assert_eq!(key_value(&run.stdout, "FS").len(), 1);
    let (run, _dir, d) = run_here(&[
        "-a",
        "POSIX",
        "-N",
        "2",
        "-w",
        "-F",
        "-u",
        "-b",
        "1m",
        "-t",
        "256k",
        "-o",
        "{D}/f",
        "-O",
        "summaryFormat=JSON",
    ]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let t = &v["tests"][0];
    assert_eq!(t["Path"], format!("{d}/0/f.00000000"));
    for k in ["Capacity", "Used Capacity", "Inodes", "Used Inodes"] {
        assert!(t[k].is_string(), "{k} missing: {t}");
    }
}

// ------------------------------------------- item 3: a script test with fewer tasks than the job

#[test]
fn fewer_tasks_than_the_job_keep_the_jobs_tasks_per_node() {
    // Locally the job has as many tasks as the largest test: a 3-task test first, then IOR's
    // fid_script_fewer_tasks.ior test with numTasks=2, as under `mpirun -np 3` (checked in
    // mpi_fewer_tasks_than_the_job below).
    let dir = scratch();
    let d = dir.path().to_str().unwrap().to_string();
    let script = format!(
        "IOR START\n numTasks=3\n blockSize=1m\n transferSize=256k\n writeFile=1\n \
         testFile={d}/g\nRUN\n{}",
        capture("fid_script_fewer_tasks.ior").replace("IOR START\n", "")
    );
    std::fs::write(dir.path().join("s.ior"), script).unwrap();
    let run = run_in(dir.path(), &["-f", "s.ior", "-o", &format!("{d}/f")]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_eq!(key_value(&run.stdout, "tasks"), ["3", "2"]);
    assert_eq!(key_value(&run.stdout, "clients per node"), ["3", "3"]);
    let summary: Vec<Vec<&str>> = lines_starting(&run.stdout, "write  ")
        .iter()
        .map(|l| l.split_whitespace().collect())
        .filter(|t: &Vec<&str>| t.len() == 27)
        .collect();
    assert_eq!(summary.len(), 2, "{}", run.stdout);
    assert_eq!((summary[1][13], summary[1][14]), ("2", "3"), "#Tasks tPN");
    // The IOR capture shows the same for its one test.
    let ior = capture("fid_script_fewer_tasks_np3.txt");
    assert_eq!(key_value(&ior, "clients per node"), ["3"]);
}

// ------------------------------------------------------ item 4: IOR_FAKE_NODES / ..._PER_NODES

#[test]
fn fake_nodes_and_fake_tasks_per_node_as_ior() {
    let (run, _dir, d) = run_here_env(
        &[("IOR_FAKE_NODES", "2")],
        &["-a", "DUMMY", "-N", "2", "-w", "-b", "1m", "-t", "256k"],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_fake_nodes.txt", &run.merged, &d, "");
    assert_eq!(key_value(&run.stdout, "nodes"), ["2"]);
    let (run, _dir, d) = run_here_env(
        &[("IOR_FAKE_TASK_PER_NODES", "1")],
        &[
            "-a", "DUMMY", "-N", "2", "-w", "-b", "1m", "-t", "256k", "-C",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_fake_tasks_per_node.txt", &run.merged, &d, "");
    assert_eq!(key_value(&run.stdout, "nodes"), ["1"]);
    assert_eq!(key_value(&run.stdout, "clients per node"), ["1"]);
    // A value IOR's atoi would read as 0 is refused clearly.
    let (run, _dir, _d) = run_here_env(
        &[("IOR_FAKE_NODES", "two")],
        &["-a", "DUMMY", "-w", "-b", "1m", "-t", "256k"],
    );
    assert_eq!(run.code, 255, "{}", run.merged);
    assert!(run.stderr.contains("IOR_FAKE_NODES=two"), "{}", run.stderr);
}

// ------------------------------------------------------------------ item 7: -v with -W

#[test]
fn verbose_check_write_prints_the_verifying_line_and_date() {
    let (run, _dir, d) = run_here(&[
        "-a", "POSIX", "-N", "2", "-v", "-w", "-W", "-b", "1m", "-t", "256k", "-G", "5", "-o",
        "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream(
        "fid_verbose_check_write.txt",
        &run.merged,
        &d,
        "/dev/shm/cap/vw",
    );
}

// -------------------------------------------------------------- item 8: -a posix as typed

#[test]
fn api_name_is_kept_as_typed() {
    let (run, _dir, d) = run_here(&["-a", "posix", "-w", "-b", "1m", "-t", "256k", "-o", "{D}/f"]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_api_lowercase.txt", &run.merged, &d, "/dev/shm/cap/lc");
    assert_eq!(key_value(&run.stdout, "api"), ["posix"]);
    let (run, _dir, _d) = run_here(&[
        "-a",
        "posix",
        "-w",
        "-b",
        "1m",
        "-t",
        "256k",
        "-o",
        "{D}/f",
        "-O",
        "summaryFormat=JSON",
    ]);
    let ours: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let ior: serde_json::Value =
        serde_json::from_str(&capture("fid_api_lowercase_json.txt")).expect("IOR JSON");
    for v in [&ours, &ior] {
        assert_eq!(v["tests"][0]["Parameters"]["api"], "posix");
        assert_eq!(v["tests"][0]["Options"]["api"], "posix");
        assert_eq!(v["summary"][0]["API"], "posix");
    }
}

// ---------------------------------------------------------------- item 9: IOR's line order

#[test]
fn signature_line_comes_before_the_table_header() {
    let (run, _dir, d) = run_here(&[
        "-a", "POSIX", "-N", "2", "-vv", "-w", "-r", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream(
        "fid_vv_signature_order.txt",
        &run.merged,
        &d,
        "/dev/shm/cap/vv",
    );
    // The long Machine line (uname's five fields), as in the capture.
    let machine = key_value(&run.stdout, "Machine");
    let ior = capture("fid_vv_signature_order.txt");
    assert_eq!(
        machine[0].split_whitespace().count(),
        key_value(&ior, "Machine")[0].split_whitespace().count()
    );
}

#[test]
fn failed_check_reports_before_the_size_warnings() {
    let (run, _dir, d) = run_here(&[
        "-a", "DUMMY", "-N", "2", "-w", "-r", "-R", "-G", "1", "-b", "1m", "-t", "256k",
    ]);
    // IOR exits 8 here (it counts every bad transfer twice); ours is the number of bad
    // transfers (README: differences).
    assert_eq!(run.code, 4, "{}", run.merged);
    assert!(capture("fid_dummy_check_fail.txt").contains("Exit code:    8"));
    assert_same_stream("fid_dummy_check_fail.txt", &run.merged, &d, "");
}

// --------------------------------------------- item 10: -vv JSON Machine, -vvv environment

/// `uname`'s sysname, nodename, release, version and machine, as IOR prints them at -vv.
fn uname_long() -> String {
    let out = std::process::Command::new("uname")
        .args(["-s", "-n", "-r", "-v", "-m"])
        .output()
        .expect("uname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn json_machine_is_the_long_form_at_vv() {
    let (run, _dir, _d) = run_here(&[
        "-a",
        "POSIX",
        "-vv",
        "-w",
        "-b",
        "1m",
        "-t",
        "256k",
        "-o",
        "{D}/f",
        "-O",
        "summaryFormat=JSON",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    assert_eq!(v["Machine"], uname_long());
    // IOR's capture: the long form too (its stdout also holds a log line: not JSON).
    let ior = capture("fid_vv_json.stdout");
    let line = ior.lines().find(|l| l.contains("\"Machine\"")).unwrap();
    assert!(line.split_whitespace().count() >= 8, "{line}");
    assert!(run.stderr.contains("Using Time Stamp"), "{}", run.stderr);
}

#[test]
fn vvv_prints_the_environment_block_after_the_machine_line() {
    let env = [("FID_MARKER", "environ-block")];
    let (run, _dir, _d) = run_here_env(
        &env,
        &["-vvv", "-a", "DUMMY", "-w", "-b", "64k", "-t", "64k"],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    let ours: Vec<&str> = run.merged.lines().collect();
    let ior_text = capture("fid_vvv_environ.txt");
    let ior: Vec<&str> = ior_text.lines().collect();
    for lines in [&ours, &ior] {
        let m = lines
            .iter()
            .position(|l| l.starts_with("Machine "))
            .unwrap();
        assert_eq!(lines[m + 1], "STARTING ENVIRON LOOP");
        let end = lines
            .iter()
            .position(|l| *l == "ENDING ENVIRON LOOP")
            .unwrap();
        assert!(lines[m + 2..end].contains(&"FID_MARKER=environ-block"));
        assert!(lines[m + 2..end].iter().all(|l| l.contains('=')));
    }
    // Exactly our environment (the run without a shell in between).
    let ours: Vec<&str> = run.stdout.lines().collect();
    let m = ours.iter().position(|l| l.starts_with("Machine ")).unwrap();
    let end = ours
        .iter()
        .position(|l| *l == "ENDING ENVIRON LOOP")
        .unwrap();
    let block: Vec<&str> = ours[m + 2..end].to_vec();
    let mut vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    vars.push("FID_MARKER=environ-block".into());
    for l in &block {
        assert!(vars.iter().any(|v| v == l), "not in the environment: {l}");
    }
    // JSON: the block goes with the other log lines to stderr, stdout stays JSON.
    let (run, _dir, _d) = run_here_env(
        &env,
        &[
            "-vvv",
            "-a",
            "DUMMY",
            "-w",
            "-b",
            "64k",
            "-t",
            "64k",
            "-O",
            "summaryFormat=JSON",
        ],
    );
    serde_json::from_str::<serde_json::Value>(&run.stdout).expect("valid JSON");
    assert!(
        run.stderr.contains("STARTING ENVIRON LOOP\n"),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------- item 11: warnings IOR does not print

#[test]
fn no_warning_for_z_with_a_single_task() {
    let (run, _dir, d) = run_here(&[
        "-a", "POSIX", "-w", "-r", "-Z", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_single_task_Z.txt", &run.merged, &d, "/dev/shm/cap/z1");
    // benchfs-bench's own hint is shown with -v only.
    let (run, _dir, _d) = run_here(&[
        "-v", "-a", "POSIX", "-w", "-r", "-Z", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert!(
        run.stdout.contains("-Z (reorderTasksRandom) has no effect"),
        "{}",
        run.stdout
    );
}

// ----------------------------------------- item 15: IOR's lines on stdout, in IOR's order

#[test]
fn text_mode_keeps_iors_lines_on_stdout_in_order() {
    let (run, _dir, d) = run_here(&[
        "-a", "DUMMY", "-N", "2", "-w", "-r", "-R", "-G", "1", "-b", "1m", "-t", "256k",
    ]);
    // stdout alone is IOR's stdout; nothing of IOR's is left on stderr.
    let exp = ior_stream("fid_split_check_fail.stdout");
    if let Some(diff) = masked_diff(&exp, &run.stdout.replace(&d, "")) {
        panic!("stdout differs from IOR's\n{diff}\n{}", run.stdout);
    }
    assert_eq!(run.stderr, "", "IOR's lines belong on stdout");
    assert!(!capture("fid_split_check_fail.stderr").contains("WARNING"));
}

#[test]
fn stonewall_lines_on_stdout_and_import_finds_them() {
    let (run, _dir, d) = run_here(&[
        "-a",
        "DUMMY",
        "-N",
        "2",
        "-w",
        "-r",
        "-D",
        "1",
        "-O",
        "stoneWallingWearOut=1",
        "-b",
        "100m",
        "-t",
        "1m",
        "--dummy.delay-xfer=50000",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    let exp = ior_stream("fid_split_stonewall.stdout");
    if let Some(diff) = masked_diff(&exp, &run.stdout) {
        panic!("stdout differs from IOR's\n{diff}\n{}", run.stdout);
    }
    assert_eq!(run.stderr, "");
    // Our own stdout imports with its stonewall figures.
    let out = Path::new(&d).join("out.txt");
    std::fs::write(&out, &run.stdout).unwrap();
    let doc = Path::new(&d).join("doc.json");
    let imp = run_once(
        Path::new(&d),
        &["import", out.to_str().unwrap(), "-o", doc.to_str().unwrap()],
    );
    assert_eq!(imp.code, 0, "{}{}", imp.stdout, imp.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&doc).unwrap()).unwrap();
    let row = &v["tests"][0]["results"][0];
    assert_eq!(row["access"], "write");
    assert!(
        row["stonewall"]["pairs_max"]
            .as_i64()
            .is_some_and(|p| p > 0),
        "{row}"
    );
}

// ------------------------------------------------- item 6: grouped short flags as IOR reads them

#[test]
fn group_with_a_dash_inside_is_read_as_ior_does() {
    // IOR's complex-tests.sh writes `-z-k`: IOR reads `-z -k` (random offsets, file kept).
    let (run, dir, d) = run_here(&[
        "-a", "POSIX", "-w", "-z-k", "-b", "1m", "-t", "256k", "-o", "{D}/f",
    ]);
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream("fid_group_z_k.txt", &run.merged, &d, "/dev/shm/cap/zk");
    assert_eq!(key_value(&run.stdout, "ordering in a file"), ["random"]);
    assert_eq!(files_in(dir.path()), ["f"], "-k keeps the file");
}

// ----------------------------------------------------- items 12, 13: bad input in IOR's words

/// The first line of a capture that is IOR's (not mpirun's), without IOR's `, (file.c:N)`
/// source location, and with a `FailMessage` timestamp cut off.
fn ior_error_line(capture_name: &str) -> String {
    let text = capture(capture_name);
    let line = text
        .lines()
        .find(|l| {
            ["ERROR", "Error", "Could not"]
                .iter()
                .any(|p| l.starts_with(p))
                || l.contains("FAILED in")
        })
        .unwrap_or_else(|| panic!("{capture_name}: no error line"));
    let line = line.split(", (").next().unwrap_or(line);
    strip_fail_timestamp(line).to_string()
}

/// `MM/DD/YYYY HH:MM:SS: Process 0: FAILED in …` without its timestamp.
fn strip_fail_timestamp(line: &str) -> &str {
    match line.find(": Process 0: ") {
        Some(p) if p == 19 => &line[p + 2..],
        _ => line,
    }
}

/// The exit status of a capture (what mpirun returned for IOR).
fn capture_status(capture_name: &str) -> i32 {
    let name = capture_name.replace(".txt", ".status");
    capture(&name).trim().parse().expect("status")
}

#[test]
fn bad_input_is_reported_in_iors_words_with_iors_exit_status() {
    // (capture, our arguments, the value our message adds after IOR's words)
    let cases: &[(&str, &[&str], &str)] = &[
        ("err_missing_value.txt", &["-w", "-b"], ""),
        (
            "err_missing_script.txt",
            &["-f", "{D}/nothere.ior"],
            "nothere.ior\": No such file",
        ),
        ("err_api_nope.txt", &["-O", "api=NOPE"], "(known: POSIX, "),
        (
            "err_api_nope_a.txt",
            &["-a", "NOPE"],
            ": NOPE (known: POSIX, ",
        ),
        (
            "err_summary_xml.txt",
            &["-O", "summaryFormat=XML"],
            "\"XML\"",
        ),
        (
            "err_summaryfile_dir.txt",
            &["-a", "DUMMY", "-O", "summaryFile={D}/nodir/out.txt"],
            "nodir/out.txt\": No such file",
        ),
        (
            "err_dual_mount.txt",
            &["-a", "DUMMY", "-y"],
            "(-y without -F)",
        ),
        (
            "err_packet_type.txt",
            &["-a", "DUMMY", "-l", "x"],
            "-l / dataPacketType takes offset, incompressible, timestamp or random",
        ),
        (
            "err_open_missing.txt",
            &["-r", "-b", "1m", "-t", "1m", "-o", "{D}/nofile"],
            "",
        ),
    ];
    for (name, args, added) in cases {
        let (run, _dir, d) = run_here(args);
        let ior = ior_error_line(name).replace("/dev/shm/cap/e", &d);
        let ours = run
            .stderr
            .lines()
            .map(strip_fail_timestamp)
            .find(|l| l.starts_with(ior.as_str()))
            .unwrap_or_else(|| panic!("{name}: IOR's `{ior}` missing from\n{}", run.merged));
        // The value and the reason follow on the same line or the next.
        let at = run.stderr.find(ours).expect("line of stderr");
        let after: String = run.stderr[at..].lines().take(2).collect();
        assert!(
            after.contains(added),
            "{name}: `{added}` missing from `{after}`"
        );
        assert_eq!(run.code, capture_status(name), "{name}: exit status");
        // Every line of ours is on one rank's stderr once, never on stdout.
        assert!(!run.stdout.contains(ior.as_str()), "{name}: {}", run.stdout);
    }
}

#[test]
fn bad_argument_ends_with_invalid_options_and_the_usage_text() {
    let (run, _dir, _d) = run_here(&["--foo"]);
    assert_eq!(run.code, capture_status("err_bad_argument.txt"));
    let ours: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        ours[..2],
        ["Error invalid argument: --foo", "Invalid options"]
    );
    assert!(ours[2].starts_with("Synopsis "), "{}", run.stderr);
    // IOR's usage text, line for line, but for what a build has: IOR's MPIIO module (not
    // ours), the backend list of -a and the program name.
    let capture = capture("err_bad_argument.txt");
    let mut in_mpiio = false;
    for line in capture.lines().skip(3) {
        if line.starts_with("-----") {
            break;
        }
        if line.starts_with("Module ") {
            in_mpiio = line == "Module MPIIO";
        }
        if in_mpiio || line.starts_with("  -a=POSIX ") || line.is_empty() {
            continue;
        }
        assert!(ours.contains(&line), "IOR's usage line `{line}` missing");
    }
}

#[test]
fn too_few_repetitions_are_refused_clearly() {
    // IOR fails -i -2 allocating its results (`Could not malloc an array`, exit 255) and
    // resets -i 0 to 1 after sizing them for 0 (it may crash: err_reps_zero_stonewall.txt,
    // exit 134). Ours refuses both with the value, exit 255.
    assert!(ior_error_line("err_reps_negative.txt").contains("Could not malloc"));
    assert_eq!(capture_status("err_reps_zero_stonewall.txt"), 134);
    for reps in ["-2", "0"] {
        let (run, dir, _d) = run_here(&[
            "-a", "POSIX", "-w", "-i", reps, "-b", "1m", "-t", "256k", "-o", "{D}/f",
        ]);
        assert_eq!(run.code, 255, "{}", run.merged);
        assert_eq!(
            run.stderr.trim_end(),
            format!("ERROR: too few test repetitions: -i {reps} (at least 1 is needed)")
        );
        assert_eq!(run.stdout, "", "nothing runs");
        assert!(files_in(dir.path()).is_empty());
    }
}

// ------------------------------------------ interIODelay: not after -W / -R check transfers

#[test]
fn inter_io_delay_is_not_applied_to_check_transfers() {
    // IOR sleeps interIODelay after WRITE and READ transfers only: the -R read (a READCHECK,
    // timed) and the -W pass (WRITECHECK) are not delayed (fid_interiodelay_checks.txt: write
    // 1.01 s, read 0.000029 s with a 1 s delay).
    let delay = 1.0;
    let ior = ior_stream("fid_interiodelay_checks.txt");
    assert!(row_value(&ior, "write", 7) >= delay);
    assert!(row_value(&ior, "read", 7) < delay);
    let start = std::time::Instant::now();
    let (run, _dir, d) = run_here(&[
        "-a",
        "POSIX",
        "-w",
        "-W",
        "-r",
        "-R",
        "-G",
        "7",
        "-b",
        "64k",
        "-t",
        "64k",
        "-O",
        "interIODelay=1000000",
        "-o",
        "{D}/f",
    ]);
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{}", run.merged);
    assert_same_stream(
        "fid_interiodelay_checks.txt",
        &run.merged,
        &d,
        "/dev/shm/cap/iod",
    );
    // The sleep bounds the delayed transfers from below: the write took at least the delay,
    // the -R read, one 64 KiB read from tmpfs, far less.
    assert!(
        row_value(&run.stdout, "write", 7) >= delay,
        "{}",
        run.stdout
    );
    assert!(row_value(&run.stdout, "read", 7) < delay, "{}", run.stdout);
    // run_here runs the command twice (merged and split streams). Delaying the -W pass too
    // (and the -R read) would take at least 6 s of sleep; IOR's one delayed write per run 2 s.
    assert!(
        wall < 6.0 * delay,
        "wall {wall} s: check transfers were delayed"
    );
}
