//! The IOR command line as a [`Benchmark`]: every test validated before anything runs, the
//! result stream (stdout or `summaryFile`) with its reporter, the engine on each rank, and the
//! result document at the end.
//!
//! Owns IOR's process-level rules (the world size of local tasks is the largest `-N`, the
//! "-C has no effect" warnings, the exit status from data errors); the engine is
//! [`crate::ior::engine`], formats [`crate::ior::output`].

use super::{
    document_targets, print_error, tasks_per_node, write_documents_to, BackendSlot, Benchmark,
    NodeFakes, RankOutcome,
};
use crate::backend::{AnyBackend, Backend};
use crate::comm::launch::{launch, launch_rank, Launch};
use crate::comm::Comm;
use crate::harness::cleanup;
use crate::harness::context::{self, ClusterPlacement};
use crate::harness::preflight;
use crate::harness::record::{self, Recorder};
use crate::ior::engine::{self, RankContext, RunOutcome};
use crate::ior::options::ParsedArgs;
use crate::ior::output::{self, Reporter};
use crate::ior::params::{GlobalOptions, IorParams};
use crate::ior::progress::Progress;
use crate::ior::results::{RunInfo, TestResults};
use crate::ior::validate;
use crate::measure::{log, machine};
use crate::results::document::{ResultDocument, RunContext};
use std::io::Write;
use std::path::PathBuf;

impl RankOutcome for RunOutcome {
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    fn set_error(&mut self, error: String) {
        self.error = Some(error);
    }
}

/// Number of local tasks: the largest `-N` of any test (at least 1).
pub fn local_world_size(tests: &[IorParams]) -> usize {
    tests
        .iter()
        .map(|t| t.num_tasks.max(1) as usize)
        .max()
        .unwrap_or(1)
}

/// Validate every test before anything touches a file. Returns the warnings to print.
pub fn validate_all(
    tests: &mut [IorParams],
    world_size: usize,
    tpn: usize,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for t in tests.iter_mut() {
        let backend = AnyBackend::new(&t.api, &t.backend_options).map_err(|e| match e {
            crate::backend::BackendError::Unsupported(m) => m,
            other => other.to_string(),
        })?;
        warnings.extend(
            validate::validate(t, world_size, backend.supports_fsync())
                .map_err(|e| e.to_string())?,
        );
        backend
            .check_params()
            .map_err(|e| format!("{} ({e})", validate::msg::BACKEND_PARAMS_INVALID))?;
        let n = if t.num_tasks > 0 {
            t.num_tasks as usize
        } else {
            world_size
        };
        // benchfs-bench's own hints (IOR prints neither): with -v only.
        let one_node = tpn == 0 || tpn >= n;
        if t.verbose >= 1 && t.reorder_tasks != 0 && one_node {
            warnings.push(format!(
                "-C (reorderTasks) has no effect: all {n} tasks share one node; \
                 emulate nodes with --tasks-per-node N or IOR_FAKE_TASK_PER_NODES=N"
            ));
        }
        if t.verbose >= 1 && t.reorder_tasks_random != 0 && n == 1 {
            warnings.push("-Z (reorderTasksRandom) has no effect with a single task".to_string());
        }
    }
    Ok(warnings)
}

/// Where the result stream goes: stdout, or `summaryFile` (announced on stdout like IOR).
fn result_stream(global: &GlobalOptions) -> Result<Box<dyn Write + Send>, String> {
    match &global.summary_file {
        Some(path) => {
            let f = std::fs::File::create(path).map_err(|e| {
                // IOR's FailMessage line, then the file and the reason.
                log::fail_line(
                    "DecodeDirective",
                    &format!("Cannot open output file for writes! \"{path}\": {e}"),
                )
            })?;
            println!("Writing output to {path}");
            Ok(Box::new(std::io::LineWriter::new(f)))
        }
        None => Ok(Box::new(std::io::LineWriter::new(std::io::stdout()))),
    }
}

/// The tests of an IOR command line, ready to run.
pub struct IorBenchmark {
    global: GlobalOptions,
    tests: Vec<IorParams>,
    warnings: Vec<String>,
    run: RunInfo,
    /// What rank 0 knew of the run when it opened the result stream, before any cluster
    /// was started for it (the document's times, host, clusters by their settings).
    context: std::sync::OnceLock<RunContext>,
    /// The progress display the local tasks share.
    progress: std::sync::OnceLock<Progress>,
    /// The files of the result document (`--json`, a new file in `--results-dir`), named
    /// once: the checkpoints after each phase, a signal and the end write the same files.
    targets: std::sync::OnceLock<Vec<PathBuf>>,
}

/// Write and read phases `tests` will run (repetitions × phases), for "k of N phases".
fn expected_phases(tests: &[IorParams]) -> usize {
    tests
        .iter()
        .map(|t| {
            t.repetitions.max(1) as usize
                * (usize::from(t.has_write_phase()) + usize::from(t.has_read_phase()))
        })
        .sum()
}

/// The document of a run cut short: the completed phases of `tests`, marked interrupted by
/// `signal` (0: not known to have ended, a checkpoint) for `reason`.
fn partial_document(
    run: &RunInfo,
    tests: &[TestResults],
    ctx: &RunContext,
    signal: i32,
    reason: String,
) -> ResultDocument {
    ResultDocument::from_run(run, tests, &[], &record::cut_short(ctx, signal, reason))
}

impl IorBenchmark {
    /// The tests of `parsed` (one default test if it has none), run under `command_line`.
    pub fn new(mut parsed: ParsedArgs, command_line: &str) -> IorBenchmark {
        if parsed.tests.is_empty() {
            parsed.tests.push(IorParams::default());
        }
        let mut global = parsed.global;
        global.command_line = command_line.to_string();
        IorBenchmark {
            global,
            tests: parsed.tests,
            warnings: parsed.warnings,
            run: machine::run_info(command_line),
            context: std::sync::OnceLock::new(),
            progress: std::sync::OnceLock::new(),
            targets: std::sync::OnceLock::new(),
        }
    }

    /// The tests (after [`Benchmark::validate`], as validated).
    pub fn tests(&self) -> &[IorParams] {
        &self.tests
    }
}

impl IorBenchmark {
    /// Rank 0's reporter `inner`, recorded: after each completed phase the document in
    /// `targets` is rewritten with the phases so far, marked incomplete (what a run killed
    /// without a chance to react, e.g. by mpirun's SIGKILL, leaves); on SIGINT, SIGTERM or
    /// SIGHUP the result stream ends with the completed phases and an `Interrupted` line and
    /// the document is written marked interrupted by the signal (exit 128 + the signal, by
    /// [`cleanup`]'s signal thread).
    fn recorded(
        &self,
        inner: Box<dyn Reporter + Send>,
        targets: Vec<PathBuf>,
        ctx: RunContext,
    ) -> Recorder {
        let expected = expected_phases(&self.tests);
        let checkpoint = (!targets.is_empty()).then(|| {
            let (run, ctx, targets) = (self.run.clone(), ctx.clone(), targets.clone());
            Box::new(move |tests: &[TestResults], done: usize| {
                let reason = record::incomplete_reason(done, Some(expected));
                // No exit status: the process has none yet.
                let doc = partial_document(&run, tests, &ctx, 0, reason);
                record::write_checkpoint(&targets, &doc);
            }) as record::Checkpoint
        });
        let rec = Recorder::new(inner, checkpoint);
        let (handle, run) = (rec.clone(), self.run.clone());
        cleanup::on_signal(move |sig| {
            let name = cleanup::signal_name(sig);
            let reason = |n: usize| record::signal_reason(&name, n, Some(expected));
            let done = handle.interrupt(&machine::ctime_now(), reason);
            let _ = write_documents_to(128 + sig, &targets, || {
                partial_document(&run, &done.tests, &ctx, sig, reason(done.phases))
            });
        });
        rec
    }
}

impl Benchmark for IorBenchmark {
    type Outcome = RunOutcome;
    type Sink = Box<dyn Reporter + Send>;

    fn parse_warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn local_tasks(&self) -> usize {
        local_world_size(&self.tests)
    }

    fn tasks_per_node(&self) -> usize {
        tasks_per_node(&self.global)
    }

    fn cpus(&self) -> Option<&crate::cpus::CpuList> {
        self.global.cpus.as_ref()
    }

    fn backends(&mut self) -> Vec<BackendSlot<'_>> {
        self.tests
            .iter_mut()
            .map(|t| BackendSlot {
                api: &t.api,
                options: &mut t.backend_options,
                verbose: t.verbose >= 1,
            })
            .collect()
    }

    fn validate(&mut self, world: usize, tpn: usize) -> Result<Vec<String>, String> {
        // IOR's node emulation: every rank reads its own environment, as IOR's ranks do;
        // rank 0 announces it. It changes the figures, and the node count the hints assume.
        let fakes = NodeFakes::from_env()?;
        if launch_rank() == 0 {
            fakes.announce();
        }
        fakes.apply(&mut self.tests);
        let tpn = fakes.tasks_per_node.map_or(tpn, |k| k as usize);
        validate_all(&mut self.tests, world, tpn)
    }

    fn fatal_status(&self) -> i32 {
        super::EXIT_FATAL
    }

    fn open_sink(&self) -> Result<Self::Sink, String> {
        // Rank 0 only, after validation and before the driver starts embedded or in-job
        // clusters (which point the tests at their registries).
        let placement = match launch() {
            Launch::Standalone => ClusterPlacement::Embedded,
            Launch::Mpi { .. } => ClusterPlacement::InJob,
        };
        let ctx = context::run_context(&self.tests, placement);
        let _ = self.context.set(ctx.clone());
        // Before any rank does I/O: what rank 0 will write is writable, and an external
        // cluster's servers have registered.
        preflight::check_outputs(&self.global)?;
        preflight::await_external_clusters(&self.tests)?;
        let targets = document_targets(
            self.global.json_file.as_deref(),
            self.global.results_dir.as_deref(),
        )?;
        let _ = self.targets.set(targets.clone());
        let out = result_stream(&self.global)?;
        let inner = output::reporter_for(self.global.summary_format, out);
        Ok(Box::new(self.recorded(inner, targets, ctx)))
    }

    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> RunOutcome {
        // Local tasks share one display; under MPI rank 0's adds up the other ranks' reports.
        let progress = match launch() {
            Launch::Standalone => self
                .progress
                .get_or_init(|| Progress::new(self.global.progress))
                .clone(),
            Launch::Mpi { .. } => match Progress::for_mpi_job(self.global.progress, comm) {
                Ok(p) => p,
                Err(e) => return RunOutcome::failed(e.to_string()),
            },
        };
        let ctx = RankContext {
            comm,
            run: &self.run,
            reporter: sink.map(|r| &mut **r as &mut (dyn Reporter + Send + 'static)),
            progress: &progress,
        };
        engine::run_tests(ctx, &self.tests).await
    }

    fn finish(&self, outcome: RunOutcome) -> i32 {
        // A signal from now on only removes data: the document below is the run's own.
        cleanup::clear_on_signal();
        let mut ctx = self
            .context
            .get()
            .cloned()
            .unwrap_or_else(|| context::run_context(&self.tests, ClusterPlacement::Embedded));
        ctx.finished = crate::timestamp::now();
        let mut errors = Vec::new();
        if let Some(e) = &outcome.error {
            print_error(e);
            errors.push(e.clone());
        }
        let status = if outcome.error.is_some() {
            super::EXIT_FATAL
        } else {
            outcome.data_errors.clamp(0, 255) as i32
        };
        // The files named when the run began (rank 0 opened its sink), else named now.
        let targets = match super::targets_of(
            &self.targets,
            self.global.json_file.as_deref(),
            self.global.results_dir.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => {
                log::error(&e);
                return super::EXIT_ERROR;
            }
        };
        write_documents_to(status, &targets, || {
            ResultDocument::from_run(&self.run, &outcome.tests, &errors, &ctx)
        })
    }
}
