//! End to end: benchfs-bench reproduces the real IOR outputs in `../shared/ior/examples/` that
//! use POSIX or DUMMY, line for line and column for column, with numbers, dates, hosts and
//! command lines masked (tests/common/golden.rs). IOR wrote warnings into the same stream as the
//! results, and so does benchfs-bench in the text format; the comparison reads stdout and
//! stderr interleaved (`2>&1`), in the order they were written.

mod common;

use common::golden::masked_diff;
use common::run::{disk_scratch, examples_dir, run_in, scratch};
use std::path::Path;

/// Lines of IOR's output that benchfs-bench deliberately does not print (README: differences).
fn is_deliberately_absent(line: &str) -> bool {
    line.starts_with("WARNING: DUMMY initialized") || line.starts_with("WARNING: DUMMY finalized")
}

/// The example's IOR stream, up to and including the `Finished` line (mpirun's own lines cut).
fn expected(name: &str) -> Option<String> {
    let dir = examples_dir()?;
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    let mut out = String::new();
    for line in text.lines() {
        if is_deliberately_absent(line) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Finished") {
            break;
        }
    }
    Some(out)
}

/// Run `args` (with `{D}` replaced by a scratch directory) and compare with `example`, whose
/// paths start with `ior_dir`.
fn golden(example: &str, ior_dir: &str, args: &[&str], on_disk: bool) {
    let exp = expected(example).unwrap_or_else(|| panic!("example {example} not found"));
    let dir = if on_disk { disk_scratch() } else { scratch() };
    let d = dir.path().to_str().expect("utf-8 path").to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{D}", &d)).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_in(dir.path(), &argv);
    let actual = ours_without_additions(&run.merged).replace(&d, ior_dir);
    if let Some(diff) = masked_diff(&exp, &actual) {
        panic!("{example}: output differs from IOR's\n{diff}\n--- actual ---\n{actual}");
    }
}

/// Lines benchfs-bench prints beyond IOR on purpose (README: the `-C` no-op hint, with `-v`).
fn ours_without_additions(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with("WARNING: -C (reorderTasks) has no effect"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn shm_fpp_text() {
    golden(
        "shm_fpp_text.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-F",
            "-w",
            "-r",
            "-C",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/testfile",
        ],
        false,
    );
}

#[test]
fn shm_ssf_text() {
    golden(
        "shm_ssf_text.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-w",
            "-r",
            "-C",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/shared",
        ],
        false,
    );
}

#[test]
fn tmp_fpp_text_on_disk() {
    golden(
        "tmp_fpp_text.txt",
        "/scratch/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-F",
            "-w",
            "-r",
            "-C",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/testfile",
        ],
        true,
    );
}

#[test]
fn tmp_ssf_text_on_disk() {
    golden(
        "tmp_ssf_text.txt",
        "/scratch/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-w",
            "-r",
            "-C",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/shared",
        ],
        true,
    );
}

#[test]
fn shm_verbose1() {
    golden(
        "shm_verbose1.txt",
        "/dev/shm/iortest",
        &[
            "-v",
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "16m",
            "-t",
            "1m",
            "-s",
            "2",
            "-F",
            "-w",
            "-r",
            "-e",
            "-i",
            "2",
            "-o",
            "{D}/vfile",
        ],
        false,
    );
}

#[test]
fn shm_fpp_4k_text() {
    golden(
        "shm_fpp_4k_text.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "16m",
            "-t",
            "4k",
            "-s",
            "4",
            "-F",
            "-w",
            "-r",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/small",
        ],
        false,
    );
}

#[test]
fn shm_check_wr() {
    golden(
        "shm_check_WR.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "8m",
            "-t",
            "1m",
            "-s",
            "2",
            "-w",
            "-W",
            "-r",
            "-R",
            "-G",
            "1234",
            "-l",
            "offset",
            "-o",
            "{D}/check",
            "-k",
        ],
        false,
    );
}

#[test]
fn shm_random_z() {
    golden(
        "shm_random_z.txt",
        "/dev/shm/iortest",
        &[
            "-a", "POSIX", "-N", "2", "-b", "16m", "-t", "64k", "-s", "2", "-z", "-w", "-r", "-o",
            "{D}/rnd",
        ],
        false,
    );
}

#[test]
fn shm_random_z_check() {
    golden(
        "shm_random_z_check.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "16m",
            "-t",
            "64k",
            "-s",
            "2",
            "-z",
            "-w",
            "-r",
            "-W",
            "-R",
            "--random-offset-seed=42",
            "-G",
            "77",
            "-o",
            "{D}/rnd",
        ],
        false,
    );
}

#[test]
fn dummy_fpp_text() {
    golden(
        "dummy_fpp_text.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-F",
            "-w",
            "-r",
            "-i",
            "3",
            "-o",
            "{D}/dummy",
        ],
        false,
    );
}

#[test]
fn shm_csv() {
    golden(
        "shm_csv.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "16m",
            "-t",
            "1m",
            "-s",
            "1",
            "-F",
            "-w",
            "-r",
            "-i",
            "2",
            "-o",
            "{D}/csv",
            "-O",
            "summaryFormat=CSV",
        ],
        false,
    );
}

#[test]
fn shm_random_zz_readonly() {
    let exp = expected("shm_random_zz_readonly.txt").expect("example");
    let dir = scratch();
    let d = dir.path().to_str().expect("utf-8").to_string();
    let f = format!("{d}/rnd2");
    // The file must exist first (IOR's example read a file written before).
    let pre = run_in(
        dir.path(),
        &[
            "-a", "POSIX", "-N", "2", "-b", "16m", "-t", "64k", "-s", "2", "-w", "-k", "-o", &f,
        ],
    );
    assert_eq!(pre.code, 0, "{}", pre.merged);
    let run = run_in(
        dir.path(),
        &[
            "-a", "POSIX", "-N", "2", "-b", "16m", "-t", "64k", "-s", "2", "-z", "-z", "-r", "-o",
            &f,
        ],
    );
    let actual = ours_without_additions(&run.merged).replace(&d, "/dev/shm/iortest");
    if let Some(diff) = masked_diff(&exp, &actual) {
        panic!("shm_random_zz_readonly: output differs\n{diff}\n--- actual ---\n{actual}");
    }
}

#[test]
fn shm_check_r_corrupt_detects_one_bad_transfer() {
    let exp = expected("shm_check_R_corrupt.txt").expect("example");
    let dir = scratch();
    let d = dir.path().to_str().expect("utf-8").to_string();
    let f = format!("{d}/check");
    let pre = run_in(
        dir.path(),
        &[
            "-a", "POSIX", "-N", "2", "-b", "8m", "-t", "1m", "-s", "2", "-w", "-G", "1234", "-l",
            "offset", "-o", &f, "-k",
        ],
    );
    assert_eq!(pre.code, 0, "{}", pre.merged);
    flip_byte(Path::new(&f), 3 * 1024 * 1024 + 12345);
    let run = run_in(
        dir.path(),
        &[
            "-a", "POSIX", "-N", "2", "-b", "8m", "-t", "1m", "-s", "2", "-R", "-G", "1234", "-l",
            "offset", "-o", &f, "-k", "-E",
        ],
    );
    // One bad transfer: exit status 1 (IOR counts it twice and exits with 2).
    assert_eq!(run.code, 1, "{}", run.merged);
    let actual = ours_without_additions(&run.merged).replace(&d, "/dev/shm/iortest");
    if let Some(diff) = masked_diff(&exp, &actual) {
        panic!("shm_check_R_corrupt: output differs\n{diff}\n--- actual ---\n{actual}");
    }
}

fn flip_byte(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open file to corrupt");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).expect("read byte");
    b[0] ^= 0x40;
    f.write_all_at(&b, offset).expect("write byte");
}

#[test]
fn shm_script_text() {
    let exp = expected("shm_script_text.txt").expect("example");
    let ex = examples_dir().expect("examples");
    let dir = scratch();
    let d = dir.path().to_str().expect("utf-8").to_string();
    let script = std::fs::read_to_string(ex.join("example_script.ior"))
        .expect("example script")
        .replace("/dev/shm/iortest", &d);
    std::fs::write(dir.path().join("example_script.ior"), script).expect("write script");
    let run = run_in(dir.path(), &["-N", "2", "-f", "example_script.ior"]);
    assert_eq!(run.code, 0, "{}", run.merged);
    // IOR prints the first test's apiVersion for every test of a script; we print each
    // test's own (README: differences), so the DUMMY test says 0.5.
    let exp = fix_script_api_version(&exp);
    let actual = ours_without_additions(&run.merged).replace(&d, "/dev/shm/iortest");
    if let Some(diff) = masked_diff(&exp, &actual) {
        panic!("shm_script_text: output differs\n{diff}\n--- actual ---\n{actual}");
    }
}

/// In IOR's script example the third test (DUMMY) shows an empty apiVersion; ours is DUMMY's.
fn fix_script_api_version(exp: &str) -> String {
    let mut api = "";
    exp.lines()
        .map(|l| {
            if let Some(v) = l.strip_prefix("api                 : ") {
                api = if v == "DUMMY" { "DUMMY" } else { "" };
            }
            if l == "apiVersion          : " && api == "DUMMY" {
                "apiVersion          : 0.5\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn tmp_stonewall_wearout_on_disk() {
    golden(
        "tmp_stonewall_wearout.txt",
        "/scratch/iortest",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "4g",
            "-t",
            "1m",
            "-s",
            "1",
            "-F",
            "-w",
            "-r",
            "-D",
            "1",
            "-O",
            "stoneWallingWearOut=1",
            "-i",
            "2",
            "-o",
            "{D}/sw",
        ],
        true,
    );
}

/// Every key of IOR's JSON, in IOR's order, with IOR's value types, is in ours (ours may add
/// keys after IOR's, e.g. latency percentiles); arrays are compared element by element.
fn same_shape(exp: &serde_json::Value, act: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    match (exp, act) {
        (Value::Object(e), Value::Object(a)) => {
            let ak: Vec<&String> = a.keys().collect();
            let mut last = 0usize;
            for (k, ev) in e {
                let pos = ak
                    .iter()
                    .position(|x| *x == k)
                    .ok_or_else(|| format!("{at}: key {k:?} missing"))?;
                if pos < last {
                    return Err(format!("{at}: key {k:?} out of IOR's order"));
                }
                last = pos;
                same_shape(ev, &a[k], &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{at}: {} elements, expected {}", a.len(), e.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .try_for_each(|(i, (x, y))| same_shape(x, y, &format!("{at}[{i}]")))
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.is_f64() == a.is_f64() || a.is_f64() {
                Ok(())
            } else {
                Err(format!("{at}: number kind differs ({e} vs {a})"))
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(format!("{at}: type differs: {exp} vs {act}")),
    }
}

fn golden_json(example: &str, args: &[&str]) {
    let dir = examples_dir().expect("examples");
    let exp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(example)).expect("example"))
            .expect("IOR JSON");
    let scratch_dir = scratch();
    let d = scratch_dir.path().to_str().expect("utf-8").to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{D}", &d)).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = common::run::run_once(scratch_dir.path(), &argv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let act: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("invalid JSON on stdout ({e}):\n{}", run.stdout));
    if let Err(e) = same_shape(&exp, &act, "$") {
        panic!("{example}: {e}\n{}", run.stdout);
    }
}

#[test]
fn shm_fpp_json_stdout() {
    golden_json(
        "shm_fpp_json_stdout.json",
        &[
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "64m",
            "-t",
            "1m",
            "-s",
            "4",
            "-F",
            "-w",
            "-r",
            "-C",
            "-e",
            "-i",
            "3",
            "-o",
            "{D}/testfile",
            "-O",
            "summaryFormat=JSON",
        ],
    );
}

#[test]
fn shm_verbose1_json() {
    golden_json(
        "shm_verbose1_json.json",
        &[
            "-v",
            "-a",
            "POSIX",
            "-N",
            "2",
            "-b",
            "16m",
            "-t",
            "1m",
            "-s",
            "2",
            "-F",
            "-w",
            "-r",
            "-e",
            "-i",
            "2",
            "-o",
            "{D}/vfile",
            "-O",
            "summaryFormat=JSON",
        ],
    );
}

#[test]
fn tmp_stonewall_wearout_json() {
    golden_json(
        "tmp_stonewall_wearout_summaryFile.json",
        &[
            "-a",
            "DUMMY",
            "-N",
            "2",
            "-b",
            "4g",
            "-t",
            "1m",
            "-s",
            "1",
            "-F",
            "-w",
            "-r",
            "-D",
            "1",
            "-O",
            "stoneWallingWearOut=1",
            "-i",
            "1",
            "--dummy.delay-xfer=1000",
            "-o",
            "{D}/sw",
            "-O",
            "summaryFormat=JSON",
        ],
    );
}

#[test]
fn shm_csvdetails_rank_and_per_op_files() {
    golden(
        "shm_csvdetails.txt",
        "/dev/shm/iortest",
        &[
            "-a",
            "POSIX",
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
            "-o",
            "{D}/csvd",
            "-O",
            "saveRankPerformanceDetailsCSV={D}/rank_details.csv",
            "-O",
            "savePerOpDataCSV={D}/perop",
        ],
        false,
    );
    // The files themselves, run again in a directory we keep looking at.
    let dir = scratch();
    let d = dir.path().to_str().expect("utf-8").to_string();
    let args = [
        "-a",
        "POSIX",
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
        "-o",
        &format!("{d}/csvd"),
        "-O",
        &format!("saveRankPerformanceDetailsCSV={d}/rank_details.csv"),
        "-O",
        &format!("savePerOpDataCSV={d}/perop"),
    ]
    .map(String::from);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = common::run::run_once(dir.path(), &argv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ex = examples_dir().expect("examples");
    // Rank details: IOR's header, one row per rank per phase, IOR's number layout.
    let ours = std::fs::read_to_string(dir.path().join("rank_details.csv")).expect("rank details");
    let ior = std::fs::read_to_string(ex.join("rank_details.csv")).expect("example");
    assert_eq!(ours.lines().next(), ior.lines().next());
    assert_eq!(ours.lines().count(), ior.lines().count());
    if let Some(diff) = masked_diff(&ior, &ours) {
        panic!("rank_details.csv differs\n{diff}\n{ours}");
    }
    // Per-op files: IOR's three columns plus `access`; write rows then read rows (IOR kept only
    // the read rows: its read phase overwrote the file).
    for rank in 0..2 {
        let ours = std::fs::read_to_string(dir.path().join(format!("perop-0-{rank:05}.csv")))
            .expect("per-op");
        let ior =
            std::fs::read_to_string(ex.join(format!("perop-0-{rank:05}.csv"))).expect("example");
        let mut lines = ours.lines();
        assert_eq!(lines.next(), Some("time,runtime,tp,access"));
        assert_eq!(ior.lines().next(), Some("time,runtime,tp"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 2 * (ior.lines().count() - 1), "{ours}");
        for (i, row) in rows.iter().enumerate() {
            let cols: Vec<&str> = row.split(',').collect();
            assert_eq!(cols.len(), 4, "{row}");
            assert_eq!(cols[3], if i < rows.len() / 2 { "write" } else { "read" });
            let ior_row = ior.lines().nth(1).expect("row");
            // Same number layout as IOR's %.8e,%.8e,%e.
            let shape = |s: &str| {
                s.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect::<String>()
            };
            let ior_cols: Vec<String> = ior_row.split(',').map(shape).collect();
            for k in 0..3 {
                assert_eq!(
                    shape(cols[k]).len(),
                    ior_cols[k].len(),
                    "{row} vs {ior_row}"
                );
            }
        }
    }
}
