//! The engine: runs the tests of a run on every rank (IOR's `TestIoSys`), phase after phase,
//! with IOR's barriers, timers, file handling and verification (SPEC §2.6-§2.9).
//!
//! Layout, one job per file: [`test`] (set-up and teardown of a test), [`repetition`] (the
//! sequence of a repetition: remove, write, write-check, read, remove), [`timed`] (a timed
//! phase: open, loop, close, the six timestamps and the reductions), [`check`] (the untimed
//! `-W` read-back) and [`context`] (what a rank holds during a test, and the pick of the serial
//! or deep transfer loop). Formats belong to [`crate::ior::output`], formulas to
//! [`crate::ior::stats`], offsets to [`crate::ior::access`], a transfer to
//! [`crate::ior::transfer`], the loops to [`crate::ior::serial`] and [`crate::ior::iodepth`].
//! Only rank 0 talks to the reporter. It must not print results itself or know the process
//! driver ([`crate::harness`]) that calls it.

mod check;
mod context;
mod repetition;
mod test;
#[cfg(test)]
mod tests;
mod timed;

use crate::comm::{Comm, CommError};
use crate::ior::error::EngineError;
use crate::ior::output::Reporter;
use crate::ior::params::IorParams;
use crate::ior::progress::Progress;
use crate::ior::results::{RunInfo, TestResults};
use crate::measure::{log, machine};
use context::TestState;

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

/// Run every test on this rank. Rank 0 returns the results with their rows; other ranks only
/// the tests' headers.
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
        // IOR's environment block follows the Machine line (rank 0, first test's -vvv).
        if first.verbose >= 3 {
            log::environment();
        }
    }
    for params in tests {
        let mut state = TestState::default();
        let res = test::run_test(
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
