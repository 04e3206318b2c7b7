//! One repetition of a test (IOR's loop body in `TestIoSys`): the signature (and, in the first,
//! the table header after it), `-d`, removal of old files before writing, `-u` directories, the
//! timed write, the untimed `-W` check (with `-v`: IOR's "Verifying contents" line), the
//! timed read (with `-C`/`-Z` task reordering and the stonewall status file), then the removal
//! of the files unless `-k` / `-K`; `-T` skips phases once the test's time is up.
//!
//! Owns that sequence and IOR's messages about it. It must not time a phase or run transfers
//! ([`super::timed`], [`super::check`]).

use super::check::check_pass;
use super::context::{exists, make_unique_dir, push_entry, warn, Pass, TestRun, TestState};
use super::timed::{timed_phase, TimedPhase};
use crate::backend::Backend;
use crate::comm::Comm;
use crate::ior::access::{self, ReorderPhase};
use crate::ior::error::EngineError;
use crate::ior::output::Reporter;
use crate::ior::params::IorParams;
use crate::ior::progress::PhaseLabel;
use crate::ior::results::{Phase, RemoveResult, ResultEntry};
use crate::measure::log;
use crate::measure::machine;

/// What a repetition tells the test: the write's stonewall pairs, when wear-out ran.
#[derive(Default)]
pub(super) struct RepOutcome {
    pub(super) write_pairs_accessed: Option<i64>,
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

/// Runs repetition `rep` of the test on this rank.
pub(super) async fn run_repetition(
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
    // The table header comes after the first repetition's signature line, as in IOR, and
    // the other ranks' "exists already" warnings after it.
    if let Some(late_warnings) = state.header_pending.take() {
        if let (Some(r), Some(res)) = (reporter.as_deref_mut(), state.results.as_ref()) {
            r.table_header(res)?;
        }
        for w in late_warnings {
            warn(params, &w)?;
        }
    }
    let max_time = params.max_time_duration as f64 * 60.0;
    let time_left = |t0: f64| max_time <= 0.0 || machine::now() - t0 < max_time;
    let mut outcome = RepOutcome::default();
    let mut wearout_limit: i64 = params.stone_walling_wear_out_iterations;
    let mut rep_errors = 0i64;

    // ---------------------------------------------------------------- write
    if params.has_write_phase() && time_left(t.test_start) {
        let pr = access::pretend_rank(params, &t.layout, rank, ReorderPhase::Write, rep);
        let name = access::file_name(params, pr, rep);
        settle_delay(t, rep);
        if params.use_existing_test_file == 0 {
            remove_files(t, rep).await?;
        }
        if params.unique_dir != 0 {
            make_unique_dir(t, rank).await?;
        }
        if rank == 0 && params.dry_run == 0 {
            step(t, rep, "settle");
            // Untimed: the storage finishes background work (BENCHFS: spare chunk files)
            // before the phase, so that every repetition starts alike.
            t.backend
                .settle()
                .await
                .map_err(|e| EngineError::backend("settle", e))?;
        }
        comm.barrier()?;
        let pass = Pass::new(sig, pr, &name, wearout_limit);
        let res = timed_phase(t, Phase::Write, rep, pass).await?;
        rep_errors += res.errors;
        if let Some(pairs) = res.pairs_accessed {
            outcome.write_pairs_accessed = Some(pairs);
            wearout_limit = pairs;
        }
        report_phase(t, sig, res, reporter.as_deref_mut(), state)?;
    }

    // ---------------------------------------------------------------- write check (untimed)
    // Its own step, as in IOR: `-W` without `-w` checks the file written before.
    if params.check_write != 0 && time_left(t.test_start) {
        comm.barrier()?;
        if rank == 0 && params.verbose >= 1 {
            log::line("Verifying contents of the file(s) just written.");
            // IOR prints ctime()'s own newline, then one more: a blank line follows.
            log::line(&format!("{}\n", machine::ctime_now()));
        }
        let pr = access::pretend_rank(params, &t.layout, rank, ReorderPhase::WriteCheck, rep);
        let cname = access::file_name(params, pr, rep);
        let pass = Pass::new(sig, pr, &cname, wearout_limit);
        step(t, rep, "verify (write check)");
        let errors = check_pass(t, pass).await?;
        rep_errors += errors;
        if errors > 0 && rank == 0 {
            data_error_message(params, "write", errors, sig)?;
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
        settle_delay(t, rep);
        comm.barrier()?;
        let pass = Pass::new(sig, pr, &name, wearout_limit);
        let res = timed_phase(t, Phase::Read, rep, pass).await?;
        rep_errors += res.errors;
        report_phase(t, sig, res, reporter.as_deref_mut(), state)?;
    }

    state.data_errors += rep_errors;

    // ---------------------------------------------------------------- remove
    let keep = params.keep_file != 0 || (params.keep_file_with_error != 0 && rep_errors > 0);
    if !keep {
        let s = machine::now();
        step(t, rep, "remove");
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

/// Tells the progress display what happens between timed phases.
fn step(t: &TestRun<'_>, rep: usize, what: &str) {
    let p = t.params;
    t.progress.between(
        PhaseLabel {
            test_id: p.test_id,
            phase: "",
            iteration: rep,
            iterations: usize::try_from(p.repetitions).unwrap_or(1),
            tasks: t.comm.size(),
        },
        what,
    );
}

/// `-d`: rank 0 sleeps before a phase (shown as settling).
fn settle_delay(t: &TestRun<'_>, rep: usize) {
    let secs = t.params.inter_test_delay;
    if t.comm.rank() == 0 && secs > 0 {
        step(t, rep, &format!("settle (interTestDelay {secs} s)"));
        std::thread::sleep(std::time::Duration::from_secs(secs as u64));
    }
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
    // IOR's order: the data check's report (at the end of the transfer loop), then the
    // file-size and outlier warnings, then the row.
    if res.errors > 0 {
        data_error_message(t.params, res.row.access.as_str(), res.errors, sig)?;
    }
    for w in &res.warnings {
        warn(t.params, w)?;
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
