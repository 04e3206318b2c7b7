//! `benchfs-bench md-workbench [md-workbench options]`: md-workbench's command line run by the
//! process driver (local tasks with `--tasks N`, or one rank of an MPI job, BENCHFS clusters
//! embedded or in the job as for IOR and mdtest), its text on stdout.
//!
//! Owns the subcommand's process-level rules: parsing and help, where the text goes and the
//! exit status (1 when the run failed, else the number of failed operations, at most 255;
//! md-workbench itself always exits 0). The engine is [`crate::mdworkbench`].

use crate::comm::Comm;
use crate::harness::driver::{
    self, print_error, tasks_per_node_or_env, BackendSlot, Benchmark, RankSetup, EXIT_ERROR,
};
use crate::mdworkbench::options::{self, MdwArgs};
use crate::mdworkbench::{self as engine, MdwRun};
use crate::measure::log;
use std::io::Write;

/// The program name md-workbench's `Args:` and `Synopsis` lines show.
pub const PROGRAM: &str = "benchfs-bench md-workbench";

/// What one rank returns.
pub type MdwOutcome = driver::Measured<MdwRun>;

/// An md-workbench command line, ready to run.
pub struct MdwBenchmark {
    args: MdwArgs,
    argv: Vec<String>,
}

impl Benchmark for MdwBenchmark {
    type Outcome = MdwOutcome;
    type Sink = Box<dyn Write + Send>;

    fn parse_warnings(&self) -> Vec<String> {
        self.args.warnings.clone()
    }

    fn local_tasks(&self) -> usize {
        self.args.tasks.max(1)
    }

    fn tasks_per_node(&self) -> usize {
        tasks_per_node_or_env(self.args.tasks_per_node)
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
        Ok(Vec::new())
    }

    fn open_sink(&self) -> Result<Self::Sink, String> {
        Ok(Box::new(std::io::LineWriter::new(std::io::stdout())))
    }

    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> MdwOutcome {
        let ctx = engine::Context {
            comm,
            out: sink.map(|s| &mut **s as &mut (dyn Write + Send)),
            program: PROGRAM,
            args: &self.argv,
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
        if let Some(e) = &outcome.error {
            print_error(e);
            return EXIT_ERROR;
        }
        outcome.run.errors().min(255) as i32
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
    driver::execute_benchmark(
        MdwBenchmark {
            args: parsed,
            argv: args,
        },
        setup,
    )
}
