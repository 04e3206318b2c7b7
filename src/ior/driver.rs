//! Runs a parsed benchfs-bench command line: validates every test, starts the ranks (local
//! tasks as threads, each with its own current-thread tokio runtime and backend state), wires
//! rank 0 to the result stream, and writes the result document.
//!
//! Owns process-level decisions: world size, emulated node layout, where results go, and the
//! exit status. It must not format results (that is [`crate::ior::output`]) nor sequence
//! phases (that is [`crate::ior::engine`]).

use crate::comm::local::LocalComm;
use crate::comm::Comm;
use crate::ior::backend::{AnyBackend, Backend};
use crate::ior::embedded::EmbeddedClusters;
use crate::ior::engine::{self, RankContext, RunOutcome};
use crate::ior::log;
use crate::ior::machine;
use crate::ior::options::ParsedArgs;
use crate::ior::output::{self, Reporter};
use crate::ior::params::{GlobalOptions, IorParams};
use crate::ior::progress::Progress;
use crate::ior::results::RunInfo;
use crate::ior::validate;
use crate::results::document::ResultDocument;
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
        let backend = AnyBackend::from_params(t).map_err(|e| match e {
            crate::ior::backend::BackendError::Unsupported(m) => m,
            other => other.to_string(),
        })?;
        warnings.extend(
            validate::validate(t, world_size, backend.supports_fsync())
                .map_err(|e| e.to_string())?,
        );
        backend.check_params().map_err(|e| {
            format!("The backend returned that the test parameters are invalid. ({e})")
        })?;
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

/// Run the tests as `world_size` local tasks. Returns rank 0's outcome.
pub fn run_local(
    global: &GlobalOptions,
    tests: Arc<Vec<IorParams>>,
    run: &RunInfo,
    reporter: Box<dyn Reporter + Send>,
    world_size: usize,
) -> RunOutcome {
    let comms = LocalComm::group(world_size, tasks_per_node(global));
    let mut reporter = Some(reporter);
    let mut handles = Vec::with_capacity(world_size);
    for comm in comms {
        let tests = tests.clone();
        let run = run.clone();
        let mut rep = if comm.rank() == 0 {
            reporter.take()
        } else {
            None
        };
        let progress = if comm.rank() == 0 {
            Progress::new(global.progress)
        } else {
            Progress::new(Some(false))
        };
        let rank = comm.rank();
        let spawned = std::thread::Builder::new()
            .name(format!("rank-{rank}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        comm.abort(&format!("cannot start runtime: {e}"));
                        return RunOutcome {
                            error: Some(format!("cannot start runtime: {e}")),
                            ..Default::default()
                        };
                    }
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let ctx = RankContext {
                        comm: &comm,
                        run: &run,
                        reporter: rep
                            .as_deref_mut()
                            .map(|r| r as &mut (dyn Reporter + Send + 'static)),
                        progress: &progress,
                    };
                    rt.block_on(engine::run_tests(ctx, &tests))
                }));
                match result {
                    Ok(o) => o,
                    Err(_) => {
                        comm.abort(&format!("rank {rank} panicked"));
                        RunOutcome {
                            error: Some(format!("rank {rank} panicked")),
                            ..Default::default()
                        }
                    }
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                return RunOutcome {
                    error: Some(format!("cannot start task thread: {e}")),
                    ..Default::default()
                }
            }
        }
    }
    let mut outcomes: Vec<RunOutcome> = handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| RunOutcome {
                error: Some("task thread failed".into()),
                ..Default::default()
            })
        })
        .collect();
    let mut first = if outcomes.is_empty() {
        RunOutcome::default()
    } else {
        outcomes.remove(0)
    };
    // The first real error of any rank (not the "aborted by rank N" echo) is the run's error.
    if let Some(err) = outcomes
        .iter()
        .filter_map(|o| o.error.clone())
        .find(|e| !e.contains("aborted"))
    {
        if first.error.as_deref().is_none_or(|e| e.contains("aborted")) {
            first.error = Some(err);
        }
    }
    first
}

/// The whole command: validate, run, report, write documents; returns the exit status.
pub fn execute(mut parsed: ParsedArgs, command_line: &str) -> i32 {
    for w in &parsed.warnings {
        log::line(w);
    }
    if parsed.tests.is_empty() {
        parsed.tests.push(IorParams::default());
    }
    let world_size = local_world_size(&parsed.tests);
    let tpn = tasks_per_node(&parsed.global);
    match validate_all(&mut parsed.tests, world_size, tpn) {
        Ok(warnings) => {
            for w in warnings {
                if w.starts_with("WARNING") {
                    log::line(&w);
                } else {
                    log::warn(&w);
                }
            }
        }
        Err(msg) => {
            print_error(&msg);
            return EXIT_ERROR;
        }
    }
    let mut global = parsed.global.clone();
    global.command_line = command_line.to_string();
    let run = machine::run_info(command_line);
    let out = match result_stream(&global) {
        Ok(o) => o,
        Err(msg) => {
            print_error(&msg);
            return EXIT_ERROR;
        }
    };
    let embedded = match EmbeddedClusters::start_for(&mut parsed.tests) {
        Ok(c) => c,
        Err(msg) => {
            print_error(&msg);
            return EXIT_ERROR;
        }
    };
    let reporter = output::reporter_for(global.summary_format, out);
    let tests = Arc::new(parsed.tests);
    let outcome = run_local(&global, tests, &run, reporter, world_size);
    if let Some(c) = embedded {
        c.shutdown();
    }
    finish(&global, &run, outcome)
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
    if let Some(path) = &global.json_file {
        let doc = ResultDocument::from_run(run, &outcome.tests, &finished, &errors)
            .with_exit_status(status);
        if let Err(e) = doc.write_to(std::path::Path::new(path)) {
            log::error(&format!("cannot write result document \"{path}\": {e}"));
            return EXIT_ERROR;
        }
    }
    status
}
