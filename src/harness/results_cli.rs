//! The subcommands of benchfs-bench: `import`, `compare`, `report`, `export`, `sweep`,
//! `crosscheck`, `version`, `completions`, `man` (clap based). The binary hands `argv[1..]`
//! to [`main`] when [`is_subcommand`] says `argv[1]` names one; every other command line is
//! an IOR run, whose `-h` lists them ([`subcommands_help`]).
//!
//! Owns argument parsing, file input/output and exit statuses of these subcommands; the work
//! itself is in the sibling modules. Exit statuses: 0 success, 1 a regression (`compare`),
//! 2 usage or input/output errors, 3 no workload in common (`compare`), 4 too few
//! iterations to judge a change (`compare`, unless `--allow-insufficient`).

use crate::harness::cli_docs::{self, Binary};
use crate::harness::crosscheck::Crosscheck;
use crate::harness::sweep;
use crate::results::compare::{self, Verdict, DEFAULT_ALPHA};
use crate::results::document::ResultDocument;
use crate::results::export;
use crate::results::import::{import_file, load_document, ImportOptions};
use crate::results::report::{build_dashboard, ReportOptions};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Whether first argument `name` selects a subcommand instead of an IOR run.
pub fn is_subcommand(name: &str) -> bool {
    Cli::command().find_subcommand(name).is_some()
}

/// The subcommands as a section of `benchfs-bench -h`, in IOR's help layout: one line each
/// with its name and summary.
pub fn subcommands_help() -> String {
    use crate::optparse::help::{section, Line};
    let cmd = cli_docs::bench_command(&Cli::command());
    let lines: Vec<Line> = cmd
        .get_subcommands()
        .map(|s| {
            let about = s.get_about().map(|a| a.to_string()).unwrap_or_default();
            let first = about.split([';', ':']).next().unwrap_or_default();
            let first = first.split(". ").next().unwrap_or_default();
            Line::Opt(
                s.get_name().to_string(),
                first.trim_end_matches('.').to_string(),
            )
        })
        .collect();
    let mut out = String::from("\n");
    section(
        &mut out,
        "Subcommands (benchfs-bench SUBCOMMAND --help)",
        &lines,
    );
    out
}

/// Exit status of `compare` when a regression was found.
pub const EXIT_REGRESSION: i32 = 1;
/// Exit status of a usage or input/output error.
pub const EXIT_FAILURE: i32 = 2;
/// Exit status of `compare` when the two sides have no workload in common.
pub const EXIT_NO_COMMON: i32 = 3;
/// Exit status of `compare` when a change could not be judged for lack of iterations (and
/// `--allow-insufficient` was not given).
pub const EXIT_INSUFFICIENT: i32 = 4;

/// The exit status of `compare` for comparison `c`.
fn compare_exit_status(c: &compare::Comparison, allow_insufficient: bool) -> i32 {
    match c.verdict {
        Verdict::NoCommonWorkload => {
            eprintln!(
                "benchfs-bench compare: no workload in common between {} and {}: nothing was compared",
                c.baseline, c.current
            );
            EXIT_NO_COMMON
        }
        _ if c.regressions > 0 => EXIT_REGRESSION,
        Verdict::Insufficient if !allow_insufficient => {
            eprintln!(
                "benchfs-bench compare: {} metric(s) changed beyond the threshold with too few iterations to tell: {}",
                c.insufficient,
                c.verdict_text()
            );
            EXIT_INSUFFICIENT
        }
        _ => 0,
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "benchfs-bench",
    about = "benchfs-bench result tools (an IOR run is `benchfs-bench [IOR options]`)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompareFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RunOrder {
    /// By the runs' start dates.
    Date,
    /// As given on the command line (e.g. commit order).
    Input,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// github-action-benchmark `customBiggerIsBetter` (bandwidth, IOPS).
    GabBigger,
    /// github-action-benchmark `customSmallerIsBetter` (latencies).
    GabSmaller,
    /// Bencher Metric Format.
    Bmf,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import real IOR output (text, summaryFormat=JSON or CSV) as benchfs result documents.
    Import {
        /// IOR output files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the document here (one input only; default: stdout).
        #[arg(short, long, conflicts_with = "out_dir")]
        output: Option<PathBuf>,
        /// Write one `<input stem>.json` per input into this directory.
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Backend name to record for CSV input (IOR's CSV does not say).
        #[arg(long, default_value = "POSIX")]
        csv_api: String,
    },
    /// Compare CURRENT with BASELINE (documents or IOR outputs); exit 1 on a regression, 3
    /// when nothing is in common, 4 when a change needs more iterations to be judged.
    Compare {
        /// Baseline document or IOR output.
        baseline: PathBuf,
        /// Current document or IOR output.
        current: PathBuf,
        /// Smallest relative change of the medians that counts, in percent (`5%` or `5`).
        #[arg(long, default_value = "5%")]
        threshold: String,
        /// Family-wise significance level (Mann-Whitney U tests, Holm-Bonferroni corrected).
        #[arg(long, default_value_t = DEFAULT_ALPHA)]
        alpha: f64,
        /// Exit 0 instead of 4 when some metric changed beyond the threshold but had too few
        /// iterations to tell (a regression still exits 1).
        #[arg(long)]
        allow_insufficient: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CompareFormat,
        /// Write the report here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Build a static dashboard (index.html with SVG plots) of result documents.
    Report {
        /// Result documents or IOR outputs (runs of the history).
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Also write PNG files of the plots.
        #[arg(long)]
        png: bool,
        /// Page title.
        #[arg(long)]
        title: Option<String>,
        /// Order of the runs in the history: by start date, or as given.
        #[arg(long, value_enum, default_value = "date")]
        order: RunOrder,
        /// Judge the latest run of each workload against this document (or IOR output), drawn
        /// as a band on the history plots (default: the first run).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Threshold of the verdicts, as `compare --threshold`.
        #[arg(long, default_value = "5%")]
        threshold: String,
        /// Significance level of the verdicts, as `compare --alpha`.
        #[arg(long, default_value_t = DEFAULT_ALPHA)]
        alpha: f64,
    },
    /// Export medians for CI services (github-action-benchmark, Bencher BMF).
    Export {
        /// Output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Result documents or IOR outputs.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run one IOR pattern over a list of transfer sizes: `sweep --sizes 4k,64k,1m --json all.json -- -w -r -b 4m`.
    Sweep {
        /// Comma-separated transfer sizes (IOR numbers: 4k, 1m, ...).
        #[arg(long, required = true)]
        sizes: String,
        /// Write one document per size (`sweep-<size>.json`) into this directory.
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Write one combined document (one test per size) here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// The IOR arguments of the pattern (after `--`).
        #[arg(last = true, required = true, allow_hyphen_values = true)]
        ior_args: Vec<String>,
    },
    /// Run upstream IOR and benchfs-bench on one BenchFS cluster with the same arguments, K
    /// rounds, and compare: `crosscheck --ior /path/to/ior --rounds 3 --np 4 -- -w -r -t 1m -b 16m`.
    Crosscheck {
        /// The real IOR binary (built with the BENCHFS backend of ior-compat/ for -a BENCHFS).
        #[arg(long)]
        ior: PathBuf,
        /// The real mdtest binary: also run it and benchfs-bench mdtest on the same cluster.
        #[arg(long)]
        mdtest: Option<PathBuf>,
        /// mdtest's arguments (split at spaces; the backend and --benchfs.* follow IOR's).
        #[arg(
            long,
            default_value = "-n 1000 -u -d /crosscheck-mdtest",
            allow_hyphen_values = true
        )]
        mdtest_args: String,
        /// Rounds: each runs IOR once and benchfs-bench once, in alternating order.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Tasks: `mpirun -np N` for IOR (none for 1), `-N N` local tasks for benchfs-bench.
        #[arg(long, default_value_t = 1)]
        np: usize,
        /// MPI launcher for IOR.
        #[arg(long, default_value = "mpirun")]
        mpirun: String,
        /// Where every output, both result documents and the table go (default:
        /// `crosscheck-<UTC time>` in the current directory).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Smallest relative change of the medians that counts, in percent.
        #[arg(long, default_value = "5%")]
        threshold: String,
        /// Significance level of the Mann-Whitney U test.
        #[arg(long, default_value_t = DEFAULT_ALPHA)]
        alpha: f64,
        /// The IOR arguments both harnesses run (after `--`; `-a BENCHFS` if none names a
        /// backend).
        #[arg(last = true, required = true, allow_hyphen_values = true)]
        ior_args: Vec<String>,
    },
    /// Print the exact build: version, git commit, cargo features, profile, target.
    Version {
        /// As a JSON object (the `build` of result documents).
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script of benchfs-bench (IOR options and subcommands) or
    /// benchfs-server.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        /// Which binary.
        #[arg(long, value_enum, default_value = "benchfs-bench")]
        bin: Binary,
    },
    /// Print the man page of benchfs-bench or benchfs-server, or write all of them (one per
    /// subcommand too) into a directory.
    Man {
        /// Which binary (printed to stdout).
        #[arg(
            long,
            value_enum,
            default_value = "benchfs-bench",
            conflicts_with = "out_dir"
        )]
        bin: Binary,
        /// Write benchfs-bench.1, benchfs-bench-SUBCOMMAND.1 and benchfs-server.1 here.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

/// Parses `5%`, `5` or `2.5 %` as a percentage.
pub fn parse_threshold(s: &str) -> Option<f64> {
    let v: f64 = s.trim().trim_end_matches('%').trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("benchfs-bench: {msg}");
    EXIT_FAILURE
}

fn write_out(output: Option<&Path>, text: &str) -> Result<(), String> {
    match output {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn load_all(paths: &[PathBuf]) -> Result<Vec<(String, ResultDocument)>, String> {
    paths
        .iter()
        .map(|p| {
            load_document(p, &ImportOptions::default())
                .map(|d| (p.display().to_string(), d))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Runs a result subcommand; `args` are the arguments after the program name, starting with
/// the subcommand. Returns the exit status.
pub fn main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("benchfs-bench".to_string()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_FAILURE } else { 0 };
        }
    };
    match cli.command {
        Command::Version { json } => {
            if json {
                match serde_json::to_string_pretty(&crate::build_info::BuildInfo::current()) {
                    Ok(j) => println!("{j}"),
                    Err(e) => return fail(e),
                }
            } else {
                print!("{}", crate::build_info::describe("benchfs-bench"));
            }
            0
        }
        Command::Completions { shell, bin } => {
            let mut out = std::io::stdout().lock();
            cli_docs::completions(bin, shell, &Cli::command(), &mut out);
            0
        }
        Command::Man { bin, out_dir } => match out_dir {
            Some(dir) => match cli_docs::write_man_pages(&dir, &Cli::command()) {
                Ok(files) => {
                    for f in files {
                        eprintln!("wrote {}", f.display());
                    }
                    0
                }
                Err(e) => fail(format!("{}: {e}", dir.display())),
            },
            None => match cli_docs::man_page(bin, &Cli::command()) {
                Ok(page) => {
                    use std::io::Write;
                    match std::io::stdout().lock().write_all(&page) {
                        Ok(()) => 0,
                        Err(e) => fail(e),
                    }
                }
                Err(e) => fail(e),
            },
        },
        Command::Import {
            files,
            output,
            out_dir,
            csv_api,
        } => {
            let opts = ImportOptions { csv_api };
            if files.len() > 1 && out_dir.is_none() {
                return fail("several inputs need --out-dir DIR");
            }
            if let Some(dir) = &out_dir {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    return fail(format!("{}: {e}", dir.display()));
                }
            }
            for f in &files {
                let doc = match import_file(f, &opts) {
                    Ok(d) => d,
                    Err(e) => return fail(e),
                };
                let target = match (&out_dir, &output) {
                    (Some(dir), _) => Some(dir.join(format!(
                        "{}.json",
                        f.file_stem().and_then(|s| s.to_str()).unwrap_or("imported")
                    ))),
                    (None, Some(o)) => Some(o.clone()),
                    (None, None) => None,
                };
                let res = match target {
                    Some(t) => doc.write_to(&t).map_err(|e| e.to_string()),
                    None => doc
                        .to_json()
                        .map_err(|e| e.to_string())
                        .and_then(|j| write_out(None, &format!("{j}\n"))),
                };
                if let Err(e) = res {
                    return fail(e);
                }
            }
            0
        }
        Command::Compare {
            baseline,
            current,
            threshold,
            alpha,
            format,
            output,
            allow_insufficient,
        } => {
            let Some(threshold) = parse_threshold(&threshold) else {
                return fail(format!("invalid --threshold {threshold:?} (e.g. 5%)"));
            };
            if !(alpha > 0.0 && alpha < 1.0) {
                return fail("--alpha must be between 0 and 1");
            }
            let docs = match load_all(&[baseline.clone(), current.clone()]) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let c = compare::compare(
                &docs[0].1, &docs[0].0, &docs[1].1, &docs[1].0, threshold, alpha,
            );
            let text = match format {
                CompareFormat::Text => c.to_text(),
                CompareFormat::Markdown => c.to_markdown(),
                CompareFormat::Json => match c.to_json() {
                    Ok(j) => j + "\n",
                    Err(e) => return fail(e),
                },
            };
            if let Err(e) = write_out(output.as_deref(), &text) {
                return fail(e);
            }
            compare_exit_status(&c, allow_insufficient)
        }
        Command::Report {
            results,
            out,
            png,
            title,
            order,
            baseline,
            threshold,
            alpha,
        } => {
            let Some(threshold_pct) = parse_threshold(&threshold) else {
                return fail(format!("invalid --threshold {threshold:?} (e.g. 5%)"));
            };
            if !(alpha > 0.0 && alpha < 1.0) {
                return fail("--alpha must be between 0 and 1");
            }
            let docs = match load_all(&results) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let baseline = match baseline.map(|b| load_all(&[b])) {
                Some(Ok(mut b)) => b.pop(),
                Some(Err(e)) => return fail(e),
                None => None,
            };
            let opts = ReportOptions {
                png,
                title,
                keep_order: order == RunOrder::Input,
                baseline,
                threshold_pct,
                alpha,
            };
            match build_dashboard(&docs, &out, &opts) {
                Ok(d) => {
                    println!("{} ({} plots)", d.index.display(), d.plots.len());
                    0
                }
                Err(e) => fail(e),
            }
        }
        Command::Export {
            format,
            results,
            output,
        } => {
            let docs: Vec<ResultDocument> = match load_all(&results) {
                Ok(d) => d.into_iter().map(|(_, d)| d).collect(),
                Err(e) => return fail(e),
            };
            let figures = export::figures(&docs);
            if figures.is_empty() {
                return fail(format!(
                    "nothing to export: {} has no write or read results",
                    results
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let v = match format {
                ExportFormat::GabBigger => export::github_action_benchmark(&figures, true),
                ExportFormat::GabSmaller => export::github_action_benchmark(&figures, false),
                ExportFormat::Bmf => export::bencher_bmf(&figures),
            };
            match serde_json::to_string_pretty(&v) {
                Ok(j) => match write_out(output.as_deref(), &(j + "\n")) {
                    Ok(()) => 0,
                    Err(e) => fail(e),
                },
                Err(e) => fail(e),
            }
        }
        Command::Sweep {
            sizes,
            out_dir,
            json,
            ior_args,
        } => {
            if out_dir.is_none() && json.is_none() {
                return fail("sweep needs --out-dir DIR and/or --json FILE");
            }
            let sizes = match sweep::parse_sizes(&sizes) {
                Ok(s) if !s.is_empty() => s,
                Ok(_) => return fail("--sizes is empty"),
                Err(e) => return fail(e),
            };
            match sweep::run_sweep(&ior_args, &sizes, out_dir.as_deref(), json.as_deref()) {
                Ok(_) => 0,
                Err(e) => fail(e),
            }
        }
        Command::Crosscheck {
            ior,
            mdtest,
            mdtest_args,
            rounds,
            np,
            mpirun,
            out_dir,
            threshold,
            alpha,
            ior_args,
        } => {
            let Some(threshold_pct) = parse_threshold(&threshold) else {
                return fail(format!("invalid --threshold {threshold:?} (e.g. 5%)"));
            };
            if np == 0 {
                return fail("--np must be at least 1");
            }
            let bench = match std::env::current_exe() {
                Ok(b) => b,
                Err(e) => return fail(format!("cannot find the benchfs-bench binary: {e}")),
            };
            let out_dir = out_dir.unwrap_or_else(|| {
                PathBuf::from(format!(
                    "crosscheck-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
                ))
            });
            let c = Crosscheck {
                ior,
                mdtest,
                mdtest_args: mdtest_args.split_whitespace().map(str::to_string).collect(),
                bench,
                rounds,
                np,
                mpirun,
                out_dir: out_dir.clone(),
                threshold_pct,
                alpha,
                ior_args,
            };
            match c.run() {
                Ok(o) => {
                    print!("{}", o.table);
                    println!("outputs and result documents kept in {}", out_dir.display());
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(parse_threshold("5%"), Some(5.0));
        assert_eq!(parse_threshold("2.5 %"), Some(2.5));
        assert_eq!(parse_threshold("10"), Some(10.0));
        assert_eq!(parse_threshold("-1"), None);
        assert_eq!(parse_threshold("x"), None);
    }

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(main(vec!["compare".into()]), EXIT_FAILURE);
        assert_eq!(
            main(vec![
                "compare".into(),
                "a".into(),
                "b".into(),
                "--threshold".into(),
                "x".into()
            ]),
            EXIT_FAILURE
        );
        assert_eq!(
            main(vec!["import".into(), "/nonexistent/file".into()]),
            EXIT_FAILURE
        );
    }
}
