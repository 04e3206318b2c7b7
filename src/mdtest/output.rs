//! mdtest 4.1's text output (SPEC §7.3): the header, the summary tables (rate, `-Z`/`-P`
//! time, `--showRankStatistics` columns), `--print-all-procs`, and where each line goes.
//!
//! Lines mdtest prints without a header (`VERBOSE(0,-1,...)`: the header, `Path`/`FS`, `N
//! tasks, ...`, the tables, `-- finished at --`) form the result stream (rank 0's sink,
//! stdout). `WARNING:` lines and the `V-<n>: Rank ... Line ...` lines of `-v` go to the log
//! stream (stderr), each line whole, so the result stream stays clean; with both on one file
//! (`2>&1`) the order is mdtest's. Owns layout only: figures come from
//! [`crate::mdtest::stats`].

use crate::mdtest::params::Op;
use crate::mdtest::results::TaskRun;
use crate::mdtest::stats::{self, Measure};
use crate::mdtest::validate::MdtestError;
use crate::measure::log;
use std::cell::RefCell;
use std::io::Write;

/// The result stream and the log stream of one rank.
pub struct Report<'a> {
    out: RefCell<Option<&'a mut (dyn Write + Send)>>,
    rank: usize,
    verbose: i32,
    warning_as_errors: bool,
}

impl<'a> Report<'a> {
    /// `out` is rank 0's result stream (`None` on other ranks, or to print nothing).
    pub fn new(
        out: Option<&'a mut (dyn Write + Send)>,
        rank: usize,
        verbose: i32,
        warning_as_errors: bool,
    ) -> Self {
        Report {
            out: RefCell::new(out),
            rank,
            verbose,
            warning_as_errors,
        }
    }

    /// The verbosity (`-v`, `-V`).
    pub fn verbose(&self) -> i32 {
        self.verbose
    }

    /// Writes text to the result stream (rank 0 only).
    pub fn text(&self, s: &str) -> Result<(), MdtestError> {
        if self.rank != 0 {
            return Ok(());
        }
        if let Some(out) = self.out.borrow_mut().as_deref_mut() {
            out.write_all(s.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| MdtestError::Run(format!("cannot write results: {e}")))?;
        }
        Ok(())
    }

    /// A line of the result stream (rank 0 only).
    pub fn line(&self, s: &str) -> Result<(), MdtestError> {
        self.text(&format!("{s}\n"))
    }

    /// mdtest's `VERBOSE(root, any, ...)` with a header: printed by rank 0 from verbosity
    /// `root`, by every rank from verbosity `any` (when `any > 0`).
    pub fn v(&self, root: i32, any: i32, line: u32, msg: &str) {
        if (self.rank == 0 && self.verbose >= root) || (any > 0 && self.verbose >= any) {
            log::line(&format!(
                "V-{root}: Rank {:3} Line {line:5} {msg}",
                self.rank
            ));
        }
    }

    /// mdtest's `WARNF`: `WARNING: <msg>` (with `, (mdtest.c:<line>).` from `-vvv`), or with
    /// `--warningAsErrors` the error that ends the run.
    pub fn warn(&self, line: u32, msg: &str) -> Result<(), MdtestError> {
        if self.warning_as_errors {
            return Err(MdtestError::Error {
                message: msg.to_string(),
                line,
            });
        }
        if self.verbose > 2 {
            log::line(&format!("WARNING: {msg}, (mdtest.c:{line})."));
        } else {
            log::line(&format!("WARNING: {msg}"));
        }
        Ok(())
    }
}

/// The version line: `mdtest-4.1.0+dev was launched with N total task(s) on M node(s)`, with
/// the tool that ran it appended (parsers match the text before it).
pub fn launched_line(tasks: usize, nodes: usize) -> String {
    format!(
        "mdtest-{} was launched with {tasks} total task(s) on {nodes} node(s) (benchfs-bench {})",
        crate::build_info::IOR_VERSION,
        crate::build_info::VERSION
    )
}

/// `Command line used: <program> '<arg>' '<arg>' ...` (each argument single-quoted).
pub fn command_line(program: &str, args: &[String]) -> String {
    let mut s = format!("Command line used: {program}");
    for a in args {
        s.push_str(&format!(" '{a}'"));
    }
    s
}

/// The summary block of one table (`summarize_results_rank0`), starting with its blank line.
pub fn summary_table(
    run: &TaskRun,
    dirs: bool,
    files: bool,
    measure: Measure,
    per_rank: bool,
) -> String {
    let mut s = String::new();
    match measure {
        Measure::Time => s.push_str(&format!(
            "\nSUMMARY time (in ms/op): (of {} iterations)\n",
            run.iterations
        )),
        Measure::Rate => s.push_str(&format!(
            "\nSUMMARY rate (in ops/sec): (of {} iterations)\n",
            run.iterations
        )),
    }
    s.push_str("   Operation     ");
    if per_rank {
        s.push_str("per Rank: Max            Min           Mean      per Iteration:");
    } else {
        s.push_str("               ");
    }
    s.push_str(" Max            Min           Mean        Std Dev\n");
    s.push_str("   ---------      ");
    if per_rank {
        s.push_str("         ---            ---           ----       ");
    }
    s.push_str("               ---            ---           ----        -------\n");
    for op in stats::table_ops(dirs, files) {
        let r = stats::summarize(run, op, measure);
        if op.is_tree() {
            s.push_str(&format!("   {:<22} ", op.name()));
            if per_rank {
                s.push_str(&format!(
                    "{:14.3} {:14.3} {:14.3}     ",
                    r.rank_max, r.rank_min, r.rank_mean
                ));
            }
        } else {
            s.push_str(&format!("   {:<18} ", op.name()));
            if per_rank {
                s.push_str(&format!(
                    "{:14.3} {:14.3} {:14.3}     ",
                    r.rank_max, r.rank_min, r.rank_mean
                ));
            }
            s.push_str("    ");
        }
        s.push_str(&format!(
            "{:14.3} {:14.3} {:14.3} {:14.3}\n",
            r.max, r.min, r.mean, r.std_dev
        ));
    }
    s
}

/// `--print-all-procs`: every rank's figure (before the closing barrier) of every operation
/// from the first one tested, per iteration, in C's `%e`.
pub fn per_process(run: &TaskRun, dirs: bool, files: bool, measure: Measure) -> String {
    let start = if files && !dirs {
        Op::FileCreate.index()
    } else if !dirs && !files {
        Op::ALL.len()
    } else {
        0
    };
    let mut s = format!(
        "\nPer process result ({}):\n",
        match measure {
            Measure::Rate => "rate",
            Measure::Time => "time",
        }
    );
    for j in 0..run.iterations {
        s.push_str(&format!("iteration: {j}\n"));
        for op in &Op::ALL[start.min(Op::ALL.len())..] {
            s.push_str(&format!("Test {}", op.name()));
            for k in 0..run.tasks {
                let v = run
                    .get(*op, j)
                    .and_then(|p| p.per_rank.get(k))
                    .map_or(0.0, |r| {
                        if op.is_tree() {
                            // mdtest never sets the tree figures before the barrier.
                            0.0
                        } else {
                            match measure {
                                Measure::Rate => r.rate_before_barrier,
                                Measure::Time => r.time_before_barrier,
                            }
                        }
                    });
                s.push(if k == 0 { ' ' } else { ',' });
                s.push_str(&crate::units::sci(v, 6));
            }
            s.push('\n');
        }
    }
    s
}

/// The `-v` line of one operation of an iteration (`   File creation     :   0.000 sec, ...`).
pub fn verbose_op_line(label: &str, time: f64, rate: f64) -> String {
    format!("{label}: {time:14.3} sec, {rate:14.3} ops/sec")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdtest::results::{PhaseResult, RankFigures};
    use crate::measure::latency::LatencySummary;

    fn one(op: Op, rate: f64) -> PhaseResult {
        PhaseResult::reduce(
            op,
            0,
            vec![RankFigures {
                rank: 0,
                items: 1000,
                time: 1000.0 / rate,
                time_before_barrier: 1000.0 / rate,
                rate,
                rate_before_barrier: rate,
                errors: 0,
            }],
            LatencySummary::default(),
            None,
        )
    }

    #[test]
    fn table_layout_as_mdtest() {
        let run = TaskRun {
            tasks: 1,
            iterations: 1,
            items_per_rank: 1000,
            phases: vec![
                one(Op::FileCreate, 233289.059),
                one(Op::TreeCreate, 53092.456),
            ],
            verification_errors: 0,
        };
        let t = summary_table(&run, false, true, Measure::Rate, false);
        let want = "
SUMMARY rate (in ops/sec): (of 1 iterations)
   Operation                     Max            Min           Mean        Std Dev
   ---------                     ---            ---           ----        -------
   File creation              233289.059     233289.059     233289.059          0.000
   File stat                       0.000          0.000          0.000          0.000
   File read                       0.000          0.000          0.000          0.000
   File removal                    0.000          0.000          0.000          0.000
   Tree creation               53092.456      53092.456      53092.456          0.000
   Tree removal                    0.000          0.000          0.000          0.000
";
        assert_eq!(t, want);
        let r = summary_table(&run, false, true, Measure::Rate, true);
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines[2], "   Operation     per Rank: Max            Min           Mean      per Iteration: Max            Min           Mean        Std Dev");
        assert_eq!(lines[3], "   ---------               ---            ---           ----                      ---            ---           ----        -------");
        assert_eq!(lines[4], "   File creation          233289.059     233289.059     233289.059             233289.059     233289.059     233289.059          0.000");
        assert_eq!(lines[8], "   Tree creation               53092.456      53092.456      53092.456          53092.456      53092.456      53092.456          0.000");
    }

    #[test]
    fn header_lines() {
        assert_eq!(
            command_line("mdtest", &["-n".into(), "10".into()]),
            "Command line used: mdtest '-n' '10'"
        );
        assert!(launched_line(2, 1).starts_with(
            "mdtest-4.1.0+dev was launched with 2 total task(s) on 1 node(s) (benchfs-bench "
        ));
        assert_eq!(
            verbose_op_line("   Directory creation", 0.0, 63550.061),
            "   Directory creation:          0.000 sec,      63550.061 ops/sec"
        );
    }

    #[test]
    fn per_process_in_c_exponent_form() {
        let run = TaskRun {
            tasks: 1,
            iterations: 1,
            items_per_rank: 1000,
            phases: vec![one(Op::FileCreate, 104284.0)],
            verification_errors: 0,
        };
        let s = per_process(&run, false, true, Measure::Rate);
        assert!(
            s.starts_with(
                "\nPer process result (rate):\niteration: 0\nTest File creation 1.042840e+05\n"
            ),
            "{s}"
        );
        assert!(s.ends_with("Test Tree removal 0.000000e+00\n"));
    }
}
