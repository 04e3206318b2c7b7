//! `benchfs-bench io500 workloads/io500-lite.ini` end to end on DUMMY, POSIX (/dev/shm) and
//! BENCHFS (embedded cluster), with 2 local tasks (and 2 MPI ranks with the `mpi` feature):
//! every phase ran in the app's order, the find counted exactly the files the writes made,
//! the printed score is the IO500 formula applied to the printed phase scores, the result
//! directory holds the app's files, and the result document says the same.

mod common;
use common::io500::lite_ini;
use common::run::{run_once, scratch};
use serde_json::Value;
use std::path::Path;

/// The standard phases, in the app's order.
const PHASES: &[&str] = &[
    "ior-easy-write",
    "mdtest-easy-write",
    "timestamp",
    "ior-hard-write",
    "mdtest-hard-write",
    "find",
    "ior-easy-read",
    "mdtest-easy-stat",
    "ior-hard-read",
    "mdtest-hard-stat",
    "mdtest-easy-delete",
    "mdtest-hard-read",
    "mdtest-hard-delete",
    "ior-rnd4K-easy-read",
];

/// A `[RESULT]`/`[      ]` line: name, score, unit, valid.
fn result_lines(summary: &str) -> Vec<(String, f64, String)> {
    summary
        .lines()
        .filter(|l| l.starts_with("[RESULT]") || l.starts_with("[      ]"))
        .map(|l| {
            let w: Vec<&str> = l[8..].split_whitespace().collect();
            (w[0].to_string(), w[1].parse().unwrap(), w[2].to_string())
        })
        .collect()
}

/// The geometric mean of the positive printed scores of the phases `pick` keeps, and its
/// bound of error: each printed score is off by up to 5e-7, which moves the mean by at most
/// the largest relative error of its factors.
fn geo(lines: &[(String, f64, String)], pick: impl Fn(&str) -> bool) -> (f64, f64) {
    let v: Vec<f64> = lines
        .iter()
        .filter(|(n, s, _)| pick(n) && *s > 0.0)
        .map(|(_, s, _)| *s)
        .collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mean = v.iter().product::<f64>().powf(1.0 / v.len() as f64);
    let rel = v.iter().map(|s| 5e-7 / s).fold(0.0, f64::max);
    (mean, mean * rel * 1.01)
}

/// The files named `file.mdtest.<rank>.<i>` that contain `01` (pfind's `*01*`).
fn matching(ranks: u64, items: u64) -> u64 {
    (0..ranks)
        .flat_map(|r| (0..items).map(move |i| format!("file.mdtest.{r}.{i}")))
        .filter(|n| n.contains("01"))
        .count() as u64
}

/// Checks a finished run's stdout, result directory and document.
fn check_run(stdout: &str, dir: &Path, doc_path: &Path, ranks: u64, namespace: bool) {
    let res = dir.join("results");
    let summary = std::fs::read_to_string(res.join("result_summary.txt")).unwrap();
    // stdout carries the summary lines, then where the files are.
    assert!(stdout.starts_with(&summary), "{stdout}\n---\n{summary}");
    assert!(
        summary.starts_with("IO500 version benchfs-bench-"),
        "{summary}"
    );
    let lines = result_lines(&summary);
    let names: Vec<&str> = lines.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, PHASES, "{summary}");
    for (name, score, unit) in &lines {
        let expected_unit = if name.starts_with('i') {
            "GiB/s"
        } else {
            "kIOPS"
        };
        assert_eq!(unit, expected_unit, "{name}");
        if *name != "timestamp" && (namespace || *name != "find") {
            assert!(*score > 0.0, "{name} scored {score}\n{summary}");
        }
    }
    // The score line is the formula over the printed phase scores.
    let bw_phases = [
        "ior-easy-write",
        "ior-hard-write",
        "ior-easy-read",
        "ior-hard-read",
    ];
    let bw = geo(&lines, |n| bw_phases.contains(&n));
    let md = geo(&lines, |n| {
        !bw_phases.contains(&n) && n != "timestamp" && n != "ior-rnd4K-easy-read"
    });
    let score_line = summary
        .lines()
        .find(|l| l.starts_with("[SCORE ]"))
        .expect("score line");
    let w: Vec<&str> = score_line.split_whitespace().collect();
    let (p_bw, p_md, p_total): (f64, f64, f64) = (
        w[3].parse().unwrap(),
        w[7].parse().unwrap(),
        w[11].parse().unwrap(),
    );
    // Within what the printing of the phase scores (6 decimals) and of the score allows.
    let ((bw, bw_err), (md, md_err)) = (bw, md);
    assert!(
        (p_bw - bw).abs() <= bw_err + 5e-7,
        "BW {p_bw} vs {bw} ± {bw_err}"
    );
    assert!(
        (p_md - md).abs() <= md_err + 5e-7,
        "MD {p_md} vs {md} ± {md_err}"
    );
    let total = (bw * md).sqrt();
    let total_err = total * (bw_err / bw + md_err / md) / 2.0 * 1.01;
    assert!(
        (p_total - total).abs() <= total_err + 5e-7,
        "TOTAL {p_total} vs {total} ± {total_err}"
    );
    // A 1 s stonewall is not a valid IO500 run.
    assert!(score_line.ends_with("[INVALID]"), "{score_line}");
    // The app's files, and each phase's own output.
    for f in [
        "result.txt",
        "config.ini",
        "config-orig.ini",
        "timestampfile",
        "find.csv",
    ] {
        assert!(res.join(f).is_file(), "{f} missing");
    }
    for p in PHASES.iter().filter(|p| !["timestamp", "find"].contains(p)) {
        let out = std::fs::read_to_string(res.join(format!("{p}.txt"))).unwrap();
        assert!(!out.is_empty(), "{p}.txt is empty");
        assert!(res.join(format!("{p}.csv")).is_file(), "{p}.csv missing");
    }
    let result = std::fs::read_to_string(res.join("result.txt")).unwrap();
    assert!(
        result.contains(&format!("procs           = {ranks}\n")),
        "{result}"
    );
    assert!(
        result.contains("; ERROR INVALID stonewall-time 1s != 300s"),
        "{result}"
    );
    assert!(result.contains("\n[SCORE]\nMD              = "), "{result}");
    // The data directory is gone after the clean-up.
    assert!(!dir.join("data").exists(), "data left behind");

    // The document: every phase, the find's exact counts, the scores as printed.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(doc_path).unwrap()).unwrap();
    let io = &doc["io500"];
    let phases = io["phases"].as_array().unwrap();
    assert_eq!(phases.len(), PHASES.len());
    for (p, (name, score, _)) in phases.iter().zip(&lines) {
        assert_eq!(p["name"], name.as_str());
        assert_eq!(
            format!("{:.6}", p["score"].as_f64().unwrap()),
            format!("{score:.6}")
        );
        assert_eq!(p["ran"], true, "{name}");
    }
    let get = |name: &str| phases.iter().find(|p| p["name"] == name).unwrap();
    let easy_items = get("mdtest-easy-write")["mdtest"]["items"]
        .as_u64()
        .unwrap();
    let hard_items = get("mdtest-hard-write")["mdtest"]["items"]
        .as_u64()
        .unwrap();
    // All 1000 per rank, or fewer after the stonewall: then every rank did as many (wear-out).
    for items in [easy_items, hard_items] {
        assert!(
            items > 0 && items <= 1000 * ranks && items % ranks == 0,
            "{items}"
        );
    }
    let find = &get("find")["find"];
    if namespace {
        let expected = matching(ranks, hard_items / ranks);
        assert_eq!(find["found"].as_u64().unwrap(), expected, "{find}");
        // mdtest-easy's and mdtest-hard's files, ior-easy's file per rank, ior-hard's file.
        let total = easy_items + hard_items + ranks + 1;
        assert_eq!(find["total_files"].as_u64().unwrap(), total, "{find}");
        assert_eq!(find["errors"], 0);
        // Valid unless the stonewall left no file to match (fewer than 101 per rank).
        assert_eq!(get("find")["valid"], expected > 0, "{}", get("find"));
    } else {
        // DUMMY keeps no namespace: nothing to find, which the app calls invalid.
        assert_eq!(find["found"], 0);
        assert_eq!(find["total_files"], 0);
        assert_eq!(get("find")["valid"], false);
    }
    let score = &io["score"];
    assert_eq!(format!("{:.6}", score["total"].as_f64().unwrap()), w[11]);
    assert_eq!(score["valid"], false);
    assert_eq!(doc["exit_status"], 0);
}

fn run_local(api: &str, namespace: bool) {
    let dir = scratch();
    let ini = lite_ini(dir.path(), api);
    let doc = dir.path().join("doc.json");
    let r = run_once(
        dir.path(),
        &[
            "io500",
            ini.to_str().unwrap(),
            "--tasks",
            "2",
            "--json",
            doc.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    check_run(&r.stdout, dir.path(), &doc, 2, namespace);
    // BENCHFS lists each server's share; the other backends walk the tree.
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&doc).unwrap()).unwrap();
    let find = d["io500"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "find")
        .unwrap();
    assert_eq!(
        find["find"]["listed_by_share"],
        api == "BENCHFS",
        "{}",
        find["find"]
    );
}

#[test]
fn lite_on_dummy() {
    run_local("DUMMY", false);
}

#[test]
fn lite_on_posix_shm() {
    run_local("POSIX", true);
}

#[test]
fn lite_on_benchfs_embedded() {
    run_local("BENCHFS", true);
}

/// The extended phases, in the app's order.
const EXTENDED: &[&str] = &[
    "ior-easy-write",
    "mdtest-easy-write",
    "mdworkbench-create",
    "timestamp",
    "find-easy",
    "ior-hard-write",
    "mdtest-hard-write",
    "find",
    "find-hard",
    "mdworkbench-bench",
    "ior-easy-read",
    "mdtest-easy-stat",
    "ior-hard-read",
    "mdtest-hard-stat",
    "mdworkbench-delete",
    "mdtest-easy-delete",
    "mdtest-hard-read",
    "mdtest-hard-delete",
    "ior-rnd4K-easy-read",
];

/// The value of `key` in section `[phase]` of result.txt.
fn result_value(result: &str, phase: &str, key: &str) -> Option<String> {
    let body = result.split(&format!("\n[{phase}]\n")).nth(1)?;
    let body = body.split("\n[").next()?;
    body.lines()
        .find(|l| l.starts_with(&format!("{key} ")))
        .and_then(|l| l.split_once("= "))
        .map(|(_, v)| v.trim().to_string())
}

/// The `objects:N` of md-workbench's global lines (those not prefixed by a rank) of `phase`.
fn mdw_objects(text: &str, phase: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{phase} process max:")))
        .map(|l| {
            let at = l.find("objects:").unwrap() + 8;
            l[at..].split_whitespace().next().unwrap().parse().unwrap()
        })
        .collect()
}

/// The extended mode with md-workbench on POSIX and BENCHFS: every phase in order, the
/// md-workbench phases valid and scored, their working set sized by the app's rule from
/// mdtest-easy-write's rate, exactly that many objects made, read twice and removed, the find
/// counting them in its total, and nothing left behind.
fn run_extended(api: &str) {
    let dir = scratch();
    let ini = lite_ini(dir.path(), api);
    let r = run_once(
        dir.path(),
        &[
            "io500",
            ini.to_str().unwrap(),
            "--mode=extended",
            "--tasks",
            "2",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = dir.path().join("results");
    let summary = std::fs::read_to_string(res.join("result_summary.txt")).unwrap();
    let lines = result_lines(&summary);
    let names: Vec<&str> = lines.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, EXTENDED, "{summary}");
    for name in [
        "mdworkbench-create",
        "mdworkbench-bench",
        "mdworkbench-delete",
    ] {
        let line = summary
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap();
        assert!(!line.contains("[INVALID]"), "{line}");
        let score = lines.iter().find(|(n, _, _)| n == name).unwrap().1;
        assert!(score > 0.0, "{name}: {score}");
    }
    assert!(summary
        .lines()
        .any(|l| l.starts_with("[RESULT]") && l.contains(" mdworkbench-bench ")));
    let result = std::fs::read_to_string(res.join("result.txt")).unwrap();
    // The app's rule: mdtest-easy-write's score (kIOPS) x 1 s (the stonewall) x 1000 / 2
    // ranks / 10 sets.
    let easy: f64 = result_value(&result, "mdtest-easy-write", "score")
        .unwrap()
        .parse()
        .unwrap();
    let per_set: u64 = result_value(&result, "mdworkbench-create", "precreatePerSet")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(per_set, ((easy * 1000.0 / 2.0) as u64) / 10, "{result}");
    assert!(per_set > 0);
    let per_iter: u64 = result_value(&result, "mdworkbench-bench", "filesPerProc")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(per_iter, per_set);
    let text = |n: &str| std::fs::read_to_string(res.join(format!("{n}.txt"))).unwrap();
    let create = text("mdworkbench-create");
    assert!(
        create.starts_with(
            "Args: benchfs-bench md-workbench \"--dataPacketType=timestamp\" \"--process-reports\""
        ),
        "{create}"
    );
    assert_eq!(mdw_objects(&create, "precreate"), [2 * 10 * per_set]);
    let bench = text("mdworkbench-bench");
    assert_eq!(
        mdw_objects(&bench, "benchmark"),
        [2 * 10 * per_iter; 2],
        "{bench}"
    );
    assert!(bench.contains(" (0 errs) "), "{bench}");
    assert_eq!(
        mdw_objects(&text("mdworkbench-delete"), "cleanup"),
        [2 * 10 * per_set]
    );
    let score_it0 = result_value(&result, "mdworkbench-bench", "scoreIteration0").unwrap();
    assert!(score_it0.parse::<f64>().unwrap() > 0.0);
    // The find saw md-workbench's objects too, and counted exactly.
    assert!(!result.contains("find saw"), "{result}");
    assert!(!result.contains("find found"), "{result}");
    let total: u64 = result_value(&result, "find", "total-files")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= 2 * 10 * per_set, "{total}");
    assert!(
        !dir.path().join("data").exists()
            || std::fs::read_dir(dir.path().join("data"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn lite_extended_with_md_workbench_on_posix_shm() {
    run_extended("POSIX");
}

#[test]
fn lite_extended_with_md_workbench_on_benchfs_embedded() {
    run_extended("BENCHFS");
}

#[test]
fn dry_run_prints_every_command_and_runs_nothing() {
    let dir = scratch();
    let ini = lite_ini(dir.path(), "POSIX");
    let r = run_once(dir.path(), &["io500", ini.to_str().unwrap(), "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = std::fs::read_to_string(dir.path().join("results/result.txt")).unwrap();
    assert!(result.contains("; ERROR INVALID DRY RUN MODE ACTIVATED"));
    assert_eq!(
        result.matches("\nexe             = ").count(),
        13,
        "{result}"
    );
    assert!(!dir.path().join("results/ior-easy-write.txt").exists());
    assert!(!dir.path().join("data/ior-easy").exists());
}

#[test]
fn bad_input_fails_before_anything_runs() {
    let dir = scratch();
    let ini = dir.path().join("bad.ini");
    std::fs::write(&ini, "[ior-easy]\nstripes = 4\n").unwrap();
    let r = run_once(dir.path(), &["io500", ini.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "Parsing error in section ior-easy line 2, unknown option \"stripes\" with value \"4\""
        ),
        "{}",
        r.stderr
    );
    // A value IOR rejects names the phase, before any directory is made.
    let ini = lite_ini(dir.path(), "POSIX");
    let text = std::fs::read_to_string(&ini)
        .unwrap()
        .replace("blockSize = 32m", "blockSize = 1500k");
    std::fs::write(&ini, text).unwrap();
    let r = run_once(dir.path(), &["io500", ini.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("phase ior-easy-write: "), "{}", r.stderr);
    assert!(!dir.path().join("data").exists());
    // md-workbench's sizes: both keys or none, as the app says.
    let ini = lite_ini(dir.path(), "POSIX");
    let text = std::fs::read_to_string(&ini).unwrap() + "[mdworkbench]\nprecreatePerSet = 5\n";
    std::fs::write(&ini, text).unwrap();
    let r = run_once(
        dir.path(),
        &["io500", ini.to_str().unwrap(), "--mode=extended"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("MDWorkbench, must set either both options or none of: filesPerProc and precreatePerSet"),
        "{}",
        r.stderr
    );
}

#[test]
fn verify_accepts_our_result_and_the_apps_rules() {
    let dir = scratch();
    let ini = lite_ini(dir.path(), "DUMMY");
    let r = run_once(
        dir.path(),
        &["io500", ini.to_str().unwrap(), "--tasks", "2"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = dir.path().join("results/result.txt");
    let v = run_once(
        dir.path(),
        &[
            "io500",
            ini.to_str().unwrap(),
            "--verify",
            result.to_str().unwrap(),
        ],
    );
    assert!(
        v.stdout.contains("[OK] But this is an invalid run!"),
        "{}",
        v.stdout
    );
    assert_eq!(v.code, 1, "an invalid run does not verify as OK");
}

/// The same lite run as 2 MPI ranks.
#[cfg(feature = "mpi")]
#[test]
fn lite_on_posix_under_mpirun() {
    if std::process::Command::new("mpirun")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("mpirun not found: skipped");
        return;
    }
    let dir = scratch();
    let ini = lite_ini(dir.path(), "POSIX");
    let doc = dir.path().join("doc.json");
    let out = common::mpi::mpirun_command(2, common::run::bin())
        .args([
            "io500",
            ini.to_str().unwrap(),
            "--json",
            doc.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_run(&stdout, dir.path(), &doc, 2, true);
}

#[test]
fn compare_export_and_report_read_io500_documents() {
    let dir = scratch();
    let ini = lite_ini(dir.path(), "DUMMY");
    let mut docs = Vec::new();
    for i in 0..2 {
        let doc = dir.path().join(format!("doc{i}.json"));
        let r = run_once(
            dir.path(),
            &[
                "io500",
                ini.to_str().unwrap(),
                "--tasks",
                "2",
                "--json",
                doc.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        docs.push(doc);
    }
    let (a, b) = (docs[0].to_str().unwrap(), docs[1].to_str().unwrap());
    // compare: each phase's score and the run's BW, MD and SCORE are its phases.
    let cmp = run_once(dir.path(), &["compare", "--allow-insufficient", a, b]);
    assert!(
        cmp.code == 0 || cmp.code == 1,
        "{}\n{}",
        cmp.stdout,
        cmp.stderr
    );
    assert!(
        cmp.stdout.contains("io500 DUMMY N=2 standard stonewall=1"),
        "{}",
        cmp.stdout
    );
    for phase in ["ior-hard-write", "mdtest-easy-stat", "SCORE"] {
        assert!(cmp.stdout.contains(phase), "{phase}: {}", cmp.stdout);
    }
    // export: one figure per phase.
    let exp = run_once(dir.path(), &["export", "--format", "gab-bigger", a]);
    assert_eq!(exp.code, 0, "{}", exp.stderr);
    assert!(exp.stdout.contains("mdtest-hard-write"), "{}", exp.stdout);
    // report: the score history and the latest run's phase bars.
    let out = dir.path().join("report");
    let rep = run_once(
        dir.path(),
        &["report", a, b, "--out", out.to_str().unwrap()],
    );
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("IO500 score: io500 DUMMY"),
        "no score history"
    );
    assert!(html.contains("IO500 BW phases"), "no bandwidth bars");
    assert!(html.contains("IO500 MD phases"), "no metadata bars");
}

/// `[find] external-script`: the app's command line (`external-mpi-args`, the script,
/// `external-extra-args`, then the directory and criteria), run once on rank 0; its last line
/// `MATCHED found/total` is parsed as the app parses it, and the counts are checked as ours.
/// A script that is not executable is refused before anything runs.
#[test]
fn external_script_find_runs_with_the_apps_arguments() {
    let dir = scratch();
    let script = dir.path().join("myfind.sh");
    let argv_log = dir.path().join("argv.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             # io500's external find: [EXTRA...] DIR [-newer F] [-size Nc] -name PATTERN\n\
             echo \"$FINDTEST $*\" > {log}\n\
             [ \"$1\" = --marker ] && shift\n\
             dir=$1\n\
             find \"$@\" -type f\n\
             n=$(find \"$@\" -type f | wc -l)\n\
             total=$(find \"$dir\" -type f | wc -l)\n\
             echo \"MATCHED $n/$total\"\n",
            log = argv_log.display()
        ),
    )
    .unwrap();
    let ini = lite_ini(dir.path(), "POSIX");
    let with_find = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(mode)).unwrap();
        let text = std::fs::read_to_string(&ini).unwrap();
        let text = text.split("[find]").next().unwrap().to_string()
            + &format!(
                "[find]\nexternal-script = {}\nexternal-mpi-args = env FINDTEST=yes\nexternal-extra-args = --marker\n",
                script.display()
            );
        std::fs::write(&ini, text).unwrap();
        run_once(
            dir.path(),
            &["io500", ini.to_str().unwrap(), "--tasks", "2"],
        )
    };
    let r = with_find(0o644);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "The external-script must be a executable file {}",
            script.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("data").exists());
    let r = with_find(0o755);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let data = dir.path().join("data");
    let res = dir.path().join("results");
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert_eq!(
        argv.trim_end(),
        format!(
            "yes --marker {} -newer {}/timestampfile -size 3901c -name *01*",
            data.display(),
            res.display()
        )
    );
    let result = std::fs::read_to_string(res.join("result.txt")).unwrap();
    let section = result.split("\n[find]\n").nth(1).unwrap();
    let section = section.split("\n[").next().unwrap();
    assert!(
        section.contains(&format!(
            "exe             = env FINDTEST=yes {} --marker {} -newer",
            script.display(),
            data.display()
        )),
        "{section}"
    );
    // mdtest-hard's files containing 01 (2 ranks x 1000 items), and every file of the tree.
    let found: u64 = result_value(&result, "find", "found")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(found, matching(2, 1000), "{section}");
    let total: u64 = result_value(&result, "find", "total-files")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(total, 2 * 1000 + 2 * 1000 + 2 + 1, "{section}");
    assert!(
        section.contains(&format!("last-output     = \"MATCHED {found}/{total}\"")),
        "{section}"
    );
    assert!(!section.contains("ERROR INVALID"), "{section}");
    let summary = std::fs::read_to_string(res.join("result_summary.txt")).unwrap();
    let line = summary.lines().find(|l| l.contains(" find ")).unwrap();
    assert!(!line.contains("[INVALID]"), "{line}");
    let score = result_lines(&summary)
        .into_iter()
        .find(|(n, _, _)| n == "find")
        .unwrap()
        .1;
    assert!(score > 0.0);
}
