//! Runs a parsed benchfs-bench command line: validates every test, starts the ranks, wires
//! rank 0 to the result stream, and writes the result document.
//!
//! Owns process-level decisions: how the process was launched, world size, emulated node
//! layout, where results go, and the exit status. `local` runs the ranks as threads of this
//! process (`-N n` without MPI); `rank` runs this process as one rank of an MPI job. It must
//! not format results (that is [`crate::ior::output`]) nor sequence phases (that is
//! [`crate::ior::engine`]).

mod local;
mod rank;

pub use local::run_local;
pub use rank::{execute_on, run_rank, RankSetup, SetupError};

use crate::backend::{AnyBackend, Backend};
use crate::comm::launch::{launch, Launch};
use crate::comm::local::LocalComm;
use crate::comm::{Comm, CommError, ReduceOp};
use crate::harness::embedded::EmbeddedClusters;
use crate::ior::engine::{self, RankContext, RunOutcome};
use crate::ior::options::ParsedArgs;
use crate::ior::output::{self, Reporter};
use crate::ior::params::{GlobalOptions, IorParams, TaskLayout};
use crate::ior::progress::Progress;
use crate::ior::results::RunInfo;
use crate::ior::validate;
use crate::measure::log;
use crate::measure::machine;
use crate::results::document::ResultDocument;
use std::any::Any;
use std::io::Write;
use std::sync::Arc;

/// Exit status of a run whose setup failed (bad input) or that hit an error.
pub const EXIT_ERROR: i32 = 1;

/// Tasks per emulated node: `--tasks-per-node`, else `IOR_FAKE_TASK_PER_NODES`, else 0 (one node).
pub fn tasks_per_node(global: &GlobalOptions) -> usize {
    if global.tasks_per_node > 0 {
        return global.tasks_per_node;
    }
    std::env::var("IOR_FAKE_TASK_PER_NODES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
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
        let one_node = tpn == 0 || tpn >= n;
        if t.reorder_tasks != 0 && one_node {
            warnings.push(format!(
                "-C (reorderTasks) has no effect: all {n} tasks share one node; \
                 emulate nodes with --tasks-per-node N or IOR_FAKE_TASK_PER_NODES=N"
            ));
        }
        if t.reorder_tasks_random != 0 && n == 1 {
            warnings.push("-Z (reorderTasksRandom) has no effect with a single task".to_string());
        }
    }
    Ok(warnings)
}

/// Where the result stream goes: stdout, or `summaryFile` (announced on stdout like IOR).
fn result_stream(global: &GlobalOptions) -> Result<Box<dyn Write + Send>, String> {
    match &global.summary_file {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| format!("cannot open summaryFile \"{path}\": {e}"))?;
            println!("Writing output to {path}");
            Ok(Box::new(std::io::LineWriter::new(f)))
        }
        None => Ok(Box::new(std::io::LineWriter::new(std::io::stdout()))),
    }
}

/// The whole command: validate, run, report, write documents; returns the exit status.
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
    match launch() {
        Launch::Mpi { size } => rank::execute_mpi(parsed, command_line, size, setup),
        Launch::Standalone => local::execute_local(parsed, command_line),
    }
}

fn print_error(msg: &str) {
    if msg.starts_with("ERROR") || msg.starts_with("Error") {
        log::line(msg);
    } else {
        log::error(msg);
    }
}

/// After the ranks stopped: summary, result document, exit status.
fn finish(global: &GlobalOptions, run: &RunInfo, outcome: RunOutcome) -> i32 {
    let finished = machine::ctime_now();
    let mut errors = Vec::new();
    if let Some(e) = &outcome.error {
        print_error(e);
        errors.push(e.clone());
    }
    let status = if outcome.error.is_some() {
        EXIT_ERROR
    } else {
        outcome.data_errors.clamp(0, 255) as i32
    };
    let mut targets: Vec<std::path::PathBuf> = global.json_file.iter().map(Into::into).collect();
    if let Some(dir) = &global.results_dir {
        match results_dir_file(std::path::Path::new(dir)) {
            Ok(p) => targets.push(p),
            Err(e) => {
                log::error(&format!("cannot use --results-dir \"{dir}\": {e}"));
                return EXIT_ERROR;
            }
        }
    }
    if !targets.is_empty() {
        let doc = ResultDocument::from_run(run, &outcome.tests, &finished, &errors)
            .with_exit_status(status);
        for path in targets {
            if let Err(e) = doc.write_to(&path) {
                log::error(&format!(
                    "cannot write result document \"{}\": {e}",
                    path.display()
                ));
                return EXIT_ERROR;
            }
        }
    }
    status
}

/// A new file name in `dir` for this run's document: `<UTC time>-<host>-<pid>.json`.
fn results_dir_file(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
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
