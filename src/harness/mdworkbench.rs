//! `benchfs-bench md-workbench [md-workbench options]`: md-workbench's command line run by the
//! process driver (local tasks with `--tasks N`, or one rank of an MPI job, BENCHFS clusters
//! embedded or in the job as for IOR and mdtest), its text on stdout, and the result
//! document with `--json FILE` / `--results-dir DIR` (rewritten after every phase; a run cut
//! short by a signal ends its text with an `Interrupted` line and writes the completed phases
//! marked interrupted, through [`crate::harness::record`]).
//!
//! Owns the subcommand's process-level rules: parsing and help, where the text goes and the
//! exit status (1 when the run failed, else the number of failed operations, at most 255;
//! md-workbench itself always exits 0). The engine is [`crate::mdworkbench`].

use crate::comm::Comm;
use crate::harness::driver::{
    self, print_error, tasks_per_node_or_env, BackendSlot, Benchmark, RankSetup, EXIT_ERROR,
};
use crate::harness::record::{DocumentOf, TextSlot};
use crate::mdworkbench::options::{self, MdwArgs};
use crate::mdworkbench::{self as engine, MdwRun};
use crate::measure::{log, machine};
use crate::results::document::ResultDocument;
use std::io::Write;
use std::sync::Arc;

/// The program name md-workbench's `Args:` and `Synopsis` lines show.
pub const PROGRAM: &str = "benchfs-bench md-workbench";

/// What one rank returns.
pub type MdwOutcome = driver::Measured<MdwRun>;

/// An md-workbench command line, ready to run.
pub struct MdwBenchmark {
    args: MdwArgs,
    argv: Vec<String>,
    run_info: machine::RunInfo,
    /// Rank 0's record of the run (its stream, the phases so far, the document's files).
    slot: TextSlot<MdwRun>,
}

impl MdwBenchmark {
    /// The run of `args`, parsed from `argv` (the arguments after `md-workbench`).
    pub fn new(args: MdwArgs, argv: Vec<String>) -> MdwBenchmark {
        let command_line = std::iter::once(PROGRAM.to_string())
            .chain(argv.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        MdwBenchmark {
            slot: TextSlot::new(
                args.run.json_file.as_deref(),
                args.run.results_dir.as_deref(),
            ),
            args,
            argv,
            run_info: machine::run_info(&command_line),
        }
    }

    /// The document of a run (cut short or not, as the context says).
    fn document(&self) -> DocumentOf<MdwRun> {
        let (info, params) = (self.run_info.clone(), self.args.params.clone());
        Arc::new(move |run, ctx| ResultDocument::from_mdworkbench(&info, &params, run, &[], ctx))
    }
}

impl Benchmark for MdwBenchmark {
    type Outcome = MdwOutcome;
    type Sink = Box<dyn Write + Send>;

    fn parse_warnings(&self) -> Vec<String> {
        self.args.warnings.clone()
    }

    fn local_tasks(&self) -> usize {
        self.args.run.tasks.max(1)
    }

    fn tasks_per_node(&self) -> usize {
        tasks_per_node_or_env(self.args.run.tasks_per_node)
    }

    fn cpus(&self) -> Option<&crate::cpus::CpuList> {
        self.args.run.cpus.as_ref()
    }

    fn backends(&mut self) -> Vec<BackendSlot<'_>> {
        let p = &mut self.args.params;
        vec![BackendSlot {
            api: &p.api,
            options: &mut p.backend_options,
            verbose: p.verbose >= 1,
        }]
    }

    fn validate(&mut self, _world: usize, _tpn: usize) -> Result<Vec<String>, String> {
        self.args
            .params
            .check()
            .map_err(|e| format!("ERROR: {e}"))?;
        crate::harness::preflight::check_documents(
            self.args.run.json_file.as_deref(),
            self.args.run.results_dir.as_deref(),
        )?;
        Ok(Vec::new())
    }

    fn open_sink(&self) -> Result<Self::Sink, String> {
        self.slot.open(
            &self.run_info.began,
            None,
            self.document(),
            |out, _, reason| {
                // md-workbench ends with `Total runtime: ...`: a run cut short does not.
                let _ = writeln!(out, "Interrupted: {reason}; the run did not complete");
            },
        )
    }

    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> MdwOutcome {
        let report = |run: &MdwRun| {
            self.slot.report(1, |so_far| {
                // The phase just completed is the last; the earlier ones are kept.
                so_far.ranks = run.ranks;
                so_far.position = run.position;
                so_far.phases.extend(run.phases.last().cloned());
            });
        };
        let ctx = engine::Context {
            comm,
            out: sink.map(|s| &mut **s as &mut (dyn Write + Send)),
            program: PROGRAM,
            args: &self.argv,
            completed: self
                .slot
                .is_open()
                .then_some(&report as &crate::mdworkbench::engine::MdwReport<'_>),
        };
        match engine::run(ctx, &self.args.params).await {
            Ok(run) => MdwOutcome { run, error: None },
            Err(f) => MdwOutcome {
                run: f.partial,
                error: Some(f.error),
            },
        }
    }

    fn finish(&self, outcome: MdwOutcome) -> i32 {
        let mut errors = Vec::new();
        if let Some(e) = &outcome.error {
            print_error(e);
            errors.push(e.clone());
        }
        let status = if outcome.error.is_some() {
            EXIT_ERROR
        } else {
            outcome.run.errors().min(255) as i32
        };
        self.slot.finish(status, || {
            ResultDocument::from_mdworkbench(
                &self.run_info,
                &self.args.params,
                &outcome.run,
                &errors,
                &crate::harness::context::ended_now(&self.run_info.began),
            )
        })
    }
}

/// Runs `benchfs-bench md-workbench` with `args` (the arguments after `md-workbench`); `setup`
/// runs on every MPI rank first (servers inside the job). Returns the exit status.
pub fn main(args: Vec<String>, setup: Option<&dyn RankSetup>) -> i32 {
    let parsed = match options::parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            // md-workbench: the error, `Invalid options`, the help, exit status 1.
            log::line(&e.to_string());
            log::line("Invalid options");
            print!("{}", options::help_text(PROGRAM));
            return EXIT_ERROR;
        }
    };
    if parsed.help {
        print!("{}", options::help_text(PROGRAM));
        return EXIT_ERROR;
    }
    driver::execute_benchmark(MdwBenchmark::new(parsed, args), setup)
}
