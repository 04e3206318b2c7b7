//! Set-up and teardown of one test on one rank (the outer part of IOR's `TestIoSys`): the
//! communicator of `-N`, the backend (hints, `check_params`, initialize, finalize), the transfer
//! buffer, the `-M` memory hog, the test header (statfs of the file's directory), the warnings
//! about files that exist already, the repetitions, and at the end the stonewall status file
//! (or IOR's pairs line) and the test's closing report.
//!
//! Owns the life of a test. It must not run a repetition's phases ([`super::repetition`]) or
//! format anything (the reporter does).

use super::context::{exists, expected_agg, make_unique_dir, warn, TestRun, TestState};
use super::repetition::run_repetition;
use crate::backend::buffer::AlignedBuf;
use crate::backend::{AnyBackend, Backend, XferHints};
use crate::comm::Comm;
use crate::ior::access;
use crate::ior::error::EngineError;
use crate::ior::output::Reporter;
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::progress::Progress;
use crate::ior::results::{FsInfo, RunInfo, TestResults};
use crate::ior::validate::msg;
use crate::measure::latency::LatencyRecorder;
use crate::measure::log;
use crate::measure::machine;

/// Runs one test on this rank (every rank of the job calls it; ranks beyond `-N` only wait).
pub(super) async fn run_test(
    world: &dyn Comm,
    params: &IorParams,
    run: &RunInfo,
    mut reporter: Option<&mut (dyn Reporter + Send + 'static)>,
    progress: &Progress,
    state: &mut TestState,
) -> Result<(), EngineError> {
    let n = if params.num_tasks > 0 {
        params.num_tasks as usize
    } else {
        world.size()
    };
    let sub = world.split_first(n)?;
    let Some(comm) = sub else {
        // Ranks outside `-N` only wait for the test to finish.
        world.barrier()?;
        return Ok(());
    };
    let comm: &dyn Comm = comm.as_ref();
    // Nodes and tasks per node are the job's, as IOR's (computed once on MPI_COMM_WORLD);
    // only the number of tasks is the test's (`numTasks` / `-N`).
    let mut layout = TaskLayout::of(world);
    layout.num_tasks = comm.size();
    let layout = apply_layout_overrides(params, layout);
    let rank = comm.rank();

    let mut backend = AnyBackend::new(&params.api, &params.backend_options)
        .map_err(|e| EngineError::Fatal(e.to_string()))?;
    backend.set_hints(XferHints {
        dry_run: params.dry_run != 0,
        file_per_proc: params.file_per_proc != 0,
        collective: params.collective != 0,
        num_tasks: layout.num_tasks,
        num_nodes: layout.num_nodes,
        random_offset: params.random_offset,
        fsync_per_write: params.fsync_per_write != 0,
        segment_count: params.segment_count,
        block_size: params.block_size,
        transfer_size: params.transfer_size,
        expected_agg_file_size: expected_agg(params, &layout),
        single_xfer_attempt: params.single_xfer_attempt != 0,
        rank,
        iodepth: params.iodepth.max(1) as usize,
    });
    if let Err(e) = backend.check_params() {
        return Err(EngineError::Fatal(format!(
            "{} ({e})",
            msg::BACKEND_PARAMS_INVALID
        )));
    }
    backend
        .initialize()
        .await
        .map_err(|e| EngineError::Fatal(e.to_string()))?;
    let buf = AlignedBuf::new(params.transfer_size as usize)
        .map_err(|e| EngineError::Fatal(format!("cannot allocate transfer buffer: {e}")))?;
    let _hog = memory_hog(params, &layout)?;

    let mut t = TestRun {
        comm,
        params,
        layout,
        backend,
        buf,
        latency: LatencyRecorder::new(),
        progress,
        host: run.hostname.clone(),
        test_start: machine::now(),
        seed_now: comm.bcast_u64(machine::unix_time(), 0)?,
    };

    // `-u`: every task's directory exists before anything looks at its files (IOR creates it
    // whenever it builds a file name), so that rank 0's statfs below finds its directory.
    make_unique_dir(&t, rank).await?;

    // Header of the test (rank 0): Path and FS lines come from the backend's statfs.
    let path0 = access::base_file_name(params, 0);
    let mut results = TestResults {
        params: params.clone(),
        layout,
        api_version: t.backend.version(),
        start_time: machine::ctime_now(),
        path: path0.clone(),
        fs: None,
        entries: Vec::new(),
    };
    if rank == 0 {
        // Like IOR, ask about the directory that will hold the file (it may not exist yet).
        let dir = match path0.rfind('/') {
            Some(0) => "/".to_string(),
            Some(i) => path0[..i].to_string(),
            None => ".".to_string(),
        };
        match t.backend.statfs(&dir).await {
            Ok(s) => results.fs = Some(FsInfo::from_statfs(&s)),
            Err(_) => log::warn("Backend returned error during statfs"),
        }
        if let Some(r) = reporter.as_deref_mut() {
            r.test_begin(&results)?;
        }
    }
    state.results = Some(results);

    // Pre-existing files (before the first repetition), rank 0's first, then the table header.
    let mut my_warning = String::new();
    if params.has_write_phase() || params.check_write != 0 {
        let name = access::base_file_name(params, rank);
        let check = params.file_per_proc != 0 || rank == 0;
        if check && params.dry_run == 0 && exists(&t.backend, &name).await {
            my_warning = format!(
                "The file \"{name}\" exists already and will be {}",
                if params.use_existing_test_file != 0 {
                    "overwritten"
                } else {
                    "deleted"
                }
            );
        }
    }
    let warnings = comm.allgather_bytes(my_warning.as_bytes())?;
    if rank == 0 {
        if !warnings[0].is_empty() {
            warn(params, &String::from_utf8_lossy(&warnings[0]))?;
        }
        // The first repetition prints the table header, then these.
        state.header_pending = Some(
            warnings
                .iter()
                .skip(1)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect(),
        );
    }

    let reps = params.repetitions.max(1) as usize;
    let mut write_pairs_rep0: Option<i64> = None;
    let mut wearout_any = false;
    for rep in 0..reps {
        let outcome = run_repetition(&mut t, rep, reporter.as_deref_mut(), state).await?;
        if rep == 0 {
            write_pairs_rep0 = outcome.write_pairs_accessed;
        }
        wearout_any |= outcome.write_pairs_accessed.is_some();
    }

    // End of test: stonewall status file or IOR's message, then Max lines / long summary.
    if rank == 0 {
        if params.stone_walling_wear_out != 0 && wearout_any {
            let pairs = write_pairs_rep0.unwrap_or(0);
            match (&params.stone_walling_status_file, params.has_write_phase()) {
                (Some(path), true) => std::fs::write(path, format!("{pairs}\n")).map_err(|e| {
                    EngineError::Fatal(format!(
                        "cannot write stoneWallingStatusFile \"{path}\": {e}"
                    ))
                })?,
                _ => log::line(&format!("Pairs deadlineForStonewallingaccessed: {pairs}")),
            }
        }
        if let (Some(r), Some(res)) = (reporter, state.results.as_ref()) {
            r.test_end(res)?;
        }
    }
    t.backend
        .finalize()
        .await
        .map_err(|e| EngineError::backend("finalize", e))?;
    comm.barrier()?;
    // Ranks outside the sub-communicator wait on the world barrier.
    if world.size() > comm.size() {
        world.barrier()?;
    }
    Ok(())
}

fn apply_layout_overrides(params: &IorParams, mut layout: TaskLayout) -> TaskLayout {
    if params.num_nodes > 0 {
        layout.num_nodes = params.num_nodes as usize;
    }
    if params.num_tasks_on_node0 > 0 {
        layout.tasks_on_node0 = params.num_tasks_on_node0 as usize;
    }
    layout
}

/// `-M` / `memoryPerTask`: memory held (pages touched) for the duration of a test.
fn memory_hog(params: &IorParams, layout: &TaskLayout) -> Result<Vec<u8>, EngineError> {
    let per_node = if params.memory_per_node > 0 {
        params.memory_per_node / layout.tasks_on_node0.max(1) as i64
    } else {
        0
    };
    let bytes = (per_node + params.memory_per_task.max(0)) as usize;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(bytes).map_err(|_| {
        EngineError::Fatal(format!("cannot allocate {bytes} bytes of memory to hog"))
    })?;
    v.resize(bytes, 1);
    Ok(v)
}
