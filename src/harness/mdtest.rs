//! `benchfs-bench mdtest [mdtest options]`: mdtest's command line run by the process driver
//! (local tasks with `--tasks N`, or one rank of an MPI job), its text on stdout, and the
//! result document with `--json FILE` / `--results-dir DIR` (rewritten after every phase;
//! a run cut short by a signal ends its text with an `-- interrupted at` line instead of
//! `-- finished at` and writes the completed phases marked interrupted, through
//! [`crate::harness::record`]).
//!
//! Owns the subcommand's process-level rules: parsing and help, where the text goes, the
//! document and the exit status (1 when the run failed, else the number of data errors, at
//! most 255). The engine is [`crate::mdtest`]; it must not sequence phases itself.

use crate::comm::Comm;
use crate::harness::driver::{
    self, print_error, tasks_per_node_or_env, BackendSlot, Benchmark, RankSetup, EXIT_ERROR,
};
use crate::harness::record::{DocumentOf, TextSlot};
use crate::mdtest::options::{self, MdtestArgs};
use crate::mdtest::results::TaskRun;
use crate::mdtest::{self as engine, MdtestRun};
use crate::measure::{log, machine};
use crate::results::document::ResultDocument;
use std::io::Write;
use std::sync::Arc;

/// The program name mdtest's `Command line used:` and `Synopsis` lines show.
pub const PROGRAM: &str = "benchfs-bench mdtest";

/// What one rank returns.
pub type MdtestOutcome = driver::Measured<MdtestRun>;

/// An mdtest command line, ready to run.
pub struct MdtestBenchmark {
    args: MdtestArgs,
    argv: Vec<String>,
    run_info: crate::measure::machine::RunInfo,
    world: std::sync::atomic::AtomicUsize,
    /// Rank 0's record of the run (its stream, the phases so far, the document's files).
    slot: TextSlot<MdtestRun>,
}

impl MdtestBenchmark {
    /// The run of `args`, parsed from `argv` (the arguments after `mdtest`).
    pub fn new(args: MdtestArgs, argv: Vec<String>) -> MdtestBenchmark {
        let command_line = std::iter::once(PROGRAM.to_string())
            .chain(argv.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        MdtestBenchmark {
            slot: TextSlot::new(
                args.run.json_file.as_deref(),
                args.run.results_dir.as_deref(),
            ),
            args,
            argv,
            run_info: machine::run_info(&command_line),
            world: std::sync::atomic::AtomicUsize::new(1),
        }
    }

    /// The document of a run (cut short or not, as the context says).
    fn document(&self) -> DocumentOf<MdtestRun> {
        let (info, params) = (self.run_info.clone(), self.args.params.clone());
        let world = self.world.load(std::sync::atomic::Ordering::Relaxed);
        Arc::new(move |run, ctx| ResultDocument::from_mdtest(&info, &params, run, world, &[], ctx))
    }
}

impl Benchmark for MdtestBenchmark {
    type Outcome = MdtestOutcome;
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
            api: p.api.as_deref().unwrap_or("POSIX"),
            options: &mut p.backend_options,
            verbose: p.verbose >= 1,
        }]
    }

    fn validate(&mut self, world: usize, _tpn: usize) -> Result<Vec<String>, String> {
        self.world
            .store(world, std::sync::atomic::Ordering::Relaxed);
        // The engine prints mdtest's warnings where mdtest does; here only errors count.
        crate::mdtest::validate::validate(&self.args.params, world).map_err(|e| e.to_string())?;
        for path in self.args.run.json_file.iter() {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| format!("cannot write --json \"{path}\": {e}"))?;
        }
        Ok(Vec::new())
    }

    fn open_sink(&self) -> Result<Self::Sink, String> {
        self.slot.open(
            &self.run_info.began,
            None,
            self.document(),
            |out, _, reason| {
                // In place of mdtest's `-- finished at ... --`: the run did not finish.
                let stamp = crate::mdtest::validate::timestamp();
                let _ = write!(out, "-- interrupted at {stamp} ({reason}) --\n\n");
            },
        )
    }

    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> MdtestOutcome {
        let report = |before: &MdtestRun, now: &TaskRun| {
            self.slot
                .report(now.phases.len(), |so_far| add_phase(so_far, before, now));
        };
        let ctx = engine::Context {
            comm,
            out: sink.map(|s| &mut **s as &mut (dyn Write + Send)),
            program: PROGRAM,
            args: &self.argv,
            completed: self
                .slot
                .is_open()
                .then_some(&report as &engine::MdtestReport<'_>),
        };
        match engine::run(ctx, &self.args.params).await {
            Ok(run) => MdtestOutcome { run, error: None },
            Err(f) => MdtestOutcome {
                run: f.partial,
                error: Some(f.error.to_string()),
            },
        }
    }

    fn finish(&self, outcome: MdtestOutcome) -> i32 {
        let mut errors = Vec::new();
        if let Some(e) = &outcome.error {
            print_error(e);
            errors.push(e.clone());
        }
        let data_errors: u64 = outcome.run.runs.iter().map(|r| r.verification_errors).sum();
        let status = if outcome.error.is_some() {
            EXIT_ERROR
        } else {
            data_errors.min(255) as i32
        };
        self.slot.finish(status, || {
            ResultDocument::from_mdtest(
                &self.run_info,
                &self.args.params,
                &outcome.run,
                self.world.load(std::sync::atomic::Ordering::Relaxed),
                &errors,
                &crate::harness::context::ended_now(&self.run_info.began),
            )
        })
    }
}

/// Adds the phase of `now` (a task count holding only it) to `so_far`, whose earlier task
/// counts and header are those of `before` (copied when a task count begins).
fn add_phase(so_far: &mut MdtestRun, before: &MdtestRun, now: &TaskRun) {
    if so_far.runs.len() != before.runs.len() + 1 {
        *so_far = before.clone();
        so_far.runs.push(TaskRun {
            phases: Vec::new(),
            ..now.clone()
        });
    }
    if let Some(current) = so_far.runs.last_mut() {
        current.iterations = now.iterations;
        current.items_per_rank = now.items_per_rank;
        current.phases.extend(now.phases.iter().cloned());
    }
}

/// Runs `benchfs-bench mdtest` with `args` (the arguments after `mdtest`); `setup` runs on
/// every MPI rank first (servers inside the job). Returns the exit status.
pub fn main(args: Vec<String>, setup: Option<&dyn RankSetup>) -> i32 {
    let parsed = match options::parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            // mdtest: the error, `Invalid options`, the help, exit status 1.
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
    driver::execute_benchmark(MdtestBenchmark::new(parsed, args), setup)
}
