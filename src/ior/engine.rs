//! The engine: runs the tests of a run on every rank (IOR's `TestIoSys`), phase after phase,
//! with IOR's barriers, timers, file handling and verification (SPEC §2.6-§2.9).
//!
//! Owns the sequencing of a test: signatures per repetition, removal before writing, the
//! timed write / untimed write-check / timed read phases, the file-size check, removal at the
//! end, `-T`, `-d`, `-m`, `-u`, wear-out carried from write to read, the stonewall status file
//! and the per-rank CSV files. Formats belong to [`crate::ior::output`], formulas to
//! [`crate::ior::stats`], offsets to [`crate::ior::access`], the transfer loop to
//! [`crate::ior::phase`]. Only rank 0 talks to the reporter.

use crate::backend::buffer::AlignedBuf;
use crate::backend::{Access, AccessMode, AnyBackend, AnyFile, Backend, OpenFlags, XferHints};
use crate::comm::{Comm, CommError, ReduceOp};
use crate::ior::access::{self, OffsetSequence, ReorderPhase};
use crate::ior::detail_csv;
use crate::ior::error::EngineError;
use crate::ior::latency::LatencyRecorder;
use crate::ior::log;
use crate::ior::machine;
use crate::ior::output::Reporter;
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::phase::{self, LoopSpec};
use crate::ior::progress::Progress;
use crate::ior::reduce::{self, RankTimes};
use crate::ior::results::{FsInfo, Phase, RemoveResult, ResultEntry, RunInfo, TestResults};
use crate::ior::signature;

/// What rank 0 knows at the end of a run.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Results of every test that ran (complete phases of an aborted test included).
    pub tests: Vec<TestResults>,
    /// Data-check errors over all tests (bad transfers).
    pub data_errors: i64,
    /// The error that stopped the run, if any.
    pub error: Option<String>,
}

/// Everything a rank needs to run the tests.
pub struct RankContext<'a> {
    /// This rank's communicator (all ranks of the job).
    pub comm: &'a dyn Comm,
    /// Run header facts.
    pub run: &'a RunInfo,
    /// Rank 0's reporter.
    pub reporter: Option<&'a mut (dyn Reporter + Send + 'static)>,
    /// Progress display (enabled on rank 0 only).
    pub progress: &'a Progress,
}

/// Run every test on this rank. Rank 0 returns the results; other ranks an empty outcome.
pub async fn run_tests(ctx: RankContext<'_>, tests: &[IorParams]) -> RunOutcome {
    let RankContext {
        comm,
        run,
        mut reporter,
        progress,
    } = ctx;
    let mut outcome = RunOutcome::default();
    // Calibrate the transfer clock now, not inside the first timed phase.
    let _ = machine::fast_clock();
    if let (Some(r), Some(first)) = (reporter.as_deref_mut(), tests.first()) {
        if let Err(e) = r.run_begin(run, first) {
            outcome.error = Some(format!("cannot write results: {e}"));
            comm.abort("cannot write results");
            return outcome;
        }
    }
    for params in tests {
        let mut state = TestState::default();
        let res = run_test(
            comm,
            params,
            run,
            reporter.as_deref_mut(),
            progress,
            &mut state,
        )
        .await;
        outcome.data_errors += state.data_errors;
        if let Some(t) = state.results.take() {
            outcome.tests.push(t);
        }
        if let Err(e) = res {
            let msg = e.to_string();
            if !matches!(e, EngineError::Comm(CommError::Aborted { .. })) {
                comm.abort(&msg);
            }
            outcome.error = Some(msg);
            break;
        }
    }
    // The summary of completed phases is produced also after an error.
    if let Some(r) = reporter {
        if let Err(e) = r.run_end(run, &outcome.tests, &machine::ctime_now()) {
            outcome
                .error
                .get_or_insert(format!("cannot write results: {e}"));
        }
    }
    outcome
}

#[derive(Default)]
struct TestState {
    results: Option<TestResults>,
    data_errors: i64,
}

/// Per-test resources of a rank.
struct TestRun<'a> {
    comm: &'a dyn Comm,
    params: &'a IorParams,
    layout: TaskLayout,
    backend: AnyBackend,
    buf: AlignedBuf,
    latency: LatencyRecorder,
    progress: &'a Progress,
    host: String,
    test_start: f64,
    /// Rank 0's clock at test start: the `-z` seed when none is given (same for every phase).
    seed_now: u64,
}

impl TestRun<'_> {
    /// The offsets this rank accesses for `pretend_rank`'s data (§2.3-§2.4). `as_written`
    /// applies IOR's `-z -z` write detail (last block first; every rank with `-F`, rank 0 for a
    /// shared file), for the write and for reading back what it wrote.
    fn offsets(
        &self,
        pretend_rank: usize,
        file_size: Option<u64>,
        as_written: bool,
    ) -> OffsetSequence {
        let seed = access::random_seed(self.params, pretend_rank, self.seed_now);
        let seq = OffsetSequence::new(self.params, &self.layout, pretend_rank, seed, file_size);
        if as_written && (self.params.file_per_proc != 0 || self.comm.rank() == 0) {
            seq.with_last_block_first()
        } else {
            seq
        }
    }
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

async fn run_test(
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
    let layout = apply_layout_overrides(params, TaskLayout::of(comm));
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
    });
    if let Err(e) = backend.check_params() {
        return Err(EngineError::Fatal(format!(
            "The backend returned that the test parameters are invalid. ({e})"
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

    // Header of the test (rank 0): Path and FS lines come from the backend's statfs.
    let path0 = access::file_name(params, 0, 0);
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
            Ok(s) => results.fs = Some(fs_info(&s)),
            Err(_) => log::warn("Backend returned error during statfs"),
        }
        if let Some(r) = reporter.as_deref_mut() {
            r.test_begin(&results)?;
        }
    }
    state.results = Some(results);

    // Pre-existing files (before the first repetition), rank 0's first, then the table header.
    let mut my_warning = String::new();
    if params.has_write_phase() {
        let name = access::file_name(params, rank, 0);
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
        if let (Some(r), Some(res)) = (reporter.as_deref_mut(), state.results.as_ref()) {
            r.table_header(res)?;
        }
        for w in warnings.iter().skip(1).filter(|w| !w.is_empty()) {
            warn(params, &String::from_utf8_lossy(w))?;
        }
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

#[derive(Default)]
struct RepOutcome {
    write_pairs_accessed: Option<i64>,
}

fn expected_agg(params: &IorParams, layout: &TaskLayout) -> i64 {
    params.block_size * params.segment_count * layout.num_tasks as i64
}

fn fs_info(s: &crate::backend::StatFs) -> FsInfo {
    let blocks = s.f_blocks as f64;
    FsInfo {
        capacity_bytes: blocks * s.f_bsize as f64,
        used_capacity_pct: if s.f_blocks > 0 {
            (1.0 - s.f_bfree as f64 / blocks) * 100.0
        } else {
            0.0
        },
        inodes: s.f_files as f64,
        used_inodes_pct: if s.f_files > 0 {
            (1.0 - s.f_ffree as f64 / s.f_files as f64) * 100.0
        } else {
            0.0
        },
    }
}

/// Print a warning, or fail with it under `--warningAsErrors`.
fn warn(params: &IorParams, msg: &str) -> Result<(), EngineError> {
    if params.warning_as_errors != 0 {
        return Err(EngineError::Fatal(msg.to_string()));
    }
    log::warn(msg);
    Ok(())
}

async fn exists(backend: &AnyBackend, path: &str) -> bool {
    backend
        .access(path, AccessMode::Exists)
        .await
        .unwrap_or(false)
}

/// Signature of a repetition: `-G`, or rank 0's clock broadcast to all.
fn signature_for(comm: &dyn Comm, params: &IorParams) -> Result<u32, EngineError> {
    let mine = if params.set_time_stamp_signature != 0 {
        params.set_time_stamp_signature as u32 as u64
    } else {
        machine::unix_time() & 0xffff_ffff
    };
    Ok(comm.bcast_u64(mine, 0)? as u32)
}

async fn run_repetition(
    t: &mut TestRun<'_>,
    rep: usize,
    mut reporter: Option<&mut (dyn Reporter + Send + 'static)>,
    state: &mut TestState,
) -> Result<RepOutcome, EngineError> {
    let comm = t.comm;
    let params = t.params;
    let rank = comm.rank();
    let sig = signature_for(comm, params)?;
    if params.verbose >= 2 && rank == 0 {
        log::line(&format!(
            "Using Time Stamp {sig} (0x{sig:x}) for Data Signature"
        ));
    }
    let max_time = params.max_time_duration as f64 * 60.0;
    let time_left = |t0: f64| max_time <= 0.0 || machine::now() - t0 < max_time;
    let mut outcome = RepOutcome::default();
    let mut wearout_limit: i64 = params.stone_walling_wear_out_iterations;
    let mut rep_errors = 0i64;

    // ---------------------------------------------------------------- write
    if params.has_write_phase() && time_left(t.test_start) {
        let name = access::file_name(params, rank, rep);
        if rank == 0 && params.inter_test_delay > 0 {
            std::thread::sleep(std::time::Duration::from_secs(
                params.inter_test_delay as u64,
            ));
        }
        if params.use_existing_test_file == 0 {
            remove_files(t, rep).await?;
        }
        if params.unique_dir != 0 {
            make_unique_dir(t, rank).await?;
        }
        if rank == 0 && params.dry_run == 0 {
            // Untimed: the storage finishes background work (BENCHFS: spare chunk files)
            // before the phase, so that every repetition starts alike.
            t.backend
                .settle()
                .await
                .map_err(|e| EngineError::backend("settle", e))?;
        }
        comm.barrier()?;
        let res = timed_phase(t, Phase::Write, rep, sig, rank, &name, wearout_limit).await?;
        rep_errors += res.errors;
        if let Some(pairs) = res.pairs_accessed {
            outcome.write_pairs_accessed = Some(pairs);
            wearout_limit = pairs;
        }
        report_phase(t, sig, res, reporter.as_deref_mut(), state)?;

        // ------------------------------------------------------------ write check (untimed)
        if params.check_write != 0 {
            comm.barrier()?;
            let pr = access::pretend_rank(params, &t.layout, rank, ReorderPhase::WriteCheck, rep);
            let cname = access::file_name(params, pr, rep);
            let errors = check_pass(t, sig, pr, &cname, wearout_limit).await?;
            rep_errors += errors;
            if errors > 0 && rank == 0 {
                data_error_message(params, "write", errors, sig)?;
            }
        }
    }

    // ---------------------------------------------------------------- read
    if params.has_read_phase() && time_left(t.test_start) {
        if let (Some(path), false) = (&params.stone_walling_status_file, params.has_write_phase()) {
            wearout_limit = read_status_file(path)?;
        }
        if params.reorder_tasks_random != 0 && params.verbose >= 2 && rank == 0 {
            let hits = access::file_hits_distribution(params, &t.layout, rep);
            let list: Vec<String> = hits.iter().map(|h| h.to_string()).collect();
            log::line(&format!("#File Hits Dist: {}", list.join(" ")));
        }
        let pr = access::pretend_rank(params, &t.layout, rank, ReorderPhase::Read, rep);
        let name = access::file_name(params, pr, rep);
        if rank == 0 && params.inter_test_delay > 0 {
            std::thread::sleep(std::time::Duration::from_secs(
                params.inter_test_delay as u64,
            ));
        }
        comm.barrier()?;
        let res = timed_phase(t, Phase::Read, rep, sig, pr, &name, wearout_limit).await?;
        rep_errors += res.errors;
        report_phase(t, sig, res, reporter.as_deref_mut(), state)?;
    }

    state.data_errors += rep_errors;

    // ---------------------------------------------------------------- remove
    let keep = params.keep_file != 0 || (params.keep_file_with_error != 0 && rep_errors > 0);
    if !keep {
        let s = machine::now();
        comm.barrier()?;
        remove_files(t, rep).await?;
        comm.barrier()?;
        if rank == 0 && params.verbose >= 1 {
            let entry = ResultEntry::Remove(RemoveResult {
                iteration: rep,
                total_time: machine::now() - s,
            });
            push_entry(entry, reporter, state)?;
        }
    } else {
        comm.barrier()?;
    }
    Ok(outcome)
}

fn push_entry(
    entry: ResultEntry,
    reporter: Option<&mut (dyn Reporter + Send + 'static)>,
    state: &mut TestState,
) -> Result<(), EngineError> {
    if let Some(res) = state.results.as_mut() {
        res.entries.push(entry);
        if let (Some(r), Some(last)) = (reporter, res.entries.last()) {
            r.entry(res, last)?;
        }
    }
    Ok(())
}

/// Result of one timed phase on this rank (the row itself is built on every rank).
struct TimedPhase {
    row: crate::ior::results::PhaseResult,
    errors: i64,
    pairs_accessed: Option<i64>,
    warnings: Vec<String>,
}

fn report_phase(
    t: &TestRun<'_>,
    sig: u32,
    res: TimedPhase,
    reporter: Option<&mut (dyn Reporter + Send + 'static)>,
    state: &mut TestState,
) -> Result<(), EngineError> {
    if t.comm.rank() != 0 {
        return Ok(());
    }
    for w in &res.warnings {
        warn(t.params, w)?;
    }
    if res.errors > 0 {
        data_error_message(t.params, res.row.access.as_str(), res.errors, sig)?;
    }
    push_entry(ResultEntry::Phase(res.row), reporter, state)
}

/// IOR's report of failed data checks (printed by rank 0).
fn data_error_message(
    params: &IorParams,
    what: &str,
    errors: i64,
    sig: u32,
) -> Result<(), EngineError> {
    warn(
        params,
        &format!("Incorrect data on {what} ({errors} errors found).\n"),
    )?;
    log::line(&format!(
        "Used Time Stamp {sig} (0x{sig:x}) for Data Signature"
    ));
    Ok(())
}

fn read_status_file(path: &str) -> Result<i64, EngineError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        EngineError::Fatal(format!(
            "cannot read stoneWallingStatusFile \"{path}\": {e}"
        ))
    })?;
    text.trim().parse::<i64>().map_err(|_| {
        EngineError::Fatal(format!(
            "stoneWallingStatusFile \"{path}\" does not hold a number"
        ))
    })
}

async fn make_unique_dir(t: &TestRun<'_>, pr: usize) -> Result<(), EngineError> {
    if t.params.dry_run != 0 {
        return Ok(());
    }
    if let Some(dir) = access::unique_dir(t.params, pr) {
        if !exists(&t.backend, &dir).await {
            if let Err(e) = t.backend.mkdir(&dir, 0o755).await {
                // Another task may have created it meanwhile.
                if !exists(&t.backend, &dir).await {
                    return Err(EngineError::backend("mkdir", e));
                }
            }
        }
    }
    Ok(())
}

/// Remove this rank's files of repetition `rep` (SSF: rank 0 only; FPP: every rank its own).
async fn remove_files(t: &TestRun<'_>, rep: usize) -> Result<(), EngineError> {
    let rank = t.comm.rank();
    if t.params.dry_run != 0 || (t.params.file_per_proc == 0 && rank != 0) {
        return Ok(());
    }
    let name = access::file_name(t.params, rank, rep);
    if exists(&t.backend, &name).await {
        if let Err(e) = t.backend.remove(&name).await {
            warn(
                t.params,
                &format!("[RANK {rank:03}]: unlink() of file \"{name}\" failed ({e})"),
            )?;
        }
    }
    Ok(())
}

/// One timed phase: open, transfer loop, close, with the six timestamps; then the reductions.
async fn timed_phase(
    t: &mut TestRun<'_>,
    phase: Phase,
    rep: usize,
    sig: u32,
    pretend_rank: usize,
    name: &str,
    wearout_limit: i64,
) -> Result<TimedPhase, EngineError> {
    let comm = t.comm;
    let params = t.params;
    let rank = comm.rank();
    let verbose3 = params.verbose >= 3;
    let access_kind = match phase {
        Phase::Write => Access::Write,
        Phase::Read if params.check_read != 0 => Access::ReadCheck,
        Phase::Read => Access::Read,
    };
    let what = phase.as_str();
    let dry = params.dry_run != 0;

    // Offsets (generated before the timers, as IOR does).
    let file_size = if phase == Phase::Read && params.random_offset >= 2 && !dry {
        Some(
            t.backend
                .get_file_size(name)
                .await
                .map_err(|e| EngineError::backend("get_file_size", e))?,
        )
    } else {
        None
    };
    let seq = t.offsets(pretend_rank, file_size, phase == Phase::Write);
    signature::fill_base(
        &mut t.buf,
        params.data_packet_type,
        sig,
        pretend_rank as u32,
    );
    t.latency.reset();
    if rank == 0 {
        t.progress.phase_begin(
            params.test_id,
            what,
            rep,
            // Rank 0 shows its own share and rate.
            (seq.len() as u64).saturating_mul(params.transfer_size as u64),
        );
    }
    if verbose3 {
        log::line(&format!(
            "task {rank} {} {name}",
            if phase == Phase::Write {
                "writing"
            } else {
                "reading"
            }
        ));
        if rank == 0 {
            log::line(&format!(
                "Commencing {what} performance test: {}",
                machine::ctime_now()
            ));
        }
    }
    let stamp = |label: &str, time: f64| {
        if verbose3 {
            log::line(&format!(
                "Test {}: Iter={rep}, Task={rank}, Time={time:.6}, {what} {label}",
                params.test_id
            ));
        }
        time
    };

    let mut times = RankTimes::default();
    times.t[0] = stamp("open start", machine::now());
    let file: Option<AnyFile> = if dry {
        None
    } else if phase == Phase::Write {
        let flags = OpenFlags::create_for_write();
        Some(
            t.backend
                .create(name, flags)
                .await
                .map_err(|e| EngineError::Fatal(format!("Cannot create file \"{name}\": {e}")))?,
        )
    } else {
        Some(
            t.backend
                .open(name, OpenFlags::read())
                .await
                .map_err(|e| EngineError::Fatal(format!("Cannot open file \"{name}\": {e}")))?,
        )
    };
    times.t[1] = stamp("open stop", machine::now());
    if params.intra_test_barriers != 0 {
        comm.barrier()?;
    }
    let spec = LoopSpec {
        params,
        access: access_kind,
        pretend_rank: pretend_rank as u32,
        sig,
        seq: &seq,
        limit: wearout_limit,
        stonewall: true,
        record_per_op: params.save_per_op_data_csv.is_some(),
        rank,
    };
    times.t[2] = stamp("start", machine::now());
    let loop_out = match &file {
        Some(f) => {
            if phase == Phase::Write
                && params.random_prefill_blocksize > 0
                && params.random_offset > 0
            {
                prefill(t, f, pretend_rank).await?;
            }
            phase::transfer_loop(
                &spec,
                &t.backend,
                f,
                &mut t.buf,
                comm,
                &mut t.latency,
                t.progress,
            )
            .await?
        }
        None => dry_run_loop(&spec),
    };
    times.t[3] = stamp("stop", machine::now());
    if params.intra_test_barriers != 0 {
        comm.barrier()?;
    }
    times.t[4] = stamp("close start", machine::now());
    if let Some(f) = file {
        t.backend
            .close(f)
            .await
            .map_err(|e| EngineError::backend("close", e))?;
    }
    times.t[5] = stamp("close stop", machine::now());
    if phase == Phase::Write {
        comm.barrier()?;
    }
    if rank == 0 {
        t.progress.phase_end();
    }
    times.bytes = loop_out.bytes;
    times.pairs = loop_out.pairs;
    times.errors = loop_out.errors;

    // File-size check (§2.6 CheckFileSize).
    let my_size = if dry {
        0
    } else {
        t.backend.get_file_size(name).await.unwrap_or(0) as i64
    };
    let (stat_size, inconsistent) = if params.file_per_proc != 0 {
        (comm.allreduce_i64(my_size, ReduceOp::Sum)?, false)
    } else {
        let mn = comm.allreduce_i64(my_size, ReduceOp::Min)?;
        let mx = comm.allreduce_i64(my_size, ReduceOp::Max)?;
        (mn, mn != mx)
    };
    let gathered = reduce::gather(comm, &times, &t.latency)?;
    let agg = gathered.agg_bytes();
    let mut warnings = reduce::file_size_warnings(
        params,
        expected_agg(params, &t.layout),
        stat_size,
        agg,
        inconsistent,
    );
    warnings.extend(reduce::outlier_warnings(params, phase, &gathered, &t.host));
    let row = reduce::phase_result(params, phase, rep, &gathered, loop_out.stonewall.clone());
    let errors = gathered.errors();

    detail_csv::write_rank_details(params, phase, &gathered, comm)?;
    detail_csv::write_per_op(params, phase, rep, rank, &loop_out.per_op)?;

    Ok(TimedPhase {
        row,
        errors,
        pairs_accessed: loop_out.stonewall.as_ref().map(|s| s.pairs_max),
        warnings,
    })
}

/// `--dryRun`: the loop's bookkeeping without any backend call.
fn dry_run_loop(spec: &LoopSpec<'_>) -> phase::LoopOutcome {
    let mut n = spec.seq.len() as i64;
    if spec.limit > 0 {
        n = n.min(spec.limit);
    }
    phase::LoopOutcome {
        bytes: n * spec.params.transfer_size,
        pairs: n,
        ..Default::default()
    }
}

/// `--randomPrefill`: fill this rank's blocks with 0xFF writes before the random writes.
async fn prefill(t: &TestRun<'_>, f: &AnyFile, pretend_rank: usize) -> Result<(), EngineError> {
    let p = t.params;
    let chunk = p.random_prefill_blocksize as usize;
    let mut buf = vec![0xFFu8; chunk];
    let ntasks = t.layout.num_tasks as i64;
    for seg in 0..p.segment_count {
        let base = if p.file_per_proc != 0 {
            seg * p.block_size
        } else {
            seg * ntasks * p.block_size + pretend_rank as i64 * p.block_size
        };
        let mut off = 0i64;
        while off < p.block_size {
            t.backend
                .xfer(f, Access::Write, &mut buf, (base + off) as u64)
                .await
                .map_err(|e| EngineError::backend("write", e))?;
            off += chunk as i64;
        }
    }
    Ok(())
}

/// The untimed read-back of `-W`; returns the errors summed over ranks.
async fn check_pass(
    t: &mut TestRun<'_>,
    sig: u32,
    pretend_rank: usize,
    name: &str,
    wearout_limit: i64,
) -> Result<i64, EngineError> {
    let comm = t.comm;
    let params = t.params;
    // The same offsets the write used (its last-block-first detail included).
    let seq = t.offsets(pretend_rank, None, true);
    let mut errors = 0;
    if params.dry_run == 0 {
        let f = t
            .backend
            .open(name, OpenFlags::read())
            .await
            .map_err(|e| EngineError::Fatal(format!("Cannot open file \"{name}\": {e}")))?;
        let spec = LoopSpec {
            params,
            access: Access::WriteCheck,
            pretend_rank: pretend_rank as u32,
            sig,
            seq: &seq,
            limit: wearout_limit,
            stonewall: false,
            record_per_op: false,
            rank: comm.rank(),
        };
        let mut scratch = LatencyRecorder::new();
        let out = phase::transfer_loop(
            &spec,
            &t.backend,
            &f,
            &mut t.buf,
            comm,
            &mut scratch,
            &Progress::disabled(),
        )
        .await?;
        t.backend
            .close(f)
            .await
            .map_err(|e| EngineError::backend("close", e))?;
        errors = out.errors;
    }
    Ok(comm.allreduce_i64(errors, ReduceOp::Sum)?)
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
