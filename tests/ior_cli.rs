//! End to end through the benchfs-bench binary: JSON validity in every mode, stonewalling with
//! wear-out, task reordering with emulated nodes, random offsets, the result document, bad
//! input (clear message, exit status 1, no file touched).

mod common;

use common::run::{files_in, run_in, run_once, scratch};
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not valid JSON ({e}):\n{s}"))
}

#[test]
fn json_on_stdout_is_valid_with_warnings_and_verbose() {
    let dir = scratch();
    let f = dir.path().join("dummy");
    // DUMMY always provokes the file-size warnings; -v adds remove rows and the max object.
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "4m",
            "-t",
            "1m",
            "-s",
            "2",
            "-F",
            "-w",
            "-r",
            "-i",
            "2",
            "-v",
            "-o",
            f.to_str().unwrap(),
            "-O",
            "summaryFormat=JSON",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("WARNING: Expected aggregate file size"),
        "{}",
        run.stderr
    );
    let v = json(&run.stdout);
    let tests = v["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 1);
    let results = tests[0]["Results"].as_array().expect("Results");
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["access"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["write", "read", "remove", "write", "read", "remove"]
    );
    assert!(tests[0]["max"]["writeMiB"].is_number());
    assert_eq!(v["summary"].as_array().map(Vec::len), Some(2));
}

#[test]
fn json_summary_file_with_script_of_several_tests() {
    let dir = scratch();
    let d = dir.path().to_str().unwrap();
    let script = format!(
        "IOR START\n api=POSIX\n testFile={d}/scripted\n repetitions=2\n writeFile=1\n readFile=1\n filePerProc=1\n blockSize=1m\n transferSize=256k\n segmentCount=2\nRUN\n filePerProc=0\n transferSize=64k\nRUN\n api=DUMMY\n --dummy.delay-xfer=10\n repetitions=1\nRUN\nIOR STOP\n"
    );
    std::fs::write(dir.path().join("s.ior"), script).unwrap();
    let run = run_once(
        dir.path(),
        &[
            "-N",
            "2",
            "-f",
            "s.ior",
            "-O",
            "summaryFormat=JSON",
            "-O",
            "summaryFile=out.json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // As IOR (tmp_stonewall_wearout_summaryFile.stdout): the announcement, then only IOR's log
    // lines on stdout; the results are in the file.
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("Writing output to out.json"));
    assert!(lines.all(|l| l.starts_with("WARNING: ")), "{}", run.stdout);
    let v = json(&std::fs::read_to_string(dir.path().join("out.json")).unwrap());
    let tests = v["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 3);
    let ids: Vec<i64> = tests
        .iter()
        .map(|t| t["TestID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(tests[2]["Options"]["api"], "DUMMY");
    assert_eq!(tests[1]["Options"]["access"], "single-shared-file");
    assert_eq!(v["summary"].as_array().map(Vec::len), Some(6));
}

#[test]
fn csv_output_has_one_row_per_phase() {
    let dir = scratch();
    let f = dir.path().join("c");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "1m",
            "-t",
            "256k",
            "-w",
            "-r",
            "-i",
            "2",
            "-o",
            f.to_str().unwrap(),
            "-O",
            "summaryFormat=CSV",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "access,bw(MiB/s),IOPS,Latency,block(KiB),xfer(KiB),open(s),wr/rd(s),close(s),total(s),numTasks,iter");
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][0], "write");
    assert_eq!(rows[3][0], "read");
    assert_eq!(rows[3][11], "1");
    assert_eq!(rows[0][10], "2");
}

#[test]
fn stonewall_wear_out_equalises_ranks_and_limits_the_read() {
    let dir = scratch();
    let f = dir.path().join("sw");
    let doc = dir.path().join("doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "100g",
            "-t",
            "1m",
            "-F",
            "-w",
            "-r",
            "-D",
            "1",
            "-O",
            "stoneWallingWearOut=1",
            "--dummy.delay-xfer=1000",
            "-o",
            f.to_str().unwrap(),
            "-O",
            "summaryFormat=JSON",
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("stonewalling pairs accessed min:"),
        "{}",
        run.stderr
    );
    let v = json(&run.stdout);
    let write = &v["summary"][0];
    assert_eq!(write["operation"], "write");
    assert!(write["StoneWallTime"].as_f64().unwrap() >= 1.0);
    assert!(write["StoneWallbwMeanMIB"].is_number());
    let d = json(&std::fs::read_to_string(&doc).unwrap());
    let results = d["tests"][0]["results"].as_array().expect("results");
    let phases: Vec<&Value> = results
        .iter()
        .filter(|r| r["access"] == "write" || r["access"] == "read")
        .collect();
    assert_eq!(phases.len(), 2);
    let w = phases[0];
    let pairs_max = w["stonewall"]["pairs_max"].as_i64().unwrap();
    assert!(
        pairs_max > 0 && pairs_max < 100 * 1024,
        "the wall was hit: {pairs_max}"
    );
    for r in w["per_rank"].as_array().unwrap() {
        assert_eq!(
            r["transfers"].as_i64().unwrap(),
            pairs_max,
            "wear-out equalises ranks"
        );
    }
    // The read is stonewalled too (same delays), and never reads more than the write wrote.
    let read_pairs: Vec<i64> = phases[1]["per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["transfers"].as_i64().unwrap())
        .collect();
    assert!(
        read_pairs
            .iter()
            .all(|&p| p == read_pairs[0] && p <= pairs_max),
        "{read_pairs:?}"
    );
}

#[test]
fn stonewall_status_file_carries_the_count_to_a_later_read_run() {
    let dir = scratch();
    let f = dir.path().join("sw");
    let status = dir.path().join("sw.status");
    let (f, status) = (f.to_str().unwrap(), status.to_str().unwrap());
    let sf = format!("stoneWallingStatusFile={status}");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "100g",
            "-t",
            "1m",
            "-F",
            "-w",
            "-D",
            "1",
            "-k",
            "-O",
            "stoneWallingWearOut=1",
            "-O",
            &sf,
            "--dummy.delay-xfer=1000",
            "-o",
            f,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pairs: i64 = std::fs::read_to_string(status)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pairs > 0 && pairs < 100 * 1024, "{pairs}");
    let doc = dir.path().join("doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "100g",
            "-t",
            "1m",
            "-F",
            "-r",
            "-k",
            "-O",
            &sf,
            "-o",
            f,
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let d = json(&std::fs::read_to_string(&doc).unwrap());
    let read = &d["tests"][0]["results"][0];
    assert_eq!(read["access"], "read");
    for r in read["per_rank"].as_array().unwrap() {
        assert_eq!(
            r["transfers"].as_i64().unwrap(),
            pairs,
            "read limited to the status file's count"
        );
    }
}

#[test]
fn wear_out_iterations_stop_every_rank() {
    let dir = scratch();
    let doc = dir.path().join("doc.json");
    let f = dir.path().join("it");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "DUMMY",
            "-N",
            "3",
            "-b",
            "1m",
            "-t",
            "4k",
            "-w",
            "-r",
            "-O",
            "stoneWallingWearOutIterations=7",
            "-o",
            f.to_str().unwrap(),
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let d = json(&std::fs::read_to_string(&doc).unwrap());
    for row in d["tests"][0]["results"].as_array().unwrap() {
        for r in row["per_rank"].as_array().unwrap() {
            assert_eq!(r["transfers"].as_i64(), Some(7), "{row}");
        }
    }
}

#[test]
fn random_blocks_work_for_writes() {
    // IOR divides by zero here (shm_random_zz_write_SIGFPE.txt); benchfs-bench uses the expected size.
    let dir = scratch();
    let f = dir.path().join("zz");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "1m",
            "-t",
            "64k",
            "-s",
            "4",
            "-z",
            "-z",
            "-w",
            "-r",
            "-o",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("ordering in a file  : random"),
        "{}",
        run.stdout
    );
}

#[test]
fn result_document_records_build_and_latency() {
    let dir = scratch();
    let f = dir.path().join("doc");
    let doc = dir.path().join("doc.json");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "3",
            "-b",
            "2m",
            "-t",
            "64k",
            "-w",
            "-r",
            "-o",
            f.to_str().unwrap(),
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let d = json(&std::fs::read_to_string(&doc).unwrap());
    assert_eq!(d["schema_version"], 2);
    // RFC 3339 with a zone, per-task start and end.
    let began = d["run"]["began"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(began).is_ok(),
        "{began}"
    );
    assert!(d["build"]["git_commit"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    let rows = d["tests"][0]["results"].as_array().unwrap();
    let w = rows
        .iter()
        .find(|r| r["access"] == "write")
        .expect("write row");
    assert_eq!(w["per_rank"].as_array().unwrap().len(), 3);
    for r in w["per_rank"].as_array().unwrap() {
        let start = chrono::DateTime::parse_from_rfc3339(r["start"].as_str().unwrap()).unwrap();
        let end = chrono::DateTime::parse_from_rfc3339(r["end"].as_str().unwrap()).unwrap();
        assert!(end >= start, "{r}");
    }
    assert_eq!(w["latency_hist"]["count"].as_u64(), Some(3 * 32));
    let p50 = w["latency_hist"]["p50"].as_f64().unwrap();
    let p99 = w["latency_hist"]["p99"].as_f64().unwrap();
    assert!(p50 > 0.0 && p99 >= p50);
}

/// Bad input: the message, IOR's exit status (1 for what IOR ends with `exit(EXIT_FAILURE)`:
/// bad arguments; 255 for its fatal `ERR`: settings it refuses), and nothing created in the
/// directory.
fn rejects(args: &[&str], message: &str) {
    rejects_with(args, message, 255)
}

/// [`rejects`] with exit status `code`.
fn rejects_with(args: &[&str], message: &str, code: i32) {
    let dir = scratch();
    let d = dir.path().to_str().unwrap().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{D}", &d)).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_in(dir.path(), &argv);
    assert_eq!(run.code, code, "{args:?}: {}", run.merged);
    assert!(
        run.stderr.contains(message),
        "{args:?}: expected {message:?} in:\n{}",
        run.stderr
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "{args:?} touched files"
    );
}

#[test]
fn bad_input_is_rejected_before_any_file_is_touched() {
    rejects_with(
        &["-a", "POSIX", "--bogus", "-o", "{D}/f"],
        "Error invalid argument: --bogus",
        1,
    );
    rejects_with(
        &["-a", "POSIX", "-o", "{D}/f", "-b"],
        "Error, argument missing for option b",
        1,
    );
    rejects(&["-a", "NOPE", "-o", "{D}/f"], "Unrecognized I/O API");
    rejects(
        &["-a", "POSIX", "-b", "1m", "-t", "3m", "-o", "{D}/f"],
        "ERROR:",
    );
    rejects(
        &["-a", "POSIX", "-t", "0", "-o", "{D}/f"],
        "test will not complete with zero transfer size",
    );
    rejects(&["-a", "POSIX", "-C", "-Z", "-o", "{D}/f"], "ERROR:");
    rejects(&["-a", "POSIX", "-R", "-o", "{D}/f"], "use -G");
    rejects(
        &["-a", "POSIX", "-O", "bogusKey=1", "-o", "{D}/f"],
        "Unrecognized parameter \"bogusKey\"",
    );
    rejects(&["-a", "POSIX", "-f", "{D}/missing.ior"], "missing.ior");
    rejects_with(
        &["-a", "POSIX", "--cpus", "0-x", "-o", "{D}/f"],
        "Error, invalid value \"0-x\" for option cpus: \"0-x\" is not a CPU number",
        1,
    );
    // A CPU no machine of this kind has: refused by the kernel, before any file.
    rejects(
        &["-a", "POSIX", "-N", "2", "--cpus", "0,1000", "-o", "{D}/f"],
        "Error, invalid value \"0,1000\" for option cpus: no task can run on CPU 1000",
    );
    rejects(
        &["-a", "POSIX", "-O", "stoneWallingWearOut=1", "-o", "{D}/f"],
        "ERROR:",
    );
}

#[test]
fn a_path_that_cannot_be_created_is_a_clear_error() {
    let dir = scratch();
    let f = dir.path().join("no/such/dir/f");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "1m",
            "-t",
            "256k",
            "-w",
            "-o",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 255, "{}", run.merged);
    assert!(run.stderr.contains("ERROR: open64(\""), "{}", run.stderr);
    assert!(
        run.stderr.contains(", 0664) failed. Error: No such file"),
        "{}",
        run.stderr
    );
    // The summary of completed phases (none) is still printed.
    assert!(
        run.stdout.contains("Summary of all tests:"),
        "{}",
        run.stdout
    );
}

#[test]
fn help_lists_options_and_exits_1() {
    let dir = scratch();
    let run = run_once(dir.path(), &["-h"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("Module POSIX"), "{}", run.stdout);
    assert!(run.stdout.contains("--dummy.delay-xfer"), "{}", run.stdout);
}

#[test]
fn results_dir_gets_one_new_document_per_run() {
    let dir = scratch();
    let res = dir.path().join("results");
    let f = dir.path().join("r");
    for _ in 0..2 {
        let run = run_once(
            dir.path(),
            &[
                "-a",
                "DUMMY",
                "-N",
                "2",
                "-b",
                "1m",
                "-t",
                "256k",
                "-w",
                "-r",
                "-o",
                f.to_str().unwrap(),
                "--results-dir",
                res.to_str().unwrap(),
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let docs = files_in(&res);
    assert_eq!(docs.len(), 2, "{docs:?}");
    for d in docs {
        let v = json(&std::fs::read_to_string(res.join(&d)).unwrap());
        assert_eq!(v["schema"], "benchfs-result");
        assert_eq!(v["exit_status"], 0);
    }
}

#[test]
fn bound_tasks_run_with_cpus() {
    let dir = scratch();
    let f = dir.path().join("bound");
    let run = run_once(
        dir.path(),
        &[
            "-a",
            "POSIX",
            "-N",
            "3",
            "--cpus",
            "0",
            "-b",
            "1m",
            "-t",
            "4k",
            "-z",
            "--iodepth",
            "4",
            "-w",
            "-r",
            "-W",
            "-o",
            f.to_str().unwrap(),
            "-O",
            "summaryFormat=JSON",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.merged);
    let v = json(&run.stdout);
    let phases = v["summary"].as_array().unwrap();
    assert_eq!(phases.len(), 2, "{}", run.stdout);
}
