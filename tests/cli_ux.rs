//! What a user meets first, through the benchfs-bench binary: checks made before any I/O
//! (unwritable `--json`, a registry that does not exist, servers awaited with a count).

mod common;

use common::run::{files_in, run_once, scratch};
use std::time::{Duration, Instant};

#[test]
fn an_unwritable_json_path_fails_before_any_io() {
    let dir = scratch();
    let data = dir.path().join("data");
    let json = dir.path().join("no/such/dir/doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-b",
            "1m",
            "-t",
            "256k",
            "-w",
            "-o",
            data.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(run.stderr.contains("cannot write --json"), "{}", run.stderr);
    assert!(run.stderr.contains("no/such/dir"), "{}", run.stderr);
    // Nothing was written: the test never started.
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    assert!(!run.stdout.contains("Began"), "{}", run.stdout);
}

#[test]
fn a_missing_registry_fails_at_once() {
    let dir = scratch();
    let reg = dir.path().join("no-registry");
    let t = Instant::now();
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            "--benchfs.registry",
            reg.to_str().unwrap(),
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "/f",
        ],
    );
    // The default --benchfs.timeout is 30 s: failing at once means well under it.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(run.stderr.contains("no-registry"), "{}", run.stderr);
}

#[test]
fn servers_are_awaited_with_a_count_within_the_timeout() {
    let dir = scratch();
    let reg = dir.path().join("reg");
    benchfs::fs::registry::Registry::new(&reg)
        .create_or_join(3, 1 << 20)
        .unwrap();
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "BENCHFS",
            "--benchfs.registry",
            reg.to_str().unwrap(),
            "--benchfs.timeout",
            "1",
            "-b",
            "1m",
            "-t",
            "256k",
            "-o",
            "/f",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(
        run.stderr
            .contains("waiting for servers: 0 of 3 registered"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--benchfs.timeout"), "{}", run.stderr);
}

#[test]
fn help_lists_the_subcommands_after_the_ior_synopsis() {
    let dir = scratch();
    let run = run_once(dir.path(), &["--help"]);
    // IOR's exit status for -h.
    assert_eq!(run.code, 1, "{}", run.merged);
    assert!(run.stdout.starts_with("Synopsis benchfs-bench\n"));
    let at = run
        .stdout
        .find("Subcommands (benchfs-bench SUBCOMMAND --help)")
        .expect("a subcommand section");
    assert!(at > run.stdout.find("Module POSIX").unwrap());
    for sub in [
        "import",
        "compare",
        "report",
        "export",
        "sweep",
        "mdtest",
        "io500",
        "crosscheck",
        "version",
        "completions",
        "man",
    ] {
        assert!(
            run.stdout[at..].contains(&format!("\n  {sub} ")),
            "{sub} missing:\n{}",
            &run.stdout[at..]
        );
    }
}

#[test]
fn version_prints_the_exact_build() {
    let dir = scratch();
    let sub = run_once(dir.path(), &["version"]);
    assert_eq!(sub.code, 0, "{}", sub.merged);
    let flag = run_once(dir.path(), &["--version"]);
    assert_eq!(flag.code, 0, "{}", flag.merged);
    assert_eq!(sub.stdout, flag.stdout);
    let first = sub.stdout.lines().next().unwrap();
    assert_eq!(
        first,
        format!("benchfs-bench {}", env!("CARGO_PKG_VERSION"))
    );
    let commit = sub
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("commit"))
        .expect("a commit line")
        .trim();
    assert!(commit.len() >= 7 && commit != "unknown", "{commit}");
    assert!(sub.stdout.contains("\nfeatures  "), "{}", sub.stdout);
    let json = run_once(dir.path(), &["version", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["git_commit"].as_str(), Some(commit));
    // -V keeps IOR's meaning: an option IOR 4 removed.
    let v = run_once(dir.path(), &["-V"]);
    assert_eq!(v.code, 1);
    assert!(v.stderr.contains("useFileView"), "{}", v.stderr);
    assert!(v.stderr.contains("--version"), "{}", v.stderr);
}

#[test]
fn completions_and_man_pages_come_from_the_definitions() {
    let dir = scratch();
    let bash = run_once(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    // IOR options from the option table, subcommands from clap, backends for -a.
    for word in [
        "--collective",
        "--posix.odirect",
        "compare",
        "--threshold",
        "BENCHFS",
        "mdtest",
        "--config-hash",
        "md-workbench",
        "--precreate-per-set",
    ] {
        assert!(bash.stdout.contains(word), "{word} not completed");
    }
    let server = run_once(
        dir.path(),
        &["completions", "zsh", "--bin", "benchfs-server"],
    );
    assert_eq!(server.code, 0, "{}", server.stderr);
    assert!(server.stdout.contains("--data-dir"), "{}", server.stdout);

    let man = run_once(dir.path(), &["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH benchfs-bench"));
    assert!(
        man.stdout.contains("blockSize"),
        "the IOR options are in the page"
    );
    let out = dir.path().join("man1");
    let all = run_once(dir.path(), &["man", "--out-dir", out.to_str().unwrap()]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let pages = files_in(&out);
    for p in [
        "benchfs-bench.1",
        "benchfs-bench-compare.1",
        "benchfs-bench-report.1",
        "benchfs-bench-mdtest.1",
        "benchfs-bench-md-workbench.1",
        "benchfs-bench-io500.1",
        "benchfs-server.1",
    ] {
        assert!(pages.contains(&p.to_string()), "{p} not in {pages:?}");
    }
    let compare = std::fs::read_to_string(out.join("benchfs-bench-compare.1")).unwrap();
    assert!(compare.contains("allow\\-insufficient"), "{compare}");
}

#[test]
fn unknown_options_suggest_and_bad_values_are_named() {
    let dir = scratch();
    let d = dir.path().to_str().unwrap();
    let f = format!("{d}/f");
    let case = |args: &[&str], want: &str| {
        let run = run_once(dir.path(), args);
        // IOR's statuses: 1 for a bad option or value, 255 (its -1) for a bad directive
        // and a test that does not validate.
        let code = if args.contains(&"-O") || args.contains(&"-a") || args.contains(&"-t") {
            255
        } else {
            1
        };
        assert_eq!(run.code, code, "{args:?}: {}", run.merged);
        assert!(
            run.stderr.contains(want),
            "{args:?}: want {want:?} in\n{}",
            run.stderr
        );
    };
    case(
        &["--blocksize", "4m", "-o", &f],
        "Error invalid argument: --blocksize (did you mean -b, blockSize?)",
    );
    case(&["--colective", "-o", &f], "(did you mean --collective?)");
    case(
        &["-O", "transferSise=1m", "-o", &f],
        "Unrecognized parameter \"transferSise\" (did you mean transferSize?)",
    );
    case(&["-b", "1x", "-o", &f], "invalid size \"1x\" for -b");
    case(
        &["-a", "LUSTRE", "-o", &f],
        "ERROR: Unrecognized I/O API: LUSTRE (known: POSIX, DUMMY, MMAP, BENCHFS)",
    );
    case(
        &["-b", "1m", "-t", "4m", "-o", &f],
        "(-b 1048576 = 1 MiB, -t 4194304 = 4 MiB)",
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn the_cycle_counter_clock_is_calibrated_before_the_engine_starts() {
    // quanta calibrates on first use (10 to 200 ms); inside a timed phase that made short
    // phases up to 0.2 s slower. Every engine run calibrates once, at start, and logs it.
    let dir = scratch();
    let env = [("RUST_LOG", "benchfs=debug")];
    for args in [
        &["-a", "DUMMY", "-b", "64k", "-t", "4k", "-w"][..],
        &["mdtest", "-a", "DUMMY", "-n", "10", "-F"][..],
    ] {
        let run = common::run::run_in_env(dir.path(), &env, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.merged);
        let lines = run
            .stderr
            .lines()
            .filter(|l| l.contains("calibrated the cycle-counter clock in"))
            .count();
        assert_eq!(lines, 1, "{args:?}: {}", run.stderr);
        // The log went to stderr; the results on stdout are whole.
        assert!(
            run.stdout.contains("Finished") || run.stdout.contains("-- finished"),
            "{}",
            run.stdout
        );
    }
}
