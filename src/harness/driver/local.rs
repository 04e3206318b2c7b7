//! Local tasks: the ranks of a run as threads of this process (`-N n` without MPI), each with its
//! own current-thread tokio runtime and backend state, synchronised by [`LocalComm`]; and the
//! embedded BenchFS cluster they use when no registry is given.

use super::*;

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

/// The whole command with local tasks (no MPI).
pub(super) fn execute_local(mut parsed: ParsedArgs, command_line: &str) -> i32 {
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
