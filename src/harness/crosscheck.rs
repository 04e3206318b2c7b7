//! `benchfs-bench crosscheck --ior PATH [--rounds K] [--np N] -- IOR_ARGS`: our harness against
//! upstream IOR on one cluster and one workload. Starts an embedded BenchFS cluster (or joins
//! the one `--benchfs.registry` names), runs real IOR (`-a BENCHFS` through the IOR backend of
//! `ior-compat/`, or `-a POSIX` on a mount) and benchfs-bench with the same arguments, K
//! rounds in alternating order, imports IOR's output, and prints a side-by-side table
//! (bandwidth, IOPS, times per phase), the ratio per phase and a noise-aware verdict from
//! [`crate::results::compare`]. `--mdtest PATH` also runs real mdtest and benchfs-bench mdtest
//! on the same cluster, side by side per operation.
//!
//! Owns the sequence of runs, their command lines, the files a crosscheck keeps (every raw
//! output, both merged result documents, the table) and the wording of its verdicts. It does
//! not parse IOR output (that is [`crate::results::import`]) nor compute statistics (that is
//! [`crate::results::compare`]).

use crate::harness::backends::BackendSlot;
use crate::harness::embedded::EmbeddedClusters;
use crate::ior::options;
use crate::ior::results::PhaseResult;
use crate::results::compare::{self, Better, Comparison, MetricComparison, Verdict};
use crate::results::document::ResultDocument;
use crate::results::import::{import_str, ImportOptions};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to run.
#[derive(Debug, Clone)]
pub struct Crosscheck {
    /// The real IOR binary.
    pub ior: PathBuf,
    /// The real mdtest binary, if mdtest is also to run on the cluster.
    pub mdtest: Option<PathBuf>,
    /// mdtest's arguments (without `-a`, which follows IOR's).
    pub mdtest_args: Vec<String>,
    /// The benchfs-bench binary.
    pub bench: PathBuf,
    /// Rounds (each runs IOR once and benchfs-bench once).
    pub rounds: usize,
    /// Tasks: `mpirun -np N` for IOR (no mpirun for 1), `-N N` local tasks for benchfs-bench.
    pub np: usize,
    /// The MPI launcher.
    pub mpirun: String,
    /// Where the outputs, documents and table go.
    pub out_dir: PathBuf,
    /// Smallest relative change of the medians that counts, percent.
    pub threshold_pct: f64,
    /// Significance level.
    pub alpha: f64,
    /// The IOR arguments both harnesses get.
    pub ior_args: Vec<String>,
}

/// Errors of a crosscheck.
#[derive(Debug, thiserror::Error)]
pub enum CrosscheckError {
    /// The IOR arguments are invalid.
    #[error("{0}")]
    Options(String),
    /// The cluster did not start.
    #[error("{0}")]
    Cluster(String),
    /// A program could not be started or failed.
    #[error("{what} failed: {message}")]
    Run {
        /// Which run.
        what: String,
        /// Why (exit status and the end of its stderr).
        message: String,
    },
    /// An output could not be imported or a file not written.
    #[error("{0}")]
    Output(String),
}

/// What a crosscheck produced.
#[derive(Debug)]
pub struct Outcome {
    /// The side-by-side table and verdicts (also written to `crosscheck.txt`).
    pub table: String,
}

fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter()
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// The arguments, with `-a BENCHFS` added when none names a backend.
fn with_backend(args: &[String]) -> Vec<String> {
    let mut v = args.to_vec();
    if !args.iter().any(|a| a == "-a" || a.starts_with("--api")) {
        v.splice(0..0, ["-a".to_string(), "BENCHFS".to_string()]);
    }
    v
}

fn tail(text: &[u8], lines: usize) -> String {
    let s = String::from_utf8_lossy(text);
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `cmd`; its stdout, or the failure.
fn run(what: &str, mut cmd: Command) -> Result<String, CrosscheckError> {
    let out = cmd.output().map_err(|e| CrosscheckError::Run {
        what: what.to_string(),
        message: format!("cannot start {:?}: {e}", cmd.get_program()),
    })?;
    if !out.status.success() {
        return Err(CrosscheckError::Run {
            what: what.to_string(),
            message: format!(
                "exit status {:?}\n{}\n{}",
                out.status.code(),
                tail(&out.stdout, 10),
                tail(&out.stderr, 10)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Crosscheck {
    /// A real IOR or mdtest command with `args`, under the MPI launcher when `np > 1`.
    fn upstream(&self, program: &Path, args: &[String]) -> Command {
        let mut cmd = if self.np > 1 {
            let mut c = Command::new(&self.mpirun);
            c.args(["-np", &self.np.to_string()]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            // OpenMPI refuses root and more ranks than cores without these.
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
        cmd
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf, CrosscheckError> {
        let p = self.out_dir.join(name);
        std::fs::write(&p, text)
            .map_err(|e| CrosscheckError::Output(format!("{}: {e}", p.display())))?;
        Ok(p)
    }

    fn ior_round(&self, k: usize, args: &[String]) -> Result<ResultDocument, CrosscheckError> {
        let what = format!("IOR (round {})", k + 1);
        let text = run(&what, self.upstream(&self.ior, args))?;
        let name = format!("ior-round-{}.txt", k + 1);
        let path = self.write(&name, &text)?;
        import_str(
            &text,
            &path.display().to_string(),
            None,
            &ImportOptions::default(),
        )
        .map_err(|e| CrosscheckError::Output(e.to_string()))
    }

    fn our_round(&self, k: usize, args: &[String]) -> Result<ResultDocument, CrosscheckError> {
        let json = self
            .out_dir
            .join(format!("benchfs-bench-round-{}.json", k + 1));
        let mut cmd = Command::new(&self.bench);
        cmd.args(args);
        if !has_flag(args, "-N") && !has_flag(args, "--numTasks") {
            cmd.args(["-N", &self.np.to_string()]);
        }
        cmd.arg("--json").arg(&json);
        let text = run(&format!("benchfs-bench (round {})", k + 1), cmd)?;
        self.write(&format!("benchfs-bench-round-{}.txt", k + 1), &text)?;
        ResultDocument::read_from(&json).map_err(|e| CrosscheckError::Output(e.to_string()))
    }

    /// Runs the whole crosscheck.
    pub fn run(&self) -> Result<Outcome, CrosscheckError> {
        if self.rounds == 0 {
            return Err(CrosscheckError::Options(
                "--rounds must be at least 1".into(),
            ));
        }
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| CrosscheckError::Output(format!("{}: {e}", self.out_dir.display())))?;
        let mut args = with_backend(&self.ior_args);
        let mut parsed =
            options::parse_args(&args).map_err(|e| CrosscheckError::Options(e.to_string()))?;
        // One cluster for both harnesses: the test's own registry, else an embedded one.
        let cluster = {
            let t = &mut parsed.tests[0];
            EmbeddedClusters::start_for(&mut [BackendSlot {
                api: &t.api,
                options: &mut t.backend_options,
                verbose: t.verbose >= 1,
            }])
        }
        .map_err(CrosscheckError::Cluster)?;
        if cluster.is_some() {
            if let Some(r) = parsed.tests[0].backend_options.get("benchfs.registry") {
                args.extend(["--benchfs.registry".to_string(), r.clone()]);
            }
        }
        let result = self.rounds_on(&args);
        if let Some(c) = cluster {
            c.shutdown();
        }
        result
    }

    fn rounds_on(&self, args: &[String]) -> Result<Outcome, CrosscheckError> {
        let mut ior_docs = Vec::new();
        let mut our_docs = Vec::new();
        for k in 0..self.rounds {
            // Alternate which harness goes first, so neither always meets a warmer cluster.
            if k % 2 == 0 {
                ior_docs.push(self.ior_round(k, args)?);
                our_docs.push(self.our_round(k, args)?);
            } else {
                our_docs.push(self.our_round(k, args)?);
                ior_docs.push(self.ior_round(k, args)?);
            }
            eprintln!("crosscheck: round {} of {} done", k + 1, self.rounds);
        }
        let ior = merge(ior_docs);
        let ours = merge(our_docs);
        for (name, doc) in [("ior.json", &ior), ("benchfs-bench.json", &ours)] {
            doc.write_to(self.out_dir.join(name))
                .map_err(|e| CrosscheckError::Output(e.to_string()))?;
        }
        let comparison = compare::compare(
            &ior,
            "IOR",
            &ours,
            "benchfs-bench",
            self.threshold_pct,
            self.alpha,
        );
        let mut table = side_by_side(&ior, &ours, &comparison, self.rounds);
        if let Some(mdtest) = &self.mdtest {
            table.push_str(&self.mdtest_rounds(mdtest, args)?);
        }
        self.write("crosscheck.txt", &table)?;
        Ok(Outcome { table })
    }

    /// Real mdtest and benchfs-bench mdtest with the same arguments on the same cluster, K
    /// rounds in alternating order: both merged documents kept, the rates side by side per
    /// operation with compare's verdicts.
    fn mdtest_rounds(&self, mdtest: &Path, ior_args: &[String]) -> Result<String, CrosscheckError> {
        // The backend and its --benchfs.* options follow IOR's.
        let mut args = Vec::new();
        let mut it = ior_args.iter();
        while let Some(a) = it.next() {
            if a == "-a" || a.starts_with("--benchfs.") {
                args.push(a.clone());
                if !a.contains('=') {
                    if let Some(v) = it.next() {
                        args.push(v.clone());
                    }
                }
            }
        }
        args.extend(self.mdtest_args.iter().cloned());
        let mut theirs = Vec::new();
        let mut ours = Vec::new();
        for k in 0..self.rounds {
            if k % 2 == 0 {
                theirs.push(self.mdtest_upstream_round(mdtest, k, &args)?);
                ours.push(self.mdtest_our_round(k, &args)?);
            } else {
                ours.push(self.mdtest_our_round(k, &args)?);
                theirs.push(self.mdtest_upstream_round(mdtest, k, &args)?);
            }
            eprintln!("crosscheck: mdtest round {} of {} done", k + 1, self.rounds);
        }
        let theirs = merge_mdtest(theirs);
        let ours = merge_mdtest(ours);
        for (name, doc) in [
            ("mdtest.json", &theirs),
            ("benchfs-bench-mdtest.json", &ours),
        ] {
            doc.write_to(self.out_dir.join(name))
                .map_err(|e| CrosscheckError::Output(e.to_string()))?;
        }
        let c = compare::compare(
            &theirs,
            "mdtest",
            &ours,
            "benchfs-bench",
            self.threshold_pct,
            self.alpha,
        );
        Ok(mdtest_side_by_side(&c, self.rounds))
    }

    fn mdtest_upstream_round(
        &self,
        mdtest: &Path,
        k: usize,
        args: &[String],
    ) -> Result<ResultDocument, CrosscheckError> {
        let what = format!("mdtest (round {})", k + 1);
        let text = run(&what, self.upstream(mdtest, args))?;
        let path = self.write(&format!("mdtest-round-{}.txt", k + 1), &text)?;
        import_str(
            &text,
            &path.display().to_string(),
            None,
            &ImportOptions::default(),
        )
        .map_err(|e| CrosscheckError::Output(e.to_string()))
    }

    fn mdtest_our_round(
        &self,
        k: usize,
        args: &[String],
    ) -> Result<ResultDocument, CrosscheckError> {
        let json = self
            .out_dir
            .join(format!("benchfs-bench-mdtest-round-{}.json", k + 1));
        let mut cmd = Command::new(&self.bench);
        cmd.arg("mdtest")
            .args(args)
            .args(["--tasks", &self.np.to_string()])
            .arg("--json")
            .arg(&json);
        let text = run(&format!("benchfs-bench mdtest (round {})", k + 1), cmd)?;
        self.write(&format!("benchfs-bench-mdtest-round-{}.txt", k + 1), &text)?;
        ResultDocument::read_from(&json).map_err(|e| CrosscheckError::Output(e.to_string()))
    }
}

/// One document holding the mdtest runs of every round of `docs`: a round's iterations become
/// more iterations of the same task count.
fn merge_mdtest(mut docs: Vec<ResultDocument>) -> ResultDocument {
    let mut first = docs.remove(0);
    for d in docs {
        first.errors.extend(d.errors);
        let (Some(into), Some(from)) = (first.mdtest.as_mut(), d.mdtest) else {
            continue;
        };
        for mut run in from.runs {
            match into
                .runs
                .iter_mut()
                .find(|r| r.tasks == run.tasks && r.items_per_rank == run.items_per_rank)
            {
                Some(r) => {
                    for p in &mut run.phases {
                        p.iteration += r.iterations;
                    }
                    r.iterations += run.iterations;
                    r.verification_errors += run.verification_errors;
                    r.phases.extend(run.phases);
                }
                None => into.runs.push(run),
            }
        }
    }
    first
}

/// The rates of upstream mdtest and benchfs-bench mdtest per workload and operation: medians
/// over every iteration of every round, the ratio and the verdict.
fn mdtest_side_by_side(c: &Comparison, rounds: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nmdtest: upstream mdtest vs benchfs-bench mdtest, {rounds} round(s), median rates (ops/s); ratio = benchfs-bench / mdtest"
    );
    let rates: Vec<&MetricComparison> = c.metrics.iter().filter(|m| m.metric == "rate").collect();
    if rates.is_empty() {
        s.push_str("  no operation in common\n");
        return s;
    }
    let mut last = "";
    for m in rates {
        if m.workload != last {
            let _ = writeln!(s, "\n{}", m.workload);
            let _ = writeln!(
                s,
                "  {:<20} {:>14} {:>14} {:>7}  verdict",
                "operation", "mdtest", "benchfs-bench", "ratio"
            );
            last = &m.workload;
        }
        let _ = writeln!(
            s,
            "  {:<20} {:>14.3} {:>14.3} {:>7.2}  {}",
            m.phase,
            m.baseline.median,
            m.current.median,
            m.current.median / m.baseline.median,
            verdict_words(m)
        );
    }
    s
}

/// One document holding every test of `docs` (each round's iterations become samples of
/// the same workload).
fn merge(mut docs: Vec<ResultDocument>) -> ResultDocument {
    let mut first = docs.remove(0);
    for d in docs {
        first.tests.extend(d.tests);
        first.data_errors += d.data_errors;
        first.errors.extend(d.errors);
    }
    first
}

fn median_of(rows: &[&PhaseResult], f: Figure) -> f64 {
    let v: Vec<f64> = rows
        .iter()
        .map(|r| f(r))
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        f64::NAN
    } else {
        compare::median(&v)
    }
}

/// The words of a verdict on ours (current) against IOR (baseline).
pub fn verdict_words(m: &MetricComparison) -> String {
    let faster = match m.better {
        Better::Higher => m.change_pct > 0.0,
        Better::Lower => m.change_pct < 0.0,
    };
    let by = format!("by {:.1} %", m.change_pct.abs());
    let side = if faster { "ours faster" } else { "ours slower" };
    match m.verdict {
        Verdict::Unchanged => format!("agree ({:+.1} %)", m.change_pct),
        Verdict::Improvement | Verdict::Regression => format!("{side} {by} (significant)"),
        Verdict::Inconclusive => format!("{side} {by} (not significant, p={:.2})", m.p_value),
        Verdict::Insufficient => format!(
            "{side} {by} (too few samples to tell: {}+{})",
            m.baseline.n, m.current.n
        ),
        Verdict::NoCommonWorkload => String::new(),
    }
}

/// What a row of the table shows of a phase.
type Figure = fn(&PhaseResult) -> f64;

/// The rows of the table per phase: name, unit, figure.
const ROWS: [(&str, &str, Figure); 6] = [
    ("bw", "MiB/s", |r| r.bw_mib),
    ("iops", "ops/s", |r| r.iops),
    ("open", "s", |r| r.open_time),
    ("wr/rd", "s", |r| r.wrrd_time),
    ("close", "s", |r| r.close_time),
    ("total", "s", |r| r.total_time),
];

/// The side-by-side table of the two harnesses' medians per workload and phase.
pub fn side_by_side(
    ior: &ResultDocument,
    ours: &ResultDocument,
    c: &Comparison,
    rounds: usize,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "crosscheck: upstream IOR vs benchfs-bench, {rounds} round(s), medians; ratio = benchfs-bench / IOR"
    );
    let theirs = compare::rows_by_workload(ior);
    let mine = compare::rows_by_workload(ours);
    for (key, irows) in &theirs {
        let Some((_, orows)) = mine.iter().find(|(k, _)| k == key) else {
            let _ = writeln!(s, "\n{key}: only IOR ran it");
            continue;
        };
        let _ = writeln!(s, "\n{key}");
        let _ = writeln!(
            s,
            "  {:<6} {:<14} {:>14} {:>14} {:>7}  verdict",
            "phase", "metric", "IOR", "benchfs-bench", "ratio"
        );
        for phase in [
            crate::ior::results::Phase::Write,
            crate::ior::results::Phase::Read,
        ] {
            let i: Vec<&PhaseResult> = irows
                .iter()
                .copied()
                .filter(|r| r.access == phase)
                .collect();
            let o: Vec<&PhaseResult> = orows
                .iter()
                .copied()
                .filter(|r| r.access == phase)
                .collect();
            if i.is_empty() || o.is_empty() {
                continue;
            }
            for (name, unit, f) in ROWS {
                let (a, b) = (median_of(&i, f), median_of(&o, f));
                let verdict = c
                    .metrics
                    .iter()
                    .find(|m| m.workload == *key && m.phase == phase.as_str() && m.metric == name)
                    .map(verdict_words)
                    .unwrap_or_default();
                let digits = if unit == "s" { 6 } else { 3 };
                let _ = writeln!(
                    s,
                    "  {:<6} {:<14} {:>14.digits$} {:>14.digits$} {:>7.2}  {verdict}",
                    phase.as_str(),
                    format!("{name} {unit}"),
                    a,
                    b,
                    b / a
                );
            }
        }
    }
    for k in mine
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !theirs.iter().any(|(t, _)| t == *k))
    {
        let _ = writeln!(s, "\n{k}: only benchfs-bench ran it");
    }
    let _ = writeln!(
        s,
        "\n{} metric(s) compared: {} where benchfs-bench is significantly faster, {} slower (threshold {:.1} %, alpha {})",
        c.metrics.len(),
        c.improvements,
        c.regressions,
        c.threshold_pct,
        c.alpha
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_is_added_only_when_none_is_named() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(with_backend(&a(&["-w"])), a(&["-a", "BENCHFS", "-w"]));
        assert_eq!(
            with_backend(&a(&["-a", "POSIX", "-w"])),
            a(&["-a", "POSIX", "-w"])
        );
        assert!(has_flag(&a(&["-N", "2"]), "-N"));
        assert!(!has_flag(&a(&["-Nx"]), "-N"));
    }
}
