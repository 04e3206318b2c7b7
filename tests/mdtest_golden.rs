//! Golden tests of `benchfs-bench mdtest` against real mdtest 4.1 outputs: every
//! `mdtest_*.txt` of SPEC's examples (`tests/data/ior-examples/`) and the captures of
//! `tests/data/mdtest-examples/`.
//!
//! Each test runs the example's own command line (its `Command line used:` line) with
//! `--tasks N` local tasks and the example's directories moved into a scratch directory, takes
//! stdout and stderr as one stream (what mdtest prints in one), and compares it with the
//! example line for line with [`masked_diff`]: numbers (timings, rates, dates, seeds) are
//! masked, every other token and every column must match. Before comparing: the values of
//! `Command line used:` (program name and the added `--tasks`) are masked, our scratch paths
//! are written back as the example's, and the ` (benchfs-bench X.Y)` mdtest's version line
//! gains is dropped; from the example, the DUMMY backend's `WARNING: DUMMY initialized` /
//! `finalized` lines (our DUMMY does not print) and MPI's abort banners are removed.

mod common;

use common::golden::masked_diff;
use common::run::{bin, scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn data(dir: &str, name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The arguments of a `Command line used: prog 'a' 'b' ...` line.
fn example_args(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("Command line used: "))
        .expect("a Command line used line");
    line.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Directory prefixes of the examples, moved into the scratch directory.
const PREFIXES: [&str; 4] = [
    "/dev/shm/mdcap",
    "/tmp/mdcap",
    "/dev/shm/mdt",
    "/scratch/iortest",
];

struct Paths {
    root: PathBuf,
}

impl Paths {
    fn ours(&self, i: usize) -> String {
        self.root.join(format!("p{i}")).display().to_string()
    }

    fn to_ours(&self, arg: &str) -> String {
        let mut s = arg.to_string();
        for (i, p) in PREFIXES.iter().enumerate() {
            s = s.replace(p, &self.ours(i));
        }
        s
    }

    fn to_example(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (i, p) in PREFIXES.iter().enumerate() {
            s = s.replace(&self.ours(i), p);
        }
        s
    }
}

/// Runs `args` (example paths replaced) with `tasks` local tasks in one stream.
fn run_ours(paths: &Paths, args: &[String], tasks: usize, extra: &[&str]) -> (String, i32) {
    for i in 0..PREFIXES.len() {
        std::fs::create_dir_all(paths.ours(i)).unwrap();
    }
    let mut a: Vec<String> = vec!["--tasks".into(), tasks.to_string()];
    a.extend(args.iter().map(|a| paths.to_ours(a)));
    a.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(bin())
        .arg("mdtest")
        .args(&a)
        .current_dir(&paths.root)
        .stdin(Stdio::null())
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMIX_RANK")
        .env_remove("BENCHFS_MPI")
        .env_remove("IOR_FAKE_TASK_PER_NODES")
        .output()
        .expect("run benchfs-bench");
    (
        paths.to_example(&String::from_utf8_lossy(&out.stdout)),
        out.status.code().unwrap_or(-1),
    )
}

fn normalize(text: &str, ours: bool) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        if !ours
            && (line == "WARNING: DUMMY initialized"
                || line == "WARNING: DUMMY finalized"
                || is_mpi_banner(line))
        {
            continue;
        }
        let line = if line.starts_with("Command line used: ") {
            "Command line used: <masked>".to_string()
        } else if ours && line.starts_with("mdtest-") {
            match line.find(" (benchfs-bench ") {
                Some(i) => line[..i].to_string(),
                None => line.to_string(),
            }
        } else {
            line.to_string()
        };
        out.push(line);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn is_mpi_banner(line: &str) -> bool {
    line.starts_with("-----")
        || line.starts_with("MPI_ABORT was invoked")
        || line.starts_with("with errorcode")
        || line.starts_with("NOTE: invoking MPI_ABORT")
        || line.starts_with("You may or may not see")
        || line.starts_with("exactly when Open MPI")
        || line.starts_with("Primary job")
        || line.starts_with("a non-zero exit code")
        || line.starts_with("mpirun detected")
        || line.starts_with("the job to be terminated")
        || line.starts_with("  Process name:")
        || line.starts_with("  Exit code:")
}

/// Runs the example `name` of `dir` with `tasks` tasks and compares; returns our output.
fn check(dir: &str, name: &str, tasks: usize) -> String {
    check_with(dir, name, tasks, &[], |e, _| e)
}

fn check_with(
    dir: &str,
    name: &str,
    tasks: usize,
    extra: &[&str],
    adjust: impl FnOnce(String, &str) -> String,
) -> String {
    let expected = data(dir, name);
    let root = scratch();
    let paths = Paths {
        root: root.path().to_path_buf(),
    };
    let (ours, code) = run_ours(&paths, &example_args(&expected), tasks, extra);
    assert_eq!(code, 0, "{name}: exit status {code}\n{ours}");
    let exp = adjust(normalize(&expected, false), &ours);
    let act = normalize(&ours, true);
    if let Some(diff) = masked_diff(&exp, &act) {
        panic!("{name} differs from mdtest:\n{diff}\n--- ours ---\n{act}");
    }
    ours
}

const SHARED: &str = "ior-examples";
const CAPTURED: &str = "mdtest-examples";

#[test]
fn shm_n1000_i3() {
    check(SHARED, "mdtest_shm_n1000_i3.txt", 2);
}

#[test]
fn tmp_tree_p() {
    check(SHARED, "mdtest_tmp_tree_P.txt", 2);
}

#[test]
fn shm_n4_verbose() {
    check(SHARED, "mdtest_shm_n4_v.txt", 2);
}

#[test]
fn shm_files_two_iterations() {
    check(SHARED, "mdtest_shm_F_n2000_i2.txt", 2);
}

#[test]
fn shm_directories_only() {
    check(SHARED, "mdtest_shm_D_n1000.txt", 2);
}

#[test]
fn shm_write_read_stride_random() {
    check(SHARED, "mdtest_shm_w_e_N1_R.txt", 2);
}

#[test]
fn shm_stonewall() {
    // The `Continue stonewall hit` line is there when the ranks' counts at the wall differ
    // (they do in practice; the document says whether they did).
    let root = scratch();
    let json = root.path().join("sw.json");
    let json_s = json.display().to_string();
    check_with(
        SHARED,
        "mdtest_shm_stonewall_W1.txt",
        2,
        &["--json", &json_s],
        |exp, _| {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            let sw = &doc["mdtest"]["runs"][0]["phases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["op"] == "file_create")
                .unwrap()["stonewall"];
            assert!(sw["items_max"].as_u64().unwrap() > 0, "{sw}");
            if sw["hit"] == true {
                exp
            } else {
                exp.lines()
                    .filter(|l| !l.starts_with("Continue stonewall"))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
                    .replacen("\n\n\n", "\n\n", 1)
            }
        },
    );
}

#[test]
fn shm_only_create_and_stat() {
    check(SHARED, "mdtest_shm_C_T_E_r_phases.txt", 2);
}

#[test]
fn shm_verify_read() {
    check(SHARED, "mdtest_shm_verify_X.txt", 2);
}

#[test]
fn shm_rank_statistics() {
    check(SHARED, "mdtest_shm_rank_stats.txt", 2);
}

#[test]
fn dummy_backend() {
    check(SHARED, "mdtest_dummy_n1000.txt", 2);
}

#[test]
fn captured_outputs() {
    for (name, tasks) in [
        ("Z_time.txt", 2),
        ("P_rate_time_i2.txt", 2),
        ("rankstats_P.txt", 2),
        ("all_procs.txt", 2),
        ("sweep_f1_l2.txt", 2),
        ("tree_I.txt", 2),
        ("leaf_L.txt", 2),
        ("shared_S.txt", 2),
        ("collective_c.txt", 2),
        ("mknod_k.txt", 2),
        ("paths_u.txt", 2),
        ("random_seed.txt", 2),
        ("verify_write.txt", 2),
        ("rename_D_CUr.txt", 2),
        ("y_Y_t.txt", 2),
        ("np3_u_N1.txt", 3),
        ("v_u_F.txt", 2),
        ("vv_F.txt", 2),
    ] {
        check(CAPTURED, name, tasks);
    }
}

#[test]
fn help_is_mdtests() {
    let ours = Command::new(bin())
        .args(["mdtest", "--help"])
        .output()
        .expect("run");
    assert_eq!(ours.status.code(), Some(1));
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    let theirs = data(SHARED, "mdtest_help.txt");
    // mdtest's own options, line for line (the -a line lists our backends).
    let core = |t: &str| -> Vec<String> {
        t.lines()
            .skip(1)
            .take_while(|l| !l.starts_with("Module "))
            .filter(|l| !l.starts_with("  -a="))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(core(&ours), core(&theirs));
    assert_eq!(ours.lines().next(), Some("Synopsis benchfs-bench mdtest"));
    assert!(
        ours.contains("\n  -a=STRING                     API for I/O [POSIX|DUMMY|MMAP|BENCHFS]\n")
    );
    // The POSIX and DUMMY module sections as mdtest's.
    let module = |text: &str, m: &str| -> String {
        let start = text.find(&format!("Module {m}\n")).unwrap();
        let rest = &text[start..];
        let end = rest[1..].find("\n\n\n").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    };
    assert_eq!(module(&ours, "POSIX"), module(&theirs, "POSIX"));
    assert_eq!(module(&ours, "DUMMY"), module(&theirs, "DUMMY"));
}

#[test]
fn bad_option_is_mdtests() {
    let root = scratch();
    let paths = Paths {
        root: root.path().to_path_buf(),
    };
    let (ours, code) = run_ours(&paths, &["--foo".to_string()], 1, &[]);
    assert_eq!(code, 1);
    let theirs = data(SHARED, "mdtest_err_bad_opt.txt");
    let first: Vec<&str> = theirs.lines().take(3).collect();
    let mine: Vec<&str> = ours.lines().take(3).collect();
    assert_eq!(first[0], mine[0]);
    assert_eq!(first[1], mine[1]);
    assert_eq!(mine[2], "Synopsis benchfs-bench mdtest");
}

/// The `FAILED in <function>, <message>` line of an mdtest error capture.
fn failed_line(text: &str) -> String {
    let l = text
        .lines()
        .find(|l| l.contains(": FAILED in "))
        .expect("a FAILED line");
    l[l.find("Process").unwrap()..].to_string()
}

#[test]
fn invalid_combinations_are_mdtests_and_touch_nothing() {
    for name in [
        "err_c_S.txt",
        "err_u_S.txt",
        "err_W_b.txt",
        "err_X_noE.txt",
        "err_X_noe.txt",
        "err_b0.txt",
        "err_c_paths.txt",
        "err_depth.txt",
        "err_e_gt_w.txt",
        "err_f_l.txt",
        "err_k_w.txt",
        "err_l_big.txt",
        "err_n_I.txt",
        "err_paths.txt",
        "err_paths_N.txt",
        "err_paths_shared.txt",
        "err_u_n_I.txt",
    ] {
        let text = data(CAPTURED, name);
        let root = scratch();
        let paths = Paths {
            root: root.path().to_path_buf(),
        };
        let (ours, code) = run_ours(&paths, &example_args(&text), 2, &[]);
        assert_eq!(code, 1, "{name}: {ours}");
        assert_eq!(
            failed_line(&ours),
            failed_line(&text),
            "{name}: ours {ours}"
        );
        // Nothing was created: the test directories are still empty.
        for i in 0..PREFIXES.len() {
            let n = std::fs::read_dir(paths.ours(i)).unwrap().count();
            assert_eq!(n, 0, "{name} created something in {}", paths.ours(i));
        }
    }
    // Our fix: -B alone works; with -N or -c it is refused with mdtest's wording.
    for (args, want) in [
        ("-B 1 -N 1 -n 10", "Process 0: FAILED in md_validate_tests_rank0, Possible race conditions will occur: -B not compatible with -N"),
        ("-c -B 1 -n 10", "Process 0: FAILED in md_validate_tests_rank0, -c not compatible with -B"),
        ("-W 1 -B 1 -n 10", "Process 0: FAILED in md_validate_tests_rank0, Error, stone wall timer does only work with a branch factor <= 1 (current is 1) and with barriers"),
    ] {
        let root = scratch();
        let paths = Paths {
            root: root.path().to_path_buf(),
        };
        let a: Vec<String> = args.split(' ').map(String::from).collect();
        let (ours, code) = run_ours(&paths, &a, 2, &["-d", &paths.ours(0)]);
        assert_eq!(code, 1, "{args}: {ours}");
        assert_eq!(failed_line(&ours), want, "{args}");
    }
    for (args, want) in [
        ("-a NOPE -n 10", "ERROR: Unrecognized I/O API \"NOPE\""),
        (
            "--dataPacketType=x -n 10",
            "ERROR: Unknown packet type \"x\"",
        ),
        ("-n", "Error, argument missing for option n"),
    ] {
        let root = scratch();
        let paths = Paths {
            root: root.path().to_path_buf(),
        };
        let a: Vec<String> = args.split(' ').map(String::from).collect();
        let (ours, code) = run_ours(&paths, &a, 1, &[]);
        assert_eq!(code, 1, "{args}: {ours}");
        assert!(ours.starts_with(want), "{args}: {ours}");
    }
}

#[test]
fn b_alone_runs_without_barriers() {
    let root = scratch();
    let d = root.path().join("nob");
    let out = Command::new(bin())
        .args(["mdtest", "-B", "1", "-n", "20", "-e", "0", "-F", "-d"])
        .arg(&d)
        .args(["--tasks", "2"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("   File creation "), "{text}");
    assert!(
        !Path::new(&d).exists(),
        "the test directory is removed at the end"
    );
}
