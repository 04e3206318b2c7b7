//! The process driver: runs a [`Benchmark`] (the IOR tests of a command line, an mdtest run)
//! on every rank, locally or under MPI, and hands rank 0's outcome back to it.
//!
//! Owns process-level decisions: how the process was launched, world size, emulated node
//! layout, agreement of the ranks on validation, runtimes, panics, aborts, the embedded and
//! in-job BenchFS clusters, and the exit status. `local` runs the ranks as threads of this
//! process (local tasks without MPI); `rank` runs this process as one rank of an MPI job;
//! `ior` is the IOR command line as a [`Benchmark`]. It must not format results nor sequence
//! phases (the engines do).

mod ior;
mod local;
mod node_fakes;
mod rank;

pub use ior::{local_world_size, validate_all, IorBenchmark};
pub use local::run_local;
pub use node_fakes::NodeFakes;
pub use rank::{execute_on, run_rank, RankSetup, SetupError};

use crate::comm::launch::{launch, Launch};
use crate::comm::Comm;
use crate::cpus::CpuList;
pub use crate::harness::backends::{BackendSlot, BackendUse};
use crate::harness::embedded::EmbeddedClusters;
use crate::ior::options::ParsedArgs;
use crate::measure::log;
use crate::measure::machine;

/// Exit status of a bad command line and of our own setup failures (IOR's
/// `exit(EXIT_FAILURE)`: bad arguments, `summaryFile` that cannot be opened).
pub const EXIT_ERROR: i32 = 1;

/// Exit status of IOR's fatal errors (its `ERR`, which calls `MPI_Abort(MPI_COMM_WORLD, -1)`:
/// 255 under mpirun and standalone): a test that fails validation, a run that fails.
pub const EXIT_FATAL: i32 = 255;

/// What one rank of a [`Benchmark`] returns: its results (rank 0) and the error that stopped
/// it, if any.
pub trait RankOutcome: Default + Send {
    /// The error that stopped this rank.
    fn error(&self) -> Option<&str>;
    /// Records the error that stopped the run.
    fn set_error(&mut self, error: String);
    /// The outcome of a rank that failed before its benchmark ran.
    fn failed(error: String) -> Self {
        let mut o = Self::default();
        o.set_error(error);
        o
    }
}

/// What one rank of an engine's run returns: what it measured (all of it, or what completed
/// before an error), and the error that stopped it.
#[derive(Debug, Default)]
pub struct Measured<R> {
    /// The engine's results.
    pub run: R,
    /// The error that stopped the run.
    pub error: Option<String>,
}

impl<R: Default + Send> RankOutcome for Measured<R> {
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    fn set_error(&mut self, error: String) {
        self.error = Some(error);
    }
}

/// A benchmark the driver runs on every rank. The engine-specific parts live here
/// (validation, rank 0's result stream, the engine, the summary and documents); everything
/// else (local tasks or an MPI rank, runtimes, clusters, agreement, aborts) is the driver's.
#[allow(async_fn_in_trait)]
pub trait Benchmark: Sync {
    /// What one rank returns.
    type Outcome: RankOutcome;
    /// Rank 0's result stream, opened before the ranks start.
    type Sink: Send;

    /// Warnings of parsing, printed first (by rank 0 only under MPI).
    fn parse_warnings(&self) -> Vec<String>;
    /// Number of tasks when running without MPI.
    fn local_tasks(&self) -> usize;
    /// Tasks per emulated node (0: every task on one node).
    fn tasks_per_node(&self) -> usize;
    /// `--cpus`: the CPUs tasks are bound to, task i to the list's i mod n-th (None: the
    /// tasks are not bound by us).
    fn cpus(&self) -> Option<&CpuList> {
        None
    }
    /// The backends the run will use.
    fn backends(&mut self) -> Vec<BackendSlot<'_>>;
    /// Checks everything before any file is touched, for `world` ranks with `tpn` tasks per
    /// node (0: one node). Returns the warnings to print, or the error to print.
    fn validate(&mut self, world: usize, tpn: usize) -> Result<Vec<String>, String>;
    /// The exit status of a run that failed validation or stopped on an error.
    fn fatal_status(&self) -> i32 {
        EXIT_ERROR
    }
    /// Opens rank 0's result stream.
    fn open_sink(&self) -> Result<Self::Sink, String>;
    /// Runs the benchmark on one rank of `comm`; `sink` is rank 0's only.
    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> Self::Outcome;
    /// On rank 0, after every rank stopped: summary, documents, exit status.
    fn finish(&self, outcome: Self::Outcome) -> i32;
}

/// Checks `--cpus` before any file is touched: every CPU of the list a task of this process
/// would be bound to (`tasks`: those tasks' indexes on their node) can take a thread.
fn check_cpus(
    cpus: Option<&CpuList>,
    tasks: impl IntoIterator<Item = usize>,
) -> Result<(), String> {
    let Some(list) = cpus else { return Ok(()) };
    match list.first_unbindable(tasks) {
        None => Ok(()),
        Some((cpu, e)) => Err(format!(
            "Error, invalid value \"{list}\" for option cpus: no task can run on CPU {cpu} ({e})"
        )),
    }
}

/// Binds the calling task thread (task `index` on its node) to its CPU of `--cpus`; the
/// POSIX backend's io_uring then binds its kernel workers to the same CPU.
fn bind_task(cpus: Option<&CpuList>, index: usize) -> Result<(), String> {
    let Some(list) = cpus else { return Ok(()) };
    let cpu = list.for_task(index);
    crate::cpus::bind_thread(cpu)
        .map_err(|e| format!("--cpus: cannot bind task {index} to CPU {cpu}: {e}"))
}

/// Tasks per emulated node from `--tasks-per-node` (`given`), else `IOR_FAKE_TASK_PER_NODES`,
/// else 0 (one node).
pub fn tasks_per_node_or_env(given: usize) -> usize {
    if given > 0 {
        return given;
    }
    std::env::var("IOR_FAKE_TASK_PER_NODES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
}

/// Tasks per emulated node of an IOR command line (`--tasks-per-node`), else 0 (the real
/// layout). IOR's own `IOR_FAKE_TASK_PER_NODES` changes the figures, not the layout
/// ([`NodeFakes`]).
pub fn tasks_per_node(global: &crate::ior::params::GlobalOptions) -> usize {
    global.tasks_per_node
}

/// The IOR command line: validate, run, report, write documents; returns the exit status.
///
/// Under an MPI launcher ([`launch`]) this process runs as one rank of the MPI job and `-N`
/// selects IOR's sub-communicator; otherwise `-N n` runs `n` local tasks as threads.
pub fn execute(parsed: ParsedArgs, command_line: &str) -> i32 {
    execute_with(parsed, command_line, None)
}

/// [`execute`] with code to run on every MPI rank before the tests (see [`RankSetup`]), e.g.
/// servers started inside the job. `setup` is used only under an MPI launcher; local tasks
/// (`-N n` without mpirun) run without it.
pub fn execute_with(parsed: ParsedArgs, command_line: &str, setup: Option<&dyn RankSetup>) -> i32 {
    // IOR's warnings and informational lines go with the text results on stdout; only a JSON
    // or CSV result stream on stdout sends them to stderr.
    let g = &parsed.global;
    log::set_stream(log::stream_for(
        g.summary_format != crate::ior::params::SummaryFormat::Default,
        g.summary_file.is_none(),
    ));
    execute_benchmark(IorBenchmark::new(parsed, command_line), setup)
}

/// Runs `bench` as this process is launched: one rank of an MPI job, or local tasks.
pub fn execute_benchmark<B: Benchmark>(bench: B, setup: Option<&dyn RankSetup>) -> i32 {
    match launch() {
        Launch::Mpi { size } => rank::execute_mpi(bench, size, setup),
        Launch::Standalone => local::execute_local(bench),
    }
}

/// Prints an error of the driver: messages in IOR's or mdtest's own wording as they are,
/// others as `ERROR: ...`.
pub fn print_error(msg: &str) {
    if msg.starts_with("ERROR") || msg.starts_with("Error") || log::is_fail_line(msg) {
        log::error_line(msg);
    } else {
        log::error(msg);
    }
}

/// Prints validation warnings: IOR's and mdtest's own (`WARNING: ...`) as they are, the
/// driver's own as `WARNING: ...`.
fn print_warnings(warnings: Vec<String>) {
    for w in warnings {
        if w.starts_with("WARNING") {
            log::line(&w);
        } else {
            log::warn(&w);
        }
    }
}

/// Where `--results-dir DIR` puts a run's document: a new `<UTC time>-<host>-<pid>.json`.
pub fn results_dir_file(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let host: String = machine::hostname()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("{stamp}-{host}-{}", std::process::id());
    let mut path = dir.join(format!("{base}.json"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{base}-{n}.json"));
        n += 1;
    }
    Ok(path)
}

/// The files `--json FILE` and `--results-dir DIR` name for a run's document.
pub fn document_targets(
    json_file: Option<&str>,
    results_dir: Option<&str>,
) -> Result<Vec<std::path::PathBuf>, String> {
    let mut targets: Vec<std::path::PathBuf> = json_file.iter().map(Into::into).collect();
    if let Some(dir) = results_dir {
        let p = results_dir_file(std::path::Path::new(dir))
            .map_err(|e| format!("cannot use --results-dir \"{dir}\": {e}"))?;
        targets.push(p);
    }
    Ok(targets)
}

/// The files of a run's document: those named when rank 0 opened its stream (`named`, so
/// that checkpoints, a signal and the end write the same files), else named now.
pub fn targets_of(
    named: &std::sync::OnceLock<Vec<std::path::PathBuf>>,
    json_file: Option<&str>,
    results_dir: Option<&str>,
) -> Result<Vec<std::path::PathBuf>, String> {
    match named.get() {
        Some(t) => Ok(t.clone()),
        None => document_targets(json_file, results_dir),
    }
}

/// Writes the document `doc` builds, with the run's exit `status`, to the files `--json FILE`
/// and `--results-dir DIR` name (built only when one is named). Returns `status`, or
/// [`EXIT_ERROR`] (after logging why) when a document cannot be written.
pub fn write_documents(
    status: i32,
    json_file: Option<&str>,
    results_dir: Option<&str>,
    doc: impl FnOnce() -> crate::results::document::ResultDocument,
) -> i32 {
    let targets = match document_targets(json_file, results_dir) {
        Ok(t) => t,
        Err(e) => {
            log::error(&e);
            return EXIT_ERROR;
        }
    };
    write_documents_to(status, &targets, doc)
}

/// Writes the document `doc` builds, with the run's exit `status`, to every file of
/// `targets` (built only when there is one). Returns `status`, or [`EXIT_ERROR`] (after
/// logging why) when a document cannot be written.
pub fn write_documents_to(
    status: i32,
    targets: &[std::path::PathBuf],
    doc: impl FnOnce() -> crate::results::document::ResultDocument,
) -> i32 {
    if targets.is_empty() {
        return status;
    }
    let doc = doc().with_exit_status(status);
    for path in targets {
        if let Err(e) = doc.write_to(path) {
            log::error(&format!(
                "cannot write result document \"{}\": {e}",
                path.display()
            ));
            return EXIT_ERROR;
        }
    }
    status
}

/// Starts the embedded BenchFS clusters `bench` needs (local runs only).
fn start_embedded<B: Benchmark>(bench: &mut B) -> Result<Option<EmbeddedClusters>, String> {
    EmbeddedClusters::start_for(&mut bench.backends())
}
