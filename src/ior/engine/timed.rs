//! One timed phase on one rank (SPEC §2.6): offsets made before the clock, then open, the
//! transfer loop, close, with the six timestamps (and `-g` barriers); the file-size check, the
//! reductions over ranks into the phase's row, the outlier and size warnings, and the per-rank
//! CSV files. `--dryRun` keeps the bookkeeping without backend calls; `--randomPrefill` fills
//! the blocks before random writes.
//!
//! Owns the timing of a phase. It must not decide which phases run ([`super::repetition`]) or
//! what one transfer does ([`crate::ior::transfer`]).

use super::context::{expected_agg, open_failed, transfer_loop, Pass, TestRun};
use crate::backend::{Access, AnyFile, Backend, OpenFlags};
use crate::comm::ReduceOp;
use crate::ior::access::OffsetSequence;
use crate::ior::detail_csv;
use crate::ior::error::EngineError;
use crate::ior::params::IorParams;
use crate::ior::progress::{PhaseLabel, Stage};
use crate::ior::reduce::{self, RankTimes};
use crate::ior::results::{Phase, PhaseResult};
use crate::ior::series;
use crate::ior::signature;
use crate::ior::transfer::{LoopIo, LoopOutcome};
use crate::measure::log;
use crate::measure::machine;
use crate::measure::series::IntervalRecorder;
use std::time::Duration;

/// Result of one timed phase on this rank (the row itself is built on every rank).
pub(super) struct TimedPhase {
    pub(super) row: PhaseResult,
    pub(super) errors: i64,
    pub(super) pairs_accessed: Option<i64>,
    pub(super) warnings: Vec<String>,
}

/// One timed phase: open, transfer loop, close, with the six timestamps; then the reductions.
pub(super) async fn timed_phase(
    t: &mut TestRun<'_>,
    phase: Phase,
    rep: usize,
    pass: Pass<'_>,
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
                .get_file_size(pass.name)
                .await
                .map_err(|e| EngineError::backend("get_file_size", e))?,
        )
    } else {
        None
    };
    let seq = t.offsets(pass.pretend_rank, file_size, phase == Phase::Write);
    signature::fill_base(
        &mut t.buf,
        params.data_packet_type,
        pass.sig,
        pass.pretend_rank as u32,
    );
    t.latency.reset();
    // Every task joins the phase's display with its own share.
    let live = t.progress.phase_begin(
        PhaseLabel {
            test_id: params.test_id,
            phase: what,
            iteration: rep,
            iterations: usize::try_from(params.repetitions).unwrap_or(1),
            tasks: comm.size(),
        },
        (seq.len() as u64).saturating_mul(params.transfer_size as u64),
    );
    if verbose3 {
        log::line(&format!(
            "task {rank} {} {}",
            if phase == Phase::Write {
                "writing"
            } else {
                "reading"
            },
            pass.name
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
    // The interval series counts from this rank's open start (t0).
    let mut intervals = IntervalRecorder::start(Duration::from_secs_f64(params.interval), live);
    times.t[0] = stamp("open start", machine::now());
    let file: Option<AnyFile> = if dry {
        None
    } else if phase == Phase::Write {
        let flags = OpenFlags::create_for_write();
        Some(
            t.backend
                .create(pass.name, flags)
                .await
                .map_err(|e| open_failed("Cannot create file", pass.name, e))?,
        )
    } else {
        Some(
            t.backend
                .open(pass.name, OpenFlags::read())
                .await
                .map_err(|e| open_failed("Cannot open file", pass.name, e))?,
        )
    };
    times.t[1] = stamp("open stop", machine::now());
    if params.intra_test_barriers != 0 {
        comm.barrier()?;
    }
    times.t[2] = stamp("start", machine::now());
    t.progress.stage(Stage::Transfer);
    let loop_out = match &file {
        Some(f) => {
            if phase == Phase::Write
                && params.random_prefill_blocksize > 0
                && params.random_offset > 0
            {
                prefill(t, f, pass.pretend_rank).await?;
            }
            let io = LoopIo {
                backend: &t.backend,
                file: f,
                comm,
            };
            let per_op = params.save_per_op_data_csv.is_some();
            let spec = pass.spec(params, access_kind, &seq, true, per_op, io);
            transfer_loop(&spec, &mut t.buf, &mut t.latency, &mut intervals).await?
        }
        None => dry_run_loop(params, &seq, pass.limit, &mut intervals),
    };
    times.t[3] = stamp("stop", machine::now());
    if params.intra_test_barriers != 0 {
        comm.barrier()?;
    }
    times.t[4] = stamp("close start", machine::now());
    t.progress.stage(Stage::Close);
    if let Some(f) = file {
        t.backend
            .close(f)
            .await
            .map_err(|e| EngineError::backend("close", e))?;
    }
    times.t[5] = stamp("close stop", machine::now());
    let my_series = intervals.finish();
    if phase == Phase::Write {
        comm.barrier()?;
    }
    times.bytes = loop_out.bytes;
    times.pairs = loop_out.pairs;
    times.errors = loop_out.errors;

    // File-size check (§2.6 CheckFileSize).
    let my_size = if dry {
        0
    } else {
        t.backend.get_file_size(pass.name).await.unwrap_or(0) as i64
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
    // After the phase, outside its timers: the whole job's series, and its exact total for
    // the display's last line.
    let time_series = series::gather_phase(comm, &gathered, &my_series, params.interval)?;
    t.progress.phase_end(u64::try_from(agg).ok());
    let mut warnings = reduce::file_size_warnings(
        params,
        expected_agg(params, &t.layout),
        stat_size,
        agg,
        inconsistent,
    );
    warnings.extend(reduce::outlier_warnings(params, phase, &gathered, &t.host));
    let mut row = reduce::phase_result(params, phase, rep, &gathered, loop_out.stonewall.clone());
    let errors = gathered.errors();
    if let (Some(path), Some(ts)) = (&params.save_per_interval_csv, &time_series) {
        series::write_csv(path, params.test_id, rep, phase, ts, row.total_time)?;
    }
    row.time_series = time_series;

    detail_csv::write_rank_details(params, phase, &gathered, comm)?;
    detail_csv::write_per_op(params, phase, rep, rank, &loop_out.per_op)?;

    Ok(TimedPhase {
        row,
        errors,
        pairs_accessed: loop_out.stonewall.as_ref().map(|s| s.pairs_max),
        warnings,
    })
}

/// `--dryRun`: the loop's bookkeeping without any backend call (its transfers counted at
/// once in the interval series).
fn dry_run_loop(
    params: &IorParams,
    seq: &OffsetSequence,
    limit: i64,
    intervals: &mut IntervalRecorder,
) -> LoopOutcome {
    let mut n = seq.len() as i64;
    if limit > 0 {
        n = n.min(limit);
    }
    let now = intervals.clock().raw();
    for _ in 0..n {
        intervals.add(now, params.transfer_size as u64);
    }
    LoopOutcome {
        bytes: n * params.transfer_size,
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
